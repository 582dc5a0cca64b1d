"""Function-graph tracing of kernel-model functions (like ftrace's function_graph).

`@traced` marks a kernel function. With no tracer installed a sync one costs nothing
(it runs its own code; `set_tracer` swaps in a recording wrapper's), an async one an
extra call.
With one installed (`set_tracer`), every entry and exit is recorded with the simulated
time and the CPU context, and listeners (e.g. the waveform's ASCII "kernel function"
signal, hilnic.cosim.swsignals) are told which activation runs.

Activations. Sync kernel code runs to completion at one instant of the event loop (the CPU
time it charges moves the CPU's cursor, which is the Tracer's clock), but `async`
traced functions (hard-IRQ handlers awaiting MMIO reads, a process blocked in
tcp_sendmsg) are suspended at their awaits while other code runs: a hard-IRQ handler and
process work, or two processes, interleave. The tracer therefore keeps one call stack per
*activation* (a chain of calls that runs without suspending: a process, a handler, a
softirq run, a timer callback). `_stack` is the stack of the activation running now;
when a traced coroutine suspends, its frames are taken off `_stack` and kept with it (by
the driver `_TracedAwait`, which steps the coroutine), and put back when it resumes.
Durations are measured per frame (entry to exit of that call, suspensions included) and
nesting depth is within the activation. Each event carries the activation number `act`.
Nothing of this runs when no tracer is installed.
"""

from __future__ import annotations

import functools
import inspect
import sys
import types
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

_tracer: Tracer | None = None

# Listener states (the third argument of a listener call).
RUN = "run"  # the activation whose outermost traced function is `name` starts or resumes
WAIT = "wait"  # it is suspended at an await (MMIO read, sleep, wait_event)
EXIT = "exit"  # its outermost traced function returned: no traced code of it runs


@dataclass
class TraceEvent:
    time: int  # ps
    context: str  # process | softirq | hardirq
    depth: int
    name: str
    kind: str  # "enter" | "exit" | "leaf" | "mark"
    duration: int = 0  # ps, on exit
    detail: str = ""
    act: int = 0  # activation number (events of one call chain share it; 0: outside any)
    cpu: int = 0  # the CPU it ran on


