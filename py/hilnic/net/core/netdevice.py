"""struct net_device and struct netdev_queue, and the helpers drivers call on them.

Linux 6.9 include/linux/netdevice.h, the parts of net/core/dev.c drivers call (register/open/
close, features) and netif_carrier_on/off (sch_generic.c). The scheduler itself (net/sched,
above net/core here) is reached through include/net/pkt_sched.py: dev_init_scheduler,
dev_activate/dev_deactivate, __netif_schedule, net_tx_action. Queue state bits, BQL hooks and
`netdev_xmit_more()` follow the kernel: `netif_xmit_stopped` is DRV_XOFF or STACK_XOFF (BQL),
`netif_tx_queue_stopped` is DRV_XOFF only; waking a queue reschedules its qdisc.

Deviations (one CPU, no linkwatch delay): carrier changes activate/deactivate the qdiscs at
once instead of from the linkwatch work item.
"""

from __future__ import annotations

import errno
import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hilnic.include.net import pkt_sched
from hilnic.include.uapi.linux.if_ether import ETH_ALEN, ETH_DATA_LEN, ETH_HLEN, ETH_P_IP, ETH_P_IPV6
from hilnic.kernel.core import HZ, TimerList
from hilnic.kernel.ftrace import traced
from hilnic.kernel.softirq import NET_TX_SOFTIRQ
from hilnic.lib.dynamic_queue_limits import Dql
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.skbuff import SkBuff

# -- return codes (include/linux/netdevice.h) ------------------------------------------------

NET_XMIT_SUCCESS = 0x00
NET_XMIT_DROP = 0x01  # skb dropped
NET_XMIT_CN = 0x02  # congestion notification
NET_XMIT_MASK = 0x0F

NETDEV_TX_OK = 0x00
NETDEV_TX_BUSY = 0x10


def dev_xmit_complete(rc: int) -> bool:
    """True when the driver consumed the skb (OK, a NET_XMIT_* drop, or a negative errno)."""
    return rc < NET_XMIT_MASK




def net_xmit_eval(rc: int) -> int:
    """What TCP treats as an error: CN counts as success."""
    return 0 if rc == NET_XMIT_CN else rc


# -- features: include/linux/netdev_features.h (net/core/netdev_features.py) ----------------------

from hilnic.net.core.netdev_features import (  # noqa: E402  (re-exported: drivers import them from here)
    NETIF_F_ALL_TSO,
    NETIF_F_CSUM_MASK,
    NETIF_F_FRAGLIST,
    NETIF_F_GSO,
    NETIF_F_GSO_MASK,
    NETIF_F_GSO_SOFTWARE,
    NETIF_F_HW_CSUM,
    NETIF_F_IP_CSUM,
    NETIF_F_IPV6_CSUM,
    NETIF_F_SG,
    NETIF_F_SOFT_FEATURES,
    NETIF_F_TSO,
    NETIF_F_TSO6,
    NETIF_F_TSO_ECN,
    NETIF_F_TSO_MANGLEID,
)

# -- device and queue state ------------------------------------------------------------------

IFF_UP = 1 << 0
IFF_BROADCAST = 1 << 1
IFF_LOOPBACK = 1 << 3
IFF_RUNNING = 1 << 6
IFF_NOARP = 1 << 7
IFF_MULTICAST = 1 << 12
IFF_NO_QUEUE = 1 << 21  # priv_flags

__LINK_STATE_START = 0
__LINK_STATE_PRESENT = 1
__LINK_STATE_NOCARRIER = 2

