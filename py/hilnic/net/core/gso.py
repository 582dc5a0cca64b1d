"""Software GSO for TCP over IPv4: skb_gso_segment → inet_gso_segment → tcp4_gso_segment →
tcp_gso_segment → skb_segment (net/core/gso.c, net/ipv4/af_inet.c, tcp_offload.c, skbuff.c).

A GSO skb (headers in the linear area, payload mostly in page frags) becomes a list of
MSS-sized skbs linked by `next`. Each segment gets a private copy of the L2–L4 headers
(counted in skb_stats.copy_bytes, one skb in skb_stats.frag_skbs) and references the same
pages for its payload (page refcount, no payload copy) when the device does SG. Per segment
the IPv4 id (+1 each unless FIXEDID), tot_len and header checksum are rewritten, the TCP
sequence number advances by MSS, FIN/PSH stay only on the last segment and CWR only on the
first. With checksum offload the TCP checksum field holds the pseudo-header sum for the
segment's length (CHECKSUM_PARTIAL); without, the full checksum is computed here and the
segment is CHECKSUM_NONE.

Socket accounting follows tcp_gso_segment: when the GSO skb is owned by tcp_wfree, every
segment gets the same destructor and socket, the original loses them, and sk_wmem_alloc is
adjusted by (sum of segment truesizes − original truesize), so TCP Small Queues sees the
memory until the last segment completes.

Not modelled: GSO_PARTIAL, tunnels, frag_list GSO skbs (rejected with EINVAL), UDP/IPv6 GSO
(EPROTONOSUPPORT), SKBFL_SHARED_FRAG linearization.
"""

from __future__ import annotations

import errno
import struct
from typing import Any

from hilnic.include.net.ip import IP_DF
from hilnic.include.uapi.linux.if_ether import ETH_P_IP
from hilnic.include.uapi.linux.in_ import IPPROTO_TCP
from hilnic.kernel.ftrace import traced
from hilnic.lib.checksum import csum_fold, csum_partial
from hilnic.net.core.netdev_features import NETIF_F_GSO_ROBUST, NETIF_F_GSO_SHIFT
from hilnic.net.core.netdevice import NETIF_F_FRAGLIST, NETIF_F_SG, can_checksum_protocol
from hilnic.net.core.skbuff import (
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    MAX_SKB_FRAGS,
    SKB_GSO_TCPV4,
    SkbFrag,
    SkBuff,
    _copy_header_fields_keep_geometry,
    alloc_skb,
    host_mem,
    kfree_skb,
    skb_stats,
)

SKB_GSO_TCP_FIXEDID = 1 << 3
TCP_FLAG_FIN = 0x01
TCP_FLAG_PSH = 0x08
TCP_FLAG_CWR = 0x80

_H = struct.Struct("!H")
_I = struct.Struct("!I")


def _name(fn: object) -> str:
    return getattr(fn, "__name__", "")


@traced
def skb_gso_segment(skb: SkBuff, features: int) -> SkBuff | None:
    """Segment a TCPv4 GSO skb for a device with `features`.

    Returns the first segment (the rest follow via `next`), or None when the device can take
    the skb as it is (NETIF_F_GSO_ROBUST path). Raises OSError(EINVAL/EPROTONOSUPPORT) for
    skbs that cannot be segmented; the caller drops them."""
    # __skb_gso_segment: the MAC header starts at data (at the device layer the Ethernet
    # header; from ip_finish_output_gso there is none and mac_len is 0).
    mac = skb.data
    skb.mac_header = mac
    nh = skb.network_header
    if nh < mac:
        raise OSError(errno.EINVAL, "skb_gso_segment: network header not set")
    proto = skb.protocol
    if not proto:
        if nh - mac < 14:
            raise OSError(errno.EINVAL, "skb_gso_segment: skb->protocol not set")
        proto = int.from_bytes(skb.read_at(mac + 12, 2), "big")
    if proto != ETH_P_IP:
        raise OSError(errno.EPROTONOSUPPORT, f"skb_gso_segment: no GSO for ethertype {proto:#06x}")
    return inet_gso_segment(skb, features)


