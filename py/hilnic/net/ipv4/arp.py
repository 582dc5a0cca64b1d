"""ARP (net/ipv4/arp.c): the arp_tbl neighbour table, solicitation, receive processing.

ARP frames are real bytes: an Ethernet header and a 28-byte arphdr for IPv4 over Ethernet.
"""

from __future__ import annotations

import struct

from hilnic.include.linux.in_ import ipv4_is_loopback, ipv4_is_multicast
from hilnic.include.linux.inet import inet_addr
from hilnic.include.net.ip import ip_hdr
from hilnic.include.uapi.linux.if_ether import ETH_P_ARP, ETH_P_IP
from hilnic.kernel.core import HZ
from hilnic.kernel.ftrace import traced
from hilnic.net.core.dev import PacketType, dev_queue_xmit
from hilnic.net.core.neighbour import (
    NEIGH_UPDATE_F_OVERRIDE,
    NUD_NOARP,
    NUD_REACHABLE,
    NUD_STALE,
    Neighbour,
    NeighOps,
    NeighParms,
    NeighTable,
    __neigh_lookup,
    neigh_event_ns,
    neigh_update,
)
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdevice import LL_RESERVED_SPACE, NetDevice, dev_hard_header
from hilnic.net.core.skbuff import SkBuff, alloc_skb, consume_skb, kfree_skb
from hilnic.net.ethernet.eth import ETH_BROADCAST, PACKET_HOST, PACKET_LOOPBACK, PACKET_OTHERHOST, dev_mac
from hilnic.net.ipv4.route import inet_addr_type_local, inet_select_addr, ipv4_link_failure

ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
ARPOP_REPLY = 2
ARP_HDR_LEN = 28  # arphdr + 2·(6+4) for Ethernet/IPv4

_ARP = struct.Struct("!HHBBH6sI6sI")


class ArpOps(NeighOps):
    """arp_hh_ops."""

    def constructor(self, n: Neighbour) -> None:
        arp_constructor(n)

    def solicit(self, n: Neighbour, skb: SkBuff | None) -> None:
        arp_solicit(n, skb)

    def error_report(self, n: Neighbour, skb: SkBuff) -> None:
        arp_error_report(n, skb)


def arp_init(host: Host) -> NeighTable:
    s = host.sysctl
    parms = NeighParms(
        base_reachable_time=s.arp_reachable_time_ms * HZ // 1000,
        retrans_time=s.arp_retrans_time_ms * HZ // 1000,
        delay_probe_time=s.arp_delay_first_probe_time_ms * HZ // 1000,
        mcast_probes=s.arp_mcast_solicit,
        ucast_probes=s.arp_ucast_solicit,
        queue_len_bytes=s.unres_qlen_bytes,
    )
    tbl = NeighTable(host, ArpOps(), parms, ETH_P_IP)
    host.ext["arp_tbl"] = tbl
    return tbl


def arp_tbl(host: Host) -> NeighTable:
    return host.ext["arp_tbl"]


def arp_mc_map(addr: int) -> bytes:
    """ip_eth_mc_map: 01:00:5e + the low 23 bits of the group."""
    return bytes((0x01, 0x00, 0x5E, (addr >> 16) & 0x7F, (addr >> 8) & 0xFF, addr & 0xFF))


def arp_constructor(n: Neighbour) -> None:
    """Broadcast and multicast next hops need no resolution: NOARP with the mapped address."""
    key = n.primary_key
    host = n.tbl.host
    bcast = key == 0xFFFFFFFF or any(
        ifa.dev is n.dev and ifa.prefixlen < 31 and key == ifa.broadcast for ifa in host.ext.get("ifaddrs", ())
    )
    if bcast:
        n.nud_state = NUD_NOARP
        n.ha = ETH_BROADCAST
    elif ipv4_is_multicast(key):
        n.nud_state = NUD_NOARP
        n.ha = arp_mc_map(key)


def ip_neigh_gw4(host: Host, dev: NetDevice, nexthop: int) -> Neighbour:
    """__ipv4_neigh_lookup_noref, else create the entry (NUD_NONE)."""
    return __neigh_lookup(host.ext["arp_tbl"], nexthop, dev, True)


# -- transmit -------------------------------------------------------------------------------


def arp_create(op: int, ptype: int, dest_ip: int, dev: NetDevice, src_ip: int, dest_hw: bytes | None,
               src_hw: bytes | None, target_hw: bytes | None) -> SkBuff:
    """An ARP frame in an skb: Ethernet header + arphdr."""
    hlen = LL_RESERVED_SPACE(dev)
    skb = alloc_skb(ARP_HDR_LEN + hlen)
    skb.skb_reserve(hlen)
    off = skb.skb_put(ARP_HDR_LEN)
    skb.network_header = off
    skb.protocol = ETH_P_ARP
    skb.dev = dev
    src_hw = src_hw or dev_mac(dev)
    skb.write_at(off, _ARP.pack(ARPHRD_ETHER, ETH_P_IP, 6, 4, op, src_hw, src_ip, target_hw or b"\0" * 6, dest_ip))
    dev_hard_header(skb, dev, ptype, dest_hw or ETH_BROADCAST, src_hw, skb.len)
    return skb


