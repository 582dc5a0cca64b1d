"""ICMP (net/ipv4/icmp.c): error generation (icmp_send) and reception (icmp_rcv).

An error about a packet this host sent itself (a DF datagram too big for the route, an
unresolvable neighbour) is addressed to our own address: it is routed to loopback and
arrives through the receive path, where icmp_unreach hands it to the protocol's
err_handler (tcp_v4_err, udp_err) — as in Linux.
"""

from __future__ import annotations

import struct

from hilnic.include.linux.in_ import ipv4_is_lbcast, ipv4_is_multicast
from hilnic.include.net.ip import IP_OFFSET, IPDEFTTL, IPHDR_LEN, build_iphdr, ip_hdr
from hilnic.include.uapi.linux.icmp import (
    ICMP_DEST_UNREACH,
    ICMP_ECHO,
    ICMP_ECHOREPLY,
    ICMP_FRAG_NEEDED,
    ICMP_PARAMETERPROB,
    ICMP_TIME_EXCEEDED,
)
from hilnic.include.uapi.linux.in_ import IPPROTO_ICMP
from hilnic.kernel.core import HZ
from hilnic.kernel.ftrace import traced
from hilnic.lib.checksum import csum_fold, csum_partial
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdevice import LL_RESERVED_SPACE
from hilnic.net.core.skbuff import SkBuff, alloc_skb, consume_skb, kfree_skb
from hilnic.net.ethernet.eth import PACKET_HOST
from hilnic.net.ipv4.ip_output import __ip_select_ident, ip_local_out
from hilnic.net.ipv4.route import RTN_BROADCAST, RTN_MULTICAST, inet_addr_type_local, ip_icmp, ip_route_output

ICMP_ERROR_TYPES = frozenset((ICMP_DEST_UNREACH, 4, 5, ICMP_TIME_EXCEEDED, ICMP_PARAMETERPROB))
IPTOS_PREC_INTERNETCONTROL = 0xC0
IPTOS_TOS_MASK = 0x1E
ICMP_MSGS_PER_SEC = 1000  # net.ipv4.icmp_msgs_per_sec
ICMP_MSGS_BURST = 50  # net.ipv4.icmp_msgs_burst
ICMP_RATEMASK = 0x1818  # net.ipv4.icmp_ratemask: dest-unreach, source-quench, time-exceeded, param-prob

_ICMPHDR = struct.Struct("!BBHI")


def icmp_global_allow(host: Host) -> bool:
    """The host-wide ICMP error token bucket (1000/s, burst 50; Linux randomizes the cost 0..2)."""
    st = host.ext.setdefault("icmp_global", [ICMP_MSGS_BURST, 0])
    now = host.kernel.jiffies
    delta = min(now - st[1], HZ)
    incr = 0
    if delta >= HZ // 50:
        incr = ICMP_MSGS_PER_SEC * delta // HZ
        if incr:
            st[1] = now
    credit = min(st[0] + incr, ICMP_MSGS_BURST)
    ok = credit > 0
    if ok:
        credit -= 1
    st[0] = credit
    return ok


def icmp_push_reply(host: Host, saddr: int, daddr: int, tos: int, icmp_type: int, code: int, rest: int, payload: bytes) -> int:
    """Build ICMP + IP and send it to daddr (loopback when daddr is ours)."""
    try:
        rt = ip_route_output(host, daddr)
    except OSError:
        host.snmp_inc("Icmp", "OutErrors")
        return -1
    hdr = _ICMPHDR.pack(icmp_type, code, 0, rest)
    check = csum_fold(csum_partial(hdr + payload))
    icmp = hdr[:2] + check.to_bytes(2, "big") + hdr[4:] + payload
    hh = LL_RESERVED_SPACE(rt.dev)
    skb = alloc_skb(hh + IPHDR_LEN + len(icmp))
    skb.skb_reserve(hh)
    off = skb.skb_put(IPHDR_LEN + len(icmp))
    skb.network_header = off
    skb.transport_header = off + IPHDR_LEN
    src = saddr or rt.rt_src
    ident = __ip_select_ident(host, daddr, src, IPPROTO_ICMP, 1)  # the ICMP socket sets no DF: a hashed ID
    skb.write_at(off, build_iphdr(IPHDR_LEN + len(icmp), ident, 0, IPDEFTTL, IPPROTO_ICMP, src, daddr, tos) + icmp)
    skb.dst = rt
    skb.priority = 6  # TC_PRIO_CONTROL via icmp socket sk_priority
    host.snmp_inc("Icmp", "OutMsgs")
    host.snmp_inc("IcmpMsg", f"OutType{icmp_type}")
    if icmp_type == ICMP_DEST_UNREACH:
        host.snmp_inc("Icmp", "OutDestUnreachs")
    elif icmp_type == ICMP_ECHOREPLY:
        host.snmp_inc("Icmp", "OutEchoReps")
    return ip_local_out(host, None, skb)


