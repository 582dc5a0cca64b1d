"""Queueing disciplines and the qdisc run loop (net/sched/sch_generic.c, Linux 6.9).

`__qdisc_run` sends until the quota (dev_tx_weight = 64) is spent, counting each dequeued
skb (a GSO skb too) as one, or until `need_resched()` (the task ran its time slice and another
waits for the CPU, kernel/core.py). `dequeue_skb` serves the requeue
slot (`gso_skb`) first, returns nothing for a stopped/frozen queue of a ONETXQUEUE qdisc
(the wake path reschedules), and bulk-dequeues while BQL has room. `sch_direct_xmit`
validates outside the lock (software GSO, checksum) and requeues whatever the driver did
not take. `__netif_schedule` puts the qdisc on the CPU's output_queue and raises
NET_TX_SOFTIRQ; `net_tx_action` runs them.

Qdiscs are chosen by name from a registry (`register_qdisc`); pfifo_fast, noqueue, noop and
mq are here. The root of a single-queue device is its default qdisc flagged ONETXQUEUE;
a multiqueue device gets mq with one default child (ONETXQUEUE) per TX queue, as Linux.

Simplification (docs/linux-tx-path.md, "Scope": one CPU): pfifo_fast is TCQ_F_NOLOCK in Linux; here
"empty" for the bypass test is qlen == 0 and a run that must be repeated reschedules via
__netif_schedule instead of the MISSED/DRAINING bits (the observable order is the same).
"""

from __future__ import annotations

import errno
import inspect
from collections import deque
from dataclasses import dataclass

from hilnic.include.net import pkt_sched
from hilnic.include.net.sch_generic import (
    QDISC_STATE_DEACTIVATED,
    QDISC_STATE_MISSED,
    QDISC_STATE_RUNNING,
    QDISC_STATE_SCHED,
    TC_H_ROOT,
    TC_PRIO_MAX,
    TCQ_F_BUILTIN,
    TCQ_F_CAN_BYPASS,
    TCQ_F_CPUSTATS,
    TCQ_F_MQROOT,
    TCQ_F_NOLOCK,
    TCQ_F_NOPARENT,
    TCQ_F_ONETXQUEUE,
)
from hilnic.kernel.core import HZ, Kernel
from hilnic.kernel.ftrace import traced
from hilnic.kernel.softirq import NET_TX_SOFTIRQ
from hilnic.net.core.dev import dev_hard_start_xmit, validate_xmit_skb_list
from hilnic.net.core.netdevice import (
    IFF_NO_QUEUE,
    NET_XMIT_CN,
    NET_XMIT_DROP,
    NET_XMIT_SUCCESS,
    NETDEV_TX_BUSY,
    QUEUE_STATE_ANY_XOFF,
    QUEUE_STATE_ANY_XOFF_OR_FROZEN,
    QUEUE_STATE_FROZEN,
    NetDevice,
    NetdevQueue,
    dev_xmit_complete,
    netif_carrier_ok,
    netif_device_present,
    netif_is_multiqueue,
    netif_running,
    netif_schedule_queue,
    netif_trans_update,
)
from hilnic.net.core.skbuff import SkBuff, kfree_skb

PFIFO_FAST_BANDS = 3
# sch_generic.c prio2band: priority 0 → band 1, TC_PRIO_INTERACTIVE (6) → band 0
PRIO2BAND = (1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)


@dataclass
class BasicStats:
    """gnet_stats_basic: what `tc -s` prints as "Sent N bytes M pkt"."""

    bytes: int = 0
    packets: int = 0


@dataclass
class QueueStats:
    """gnet_stats_queue; `qlen` is the live queue length (q->q.qlen), requeued skbs included."""

    qlen: int = 0
    backlog: int = 0
    drops: int = 0
    requeues: int = 0
    overlimits: int = 0


def qdisc_pkt_len(skb: SkBuff) -> int:
    """qdisc_skb_cb(skb)->pkt_len, set by qdisc_pkt_len_init (skb->len if never set)."""
    return skb.cb.get("qdisc_pkt_len", skb.len)


