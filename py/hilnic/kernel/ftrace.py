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

    wrapper = _fixed_arity_wrapper(fn, name)
    if wrapper is None:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = _tracer
            if t is None:
                return fn(*args, **kwargs)
            t.enter(name)
            try:
                return fn(*args, **kwargs)
            finally:
                t.exit(name)

    return functools.wraps(fn)(wrapper)


_WRAPPER_SRC = """
def _make(fn, name):
    def wrapper({params}):
        t = _tracer
        if t is None:
            return fn({args})
        t.enter(name)
        try:
            return fn({args})
        finally:
            t.exit(name)
    return wrapper
"""
_wrapper_makers: dict[tuple[int, int], Callable[..., Any]] = {}


def _fixed_arity_wrapper(fn: Callable[..., Any], name: str) -> Callable[..., Any] | None:
    """A wrapper with fn's own positional parameters (no *args/**kwargs packing per call).

    Only for plain signatures (positional-or-keyword parameters, defaults allowed); the
    wrapper takes fn's defaults and passes every argument on by position, so calls behave
    exactly as they would on fn. The tracer is still looked up at each call.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
        return None
    names = [p.name for p in params]
    if not all(n.isidentifier() and not n.startswith("_ft_") for n in names) or {"fn", "name", "t"} & set(names):
        return None
    ndefaults = len(fn.__defaults__ or ())
    key = (len(names), ndefaults)
    make = _wrapper_makers.get(key)
    if make is None:
        pnames = [f"_ft_a{i}" for i in range(len(names))]
        ns: dict[str, Any] = {}
        src = _WRAPPER_SRC.format(params=", ".join(pnames), args=", ".join(pnames))
        exec(compile(src, f"<traced wrapper {key}>", "exec"), globals(), ns)  # noqa: S102
        make = _wrapper_makers[key] = ns["_make"]
    w = make(fn, name)
    # Parameter names and defaults as fn's, so keyword calls and defaults work unchanged.
    w.__code__ = w.__code__.replace(co_varnames=tuple(names) + w.__code__.co_varnames[len(names):])
    w.__defaults__ = fn.__defaults__
    return w