def arp_xmit(skb: SkBuff) -> int:
    return dev_queue_xmit(skb)


@traced
def arp_send_dst(op: int, ptype: int, dest_ip: int, dev: NetDevice, src_ip: int, dest_hw: bytes | None,
                 src_hw: bytes | None, target_hw: bytes | None) -> int:
    skb = arp_create(op, ptype, dest_ip, dev, src_ip, dest_hw, src_hw, target_hw)
    return arp_xmit(skb)


@traced
def arp_solicit(n: Neighbour, skb: SkBuff | None) -> None:
    """Send a request for n: broadcast while INCOMPLETE, unicast to the known address in PROBE."""
    dev = n.dev
    host = n.tbl.host
    target = n.primary_key
    saddr = 0
    if skb is not None and skb.network_header >= 0:
        src = ip_hdr(skb).saddr
        if inet_addr_type_local(host, src):
            saddr = src
    if not saddr:
        saddr = inet_select_addr(host, dev, target)
    probes = n.probes - n.parms.ucast_probes
    dst_hw = None
    if probes < 0:
        dst_hw = n.ha  # unicast probe of the address we believe in
    elif probes - n.parms.app_probes < 0:
        return  # neigh_app_ns: user-space (arpd) probes, none configured
    arp_send_dst(ARPOP_REQUEST, ETH_P_ARP, target, dev, saddr, dst_hw, dev_mac(dev), None)


def arp_error_report(n: Neighbour, skb: SkBuff) -> None:
    """Resolution failed for a queued skb: ICMP host unreachable to its sender, then drop it."""
    ipv4_link_failure(n.tbl.host, skb)  # dst_link_failure
    kfree_skb(skb, "neigh_failed")


# -- receive ------------------------------------------------------------------------------


@traced
def arp_rcv(skb: SkBuff, dev: NetDevice) -> int:
    """The ETH_P_ARP packet handler: sanity checks, then arp_process."""
    if skb.pkt_type in (PACKET_OTHERHOST, PACKET_LOOPBACK) or skb.len < ARP_HDR_LEN:
        consume_skb(skb)
        return 0
    _hrd, _pro, hln, pln, _, _, _, _, _ = _ARP.unpack(skb.read_at(skb.data, ARP_HDR_LEN))
    if hln != 6 or pln != 4:
        kfree_skb(skb, "arp_bad_hdr")
        return 0
    return arp_process(dev.host, skb, dev)


def arp_process(host: Host, skb: SkBuff, dev: NetDevice) -> int:
    tbl = host.ext["arp_tbl"]
    hrd, pro, _, _, op, sha, sip, _tha, tip = _ARP.unpack(skb.read_at(skb.data, ARP_HDR_LEN))
    if hrd != ARPHRD_ETHER or pro != ETH_P_IP or op not in (ARPOP_REQUEST, ARPOP_REPLY):
        kfree_skb(skb, "arp_bad_op")
        return 0
    if ipv4_is_multicast(tip) or ipv4_is_loopback(tip):
        kfree_skb(skb, "arp_bad_tip")
        return 0
    if sip == 0:  # duplicate address detection probe
        if op == ARPOP_REQUEST and inet_addr_type_local(host, tip):
            arp_send_dst(ARPOP_REPLY, ETH_P_ARP, sip, dev, tip, sha, dev_mac(dev), sha)
        consume_skb(skb)
        return 0
    if op == ARPOP_REQUEST and inet_addr_type_local(host, tip):
        n = neigh_event_ns(tbl, sha, sip, dev)
        if n is not None:
            arp_send_dst(ARPOP_REPLY, ETH_P_ARP, sip, dev, tip, sha, dev_mac(dev), sha)
        consume_skb(skb)
        return 0
    n = __neigh_lookup(tbl, sip, dev, False)
    if n is not None:
        now = host.kernel.jiffies
        is_garp = op == ARPOP_REPLY and tip == sip  # gratuitous reply
        override = now > n.updated + n.parms.locktime or is_garp
        state = NUD_REACHABLE
        if op != ARPOP_REPLY or skb.pkt_type != PACKET_HOST:
            state = NUD_STALE  # broadcast replies and requests do not prove reachability
        neigh_update(n, sha, state, NEIGH_UPDATE_F_OVERRIDE if override else 0)
    consume_skb(skb)
    return 0


arp_packet_type = PacketType(ETH_P_ARP, arp_rcv)


def neigh_lookup_state(host: Host, addr: int | str, dev: NetDevice) -> int | None:
    """The NUD state of an entry (for tests and `ip neigh`), None if absent."""
    n = host.ext["arp_tbl"].hash.get((inet_addr(addr), dev.name))
    return None if n is None else n.nud_state


__all__ = [
    "ARPOP_REPLY",
    "ARPOP_REQUEST",
    "arp_create",
    "arp_init",
    "arp_packet_type",
    "arp_process",
    "arp_rcv",
    "arp_send_dst",
    "arp_solicit",
    "arp_tbl",
    "ip_neigh_gw4",
]