class Tracer:
    """Records function-graph events. `clock()` gives ps, `context()` the CPU context.

    `listeners` are called as `fn(name, context, state)` whenever the running activation
    changes at its outermost level: `state` is RUN (activation `name`, the outermost traced
    function, starts, or resumes and runs traced code, in `context`), WAIT (it suspended
    at an await) or EXIT (it returned). A resumption that suspends again before any traced
    call or return (a process woken while the CPU is busy, going back to wait for it) is
    not told. Calls nested inside an activation do not notify. `calls` counts entries.
    """

    def __init__(self, clock: Callable[[], int], context: Callable[[], str], limit: int = 2_000_000,
                 cpu: Callable[[], int] | None = None) -> None:
        self.clock = clock
        self.context = context
        self.cpu = cpu if cpu is not None else (lambda: 0)  # the running CPU's index
        self.events: list[TraceEvent] = []
        self.limit = limit
        self.dropped = 0
        self.calls = 0
        # frames of the running activation: [name, start ps, context, act, cpu]
        self._stack: list[list[Any]] = []
        self._next_act = 1
        self._resumed: list[Any] | None = None  # resumed outermost frame, RUN not yet told
        self.listeners: list[Callable[[str, str, str], None]] = []

    def _record(self, ev: TraceEvent) -> None:
        if len(self.events) < self.limit:
            self.events.append(ev)
        else:
            self.dropped += 1

    def _notify(self, name: str, context: str, state: str) -> None:
        for fn in self.listeners:
            fn(name, context, state)

    def enter(self, name: str) -> list[Any]:
        if self._resumed is not None:
            self._flush_resume()
        now = self.clock()
        ctx = self.context()
        st = self._stack
        depth = len(st)
        if depth:
            act = st[0][3]
        else:
            act = self._next_act
            self._next_act = act + 1
        self.calls += 1
        cpu = self.cpu()
        self._record(TraceEvent(now, ctx, depth, name, "enter", act=act, cpu=cpu))
        frame = [name, now, ctx, act, cpu]
        st.append(frame)
        if not depth and self.listeners:
            self._notify(name, ctx, RUN)
        return frame

    def exit(self, name: str) -> None:
        if self._resumed is not None:
            self._flush_resume()
        st = self._stack
        if not st:
            return
        frame = st.pop()
        if frame[0] != name:  # not the innermost frame (should not happen): find it
            st.append(frame)
            for i in range(len(st) - 1, -1, -1):
                if st[i][0] == name:
                    frame = st.pop(i)
                    break
            else:
                return
        now = self.clock()
        self._record(TraceEvent(now, frame[2], len(st), name, "exit", now - frame[1], act=frame[3], cpu=frame[4]))
        if not st and self.listeners:
            self._notify(name, frame[2], EXIT)

    def mark(self, text: str) -> None:
        """A comment line in the graph (like trace_printk)."""
        st = self._stack
        self._record(TraceEvent(self.clock(), self.context(), len(st), text, "mark", act=st[0][3] if st else 0,
                                cpu=self.cpu()))

    # -- suspension of traced coroutines ------------------------------------------------

    def _suspend(self, frame: list[Any]) -> list[list[Any]]:
        """`frame`'s coroutine awaits: take it (and anything above it) off the running stack."""
        st = self._stack
        if st and st[-1] is frame:
            st.pop()
            saved = [frame]
        else:
            for i in range(len(st) - 1, -1, -1):
                if st[i] is frame:
                    break
            else:
                return []
            saved = st[i:]
            del st[i:]
        if not st:
            if self._resumed is not None:
                # resumed and suspended again without running traced code (e.g. a process
                # woken while the CPU is busy, waiting for it): nothing to tell
                self._resumed = None
            elif self.listeners:
                self._notify(saved[0][0], saved[0][2], WAIT)
        return saved

    def _resume(self, saved: list[list[Any]]) -> None:
        st = self._stack
        was_idle = not st
        st.extend(saved)
        if was_idle and saved and self.listeners:
            self._resumed = saved[0]  # told (RUN) when it runs traced code

    def _flush_resume(self) -> None:
        frame, self._resumed = self._resumed, None
        if frame is not None and self._stack and self._stack[0] is frame:
            self._notify(frame[0], frame[2], RUN)

    def run(self, coro: Coroutine[Any, Any, Any], name: str) -> _TracedAwait:
        """Await `coro` as traced function `name` (what `@traced` does for async functions)."""
        return _TracedAwait(self, coro, name)

    def depth(self) -> int:
        """Nesting depth of the running activation."""
        return len(self._stack)


class _TracedAwait:
    """Steps a traced coroutine like `await` does, moving its frames off the running stack
    while it is suspended and back when it resumes (values and exceptions pass through)."""

    __slots__ = ("t", "coro", "name")

    def __init__(self, t: Tracer, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.t = t
        self.coro = coro
        self.name = name

    def __await__(self) -> Any:
        t, coro, name = self.t, self.coro, self.name
        frame = t.enter(name)
        send = coro.send
        value: Any = None
        exc: BaseException | None = None
        on_stack = True
        try:
            while True:
                try:
                    yielded = send(value) if exc is None else coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                saved = t._suspend(frame)
                on_stack = False
                try:
                    value = yield yielded
                    exc = None
                except GeneratorExit:  # the task is killed while suspended: no exit event
                    coro.close()
                    raise
                except BaseException as e:
                    value, exc = None, e
                t._resume(saved)
                on_stack = True
        finally:
            if on_stack:
                t.exit(name)


def set_tracer(tracer: Tracer | None) -> None:
    global _tracer
    _tracer = tracer
    # Sync traced functions run their own code while no tracer is installed, and a
    # recording wrapper's code while one is (see `traced`): swap on the transitions.
    want = tracer is not None
    for fn, raw_code, wrap_code in _swapped:
        fn.__code__ = wrap_code if want else raw_code


def get_tracer() -> Tracer | None:
    return _tracer


def trace_mark(text: str) -> None:
    if _tracer is not None:
        _tracer.mark(text)


def traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Record entry/exit of a kernel-model function (sync or async) when tracing is on.

    A sync function is returned as itself, so calling it with no tracer installed costs
    nothing extra: `set_tracer` swaps its `__code__` for a recording wrapper's (which
    calls a copy of the function made from its own code) while a tracer is installed,
    and back when it is removed. Every reference to the function (module globals, ops
    tables, callbacks) follows. Async functions (and nested functions, whose closure a
    wrapper code could not share) keep a wrapper object that looks the tracer up per call.
    """
    name = fn.__name__
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            t = _tracer
            if t is None:
                return await fn(*args, **kwargs)
            return await _TracedAwait(t, fn(*args, **kwargs), name)

        return async_wrapper

    if isinstance(fn, types.FunctionType) and not fn.__closure__ and not fn.__code__.co_freevars:
        wrap_code = _swap_code(fn, name)
        if wrap_code is not None:
            raw_code = fn.__code__
            _swapped.append((fn, raw_code, wrap_code))
            if _tracer is not None:
                fn.__code__ = wrap_code
            return fn

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


# (function, its own code, the recording wrapper's code) for every swapped function
_swapped: list[tuple[types.FunctionType, types.CodeType, types.CodeType]] = []

_RAW = "<ftrace raw function>"  # placeholder constants, replaced by the objects
_MOD = "<ftrace module>"
_NAME = "<ftrace name>"

_SWAP_SRC = """
def wrapper({params}):
    t = _MOD._tracer
    if t is None:
        return _RAW({args})
    t.enter(_NAME)
    try:
        return _RAW({args})
    finally:
        t.exit(_NAME)
