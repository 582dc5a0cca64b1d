"""Run a sweep: its points on Dask, a progress bar, the table, resume, Ctrl-C.

`sweep(cfg)` makes every point first (hilnic.sweep.grid: nothing starts if one is wrong),
then skips the points an earlier sweep into the same --out finished (their summary.json has
status ok, or failed unless `retry_failed`, for this point's exact configuration) and
submits the others to Dask: a LocalCluster of `workers` single-thread workers (default: one
per core) in this process, or the cluster at `scheduler`. The workers are threads because
each point is a process of its own (hilnic.sweep.point), which is where the isolation and
the CPU work are; a remote cluster's workers need hilnic installed and --out on a shared
file system at the same path.

Output, in --out:

    sweep.json          the grid, the run options every point shares, each point's command
    sweep.csv           one row per point (hilnic.sweep.table), rewritten as points finish
    points/NAME/        each point's run folder (summary.json, wire.pcap, records.npz, ...,
                        run.log: the run's output, point.json: exit status and wall time)
    plots/              throughput, interrupts, wall (PNG, SVG): drawn from the table by the
                        `hilnic sweep` command (hilnic.plot), not here

The progress bar is one line on stderr, redrawn on a terminal, a line per finished point
otherwise. SIGINT or SIGTERM (inside hilnic.run.interrupt.stop_signals) sets the sweep's stop
Event: each running point stops its run (which writes summary.json "interrupted" and stops its
simulator), points not started yet do not start; once they have (bounded by STOP_WAIT_S), the
table is written and `Interrupted` raised. The same command later resumes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from distributed import Client, Event, LocalCluster, as_completed, wait

from hilnic.run.interrupt import Interrupted, signum_of
from hilnic.run.runner import ProgressBar
from hilnic.sweep.grid import Grid, GridError, Point
from hilnic.sweep.point import STATUS_FAILED, STATUS_INTERRUPTED, STATUS_OK, outcome, run_point
from hilnic.sweep.table import TABLE_NAME, row, write_table

SWEEP_JSON = "sweep.json"
POINTS_DIR = "points"
PLOTS_DIR = "plots"
LOCK_NAME = ".hilnic-sweep.lock"
STOP_WAIT_S = 90.0  # a point's own stop is bounded (hilnic.sweep.point.STOP_GRACE_S)
CONNECT_TIMEOUT_S = 10
TICK_S = 0.5


class SweepError(ValueError):
    """The sweep cannot start (its --out, the scheduler): one line, for the user (exit 2)."""


@dataclass
class SweepConfig:
    grid: Grid
    out: Path
    scheduler: str = ""  # address of a Dask scheduler; "" = a LocalCluster here
    workers: int = 0  # LocalCluster workers (0: one per core)
    retry_failed: bool = False  # run points whose earlier summary says failed again


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    table: Path
    ran: list[str] = field(default_factory=list)  # points run now
    resumed: list[str] = field(default_factory=list)  # taken from an earlier sweep
    wall_s: float = 0.0
    workers: int = 0

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r["status"] == status)


class SweepInterrupted(Interrupted):
    """A stopped sweep, with what it had done (`result`)."""

    def __init__(self, signum: int, result: SweepResult) -> None:
        super().__init__(signum)
        self.result = result


# -- the progress bar ---------------------------------------------------------------------------


class SweepBar(ProgressBar):
    """`hilnic sweep [####----]  5/24 points  (ok 4, failed 1, 3 resumed)  wall 6.1 s`."""

    def __init__(self, stream: IO[str], total: int, tty: bool | None = None) -> None:
        super().__init__(stream, "hilnic sweep", tty=tty)
        self.total = total
        self.counts = {STATUS_OK: 0, STATUS_FAILED: 0, STATUS_INTERRUPTED: 0}
        self.resumed = 0
        self.last = ""

    def _text(self, status: str = "") -> str:
        done = sum(self.counts.values())
        frac = done / self.total if self.total else 1.0
        fill = int(frac * self.WIDTH)
        parts = [f"ok {self.counts[STATUS_OK]}", f"failed {self.counts[STATUS_FAILED]}"]
        if self.counts[STATUS_INTERRUPTED]:
            parts.append(f"interrupted {self.counts[STATUS_INTERRUPTED]}")
        if self.resumed:
            parts.append(f"{self.resumed} resumed")
        text = (f"{self.label} [{'#' * fill}{'-' * (self.WIDTH - fill)}] {done}/{self.total} points  "
                f"({', '.join(parts)})  wall {time.perf_counter() - self.wall0:.1f} s")
        if self.last and not self.tty and not status:
            text += f"  {self.last}"
        return text + (f"  {status}" if status else "")

    def point(self, name: str, status: str, resumed: bool = False) -> None:
        with self._lock:
            self.counts[status if status in self.counts else STATUS_FAILED] += 1
            self.resumed += resumed
            self.last = f"{name}: {status or 'not run'}"
            if not resumed and not self._done:  # a line per point that ran (resumed ones: in the first)
                self._last_print = time.perf_counter()
                self._emit(self._text())

    def finish(self, status: str = "") -> None:
        with self._lock:  # off a terminal, the last point's line already says it all
            if not self.tty and not status and self._last_text and sum(self.counts.values()) == self.total:
                self._done = True
        super().finish(status)

    def tick(self) -> None:
        """Redraw (a terminal: the wall time moves while points run)."""
        with self._lock:
            if self.tty and not self._done:
                self._emit(self._text())


@contextlib.contextmanager
def _ticking(bar: SweepBar) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(TICK_S):
            bar.tick()

    t = threading.Thread(target=loop, daemon=True, name="hilnic-sweep-bar")
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()


# -- the sweep ----------------------------------------------------------------------------------


def sweep(cfg: SweepConfig, stream: IO[str] | None = None) -> SweepResult:
    """Run the sweep (see the module docstring). Raises GridError or SweepError before
    anything runs; SweepInterrupted when stopped by a signal."""
    stream = stream if stream is not None else _stderr()
    _check_out(cfg.out.absolute())
    out = cfg.out.resolve()  # as `hilnic run` resolves its --out: the table's `out` is summary.json's
    points = cfg.grid.make_points(out / POINTS_DIR)
    if not points:
        raise GridError("nothing to sweep")
    t0 = time.perf_counter()
    with _claim(out):
        _write_json(out / SWEEP_JSON, {
            "version": 1,
            "run_options": cfg.grid.base,
            "grid": [{"key": a.key, "values": list(a.values)} for a in cfg.grid.axes],
            "points": [{"name": p.name, "params": dict(p.params), "argv": p.argv} for p in points],
        })
        rows: dict[str, dict[str, Any]] = {}
        result = SweepResult(rows=[], table=out / TABLE_NAME)
        todo: list[Point] = []
        for p in points:
            prior = outcome(Path(p.rc.out), _config(p))
            finished = prior["summary"] is not None and (
                prior["status"] == STATUS_OK or (prior["status"] == STATUS_FAILED and not cfg.retry_failed))
            if finished:
                point_json = _read_json(Path(p.rc.out) / "point.json")
                rows[p.name] = row(p.name, p.rc, {**point_json, **prior}, resumed=True)
                result.resumed.append(p.name)
            else:
                todo.append(p)
        bar = SweepBar(stream, len(points))
        for name in result.resumed:
            bar.point(name, rows[name]["status"], resumed=True)
        bar.tick()

        def table() -> None:
            result.rows = [rows[p.name] for p in points if p.name in rows]
            write_table(result.table, result.rows)

        table()
        try:
            if todo:
                with _client(cfg) as (client, nworkers), _ticking(bar):
                    result.workers = nworkers
                    _run(client, todo, rows, bar, table, result)
        except SweepInterrupted as exc:
            result.rows = [rows[p.name] for p in points if p.name in rows]
            result.wall_s = time.perf_counter() - t0
            bar.finish("interrupted")
            exc.result = result
            raise
        except BaseException:
            bar.abort()
            raise
        for p in points:  # a point no worker answered for (it cannot happen unless Dask lost it)
            rows.setdefault(p.name, row(p.name, p.rc, {"status": STATUS_FAILED, "error": "no result"}, resumed=False))
        table()
        bar.finish()
        result.wall_s = time.perf_counter() - t0
        return result


def _run(client: Client, todo: list[Point], rows: dict[str, dict[str, Any]], bar: SweepBar, table: Any,
         result: SweepResult) -> None:
    stop = Event(f"hilnic-sweep-stop-{uuid.uuid4().hex}", client=client)
    by_key: dict[str, Point] = {}
    futures = []
    for p in todo:
        spec = {"name": p.name, "dir": p.rc.out, "argv": p.argv, "config": _config(p), "stop": stop.name}
        fut = client.submit(run_point, spec, key=f"hilnic-point-{uuid.uuid4().hex[:12]}-{p.name}", pure=False)
        by_key[fut.key] = p
        futures.append(fut)

    def record(fut: Any) -> None:
        p = by_key[fut.key]
        try:
            res = fut.result()
        except Exception as exc:  # the task itself failed (a lost worker, an OS error): the point did
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            res = {"status": STATUS_FAILED, "error": f"{type(exc).__name__}: {text}" if text else type(exc).__name__}
        rows[p.name] = row(p.name, p.rc, res, resumed=False)
        if res.get("status"):
            result.ran.append(p.name)
            bar.point(p.name, res["status"])
        table()

    done: set[str] = set()
    try:
        for fut in as_completed(futures):
            record(fut)
            done.add(fut.key)
    except KeyboardInterrupt as exc:
        signum = signum_of(exc)
        stop.set()  # running points stop their runs; the others return without starting
        with contextlib.suppress(Exception):
            wait(futures, timeout=STOP_WAIT_S)
        for fut in futures:
            if fut.key not in done and fut.done():
                record(fut)
            elif fut.key not in done:  # still not back: what its folder says
                p = by_key[fut.key]
                rows[p.name] = row(p.name, p.rc, outcome(Path(p.rc.out), _config(p)), resumed=False)
        table()
        raise SweepInterrupted(signum, result) from None


@contextlib.contextmanager
def _client(cfg: SweepConfig) -> Iterator[tuple[Client, int]]:
    # Dask's own logging would print between the bar's lines; its errors reach us as exceptions
    saved = {name: logging.getLogger(name).level for name in ("distributed", "tornado")}
    for name in saved:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    cluster = None
    try:
        if cfg.scheduler:
            try:
                client = Client(cfg.scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError) as exc:
                raise SweepError(f"--scheduler {cfg.scheduler}: cannot connect ({_one_line(exc)})") from None
        else:
            n = cfg.workers or os.cpu_count() or 1
            # its HTTP server (dashboard, health) on a free local port: 8787 may be taken
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0")
            client = Client(cluster)
        try:
            yield client, len(client.scheduler_info().get("workers", {}))
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out {out} exists and is not a directory")
    for parent in out.parents:  # mkdir would fail with a bare "Not a directory"
        if parent.exists():
            if not parent.is_dir():
                raise SweepError(f"--out {out}: {parent} is a file, not a directory")
            break


@contextlib.contextmanager
def _claim(out: Path) -> Iterator[None]:
    """Create --out and hold its lock: two sweeps into one folder would run the same points."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fh = open(out / LOCK_NAME, "a+")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise SweepError(f"--out {out}: cannot write there: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SweepError(f"--out {out}: another hilnic sweep is running there") from None
        yield
    finally:
        fh.close()


def _config(p: Point) -> dict[str, Any]:
    return dataclasses.asdict(p.rc)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _stderr() -> IO[str]:
    return sys.stderr  # as it is when called (pytest swaps it)


__all__ = [
    "PLOTS_DIR",
    "POINTS_DIR",
    "SWEEP_JSON",
    "SweepBar",
    "SweepConfig",
    "SweepError",
    "SweepInterrupted",
    "SweepResult",
    "sweep",
]
