"""The device layer (net/core/dev.c, Linux 6.9): the transmit entry and receive dispatch.

`dev_queue_xmit` runs with bottom halves disabled (rcu_read_lock_bh), so a NET_TX raised
inside (quota, requeue, wake) runs at the closing local_bh_enable. It picks the TX queue,
then either hands the skb to the qdisc (`__dev_xmit_skb`: bypass when the qdisc is empty,
else enqueue and run) or, for a queueless device, straight to the driver.
`validate_xmit_skb` makes the skb fit the device: software GSO when the device cannot
segment this gso_type, linearize without SG, finish CHECKSUM_PARTIAL without checksum
offload. `dev_hard_start_xmit` passes each skb of a list with `xmit_more` = "another
follows" so drivers can ring the doorbell once per list. The qdisc (net/sched, above
net/core) is reached through q.enqueue and include/net/pkt_sched.py.

Receive: `netif_receive_skb` hands the skb to the handler its ethertype registered in
`ptype_base` (dev_add_pack: ip_rcv, arp_rcv from inet_init).

Not modelled: XPS and cgroup priority maps, packet taps (dev_queue_xmit_nit), VLAN
insertion, XFRM offload; queue selection hashes the IPv4 4-tuple with CRC-32 where Linux
uses the flow dissector's jhash (CRC-32 plus a multiplicative mix here) (only matters with several TX queues).
"""

from __future__ import annotations

import errno
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hilnic.include.net import pkt_sched
from hilnic.include.net.ip import IP_DF
from hilnic.include.net.sch_generic import TCQ_F_CAN_BYPASS
from hilnic.include.trace.events.net import trace_net_dev_xmit
from hilnic.kernel.ftrace import traced
from hilnic.kernel.softirq import NET_TX_SOFTIRQ
from hilnic.net.core.gso import skb_gso_segment
from hilnic.net.core.netdev_features import NETIF_F_GSO_SHIFT
from hilnic.net.core.netdevice import (
    IFF_UP,
    NET_XMIT_MASK,
    NET_XMIT_SUCCESS,
    NETDEV_TX_BUSY,
    NETDEV_TX_OK,
    NETIF_F_CSUM_MASK,
    NETIF_F_FRAGLIST,
    NETIF_F_GSO_MASK,
    NETIF_F_HW_CSUM,
    NETIF_F_IP_CSUM,
    NETIF_F_IPV6_CSUM,
    NETIF_F_SG,
    NETIF_F_TSO_MANGLEID,
    QUEUE_STATE_ANY_XOFF,
    QUEUE_STATE_DRV_XOFF,
    NetDevice,
    NetdevQueue,
    can_checksum_protocol,
    dev_xmit_complete,
    softnet_xmit,
)
from hilnic.net.core.skbuff import (
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    CHECKSUM_UNNECESSARY,
    SKB_GSO_TCPV4,
    SkBuff,
    consume_skb,
    kfree_skb,
    skb_checksum_help,
    skb_linearize,
)

SKB_GSO_TCPV6 = 1 << 4
XMIT_RECURSION_LIMIT = 8


def kfree_skb_list(skb: SkBuff | None) -> None:
    while skb is not None:
        nxt = skb.next
        skb.next = None
        kfree_skb(skb)
        skb = nxt


# -- features ------------------------------------------------------------------------------------


def _network_protocol(skb: SkBuff) -> int:
    """skb_network_protocol: skb->protocol, or the Ethernet type when it was not set."""
    if skb.protocol:
        return skb.protocol
    if skb.mac_header >= 0 and skb.network_header - skb.mac_header >= 14:
        return int.from_bytes(skb.read_at(skb.mac_header + 12, 2), "big")
    return 0