__QUEUE_STATE_DRV_XOFF = 0
__QUEUE_STATE_STACK_XOFF = 1
__QUEUE_STATE_FROZEN = 2
QUEUE_STATE_DRV_XOFF = 1 << __QUEUE_STATE_DRV_XOFF
QUEUE_STATE_STACK_XOFF = 1 << __QUEUE_STATE_STACK_XOFF
QUEUE_STATE_FROZEN = 1 << __QUEUE_STATE_FROZEN
QUEUE_STATE_ANY_XOFF = QUEUE_STATE_DRV_XOFF | QUEUE_STATE_STACK_XOFF
QUEUE_STATE_ANY_XOFF_OR_FROZEN = QUEUE_STATE_ANY_XOFF | QUEUE_STATE_FROZEN
QUEUE_STATE_DRV_XOFF_OR_FROZEN = QUEUE_STATE_DRV_XOFF | QUEUE_STATE_FROZEN

ARPHRD_ETHER = 1
ETH_MIN_MTU = 68
DEFAULT_TX_QUEUE_LEN = 1000
GSO_LEGACY_MAX_SIZE = 65536
GSO_MAX_SEGS = 65535


@dataclass
class NetdevOps:
    """struct net_device_ops (the subset the transmit path uses).

    ndo_open/ndo_stop(dev) -> 0 or -errno; ndo_start_xmit(skb, dev) -> NETDEV_TX_OK/BUSY;
    ndo_tx_timeout(dev, txqueue); ndo_select_queue(dev, skb, sb_dev) -> queue index.
    ndo_open/ndo_stop may be coroutine functions (drivers that read MMIO): use
    dev_open_async/dev_close_async for those.
    """

    ndo_open: Callable[..., Any] | None = None
    ndo_stop: Callable[..., Any] | None = None
    ndo_start_xmit: Callable[[SkBuff, NetDevice], int] | None = None
    ndo_tx_timeout: Callable[[NetDevice, int], Any] | None = None
    ndo_select_queue: Callable[..., int] | None = None


@dataclass(slots=True)
class HeaderOps:
    """struct header_ops: the link layer's header builder (eth_header_ops, set by ether_setup).

    create(skb, dev, type, daddr, saddr, len) pushes the header and returns its length;
    cache(ha, dev, type) returns the hh_cache contents for a resolved neighbour.
    """

    create: Callable[[SkBuff, NetDevice, int, bytes | None, bytes | None, int], int]
    cache: Callable[[bytes, NetDevice, int], bytes] | None = None


def dev_hard_header(skb: SkBuff, dev: NetDevice, type_: int, daddr: bytes | None, saddr: bytes | None, length: int) -> int:
    """Push the link-layer header through dev->header_ops (0 for a headerless device)."""
    ops = dev.header_ops
    if ops is None:
        return 0
    return ops.create(skb, dev, type_, daddr, saddr, length)


@dataclass
class NetDeviceStats:
    """struct net_device_stats as the driver keeps it (/proc/net/dev columns)."""

    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_errors: int = 0
    tx_errors: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0


@dataclass
class NetDeviceCoreStats:
    """dev->core_stats: drops counted by the core, added in by dev_get_stats()."""

    rx_dropped: int = 0
    tx_dropped: int = 0


class _SoftnetXmit:
    """softnet_data.xmit: the per-CPU `more` flag read by netdev_xmit_more()."""

    __slots__ = ("more", "recursion")

    def __init__(self) -> None:
        self.more = False
        self.recursion = 0


softnet_xmit = _SoftnetXmit()


def netdev_xmit_more() -> bool:
    """True while the stack is handing the driver an skb with more right behind it."""
    return softnet_xmit.more


class NetdevQueue:
    """struct netdev_queue: one TX queue's qdisc, XOFF state, BQL and watchdog stamp."""

    __slots__ = ("dev", "index", "state", "qdisc", "qdisc_sleeping", "dql", "trans_start", "trans_timeout", "xmit_lock_owner")

    def __init__(self, dev: NetDevice, index: int) -> None:
        self.dev = dev
        self.index = index
        self.state = 0
        self.qdisc: Any = None  # a net/sched Qdisc (above net/core): what __dev_queue_xmit uses (noop until dev_activate)
        self.qdisc_sleeping: Any = None  # the configured qdisc
        self.dql = Dql(dev.kernel, HZ)  # netdev_init_one_queue: dql_init(&dql, HZ)
        self.trans_start = 0
        self.trans_timeout = 0  # /sys/class/net/*/queues/tx-N/tx_timeout
        self.xmit_lock_owner = -1

    def __repr__(self) -> str:
        bits = [
            n
            for n, b in (
                ("DRV_XOFF", QUEUE_STATE_DRV_XOFF),
                ("STACK_XOFF", QUEUE_STATE_STACK_XOFF),
                ("FROZEN", QUEUE_STATE_FROZEN),
            )
            if self.state & b
        ]
        return f"<netdev_queue {self.dev.name}:tx-{self.index} {'|'.join(bits) or 'running'}>"


