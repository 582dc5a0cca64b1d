"""Tracer: one call stack per activation, so interleaved contexts nest and time right."""

from __future__ import annotations

import pytest

from hilnic.kernel import ftrace
from hilnic.kernel.core import IRQ_HANDLED, Kernel
from hilnic.kernel.env import NS, US, VirtualEnv
from hilnic.kernel.ftrace import EXIT, RUN, WAIT, Tracer, traced
from hilnic.kernel.softirq import NET_TX_SOFTIRQ
from hilnic.trace.graph import function_graph


@traced
def inner() -> int:
    return 1


@traced
def e1000_clean_tx_irq() -> None:
    pass


@traced
def net_tx_action() -> None:
    pass


def _kernel_with_tracer() -> tuple[Kernel, Tracer]:
    k = Kernel(VirtualEnv())
    k.set_cpu_scale(0)  # the tracer's bookkeeping at exact times: no CPU costs
    k.env.run(until=0)  # start the kernel's own tasks (they park on their events)
    tr = Tracer(clock=k.env.now, context=lambda: k.context)
    return k, tr


@pytest.fixture
def traced_kernel():
    k, tr = _kernel_with_tracer()
    ftrace.set_tracer(tr)
    try:
        yield k, tr
    finally:
        ftrace.set_tracer(None)


def _scenario(k: Kernel) -> list[str]:
    """Two processes in tcp_sendmsg blocked across a hard IRQ whose handler awaits MMIO.

    t=0     A: tcp_sendmsg { inner(); sleeps 1 us        B: tcp_sendmsg { sleeps 2.5 us
    t=1us   A: } (1 us)
    t=2us   IRQ: e1000_intr { e1000_clean_tx_irq(); MMIO read 700 ns; e1000_clean_tx_irq(); }
            then NET_TX at irq_exit: net_tx_action();
    t=2.7us B (woke at 2.5 us, waited for the CPU): inner(); } (2.7 us)
    """
    done: list[str] = []

    @traced
    async def tcp_sendmsg(who: str, pre: bool, sleep_ps: int) -> str:
        if pre:
            inner()
        await k.sleep_ps(sleep_ps)
        if not pre:
            inner()
        return who

    @traced
    async def e1000_intr(irq: int) -> int:
        e1000_clean_tx_irq()
        await k.env.sleep(700 * NS)  # the ICR read
        e1000_clean_tx_irq()
        k.raise_softirq(NET_TX_SOFTIRQ)
        k.set_irq_line(irq, False)
        return IRQ_HANDLED

    async def proc(who: str, pre: bool, sleep_ps: int) -> None:
        done.append(await tcp_sendmsg(who, pre, sleep_ps))

    k.open_softirq(NET_TX_SOFTIRQ, net_tx_action)
    k.request_irq(9, e1000_intr, "eth0")
    k.spawn(proc("A", True, 1 * US))
    k.spawn(proc("B", False, 2500 * NS))
    k.env.call_at(2 * US, k.set_irq_line, 9, True)
    k.env.run(until=10 * US)
    return done


def _calls(tr: Tracer) -> list[tuple]:
    return [(e.time, e.context, e.depth, e.name, e.kind, e.duration) for e in tr.events]


def test_interleaved_activations_nest_and_time_per_activation(traced_kernel):
    k, tr = traced_kernel
    assert _scenario(k) == ["A", "B"]
    assert _calls(tr) == [
        (0, "process", 0, "tcp_sendmsg", "enter", 0),  # A
        (0, "process", 1, "inner", "enter", 0),
        (0, "process", 1, "inner", "exit", 0),
        (0, "process", 0, "tcp_sendmsg", "enter", 0),  # B: depth 0, not nested in A
        (1 * US, "process", 0, "tcp_sendmsg", "exit", 1 * US),  # A's, not B's
        (2 * US, "hardirq", 0, "e1000_intr", "enter", 0),
        (2 * US, "hardirq", 1, "e1000_clean_tx_irq", "enter", 0),
        (2 * US, "hardirq", 1, "e1000_clean_tx_irq", "exit", 0),
        (2700 * NS, "hardirq", 1, "e1000_clean_tx_irq", "enter", 0),
        (2700 * NS, "hardirq", 1, "e1000_clean_tx_irq", "exit", 0),
        (2700 * NS, "hardirq", 0, "e1000_intr", "exit", 700 * NS),
        (2700 * NS, "softirq", 0, "net_tx_action", "enter", 0),
        (2700 * NS, "softirq", 0, "net_tx_action", "exit", 0),
        (2700 * NS, "process", 1, "inner", "enter", 0),  # B resumed, inside its tcp_sendmsg
        (2700 * NS, "process", 1, "inner", "exit", 0),
        (2700 * NS, "process", 0, "tcp_sendmsg", "exit", 2700 * NS),
    ]
    acts = [e.act for e in tr.events]
    a, b, irq, soft = acts[0], acts[3], acts[5], acts[11]
    assert len({a, b, irq, soft}) == 4
    assert acts == [a, a, a, b, a, irq, irq, irq, irq, irq, irq, soft, soft, b, b, b]
    assert tr._stack == [] and tr.calls == 8