def netif_skb_features(skb: SkBuff) -> int:
    """The features this skb may use on skb->dev (gso_features_check + harmonize_features)."""
    dev = skb.dev
    features = dev.features
    sh = skb.shinfo
    if sh.gso_size:
        if sh.gso_segs > dev.gso_max_segs or skb.len >= dev.gso_max_size or not sh.gso_type:
            features &= ~NETIF_F_GSO_MASK
        else:
            features &= ~dev.gso_partial_features
            if sh.gso_type & SKB_GSO_TCPV4 and skb.network_header >= 0:
                frag_off = int.from_bytes(skb.read_at(skb.network_header + 6, 2), "big")
                if not frag_off & IP_DF:
                    features &= ~NETIF_F_TSO_MANGLEID
    if skb.ip_summed != CHECKSUM_NONE and not can_checksum_protocol(features, _network_protocol(skb)):
        features &= ~(NETIF_F_CSUM_MASK | NETIF_F_GSO_MASK)
    return features


def skb_gso_ok(skb: SkBuff, features: int) -> bool:
    """net_gso_ok for the skb's gso_type, and frag_list support if it has one."""
    feature = skb.shinfo.gso_type << NETIF_F_GSO_SHIFT
    return (features & feature) == feature and (skb.shinfo.frag_list is None or bool(features & NETIF_F_FRAGLIST))


def netif_needs_gso(skb: SkBuff, features: int) -> bool:
    return bool(skb.shinfo.gso_size) and (
        not skb_gso_ok(skb, features) or skb.ip_summed not in (CHECKSUM_PARTIAL, CHECKSUM_UNNECESSARY)
    )


def skb_needs_linearize(skb: SkBuff, features: int) -> bool:
    sh = skb.shinfo
    return bool(skb.data_len) and (
        (sh.frag_list is not None and not features & NETIF_F_FRAGLIST) or (bool(sh.frags) and not features & NETIF_F_SG)
    )


def skb_csum_hwoffload_help(skb: SkBuff, features: int) -> int:
    if features & NETIF_F_HW_CSUM:
        return 0
    if features & (NETIF_F_IP_CSUM | NETIF_F_IPV6_CSUM) and skb.csum_offset in (16, 6):
        return 0  # offsetof(tcphdr, check) / offsetof(udphdr, check)
    return skb_checksum_help(skb)


# -- validate --------------------------------------------------------------------------------------


@traced
def validate_xmit_skb(skb: SkBuff, dev: NetDevice) -> SkBuff | None:
    """Make `skb` fit the device; returns the skb, a GSO segment list, or None (dropped)."""
    features = netif_skb_features(skb)
    try:
        if netif_needs_gso(skb, features):
            segs = skb_gso_segment(skb, features)
            if segs is not None:
                consume_skb(skb)
                skb = segs
        else:
            if skb_needs_linearize(skb, features):
                skb_linearize(skb)
            if skb.ip_summed == CHECKSUM_PARTIAL:
                skb.transport_header = skb.csum_start
                if skb_csum_hwoffload_help(skb, features):
                    raise OSError(errno.EINVAL, "checksum help failed")
    except (OSError, MemoryError):
        kfree_skb(skb)
        dev.core_stats.tx_dropped += 1
        return None
    return skb


def validate_xmit_skb_list(skb: SkBuff | None, dev: NetDevice) -> SkBuff | None:
    head: SkBuff | None = None
    tail: Any = None  # set together with head
    while skb is not None:
        nxt = skb.next
        skb.next = None
        skb = validate_xmit_skb(skb, dev)
        if skb is not None:
            if head is None:
                head = skb
            else:
                tail.next = skb
            tail = skb
            while tail.next is not None:  # a segment list: continue from its last skb
                tail = tail.next
        skb = nxt
    return head


# -- driver hand-off ---------------------------------------------------------------------------


@traced
def xmit_one(skb: SkBuff, dev: NetDevice, txq: NetdevQueue, more: bool) -> int:
    """netdev_start_xmit: set softnet xmit.more, call the driver, stamp trans_start on OK."""
    softnet_xmit.more = more
    length = skb.len
    rc = dev.netdev_ops.ndo_start_xmit(skb, dev)  # type: ignore[misc]  # set by every driver
    if rc == NETDEV_TX_OK:
        txq.trans_start = dev.kernel.jiffies  # txq_trans_update
    trace_net_dev_xmit(skb, rc, dev, length)
    return rc


