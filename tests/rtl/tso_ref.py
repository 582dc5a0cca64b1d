"""What TCP segmentation offload must put on the wire, computed without the NIC's code.

Two references:

- `scapy_segments`: the segments of a scapy-built TCP/IPv4 packet, each built by scapy
  (lengths and checksums computed by scapy), as the Intel 8254x manual says TSO changes
  the headers: IP total length, IP ID + n, sequence number + bytes before, FIN and PSH
  only on the last segment, IPv4 and TCP checksums;
- `byte_segments`: the same rule on raw header bytes for any context the NIC accepts (the
  hostile campaign's random contexts are not scapy-parsable packets), with scapy's checksum.

`linux_tso_header` prepares a header as Linux's e1000_tso() does before handing it over:
IP total length and checksum 0, the TCP checksum field = the pseudo-header sum without the
length (~csum_tcpudp_magic(saddr, daddr, 0, IPPROTO_TCP, 0)).
"""

from __future__ import annotations

import logging

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.layers.inet import IP, TCP  # noqa: E402
from scapy.packet import Packet, Raw  # noqa: E402
from scapy.utils import checksum  # noqa: E402

FIN, PSH = 0x01, 0x08


def linux_tso_header(hdr: bytes, ipcss: int, tucss: int) -> bytes:
    """`hdr` (L2 + IPv4 + TCP headers) as e1000_tso() leaves it for the NIC."""
    h = bytearray(hdr)
    h[ipcss + 2:ipcss + 4] = b"\0\0"  # iph->tot_len = 0
    h[ipcss + 10:ipcss + 12] = b"\0\0"  # iph->check = 0
    saddr, daddr = bytes(h[ipcss + 12:ipcss + 16]), bytes(h[ipcss + 16:ipcss + 20])
    # csum_tcpudp_magic(saddr, daddr, 0, IPPROTO_TCP, 0) is the complemented pseudo-header sum;
    # the field gets its complement: the folded sum itself
    magic = checksum(saddr + daddr + b"\x00\x06\x00\x00")
    h[tucss + 16:tucss + 18] = ((~magic) & 0xFFFF).to_bytes(2, "big")
    return bytes(h)


def scapy_segments(pkt: Packet, mss: int) -> list[bytes]:
    """The segments TSO makes of `pkt` (an IP/TCP packet with a Raw payload, any layer in
    front of IP), each built by scapy from the original's fields."""
    ip, tcp = pkt[IP], pkt[TCP]
    payload = bytes(tcp.payload)
    out = []
    for k, off in enumerate(range(0, len(payload), mss)):
        chunk = payload[off:off + mss]
        last = off + mss >= len(payload)
        seg = pkt.copy()
        sip, stcp = seg[IP], seg[TCP]
        sip.id = (ip.id + k) & 0xFFFF
        stcp.seq = (tcp.seq + off) & 0xFFFFFFFF
        flags = int(tcp.flags)
        stcp.flags = flags if last else flags & ~(FIN | PSH)
        stcp.remove_payload()
        stcp.add_payload(Raw(chunk))
        del sip.len, sip.chksum, stcp.chksum
        out.append(bytes(seg))
    return out


def byte_segments(data: bytes, *, ipcss: int, ipcse: int, tucss: int, hdrlen: int, mss: int, ixsm: bool,
                  txsm: bool) -> list[bytes]:
    """The segments TSO makes of the bytes `data` (the header as software left it, then the
    payload) with this context: per segment the IP total length (IPCSS + 2) and ID
    (IPCSS + 4, + segment number), the sequence number (TUCSS + 4, + bytes before), FIN and
    PSH cleared but on the last; then, with TXSM, the pseudo-header sum at TUCSS + 16 gets
    the TCP length added and the TCP checksum over [TUCSS, end) is stored there; with IXSM
    the IPv4 checksum over [IPCSS, IPCSE] (its field as software left it) at IPCSS + 10."""
    hdr, payload = data[:hdrlen], data[hdrlen:]
    id0 = int.from_bytes(hdr[ipcss + 4:ipcss + 6], "big")
    seq0 = int.from_bytes(hdr[tucss + 4:tucss + 8], "big")
    phs = int.from_bytes(hdr[tucss + 16:tucss + 18], "big")
    out = []
    for k, off in enumerate(range(0, len(payload), mss)):
        chunk = payload[off:off + mss]
        last = off + mss >= len(payload)
        seg = bytearray(hdr + chunk)
        seg[ipcss + 2:ipcss + 4] = (len(seg) - ipcss).to_bytes(2, "big")
        seg[ipcss + 4:ipcss + 6] = ((id0 + k) & 0xFFFF).to_bytes(2, "big")
        seg[tucss + 4:tucss + 8] = ((seq0 + off) & 0xFFFFFFFF).to_bytes(4, "big")
        if not last:
            seg[tucss + 13] &= ~(FIN | PSH) & 0xFF
        if txsm:
            s = phs + len(seg) - tucss
            seg[tucss + 16:tucss + 18] = ((s & 0xFFFF) + (s >> 16)).to_bytes(2, "big")
            seg[tucss + 16:tucss + 18] = checksum(bytes(seg[tucss:])).to_bytes(2, "big")
        if ixsm:
            seg[ipcss + 10:ipcss + 12] = checksum(bytes(seg[ipcss:ipcse + 1])).to_bytes(2, "big")
        out.append(bytes(seg))
    return out


def check_segment(frame: bytes, l2: int) -> tuple[int, int, int, int]:
    """Parse one segment (without FCS) with scapy from its IPv4 header at `l2` and check both
    checksums by recomputing them; returns (IP ID, seq, TCP flags, payload length)."""
    ip = IP(frame[l2:])
    tcp = ip[TCP]
    again = IP(bytes(ip))
    del again.chksum, again[TCP].chksum
    again = IP(bytes(again))
    assert ip.chksum == again.chksum, f"IPv4 checksum {ip.chksum:#06x}, scapy computes {again.chksum:#06x}"
    assert tcp.chksum == again[TCP].chksum, f"TCP checksum {tcp.chksum:#06x}, scapy computes {again[TCP].chksum:#06x}"
    assert ip.len == len(frame) - l2, f"IP total length {ip.len} for {len(frame) - l2} bytes"
    return ip.id, tcp.seq, int(tcp.flags), len(bytes(tcp.payload))


__all__ = ["byte_segments", "check_segment", "linux_tso_header", "scapy_segments"]