def inet_gso_segment(skb: SkBuff, features: int) -> SkBuff | None:
    mac = skb.data
    nhoff = skb.network_header - mac
    headlen = skb.headlen
    if nhoff + 20 > headlen:
        raise OSError(errno.EINVAL, "inet_gso_segment: IPv4 header not in the linear area")
    iph = skb.read_at(skb.network_header, 20)
    ihl = (iph[0] & 0x0F) * 4
    if ihl < 20:
        raise OSError(errno.EINVAL, "inet_gso_segment: bad IHL")
    frag_off = _H.unpack_from(iph, 6)[0]
    gso_type = skb.shinfo.gso_type
    fixedid = bool(gso_type & SKB_GSO_TCP_FIXEDID)
    if fixedid and not frag_off & IP_DF:
        raise OSError(errno.EINVAL, "inet_gso_segment: fixed IP id without DF")
    if iph[9] != IPPROTO_TCP:
        raise OSError(errno.EPROTONOSUPPORT, f"inet_gso_segment: no GSO for IP protocol {iph[9]}")
    segs = tcp4_gso_segment(skb, features, nhoff, ihl)
    if segs is None:
        return None
    # Per segment: IP id (+1 each), tot_len and header checksum (ip_send_check). Done in
    # tcp4_gso_segment's header patching pass to write each header once; see _patch().
    return segs


def tcp4_gso_segment(skb: SkBuff, features: int, nhoff: int, ihl: int) -> SkBuff | None:
    if not skb.shinfo.gso_type & SKB_GSO_TCPV4:
        raise OSError(errno.EINVAL, "tcp4_gso_segment: not SKB_GSO_TCPV4")
    return tcp_gso_segment(skb, features, nhoff, ihl)


