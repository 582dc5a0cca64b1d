"""IPv4 output (net/ipv4/ip_output.c): header, local out, MTU checks, fragmentation.

Return values follow the kernel: 0 or a NET_XMIT_* code (> 0) from the device layer, or a
negative errno. Every fragment is a separate skb and a separate dev_queue_xmit.
"""

from __future__ import annotations

import errno
import hashlib
import struct
from collections.abc import Callable

from hilnic.include.net.ip import IP_DF, IP_MAX_MTU, IP_MF, IP_OFFSET, IPDEFTTL, IPHDR_LEN
from hilnic.include.uapi.linux.icmp import ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED
from hilnic.include.uapi.linux.if_ether import ETH_P_IP
from hilnic.include.uapi.linux.in_ import IP_PMTUDISC_DO, IP_PMTUDISC_OMIT, IP_PMTUDISC_PROBE, IP_PMTUDISC_WANT, IPPROTO_TCP
from hilnic.kernel.ftrace import traced
from hilnic.lib.checksum import ip_fast_csum
from hilnic.net.core.gso import skb_gso_segment
from hilnic.net.core.neighbour import neigh_output
from hilnic.net.core.net_namespace import Host, get_random_bytes, get_random_u32, get_random_u32_below
from hilnic.net.core.netdevice import LL_RESERVED_SPACE, NET_XMIT_CN, NETIF_F_GSO_SOFTWARE, NETIF_F_TSO
from hilnic.net.core.skbuff import (
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    SkBuff,
    alloc_skb,
    consume_skb,
    kfree_skb,
    skb_checksum_help,
    skb_stats,
)
from hilnic.net.core.sock import Sock, sk_setup_caps, skb_set_owner_w, sock_wfree
from hilnic.net.ipv4.arp import ip_neigh_gw4
from hilnic.net.ipv4.route import (
    RTN_LOCAL,
    Rtable,
    __sk_dst_check,
    dst_mtu,
    ip_icmp,
    ip_mtu_locked,
    ip_route_output,
    ip_route_output_ports,
)

_IPHDR = struct.Struct("!BBHHHBBHII")
_3U32 = struct.Struct("!III")
_IPHDR_NOCSUM = struct.Struct("!BBHHHBB")  # the first 10 bytes


# -- helpers ------------------------------------------------------------------------------


def ip_dont_fragment(sk: Sock, dst: Rtable) -> bool:
    pmtudisc = sk.pmtudisc
    return pmtudisc == IP_PMTUDISC_DO or (pmtudisc == IP_PMTUDISC_WANT and not ip_mtu_locked(dst))


def ip_sk_ignore_df(sk: Sock) -> bool:
    return sk.pmtudisc < IP_PMTUDISC_DO or sk.pmtudisc == IP_PMTUDISC_OMIT


def ip_sk_use_pmtu(sk: Sock) -> bool:
    return sk.pmtudisc < IP_PMTUDISC_PROBE


def ip_skb_dst_mtu(sk: Sock | None, skb: SkBuff) -> int:
    """The MTU an outgoing skb is checked against: the path MTU, or the device's with PROBE+."""
    dst = skb.dst
    if sk is None or ip_sk_use_pmtu(sk):
        return dst_mtu(dst)
    return min(dst.dev.mtu, IP_MAX_MTU)


IP_IDENTS_SZ = 2048  # ip_idents_mask + 1: alloc_large_system_hash's minimum, 2048 buckets


def ip_idents_reserve(host: Host, hash_: int, segs: int) -> int:
    """Reserve `segs` IDs in the hash's bucket (net/ipv4/route.c). Buckets start at random
    values (ip_rt_init fills ip_idents with get_random_bytes) and, each jiffy a bucket is
    used after being idle, skip a random amount below the idle time (so IDs are not a
    global counter an observer could read traffic from)."""
    st: tuple[dict[int, int], dict[int, int]] | None = host.ext.get("ip_idents")
    if st is None:
        st = host.ext["ip_idents"] = ({}, {})  # bucket → id, bucket → last jiffy (ip_tstamps)
    idents, tstamps = st
    bucket = hash_ & (IP_IDENTS_SZ - 1)
    p_id = idents.get(bucket)
    if p_id is None:
        p_id = get_random_u32(host)
    now = host.kernel.jiffies & 0xFFFFFFFF
    old = tstamps.get(bucket, 0)
    delta = 0
    if old != now:
        tstamps[bucket] = now
        delta = get_random_u32_below(host, (now - old) & 0xFFFFFFFF)
    idents[bucket] = (p_id + segs + delta) & 0xFFFFFFFF  # atomic_add_return(segs + delta) - segs
    return (p_id + delta) & 0xFFFFFFFF


