"""IPv4 input (net/ipv4/ip_input.c): header validation, local delivery, protocol dispatch.

This host does not forward and does not reassemble: packets for other addresses are
dropped (InAddrErrors) and fragments are dropped (ReasmFails), neither of which the
transmit-side experiments produce.
"""

from __future__ import annotations

from typing import Any

from hilnic.kernel.ftrace import traced
from hilnic.net.ethernet.eth import PACKET_OTHERHOST
from hilnic.net.ipv4.af_inet import IP_MF, IP_OFFSET, IPHDR_LEN, ip_fast_csum, ipv4_is_lbcast, ipv4_is_multicast
from hilnic.net.core.skbuff import kfree_skb


@traced
def ip_rcv(skb: Any, dev: Any) -> int:
    """ip_rcv_core + ip_rcv_finish: drop bad headers, trim link padding, route to local delivery."""
    host = dev.host
    if skb.pkt_type == PACKET_OTHERHOST:
        kfree_skb(skb, "otherhost")
        return 0
    host.snmp_inc("Ip", "InReceives")
    if skb.headlen < IPHDR_LEN:
        return _inhdr_error(host, skb)
    skb.network_header = skb.data
    hdr = skb.read_at(skb.data, IPHDR_LEN)
    ihl = hdr[0] & 0xF
    if ihl < 5 or hdr[0] >> 4 != 4:
        return _inhdr_error(host, skb)
    if ihl > 5:
        if skb.headlen < ihl * 4:
            return _inhdr_error(host, skb)
        hdr = skb.read_at(skb.data, ihl * 4)
    if _csum(hdr) != 0:
        host.snmp_inc("Ip", "InCsumErrors")
        return _inhdr_error(host, skb)
    tot_len = int.from_bytes(hdr[2:4], "big")
    if skb.len < tot_len:
        host.snmp_inc("Ip", "InTruncatedPkts")
        kfree_skb(skb, "pkt_too_small")
        return 0
    if tot_len < ihl * 4:
        return _inhdr_error(host, skb)
    if skb.len > tot_len:
        skb.skb_trim(tot_len)  # pskb_trim_rcsum: Ethernet padding
    skb.transport_header = skb.data + ihl * 4
    return ip_rcv_finish(host, skb, hdr)


def _csum(hdr: bytes) -> int:
    if len(hdr) == IPHDR_LEN:
        return ip_fast_csum(hdr)
    from hilnic.net.core.skbuff import csum_fold, csum_partial

    return csum_fold(csum_partial(hdr))


def _inhdr_error(host: Any, skb: Any) -> int:
    host.snmp_inc("Ip", "InHdrErrors")
    kfree_skb(skb, "ip_inhdr")
    return 0


_route: Any = None  # .route, imported at first use


def _load_route() -> Any:
    global _route
    from hilnic.net.ipv4 import route

    _route = route
    return route


def ip_rcv_finish(host: Any, skb: Any, hdr: bytes) -> int:
    """ip_route_input: ours (or broadcast/multicast) → ip_local_deliver; else drop (no forwarding)."""
    route = _route
    if route is None:
        route = _load_route()
    daddr = int.from_bytes(hdr[16:20], "big")
    if route.inet_addr_type_local(host, daddr) or ipv4_is_lbcast(daddr) or ipv4_is_multicast(daddr) or _is_subnet_bcast(host, daddr):
        return ip_local_deliver(host, skb, hdr)
    host.snmp_inc("Ip", "InAddrErrors")  # ip_error: EHOSTUNREACH with forwarding off
    kfree_skb(skb, "ip_inaddrerrors")
    return 0


def _is_subnet_bcast(host: Any, daddr: int) -> bool:
    return any(ifa.prefixlen < 31 and daddr == ifa.broadcast for ifa in host.ext.get("ifaddrs", ()))


@traced
def ip_local_deliver(host: Any, skb: Any, hdr: bytes) -> int:
    frag_off = int.from_bytes(hdr[6:8], "big")
    if frag_off & (IP_MF | IP_OFFSET):
        host.snmp_inc("Ip", "ReasmReqds")
        host.snmp_inc("Ip", "ReasmFails")
        kfree_skb(skb, "ip_frag_reasm")
        return 0
    return ip_local_deliver_finish(host, skb, hdr)


def ip_local_deliver_finish(host: Any, skb: Any, hdr: bytes) -> int:
    skb.skb_pull(skb.transport_header - skb.data)
    return ip_protocol_deliver_rcu(host, skb, hdr[9])


def ip_protocol_deliver_rcu(host: Any, skb: Any, protocol: int) -> int:
    prot = host.ext["inet_protos"].get(protocol)
    if prot is not None:
        prot.handler(host, skb)
        host.snmp_inc("Ip", "InDelivers")
        return 0
    from hilnic.net.ipv4.icmp import ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, icmp_send

    host.snmp_inc("Ip", "InUnknownProtos")
    icmp_send(host, skb, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0)
    kfree_skb(skb, "ip_noproto")
    return 0


__all__ = ["ip_local_deliver", "ip_rcv"]
