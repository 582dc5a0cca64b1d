"""sweep.csv: one row per point, its parameters and the figures of its summary.json.

Columns, in order: the point (`point`, `status` ok|failed|interrupted, `error`, `resumed`:
taken from an earlier sweep, `exit_code`, `point_wall_s`: the run's process from start to
exit), the parameters (every RunConfig field, as in summary.json's "config", and
`frame_size` = MTU + 18), then the figures (FIGURES: summary.json keys, nested ones joined
with `_`, e.g. softirqs.NET_TX is `softirq_net_tx`). A point that has no summary leaves its
figures empty.

CSV rather than Parquet: the table is small (a row per point) and CSV needs neither pyarrow
nor pandas (tens of MB of wheels for a few kB of table) while pandas, spreadsheets and `csv`
all read it. Floats are written with Python's repr, so they read back exactly. `read_table`
gives the rows back with their types.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from hilnic.run.config import RunConfig
from hilnic.sweep.grid import ETH_OVERHEAD

TABLE_NAME = "sweep.csv"

POINT_COLUMNS = ("point", "status", "error", "resumed", "exit_code", "point_wall_s")
CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig))
PARAM_COLUMNS = (*CONFIG_FIELDS, "frame_size")
# column -> path in summary.json
FIGURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("frames", ("frames",)),
    ("wire_bytes", ("wire_bytes",)),
    ("data_frames", ("data_frames",)),
    ("data_payload_bytes", ("data_payload_bytes",)),
    ("payload_bytes", ("payload_bytes",)),
    ("mss_effective", ("mss",)),
    ("sim_time_ps", ("sim_time_ps",)),
    ("transfer_ps", ("transfer_ps",)),
    ("throughput_gbps", ("throughput_gbps",)),
    ("line_rate_pct", ("line_rate_pct",)),
    ("interrupts", ("interrupts",)),
    ("interrupt_rate_hz", ("interrupt_rate_hz",)),
    ("softirq_net_tx", ("softirqs", "NET_TX")),
    ("softirq_net_rx", ("softirqs", "NET_RX")),
    ("cpu_us_ns", ("cpu_time_ns", "us")),
    ("cpu_sy_ns", ("cpu_time_ns", "sy")),
    ("cpu_si_ns", ("cpu_time_ns", "si")),
    ("cpu_hi_ns", ("cpu_time_ns", "hi")),
    ("qdisc_requeues", ("qdisc", "requeues")),
    ("qdisc_drops", ("qdisc", "drops")),
    ("ring_stops", ("ring", "stops")),
    ("ring_restarts", ("ring", "restarts")),
    ("tx_busy", ("ring", "tx_busy")),
    ("tcp_out_segs", ("tcp", "out_segs")),
    ("tcp_retrans_segs", ("tcp", "retrans_segs")),
    ("tcp_timeouts", ("tcp", "timeouts")),
    ("snd_cwnd", ("tcp", "snd_cwnd")),
    ("dropped_by_loss", ("peer", "dropped_by_loss")),
    ("wall_s", ("wall_s",)),
    ("wall_total_s", ("wall_total_s",)),
    ("slowdown", ("slowdown",)),
)
FIGURE_COLUMNS = tuple(c for c, _ in FIGURES)
COLUMNS = (*POINT_COLUMNS, *PARAM_COLUMNS, *FIGURE_COLUMNS)

_FLOAT_COLUMNS = {"point_wall_s", "throughput_gbps", "line_rate_pct", "interrupt_rate_hz", "wall_s", "wall_total_s",
                  "slowdown"}
_STR_COLUMNS = {"point", "status", "error"}


def _field_types() -> dict[str, Callable[[str], Any]]:
    types: dict[str, Callable[[str], Any]] = {}
    for f in dataclasses.fields(RunConfig):
        kind = str(f.type)
        types[f.name] = (_bool if "bool" in kind else float if "float" in kind else int if "int" in kind else str)
    return types


def _bool(text: str) -> bool:
    return text.strip().lower() == "true"


_TYPES: dict[str, Callable[[str], Any]] = {**_field_types(), "resumed": _bool, "frame_size": int}


def row(name: str, rc: RunConfig, result: dict[str, Any], resumed: bool) -> dict[str, Any]:
    """A point's row: `result` holds status, error, summary (or None), exit_code, point_wall_s."""
    r: dict[str, Any] = {"point": name, "status": result.get("status", ""), "error": result.get("error", ""),
                         "resumed": resumed, "exit_code": result.get("exit_code"),
                         "point_wall_s": result.get("point_wall_s")}
    r.update(dataclasses.asdict(rc))
    r["frame_size"] = rc.mtu + ETH_OVERHEAD
    s = result.get("summary") or {}
    for column, path in FIGURES:
        v: Any = s
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        r[column] = v
    return r


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def write_table(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """The rows as CSV, atomically (a reader never sees half a table)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in COLUMNS])
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(buf.getvalue())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def read_table(path: Path) -> list[dict[str, Any]]:
    """The rows of a sweep.csv with their types (empty cells: None)."""
    with open(path, newline="") as fh:
        return [_typed(r) for r in csv.DictReader(fh)]


def _typed(r: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, text in r.items():
        if k in _STR_COLUMNS or _TYPES.get(k) is str:  # "" is a value there (--cc '': the default)
            out[k] = text
        elif text == "":
            out[k] = None
        elif k in _TYPES:
            out[k] = _TYPES[k](text)
        elif k in _FLOAT_COLUMNS:
            out[k] = float(text)
        else:
            try:
                out[k] = int(text)
            except ValueError:
                out[k] = text
    return out


# the parameters a sweep can vary (out, force and verbose are the sweep's)
SWEPT_COLUMNS = tuple(c for c in PARAM_COLUMNS if c not in ("out", "force", "verbose"))


def varied(rows: Sequence[dict[str, Any]], columns: Sequence[str] = SWEPT_COLUMNS) -> list[str]:
    """The parameter columns whose value differs between rows."""
    return [c for c in columns if len({repr(r.get(c)) for r in rows}) > 1]


__all__ = ["COLUMNS", "CONFIG_FIELDS", "FIGURES", "FIGURE_COLUMNS", "PARAM_COLUMNS", "SWEPT_COLUMNS", "TABLE_NAME",
           "read_table", "row", "varied", "write_table"]
