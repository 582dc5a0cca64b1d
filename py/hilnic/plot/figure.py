"""Figures on the Agg canvas without pyplot (no global state: safe in threads and tests),
saved as PNG and SVG with no date or random ids in them, so the same data gives the same files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FORMATS = ("png", "svg")
DPI = 100
RC = {"svg.hashsalt": "hilnic", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3}


def style() -> Any:
    """The context to build and save a figure in (rcParams are read as artists are made)."""
    return matplotlib.rc_context(RC)


def new_figure(width_in: float, height_in: float) -> Figure:
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, stem: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """`stem`.png, `stem`.svg (...): the files written."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    with style():
        for fmt in formats:
            path = stem.with_suffix("." + fmt)
            meta = {"Date": None} if fmt == "svg" else {}
            fig.savefig(path, format=fmt, dpi=DPI, metadata=meta)
            paths.append(path)
    return paths


__all__ = ["DPI", "FORMATS", "new_figure", "save", "style"]
