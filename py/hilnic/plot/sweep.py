"""A sweep's plots, from its table's rows (hilnic.sweep.table): into OUT/plots/

    throughput    the data frames' share of 10GbE line rate against frame size
    interrupts    hard interrupts per second while data was on the wire, against frame size
    wall          wall-clock seconds per point (the run's process from start to exit)

The first two draw one line per combination of the other parameters that vary (one per ITR
for a frame size x ITR grid); points that did not finish ok are left out of them and shown
red in the third.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from hilnic.plot.figure import FORMATS, new_figure, save, style
from hilnic.run.config import RunConfig

X = "frame_size"
NOT_SERIES = ("frame_size", "mtu", "out", "force", "verbose")  # the x axis, and what is not a parameter
# a run's parameters (every RunConfig field), ITR first in the series' labels
PARAMS = ("itr", *(f.name for f in dataclasses.fields(RunConfig) if f.name != "itr"))
STATUS_COLOR = {"ok": "C0", "failed": "C3", "interrupted": "C1"}


def plot_sweep(rows: Sequence[dict[str, Any]], out: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write the three plots; returns their files."""
    paths: list[Path] = []
    with style():
        fig = figure_xy(rows, "line_rate_pct", "share of 10GbE line rate (%)",
                        "Throughput: data frames (+ preamble, IFG) as % of line rate")
        paths += save(fig, out / "throughput", formats)
        fig = figure_xy(rows, "interrupt_rate_hz", "interrupts per second",
                        "Interrupt rate while data is on the wire", log=True)
        paths += save(fig, out / "interrupts", formats)
        paths += save(figure_wall(rows), out / "wall", formats)
    return paths


def series(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The ok rows grouped by the varied parameters other than frame size: label -> rows by x."""
    keys = [c for c in PARAMS if c not in NOT_SERIES and len({repr(r.get(c)) for r in rows}) > 1]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("status") != "ok":
            continue
        label = ", ".join(f"{k}={_fmt(r.get(k))}" for k in keys) or "all points"
        groups.setdefault(label, []).append(r)
    return {label: sorted(g, key=lambda r: r[X]) for label, g in groups.items()}


def figure_xy(rows: Sequence[dict[str, Any]], y: str, ylabel: str, title: str, log: bool = False) -> Figure:
    """`y` against frame size, a line per series; `log`: a log scale if y spans > 10x."""
    fig = new_figure(7.0, 4.2)
    ax = fig.add_subplot()
    groups = series(rows)
    for i, (label, g) in enumerate(groups.items()):
        ax.plot([r[X] for r in g], [r[y] for r in g], marker="o", ms=4, color=f"C{i % 10}", label=label)
    ax.set_xlabel("frame size (bytes: MTU + 14 header + 4 FCS)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    values = [r[y] for g in groups.values() for r in g if r.get(y)]
    if log and values and min(values) > 0 and max(values) / min(values) > 10:
        ax.set_yscale("log")  # ITR off and on differ by orders of magnitude
    else:
        ax.set_ylim(bottom=0)
    failed = sum(1 for r in rows if r.get("status") != "ok")
    if failed:
        ax.text(0.99, 0.01, f"{failed} point(s) not ok, not shown", transform=ax.transAxes, ha="right",
                va="bottom", color="C3", fontsize=8)
    if groups:
        ax.legend(fontsize=8, loc="best")
    return fig


def figure_wall(rows: Sequence[dict[str, Any]]) -> Figure:
    """A bar per point: the whole process (light) and, inside it, the run's own wall_s."""
    n = len(rows)
    fig = new_figure(7.0, 1.4 + 0.22 * max(n, 3))
    ax = fig.add_subplot()
    names = [str(r["point"]) for r in rows]
    walls = [r.get("point_wall_s") or 0.0 for r in rows]
    runs = [r.get("wall_s") or 0.0 for r in rows]
    colors = [STATUS_COLOR.get(str(r.get("status")), "0.5") for r in rows]
    ax.barh(range(n), walls, color=colors, alpha=0.35, height=0.75)
    ax.barh(range(n), runs, color=colors, height=0.35)
    ax.set_yticks(range(n), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("wall seconds: the point's process, start to exit (light), of which the simulation (dark)")
    ax.grid(False, axis="y")
    present = [st for st in STATUS_COLOR if any(r.get("status") == st for r in rows)]
    ax.legend(handles=[Patch(color=STATUS_COLOR[st], label=st) for st in present], fontsize=8, loc="lower right")
    ax.set_title(f"Wall-clock cost per point ({sum(walls):.1f} s in all for {n} points)", fontsize=10)
    return fig


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


__all__ = ["figure_wall", "figure_xy", "plot_sweep", "series"]
