"""The demo's frames: what software puts in the ring and what must appear on the wire.

A mixed part (ARP, TCP and UDP with checksum offload, short frames padded by PSP, a
scatter-gather TCP frame in three buffers at odd addresses) followed by a back-to-back run of
full-size (1514 B + FCS) UDP frames, whose wire rate the demo reports. Checksum offload is
set up as Linux leaves a CHECKSUM_PARTIAL skb: the L4 checksum field holds the folded
pseudo-header sum, CSS points at the L4 header and CSO at the checksum field, and IC is set on
the EOP descriptor; the NIC must produce exactly the bytes scapy computes.
"""

from __future__ import annotations

import random
import socket
import struct
from dataclasses import dataclass, field

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from hilnic.lib.checksum import csum_tcpudp_nofold

MIN_FRAME = 60  # PSP pads to this (without FCS)
MIX = ("arp", "tcp", "udp", "small", "sg")
SRC_MAC = "02:00:00:00:00:01"
DST_MAC = "02:00:00:00:00:02"
SRC_IP = "10.0.0.1"
DST_IP = "10.0.0.2"


@dataclass
class DemoFrame:
    index: int
    kind: str  # arp | tcp | udp | small | sg | full
    segments: list[bytes]  # buffer contents, one descriptor each
    offsets: list[int]  # byte offset of each buffer from a 64-byte boundary
    ic: bool = False
    css: int = 0
    cso: int = 0
    expected: bytes = b""  # the frame on the wire without FCS (checksums in, padded)
    csum_kind: str = ""  # "tcp" | "udp" | ""
    b2b: bool = False  # part of the back-to-back full-size run
    notes: list[str] = field(default_factory=list)

    @property
    def length(self) -> int:
        return sum(len(s) for s in self.segments)


def _pad(b: bytes) -> bytes:
    return b + bytes(max(0, MIN_FRAME - len(b)))


def _offload(pkt, kind: str) -> tuple[bytes, bytes, int, int]:
    """(bytes software hands the NIC, bytes expected on the wire, css, cso) for an
    Ether/IP/TCP|UDP scapy packet."""

    full = bytes(pkt)  # scapy fills every checksum
    ip = pkt[IP]
    ihl = 4 * (ip.ihl or 5)
    css = 14 + ihl
    proto, off = (6, 16) if kind == "tcp" else (17, 6)
    cso = css + off
    l4_len = len(full) - css
    partial = bytearray(full)
    saddr, daddr = (int.from_bytes(socket.inet_aton(a), "big") for a in (ip.src, ip.dst))
    partial[cso : cso + 2] = struct.pack("!H", csum_tcpudp_nofold(saddr, daddr, l4_len, proto))
    expected = full
    assert pkt.haslayer(TCP if kind == "tcp" else UDP)
    return bytes(partial), expected, css, cso