_ifindex = itertools.count(2)  # 1 is lo


class NetDevice:
    """struct net_device."""

    def __init__(self, host: Host, name: str, num_tx_queues: int = 1) -> None:
        if num_tx_queues < 1:
            raise OSError(errno.EINVAL, "a net_device needs at least one TX queue")
        self.host = host
        self.kernel = host.kernel
        self.name = name
        self.ifindex = 0
        self.type = ARPHRD_ETHER
        self.flags = 0
        self.priv_flags = 0
        self.state = 0  # __LINK_STATE_* bits
        self.reg_state = "uninitialized"
        self.mtu = ETH_DATA_LEN
        self.min_mtu = ETH_MIN_MTU
        self.max_mtu = ETH_DATA_LEN
        self.hard_header_len = ETH_HLEN
        self.min_header_len = ETH_HLEN
        self.needed_headroom = 0
        self.needed_tailroom = 0
        self.addr_len = ETH_ALEN
        self.dev_addr = bytes(ETH_ALEN)
        self.broadcast = b"\xff" * ETH_ALEN
        self.features = 0
        self.hw_features = 0
        self.wanted_features = 0
        self.vlan_features = 0
        self.gso_partial_features = 0
        self.gso_max_size = GSO_LEGACY_MAX_SIZE
        self.gso_max_segs = GSO_MAX_SEGS
        self.tx_queue_len = DEFAULT_TX_QUEUE_LEN
        self.watchdog_timeo = 5 * HZ  # jiffies
        self.watchdog_timer: TimerList  # dev_init_scheduler (timer_setup with dev_watchdog)
        self.num_tx_queues = num_tx_queues
        self.real_num_tx_queues = num_tx_queues
        self._tx = [NetdevQueue(self, i) for i in range(num_tx_queues)]
        self.qdisc: Any = None  # root qdisc (noop before the first dev_activate)
        self.netdev_ops = NetdevOps()
        self.header_ops: HeaderOps | None = None  # ether_setup: eth_header_ops
        self.stats = NetDeviceStats()
        self.core_stats = NetDeviceCoreStats()
        self.priv: Any = None  # netdev_priv()
        self.irq = 0

    def __repr__(self) -> str:
        return f"<net_device {self.name} ifindex={self.ifindex} {'UP' if self.flags & IFF_UP else 'DOWN'}>"


HH_DATA_MOD = 16


def LL_RESERVED_SPACE(dev: Any) -> int:
    """Link-layer headroom rounded to HH_DATA_MOD, plus one more HH_DATA_MOD (16 for Ethernet).
    dev: a NetDevice or the loopback device."""
    return ((dev.hard_header_len + getattr(dev, "needed_headroom", 0)) & ~(HH_DATA_MOD - 1)) + HH_DATA_MOD


def can_checksum_protocol(features: int, protocol: int) -> bool:
    """Can a device with `features` finish an IP-style checksum for this ethertype?"""
    if features & NETIF_F_HW_CSUM:
        return True
    if protocol == ETH_P_IP:
        return bool(features & NETIF_F_IP_CSUM)
    if protocol == ETH_P_IPV6:
        return bool(features & NETIF_F_IPV6_CSUM)
    return False


def netdev_priv(dev: NetDevice) -> Any:
    return dev.priv


def netdev_get_tx_queue(dev: NetDevice, index: int) -> NetdevQueue:
    return dev._tx[index]