def __ip_select_ident(host: Host, daddr: int, saddr: int, protocol: int, segs: int) -> int:
    """The IP ID of a packet no connected socket numbers: from the bucket of a keyed hash of
    (daddr, saddr, protocol), the key drawn at first use (net->ipv4.ip_id_key)."""
    key: bytes | None = host.ext.get("ip_id_key")
    if key is None:
        key = host.ext["ip_id_key"] = get_random_bytes(host, 16)
    hash_ = int.from_bytes(hashlib.blake2b(_3U32.pack(daddr, saddr, protocol), key=key, digest_size=4).digest(), "big")
    return ip_idents_reserve(host, hash_, segs) & 0xFFFF


def ip_select_ident_segs(host: Host, sk: Sock | None, df: bool, ignore_df: bool, segs: int,
                         daddr: int = 0, saddr: int = 0, protocol: int = 0) -> int:
    """include/net/ip.h: a connected socket numbers its own packets from inet_id (TCP takes
    the value before adding segs, other protocols after: atomic_add_return); a DF packet
    that may not be fragmented locally gets 0; anything else a hashed ID (__ip_select_ident)."""
    if sk is not None and sk.inet_daddr:
        if sk.sk_protocol == IPPROTO_TCP:  # sk_is_tcp: the socket lock is held
            val = sk.inet_id
            sk.inet_id = (val + segs) & 0xFFFF
        else:
            val = sk.inet_id = (sk.inet_id + segs) & 0xFFFF
        return val & 0xFFFF
    if df and not ignore_df:
        return 0
    return __ip_select_ident(host, daddr, saddr, protocol, segs)


def _write_iphdr(
    skb: SkBuff, off: int, tos: int, ident: int, frag_off: int, ttl: int, protocol: int, saddr: int, daddr: int
) -> None:
    # tot_len and the checksum are filled by ip_local_out.
    skb.write_at(off, _IPHDR.pack(0x45, tos, 0, ident, frag_off, ttl, protocol, 0, saddr, daddr))


def ip_copy_metadata(to: SkBuff, frm: SkBuff) -> None:
    to.pkt_type = frm.pkt_type
    to.priority = frm.priority
    to.protocol = frm.protocol
    to.dst = frm.dst
    to.dev = frm.dev
    to.tstamp = frm.tstamp


# -- __ip_queue_xmit (TCP) ------------------------------------------------------------------


@traced
def ip_queue_xmit(sk: Sock, skb: SkBuff, tos: int = 0) -> int:
    return __ip_queue_xmit(sk, skb, tos)


@traced
def __ip_queue_xmit(sk: Sock, skb: SkBuff, tos: int = 0) -> int:
    """Route (cached dst or a lookup + sk_setup_caps), push and fill the IP header, ip_local_out."""
    host = sk.host
    rt = skb.dst
    if rt is None:
        rt = __sk_dst_check(sk, 0)
        if rt is None:
            try:
                rt = ip_route_output_ports(host, sk, sk.inet_daddr, sk.inet_saddr, sk.inet_dport, sk.inet_sport, IPPROTO_TCP)
            except OSError:
                host.snmp_inc("Ip", "OutNoRoutes")
                kfree_skb(skb, "ip_outnoroutes")
                return -errno.EHOSTUNREACH
            sk_setup_caps(sk, rt)
        skb.dst = rt
    off = skb.skb_push(IPHDR_LEN)
    skb.network_header = off
    df = ip_dont_fragment(sk, rt) and not skb.ignore_df
    segs = skb.shinfo.gso_segs or 1
    saddr = sk.inet_saddr or rt.rt_src
    ident = ip_select_ident_segs(host, sk, df, skb.ignore_df, segs, sk.inet_daddr, saddr, sk.sk_protocol)
    _write_iphdr(skb, off, tos & 0xFF, ident, IP_DF if df else 0, IPDEFTTL, sk.sk_protocol, saddr, sk.inet_daddr)
    skb.priority = sk.sk_priority
    return ip_local_out(host, sk, skb)


# -- local out / output ---------------------------------------------------------------------


@traced
def ip_local_out(host: Host, sk: Sock | None, skb: SkBuff) -> int:
    """__ip_local_out: tot_len and the header checksum (software), then dst_output."""
    off = skb.network_header
    raw = bytearray(skb.read_at(off, IPHDR_LEN))
    raw[2:4] = skb.len.to_bytes(2, "big")
    raw[10:12] = b"\0\0"
    raw[10:12] = ip_fast_csum(bytes(raw)).to_bytes(2, "big")
    skb.write_at(off, raw)
    skb.protocol = ETH_P_IP
    host.snmp_inc("Ip", "OutRequests")
    return ip_output(host, sk, skb)