class Qdisc:
    """struct Qdisc + its Qdisc_ops. Subclasses implement enqueue/dequeue/peek/reset."""

    id = "generic"
    static_flags = 0

    def __init__(self, dev_queue: NetdevQueue, parent: int = TC_H_ROOT) -> None:
        self.dev_queue = dev_queue
        self.dev: NetDevice = dev_queue.dev
        self.kernel = self.dev.kernel
        self.parent = parent
        self.flags = self.static_flags
        self.state = 0
        self.gso_skb: deque[SkBuff] = deque()  # requeued skbs, already validated
        self.bstats = BasicStats()
        self.qstats = QueueStats()

    # Qdisc_ops; `enqueue = None` marks a queueless qdisc (noqueue), as in Linux.
    def enqueue(self, skb: SkBuff, to_free: list[SkBuff]) -> int:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must implement enqueue")

    def dequeue(self) -> SkBuff | None:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must implement dequeue")

    def peek(self) -> SkBuff | None:
        return self.gso_skb[0] if self.gso_skb else None

    def reset(self) -> None:
        """qdisc_reset: free everything queued, requeued skbs included."""
        while self.gso_skb:
            kfree_skb(self.gso_skb.popleft())
        self.qstats.qlen = 0
        self.qstats.backlog = 0

    def change_tx_queue_len(self, new_len: int) -> None:
        """Qdiscs sized by tx_queue_len override this."""

    def __repr__(self) -> str:
        return f"<qdisc {self.id} {self.dev.name}:{self.dev_queue.index} qlen={self.qstats.qlen}>"


def qdisc_drop(skb: SkBuff, q: Qdisc, to_free: list[SkBuff]) -> int:
    """Count a drop; the caller frees `to_free` after the run (kfree_skb_list)."""
    q.qstats.drops += 1
    to_free.append(skb)
    return NET_XMIT_DROP


def qdisc_bstats_update(q: Qdisc, skb: SkBuff) -> None:
    """bstats count GSO skbs as gso_segs packets and pkt_len bytes."""
    b = q.bstats
    b.bytes += qdisc_pkt_len(skb)
    sh = skb.shinfo
    b.packets += sh.gso_segs if sh.gso_size else 1


class PfifoFast(Qdisc):
    """pfifo_fast: three bands by priority, strict priority dequeue, a ring of tx_queue_len
    per band (v4.16+; earlier kernels had one limit for all bands)."""

    id = "pfifo_fast"
    static_flags = TCQ_F_NOLOCK | TCQ_F_CPUSTATS

    def __init__(self, dev_queue: NetdevQueue, parent: int = TC_H_ROOT) -> None:
        super().__init__(dev_queue, parent)
        qlen = self.dev.tx_queue_len
        if not qlen:
            raise OSError(errno.EINVAL, "pfifo_fast needs a non-zero tx_queue_len")
        self.band_limit = qlen
        self.bands: tuple[deque[SkBuff], ...] = tuple(deque() for _ in range(PFIFO_FAST_BANDS))
        self.flags |= TCQ_F_CAN_BYPASS

    def enqueue(self, skb: SkBuff, to_free: list[SkBuff]) -> int:
        band = self.bands[PRIO2BAND[skb.priority & TC_PRIO_MAX]]
        if len(band) >= self.band_limit:  # skb_array_produce: ring full
            return qdisc_drop(skb, self, to_free)
        band.append(skb)
        qs = self.qstats
        qs.backlog += skb.cb.get("qdisc_pkt_len", skb.len)
        qs.qlen += 1
        return NET_XMIT_SUCCESS

    def dequeue(self) -> SkBuff | None:
        for band in self.bands:
            if band:
                skb = band.popleft()
                qs = self.qstats
                qs.backlog -= skb.cb.get("qdisc_pkt_len", skb.len)
                qs.qlen -= 1
                qdisc_bstats_update(self, skb)
                return skb
        return None

    def peek(self) -> SkBuff | None:
        for band in self.bands:
            if band:
                return band[0]
        return None

    def reset(self) -> None:
        for band in self.bands:
            while band:
                kfree_skb(band.popleft())
        super().reset()

    def change_tx_queue_len(self, new_len: int) -> None:
        if not new_len:
            raise OSError(errno.EINVAL, "pfifo_fast needs a non-zero tx_queue_len")
        self.band_limit = new_len
        for band in self.bands:  # ptr_ring_resize destroys what no longer fits
            while len(band) > new_len:
                skb = band.pop()
                self.qstats.qlen -= 1
                self.qstats.backlog -= qdisc_pkt_len(skb)
                kfree_skb(skb)


