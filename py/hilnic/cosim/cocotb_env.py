"""The kernel's environment on a cocotb simulator: simulator time, timers, the CPU's tasks.

`CocotbEnv` gives the kernel model, the stack and the driver the same `Env` interface as
`VirtualEnv`, so they run unchanged against the RTL (`RtlNic`). Kernel processes are not
cocotb tasks: as in `VirtualEnv` they are plain coroutines stepped by the env (the same
`VirtualTask`/`VirtualEvent` classes), woken from a run queue drained at once in whichever
cocotb task caused the wake (a DMA burst, a frame, the `irq` line, an MMIO read completing).
Timers live in one heap with one simulator timed callback pending for the earliest (re-armed
when an earlier one is added), so Python wakes per kernel event, never per clock. The bridge's
service loops wake the same way, straight from value-change callbacks (`RawValueWake`).

These raw callbacks use cocotb internals: hilnic.cosim.cocotb_internals has them all. The
whole machine on this env is hilnic.testbed.rtl.rtl_testbed.
"""

from __future__ import annotations

import collections
import heapq
import itertools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from hilnic.cosim.cocotb_internals import raw_callback, raw_handle, raw_timer_api, soon_scheduler
from hilnic.kernel.env import (
    MS,
    Env,
    SimulationTimeout,
    TimerHandle,
    VirtualEvent,
    VirtualTask,
    _SleepArm,
    _Wait,
)

if TYPE_CHECKING:
    from cocotb.simulator import sim_callback

    from hilnic.kernel.core import Kernel

_heappush = heapq.heappush
_heappop = heapq.heappop


class TaskFailed(RuntimeError):
    """A kernel-model task raised; the run stops with it as the cause."""