@traced
def ip_output(host: Host, sk: Sock | None, skb: SkBuff) -> int:
    k = host.kernel
    k.charge(k.cost.ip_output)  # ip_queue_xmit/ip_make_skb .. ip_finish_output2
    skb.dev = skb.dst.dev
    skb.protocol = ETH_P_IP
    return ip_finish_output(host, sk, skb)


def ip_finish_output(host: Host, sk: Sock | None, skb: SkBuff) -> int:
    return __ip_finish_output(host, sk, skb)


@traced
def __ip_finish_output(host: Host, sk: Sock | None, skb: SkBuff) -> int:
    mtu = ip_skb_dst_mtu(sk, skb)
    if skb.shinfo.gso_size:
        return ip_finish_output_gso(host, sk, skb, mtu)
    if skb.len > mtu:
        return ip_fragment(host, sk, skb, mtu, ip_finish_output2)
    return ip_finish_output2(host, sk, skb)


def skb_gso_validate_network_len(skb: SkBuff, mtu: int) -> bool:
    """Does every segment (network header + transport header + gso_size) fit in `mtu`?"""
    th = skb.transport_header
    if th < 0:
        return False
    thlen = (skb.read_at(th + 12, 1)[0] >> 4) * 4 if skb.shinfo.gso_type & 1 else 8  # TCP doff, else UDP
    return (th - skb.network_header) + thlen + skb.shinfo.gso_size <= mtu


@traced
def ip_finish_output_gso(host: Host, sk: Sock | None, skb: SkBuff, mtu: int) -> int:
    """Common case: all segments fit → one skb to the device. Else segment here and fragment each."""
    if skb_gso_validate_network_len(skb, mtu):
        return ip_finish_output2(host, sk, skb)
    features = skb.dst.dev.features & ~(NETIF_F_TSO | NETIF_F_GSO_SOFTWARE)
    try:
        segs = skb_gso_segment(skb, features)
    except OSError as err:
        kfree_skb(skb, "gso_segment_failed")
        return -(err.errno or errno.EINVAL)
    if not segs:
        kfree_skb(skb, "gso_segment_failed")
        return -errno.ENOMEM
    dst = skb.dst
    consume_skb(skb)
    seglist = list(segs) if isinstance(segs, (list, tuple)) else _walk_list(segs)
    ret = 0
    for seg in seglist:
        seg.next = None
        if seg.dst is None:
            seg.dst = dst
        rc = ip_fragment(host, sk, seg, mtu, ip_finish_output2)
        if rc and ret == 0:
            ret = rc
    return ret


def _walk_list(skb: SkBuff | None) -> list[SkBuff]:
    out = []
    while skb is not None:
        out.append(skb)
        skb = skb.next
    return out


# -- fragmentation ------------------------------------------------------------------------


@traced
def ip_fragment(host: Host, sk: Sock | None, skb: SkBuff, mtu: int, output: Callable[[Host, Sock | None, SkBuff], int]) -> int:
    """DF clear (or ignore_df) → ip_do_fragment; DF set → FragFails, ICMP FRAG_NEEDED, -EMSGSIZE."""
    frag_off = int.from_bytes(skb.read_at(skb.network_header + 6, 2), "big")
    if not frag_off & IP_DF:
        return ip_do_fragment(host, sk, skb, output)
    if not skb.ignore_df:
        host.snmp_inc("Ip", "FragFails")
        ip_icmp.icmp_send(host, skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu)
        kfree_skb(skb, "pkt_too_big")
        return -errno.EMSGSIZE
    return ip_do_fragment(host, sk, skb, output)


def skb_pagelen(skb: SkBuff) -> int:
    return skb.headlen + sum(f.size for f in skb.shinfo.frags)