class Noqueue(Qdisc):
    """noqueue: no enqueue; __dev_queue_xmit calls the driver directly."""

    id = "noqueue"
    enqueue = None  # type: ignore[assignment]

    def dequeue(self) -> SkBuff | None:
        return None


class NoopQdisc(Qdisc):
    """noop_qdisc: attached while the device is down; drops everything (NET_XMIT_CN)."""

    id = "noop"
    static_flags = TCQ_F_BUILTIN

    def enqueue(self, skb: SkBuff, to_free: list[SkBuff]) -> int:
        to_free.append(skb)  # __qdisc_drop: no drop counted
        return NET_XMIT_CN

    def dequeue(self) -> SkBuff | None:
        return None


class Mq(Qdisc):
    """mq: the root of a multiqueue device; one child per TX queue, stats summed."""

    id = "mq"
    enqueue = None  # type: ignore[assignment]
    static_flags = TCQ_F_MQROOT

    def __init__(self, dev_queue: NetdevQueue, parent: int = TC_H_ROOT) -> None:
        super().__init__(dev_queue, parent)
        self.children: list[Qdisc] = []
        for i, txq in enumerate(self.dev._tx):
            child = qdisc_create_dflt(txq, self.dev.host.sysctl.default_qdisc, parent=0x8000 + i + 1)
            child.flags |= TCQ_F_ONETXQUEUE | TCQ_F_NOPARENT
            self.children.append(child)

    def dequeue(self) -> SkBuff | None:
        return None

    def attach(self) -> None:
        for txq, child in zip(self.dev._tx, self.children, strict=False):
            txq.qdisc_sleeping = child

    def dump(self) -> tuple[BasicStats, QueueStats]:
        """mq_dump: the children's counters summed."""
        b, q = BasicStats(), QueueStats()
        for c in self.children:
            b.bytes += c.bstats.bytes
            b.packets += c.bstats.packets
            for f in ("qlen", "backlog", "drops", "requeues", "overlimits"):
                setattr(q, f, getattr(q, f) + getattr(c.qstats, f))
        return b, q


QDISC_REGISTRY: dict[str, type[Qdisc]] = {}


def register_qdisc(ops: type[Qdisc]) -> type[Qdisc]:
    """Make a qdisc class available by its `id` (net.core.default_qdisc, `tc qdisc add`)."""
    if ops.id in QDISC_REGISTRY and QDISC_REGISTRY[ops.id] is not ops:
        raise OSError(errno.EEXIST, f"qdisc {ops.id!r} is already registered")
    QDISC_REGISTRY[ops.id] = ops
    return ops


for _ops in (PfifoFast, Noqueue, NoopQdisc, Mq):
    register_qdisc(_ops)


def qdisc_create_dflt(dev_queue: NetdevQueue, name: str, parent: int = TC_H_ROOT) -> Qdisc:
    ops = QDISC_REGISTRY.get(name)
    if ops is None:
        raise OSError(errno.ENOENT, f"qdisc {name!r} is not registered (have {sorted(QDISC_REGISTRY)})")
    return ops(dev_queue, parent)


# -- attaching (dev_init_scheduler / dev_activate / dev_deactivate) ------------------------------


