"""The CPUs: process, softirq and hard-IRQ contexts, softirqs, timers, NAPI, CPU time.

Kernel paths are plain synchronous functions, but they take CPU time: each charges its cost
from the one table, kernel/cost.py (`Kernel.charge`), which moves the CPU's *cursor*, the
simulated time the running code has reached, ahead of the event loop's `now`. What the
outside world sees happens at the cursor (`Kernel.at_cpu`: the driver's MMIO writes, so the
doorbell and the frames behind it), an MMIO read first waits for it, and nothing else starts
on the CPU before it: a process resumes, ksoftirqd or a softirq run raised meanwhile start,
only once the cursor is reached (`_cpu_wait`). Each CPU (`Cpu`; one by default, `--cpus N`)
has Linux's contexts:

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
With several CPUs, the application's process runs on CPU 0 and the NIC's interrupt goes to
the last CPU; timers fire where they were armed, softirqs run where they were raised. The
Kernel acts on its current CPU (`Kernel.cpu`): a process's CPU whenever it runs (`_Pinned`),
the IRQ's or timer's CPU in their handlers, CPU 0 for callbacks from outside.

Approximation: a synchronous section's logic runs when it starts (its state changes are
visible at once) while its effects are placed at the cursor; a preempting IRQ pushes back
the end of the interrupted work but not effects that work had already placed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any, cast

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

# CPUs a host may have (CONFIG_NR_CPUS is larger; a model host runs an application and a NIC)
NR_CPUS_MAX = 64


def nr_cpus_problem(n: int) -> str | None:
    """Why `n` is not a CPU count for a host, or None."""
    return None if 1 <= n <= NR_CPUS_MAX else f"must be 1..{NR_CPUS_MAX}, got {n}"

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
        self.cpu: Cpu | None = None  # the CPU it was armed on, where it runs

    def pending(self) -> bool:
        return self._handle is not None

    def mod_timer(self, expires: int) -> bool:
        """(Re)arm for jiffies `expires`; returns whether it was pending."""
        was = self.del_timer()
        self.expires = expires
        k = self.kernel
        self.cpu = k.cpu
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
    cpu: int = 0  # the CPU it is delivered to (smp_affinity)


class _Pinned:
    """Runs a coroutine on one CPU: the kernel's current CPU is that CPU whenever the
    coroutine runs, and what it was before whenever the coroutine is suspended (so code
    entered from outside, e.g. a device model's callback, never sees a task's CPU)."""

    __slots__ = ("coro", "kernel", "cpu")

    def __init__(self, coro: Any, kernel: Kernel, cpu: Cpu) -> None:
        self.coro, self.kernel, self.cpu = coro, kernel, cpu

    def __await__(self) -> Any:
        it = self.coro.__await__()
        k, cpu = self.kernel, self.cpu
        send: Any = None
        exc: BaseException | None = None
        while True:
            prev, k.cpu = k.cpu, cpu
            try:
                yielded = it.throw(exc) if exc is not None else it.send(send)
            except StopIteration as stop:
                return stop.value
            finally:
                k.cpu = prev
            try:
                send, exc = (yield yielded), None
            except GeneratorExit:  # closed (at the end of a run, or by GC, in any order)
                self.coro.close()
                raise
            except BaseException as e:  # handed to the coroutine, as await does
                send, exc = None, e


class Cpu:
    """One CPU's state (per-CPU data in Linux): its context, softirqs, softnet_data, NAPI
    poll list, CPU-time cursor and /proc/stat counters. The Kernel works on its current CPU."""

    def __init__(self, env: Env, index: int) -> None:
        self.index = index
        self.context = "process"  # process | softirq | hardirq
        self.preempt_bh = 0  # local_bh_disable depth
        self.softirq_pending = 0
        self.softirq_count = [0] * NR_SOFTIRQS  # /proc/softirqs (handler runs)
        self.softirq_raised = [0] * NR_SOFTIRQS
        self.softirq_restart_exhausted = 0
        self.ksoftirqd_runs = 0
        self.softnet = SoftnetData()
        self.poll_list: deque[NapiStruct] = deque()
        self.timers_expired: deque[TimerList] = deque()
        self.hrtimer_soft_expired: deque[Any] | None = None  # kernel/hrtimer.py's soft base
        self.in_hardirq = False
        self.cpu_free: EnvEvent = env.event(f"cpu{index}_free")
        self.cpu_free.set()
        self.irq_kick: EnvEvent = env.event(f"cpu{index}_irq_kick")
        self.ksoftirqd_kick: EnvEvent = env.event(f"ksoftirqd/{index}")
        self.softirq_scheduled = False
        self.backlog: NapiStruct | None = None
        self.cursor = 0  # ps: where the code running on the CPU has got to
        self.cpustat = [0, 0, 0, 0]  # ps of us, sy, si, hi (/proc/stat)
        self.task_runtime = 0  # ps the current task has run since it was last scheduled in
        self.nr_waiting = 0  # tasks waiting for the CPU (runnable, not running)
        self.resched_count = 0  # need_resched() answered true
        self.effect_t = 0  # when the last effect placed by at_cpu happens
        self.sirq_end = 0  # a softirq run started from an interrupt or ksoftirqd ends then
        self.ksoftirqd_runnable = False


def _percpu(name: str) -> property:
    """A Kernel attribute that is the current CPU's (this_cpu_ptr)."""
    return property(lambda self: getattr(self.cpu, name), lambda self, v: setattr(self.cpu, name, v))


