"""One CPU: process, softirq and hard-IRQ contexts, softirqs, timers, NAPI, CPU time.

Kernel paths are plain synchronous functions, but they take CPU time: each charges its cost
from the one table, kernel/cost.py (`Kernel.charge`), which moves the CPU's *cursor*, the
simulated time the running code has reached, ahead of the event loop's `now`. What the
outside world sees happens at the cursor (`Kernel.at_cpu`: the driver's MMIO writes, so the
doorbell and the frames behind it), an MMIO read first waits for it, and nothing else starts
on the CPU before it: a process resumes, ksoftirqd or a softirq run raised meanwhile start,
only once the cursor is reached (`_cpu_wait`). The CPU is one and has Linux's contexts:

- a hard IRQ preempts whatever runs: its handler runs at once, in real simulated time (its
  MMIO reads are awaited, its charged time slept), and the time it took pushes back the end
  of the task or softirq run it interrupted;
- softirqs run at irq_exit (unless a softirq run is what was interrupted), at
  local_bh_enable (inline, on the task's timeline), or soon after being raised elsewhere;
  a run ends after MAX_SOFTIRQ_RESTART rounds or MAX_SOFTIRQ_TIME of CPU time with work
  pending, which goes to ksoftirqd, a task;
- a task (a process) has a time slice: once it has run its slice of CPU time and another
  task (ksoftirqd, another process) waits for the CPU, `need_resched()` is true.

CPU time is accounted as /proc/stat does with IRQ time accounting: us (user work), sy
(kernel work in process context), si (softirqs, ksoftirqd included), hi (hard IRQs).
Approximation: a synchronous section's logic runs when it starts (its state changes are
visible at once) while its effects are placed at the cursor; a preempting IRQ pushes back
the end of the interrupted work but not effects that work had already placed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hilnic.kernel.cost import CpuCosts
from hilnic.kernel.env import MS, US, Env, EnvEvent, SimulationTimeout, TimerHandle
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

# CFS/EEVDF base slice (kernel/sched/fair.c sysctl_sched_base_slice, 0.75 ms, scaled by
# 1 + ilog2(ncpus) = 1 on one CPU): the CPU time a task runs before need_resched() may be set.
SCHED_BASE_SLICE_PS = 750 * US

# /proc/stat columns charged (CPUTIME_USER, _SYSTEM, _SOFTIRQ, _IRQ)
CPUTIME_USER, CPUTIME_SYSTEM, CPUTIME_SOFTIRQ, CPUTIME_IRQ = 0, 1, 2, 3
CPUTIME_NAMES = ("us", "sy", "si", "hi")
_CTX_CPUTIME = {"process": CPUTIME_SYSTEM, "softirq": CPUTIME_SOFTIRQ, "hardirq": CPUTIME_IRQ}

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
        # CPU time (see the module docstring)
        self.cost = CpuCosts(1.0)  # the cost table in ps, scaled by --cpu-scale
        self.cursor = 0  # ps: where the code running on the CPU has got to
        self.cpustat = [0, 0, 0, 0]  # ps of us, sy, si, hi (/proc/stat)
        self.task_runtime = 0  # ps the current task has run since it was last scheduled in
        self.nr_waiting = 0  # tasks waiting for the CPU (runnable, not running)
        self.sched_slice = SCHED_BASE_SLICE_PS
        self.resched_count = 0  # need_resched() answered true
        self._effect_t = 0  # when the last effect placed by at_cpu happens
        self._sirq_end = 0  # a softirq run started from an interrupt or ksoftirqd ends then
        self._ksoftirqd_runnable = False
        self._tasks = [env.spawn(self._cpu_irq_loop(), "cpu_irq"), env.spawn(self._ksoftirqd(), "ksoftirqd/0")]

    # -- CPU time -----------------------------------------------------------------------------

    def set_cpu_scale(self, scale: float) -> None:
        """--cpu-scale: every cost of the table times `scale` (0 makes kernel work take no time)."""
        self.cost = CpuCosts(scale)

    def charge(self, ps: int) -> None:
        """The running code spends `ps` of CPU time (a cost from self.cost) in its context."""
        now = self.env.now()
        c = self.cursor
        self.cursor = (c if c > now else now) + ps
        ctx = self.context
        if ctx == "process":
            self.cpustat[CPUTIME_SYSTEM] += ps
            self.task_runtime += ps
        else:
            self.cpustat[_CTX_CPUTIME[ctx]] += ps

    def cpu_clock(self) -> int:
        """The time the running code has reached (trace.txt's and the waveform's clock)."""
        now = self.env.now()
        c = self.cursor
        return c if c > now else now

    def at_cpu(self, fn: Callable[..., Any], *args: Any) -> None:
        """Do `fn(*args)`, an effect seen outside the CPU (an MMIO write), when the CPU reaches
        it. Effects keep the order they were made in (a CPU's posted writes are ordered):
        one made by code that preempted earlier work does not overtake that work's."""
        c = self.cursor
        if c < self._effect_t:
            c = self._effect_t
        if c > self.env.now():
            self._effect_t = c
            self.env.call_at(c, fn, *args)
        else:
            fn(*args)

    async def cpu_pay(self) -> None:
        """The calling task spends its charged time: it returns once the CPU's cursor is
        reached (pushed back by interrupts and softirqs that preempt it meanwhile)."""
        env = self.env
        while True:
            d = self.cursor - env.now()
            if d > 0:
                await env.sleep(d)
            elif not self._cpu_free.is_set:
                await self._cpu_free.wait()
            else:
                return

    async def cpu_reach(self) -> None:
        """The running code (a handler, a task) gets to the cursor in simulated time: what it
        does next (an MMIO read) happens after the work charged and the writes made so far."""
        c = self.cursor if self.cursor > self._effect_t else self._effect_t
        d = c - self.env.now()
        if d > 0:
            await self.env.sleep(d)

    async def user_work(self, ps: int) -> None:
        """The task computes in user mode for `ps` (us): CPU time, preemptible."""
        if ps <= 0:
            return
        now = self.env.now()
        c = self.cursor
        self.cursor = (c if c > now else now) + ps
        self.cpustat[CPUTIME_USER] += ps
        self.task_runtime += ps
        await self.cpu_pay()

    async def _cpu_wait(self) -> None:
        """A runnable task waits for the CPU: free of IRQs and past the running code."""
        self.nr_waiting += 1
        try:
            await self.cpu_pay()
        finally:
            self.nr_waiting -= 1

    def need_resched(self) -> bool:
        """TIF_NEED_RESCHED: the task ran its slice and another task waits for the CPU."""
        if self.task_runtime >= self.sched_slice and (self.nr_waiting or self._ksoftirqd_runnable):
            self.resched_count += 1
            return True
        return False
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
        now = self.env.now()
        if self._sirq_end > now:  # a softirq run is going on: they run after it
            self._softirq_scheduled = True
            self.env.call_at(self._sirq_end, self._kicked)
            return
        if self.softirq_pending:
            self._softirq_run()

    def _softirq_run(self) -> None:
        """A softirq run that interrupts the task (irq_exit, a raise from elsewhere): it starts
        now, and the task's charged time not yet spent resumes after it."""
        now = self.env.now()
        c = self.cursor
        rest = c - now if c > now else 0
        self.cursor = now
        self.do_softirq()
        end = self.cursor
        self._sirq_end = end
        self.cursor = end + rest

    def do_softirq(self) -> None:
        """__do_softirq: run pending vectors, restarting up to MAX_SOFTIRQ_RESTART times and
        while less than MAX_SOFTIRQ_TIME of CPU time has gone; then wake ksoftirqd."""
        if self.context != "process" or self.preempt_bh or not self.softirq_pending:
            return
        prev = self.context
        self.context = "softirq"
        now = self.env.now()
        end = (self.cursor if self.cursor > now else now) + MAX_SOFTIRQ_TIME_MS * MS
        restart = MAX_SOFTIRQ_RESTART
        try:
            while True:
                pending, self.softirq_pending = self.softirq_pending, 0
                nr = 0
                while pending:
                    if pending & 1:
                        action = self.softirq_vec[nr]
                        self.softirq_count[nr] += 1
                        self.charge(self.cost.softirq[nr])
                        trace_softirq_entry(nr)
                        if action is not None:
                            action()
                        trace_softirq_exit(nr)
                    pending >>= 1
                    nr += 1
                if not self.softirq_pending:
                    break
                restart -= 1
                if self.cursor < end and restart > 0:
                    continue
                self.softirq_restart_exhausted += 1
                self._ksoftirqd_runnable = True
                self._ksoftirqd_kick.set()  # wakeup_softirqd
                break
        finally:
            self.context = prev

    async def _ksoftirqd(self) -> None:
        while True:
            await self._ksoftirqd_kick.wait()
            self._ksoftirqd_kick.clear()
            self._ksoftirqd_runnable = True
            await self._cpu_wait()
            self._ksoftirqd_runnable = False
            if self.softirq_pending and self.context == "process" and not self.preempt_bh:
                self.ksoftirqd_runs += 1
                self.task_runtime = 0  # the task was switched out for ksoftirqd
                self._softirq_run()

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
        env = self.env
        t0 = env.now()
        hi0 = self.cpustat[CPUTIME_IRQ]
        preempted = self.cursor  # the interrupted work's end, pushed back by this IRQ
        self.cursor = t0
        self._in_hardirq = True
        self._cpu_free.clear()
        prev, self.context = self.context, "hardirq"
        try:
            desc.count += 1
            self.charge(self.cost.hardirq)
            trace_irq_handler_entry(desc.irq, desc.name)
            ret = await desc.handler(desc.irq)
            trace_irq_handler_exit(desc.irq, ret)
            d = self.cursor - env.now()
            if d > 0:
                await env.sleep(d)  # the handler's CPU time: nothing else runs on the CPU
            if ret == IRQ_NONE:
                desc.unhandled += 1
                if desc.unhandled >= SPURIOUS_LIMIT:
                    desc.disabled = True  # "irq N: nobody cared", disabled
            else:
                desc.unhandled = 0
        finally:
            self.context = prev
            self._in_hardirq = False
            now = env.now()
            took = now - t0
            self.cpustat[CPUTIME_IRQ] = hi0 + took  # its MMIO reads stall the CPU too
            self.cursor = preempted + took if preempted > t0 else now
            if self._sirq_end > t0:
                self._sirq_end += took
        # irq_exit(): run softirqs raised by the handler, unless it interrupted a softirq run
        # (that run's restart loop takes them: the next round starts when it ends)
        if self.softirq_pending and not self.preempt_bh:
            if self._sirq_end > env.now():
                self._kick_softirq()
            else:
                self._softirq_run()
        self._cpu_free.set()

    # -- processes ----------------------------------------------------------------------

    def spawn(self, coro: Any, name: str = "") -> Any:
        return self.env.spawn(self._process(coro), name)

    async def _process(self, coro: Any) -> Any:
        await self._cpu_wait()
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

            await self.cpu_pay()  # the work charged before blocking is done first
            handle = self.env.call_later(timeout, expire)
            await event.wait()
            handle.cancel()
        else:
            await self.cpu_pay()
            await event.wait()
        self.task_runtime = 0  # it blocked: a new slice when it runs again
        await self._cpu_wait()
        return not timed_out

    async def msleep(self, ms: float) -> None:
        await self.sleep_ps(int(ms * MS))

    async def sleep_ps(self, ps: int) -> None:
        await self.cpu_pay()
        await self.env.sleep(ps)
        self.task_runtime = 0
        await self._cpu_wait()

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
        time_limit = self.cpu_clock() // JIFFY + (NETDEV_BUDGET_USECS * HZ) // 1_000_000
        budget = NETDEV_BUDGET
        repoll: list[NapiStruct] = []
        while self.poll_list:
            napi = self.poll_list.popleft()
            napi.polls += 1
            self.charge(self.cost.napi_poll)
            work = napi.poll(napi, napi.weight)
            trace_napi_poll(napi, work, napi.weight)
            if work > napi.weight:
                raise RuntimeError(f"{napi.name} poll returned {work} > weight {napi.weight}")
            budget -= work
            if work == napi.weight and napi.scheduled:
                repoll.append(napi)  # used its whole weight: poll again
            if budget <= 0 or self.cpu_clock() // JIFFY >= time_limit:
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