def build_frames(n: int, seed: int = 1) -> list[DemoFrame]:
    """n frames: the first n - n//2 cycle through MIX, the last n//2 are full-size back to back."""

    rng = random.Random(seed)
    n_b2b = n // 2
    out: list[DemoFrame] = []
    eth = Ether(src=SRC_MAC, dst=DST_MAC)
    for i in range(n):
        if i >= n - n_b2b:
            payload = rng.randbytes(1514 - 42)
            pkt = eth / IP(src=SRC_IP, dst=DST_IP, id=i) / UDP(sport=5001, dport=5001) / payload
            data, exp, css, cso = _offload(pkt, "udp")
            out.append(DemoFrame(i, "full", [data], [rng.randrange(0, 16)], True, css, cso, exp, "udp", True))
            continue
        kind = MIX[i % len(MIX)]
        if kind == "arp":
            pkt = Ether(src=SRC_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=SRC_MAC, psrc=SRC_IP, pdst=DST_IP)
            raw = bytes(pkt)
            out.append(DemoFrame(i, kind, [raw], [0], expected=_pad(raw), notes=["PSP pad"]))
        elif kind == "tcp":
            plen = rng.randrange(100, 1400)
            pkt = eth / IP(src=SRC_IP, dst=DST_IP, id=i) / TCP(sport=40000 + i, dport=80, seq=rng.getrandbits(32),
                                                               flags="PA") / rng.randbytes(plen)
            data, exp, css, cso = _offload(pkt, "tcp")
            out.append(DemoFrame(i, kind, [data], [rng.randrange(0, 64)], True, css, cso, exp, "tcp"))
        elif kind == "udp":
            plen = rng.randrange(20, 1400)
            pkt = eth / IP(src=SRC_IP, dst=DST_IP, id=i) / UDP(sport=53000 + i, dport=53) / rng.randbytes(plen)
            data, exp, css, cso = _offload(pkt, "udp")
            out.append(DemoFrame(i, kind, [data], [rng.randrange(0, 64)], True, css, cso, exp, "udp"))
        elif kind == "small":
            pkt = eth / IP(src=SRC_IP, dst=DST_IP, id=i) / UDP(sport=7, dport=7) / rng.randbytes(rng.randrange(1, 8))
            data, exp, css, cso = _offload(pkt, "udp")
            out.append(DemoFrame(i, kind, [data], [rng.randrange(0, 64)], True, css, cso, _pad(exp), "udp",
                                 notes=["PSP pad"]))
        else:  # sg: three buffers at odd addresses
            plen = rng.randrange(600, 1400)
            pkt = eth / IP(src=SRC_IP, dst=DST_IP, id=i) / TCP(sport=41000 + i, dport=443, seq=rng.getrandbits(32),
                                                               flags="A") / rng.randbytes(plen)
            data, exp, css, cso = _offload(pkt, "tcp")
            a, b = 54, 54 + rng.randrange(100, plen - 100)
            segs = [data[:a], data[a:b], data[b:]]
            out.append(DemoFrame(i, kind, segs, [1 + 2 * rng.randrange(0, 31) for _ in segs], True, css, cso, exp,
                                 "tcp", notes=["3 buffers, odd addresses"]))
    return out


def check_wire_frame(df: DemoFrame, data: bytes) -> str:
    """'' if `data` (without FCS) is what `df` must look like on the wire, else why not."""
    exp = df.expected
    if data == exp:
        return ""
    if len(data) != len(exp):
        return f"length {len(data)} != {len(exp)}"
    if df.csum_kind == "udp" and df.ic:
        # a UDP checksum of 0x0000 and 0xFFFF are the same ones'-complement zero
        a, b = bytearray(data), bytearray(exp)
        a[df.cso : df.cso + 2] = b[df.cso : df.cso + 2] = b"\0\0"
        if a == b and {data[df.cso : df.cso + 2], exp[df.cso : df.cso + 2]} <= {b"\0\0", b"\xff\xff"}:
            return ""
    first = next(i for i in range(len(exp)) if data[i] != exp[i])
    where = f" (checksum field at {df.cso})" if df.ic and df.cso <= first < df.cso + 2 else ""
    return f"first differing byte at {first}{where}: {data[first]:#04x} != {exp[first]:#04x}"


def scapy_checksums_ok(data: bytes) -> tuple[int, list[str]]:
    """Re-parse a wire frame with scapy and recompute its IP and TCP/UDP checksums:
    (checksums verified, problems)."""

    pkt = Ether(data)
    if not pkt.haslayer(IP):
        return 0, []
    n, problems = 0, []
    ip = pkt[IP]
    fresh = IP(bytes(ip)[: ip.len])
    got = fresh.chksum
    del fresh.chksum
    if IP(bytes(fresh)).chksum != got:
        problems.append("IP header checksum wrong")
    n += 1
    for layer in (TCP, UDP):
        if pkt.haslayer(layer):
            l4 = IP(bytes(ip)[: ip.len])
            got = l4[layer].chksum
            del l4[layer].chksum
            want = IP(bytes(l4))[layer].chksum
            if got != want and not (layer is UDP and {got, want} <= {0, 0xFFFF}):
                problems.append(f"{layer.__name__} checksum {got:#06x} != {want:#06x}")
            n += 1
    return n, problems
