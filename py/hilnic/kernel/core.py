"""One CPU: process, softirq and hard-IRQ contexts, softirqs, timers, NAPI.

Kernel paths are plain synchronous functions that run in zero simulated time. Three things
take time: a process blocking (`wait_event`, `msleep`), an MMIO read in a hard-IRQ handler
(awaited), and timers. The CPU is one: while a hard-IRQ handler awaits an MMIO read, no
process runs (`Kernel.wait_event` resumes a process only when the CPU is free), and
softirqs run at irq_exit, at local_bh_enable, from timer expiry, or in ksoftirqd.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hilnic.kernel.env import MS, Env, EnvEvent, SimulationTimeout, TimerHandle
from hilnic.kernel.ftrace import traced
from hilnic.kernel.softirq import (
    MAX_SOFTIRQ_RESTART,
    MAX_SOFTIRQ_TIME_MS,
    NET_RX_SOFTIRQ,
    NR_SOFTIRQS,
    SOFTIRQ_NAMES,
    TIMER_SOFTIRQ,
)
from hilnic.kernel.tracepoint import (
    trace_irq_handler_entry,
    trace_irq_handler_exit,
    trace_napi_poll,
    trace_softirq_entry,
    trace_softirq_exit,
)

HZ = 1000
JIFFY = MS  # ps per jiffy at HZ=1000

# net_rx_action limits (net/core/dev.c defaults)
NETDEV_BUDGET = 300
NETDEV_BUDGET_USECS = 2000  # = 2 jiffies at HZ=1000
NAPI_POLL_WEIGHT = 64
NETDEV_MAX_BACKLOG = 1000

IRQ_NONE = 0
IRQ_HANDLED = 1
SPURIOUS_LIMIT = 100_000  # note_interrupt(): "nobody cared" after this many unhandled


@dataclass
class SoftnetData:
    """Per-CPU softnet_data counters (/proc/net/softnet_stat)."""

    processed: int = 0
    dropped: int = 0
    time_squeeze: int = 0
    received_rps: int = 0
    flow_limit_count: int = 0
    input_pkt_queue: deque = field(default_factory=deque)
    output_queue: deque = field(default_factory=deque)  # qdiscs waiting for NET_TX (__netif_schedule)
    completion_queue: deque = field(default_factory=deque)  # skbs freed from hard-IRQ (dev_kfree_skb_irq)


class TimerList:
    """struct timer_list: a callback at a jiffies deadline, run in softirq context."""

    def __init__(self, kernel: Kernel, function: Callable[[TimerList], None], name: str = "") -> None:
        self.kernel = kernel
        self.function = function
        self.name = name or getattr(function, "__name__", "timer")
        self.expires = 0
        self._handle: TimerHandle | None = None

    def pending(self) -> bool:
        return self._handle is not None

    def mod_timer(self, expires: int) -> bool:
        """(Re)arm for jiffies `expires`; returns whether it was pending."""
        was = self.del_timer()
        self.expires = expires
        k = self.kernel
        # A timer already due runs at the next tick, as in Linux (never in the same instant).
        when = expires * JIFFY if expires > k.jiffies else (k.jiffies + 1) * JIFFY
        self._handle = k.env.call_at(when, k._timer_fire, self)
        return was

    def del_timer(self) -> bool:
        if self._handle is None:
            return False
        self._handle.cancel()
        self._handle = None
        return True


class NapiStruct:
    """struct napi_struct: a poll function on the CPU's poll list."""

    def __init__(
        self, kernel: Kernel, poll: Callable[[NapiStruct, int], int], weight: int = NAPI_POLL_WEIGHT, name: str = ""
    ) -> None:
        self.kernel = kernel
        self.poll = poll
        self.weight = weight
        self.name = name
        self.scheduled = False  # NAPI_STATE_SCHED
        self.polls = 0

    def napi_schedule(self) -> bool:
        return self.kernel.napi_schedule(self)

    def napi_complete_done(self, work_done: int) -> bool:
        """Take this NAPI off the poll list; the driver then unmasks its interrupt."""
        self.scheduled = False
        k = self.kernel
        if self in k.poll_list:
            k.poll_list.remove(self)
        return True


@dataclass
class IrqDesc:
    irq: int
    name: str
    handler: Callable[[int], Awaitable[int]]
    count: int = 0
    unhandled: int = 0
    disabled: bool = False
    line: bool = False