class CocotbEnv(Env):
    """`Env` on simulator time (ps). Start with `start()` inside a cocotb test."""

    def __init__(self) -> None:
        get_time, register_timed, prec = raw_timer_api()  # prec e.g. -12 for 1 ps steps
        if prec > -12:
            self._ps_per_step = 10 ** (prec + 12)
            self._steps_per_ps = 0
        else:
            self._ps_per_step = 0
            self._steps_per_ps = 10 ** (-12 - prec)
        self._heap: list[TimerHandle] = []
        self._seq = itertools.count()
        self._runq: collections.deque[Callable[[], None]] = collections.deque()
        self._draining = False
        self._failed: list[tuple[VirtualTask, BaseException]] = []
        self._live: set[VirtualTask] = set()  # unfinished tasks (VirtualTask keeps it)
        self._armed: int | None = None  # time the pending simulator callback fires at
        self._cbh: sim_callback | None = None  # that callback (never deregister one that has fired)
        self._due_soon = False  # _fire_timers is scheduled on cocotb's event loop
        self._in_timers = False
        self._fail_event: Any = None
        self._started = False
        self._hold_dut: Any = None
        self._sim_get_time = get_time
        self._register_timed = register_timed
        self._schedule: Callable[[Callable[[], object]], object] | None = None
        self._timer_cb: Callable[[], None] | None = None  # _on_timer as a raw callback
        self.timer_wakes = 0

    # -- time ---------------------------------------------------------------------------
    def now(self) -> int:
        hi, lo = self._sim_get_time()
        if self._ps_per_step:
            return (hi << 32 | lo) * self._ps_per_step
        return (hi << 32 | lo) // self._steps_per_ps

    def _steps(self, ps: int) -> int:
        return ps // self._ps_per_step if self._ps_per_step else ps * self._steps_per_ps

    # -- Env ----------------------------------------------------------------------------
    def call_at(self, when: int, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        h = TimerHandle((when, next(self._seq), fn, args))
        _heappush(self._heap, h)
        if self._started and not self._in_timers:
            armed = self._armed
            if armed is None or when < armed:
                self._arm()
        return h

    def call_later(self, delay: int, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        return self.call_at(self.now() + max(0, delay), fn, *args)

    def event(self, name: str = "") -> VirtualEvent:
        return VirtualEvent(self, name)  # type: ignore[arg-type]

    def sleep(self, delay: int) -> _Wait:
        return _Wait(_SleepArm(self, delay))  # type: ignore[arg-type]

    def spawn(self, coro: Coroutine, name: str = "") -> VirtualTask:
        task = VirtualTask(self, coro, name)  # type: ignore[arg-type]
        self._live.add(task)
        self._ready(task._step)
        return task

    # -- the run queue ------------------------------------------------------------------
    def _ready(self, fn: Callable[[], None]) -> None:
        self._runq.append(fn)
        if not self._draining:
            self._drain()

    def _drain(self) -> None:
        runq = self._runq
        self._draining = True
        try:
            while runq:
                runq.popleft()()
        finally:
            self._draining = False
        if self._failed and self._fail_event is not None:
            self._fail_event.set()

    # -- the timers -----------------------------------------------------------------------
    # One simulator callback (GPI cbAfterDelay, no cocotb task or trigger) is pending for the
    # earliest timer; an earlier call_at replaces it. A timer due now (call_at(now) from a
    # callback or a cocotb task) runs from cocotb's event loop before the current simulator
    # callback returns, as a task woken by an Event would.
    def start(self) -> None:
        """Start serving timers (idempotent)."""
        from cocotb.triggers import Event

        if not self._started:
            self._started = True
            self._schedule = soon_scheduler()
            self._timer_cb = raw_callback(self._on_timer)
            self._fail_event = Event()
            self._arm()

    def stop(self) -> None:
        if self._started:
            self._started = False
            if self._cbh is not None:
                self._cbh.deregister()
                self._cbh = None
            self._armed = None

    def _arm(self) -> None:
        """(Re-)arm the simulator callback for the earliest live timer."""
        heap = self._heap
        while heap and heap[0][2] is None:  # cancelled
            _heappop(heap)
        if self._cbh is not None:
            self._cbh.deregister()
            self._cbh = None
        if not heap:
            self._armed = None
            return
        when = heap[0][0]
        delta = when - self.now()
        if delta <= 0:
            self._armed = when
            if not self._due_soon:
                self._due_soon = True
                self._schedule(self._run_soon)  # type: ignore[misc]
            return
        steps = delta // self._ps_per_step if self._ps_per_step else delta * self._steps_per_ps
        self._armed = when
        self._cbh = self._register_timed(steps if steps > 0 else 1, self._timer_cb)

    def _run_soon(self) -> None:
        self._due_soon = False
        if self._started:
            self._fire_timers()

    def _on_timer(self) -> None:
        """The simulator callback (through raw_callback): a timer is due (the callback has
        fired: forget it)."""
        self._cbh = None
        if self._started:
            self._fire_timers()

    def _fire_timers(self) -> None:
        """Run every timer due now, in (time, FIFO) order (callbacks may add more), then
        arm for the next one."""
        heap = self._heap
        now = self.now()
        if self._cbh is not None:
            self._cbh.deregister()
            self._cbh = None
        self._armed = None
        self.timer_wakes += 1
        self._draining = True
        self._in_timers = True
        runq = self._runq
        try:
            while heap and heap[0][0] <= now:
                _, _, fn, args = _heappop(heap)
                if fn is not None:
                    fn(*args)
                    while runq:
                        runq.popleft()()
        finally:
            self._draining = False
            self._in_timers = False
        if runq:
            self._drain()
        if self._started:
            self._arm()
        if self._failed:
            self._fail_event.set()

    # -- clock hold -----------------------------------------------------------------------
    def hold_clock(self, dut: Any, on: bool = True) -> None:
        """Let the harness stop its clock while the design is quiet (nic_harness `clk_hold`).

        Between kernel events nothing in a quiet design can change, so the simulator skips
        those cycles; an MMIO command or rst restarts the clock at once, and env timers fire
        on time either way. Only for the transaction-level memory (tb_axi_mem): anything
        that awaits clock edges itself (cocotbext-axi's AxiSlave, ClockCycles) needs it off."""
        handle = getattr(dut, "clk_hold", None)
        if handle is None:
            return
        raw_handle(handle).set_signal_val_int(0, 1 if on else 0)
        self._hold_dut = dut if on else None

    def skipped_cycles(self, dut: Any) -> int:
        """Clock cycles skipped so far (including a hold still in progress)."""
        h = getattr(dut, "clk_skipped", None)
        if h is None:
            return 0
        period = int(dut.CLK_PERIOD_PS.value)
        # rising edges strictly before now: at an edge's own time step `cycle` may not count it yet
        by_time = (self.now() - period // 2 + period - 1) // period
        return int(h.value) + max(0, by_time - int(dut.cycle.value))

    # -- running processes --------------------------------------------------------------
    def check_failed(self) -> None:
        if self._failed:
            task, exc = self._failed.pop(0)
            raise TaskFailed(f"kernel task {task.name} failed at {self.now() / 1e6:.3f} us: {exc!r}") from exc

    async def run_process(self, kernel: Kernel, coro: Coroutine[Any, Any, Any], timeout: int, name: str = "") -> Any:
        """Run `coro` as a process-context task of `kernel`; return its result.

        SimulationTimeout if it has not finished `timeout` ps of simulated time from now;
        TaskFailed if it or any other kernel task raised meanwhile."""
        from cocotb.triggers import Event, First, Timer

        self.start()
        self.check_failed()
        task = kernel.spawn(coro, name or getattr(coro, "__qualname__", "process"))
        if not task.done:
            done = Event()
            task._joiners.append(done.set)
            self._fail_event.clear()
            timer = Timer(self._steps(timeout), "step")
            await First(done.wait(), timer, self._fail_event.wait())
        self.check_failed()
        if not task.done:
            raise SimulationTimeout(f"{task.name} not finished after {timeout / MS:.3f} ms simulated "
                                    f"(now {self.now() / 1e6:.3f} us)")
        return task.result()


__all__ = ["CocotbEnv", "TaskFailed"]
