"""`hilnic plot RUN_DIR`: one run over simulated time, from its records.npz.

Four panels on one time axis (ms since the run started): TCP's congestion window (segments)
and bytes in flight; descriptors in use on the transmit ring; BQL's limit and inflight bytes;
the hard-IRQ handler starts and softirq runs, one row each. The axis spans the transmit path's
activity (first to last ring or TCP sample), where a run's whole simulated time is mostly
set-up and teardown; `full=True` shows all of it. Written as RUN_DIR/plot.png and plot.svg
(or into `out`). `plot_run` returns the figure and the series it drew (`RunPlot.series`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from hilnic.plot.figure import FORMATS, new_figure, save, style
from hilnic.run.config import fmt_size
from hilnic.run.records import RECORDS_NAME, RecordsError, load_records

PLOT_STEM = "plot"
MARGIN = 0.03  # of the shown span, each side
PS_PER_MS = 1e9
SOFTIRQ_ROWS = ("NET_TX", "NET_RX", "TIMER", "TASKLET")  # the ones the network path raises


class PlotError(ValueError):
    """Nothing to plot there: one line, for the user."""


@dataclass
class RunPlot:
    figure: Figure
    paths: list[Path]
    series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # name -> (ms, values)


def plot_run(run_dir: str | Path, out: str | Path | None = None, formats: tuple[str, ...] = FORMATS,
             full: bool = False) -> RunPlot:
    d = Path(run_dir)
    if not d.is_dir():
        raise PlotError(f"{d}: not a directory")
    try:
        summary = json.loads((d / "summary.json").read_text())
    except (OSError, ValueError):
        raise PlotError(f"{d}: no summary.json (not a hilnic run folder)") from None
    try:
        rec = load_records(d / RECORDS_NAME)
    except RecordsError as exc:
        raise PlotError(str(exc)) from None
    with style():
        fig, series = _draw(summary, rec, full)
        paths = save(fig, Path(out or d) / PLOT_STEM, formats)
    return RunPlot(fig, paths, series)


def _draw(s: dict[str, Any], rec: dict[str, np.ndarray], full: bool) -> tuple[Figure, dict[str, Any]]:
    t0 = int(rec["t0_ps"])

    def ms(key: str) -> np.ndarray:
        return (rec[key] - t0) / PS_PER_MS

    series: dict[str, Any] = {}
    fig = new_figure(9.0, 8.0)
    ax_tcp, ax_ring, ax_bql, ax_irq = fig.subplots(4, 1, sharex=True, height_ratios=(3, 2, 2, 1.6))
    cfg = s.get("config") or {}
    fig.suptitle(f"hilnic run: {fmt_size(s.get('nbytes', 0))} over {str(s.get('proto', '?')).upper()} on "
                 f"{s.get('sim', '?')} (MTU {s.get('mtu')}, ring {cfg.get('ring_size')}, ITR {cfg.get('itr')}, "
                 f"loss {cfg.get('loss_rate', 0):g}) -- {s.get('status', '?')}", fontsize=10)

    # TCP
    if len(rec["tcp_t_ps"]):
        x = ms("tcp_t_ps")
        ax_tcp.step(x, rec["tcp_cwnd"], where="post", color="C0", label="cwnd")
        ax_tcp.set_ylabel("cwnd (segments)", color="C0")
        ax_tcp.set_ylim(bottom=0)
        ax_in = ax_tcp.twinx()
        ax_in.grid(False)
        flight = rec["tcp_in_flight"] / 1024
        ax_in.step(x, flight, where="post", color="C1", label="bytes in flight")
        ax_in.set_ylabel("in flight (KiB)", color="C1")
        ax_in.set_ylim(bottom=0)
        lines = ax_tcp.get_lines() + ax_in.get_lines()
        ax_tcp.legend(lines, [ln.get_label() for ln in lines], loc="upper left")
        series["cwnd"] = (x, rec["tcp_cwnd"])
        series["in_flight_kib"] = (x, flight)
    else:
        ax_tcp.text(0.5, 0.5, "no TCP connection (UDP run)", transform=ax_tcp.transAxes, ha="center", va="center")
    ax_tcp.set_title("TCP: congestion window and bytes in flight (snd_nxt - snd_una)", loc="left", fontsize=9)

    # ring and BQL
    x = ms("tx_t_ps")
    size = int(rec["ring_size"])
    ax_ring.step(x, rec["tx_ring_used"], where="post", color="C2", label="descriptors in use")
    if size:
        ax_ring.axhline(size, color="0.4", ls="--", lw=0.8, label=f"ring size {size}")
    ax_ring.set_ylabel("descriptors")
    ax_ring.set_ylim(bottom=0)
    ax_ring.legend(loc="upper left")
    ax_ring.set_title("transmit ring occupancy (next_to_use - next_to_clean)", loc="left", fontsize=9)
    series["ring_used"] = (x, rec["tx_ring_used"])
    limit, inflight = rec["tx_bql_limit"] / 1024, rec["tx_bql_inflight"] / 1024
    ax_bql.step(x, limit, where="post", color="C3", label="limit")
    ax_bql.step(x, inflight, where="post", color="C4", label="inflight")
    ax_bql.set_ylabel("KiB")
    ax_bql.set_ylim(bottom=0)
    ax_bql.legend(loc="upper left")
    ax_bql.set_title("BQL (byte_queue_limits): limit and inflight", loc="left", fontsize=9)
    series["bql_limit_kib"] = (x, limit)
    series["bql_inflight_kib"] = (x, inflight)

    # interrupts and softirqs
    names = [str(n) for n in rec["softirq_names"]]
    rows: list[tuple[str, np.ndarray]] = [("IRQ (hard)", ms("irq_entry_ps"))]
    for name in SOFTIRQ_ROWS:
        if name in names:
            sel = rec["softirq_vec"] == names.index(name)
            if sel.any():
                rows.append((name, ms("softirq_t_ps")[sel]))
    for i, (label, when) in enumerate(rows):
        ax_irq.eventplot([when], lineoffsets=i, linelengths=0.8, colors=f"C{5 + i}", label=label, linewidths=0.8)
        series["irq" if i == 0 else f"softirq_{label}"] = (when, np.ones_like(when))
    ax_irq.set_yticks(range(len(rows)), [f"{label} ({len(when)})" for label, when in rows])
    ax_irq.set_ylim(-0.6, len(rows) - 0.4)
    ax_irq.grid(False, axis="y")
    ax_irq.set_title("interrupt handler starts and softirq runs (softirqs take no simulated time in the model)",
                     loc="left", fontsize=9)
    ax_irq.set_xlabel("simulated time since the run started (ms)")

    lo, hi = _span(rec, t0, full)
    if hi > lo:
        pad = (hi - lo) * MARGIN
        ax_irq.set_xlim(lo - pad, hi + pad)
    return fig, series


def _span(rec: dict[str, np.ndarray], t0: int, full: bool) -> tuple[float, float]:
    """The time range to show (ms): the transmit path's activity, or everything recorded."""
    keys = ("tx_t_ps", "tcp_t_ps") + (("irq_entry_ps", "softirq_t_ps") if full else ())
    times = [rec[k] for k in keys if len(rec[k])]
    if not times:
        return 0.0, 0.0
    lo = 0 if full else min(int(t.min()) for t in times) - t0
    hi = max(int(t.max()) for t in times) - t0
    return lo / PS_PER_MS, hi / PS_PER_MS


__all__ = ["PLOT_STEM", "PlotError", "RunPlot", "plot_run"]