@traced
def ip_do_fragment(host: Host, sk: Sock | None, skb: SkBuff, output: Callable[[Host, Sock | None, SkBuff], int]) -> int:
    """Split a datagram: reuse a valid frag_list (headers only), else copy into new skbs."""
    if skb.ip_summed == CHECKSUM_PARTIAL:
        skb_checksum_help(skb)
    nh = skb.network_header
    hdr = skb.read_at(nh, IPHDR_LEN)
    hlen = (hdr[0] & 0xF) * 4
    mtu = ip_skb_dst_mtu(sk, skb) - hlen  # data space per fragment
    ll_rs = LL_RESERVED_SPACE(skb.dst.dev)
    frag_off0 = int.from_bytes(hdr[6:8], "big")

    fl = skb.shinfo.frag_list
    if fl is not None:
        first_len = skb_pagelen(skb)
        ok = not (first_len - hlen > mtu or (first_len - hlen) & 7 or frag_off0 & (IP_MF | IP_OFFSET)
                  or skb.skb_cloned() or skb.data < ll_rs)
        checked: list[SkBuff] = []
        if ok:
            frag: SkBuff | None = fl
            while frag is not None:
                if (frag.len > mtu or (frag.len & 7 and frag.next is not None) or frag.data < hlen + ll_rs
                        or frag.users > 1):
                    ok = False
                    break
                if skb.sk is not None:
                    frag.sk = skb.sk
                    frag.destructor = sock_wfree
                skb.truesize -= frag.truesize
                checked.append(frag)
                frag = frag.next
            if not ok:  # slow_path_clean: undo the ownership transfer
                for f in checked:
                    f.sk = None
                    f.destructor = None
                    skb.truesize += f.truesize
        if ok:
            return _ip_do_fragment_fast(host, sk, skb, output, hlen, first_len)
    return _ip_do_fragment_slow(host, sk, skb, output, hlen, mtu, ll_rs, frag_off0)


def _ip_do_fragment_fast(
    host: Host, sk: Sock | None, skb: SkBuff, output: Callable[[Host, Sock | None, SkBuff], int], hlen: int, first_len: int
) -> int:
    # ip_fraglist_init
    frag = skb.shinfo.frag_list
    skb.shinfo.frag_list = None
    skb.data_len = first_len - skb.headlen
    skb.len = first_len
    hdr = bytearray(skb.read_at(skb.network_header, hlen))
    _set_len_off_csum(hdr, first_len, IP_MF)
    skb.write_at(skb.network_header, hdr)
    offset = 0
    err = 0
    while True:
        if frag is not None:  # ip_fraglist_prepare: header of the next before this one leaves
            frag.ip_summed = CHECKSUM_NONE
            frag.transport_header = frag.data
            frag.skb_push(hlen)
            frag.network_header = frag.data
            ip_copy_metadata(frag, skb)
            offset += skb.len - hlen
            _set_len_off_csum(hdr, frag.len, (offset >> 3) | (IP_MF if frag.next is not None else 0))
            frag.write_at(frag.network_header, hdr)
        err = output(host, sk, skb)
        if not err:
            host.snmp_inc("Ip", "FragCreates")
        if err or frag is None:
            break
        skb, frag = frag, frag.next
        skb.next = None
    if err == 0:
        host.snmp_inc("Ip", "FragOKs")
        return 0
    while frag is not None:  # kfree_skb_list(iter.frag)
        nxt = frag.next
        frag.next = None
        kfree_skb(frag, "frag_abort")
        frag = nxt
    host.snmp_inc("Ip", "FragFails")
    return err


def _set_len_off_csum(hdr: bytearray, tot_len: int, frag_off: int) -> None:
    hdr[2:4] = tot_len.to_bytes(2, "big")
    hdr[6:8] = frag_off.to_bytes(2, "big")
    hdr[10:12] = b"\0\0"
    hdr[10:12] = ip_fast_csum(bytes(hdr[:20])).to_bytes(2, "big")


def _ip_do_fragment_slow(
    host: Host,
    sk: Sock | None,
    skb: SkBuff,
    output: Callable[[Host, Sock | None, SkBuff], int],
    hlen: int,
    mtu: int,
    ll_rs: int,
    frag_off0: int,
) -> int:
    whole = skb.to_bytes()
    start = skb.network_header - skb.data
    hdr = bytearray(whole[start : start + hlen])
    left = len(whole) - start - hlen
    ptr = start + hlen
    offset = (frag_off0 & IP_OFFSET) << 3
    not_last_frag = frag_off0 & IP_MF
    err = 0
    while left > 0:
        ln = min(left, mtu)
        if ln < left:
            ln &= ~7
        skb2 = ip_frag_next(skb, hdr, whole, ptr, ln, hlen, ll_rs,
                            (offset >> 3) | (IP_MF if left - ln > 0 or not_last_frag else 0))
        left -= ln
        ptr += ln
        offset += ln
        err = output(host, sk, skb2)
        if err:
            kfree_skb(skb, "frag_fail")
            host.snmp_inc("Ip", "FragFails")
            return err
        host.snmp_inc("Ip", "FragCreates")
    consume_skb(skb)
    host.snmp_inc("Ip", "FragOKs")
    return err