def netif_is_multiqueue(dev: NetDevice) -> bool:
    return dev.num_tx_queues > 1


# -- features and registration -------------------------------------------------------------


def netdev_fix_features(dev: NetDevice, features: int) -> int:
    """The dependency rules of net/core/dev.c netdev_fix_features."""
    if features & NETIF_F_HW_CSUM and features & (NETIF_F_IP_CSUM | NETIF_F_IPV6_CSUM):
        features &= ~(NETIF_F_IP_CSUM | NETIF_F_IPV6_CSUM)  # mixed HW and IP checksum settings
    if features & NETIF_F_ALL_TSO and not features & NETIF_F_SG:
        features &= ~NETIF_F_ALL_TSO  # TSO requires SG
    if features & NETIF_F_TSO and not features & (NETIF_F_HW_CSUM | NETIF_F_IP_CSUM):
        features &= ~(NETIF_F_TSO | NETIF_F_TSO_ECN)  # TSO requires a checksum feature
    if features & NETIF_F_TSO6 and not features & (NETIF_F_HW_CSUM | NETIF_F_IPV6_CSUM):
        features &= ~NETIF_F_TSO6
    if features & NETIF_F_TSO_MANGLEID and not features & NETIF_F_TSO:
        features &= ~NETIF_F_TSO_MANGLEID
    if features & NETIF_F_TSO_ECN and not features & (NETIF_F_TSO | NETIF_F_TSO6):
        features &= ~NETIF_F_TSO_ECN
    if features & NETIF_F_GSO and not features & NETIF_F_SG:
        features &= ~NETIF_F_GSO  # software GSO depends on SG
    return features


def __netdev_update_features(dev: NetDevice) -> bool:
    features = (dev.features & ~dev.hw_features) | (dev.wanted_features & dev.hw_features)
    features = netdev_fix_features(dev, features)
    changed = features != dev.features
    dev.features = features
    return changed


def ethtool_set_features(dev: NetDevice, on: int = 0, off: int = 0) -> int:
    """`ethtool -K`: turn hw_features bits on/off; returns the resulting dev.features."""
    valid = on | off
    if on & off:
        raise OSError(errno.EINVAL, "a feature cannot be turned both on and off")
    if valid & ~dev.hw_features:
        raise OSError(errno.EOPNOTSUPP, f"{dev.name}: features {valid & ~dev.hw_features:#x} are fixed")
    dev.wanted_features = (dev.wanted_features & ~valid) | on
    __netdev_update_features(dev)
    return dev.features


def dev_set_mtu(dev: NetDevice, mtu: int) -> None:
    if mtu < dev.min_mtu or mtu > dev.max_mtu:
        raise OSError(errno.EINVAL, f"{dev.name}: MTU {mtu} outside {dev.min_mtu}..{dev.max_mtu}")
    dev.mtu = mtu


def register_netdev(dev: NetDevice) -> int:
    """register_netdevice: name, ifindex, features, noop qdiscs, the NET_TX softirq."""
    host = dev.host
    if dev.reg_state != "uninitialized":
        raise OSError(errno.EEXIST, f"{dev.name} is already registered")
    if "%d" in dev.name:
        for i in itertools.count():
            cand = dev.name.replace("%d", str(i), 1)
            if cand not in host.devices:
                dev.name = cand
                break
    if not dev.name or len(dev.name) >= 16 or "/" in dev.name or dev.name.strip() != dev.name:
        raise OSError(errno.EINVAL, f"invalid interface name {dev.name!r}")
    if dev.name in host.devices:
        raise OSError(errno.EEXIST, f"device {dev.name} already exists")
    dev.ifindex = next(_ifindex)
    dev.hw_features |= NETIF_F_SOFT_FEATURES
    dev.features |= NETIF_F_SOFT_FEATURES
    dev.wanted_features = dev.features & dev.hw_features
    __netdev_update_features(dev)
    dev.state |= 1 << __LINK_STATE_PRESENT
    pkt_sched.dev_init_scheduler(dev)
    kernel = dev.kernel
    if kernel.softirq_vec[NET_TX_SOFTIRQ] is None:
        kernel.open_softirq(NET_TX_SOFTIRQ, lambda: pkt_sched.net_tx_action(kernel))
    host.devices[dev.name] = dev
    dev.reg_state = "registered"
    return 0