def sched_base_slice(ncpus: int) -> int:
    """sysctl_sched_base_slice scaled as update_sysctl() does (SCHED_TUNABLESCALING_LOG):
    0.75 ms * (1 + ilog2(min(ncpus, 8)))."""
    return SCHED_BASE_SLICE_PS * (1 + (min(ncpus, 8).bit_length() - 1))



class Kernel:
    """The host's CPUs (one by default) and the kernel services on them. Kernel paths act on
    the current CPU (`self.cpu`, this_cpu in Linux): per-CPU state read through the Kernel
    (`context`, `cursor`, `softnet`, ...) is the current CPU's."""

    # per-CPU state, the current CPU's
    context = _percpu("context")
    preempt_bh = _percpu("preempt_bh")
    softirq_pending = _percpu("softirq_pending")
    softirq_count = _percpu("softirq_count")
    softirq_raised = _percpu("softirq_raised")
    softirq_restart_exhausted = _percpu("softirq_restart_exhausted")
    ksoftirqd_runs = _percpu("ksoftirqd_runs")
    softnet = _percpu("softnet")
    poll_list = _percpu("poll_list")
    backlog = _percpu("backlog")
    hrtimer_soft_expired = _percpu("hrtimer_soft_expired")
    cursor = _percpu("cursor")
    cpustat = _percpu("cpustat")
    task_runtime = _percpu("task_runtime")
    nr_waiting = _percpu("nr_waiting")
    resched_count = _percpu("resched_count")

    def __init__(self, env: Env, ncpus: int = 1) -> None:
        problem = nr_cpus_problem(ncpus)
        if problem:
            raise ValueError(f"ncpus {problem}")
        self.env = env
        self.softirq_vec: list[Callable[[], None] | None] = [None] * NR_SOFTIRQS
        self.irqs: dict[int, IrqDesc] = {}
        self.rx_handler: Callable[[Any], None] | None = None  # __netif_receive_skb, set by net
        self.cost = CpuCosts(1.0)  # the cost table in ps, scaled by --cpu-scale
        self.cpus = [Cpu(env, i) for i in range(ncpus)]
        self.cpu = self.cpus[0]  # the current CPU
        # Where the NIC's interrupt goes (smp_affinity): another CPU than the application's
        # (CPU 0) when there are two or more, as --cpus N asks.
        self.irq_cpu = self.cpus[-1] if ncpus > 1 else self.cpus[0]
        self.sched_slice = sched_base_slice(ncpus)
        for cpu in self.cpus:
            cpu.backlog = NapiStruct(self, self._process_backlog, NAPI_POLL_WEIGHT, f"backlog/{cpu.index}")
        self.open_softirq(TIMER_SOFTIRQ, self._run_timer_softirq)
        self.open_softirq(NET_RX_SOFTIRQ, self.net_rx_action)
        self._tasks = []
        for cpu in self.cpus:
            self._tasks.append(env.spawn(self._on(cpu, self._cpu_irq_loop, cpu), f"cpu_irq/{cpu.index}"))
            self._tasks.append(env.spawn(self._on(cpu, self._ksoftirqd, cpu), f"ksoftirqd/{cpu.index}"))

    @property
    def ncpus(self) -> int:
        return len(self.cpus)

    def _on(self, cpu: Cpu, fn: Callable[..., Any], *args: Any) -> Coroutine[Any, Any, Any]:
        """A task's body, `fn(*args)` pinned to `cpu`. A generator, made into a coroutine only
        when the task first runs: a kernel built and dropped unrun (unit tests) leaves no
        coroutine that Python would warn was never awaited."""
        def body() -> Generator[Any, Any, Any]:
            return (yield from _Pinned(fn(*args), self, cpu).__await__())
        return cast(Coroutine[Any, Any, Any], body())

    def run_on(self, cpu: Cpu, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` with `cpu` as the current CPU (a callback entering the kernel there)."""
        prev, self.cpu = self.cpu, cpu
        try:
            return fn(*args)
        finally:
            self.cpu = prev

    def cpu_total(self, index: int) -> int:
        """CPU time (ps) summed over the CPUs, for one /proc/stat column."""
        return sum(c.cpustat[index] for c in self.cpus)

    # -- CPU time -----------------------------------------------------------------------------

    def set_cpu_scale(self, scale: float) -> None:
        """--cpu-scale: every cost of the table times `scale` (0 makes kernel work take no time)."""
        self.cost = CpuCosts(scale)

    def charge(self, ps: int) -> None:
        """The running code spends `ps` of CPU time (a cost from self.cost) in its context."""
        cpu = self.cpu
        now = self.env.now()
        c = cpu.cursor
        cpu.cursor = (c if c > now else now) + ps
        ctx = cpu.context
        if ctx == "process":
            cpu.cpustat[CPUTIME_SYSTEM] += ps
            cpu.task_runtime += ps
        else:
            cpu.cpustat[_CTX_CPUTIME[ctx]] += ps

    def cpu_clock(self) -> int:
        """The time the running code has reached (trace.txt's and the waveform's clock)."""
        now = self.env.now()
        c = self.cpu.cursor
        return c if c > now else now

    def at_cpu(self, fn: Callable[..., Any], *args: Any) -> None:
        """Do `fn(*args)`, an effect seen outside the CPU (an MMIO write), when the CPU reaches
        it. Effects keep the order they were made in (a CPU's posted writes are ordered):
        one made by code that preempted earlier work does not overtake that work's."""
        cpu = self.cpu
        c = cpu.cursor
        if c < cpu.effect_t:
            c = cpu.effect_t
        if c > self.env.now():
            cpu.effect_t = c
            self.env.call_at(c, fn, *args)
        else:
            fn(*args)

    async def cpu_pay(self) -> None:
        """The calling task spends its charged time: it returns once the CPU's cursor is
        reached (pushed back by interrupts and softirqs that preempt it meanwhile)."""
        env = self.env
        cpu = self.cpu
        while True:
            d = cpu.cursor - env.now()
            if d > 0:
                await env.sleep(d)
            elif not cpu.cpu_free.is_set:
                await cpu.cpu_free.wait()
            else:
                return

    async def cpu_reach(self) -> None:
        """The running code (a handler, a task) gets to the cursor in simulated time: what it
        does next (an MMIO read) happens after the work charged and the writes made so far."""
        cpu = self.cpu
        c = cpu.cursor if cpu.cursor > cpu.effect_t else cpu.effect_t
        d = c - self.env.now()
        if d > 0:
            await self.env.sleep(d)

    async def user_work(self, ps: int) -> None:
        """The task computes in user mode for `ps` (us): CPU time, preemptible."""
        if ps <= 0:
            return
        cpu = self.cpu
        now = self.env.now()
        c = cpu.cursor
        cpu.cursor = (c if c > now else now) + ps
        cpu.cpustat[CPUTIME_USER] += ps
        cpu.task_runtime += ps
        await self.cpu_pay()

    async def _cpu_wait(self) -> None:
        """A runnable task waits for the CPU: free of IRQs and past the running code."""
        cpu = self.cpu
        cpu.nr_waiting += 1
        try:
            await self.cpu_pay()
        finally:
            cpu.nr_waiting -= 1

    def need_resched(self) -> bool:
        """TIF_NEED_RESCHED: the task ran its slice and another task waits for the CPU."""
        cpu = self.cpu
        if cpu.task_runtime >= self.sched_slice and (cpu.nr_waiting or cpu.ksoftirqd_runnable):
            cpu.resched_count += 1
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
        """A timer expires on the CPU that armed it (timers are per-CPU)."""
        timer._handle = None
        cpu = timer.cpu if timer.cpu is not None else self.cpus[0]
        prev, self.cpu = self.cpu, cpu
        try:
            cpu.timers_expired.append(timer)
            self.raise_softirq(TIMER_SOFTIRQ)
            self._kick_softirq()
        finally:
            self.cpu = prev

    def _run_timer_softirq(self) -> None:
        q = self.cpu.timers_expired
        while q:
            t = q.popleft()
            if t._handle is None:  # not re-armed meanwhile
                t.function(t)

    # -- softirqs -----------------------------------------------------------------------

    def open_softirq(self, nr: int, action: Callable[[], None]) -> None:
        self.softirq_vec[nr] = action

    def raise_softirq(self, nr: int) -> None:
        """raise_softirq_irqoff: mark pending on this CPU; it runs at the next
        irq_exit/bh_enable/kick there."""
        cpu = self.cpu
        cpu.softirq_pending |= 1 << nr
        cpu.softirq_raised[nr] += 1
        if cpu.context == "process" and cpu.preempt_bh == 0:
            # Raised from process context with BH enabled: wakeup_softirqd in Linux.
            self._kick_softirq()

    def in_interrupt(self) -> bool:
        cpu = self.cpu
        return cpu.context != "process" or cpu.preempt_bh > 0

    def local_bh_disable(self) -> None:
        self.cpu.preempt_bh += 1

    def local_bh_enable(self) -> None:
        cpu = self.cpu
        cpu.preempt_bh -= 1
        assert cpu.preempt_bh >= 0, "local_bh_enable without disable"
        if cpu.preempt_bh == 0 and cpu.context == "process" and cpu.softirq_pending:
            self.do_softirq()

    def _kick_softirq(self) -> None:
        """Run this CPU's pending softirqs soon, at the current time, when it is free."""
        cpu = self.cpu
        if not cpu.softirq_scheduled:
            cpu.softirq_scheduled = True
            self.env.call_later(0, self._kicked, cpu)

    def _kicked(self, cpu: Cpu) -> None:
        prev, self.cpu = self.cpu, cpu
        try:
            cpu.softirq_scheduled = False
            if cpu.in_hardirq or cpu.context != "process" or cpu.preempt_bh:
                return  # irq_exit / bh_enable will run them
            now = self.env.now()
            if cpu.sirq_end > now:  # a softirq run is going on: they run after it
                cpu.softirq_scheduled = True
                self.env.call_at(cpu.sirq_end, self._kicked, cpu)
                return
            if cpu.softirq_pending:
                self._softirq_run()
        finally:
            self.cpu = prev

    def _softirq_run(self) -> None:
        """A softirq run that interrupts the task (irq_exit, a raise from elsewhere): it starts
        now, and the task's charged time not yet spent resumes after it."""
        cpu = self.cpu
        now = self.env.now()
        c = cpu.cursor
        rest = c - now if c > now else 0
        cpu.cursor = now
        self.do_softirq()
        end = cpu.cursor
        cpu.sirq_end = end
        cpu.cursor = end + rest

    def do_softirq(self) -> None:
        """__do_softirq: run pending vectors, restarting up to MAX_SOFTIRQ_RESTART times and
        while less than MAX_SOFTIRQ_TIME of CPU time has gone; then wake ksoftirqd."""
        cpu = self.cpu
        if cpu.context != "process" or cpu.preempt_bh or not cpu.softirq_pending:
            return
        prev = cpu.context
        cpu.context = "softirq"
        now = self.env.now()
        end = (cpu.cursor if cpu.cursor > now else now) + MAX_SOFTIRQ_TIME_MS * MS
        restart = MAX_SOFTIRQ_RESTART
        try:
            while True:
                pending, cpu.softirq_pending = cpu.softirq_pending, 0
                nr = 0
                while pending:
                    if pending & 1:
                        action = self.softirq_vec[nr]
                        cpu.softirq_count[nr] += 1
                        self.charge(self.cost.softirq[nr])
                        trace_softirq_entry(nr)
                        if action is not None:
                            action()
                        trace_softirq_exit(nr)
                    pending >>= 1
                    nr += 1
                if not cpu.softirq_pending:
                    break
                restart -= 1
                if cpu.cursor < end and restart > 0:
                    continue
                cpu.softirq_restart_exhausted += 1
                cpu.ksoftirqd_runnable = True
                cpu.ksoftirqd_kick.set()  # wakeup_softirqd
                break
        finally:
            cpu.context = prev

    async def _ksoftirqd(self, cpu: Cpu) -> None:
        while True:
            await cpu.ksoftirqd_kick.wait()
            cpu.ksoftirqd_kick.clear()
            cpu.ksoftirqd_runnable = True
            await self._cpu_wait()
            cpu.ksoftirqd_runnable = False
            if cpu.softirq_pending and cpu.context == "process" and not cpu.preempt_bh:
                cpu.ksoftirqd_runs += 1
                cpu.task_runtime = 0  # the task was switched out for ksoftirqd
                self._softirq_run()

    # -- hard IRQs ----------------------------------------------------------------------

    def request_irq(self, irq: int, handler: Callable[[int], Awaitable[int]], name: str) -> None:
        self.irqs[irq] = IrqDesc(irq, name, handler, cpu=self.irq_cpu.index)

    def free_irq(self, irq: int) -> None:
        self.irqs.pop(irq, None)

    def set_irq_line(self, irq: int, level: bool) -> None:
        """Called by the device model/bridge when its level-sensitive line changes."""
        desc = self.irqs.get(irq)
        if desc is None:
            return
        desc.line = level
        if level:
            self.cpus[desc.cpu].irq_kick.set()

    async def _cpu_irq_loop(self, cpu: Cpu) -> None:
        while True:
            await cpu.irq_kick.wait()
            cpu.irq_kick.clear()
            for desc in list(self.irqs.values()):
                while desc.cpu == cpu.index and desc.line and not desc.disabled and desc.irq in self.irqs:
                    await self._handle_irq(desc)

    async def _handle_irq(self, desc: IrqDesc) -> None:
        env = self.env
        cpu = self.cpu
        t0 = env.now()
        hi0 = cpu.cpustat[CPUTIME_IRQ]
        preempted = cpu.cursor  # the interrupted work's end, pushed back by this IRQ
        cpu.cursor = t0
        cpu.in_hardirq = True
        cpu.cpu_free.clear()
        prev, cpu.context = cpu.context, "hardirq"
        try:
            desc.count += 1
            self.charge(self.cost.hardirq)
            trace_irq_handler_entry(desc.irq, desc.name)
            ret = await desc.handler(desc.irq)
            trace_irq_handler_exit(desc.irq, ret)
            d = cpu.cursor - env.now()
            if d > 0:
                await env.sleep(d)  # the handler's CPU time: nothing else runs on the CPU
            if ret == IRQ_NONE:
                desc.unhandled += 1
                if desc.unhandled >= SPURIOUS_LIMIT:
                    desc.disabled = True  # "irq N: nobody cared", disabled
            else:
                desc.unhandled = 0
        finally:
            cpu.context = prev
            cpu.in_hardirq = False
            now = env.now()
            took = now - t0
            cpu.cpustat[CPUTIME_IRQ] = hi0 + took  # its MMIO reads stall the CPU too
            cpu.cursor = preempted + took if preempted > t0 else now
            if cpu.sirq_end > t0:
                cpu.sirq_end += took
        # irq_exit(): run softirqs raised by the handler, unless it interrupted a softirq run
        # (that run's restart loop takes them: the next round starts when it ends)
        if cpu.softirq_pending and not cpu.preempt_bh:
            if cpu.sirq_end > env.now():
                self._kick_softirq()
            else:
                self._softirq_run()
        cpu.cpu_free.set()

    # -- processes ----------------------------------------------------------------------

    def spawn(self, coro: Any, name: str = "") -> Any:
        """A process on the current CPU (the application is spawned on CPU 0); it stays there."""
        return self.env.spawn(self._on(self.cpu, self._process, coro), name or getattr(coro, "__qualname__", ""))

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
    "NR_CPUS_MAX",
    "Cpu",
    "Kernel",
    "NapiStruct",
    "SimulationTimeout",
    "TimerList",
    "nr_cpus_problem",
]