@traced
def dev_hard_start_xmit(first: SkBuff, dev: NetDevice, txq: NetdevQueue) -> tuple[SkBuff | None, int]:
    """Hand a list to the driver. Returns (what is left, rc): BUSY if the driver refused an
    skb or stopped the queue with skbs still to go."""
    skb: SkBuff | None = first
    rc = NETDEV_TX_OK
    while skb is not None:
        nxt = skb.next
        skb.next = None
        rc = xmit_one(skb, dev, txq, nxt is not None)
        if not rc < NET_XMIT_MASK:  # !dev_xmit_complete
            skb.next = nxt
            break
        skb = nxt
        if skb is not None and txq.state & QUEUE_STATE_DRV_XOFF:
            rc = NETDEV_TX_BUSY
            break
    return skb, rc


# -- queue selection and entry ---------------------------------------------------------------


def skb_tx_hash(dev: NetDevice, skb: SkBuff) -> int:
    nh = skb.network_header
    key = skb.read_at(nh + 12, 12) if nh >= 0 and skb.headlen >= nh - skb.data + 24 else struct.pack("<Q", id(skb.sk))
    h = (zlib.crc32(key) * 0x9E3779B1) & 0xFFFF_FFFF  # CRC is linear: mix before taking top bits
    return (h * dev.real_num_tx_queues) >> 32  # reciprocal_scale


def netdev_core_pick_tx(dev: NetDevice, skb: SkBuff) -> NetdevQueue:
    queue_index = 0
    if dev.real_num_tx_queues != 1:
        ops = dev.netdev_ops
        if ops.ndo_select_queue is not None:
            queue_index = ops.ndo_select_queue(dev, skb, None)
        else:
            sk = skb.sk
            cached = getattr(sk, "sk_tx_queue_mapping", -1) if sk is not None else -1
            if 0 <= cached < dev.real_num_tx_queues:
                queue_index = cached
            else:
                queue_index = skb_tx_hash(dev, skb)
                if sk is not None:
                    try:
                        sk.sk_tx_queue_mapping = queue_index
                    except AttributeError:
                        pass
        if not 0 <= queue_index < dev.real_num_tx_queues:
            queue_index = 0  # netdev_cap_txqueue
    skb.queue_mapping = queue_index
    return dev._tx[queue_index]


def qdisc_pkt_len_init(skb: SkBuff) -> None:
    """pkt_len = len + (gso_segs - 1) * (L2+L3+L4 header length) for GSO skbs."""
    sh = skb.shinfo
    pkt_len = skb.len
    if sh.gso_size and skb.transport_header >= 0:
        hdr_len = skb.transport_header - skb.data
        if sh.gso_type & (SKB_GSO_TCPV4 | SKB_GSO_TCPV6):
            hdr_len += (skb.read_at(skb.transport_header + 12, 1)[0] >> 4) * 4  # __tcp_hdrlen
        pkt_len += (sh.gso_segs - 1) * hdr_len
    skb.cb["qdisc_pkt_len"] = pkt_len


@traced
def dev_queue_xmit(skb: SkBuff) -> int:
    """Queue a fully built frame for transmission on skb.dev.

    Returns NET_XMIT_SUCCESS, NET_XMIT_DROP (qdisc full), NET_XMIT_CN, or a negative errno.
    The skb is consumed in every case."""
    dev = skb.dev
    if dev is None:
        raise OSError(errno.ENODEV, "dev_queue_xmit: skb.dev is not set")
    kernel = dev.kernel
    kernel.charge(kernel.cost.dev_queue_xmit)
    kernel.local_bh_disable()
    try:
        return __dev_queue_xmit(skb, dev)
    finally:
        kernel.local_bh_enable()


