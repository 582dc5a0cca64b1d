"""Tracepoints (include/linux/tracepoint.h, kernel/tracepoint.c) and the CPU's own events.

A tracepoint is a named hook in kernel code: `trace_x(args)` calls every probe that a tool
registered (`trace_x.register`/`unregister`), in order, and costs one empty loop when none is.
Unlike ftrace's function_graph (hilnic.kernel.ftrace: every call of every traced function),
a tracepoint fires only where Linux has one, so recording from it is cheap enough to leave
on: `hilnic run` samples cwnd, ring and BQL occupancy, interrupts and softirqs this way
(hilnic.run.records).

The events fired by this layer (hilnic.kernel.core) are defined here, with Linux's names and
arguments, since include/ sits above the kernel layer: irq_handler_entry/exit and
softirq_entry/exit (include/trace/events/irq.h), napi_poll (include/trace/events/napi.h).
The stack's events are in hilnic/include/trace/events/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast


class Tracepoint(Protocol):
    """struct tracepoint: `trace_x(args)` calls the probes registered on it."""

    name: str
    probes: list[Callable[..., None]]

    def __call__(self, *args: Any) -> None: ...

    def register(self, probe: Callable[..., None]) -> None: ...

    def unregister(self, probe: Callable[..., None]) -> None: ...


def define_tracepoint(name: str) -> Tracepoint:
    """DEFINE_TRACE: a plain function over a list of probes (an object with __call__ would
    cost three times as much per event, also with no probe registered)."""
    probes: list[Callable[..., None]] = []

    def trace(*args: Any) -> None:
        for probe in probes:
            probe(*args)

    def register(probe: Callable[..., None]) -> None:  # tracepoint_probe_register: once
        if probe not in probes:
            probes.append(probe)

    def unregister(probe: Callable[..., None]) -> None:
        if probe in probes:
            probes.remove(probe)

    tp: Any = trace
    tp.name, tp.probes, tp.register, tp.unregister = name, probes, register, unregister
    tp.__qualname__ = tp.__name__ = "trace_" + name.partition(":")[2]
    return cast(Tracepoint, tp)


# include/trace/events/irq.h
trace_irq_handler_entry = define_tracepoint("irq:irq_handler_entry")  # (irq, name)
trace_irq_handler_exit = define_tracepoint("irq:irq_handler_exit")  # (irq, ret)
trace_softirq_entry = define_tracepoint("irq:softirq_entry")  # (vec_nr)
trace_softirq_exit = define_tracepoint("irq:softirq_exit")  # (vec_nr)
# include/trace/events/napi.h
trace_napi_poll = define_tracepoint("napi:napi_poll")  # (napi, work, budget)

__all__ = ["Tracepoint", "define_tracepoint", "trace_irq_handler_entry", "trace_irq_handler_exit", "trace_napi_poll",
           "trace_softirq_entry", "trace_softirq_exit"]
