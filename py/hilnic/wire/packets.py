"""Fast Ethernet/ARP/IPv4/TCP/UDP codec for the wire side (struct, no scapy).

The peer sees every frame the NIC sends, so the parse code here is the hot path: it uses
`struct` instead of building packet objects, and hilnic.lib.checksum's big-integer
reduction for the checksums. scapy stays the independent checker in tests (and in
`PeerHost(strict)`).
"""

from __future__ import annotations

import socket
import struct
import zlib

from hilnic.lib.checksum import inet_checksum, pseudo_sum

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_HLEN = 14
ETH_ZLEN = 60  # minimum frame without FCS; shorter frames are padded on the wire
BROADCAST = b"\xff" * 6

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IP_DF = 0x4000
IP_MF = 0x2000
IP_OFFMASK = 0x1FFF

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10
TCP_URG = 0x20

TCPOPT_EOL = 0
TCPOPT_NOP = 1
TCPOPT_MSS = 2
TCPOPT_WINDOW = 3
TCPOPT_SACK_PERM = 4
TCPOPT_SACK = 5
TCPOPT_TIMESTAMP = 8

ARPOP_REQUEST = 1
ARPOP_REPLY = 2

_ETH = struct.Struct("!6s6sH")
_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_TS = struct.Struct("!BBBBII")  # NOP NOP kind len tsval tsecr
_FCS = struct.Struct("<I")


def mac_bytes(mac: str | bytes) -> bytes:
    """'02:00:00:00:00:01' or 6 bytes → 6 bytes."""
    if isinstance(mac, (bytes, bytearray)):
        if len(mac) != 6:
            raise ValueError(f"MAC must be 6 bytes, got {len(mac)}")
        return bytes(mac)
    b = bytes(int(x, 16) for x in mac.replace("-", ":").split(":"))
    if len(b) != 6:
        raise ValueError(f"bad MAC {mac!r}")
    return b


def ip_bytes(ip: str | bytes) -> bytes:
    """'10.0.0.2' or 4 bytes → 4 bytes."""
    if isinstance(ip, (bytes, bytearray)):
        if len(ip) != 4:
            raise ValueError(f"IPv4 address must be 4 bytes, got {len(ip)}")
        return bytes(ip)
    return socket.inet_aton(ip)


def ip_str(ip: bytes) -> str:
    return socket.inet_ntoa(ip)


# -- FCS ---------------------------------------------------------------------------------


def fcs(data: bytes | memoryview) -> bytes:
    """Ethernet FCS of `data` (destination MAC through payload/padding), as sent."""
    return _FCS.pack(zlib.crc32(data))


def fcs_ok(frame: bytes) -> bool:
    """True if the last 4 bytes of `frame` are the FCS of the rest."""
    return len(frame) >= 4 and zlib.crc32(memoryview(frame)[:-4]) == _FCS.unpack_from(frame, len(frame) - 4)[0]


# -- builders ---------------------------------------------------------------------------


def build_eth(dst: bytes, src: bytes, ethertype: int, payload: bytes, pad: bool = True, with_fcs: bool = False) -> bytes:
    """An Ethernet frame, zero-padded to 60 bytes as a real MAC does, FCS optional."""
    frame = _ETH.pack(dst, src, ethertype) + payload
    if pad and len(frame) < ETH_ZLEN:
        frame += bytes(ETH_ZLEN - len(frame))
    if with_fcs:
        frame += fcs(frame)
    return frame


def build_ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int, ttl: int = 64,
               flags_frag: int = IP_DF, tos: int = 0) -> bytes:
    hdr = bytearray(_IP.pack(0x45, tos, 20 + len(payload), ident & 0xFFFF, flags_frag, ttl, proto, 0, src, dst))
    struct.pack_into("!H", hdr, 10, inet_checksum(hdr))
    return bytes(hdr) + payload