# -- open / close ----------------------------------------------------------------------------


def netif_running(dev: NetDevice) -> bool:
    return bool(dev.state & (1 << __LINK_STATE_START))


def netif_device_present(dev: NetDevice) -> bool:
    return bool(dev.state & (1 << __LINK_STATE_PRESENT))


def _dev_open_prepare(dev: NetDevice) -> bool:
    if dev.reg_state != "registered":
        raise OSError(errno.ENODEV, f"{dev.name} is not registered")
    if dev.flags & IFF_UP:
        return False
    if not netif_device_present(dev):
        raise OSError(errno.ENODEV, f"{dev.name} is not present")
    dev.state |= 1 << __LINK_STATE_START  # netif_running() is true inside ndo_open
    return True


def _dev_open_finish(dev: NetDevice, ret: Any) -> int:
    ret = ret or 0
    if ret:
        dev.state &= ~(1 << __LINK_STATE_START)
        return ret
    dev.flags |= IFF_UP
    pkt_sched.dev_activate(dev)
    return 0


def dev_open(dev: NetDevice) -> int:
    """__dev_open: ndo_open, IFF_UP, dev_activate. Returns 0 or the driver's -errno."""
    if not _dev_open_prepare(dev):
        return 0
    ret = dev.netdev_ops.ndo_open(dev) if dev.netdev_ops.ndo_open else 0
    if inspect.isawaitable(ret):
        if inspect.iscoroutine(ret):
            ret.close()  # never awaited
        dev.state &= ~(1 << __LINK_STATE_START)
        raise TypeError(f"{dev.name}: ndo_open is a coroutine; use `await dev_open_async(dev)`")
    return _dev_open_finish(dev, ret)


async def dev_open_async(dev: NetDevice) -> int:
    """dev_open for drivers whose ndo_open awaits MMIO reads."""
    if not _dev_open_prepare(dev):
        return 0
    ret = dev.netdev_ops.ndo_open(dev) if dev.netdev_ops.ndo_open else 0
    if inspect.isawaitable(ret):
        ret = await ret
    return _dev_open_finish(dev, ret)


def _dev_close_prepare(dev: NetDevice) -> bool:
    if not dev.flags & IFF_UP:
        return False
    dev.state &= ~(1 << __LINK_STATE_START)
    pkt_sched.dev_deactivate(dev)
    return True


def dev_close(dev: NetDevice) -> None:
    """__dev_close_many: stop, deactivate the qdiscs (queued skbs freed), ndo_stop, ~IFF_UP."""
    if not _dev_close_prepare(dev):
        return
    ret = dev.netdev_ops.ndo_stop(dev) if dev.netdev_ops.ndo_stop else 0
    if inspect.isawaitable(ret):
        if inspect.iscoroutine(ret):
            ret.close()  # never awaited
        raise TypeError(f"{dev.name}: ndo_stop is a coroutine; use `await dev_close_async(dev)`")
    dev.flags &= ~IFF_UP


async def dev_close_async(dev: NetDevice) -> None:
    if not _dev_close_prepare(dev):
        return
    ret = dev.netdev_ops.ndo_stop(dev) if dev.netdev_ops.ndo_stop else 0
    if inspect.isawaitable(ret):
        await ret
    dev.flags &= ~IFF_UP


# -- carrier ----------------------------------------------------------------------


def netif_carrier_ok(dev: NetDevice) -> bool:
    return not dev.state & (1 << __LINK_STATE_NOCARRIER)