def tcp_gso_segment(skb: SkBuff, features: int, nhoff: int, ihl: int) -> SkBuff | None:
    mac = skb.data
    thoff = nhoff + ihl  # transport header, from the MAC header
    headlen = skb.headlen
    if thoff + 20 > headlen:
        raise OSError(errno.EINVAL, "tcp_gso_segment: TCP header not in the linear area")
    thlen = (skb.read_at(mac + thoff + 12, 1)[0] >> 4) * 4
    if thlen < 20 or thoff + thlen > headlen:
        raise OSError(errno.EINVAL, "tcp_gso_segment: bad TCP data offset")
    if skb.ip_summed == CHECKSUM_PARTIAL and skb.csum_start != mac + thoff:
        raise OSError(errno.EINVAL, "tcp_gso_segment: csum_start is not the TCP header")
    doffset = thoff + thlen
    mss = skb.shinfo.gso_size
    payload_len = skb.len - doffset
    if payload_len <= mss:
        raise OSError(errno.EINVAL, f"tcp_gso_segment: {payload_len} bytes do not exceed gso_size {mss}")
    if _gso_ok(skb, features | NETIF_F_GSO_ROBUST):
        # The device segments it after all (untrusted source): only fix gso_segs.
        skb.shinfo.gso_segs = -(-payload_len // mss)
        return None
    if skb.shinfo.frag_list is not None:
        raise OSError(errno.EINVAL, "skb_segment: frag_list GSO skbs are not modelled")

    sg = bool(features & NETIF_F_SG)
    csum = can_checksum_protocol(features, ETH_P_IP)
    hdr = skb.read_at(mac, doffset)
    segs, linear = skb_segment(skb, doffset, payload_len, mss, sg, csum)
    _patch_headers(segs, linear, hdr, nhoff, thoff, thlen, mss, skb.shinfo.gso_type, csum)

    # tcp_gso_segment: hand the socket charge to the segments.
    gso_skb = skb
    if _name(gso_skb.destructor) == "tcp_wfree":
        sum_truesize = 0
        seg = segs
        while seg.next is not None:
            seg.destructor = gso_skb.destructor
            seg.sk = gso_skb.sk
            sum_truesize += seg.truesize
            seg = seg.next
        seg.sk, gso_skb.sk = gso_skb.sk, seg.sk
        seg.destructor, gso_skb.destructor = gso_skb.destructor, seg.destructor
        sum_truesize += seg.truesize
        seg.sk.sk_wmem_alloc += sum_truesize - gso_skb.truesize
    elif _name(gso_skb.destructor) == "sock_wfree":
        # skb_segment: ownership moves to the last segment.
        tail = segs
        while tail.next is not None:
            tail = tail.next
        tail.truesize, gso_skb.truesize = gso_skb.truesize, tail.truesize
        tail.destructor, gso_skb.destructor = gso_skb.destructor, tail.destructor
        tail.sk, gso_skb.sk = gso_skb.sk, tail.sk
    return segs


def _gso_ok(skb: SkBuff, features: int) -> bool:
    feature = skb.shinfo.gso_type << NETIF_F_GSO_SHIFT
    return (features & feature) == feature and (skb.shinfo.frag_list is None or bool(features & NETIF_F_FRAGLIST))


def skb_segment(head: SkBuff, doffset: int, payload_len: int, mss: int, sg: bool, csum: bool) -> tuple[SkBuff, list[bytes]]:
    """Build the segment skbs: header room + payload (frag references with SG, else copied).

    Returns the list head and, per segment, the payload bytes that go in its linear area
    (written together with the patched headers)."""
    headroom = head.data  # room before the MAC header, kept in every segment
    lin = head.headlen - doffset  # payload bytes in the linear area
    lin_data = head.read_at(head.data + doffset, lin) if lin > 0 else b""
    frags = head.shinfo.frags
    fi = 0
    fstart = lin  # payload offset where frags[fi] begins
    segs: SkBuff | None = None
    tail: SkBuff | None = None
    linear: list[bytes] = []
    off = 0
    try:
        while off < payload_len:
            seglen = min(mss, payload_len - off)
            end = off + seglen
            hsize = lin - off
            if hsize < 0:
                hsize = 0
            if hsize > seglen or not sg:
                hsize = seglen
            nskb = alloc_skb(hsize + doffset + headroom)
            nskb.data = nskb.tail = headroom  # skb_reserve
            nskb.tail += doffset + hsize
            nskb.len = doffset + hsize
            if tail is None:
                segs = nskb
            else:
                tail.next = nskb
            tail = nskb
            _copy_header_fields_keep_geometry(nskb, head)  # __copy_skb_header
            nskb.mac_len = head.network_header - head.data

            lin_part = lin_data[off:min(end, lin)] if off < lin else b""
            pos = max(off, lin)  # first payload byte that lives in a frag
            if not sg:
                pieces = [lin_part]  # skb_copy_bits: frag bytes copied into the head
                while pos < end:
                    f = frags[fi]
                    fend = fstart + f.size
                    e = min(end, fend)
                    pieces.append(f.page.read(f.offset + pos - fstart, e - pos))
                    pos = e
                    if fend <= end:
                        fi += 1
                        fstart = fend
                lin_part = b"".join(pieces)
            else:
                nfrags = nskb.shinfo.frags
                while pos < end:
                    f = frags[fi]
                    fend = fstart + f.size
                    e = min(end, fend)
                    if len(nfrags) >= MAX_SKB_FRAGS:
                        raise OSError(errno.EINVAL, "skb_segment: too many frags")
                    f.page.get_page()  # __skb_frag_ref: share the page, copy nothing
                    nfrags.append(SkbFrag(f.page, f.offset + pos - fstart, e - pos))
                    pos = e
                    if fend <= end:
                        fi += 1
                        fstart = fend
                nskb.data_len = seglen - hsize
                nskb.len += nskb.data_len
                nskb.truesize += nskb.data_len
            linear.append(lin_part)
            skb_stats.frag_skbs += 1
            skb_stats.copy_bytes += doffset + hsize
            off = end
    except BaseException:
        while segs is not None:
            nxt = segs.next
            segs.next = None
            kfree_skb(segs)
            segs = nxt
        raise
    assert segs is not None
    if not csum:
        for s in _iter(segs):
            s.ip_summed = CHECKSUM_NONE
    return segs, linear


def _iter(skb: SkBuff | None):
    while skb is not None:
        yield skb
        skb = skb.next


def _patch_headers(
    segs: SkBuff, linear: list[bytes], hdr: bytes, nhoff: int, thoff: int, thlen: int, mss: int, gso_type: int, csum: bool
) -> None:
    """inet_gso_segment + tcp_gso_segment header fix-ups, one write per segment."""
    ip_id = _H.unpack_from(hdr, nhoff + 4)[0]
    fixedid = bool(gso_type & SKB_GSO_TCP_FIXEDID)
    seq = _I.unpack_from(hdr, thoff + 4)[0]
    flags0 = hdr[thoff + 13]
    # pseudo-header without the length: saddr, daddr, protocol
    pseudo_base = csum_partial(hdr[nhoff + 12:nhoff + 20]) + IPPROTO_TCP
    template = bytearray(hdr)
    template[nhoff + 10:nhoff + 12] = b"\0\0"
    first = True
    skb: Any = segs  # one skb per entry of `linear`: never None inside the loop
    # csum_partial of the IP header, inlined below when it takes its short path (an even
    # length under 128 bytes: the header's big-endian value, folded to [1, 0xFFFF]).
    iph_short = not (thoff - nhoff) & 1 and thoff - nhoff < 128
    mem = host_mem()
    for lin_payload in linear:
        last = skb.next is None
        h = bytearray(template)
        seglen = skb.len  # from the MAC header
        payload = skb.len - (thoff + thlen)
        _H.pack_into(h, nhoff + 2, seglen - nhoff)
        if not fixedid:
            _H.pack_into(h, nhoff + 4, ip_id)
            ip_id = (ip_id + 1) & 0xFFFF
        if iph_short:  # ip_send_check: csum_fold(csum_partial(iph)), inlined
            v = int.from_bytes(h[nhoff:thoff], "big")
            _H.pack_into(h, nhoff + 10, ~((v - 1) % 0xFFFF + 1 if v else 0) & 0xFFFF)
        else:
            _H.pack_into(h, nhoff + 10, csum_fold(csum_partial(h[nhoff:thoff])))  # ip_send_check
        _I.pack_into(h, thoff + 4, seq)
        seq = (seq + mss) & 0xFFFF_FFFF
        fl = flags0
        if not last:
            fl &= ~(TCP_FLAG_FIN | TCP_FLAG_PSH)
        if not first:
            fl &= ~TCP_FLAG_CWR
        h[thoff + 13] = fl
        v = pseudo_base + thlen + payload  # csum_partial(b"", v), inlined (v >= 0)
        _H.pack_into(h, thoff + 16, (v - 1) % 0xFFFF + 1 if v else 0)
        if not csum:
            # gso_make_checksum: the whole TCP checksum in software.
            data = bytes(h[thoff:]) + lin_payload + b"".join(f.page.read(f.offset, f.size) for f in skb.shinfo.frags)
            _H.pack_into(h, thoff + 16, csum_fold(csum_partial(data)))
            skb_stats.csum_bytes += len(data)
        h += lin_payload
        if skb.data + len(h) > skb.end:  # skb.write_at(skb.data, h), inlined
            raise IndexError(f"write {skb.data}+{len(h)} outside skb head of {skb.end}")
        mem.write(skb.head.addr + skb.data, h)
        first = False
        skb = skb.next


__all__ = ["inet_gso_segment", "skb_gso_segment", "skb_segment", "tcp4_gso_segment", "tcp_gso_segment"]
