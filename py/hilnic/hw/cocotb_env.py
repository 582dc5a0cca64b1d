"""The kernel's environment on a cocotb simulator: simulator time, timers, the CPU's tasks.

`CocotbEnv` gives the kernel model, the stack and the driver the same `Env` interface as
`VirtualEnv`, so they run unchanged against the RTL (`RtlNic`). Kernel processes are not
cocotb tasks: as in `VirtualEnv` they are plain coroutines stepped by the env (the same
`VirtualTask`/`VirtualEvent` classes), woken from a run queue drained at once in whichever
cocotb task caused the wake (a DMA burst, a frame, the `irq` line, an MMIO read completing).
Timers live in one heap; a single cocotb task sleeps until the earliest one, so Python
wakes per kernel event, never per clock.

    tb = await rtl_testbed(dut, TestbedConfig(), mem_latency_ns=500)
    await tb.env.run_process(tb.host.kernel, tb.setup(), 1 * MS)
    result = await tb.env.run_process(tb.host.kernel, tcp_bulk(tb, 1 << 20), 200 * MS)
"""

from __future__ import annotations

import collections
import heapq
import itertools
from collections.abc import Callable, Coroutine
from typing import Any

from ..kernel.env import (
    MS,
    Env,
    SimulationTimeout,
    TimerHandle,
    VirtualEvent,
    VirtualTask,
    _SleepArm,
    _Wait,
)

_heappush = heapq.heappush
_heappop = heapq.heappop


class TaskFailed(RuntimeError):
    """A kernel-model task raised; the run stops with it as the cause."""


class CocotbEnv(Env):
    """`Env` on simulator time (ps). Start with `start()` inside a cocotb test."""

    def __init__(self) -> None:
        import cocotb

        self._sim = cocotb.simulator
        prec = self._sim.get_precision()  # e.g. -12 for 1 ps steps
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
        self._armed: int | None = None  # time the timer task sleeps until
        self._kick: Any = None
        self._fail_event: Any = None
        self._task: Any = None
        self._hold_dut: Any = None
        self.timer_wakes = 0

    # -- time ---------------------------------------------------------------------------
    def now(self) -> int:
        hi, lo = self._sim.get_sim_time()
        steps = hi << 32 | lo
        return steps * self._ps_per_step if self._ps_per_step else steps // self._steps_per_ps

    def _steps(self, ps: int) -> int:
        return ps // self._ps_per_step if self._ps_per_step else ps * self._steps_per_ps

    # -- Env ----------------------------------------------------------------------------
    def call_at(self, when: int, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        h = TimerHandle((when, next(self._seq), fn, args))
        _heappush(self._heap, h)
        armed = self._armed
        if (armed is None or when < armed) and self._kick is not None:
            self._kick.set()
        return h

    def call_later(self, delay: int, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        return self.call_at(self.now() + max(0, delay), fn, *args)

    def event(self, name: str = "") -> VirtualEvent:
        return VirtualEvent(self, name)  # type: ignore[arg-type]

    def sleep(self, delay: int) -> _Wait:
        return _Wait(_SleepArm(self, delay))  # type: ignore[arg-type]

    def spawn(self, coro: Coroutine, name: str = "") -> VirtualTask:
        task = VirtualTask(self, coro, name)  # type: ignore[arg-type]
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

    # -- the timer task -----------------------------------------------------------------
    def start(self) -> None:
        """Start the timer task (idempotent)."""
        import cocotb
        from cocotb.triggers import Event

        if self._task is None:
            self._kick = Event()
            self._fail_event = Event()
            self._task = cocotb.start_soon(self._timer_loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _timer_loop(self) -> None:
        from cocotb.triggers import First, Timer

        heap = self._heap
        kick = self._kick
        while True:
            while heap and heap[0][2] is None:  # cancelled
                _heappop(heap)
            if not heap:
                self._armed = None
                kick.clear()
                await kick.wait()
                continue
            when = heap[0][0]
            now = self.now()
            if when > now:
                self._armed = when
                kick.clear()
                await First(Timer(self._steps(when - now), "step"), kick.wait())
                self._armed = None
                continue
            # everything due now, in (time, FIFO) order; callbacks may add more
            self.timer_wakes += 1
            self._draining = True
            try:
                while heap and heap[0][0] <= now:
                    _, _, fn, args = _heappop(heap)
                    if fn is not None:
                        fn(*args)
                        runq = self._runq
                        while runq:
                            runq.popleft()()
            finally:
                self._draining = False
            if self._runq:
                self._drain()
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
        handle._handle.set_signal_val_int(0, 1 if on else 0)
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

    async def run_process(self, kernel: Any, coro: Coroutine, timeout: int, name: str = "") -> Any:
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


async def rtl_testbed(dut: Any, cfg: Any = None, *, mem_latency_ns: float = 500.0, env: CocotbEnv | None = None,
                      hold_clock: bool = True, **nic_args: Any) -> Any:
    """A Testbed on the RTL: CocotbEnv + RtlNic (reset, service tasks running) + host.

    `tb.setup()` is left to the caller (a process: `await tb.env.run_process(kernel, tb.setup(), t)`).
    hold_clock: skip the cycles in which the design is quiet (see CocotbEnv.hold_clock).
    nic_args go to RtlNic (e.g. keep_frames, record_bursts, wr_latency_ns, mem_model)."""
    from ..testbed import Testbed
    from .bridge import RtlNic
    from .hostmem import HostMemory

    env = env or CocotbEnv()
    env.start()
    nic_args.setdefault("keep_frames", False)
    nic = RtlNic(dut, HostMemory(), mem_latency_ns=mem_latency_ns, **nic_args)
    await nic.reset()
    nic.attach_env(env)
    if hold_clock and nic.mem_model == "py":
        env.hold_clock(dut)
    return Testbed(env, nic, cfg)


__all__ = ["CocotbEnv", "TaskFailed", "rtl_testbed"]
