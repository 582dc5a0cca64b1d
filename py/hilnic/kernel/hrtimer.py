"""High-resolution timers (kernel/time/hrtimer.c): a callback at an absolute CLOCK_MONOTONIC
time in nanoseconds, not rounded to jiffies.

Two expiry contexts, as in Linux: a timer started with a ``*_SOFT`` mode runs its callback from
HRTIMER_SOFTIRQ (TCP's pacing timer, tcp_pace_kick); a hard one runs it from the timer
interrupt, in hard-IRQ context, and the softirqs it raises run at irq_exit (the qdisc
watchdog, which only calls __netif_schedule). The model's CLOCK_MONOTONIC is the simulated
time since the start, in ns — the clock tcp_clock_ns() and ktime_get_ns() read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from hilnic.kernel.env import NS, TimerHandle
from hilnic.kernel.softirq import HRTIMER_SOFTIRQ

HRTIMER_NORESTART = 0
HRTIMER_RESTART = 1

# enum hrtimer_mode: the bits the model distinguishes (ABS vs REL; SOFT expiry)
HRTIMER_MODE_ABS = 0x00
HRTIMER_MODE_REL = 0x01
HRTIMER_MODE_PINNED = 0x02
HRTIMER_MODE_SOFT = 0x04
HRTIMER_MODE_ABS_PINNED = HRTIMER_MODE_ABS | HRTIMER_MODE_PINNED
HRTIMER_MODE_ABS_PINNED_SOFT = HRTIMER_MODE_ABS_PINNED | HRTIMER_MODE_SOFT


def ktime_get_ns(kernel: Any) -> int:
    """CLOCK_MONOTONIC in ns (the simulated time)."""
    return kernel.env.now() // NS


class _SoftPending:
    """The handle of a soft timer that has expired and waits for HRTIMER_SOFTIRQ: still queued
    (hrtimer_is_queued), still cancellable, as in Linux's soft clock bases."""

    __slots__ = ()

    def cancel(self) -> None:
        pass


_SOFT_PENDING = _SoftPending()


class Hrtimer:
    """struct hrtimer: `function(timer)` returns HRTIMER_NORESTART or HRTIMER_RESTART (after
    moving `expires` on with hrtimer_forward)."""

    __slots__ = ("_handle", "cpu", "expires", "function", "kernel", "mode", "name")

    def __init__(self, kernel: Any, function: Callable[[Hrtimer], int], mode: int, name: str = "") -> None:
        self.kernel = kernel
        self.function = function
        self.mode = mode  # hrtimer_init's mode: SOFT or hard expiry
        self.name = name or getattr(function, "__name__", "hrtimer")
        self.expires = 0  # ns
        self._handle: TimerHandle | _SoftPending | None = None
        self.cpu: Any = None  # the CPU it was armed on (kernel/core.py's Cpu)

    def hrtimer_is_queued(self) -> bool:
        return self._handle is not None

    def hrtimer_start(self, tim_ns: int, mode: int = HRTIMER_MODE_ABS) -> None:
        """(Re)arm: at `tim_ns` (absolute) or `tim_ns` from now (HRTIMER_MODE_REL). A time
        already past expires at once (at the current simulated time, never earlier)."""
        self.hrtimer_cancel()
        k = self.kernel
        if mode & HRTIMER_MODE_REL:
            tim_ns += ktime_get_ns(k)
        self.expires = tim_ns
        self.cpu = k.cpu  # it fires on the CPU that armed it
        self._handle = k.env.call_at(tim_ns * NS, _hrtimer_interrupt, self)

    def hrtimer_start_range_ns(self, tim_ns: int, delta_ns: int, mode: int = HRTIMER_MODE_ABS) -> None:
        """The slack lets Linux coalesce expiries; the model expires at the soft time `tim_ns`."""
        self.hrtimer_start(tim_ns, mode)

    def hrtimer_cancel(self) -> bool:
        if self._handle is None:
            return False
        self._handle.cancel()
        self._handle = None
        return True

    def hrtimer_forward_now(self, interval_ns: int) -> None:
        now = ktime_get_ns(self.kernel)
        while self.expires <= now:
            self.expires += interval_ns


def _hrtimer_base(k: Any) -> deque[Hrtimer]:
    """The CPU's expired soft timers, run by HRTIMER_SOFTIRQ (hrtimer_run_softirq)."""
    q: deque[Hrtimer] | None = getattr(k, "hrtimer_soft_expired", None)
    if q is None:
        q = k.hrtimer_soft_expired = deque()
        k.open_softirq(HRTIMER_SOFTIRQ, lambda: hrtimer_run_softirq(k))
    return q


def _hrtimer_interrupt(timer: Hrtimer) -> None:
    """The clock event on the timer's CPU."""
    k = timer.kernel
    k.run_on(timer.cpu if timer.cpu is not None else k.cpu, _hrtimer_expire, timer)


def _hrtimer_expire(timer: Hrtimer) -> None:
    """A soft timer is handed to HRTIMER_SOFTIRQ; a hard one runs now, in hard-IRQ context,
    and what it raises runs at irq_exit."""
    k = timer.kernel
    if timer.mode & HRTIMER_MODE_SOFT:
        timer._handle = _SOFT_PENDING
        _hrtimer_base(k).append(timer)
        k.raise_softirq(HRTIMER_SOFTIRQ)
        k._kick_softirq()
        return
    timer._handle = None
    prev, k.context = k.context, "hardirq"
    try:
        _run_hrtimer(timer)
    finally:
        k.context = prev
    if k.softirq_pending:
        k._kick_softirq()  # irq_exit: the CPU runs them as soon as it is free


def _run_hrtimer(timer: Hrtimer) -> None:
    if timer.function(timer) == HRTIMER_RESTART and timer._handle is None:
        timer._handle = timer.kernel.env.call_at(timer.expires * NS, _hrtimer_interrupt, timer)


def hrtimer_run_softirq(k: Any) -> None:
    q = _hrtimer_base(k)
    while q:
        timer = q.popleft()
        if timer._handle is _SOFT_PENDING:  # not cancelled or re-armed since it expired
            timer._handle = None
            _run_hrtimer(timer)


__all__ = [
    "HRTIMER_MODE_ABS",
    "HRTIMER_MODE_ABS_PINNED",
    "HRTIMER_MODE_ABS_PINNED_SOFT",
    "HRTIMER_MODE_REL",
    "HRTIMER_MODE_SOFT",
    "HRTIMER_NORESTART",
    "HRTIMER_RESTART",
    "Hrtimer",
    "hrtimer_run_softirq",
    "ktime_get_ns",
]
