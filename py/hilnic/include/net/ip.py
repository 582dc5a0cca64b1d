"""include/net/ip.h (and ip_hdr from include/linux/ip.h): IPv4 header constants and views."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

from hilnic.lib.checksum import ip_fast_csum

IP_DF = 0x4000
IP_MF = 0x2000
IP_OFFSET = 0x1FFF
IP_MAX_MTU = 0xFFFF
IPHDR_LEN = 20  # sizeof(struct iphdr)
IPDEFTTL = 64

_IPHDR = struct.Struct("!BBHHHBBHII")


class _NetworkHeader(Protocol):
    """What ip_hdr reads of an skb (net/core/skbuff.py's SkBuff; headers do not import net)."""

    network_header: int

    def read_at(self, off: int, length: int) -> bytes: ...


@dataclass(slots=True)
class IpHdr:
    """A parsed IPv4 header (ip_hdr(skb) read-only view)."""

    ihl: int
    tos: int
    tot_len: int
    id: int
    frag_off: int
    ttl: int
    protocol: int
    check: int
    saddr: int
    daddr: int


def ip_hdr(skb: _NetworkHeader) -> IpHdr:
    vihl, tos, tot_len, ident, frag_off, ttl, proto, check, saddr, daddr = _IPHDR.unpack_from(
        skb.read_at(skb.network_header, IPHDR_LEN)
    )
    return IpHdr(vihl & 0xF, tos, tot_len, ident, frag_off, ttl, proto, check, saddr, daddr)


def build_iphdr(tot_len: int, ident: int, frag_off: int, ttl: int, protocol: int, saddr: int, daddr: int, tos: int = 0) -> bytes:
    """A 20-byte IPv4 header with a valid checksum (ip_send_check)."""
    raw = _IPHDR.pack(0x45, tos, tot_len, ident & 0xFFFF, frag_off, ttl, protocol, 0, saddr, daddr)
    check = ip_fast_csum(raw)
    return raw[:10] + check.to_bytes(2, "big") + raw[12:]