@traced
def icmp_send(host: Host, skb_in: SkBuff, icmp_type: int, code: int, info: int) -> None:
    """__icmp_send: an ICMP error about skb_in (IP header at its network_header) to its sender."""
    if skb_in.network_header < 0:
        return
    iph = ip_hdr(skb_in)
    rt = skb_in.dst
    if rt is not None and rt.rt_type in (RTN_BROADCAST, RTN_MULTICAST):
        return
    if skb_in.pkt_type != PACKET_HOST:
        return
    if ipv4_is_lbcast(iph.daddr) or ipv4_is_multicast(iph.daddr) or ipv4_is_multicast(iph.saddr) or iph.saddr == 0:
        return
    if iph.frag_off & IP_OFFSET:
        return  # only about the first fragment
    if iph.protocol == IPPROTO_ICMP and icmp_type in ICMP_ERROR_TYPES:
        inner_type = skb_in.read_at(skb_in.network_header + iph.ihl * 4, 1)[0]
        if inner_type in ICMP_ERROR_TYPES:
            return  # never an error about an error
    if ICMP_RATEMASK >> icmp_type & 1 and not icmp_global_allow(host):
        return
    # A packet addressed to us answers from that address; our own outgoing packet lets the
    # route pick the source (saddr 0).
    saddr = iph.daddr if inet_addr_type_local(host, iph.daddr) and rt is None else 0
    tos = (iph.tos & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL
    room = 576 - IPHDR_LEN - 8
    avail = skb_in.len - (skb_in.network_header - skb_in.data)
    n = min(avail, room)
    payload = _read_from_network_header(skb_in, n)
    icmp_push_reply(host, saddr, iph.saddr, tos, icmp_type, code, info & 0xFFFFFFFF, payload)


def icmp_init() -> None:
    """Register icmp_send where route, ip_output and arp reach it (they sit below icmp)."""
    ip_icmp.icmp_send = icmp_send


def _read_from_network_header(skb: SkBuff, n: int) -> bytes:
    lin = skb.tail - skb.network_header
    if n <= lin:
        return skb.read_at(skb.network_header, n)
    whole = skb.to_bytes()
    start = skb.network_header - skb.data
    return whole[start : start + n]


# -- receive ------------------------------------------------------------------------------


@traced
def icmp_rcv(host: Host, skb: SkBuff) -> int:
    """Validate the message, count it, dispatch: errors to the protocol, echo answered."""
    data = skb.read_at(skb.data, skb.len) if not skb.data_len else skb.to_bytes()
    if len(data) < 8:
        host.snmp_inc("Icmp", "InErrors")
        kfree_skb(skb, "icmp_short")
        return 0
    if csum_fold(csum_partial(data)) != 0:
        host.snmp_inc("Icmp", "InCsumErrors")
        host.snmp_inc("Icmp", "InErrors")
        kfree_skb(skb, "icmp_csum")
        return 0
    icmp_type, code, _, rest = _ICMPHDR.unpack_from(data)
    host.snmp_inc("Icmp", "InMsgs")
    host.snmp_inc("IcmpMsg", f"InType{icmp_type}")
    if icmp_type in (ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED, ICMP_PARAMETERPROB):
        if icmp_type == ICMP_DEST_UNREACH:
            host.snmp_inc("Icmp", "InDestUnreachs")
        elif icmp_type == ICMP_TIME_EXCEEDED:
            host.snmp_inc("Icmp", "InTimeExcds")
        icmp_unreach(host, skb, icmp_type, code, rest)
    elif icmp_type == ICMP_ECHO:
        host.snmp_inc("Icmp", "InEchos")
        icmp_echo(host, skb, data)
    elif icmp_type == ICMP_ECHOREPLY:
        host.snmp_inc("Icmp", "InEchoReps")
    consume_skb(skb)
    return 0


def icmp_unreach(host: Host, skb: SkBuff, icmp_type: int, code: int, rest: int) -> None:
    info = 0
    if icmp_type == ICMP_DEST_UNREACH and code == ICMP_FRAG_NEEDED:
        info = rest & 0xFFFF  # icmph->un.frag.mtu (net.ipv4.ip_no_pmtu_disc = 0)
    skb.skb_pull(8)  # skb->data now at the quoted IP header
    if skb.len < IPHDR_LEN:
        host.snmp_inc("Icmp", "InErrors")
        return
    icmp_socket_deliver(host, skb, info)


def icmp_socket_deliver(host: Host, skb: SkBuff, info: int) -> None:
    """Hand the quoted header to the err_handler of the protocol it names."""
    raw = skb.read_at(skb.data, IPHDR_LEN)
    ihl = (raw[0] & 0xF) * 4
    protocol = raw[9]
    if skb.len < ihl + 8:
        host.snmp_inc("Icmp", "InErrors")
        return
    prot = host.ext.get("inet_protos", {}).get(protocol)
    if prot is not None and prot.err_handler is not None:
        prot.err_handler(host, skb, info)


def icmp_echo(host: Host, skb: SkBuff, data: bytes) -> None:
    iph = ip_hdr(skb)
    reply = data[8:]
    _, _, _, rest = _ICMPHDR.unpack_from(data)
    icmp_push_reply(host, iph.daddr, iph.saddr, iph.tos, ICMP_ECHOREPLY, 0, rest, reply)


__all__ = ["icmp_init", "icmp_rcv", "icmp_send"]