class Kernel:
    """The CPU and its per-CPU state. One per simulated host."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.context = "process"  # process | softirq | hardirq
        self.preempt_bh = 0  # local_bh_disable depth
        self.softirq_pending = 0
        self.softirq_vec: list[Callable[[], None] | None] = [None] * NR_SOFTIRQS
        self.softirq_count = [0] * NR_SOFTIRQS  # /proc/softirqs (handler runs)
        self.softirq_raised = [0] * NR_SOFTIRQS
        self.softirq_restart_exhausted = 0
        self.ksoftirqd_runs = 0
        self.softnet = SoftnetData()
        self.poll_list: deque[NapiStruct] = deque()
        self.irqs: dict[int, IrqDesc] = {}
        self._timers_expired: deque[TimerList] = deque()
        self._in_hardirq = False
        self._cpu_free: EnvEvent = env.event("cpu_free")
        self._cpu_free.set()
        self._irq_kick: EnvEvent = env.event("irq_kick")
        self._ksoftirqd_kick: EnvEvent = env.event("ksoftirqd")
        self._softirq_scheduled = False
        self.rx_handler: Callable[[Any], None] | None = None  # __netif_receive_skb, set by net
        self.backlog = NapiStruct(self, self._process_backlog, NAPI_POLL_WEIGHT, "backlog")
        self.open_softirq(TIMER_SOFTIRQ, self._run_timer_softirq)
        self.open_softirq(NET_RX_SOFTIRQ, self.net_rx_action)
        self._tasks = [env.spawn(self._cpu_irq_loop(), "cpu_irq"), env.spawn(self._ksoftirqd(), "ksoftirqd/0")]

    # -- time ---------------------------------------------------------------------------

    @property
    def jiffies(self) -> int:
        return self.env.now() // JIFFY

    def now(self) -> int:
        return self.env.now()

    def timer(self, function: Callable[[TimerList], None], name: str = "") -> TimerList:
        return TimerList(self, function, name)

    def _timer_fire(self, timer: TimerList) -> None:
        timer._handle = None
        self._timers_expired.append(timer)
        self.raise_softirq(TIMER_SOFTIRQ)
        self._kick_softirq()

    def _run_timer_softirq(self) -> None:
        while self._timers_expired:
            t = self._timers_expired.popleft()
            if t._handle is None:  # not re-armed meanwhile
                t.function(t)

    # -- softirqs -----------------------------------------------------------------------

    def open_softirq(self, nr: int, action: Callable[[], None]) -> None:
        self.softirq_vec[nr] = action

    def raise_softirq(self, nr: int) -> None:
        """raise_softirq_irqoff: mark pending; it runs at the next irq_exit/bh_enable/kick."""
        self.softirq_pending |= 1 << nr
        self.softirq_raised[nr] += 1
        if self.context == "process" and self.preempt_bh == 0:
            # Raised from process context with BH enabled: wakeup_softirqd in Linux.
            self._kick_softirq()

    def in_interrupt(self) -> bool:
        return self.context != "process" or self.preempt_bh > 0

    def local_bh_disable(self) -> None:
        self.preempt_bh += 1

    def local_bh_enable(self) -> None:
        self.preempt_bh -= 1
        assert self.preempt_bh >= 0, "local_bh_enable without disable"
        if self.preempt_bh == 0 and self.context == "process" and self.softirq_pending:
            self.do_softirq()

    def _kick_softirq(self) -> None:
        """Run pending softirqs soon, at the current time, when the CPU is free."""
        if not self._softirq_scheduled:
            self._softirq_scheduled = True
            self.env.call_later(0, self._kicked)

    def _kicked(self) -> None:
        self._softirq_scheduled = False
        if self._in_hardirq or self.context != "process" or self.preempt_bh:
            return  # irq_exit / bh_enable will run them
        if self.softirq_pending:
            self.do_softirq()

    def do_softirq(self) -> None:
        """__do_softirq: run pending vectors, restarting up to MAX_SOFTIRQ_RESTART times."""
        if self.context != "process" or self.preempt_bh or not self.softirq_pending:
            return
        prev = self.context
        self.context = "softirq"
        end = self.env.now() + MAX_SOFTIRQ_TIME_MS * MS
        restart = MAX_SOFTIRQ_RESTART
        try:
            while True:
                pending, self.softirq_pending = self.softirq_pending, 0
                nr = 0
                while pending:
                    if pending & 1:
                        action = self.softirq_vec[nr]
                        self.softirq_count[nr] += 1
                        trace_softirq_entry(nr)
                        if action is not None:
                            action()
                        trace_softirq_exit(nr)
                    pending >>= 1
                    nr += 1
                if not self.softirq_pending:
                    break
                restart -= 1
                if self.env.now() < end and restart > 0:
                    continue
                self.softirq_restart_exhausted += 1
                self._ksoftirqd_kick.set()  # wakeup_softirqd
                break
        finally:
            self.context = prev

    async def _ksoftirqd(self) -> None:
        while True:
            await self._ksoftirqd_kick.wait()
            self._ksoftirqd_kick.clear()
            await self._cpu_free.wait()
            if self.softirq_pending and self.context == "process" and not self.preempt_bh:
                self.ksoftirqd_runs += 1
                self.do_softirq()

    # -- hard IRQs ----------------------------------------------------------------------

    def request_irq(self, irq: int, handler: Callable[[int], Awaitable[int]], name: str) -> None:
        self.irqs[irq] = IrqDesc(irq, name, handler)

    def free_irq(self, irq: int) -> None:
        self.irqs.pop(irq, None)

    def set_irq_line(self, irq: int, level: bool) -> None:
        """Called by the device model/bridge when its level-sensitive line changes."""
        desc = self.irqs.get(irq)
        if desc is None:
            return
        desc.line = level
        if level:
            self._irq_kick.set()

    async def _cpu_irq_loop(self) -> None:
        while True:
            await self._irq_kick.wait()
            self._irq_kick.clear()
            for desc in list(self.irqs.values()):
                while desc.line and not desc.disabled and desc.irq in self.irqs:
                    await self._handle_irq(desc)

    async def _handle_irq(self, desc: IrqDesc) -> None:
        self._in_hardirq = True
        self._cpu_free.clear()
        prev, self.context = self.context, "hardirq"
        try:
            desc.count += 1
            trace_irq_handler_entry(desc.irq, desc.name)
            ret = await desc.handler(desc.irq)
            trace_irq_handler_exit(desc.irq, ret)
            if ret == IRQ_NONE:
                desc.unhandled += 1
                if desc.unhandled >= SPURIOUS_LIMIT:
                    desc.disabled = True  # "irq N: nobody cared", disabled
            else:
                desc.unhandled = 0
        finally:
            self.context = prev
            self._in_hardirq = False
        # irq_exit(): run softirqs raised by the handler
        if self.softirq_pending and not self.preempt_bh:
            self.do_softirq()
        self._cpu_free.set()

    # -- processes ----------------------------------------------------------------------

    def spawn(self, coro: Any, name: str = "") -> Any:
        return self.env.spawn(self._process(coro), name)

    async def _process(self, coro: Any) -> Any:
        await self._cpu_free.wait()
        return await coro

    async def wait_event(self, event: EnvEvent, timeout: int | None = None) -> bool:
        """Block the calling process until `event` is set; False on timeout (ps)."""
        timed_out = False
        if timeout is not None and not event.is_set:
            handle = None

            def expire() -> None:
                nonlocal timed_out
                timed_out = True
                event.set()

            handle = self.env.call_later(timeout, expire)
            await event.wait()
            handle.cancel()
        else:
            await event.wait()
        await self._cpu_free.wait()
        return not timed_out

    async def msleep(self, ms: float) -> None:
        await self.env.sleep(int(ms * MS))
        await self._cpu_free.wait()

    async def sleep_ps(self, ps: int) -> None:
        await self.env.sleep(ps)
        await self._cpu_free.wait()

    # -- NAPI / NET_RX --------------------------------------------------------------------

    def napi_schedule(self, napi: NapiStruct) -> bool:
        if napi.scheduled:
            return False
        napi.scheduled = True
        self.poll_list.append(napi)
        self.raise_softirq(NET_RX_SOFTIRQ)
        return True

    @traced
    def net_rx_action(self) -> None:
        """Poll NAPI instances: budget 300, 2 jiffies, weight 64 each (net/core/dev.c)."""
        time_limit = self.jiffies + (NETDEV_BUDGET_USECS * HZ) // 1_000_000
        budget = NETDEV_BUDGET
        repoll: list[NapiStruct] = []
        while self.poll_list:
            napi = self.poll_list.popleft()
            napi.polls += 1
            work = napi.poll(napi, napi.weight)
            trace_napi_poll(napi, work, napi.weight)
            if work > napi.weight:
                raise RuntimeError(f"{napi.name} poll returned {work} > weight {napi.weight}")
            budget -= work
            if work == napi.weight and napi.scheduled:
                repoll.append(napi)  # used its whole weight: poll again
            if budget <= 0 or self.jiffies >= time_limit:
                self.softnet.time_squeeze += 1
                break
        self.poll_list.extend(repoll)
        if self.poll_list:
            self.raise_softirq(NET_RX_SOFTIRQ)

    def netif_rx(self, skb: Any) -> int:
        """Queue a received packet on the backlog (enqueue_to_backlog) and schedule NAPI."""
        sd = self.softnet
        if len(sd.input_pkt_queue) >= NETDEV_MAX_BACKLOG:
            sd.dropped += 1
            return 1  # NET_RX_DROP
        sd.input_pkt_queue.append(skb)
        self.napi_schedule(self.backlog)
        if not self.in_interrupt():
            self._kick_softirq()
        return 0

    def _process_backlog(self, napi: NapiStruct, quota: int) -> int:
        work = 0
        q = self.softnet.input_pkt_queue
        while q and work < quota:
            skb = q.popleft()
            self.softnet.processed += 1
            work += 1
            if self.rx_handler is not None:
                self.rx_handler(skb)
        if not q:
            napi.napi_complete_done(work)
            if work == quota:
                work = quota - 1  # completed: do not ask for a repoll
        return work

    # -- run helpers ----------------------------------------------------------------------

    def check_quiescent(self) -> None:
        """Raise if work is left pending (for the end of a test)."""
        if self.softirq_pending:
            names = [SOFTIRQ_NAMES[i] for i in range(NR_SOFTIRQS) if self.softirq_pending >> i & 1]
            raise AssertionError(f"softirqs still pending: {names}")


__all__ = [
    "HZ",
    "IRQ_HANDLED",
    "IRQ_NONE",
    "JIFFY",
    "Kernel",
    "NapiStruct",
    "SimulationTimeout",
    "TimerList",
]