def netif_carrier_on(dev: NetDevice) -> None:
    if dev.state & (1 << __LINK_STATE_NOCARRIER):
        dev.state &= ~(1 << __LINK_STATE_NOCARRIER)
        if dev.reg_state == "uninitialized":
            return
        if netif_running(dev):
            pkt_sched.dev_activate(dev)  # linkwatch_do_dev, run at once; arms the watchdog


def netif_carrier_off(dev: NetDevice) -> None:
    if not dev.state & (1 << __LINK_STATE_NOCARRIER):
        dev.state |= 1 << __LINK_STATE_NOCARRIER
        if dev.reg_state == "registered" and netif_running(dev):
            pkt_sched.dev_deactivate(dev)  # linkwatch_do_dev: qdiscs to noop, queued skbs freed


def netif_trans_update(dev: NetDevice) -> None:
    txq = dev._tx[0]
    txq.trans_start = dev.kernel.jiffies


# -- TX queue state ----------------------------------------------------------------------------


def netif_tx_start_queue(txq: NetdevQueue) -> None:
    txq.state &= ~QUEUE_STATE_DRV_XOFF


def netif_tx_stop_queue(txq: NetdevQueue) -> None:
    txq.state |= QUEUE_STATE_DRV_XOFF


@traced
def netif_tx_wake_queue(txq: NetdevQueue) -> None:
    if txq.state & QUEUE_STATE_DRV_XOFF:
        txq.state &= ~QUEUE_STATE_DRV_XOFF
        pkt_sched.__netif_schedule(txq.qdisc)


def netif_start_queue(dev: NetDevice) -> None:
    netif_tx_start_queue(dev._tx[0])


def netif_stop_queue(dev: NetDevice) -> None:
    netif_tx_stop_queue(dev._tx[0])


def netif_wake_queue(dev: NetDevice) -> None:
    netif_tx_wake_queue(dev._tx[0])


def netif_tx_start_all_queues(dev: NetDevice) -> None:
    for txq in dev._tx:
        netif_tx_start_queue(txq)


def netif_tx_stop_all_queues(dev: NetDevice) -> None:
    for txq in dev._tx:
        netif_tx_stop_queue(txq)


def netif_tx_wake_all_queues(dev: NetDevice) -> None:
    for txq in dev._tx:
        netif_tx_wake_queue(txq)


def netif_stop_subqueue(dev: NetDevice, queue_index: int) -> None:
    netif_tx_stop_queue(dev._tx[queue_index])


def netif_wake_subqueue(dev: NetDevice, queue_index: int) -> None:
    netif_tx_wake_queue(dev._tx[queue_index])


def __netif_subqueue_stopped(dev: NetDevice, queue_index: int) -> bool:
    return bool(dev._tx[queue_index].state & QUEUE_STATE_DRV_XOFF)


def netif_tx_queue_stopped(txq: NetdevQueue) -> bool:
    """Stopped by the driver (DRV_XOFF) only."""
    return bool(txq.state & QUEUE_STATE_DRV_XOFF)


def netif_xmit_stopped(txq: NetdevQueue) -> bool:
    """Stopped by the driver or by BQL."""
    return bool(txq.state & QUEUE_STATE_ANY_XOFF)


def netif_schedule_queue(txq: NetdevQueue) -> None:
    if not txq.state & QUEUE_STATE_ANY_XOFF:
        pkt_sched.__netif_schedule(txq.qdisc)


# -- BQL ---------------------------------------------------------------------------------------


def netdev_tx_sent_queue(txq: NetdevQueue, nbytes: int) -> None:
    """The driver posted `nbytes`; over the limit sets STACK_XOFF."""
    dql = txq.dql
    dql.dql_queued(nbytes)
    if dql.adj_limit - dql.num_queued >= 0:
        return
    txq.state |= QUEUE_STATE_STACK_XOFF
    # (Linux re-checks after a barrier for a racing completion; one CPU cannot race.)