def dev_init_scheduler(dev: NetDevice) -> None:
    """Noop qdiscs until dev_activate; set up the watchdog timer (timer_setup)."""
    dev.watchdog_timer = dev.kernel.timer(lambda _t: dev_watchdog(dev), f"dev_watchdog/{dev.name}")
    noop = NoopQdisc(dev._tx[0])
    dev.qdisc = noop
    for txq in dev._tx:
        txq.qdisc = txq.qdisc_sleeping = noop


def attach_default_qdiscs(dev: NetDevice) -> None:
    name = dev.host.sysctl.default_qdisc
    if not netif_is_multiqueue(dev) or dev.priv_flags & IFF_NO_QUEUE:
        for txq in dev._tx:
            q = qdisc_create_dflt(txq, "noqueue" if dev.priv_flags & IFF_NO_QUEUE else name)
            if not netif_is_multiqueue(dev):
                q.flags |= TCQ_F_ONETXQUEUE | TCQ_F_NOPARENT
            txq.qdisc_sleeping = q
        dev.qdisc = dev._tx[0].qdisc_sleeping
    else:
        root = Mq(dev._tx[0])
        dev.qdisc = root
        root.attach()


def dev_activate(dev: NetDevice) -> None:
    """Attach the default qdiscs on first use; start transmitting if the carrier is up."""
    if dev.qdisc is None or dev.qdisc.id == "noop":
        attach_default_qdiscs(dev)
    if not netif_carrier_ok(dev):
        return  # delayed until carrier on
    for txq in dev._tx:
        new = txq.qdisc_sleeping
        if not new.flags & TCQ_F_BUILTIN:
            new.state &= ~QDISC_STATE_DEACTIVATED
        txq.qdisc = new
        txq.trans_start = 0
    netif_trans_update(dev)
    netdev_watchdog_up(dev)


def dev_deactivate(dev: NetDevice) -> None:
    """Queues back to noop, qdiscs reset (queued skbs freed), watchdog stopped."""
    noop = NoopQdisc(dev._tx[0])
    for txq in dev._tx:
        q = txq.qdisc_sleeping
        if q is not None and not q.flags & TCQ_F_BUILTIN:
            q.state |= QDISC_STATE_DEACTIVATED
            q.reset()
        txq.qdisc = noop
    netdev_watchdog_down(dev)


# -- scheduling ----------------------------------------------------------------------------------


@traced
def __netif_schedule(q: Qdisc) -> None:
    """Queue `q` on this CPU's output_queue and raise NET_TX_SOFTIRQ (once while SCHED)."""
    if q.state & QDISC_STATE_SCHED:
        return
    q.state |= QDISC_STATE_SCHED
    k = q.kernel
    k.softnet.output_queue.append(q)
    k.raise_softirq(NET_TX_SOFTIRQ)


@traced
def net_tx_action(kernel: Kernel) -> None:
    """NET_TX_SOFTIRQ: free the completion queue, then run each scheduled qdisc."""
    sd = kernel.softnet
    if sd.completion_queue:
        clist = sd.completion_queue
        sd.completion_queue = deque()
        for skb in clist:
            kfree_skb(skb)
    if sd.output_queue:
        head = sd.output_queue
        sd.output_queue = deque()
        for q in head:
            q.state &= ~QDISC_STATE_SCHED
            qdisc_run(q)


def qdisc_run_begin(q: Qdisc) -> bool:
    if q.state & QDISC_STATE_RUNNING:
        q.state |= QDISC_STATE_MISSED  # the runner reschedules at qdisc_run_end
        return False
    q.state |= QDISC_STATE_RUNNING
    return True


def qdisc_run_end(q: Qdisc) -> None:
    q.state &= ~QDISC_STATE_RUNNING
    if q.state & QDISC_STATE_MISSED:
        q.state &= ~QDISC_STATE_MISSED
        __netif_schedule(q)


def qdisc_run(q: Qdisc) -> None:
    if qdisc_run_begin(q):
        __qdisc_run(q)
        qdisc_run_end(q)