def test_each_activation_is_well_nested(traced_kernel):
    k, tr = traced_kernel
    _scenario(k)
    stacks: dict[int, list[str]] = {}
    for e in tr.events:
        st = stacks.setdefault(e.act, [])
        if e.kind == "enter":
            assert e.depth == len(st)
            st.append(e.name)
        elif e.kind == "exit":
            assert st.pop() == e.name and e.depth == len(st)
    assert all(not st for st in stacks.values())


def test_function_graph_pairs_braces_within_an_activation(traced_kernel):
    k, tr = traced_kernel
    _scenario(k)
    text = function_graph(tr)
    assert "# TIME: simulated time in us, ns resolution" in text
    body = [ln for ln in text.splitlines() if not ln.startswith("#")]
    cells = [[c.strip() for c in ln.split("|")] for ln in body]
    texts = [ln.split("|", 3)[3][2:] for ln in body]
    assert texts == [
        "tcp_sendmsg() {",
        "  inner();",
        "tcp_sendmsg() {",  # B's entry is not folded with A's exit into one leaf
        "} /* tcp_sendmsg */",
        "e1000_intr() {",
        "  e1000_clean_tx_irq();",
        "  e1000_clean_tx_irq();",
        "} /* e1000_intr */",
        "net_tx_action();",
        "  inner();",
        "} /* tcp_sendmsg */",
    ]
    # TIME column: simulated us with ns digits (the waveform's time base)
    assert [c[0] for c in cells] == ["0.000"] * 3 + ["1.000", "2.000", "2.000"] + ["2.700"] * 5
    assert [c[2] for c in cells][3] == "1.000 us"
    assert [c[2] for c in cells][7] == "0.700 us"
    assert [c[2] for c in cells][10] == "2.700 us"
    assert [c[1] for c in cells][4] == "0)  hardirq"


def test_listeners_see_activation_boundaries_only(traced_kernel):
    k, tr = traced_kernel
    seen: list[tuple] = []
    tr.listeners.append(lambda name, ctx, state: seen.append((k.env.now(), name, ctx, state)))
    _scenario(k)
    assert seen == [
        (0, "tcp_sendmsg", "process", RUN),  # A
        (0, "tcp_sendmsg", "process", WAIT),
        (0, "tcp_sendmsg", "process", RUN),  # B
        (0, "tcp_sendmsg", "process", WAIT),
        (1 * US, "tcp_sendmsg", "process", RUN),
        (1 * US, "tcp_sendmsg", "process", EXIT),
        (2 * US, "e1000_intr", "hardirq", RUN),
        (2 * US, "e1000_intr", "hardirq", WAIT),
        (2700 * NS, "e1000_intr", "hardirq", RUN),
        (2700 * NS, "e1000_intr", "hardirq", EXIT),
        (2700 * NS, "net_tx_action", "softirq", RUN),
        (2700 * NS, "net_tx_action", "softirq", EXIT),
        (2700 * NS, "tcp_sendmsg", "process", RUN),
        (2700 * NS, "tcp_sendmsg", "process", EXIT),
    ]


