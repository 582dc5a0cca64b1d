"""ftrace's function_graph output for `hilnic.kernel.ftrace` events, on simulated time.

Layout as with `funcgraph-abstime` and `funcgraph-tail` on, plus the CPU context:

    #      TIME(us)     CPU  CONTEXT   DURATION                  FUNCTION CALLS
         12.345 |   0)  process |               |  tcp_sendmsg() {
         12.345 |   0)  process |   0.000 us    |    tcp_push();
         12.345 |   0)  process | + 15.032 us   |  } /* tcp_sendmsg */

TIME is the simulated time in microseconds with nanosecond digits: the waveform's time base
(simulator time in ps / 10**6), so the line at TIME 12.345 is at 12345 ns in GTKWave
(the harness's timescale is 1ns/1ps). DURATION uses ftrace's overhead marks
(+ >10 us, ! >100 us, # >1 ms, * >10 ms, @ >100 ms, $ >1 s). A call whose exit follows its
entry directly is printed as one leaf line `func();`, as ftrace does. A duration is the CPU
time the call and its callees charged (kernel/cost.py; 0 with --cpu-scale 0), plus the time
a hard-IRQ handler waits for an MMIO read.

Calls nest within an activation (`TraceEvent.act`): a hard-IRQ handler suspended at an MMIO
read and a process blocked in tcp_sendmsg interleave with other work, each at its own depth,
and a closing brace always belongs to the call of the same activation.
"""

from __future__ import annotations

from typing import Any

_MARKS = [(10**12, "$"), (10**11, "@"), (10**10, "*"), (10**9, "#"), (10**8, "!"), (10**7, "+")]  # ps
_CTX_W = 7

HEADER = ("# tracer: function_graph\n"
          "#\n"
          "# TIME: simulated time in us, ns resolution (waveform time; 12.345 us = 12345 ns)\n"
          "#\n"
          "#      TIME(us)     CPU  CONTEXT   DURATION                  FUNCTION CALLS\n"
          "#         |          |     |        |   |                     |   |   |   |\n")


def _time(ps: int) -> str:
    ns = ps // 1000
    return f"{ns // 1000}.{ns % 1000:03d}"


def _duration(ps: int | None) -> str:
    """The 14-character DURATION cell."""
    if ps is None:
        return " " * 14
    mark = next((m for limit, m in _MARKS if ps > limit), " ")
    return f"{mark} {_time(ps)} us".ljust(14)


def _line(ev: Any, cpu: int, dur: int | None, text: str, depth: int) -> str:
    cpu = getattr(ev, "cpu", cpu)
    return f"{_time(ev.time):>14s} | {cpu:3d})  {ev.context:<{_CTX_W}s} | {_duration(dur)}|  {'  ' * depth}{text}\n"


def function_graph(events: Any, cpu: int = 0, tail: bool = True, header: bool = True) -> str:
    """Render a Tracer (or its `events`) as function_graph text."""
    evs = list(getattr(events, "events", events))
    out = [HEADER] if header else []
    i, n = 0, len(evs)
    while i < n:
        ev = evs[i]
        kind = ev.kind
        if kind == "enter":
            nxt = evs[i + 1] if i + 1 < n else None
            if nxt is not None and nxt.kind == "exit" and nxt.name == ev.name and nxt.depth == ev.depth \
                    and getattr(nxt, "act", 0) == getattr(ev, "act", 0):
                out.append(_line(ev, cpu, nxt.duration, f"{ev.name}();", ev.depth))
                i += 2
                continue
            out.append(_line(ev, cpu, None, f"{ev.name}() {{", ev.depth))
        elif kind == "exit":
            out.append(_line(ev, cpu, ev.duration, "}" + (f" /* {ev.name} */" if tail else ""), ev.depth))
        elif kind == "leaf":
            out.append(_line(ev, cpu, ev.duration, f"{ev.name}();", ev.depth))
        else:  # mark: trace_printk-style comment
            text = ev.name + (f" {ev.detail}" if getattr(ev, "detail", "") else "")
            out.append(_line(ev, cpu, None, f"/* {text} */", ev.depth))
        i += 1
    dropped = getattr(events, "dropped", 0)
    if dropped:
        out.append(f"# {dropped} events lost (tracer limit)\n")
    return "".join(out)


__all__ = ["function_graph"]