def build_tcp(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, window: int,
              options: bytes = b"", payload: bytes = b"") -> bytes:
    """A TCP segment with a correct checksum; `options` must be a multiple of 4 bytes."""
    if len(options) & 3:
        raise ValueError("TCP options must be padded to 32 bits")
    doff = (20 + len(options)) >> 2
    seg = bytearray(_TCP.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, doff << 4, flags, window, 0, 0))
    seg += options
    seg += payload
    struct.pack_into("!H", seg, 16, inet_checksum(seg, pseudo_sum(src, dst, IPPROTO_TCP, len(seg))))
    return bytes(seg)


def build_arp(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> bytes:
    return _ARP.pack(1, ETH_P_IP, 6, 4, op, sha, spa, tha, tpa)


def tcp_ts_option(tsval: int, tsecr: int) -> bytes:
    """NOP, NOP, TS: the 12-byte option block Linux puts on every non-SYN segment."""
    return _TS.pack(TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TIMESTAMP, 10, tsval & 0xFFFFFFFF, tsecr & 0xFFFFFFFF)


def tcp_synack_options(mss: int, wscale: int | None, ts: tuple[int, int] | None, sack: bool = False) -> bytes:
    """SYN-ACK options in Linux's tcp_options_write order: MSS, [SACK_PERM]/TS, WS."""
    out = struct.pack("!BBH", TCPOPT_MSS, 4, mss)
    if ts is not None:
        if sack:
            out += struct.pack("!BBBBII", TCPOPT_SACK_PERM, 2, TCPOPT_TIMESTAMP, 10, *ts)
        else:
            out += tcp_ts_option(*ts)
    elif sack:
        out += struct.pack("!BBBB", TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK_PERM, 2)
    if wscale is not None:
        out += struct.pack("!BBBB", TCPOPT_NOP, TCPOPT_WINDOW, 3, wscale)
    return out


def tcp_sack_option(blocks: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> bytes:
    """NOP, NOP, SACK with the blocks (a D-SACK first), as tcp_options_write puts it after TS."""
    out = struct.pack("!BBBB", TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK, 2 + 8 * len(blocks))
    for start, end in blocks:
        out += struct.pack("!II", start & 0xFFFFFFFF, end & 0xFFFFFFFF)
    return out


# -- parsing ----------------------------------------------------------------------------


class TcpOptions:
    """The TCP options the receiver cares about; None where absent."""

    __slots__ = ("mss", "wscale", "sack_ok", "tsval", "tsecr")

    def __init__(self) -> None:
        self.mss: int | None = None
        self.wscale: int | None = None
        self.sack_ok = False
        self.tsval: int | None = None
        self.tsecr: int | None = None


def parse_tcp_options(opts: bytes | memoryview) -> TcpOptions | None:
    """Parse a TCP option block; None if it is malformed (a length running off the end)."""
    o = TcpOptions()
    i, n = 0, len(opts)
    # Fast path: the NOP NOP TS block Linux puts on every data segment.
    if n == 12 and opts[0] == 1 and opts[1] == 1 and opts[2] == TCPOPT_TIMESTAMP and opts[3] == 10:
        o.tsval, o.tsecr = struct.unpack_from("!II", opts, 4)
        return o
    while i < n:
        kind = opts[i]
        if kind == TCPOPT_EOL:
            break
        if kind == TCPOPT_NOP:
            i += 1
            continue
        if i + 1 >= n or opts[i + 1] < 2 or i + opts[i + 1] > n:
            return None
        ln = opts[i + 1]
        if kind == TCPOPT_MSS and ln == 4:
            o.mss = struct.unpack_from("!H", opts, i + 2)[0]
        elif kind == TCPOPT_WINDOW and ln == 3:
            o.wscale = min(opts[i + 2], 14)  # RFC 7323: larger values are treated as 14
        elif kind == TCPOPT_SACK_PERM and ln == 2:
            o.sack_ok = True
        elif kind == TCPOPT_TIMESTAMP and ln == 10:
            o.tsval, o.tsecr = struct.unpack_from("!II", opts, i + 2)
        i += ln
    return o


__all__ = [name for name in dir() if not name.startswith("_") and name not in {"annotations", "socket", "struct", "zlib"}]
