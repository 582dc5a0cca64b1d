"""The environment interface: simulated time, timers, events and processes.

The kernel model, the stack and the driver take time and blocking only from an `Env`.
Two implementations exist: `VirtualEnv` here (a discrete-event loop in virtual time, for
pure-Python runs against the behavioral NIC) and the cocotb one (simulator time, the RTL),
which provides the same methods. Time is an integer number of picoseconds everywhere, so
6.4 ns clock periods and 0.8 ns byte times are exact.

Coroutines (`async def`) are processes; they may await only what an Env hands out:
`env.sleep(ps)`, `event.wait()`, `task.join()`. Everything else in the kernel is plain
synchronous code that runs at one instant of the loop (the CPU time it takes is kept by
the kernel's per-CPU cursor, hilnic.kernel.core).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from typing import Any

PS = 1
NS = 1000
US = 1000 * NS
MS = 1000 * US
SEC = 1000 * MS


_heappush = heapq.heappush
_COMPACT_EVERY = 128  # events between checks of the heap size
_COMPACT_MIN = 256
_NEVER = 1 << 256  # "no time bound" in VirtualEnv._run (beyond any int time in use)


class SimulationTimeout(Exception):
    """The run went past its time bound (simulated or wall)."""


class TimerHandle(list):
    """A scheduled callback: [when, seq, fn, args], itself the entry in VirtualEnv's heap
    (ordered by time, then FIFO by sequence number). Cancelling clears fn."""

    __slots__ = ()

    @property
    def when(self) -> int:
        return self[0]

    @property
    def fn(self) -> Callable[..., Any] | None:
        return self[2]

    @property
    def args(self) -> tuple:
        return self[3]

    @property
    def cancelled(self) -> bool:
        return self[2] is None

    def cancel(self) -> None:
        self[2] = None


class Env(ABC):
    """What the kernel model needs from the world: time, timers, events, processes."""

    @abstractmethod
    def now(self) -> int:
        """Current simulated time in picoseconds."""

    @abstractmethod
    def call_at(self, when: int, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run fn(*args) at simulated time `when` (ps), in callback (interrupt-free) context."""

    def call_later(self, delay: int, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        return self.call_at(self.now() + max(0, delay), fn, *args)

    @abstractmethod
    def event(self, name: str = "") -> EnvEvent:
        """A new event that coroutines can wait on."""

    @abstractmethod
    def sleep(self, delay: int) -> Any:
        """Awaitable that resumes after `delay` ps."""

    @abstractmethod
    def spawn(self, coro: Coroutine, name: str = "") -> EnvTask:
        """Start a coroutine as a concurrent task."""


class EnvEvent(ABC):
    @abstractmethod
    def set(self) -> None: ...

    @abstractmethod
    def clear(self) -> None: ...

    @property
    @abstractmethod
    def is_set(self) -> bool: ...

    @abstractmethod
    def wait(self) -> Any:
        """Awaitable that resumes once the event is set (at once if it already is)."""


class EnvTask(ABC):
    @property
    @abstractmethod
    def done(self) -> bool: ...

    @abstractmethod
    def result(self) -> Any: ...

    @abstractmethod
    def join(self) -> Any:
        """Awaitable that resumes when the task has finished."""


# -- virtual time -----------------------------------------------------------------------


class _Wait:
    """What a coroutine yields to the virtual loop: park until `arm` calls `wake`."""

    __slots__ = ("arm",)

    def __init__(self, arm: Callable[[Callable[[], None]], None]) -> None:
        self.arm = arm

    def __await__(self):
        yield self


class _SleepArm:
    """`VirtualEnv.sleep`'s arm: schedule the wake-up `delay` ps from when the task parks."""

    __slots__ = ("env", "delay")

    def __init__(self, env: VirtualEnv, delay: int) -> None:
        self.env = env
        self.delay = delay

    def __call__(self, wake: Callable[[], None]) -> None:
        self.env.call_later(self.delay, wake)


class VirtualEvent(EnvEvent):
    def __init__(self, env: VirtualEnv, name: str = "") -> None:
        self._env = env
        self.name = name
        self._set = False
        self._waiters: list[Callable[[], None]] = []

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for wake in waiters:
            self._env._ready(wake)

    def clear(self) -> None:
        self._set = False

    @property
    def is_set(self) -> bool:
        return self._set

    async def wait(self) -> None:
        if not self._set:
            await _Wait(self._waiters.append)


class VirtualTask(EnvTask):
    def __init__(self, env: VirtualEnv, coro: Coroutine, name: str) -> None:
        self._env = env
        self._coro = coro
        self.name = name or getattr(coro, "__qualname__", "task")
        self._done = False
        self._result: Any = None
        self._exc: BaseException | None = None
        self._joiners: list[Callable[[], None]] = []

    def _step(self) -> None:
        try:
            waited = self._coro.send(None)
        except StopIteration as stop:
            self._finish(stop.value, None)
            return
        except BaseException as exc:
            self._finish(None, exc)
            return
        if not isinstance(waited, _Wait):
            self._finish(None, TypeError(f"task {self.name} awaited {waited!r}, not an Env awaitable"))
            return
        waited.arm(self._wake)

    def _wake(self) -> None:
        self._env._ready(self._step)

    def _finish(self, result: Any, exc: BaseException | None) -> None:
        self._done, self._result, self._exc = True, result, exc
        self._env._live.discard(self)
        if exc is not None:
            self._env._failed.append((self, exc))
        for wake in self._joiners:
            self._env._ready(wake)
        self._joiners.clear()

    @property
    def done(self) -> bool:
        return self._done

    def result(self) -> Any:
        if not self._done:
            raise RuntimeError(f"task {self.name} has not finished")
        if self._exc is not None:
            raise self._exc
        return self._result

    async def join(self) -> Any:
        if not self._done:
            await _Wait(self._joiners.append)
        return self.result()


class VirtualEnv(Env):
    """A discrete-event loop in virtual time. Deterministic: ties run in FIFO order."""

    def __init__(self) -> None:
        self._now = 0
        self._heap: list[TimerHandle] = []
        self._seq = itertools.count()
        self._failed: list[tuple[VirtualTask, BaseException]] = []
        self._compact_at = _COMPACT_MIN  # heap size above which cancelled entries are purged
        self._live: set[VirtualTask] = set()  # unfinished tasks, for close()

    def now(self) -> int:
        return self._now

    def call_at(self, when: int, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        if when < self._now:
            when = self._now
        h = TimerHandle((when, next(self._seq), fn, args))
        _heappush(self._heap, h)
        return h

    def call_later(self, delay: int, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        when = self._now + delay if delay > 0 else self._now
        h = TimerHandle((when, next(self._seq), fn, args))
        _heappush(self._heap, h)
        return h

    def _ready(self, fn: Callable[[], None]) -> None:
        _heappush(self._heap, TimerHandle((self._now, next(self._seq), fn, ())))

    def event(self, name: str = "") -> VirtualEvent:
        return VirtualEvent(self, name)

    def sleep(self, delay: int) -> _Wait:
        return _Wait(_SleepArm(self, delay))

    def spawn(self, coro: Coroutine, name: str = "") -> VirtualTask:
        task = VirtualTask(self, coro, name)
        self._live.add(task)
        self._ready(task._step)
        return task

    def close(self) -> None:
        """End the tasks still waiting (a run stopped early): their clean-up (finally, context
        managers) runs now, against this simulation's state, not whenever the garbage collector
        gets to them. Events are dropped; the Env is not run again."""
        self._heap.clear()
        while self._live:
            task = self._live.pop()
            with contextlib.suppress(Exception):  # a coroutine that fights GeneratorExit
                task._coro.close()
            task._done = True

    def run(self, until: int | None = None, stop: Callable[[], bool] | None = None) -> None:
        """Run events until none are left, `stop()` is true, or time `until` (ps).

        A task that raised re-raises here, so a test never passes over a crashed process.
        """
        self._run(until, stop, None)

    def _run(self, until: int | None, stop: Callable[[], object] | None, task: VirtualTask | None) -> None:
        heap = self._heap
        failed = self._failed
        heappop = heapq.heappop
        if until is None:
            until = _NEVER
        countdown = _COMPACT_EVERY
        while heap:
            if stop is not None and stop():
                break
            if task is not None and task._done:
                break
            if heap[0][0] > until:
                self._now = until
                break
            when, _, fn, args = heappop(heap)
            if fn is None:  # cancelled
                continue
            countdown -= 1
            if not countdown:
                countdown = _COMPACT_EVERY
                if len(heap) > self._compact_at:
                    self._compact()
            self._now = when
            fn(*args)
            if failed:
                task_, exc = failed.pop(0)
                raise RuntimeError(f"task {task_.name} failed at {self._now} ps") from exc
        else:
            if until is not _NEVER:
                self._now = max(self._now, until)

    def _compact(self) -> None:
        """Drop cancelled entries from the heap (re-armed timers leave many behind, and every
        push and pop pays for the heap's depth). Order is unchanged: entries keep their keys."""
        heap = self._heap
        heap[:] = [h for h in heap if h[2] is not None]
        heapq.heapify(heap)
        self._compact_at = 2 * len(heap) + _COMPACT_MIN

    def run_until_complete(self, task: VirtualTask, timeout: int, stop: Callable[[], object] | None = None) -> Any:
        """Run until `task` finishes; SimulationTimeout if it has not by `timeout` ps from now.

        `stop`, polled before each event, ends the loop early (returns None): the caller asked."""
        deadline = self._now + timeout
        self._run(deadline, stop, task)
        if stop is not None and not task.done and stop():
            return None
        if not task.done:
            raise SimulationTimeout(f"task {task.name} not finished after {timeout / MS:.3f} ms simulated")
        return task.result()
