"""Function-graph tracing of kernel-model functions (like ftrace's function_graph).

`@traced` marks a kernel function. With no tracer installed it costs one extra call.
With one installed (`set_tracer`), every entry and exit is recorded with the simulated
time and the CPU context, and listeners (e.g. the waveform's ASCII "kernel function"
signal) are told which function is running.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_tracer: "Tracer | None" = None


@dataclass
class TraceEvent:
    time: int  # ps
    context: str  # process | softirq | hardirq
    depth: int
    name: str
    kind: str  # "enter" | "exit" | "leaf" | "mark"
    duration: int = 0  # ps, on exit
    detail: str = ""


class Tracer:
    """Records function-graph events. `clock()` gives ps, `context()` the CPU context."""

    def __init__(self, clock: Callable[[], int], context: Callable[[], str], limit: int = 2_000_000) -> None:
        self.clock = clock
        self.context = context
        self.events: list[TraceEvent] = []
        self.limit = limit
        self.dropped = 0
        self._stack: list[tuple[str, int]] = []
        self.listeners: list[Callable[[str, str], None]] = []  # (function or "", context)

    def _record(self, ev: TraceEvent) -> None:
        if len(self.events) < self.limit:
            self.events.append(ev)
        else:
            self.dropped += 1

    def enter(self, name: str) -> None:
        now = self.clock()
        self._record(TraceEvent(now, self.context(), len(self._stack), name, "enter"))
        self._stack.append((name, now))
        for fn in self.listeners:
            fn(name, self.context())

    def exit(self, name: str) -> None:
        if not self._stack:
            return
        _, start = self._stack.pop()
        now = self.clock()
        self._record(TraceEvent(now, self.context(), len(self._stack), name, "exit", now - start))
        top = self._stack[-1][0] if self._stack else ""
        for fn in self.listeners:
            fn(top, self.context())

    def mark(self, text: str) -> None:
        """A comment line in the graph (like trace_printk)."""
        self._record(TraceEvent(self.clock(), self.context(), len(self._stack), text, "mark"))


def set_tracer(tracer: Tracer | None) -> None:
    global _tracer
    _tracer = tracer


def get_tracer() -> Tracer | None:
    return _tracer


def trace_mark(text: str) -> None:
    if _tracer is not None:
        _tracer.mark(text)


def traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Record entry/exit of a kernel-model function (sync or async) when tracing is on."""
    name = fn.__name__
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            t = _tracer
            if t is None:
                return await fn(*args, **kwargs)
            t.enter(name)
            try:
                return await fn(*args, **kwargs)
            finally:
                t.exit(name)

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = _tracer
        if t is None:
            return fn(*args, **kwargs)
        t.enter(name)
        try:
            return fn(*args, **kwargs)
        finally:
            t.exit(name)

    return wrapper
