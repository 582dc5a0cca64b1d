"""include/net/inet_ecn.h: the ECN field of the IPv4 header, as AQMs mark it.

INET_ECN_set_ce marks Congestion Experienced on an ECN-capable (ECT(0)/ECT(1)) IPv4 packet
and fixes the header checksum incrementally (IP_ECN_set_ce); a Not-ECT packet cannot be
marked, and the AQM drops it instead. hilnic's TCP does not negotiate ECN (tcp_ecn = 2:
only when asked by the peer), so its packets are Not-ECT.
"""

from __future__ import annotations

from typing import Any

ETH_P_IP = 0x0800

INET_ECN_NOT_ECT = 0
INET_ECN_ECT_1 = 1
INET_ECN_ECT_0 = 2
INET_ECN_CE = 3
INET_ECN_MASK = 3


def IP_ECN_set_ce(skb: Any) -> bool:
    """Set CE in the TOS byte of the skb's IPv4 header, updating the checksum incrementally
    (RFC 1624: HC' = ~(~HC + ~m + m')); False for a Not-ECT packet (or CE already)."""
    nh = skb.network_header
    word = int.from_bytes(skb.read_at(nh, 2), "big")  # version/ihl and TOS
    if not ((word & INET_ECN_MASK) + 1) & 2:  # Not-ECT (00) and CE (11) give 0
        return False
    new = word | INET_ECN_CE
    csum = (~int.from_bytes(skb.read_at(nh + 10, 2), "big") & 0xFFFF) + (~word & 0xFFFF) + new
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = (csum & 0xFFFF) + (csum >> 16)
    skb.write_at(nh, new.to_bytes(2, "big"))
    skb.write_at(nh + 10, (~csum & 0xFFFF).to_bytes(2, "big"))
    return True


def INET_ECN_set_ce(skb: Any) -> bool:
    if getattr(skb, "protocol", 0) == ETH_P_IP and skb.network_header >= 0:
        return IP_ECN_set_ce(skb)
    return False


__all__ = ["INET_ECN_CE", "INET_ECN_ECT_0", "INET_ECN_ECT_1", "INET_ECN_NOT_ECT", "INET_ECN_set_ce", "IP_ECN_set_ce"]
