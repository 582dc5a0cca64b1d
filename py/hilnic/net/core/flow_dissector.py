"""The flow hash of a packet (net/core/flow_dissector.c: skb_get_hash): what fq_codel and fq's
orphan flows classify by.

Linux dissects the headers and jhashes the addresses, ports and protocol with a boot-time
random seed; here the IPv4 addresses and ports (or, without an IPv4 header, the protocol)
go through CRC-32 with a multiplicative mix, as skb_tx_hash does in dev.py: the same flow
always gets the same hash, different flows (almost always) different ones.
"""

from __future__ import annotations

import struct
import zlib

from hilnic.net.core.skbuff import SkBuff

ETH_P_IP = 0x0800


def skb_get_hash(skb: SkBuff) -> int:
    """The u32 flow hash, computed once and kept in the skb (skb->hash, l4_hash)."""
    h = skb.cb.get("hash")
    if h is not None:
        return h
    nh = skb.network_header
    if skb.protocol == ETH_P_IP and nh >= 0 and skb.headlen >= nh - skb.data + 24:
        raw = skb.read_at(nh, 24)
        ihl = (raw[0] & 0xF) * 4
        key = raw[12:20] + bytes((raw[9],)) + (skb.read_at(nh + ihl, 4) if raw[9] in (6, 17) else b"")
    else:
        key = struct.pack("!H", skb.protocol)
    h = (zlib.crc32(key) * 0x9E3779B1) & 0xFFFF_FFFF
    skb.cb["hash"] = h
    return h


__all__ = ["skb_get_hash"]