def __netdev_tx_sent_queue(txq: NetdevQueue, nbytes: int, xmit_more: bool) -> bool:
    """BQL accounting with xmit_more; returns whether the driver must ring the doorbell."""
    if xmit_more:
        txq.dql.dql_queued(nbytes)
        return netif_tx_queue_stopped(txq)
    netdev_tx_sent_queue(txq, nbytes)
    return True


@traced
def netdev_tx_completed_queue(txq: NetdevQueue, pkts: int, nbytes: int) -> None:
    """Completion: dql_completed, then clear STACK_XOFF and reschedule if room appeared."""
    if not nbytes:
        return
    dql = txq.dql
    dql.dql_completed(nbytes)
    if dql.adj_limit - dql.num_queued < 0:
        return
    if txq.state & QUEUE_STATE_STACK_XOFF:
        txq.state &= ~QUEUE_STATE_STACK_XOFF
        netif_schedule_queue(txq)


def netdev_tx_reset_queue(txq: NetdevQueue) -> None:
    txq.state &= ~QUEUE_STATE_STACK_XOFF
    txq.dql.dql_reset()


def netdev_sent_queue(dev: NetDevice, nbytes: int) -> None:
    netdev_tx_sent_queue(dev._tx[0], nbytes)


def netdev_completed_queue(dev: NetDevice, pkts: int, nbytes: int) -> None:
    netdev_tx_completed_queue(dev._tx[0], pkts, nbytes)


def netdev_reset_queue(dev: NetDevice) -> None:
    netdev_tx_reset_queue(dev._tx[0])


# -- stats ---------------------------------------------------------------------------------------


def dev_get_stats(dev: NetDevice) -> NetDeviceStats:
    """The driver's counters plus the core's drops (what /proc/net/dev prints)."""
    s = dev.stats
    return NetDeviceStats(
        s.rx_packets, s.tx_packets, s.rx_bytes, s.tx_bytes, s.rx_errors, s.tx_errors,
        s.rx_dropped + dev.core_stats.rx_dropped, s.tx_dropped + dev.core_stats.tx_dropped,
    )


__all__ = [
    "NETDEV_TX_BUSY",
    "NETDEV_TX_OK",
    "NETIF_F_ALL_TSO",
    "NETIF_F_CSUM_MASK",
    "NETIF_F_FRAGLIST",
    "NETIF_F_GSO",
    "NETIF_F_GSO_MASK",
    "NETIF_F_GSO_SOFTWARE",
    "NETIF_F_HW_CSUM",
    "NETIF_F_IPV6_CSUM",
    "NETIF_F_IP_CSUM",
    "NETIF_F_SG",
    "NETIF_F_TSO",
    "NETIF_F_TSO6",
    "NET_XMIT_CN",
    "NET_XMIT_DROP",
    "NET_XMIT_MASK",
    "NET_XMIT_SUCCESS",
    "HeaderOps",
    "NetDevice",
    "NetDeviceStats",
    "NetdevOps",
    "NetdevQueue",
    "__netdev_tx_sent_queue",
    "__netif_subqueue_stopped",
    "dev_close",
    "dev_close_async",
    "dev_get_stats",
    "dev_hard_header",
    "dev_open",
    "dev_open_async",
    "dev_xmit_complete",
    "ethtool_set_features",
    "net_xmit_eval",
    "netdev_completed_queue",
    "netdev_get_tx_queue",
    "netdev_priv",
    "netdev_reset_queue",
    "netdev_sent_queue",
    "netdev_tx_completed_queue",
    "netdev_tx_reset_queue",
    "netdev_tx_sent_queue",
    "netdev_xmit_more",
    "netif_carrier_off",
    "netif_carrier_ok",
    "netif_carrier_on",
    "netif_running",
    "netif_start_queue",
    "netif_stop_queue",
    "netif_stop_subqueue",
    "netif_tx_queue_stopped",
    "netif_tx_start_queue",
    "netif_tx_stop_queue",
    "netif_tx_wake_queue",
    "netif_wake_queue",
    "netif_wake_subqueue",
    "netif_xmit_stopped",
    "register_netdev",
]
