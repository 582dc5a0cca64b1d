"""IPv4 input (net/ipv4/ip_input.c): header validation, local delivery, protocol dispatch.

This host does not forward and does not reassemble: packets for other addresses are
dropped (InAddrErrors) and fragments are dropped (ReasmFails), neither of which the
transmit-side experiments produce.
"""

from __future__ import annotations

from hilnic.include.linux.in_ import ipv4_is_lbcast, ipv4_is_multicast
from hilnic.include.net.ip import IP_MF, IP_OFFSET, IPHDR_LEN
from hilnic.include.uapi.linux.icmp import ICMP_DEST_UNREACH, ICMP_PROT_UNREACH
from hilnic.include.uapi.linux.if_ether import ETH_P_IP
from hilnic.kernel.ftrace import traced
from hilnic.lib.checksum import csum_fold, csum_partial, ip_fast_csum
from hilnic.net.core.dev import PacketType
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdevice import NetDevice
from hilnic.net.core.skbuff import SkBuff, kfree_skb
from hilnic.net.ethernet.eth import PACKET_OTHERHOST
from hilnic.net.ipv4.icmp import icmp_send
from hilnic.net.ipv4.route import inet_addr_type_local


@traced
def ip_rcv(skb: SkBuff, dev: NetDevice) -> int:
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
    return csum_fold(csum_partial(hdr))


def _inhdr_error(host: Host, skb: SkBuff) -> int:
    host.snmp_inc("Ip", "InHdrErrors")
    kfree_skb(skb, "ip_inhdr")
    return 0


def ip_rcv_finish(host: Host, skb: SkBuff, hdr: bytes) -> int:
    """ip_route_input: ours (or broadcast/multicast) → ip_local_deliver; else drop (no forwarding)."""
    daddr = int.from_bytes(hdr[16:20], "big")
    if inet_addr_type_local(host, daddr) or ipv4_is_lbcast(daddr) or ipv4_is_multicast(daddr) or _is_subnet_bcast(host, daddr):
        return ip_local_deliver(host, skb, hdr)
    host.snmp_inc("Ip", "InAddrErrors")  # ip_error: EHOSTUNREACH with forwarding off
    kfree_skb(skb, "ip_inaddrerrors")
    return 0


def _is_subnet_bcast(host: Host, daddr: int) -> bool:
    return any(ifa.prefixlen < 31 and daddr == ifa.broadcast for ifa in host.ext.get("ifaddrs", ()))


@traced
def ip_local_deliver(host: Host, skb: SkBuff, hdr: bytes) -> int:
    frag_off = int.from_bytes(hdr[6:8], "big")
    if frag_off & (IP_MF | IP_OFFSET):
        host.snmp_inc("Ip", "ReasmReqds")
        host.snmp_inc("Ip", "ReasmFails")
        kfree_skb(skb, "ip_frag_reasm")
        return 0
    return ip_local_deliver_finish(host, skb, hdr)


def ip_local_deliver_finish(host: Host, skb: SkBuff, hdr: bytes) -> int:
    skb.skb_pull(skb.transport_header - skb.data)
    return ip_protocol_deliver_rcu(host, skb, hdr[9])


def ip_protocol_deliver_rcu(host: Host, skb: SkBuff, protocol: int) -> int:
    prot = host.ext["inet_protos"].get(protocol)
    if prot is not None:
        prot.handler(host, skb)
        host.snmp_inc("Ip", "InDelivers")
        return 0
    host.snmp_inc("Ip", "InUnknownProtos")
    icmp_send(host, skb, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0)
    kfree_skb(skb, "ip_noproto")
    return 0


ip_packet_type = PacketType(ETH_P_IP, ip_rcv)

__all__ = ["ip_local_deliver", "ip_packet_type", "ip_rcv"]