"""
_swap_templates: dict[tuple[str, str], types.CodeType] = {}


def _swap_code(fn: types.FunctionType, name: str) -> types.CodeType | None:
    """The code of a recording wrapper for `fn`, to be installed as `fn.__code__`.

    It has fn's own parameters (plain positional-or-keyword ones) or `*args, **kwargs`
    otherwise (fn's defaults then stay unused: the copy of fn applies them), and calls a
    copy of fn built from fn's original code, so it needs no globals of its own: the
    copy, the ftrace module and the name are constants of the code.
    """
    code = fn.__code__
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    names = [p.name for p in params]
    if all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params) and all(
        n.isidentifier() and not n.startswith("_ft_") for n in names
    ):
        pnames = [f"_ft_a{i}" for i in range(len(names))]
        key = (", ".join(pnames), ", ".join(pnames))
        rename = True
    else:
        key = ("*_ft_args, **_ft_kwargs", "*_ft_args, **_ft_kwargs")
        rename = False
    tmpl = _swap_templates.get(key)
    if tmpl is None:
        src = _SWAP_SRC.format(params=key[0], args=key[1]).replace("_MOD._tracer", "_MOD_._tracer")
        src = src.replace("_RAW(", "_RAW_(").replace("(_NAME)", "(_NAME_)").replace("_MOD_", repr(_MOD))
        src = src.replace("_RAW_", repr(_RAW)).replace("_NAME_", repr(_NAME))
        # the placeholders are string constants: `"<ftrace raw function>"(...)` etc.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # "'str' object is not callable"
            mod = compile(src, "<traced wrapper>", "exec")
        tmpl = next(c for c in mod.co_consts if isinstance(c, types.CodeType))
        _swap_templates[key] = tmpl
    raw = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, None)
    raw.__kwdefaults__ = fn.__kwdefaults__
    raw.__qualname__ = fn.__qualname__
    raw.__module__ = fn.__module__
    subst = {_RAW: raw, _MOD: sys.modules[__name__], _NAME: name}
    consts = tuple(subst.get(c, c) if isinstance(c, str) else c for c in tmpl.co_consts)
    varnames = tmpl.co_varnames
    if rename:
        varnames = tuple(names) + varnames[len(names):]
    return tmpl.replace(
        co_consts=consts,
        co_varnames=varnames,
        co_name=code.co_name,
        co_qualname=code.co_qualname,
    )


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
        exec(compile(src, f"<traced wrapper {key}>", "exec"), globals(), ns)
        make = _wrapper_makers[key] = ns["_make"]
    w = make(fn, name)
    # Parameter names and defaults as fn's, so keyword calls and defaults work unchanged.
    w.__code__ = w.__code__.replace(co_varnames=tuple(names) + w.__code__.co_varnames[len(names):])
    w.__defaults__ = fn.__defaults__
    return w