def ip_frag_next(skb: SkBuff, hdr: bytearray, whole: bytes, ptr: int, ln: int, hlen: int, ll_rs: int, frag_off: int) -> SkBuff:
    """A new skb holding a copy of the header and `ln` payload bytes from offset `ptr`."""
    skb2 = alloc_skb(ln + hlen + ll_rs)
    ip_copy_metadata(skb2, skb)
    skb2.skb_reserve(ll_rs)
    off = skb2.skb_put(ln + hlen)
    skb2.network_header = off
    skb2.transport_header = off + hlen
    if skb.sk is not None:
        skb_set_owner_w(skb2, skb.sk)
    _set_len_off_csum(hdr, ln + hlen, frag_off)
    skb2.write_at(off, bytes(hdr) + whole[ptr : ptr + ln])
    skb_stats.frag_skbs += 1
    skb_stats.copy_bytes += ln + hlen
    return skb2


# -- neighbour output ---------------------------------------------------------------------


def _skb_expand_head(skb: SkBuff, headroom: int) -> SkBuff:
    """Reallocate with enough headroom (a copy; the old skb is consumed)."""
    data = skb.to_bytes()
    n = alloc_skb(headroom + len(data))
    n.skb_reserve(headroom)
    n.skb_put_data(data)
    shift = n.data - skb.data
    for name in ("network_header", "transport_header", "mac_header"):
        v = getattr(skb, name)
        setattr(n, name, v + shift if v >= 0 else v)
    ip_copy_metadata(n, skb)
    n.ignore_df = skb.ignore_df
    if skb.sk is not None:
        skb_set_owner_w(n, skb.sk)
    skb_stats.copy_bytes += len(data)
    consume_skb(skb)
    return n


@traced
def ip_finish_output2(host: Host, sk: Sock | None, skb: SkBuff) -> int:
    """Link-layer headroom, neighbour lookup for the next hop, neigh_output."""
    rt = skb.dst
    dev = rt.dev
    host.snmp_inc("Ip", "OutTransmits")
    if rt.rt_type == RTN_LOCAL:
        return dev.netdev_ops.ndo_start_xmit(skb, dev)  # lo: loopback_xmit
    hh_len = LL_RESERVED_SPACE(dev)
    if skb.data < hh_len:
        skb = _skb_expand_head(skb, hh_len)
    nexthop = rt.rt_gw4 or int.from_bytes(skb.read_at(skb.network_header + 16, 4), "big")
    neigh = ip_neigh_gw4(host, dev, nexthop)
    return neigh_output(neigh, skb)


@traced
def ip_send_skb(host: Host, skb: SkBuff) -> int:
    """ip_local_out for a datagram made by ip_make_skb; qdisc drops become -ENOBUFS."""
    err = ip_local_out(host, skb.sk, skb)
    if err:
        if err > 0:
            err = 0 if err == NET_XMIT_CN else -errno.ENOBUFS
        if err:
            host.snmp_inc("Ip", "OutDiscards")
    return err


@traced
def ip_send_unicast_reply(host: Host, saddr: int, daddr: int, tos: int, protocol: int, transport: bytes,
                          priority: int = 0) -> int:
    """Send a reply no full socket owns (TCP's RST, and its ACKs from TIME_WAIT) through the
    per-netns control socket: the transport header and payload come ready (checksum filled,
    CHECKSUM_NONE); the control socket's pmtudisc is IP_PMTUDISC_DO, so the packet has DF and,
    not being connected, IP ID 0 (ip_select_ident); TTL is net.ipv4.ip_default_ttl."""
    try:
        rt = ip_route_output(host, daddr, saddr)
    except OSError:
        host.snmp_inc("Ip", "OutNoRoutes")
        return -errno.ENETUNREACH
    hh = LL_RESERVED_SPACE(rt.dev)
    skb = alloc_skb(hh + IPHDR_LEN + len(transport))
    skb.skb_reserve(hh)
    off = skb.skb_put(IPHDR_LEN + len(transport))
    skb.network_header = off
    skb.transport_header = off + IPHDR_LEN
    ident = ip_select_ident_segs(host, None, True, False, 1, daddr, saddr, protocol)
    ttl = getattr(host.sysctl, "ip_default_ttl", IPDEFTTL)
    _write_iphdr(skb, off, tos & 0xFF, ident, IP_DF, ttl, protocol, saddr or rt.rt_src, daddr)
    skb.write_at(off + IPHDR_LEN, transport)
    skb.ip_summed = CHECKSUM_NONE
    skb.dst = rt
    skb.priority = priority
    return ip_local_out(host, None, skb)
