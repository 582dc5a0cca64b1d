"""Packet scheduler API (net/sched/sch_api.c): what a qdisc uses beyond sch_generic — the qdisc
watchdog (an hrtimer that reschedules the root qdisc when a throttled qdisc may send again)
and psched_mtu.
"""

from __future__ import annotations

from hilnic.include.net.sch_generic import QDISC_STATE_DEACTIVATED
from hilnic.kernel.hrtimer import HRTIMER_MODE_ABS_PINNED, HRTIMER_NORESTART, Hrtimer
from hilnic.net.core.netdevice import NetDevice
from hilnic.net.sched.sch_generic import Qdisc, __netif_schedule

U64 = (1 << 64) - 1


def psched_mtu(dev: NetDevice) -> int:
    """The largest frame the device sends: MTU plus the link-layer header (1514 on Ethernet)."""
    return dev.mtu + dev.hard_header_len


class QdiscWatchdog(Hrtimer):
    """struct qdisc_watchdog: a hard hrtimer (HRTIMER_MODE_ABS_PINNED) whose expiry runs
    __netif_schedule on the root qdisc, so NET_TX_SOFTIRQ dequeues again."""

    __slots__ = ("qdisc",)

    def __init__(self, qdisc: Qdisc) -> None:
        super().__init__(qdisc.kernel, qdisc_watchdog, HRTIMER_MODE_ABS_PINNED, "qdisc_watchdog")
        self.qdisc = qdisc


def qdisc_root(q: Qdisc) -> Qdisc:
    root = q.dev_queue.qdisc
    return root if root is not None else q


def qdisc_watchdog(timer: Hrtimer) -> int:
    assert isinstance(timer, QdiscWatchdog)
    __netif_schedule(qdisc_root(timer.qdisc))
    return HRTIMER_NORESTART


def qdisc_watchdog_init(q: Qdisc) -> QdiscWatchdog:
    return QdiscWatchdog(q)


def qdisc_watchdog_schedule_range_ns(wd: QdiscWatchdog, expires: int, delta_ns: int) -> None:
    """Arm for `expires` (ns), unless the root is deactivated or the timer already expires
    within [expires, expires + delta_ns]."""
    sleeping = wd.qdisc.dev_queue.qdisc_sleeping  # qdisc_root_sleeping
    if sleeping is not None and sleeping.state & QDISC_STATE_DEACTIVATED:
        return
    if wd.hrtimer_is_queued():
        softexpires = wd.expires
        if ((softexpires - expires) & U64) <= delta_ns:
            return
    wd.hrtimer_start_range_ns(expires, delta_ns, HRTIMER_MODE_ABS_PINNED)


def qdisc_watchdog_cancel(wd: QdiscWatchdog) -> None:
    wd.hrtimer_cancel()


__all__ = [
    "QdiscWatchdog",
    "psched_mtu",
    "qdisc_root",
    "qdisc_watchdog",
    "qdisc_watchdog_cancel",
    "qdisc_watchdog_init",
    "qdisc_watchdog_schedule_range_ns",
]