def __dev_queue_xmit(skb: SkBuff, dev: NetDevice) -> int:
    skb.mac_header = skb.data  # skb_reset_mac_header
    qdisc_pkt_len_init(skb)
    txq = netdev_core_pick_tx(dev, skb)
    q = txq.qdisc
    if q.enqueue is not None:
        return __dev_xmit_skb(skb, q, dev, txq)

    # No queue (noqueue / virtual devices): straight to the driver.
    if dev.flags & IFF_UP:
        if softnet_xmit.recursion <= XMIT_RECURSION_LIMIT:
            segs = validate_xmit_skb(skb, dev)
            if segs is None:
                return -errno.ENOMEM  # dropped (and counted) in validate; rc keeps its initial value
            skb = segs
            if not txq.state & QUEUE_STATE_ANY_XOFF:
                softnet_xmit.recursion += 1
                try:
                    skb, rc = dev_hard_start_xmit(skb, dev, txq)
                finally:
                    softnet_xmit.recursion -= 1
                if dev_xmit_complete(rc):
                    return rc
    dev.core_stats.tx_dropped += 1
    kfree_skb_list(skb)
    return -errno.ENETDOWN


@traced
def __dev_xmit_skb(skb: SkBuff, q: Any, dev: NetDevice, txq: NetdevQueue) -> int:
    """q is a net/sched Qdisc (above net/core): reached through its enqueue and pkt_sched."""
    to_free: list[SkBuff] = []
    sch = pkt_sched
    if q.flags & TCQ_F_CAN_BYPASS and not q.qstats.qlen and sch.qdisc_run_begin(q):
        # Work-conserving and idle: no older skb can be overtaken, send it directly.
        sch.qdisc_bstats_update(q, skb)
        if sch.sch_direct_xmit(skb, q, dev, txq, True) and q.qstats.qlen:
            sch.__qdisc_run(q)
        sch.qdisc_run_end(q)
        return NET_XMIT_SUCCESS
    rc = q.enqueue(skb, to_free) & NET_XMIT_MASK
    sch.qdisc_run(q)
    for s in to_free:
        kfree_skb(s)
    return rc


# -- freeing from IRQ context --------------------------------------------------------------------


def dev_kfree_skb_irq(skb: SkBuff | None) -> None:
    """Free from hard-IRQ context: defer to NET_TX's completion_queue."""
    if skb is None:
        return
    if skb.users > 1:
        skb.users -= 1
        return
    kernel = skb.dev.kernel if skb.dev is not None else None
    if kernel is None:
        kfree_skb(skb)
        return
    kernel.softnet.completion_queue.append(skb)
    kernel.raise_softirq(NET_TX_SOFTIRQ)


def dev_kfree_skb_any(skb: SkBuff | None) -> None:
    if skb is None:
        return
    kernel = skb.dev.kernel if skb.dev is not None else None
    if kernel is not None and kernel.context == "hardirq":
        dev_kfree_skb_irq(skb)
    else:
        kfree_skb(skb)



# -- receive: the packet-type table and netif_receive_skb -------------------------------------------


@dataclass(slots=True)
class PacketType:
    """struct packet_type: an ethertype and its handler (ip_rcv, arp_rcv), registered by the protocol."""

    type: int
    func: Callable[[SkBuff, Any], int]  # (skb, dev: the receiving device) -> NET_RX_*


ptype_base: dict[int, PacketType] = {}  # one handler per ethertype (no taps, no per-device entries)


def dev_add_pack(pt: PacketType) -> None:
    ptype_base[pt.type] = pt


@traced
def netif_receive_skb(skb: SkBuff) -> int:
    return __netif_receive_skb(skb)


def __netif_receive_skb(skb: SkBuff) -> int:
    """Deliver by ethertype through ptype_base; an unknown type is dropped (rx_nohandler)."""
    dev = skb.dev
    if skb.network_header < 0 or skb.network_header != skb.data:
        skb.network_header = skb.data
    pt = ptype_base.get(skb.protocol)
    if pt is not None:
        return pt.func(skb, dev)
    if hasattr(dev, "rx_nohandler"):
        dev.rx_nohandler += 1
    kfree_skb(skb, "unhandled_proto")
    return 0


__all__ = [
    "PacketType",
    "__dev_xmit_skb",
    "dev_add_pack",
    "dev_hard_start_xmit",
    "dev_kfree_skb_any",
    "dev_kfree_skb_irq",
    "dev_queue_xmit",
    "netdev_core_pick_tx",
    "netif_receive_skb",
    "netif_skb_features",
    "qdisc_pkt_len_init",
    "validate_xmit_skb",
    "validate_xmit_skb_list",
    "xmit_one",
]