def test_nested_traced_coroutines_suspend_and_resume_together(traced_kernel):
    k, tr = traced_kernel
    env = k.env

    @traced
    async def sk_stream_wait_memory() -> None:
        await env.sleep(300 * NS)

    @traced
    async def tcp_sendmsg_locked() -> int:
        inner()
        await sk_stream_wait_memory()
        return inner() + 1

    @traced
    async def tcp_sendmsg() -> int:
        return await tcp_sendmsg_locked()

    @traced
    def run_timer() -> None:
        inner()

    env.call_at(100 * NS, run_timer)  # runs while the process is blocked: depth 0
    task = env.spawn(tcp_sendmsg())
    assert env.run_until_complete(task, 1 * US) == 2
    got = [(e.time, e.depth, e.name, e.kind, e.duration) for e in tr.events]
    assert got == [
        (0, 0, "tcp_sendmsg", "enter", 0),
        (0, 1, "tcp_sendmsg_locked", "enter", 0),
        (0, 2, "inner", "enter", 0),
        (0, 2, "inner", "exit", 0),
        (0, 2, "sk_stream_wait_memory", "enter", 0),
        (100 * NS, 0, "run_timer", "enter", 0),
        (100 * NS, 1, "inner", "enter", 0),
        (100 * NS, 1, "inner", "exit", 0),
        (100 * NS, 0, "run_timer", "exit", 0),
        (300 * NS, 2, "sk_stream_wait_memory", "exit", 300 * NS),
        (300 * NS, 2, "inner", "enter", 0),
        (300 * NS, 2, "inner", "exit", 0),
        (300 * NS, 1, "tcp_sendmsg_locked", "exit", 300 * NS),
        (300 * NS, 0, "tcp_sendmsg", "exit", 300 * NS),
    ]
    assert tr._stack == []


def test_exceptions_and_killed_coroutines_leave_the_stack_clean(traced_kernel):
    k, tr = traced_kernel
    env = k.env

    @traced
    async def fails() -> None:
        await env.sleep(10)
        raise ValueError("boom")

    @traced
    async def catches() -> str:
        try:
            await fails()
        except ValueError:
            return "caught"
        return "no"

    task = env.spawn(catches())
    assert env.run_until_complete(task, 1 * US) == "caught"
    assert [(e.name, e.kind, e.depth) for e in tr.events] == [
        ("catches", "enter", 0), ("fails", "enter", 1), ("fails", "exit", 1), ("catches", "exit", 0)]

    # A coroutine closed while suspended (a killed task): no exit event, nothing left over
    tr.events.clear()
    coro = catches()
    coro.send(None)  # runs to the first await, then parks
    assert tr._stack == []
    coro.close()
    assert [(e.name, e.kind) for e in tr.events] == [("catches", "enter"), ("fails", "enter")]
    assert tr._stack == []
    inner()
    assert tr.events[-1].depth == 0


def test_values_and_exceptions_thrown_in_pass_through(traced_kernel):
    """The driver forwards what the scheduler sends or throws into the coroutine."""
    _k, tr = traced_kernel

    class Yield:
        def __await__(self):
            return (yield "trigger")

    @traced
    async def waits() -> object:
        try:
            return await Yield()
        except KeyError as e:
            return ("thrown", e.args[0])

    coro = waits()
    assert coro.send(None) == "trigger"
    with pytest.raises(StopIteration) as si:
        coro.send(42)
    assert si.value.value == 42
    coro = waits()
    coro.send(None)
    with pytest.raises(StopIteration) as si:
        coro.throw(KeyError("x"))
    assert si.value.value == ("thrown", "x")
    assert tr._stack == [] and [e.kind for e in tr.events] == ["enter", "exit", "enter", "exit"]


def test_traced_coroutine_without_tracer_is_plain():
    env = VirtualEnv()

    @traced
    async def f(x: int) -> int:
        await env.sleep(5)
        return x * 2

    assert ftrace.get_tracer() is None
    assert env.run_until_complete(env.spawn(f(21)), 100) == 42


def test_mark_carries_the_activation(traced_kernel):
    _k, tr = traced_kernel

    @traced
    def outer() -> None:
        ftrace.trace_mark("hello")

    outer()
    ftrace.trace_mark("outside")
    enter, mark, _exit, outside = tr.events
    assert mark.act == enter.act != 0 and mark.depth == 1
    assert outside.act == 0 and outside.depth == 0