@traced
def __qdisc_run(q: Qdisc) -> None:
    """Send until the quota is spent or the CPU is wanted elsewhere (need_resched: the task
    ran its slice and another waits); then hand the rest to NET_TX_SOFTIRQ."""
    quota = q.dev.host.sysctl.dev_tx_weight
    k = q.kernel
    while True:
        ok, packets = qdisc_restart(q)
        if not ok:
            return
        quota -= packets
        if quota <= 0 or k.need_resched():
            __netif_schedule(q)
            return


def dequeue_skb(q: Qdisc) -> tuple[SkBuff | None, bool, int]:
    """Returns (skb or skb list, validate, packets)."""
    if q.gso_skb:
        requeued = q.gso_skb[0]
        txq = q.dev._tx[requeued.queue_mapping]
        if txq.state & QUEUE_STATE_ANY_XOFF_OR_FROZEN:
            return None, False, 1
        q.gso_skb.popleft()
        q.qstats.backlog -= qdisc_pkt_len(requeued)
        q.qstats.qlen -= 1
        return requeued, False, 1  # already validated
    txq = q.dev_queue
    if q.flags & TCQ_F_ONETXQUEUE and txq.state & QUEUE_STATE_ANY_XOFF_OR_FROZEN:
        return None, True, 1  # the wake path reschedules
    skb = q.dequeue()
    if skb is None:
        return None, True, 1
    packets = 1
    if q.flags & TCQ_F_ONETXQUEUE:
        # try_bulk_dequeue_skb: while BQL still has room after this skb
        dql = txq.dql
        bytelimit = dql.adj_limit - dql.num_queued - skb.len
        tail = skb
        while bytelimit > 0:
            nskb = q.dequeue()
            if nskb is None:
                break
            bytelimit -= nskb.len
            tail.next = nskb
            tail = nskb
            packets += 1
        tail.next = None
    return skb, True, packets


def qdisc_restart(q: Qdisc) -> tuple[bool, int]:
    skb, validate, packets = dequeue_skb(q)
    if skb is None:
        return False, packets
    dev = q.dev
    txq = dev._tx[skb.queue_mapping]
    return sch_direct_xmit(skb, q, dev, txq, validate), packets


@traced
def sch_direct_xmit(skb: SkBuff, q: Qdisc, dev: NetDevice, txq: NetdevQueue, validate: bool) -> bool:
    """Validate (GSO/checksum) then hand to the driver; requeue what it did not take.
    Returns False when the caller should stop (requeued)."""
    k = q.kernel
    k.charge(k.cost.sch_direct_xmit)
    rc = NETDEV_TX_BUSY
    if validate:
        valid = validate_xmit_skb_list(skb, dev)
        if valid is None:
            return True
        skb = valid
    left: SkBuff | None = skb
    if not txq.state & QUEUE_STATE_ANY_XOFF_OR_FROZEN:
        left, rc = dev_hard_start_xmit(skb, dev, txq)
    if not dev_xmit_complete(rc):
        dev_requeue_skb(left, q)
        return False
    return True


@traced
def dev_requeue_skb(skb: SkBuff | None, q: Qdisc) -> None:
    """Put the unsent skbs back in front (gso_skb), counting each as a requeue."""
    qs = q.qstats
    while skb is not None:
        nxt = skb.next
        skb.next = None
        q.gso_skb.append(skb)
        qs.requeues += 1
        qs.backlog += qdisc_pkt_len(skb)
        qs.qlen += 1
        skb = nxt
    __netif_schedule(q)


# -- the watchdog (dev_watchdog, netdev_watchdog_up/down) ----------------------------------------


def round_jiffies(j: int, now: int, cpu: int = 0) -> int:
    """kernel/time/timer.c round_jiffies_common: to a whole second, never into the past."""
    original = j
    j += cpu * 3
    rem = j % HZ
    j = j - rem if rem < HZ // 4 else j - rem + HZ
    j -= cpu * 3
    return j if j > now else original


def _mod_timer_jiffies(dev: NetDevice, expires: int) -> None:
    # A timer_list due now runs at the next tick, never in the same instant.
    dev.watchdog_timer.mod_timer(max(expires, dev.kernel.jiffies + 1))


def netdev_watchdog_up(dev: NetDevice) -> None:
    if dev.netdev_ops.ndo_tx_timeout is None:
        return
    if dev.watchdog_timeo <= 0:
        dev.watchdog_timeo = 5 * HZ
    now = dev.kernel.jiffies
    _mod_timer_jiffies(dev, round_jiffies(now + dev.watchdog_timeo, now))


def netdev_watchdog_down(dev: NetDevice) -> None:
    dev.watchdog_timer.del_timer()


def netif_freeze_queues(dev: NetDevice) -> None:
    for txq in dev._tx:
        txq.state |= QUEUE_STATE_FROZEN


def netif_unfreeze_queues(dev: NetDevice) -> None:
    for txq in dev._tx:
        txq.state &= ~QUEUE_STATE_FROZEN
        netif_schedule_queue(txq)


@traced
def dev_watchdog(dev: NetDevice) -> None:
    """ndo_tx_timeout for a queue stopped too long."""
    if all(txq.qdisc is None or txq.qdisc.id == "noop" for txq in dev._tx):  # qdisc_tx_is_noop
        return
    if not (netif_device_present(dev) and netif_running(dev) and netif_carrier_ok(dev)):
        return
    now = dev.kernel.jiffies
    oldest_start = now
    timed_out = -1
    for i, txq in enumerate(dev._tx):
        if not txq.state & QUEUE_STATE_ANY_XOFF:
            continue
        trans_start = txq.trans_start
        if now > trans_start + dev.watchdog_timeo:  # time_after
            txq.trans_timeout += 1
            timed_out = i
            break
        if oldest_start > trans_start:
            oldest_start = trans_start
    if timed_out >= 0:
        netif_freeze_queues(dev)
        ret = dev.netdev_ops.ndo_tx_timeout(dev, timed_out)  # type: ignore[misc]  # netdev_watchdog_up checked it
        if inspect.isawaitable(ret):
            dev.kernel.spawn(ret, f"{dev.name}_tx_timeout")  # as schedule_work()
        netif_unfreeze_queues(dev)
    _mod_timer_jiffies(dev, round_jiffies(oldest_start + dev.watchdog_timeo, now))


def pkt_sched_init() -> None:
    """Fill in include/net/pkt_sched.py, through which net/core reaches the scheduler."""
    pkt_sched.dev_init_scheduler = dev_init_scheduler
    pkt_sched.dev_activate = dev_activate
    pkt_sched.dev_deactivate = dev_deactivate
    pkt_sched.net_tx_action = net_tx_action
    pkt_sched.__netif_schedule = __netif_schedule
    pkt_sched.qdisc_run = qdisc_run
    pkt_sched.__qdisc_run = __qdisc_run
    pkt_sched.qdisc_run_begin = qdisc_run_begin
    pkt_sched.qdisc_run_end = qdisc_run_end
    pkt_sched.qdisc_bstats_update = qdisc_bstats_update
    pkt_sched.sch_direct_xmit = sch_direct_xmit


pkt_sched_init()

__all__ = [
    "PRIO2BAND",
    "QDISC_REGISTRY",
    "TCQ_F_CAN_BYPASS",
    "TCQ_F_NOLOCK",
    "TCQ_F_ONETXQUEUE",
    "BasicStats",
    "Mq",
    "NoopQdisc",
    "Noqueue",
    "PfifoFast",
    "Qdisc",
    "QueueStats",
    "__netif_schedule",
    "__qdisc_run",
    "dequeue_skb",
    "dev_activate",
    "dev_deactivate",
    "dev_requeue_skb",
    "net_tx_action",
    "qdisc_create_dflt",
    "qdisc_drop",
    "qdisc_pkt_len",
    "qdisc_restart",
    "qdisc_run",
    "register_qdisc",
    "sch_direct_xmit",
]
