"""One point of a sweep: `hilnic run` in a subprocess, as a task on a Dask worker.

`run_point(spec)` runs `python -m hilnic.cli.main run ARGV` (ARGV: every option of the point,
with --out DIR --force) with its stdout and stderr in DIR/run.log, and returns what the
client needs for its table: the exit status, the wall time from start to exit (Python's
start-up and, on an RTL simulator, the build included) and the run's summary.json. It also
leaves DIR/point.json (the same, without the summary) for a later, resumed sweep.

Isolation: each point is its own process (the kernel model keeps module-level state, e.g. the
skb accounting), in a session of its own so a Ctrl-C at the terminal reaches the sweep only.
Stopping: the task polls the sweep's Dask Event `spec["stop"]`; once set, it sends the run
SIGINT, which the run handles as a Ctrl-C (stops its simulator's process group, writes
summary.json "interrupted", exits 130), and waits for it. If the worker itself ends, the run
gets SIGTERM from the kernel (PR_SET_PDEATHSIG, hilnic.run.interrupt.stop_with_parent).

`outcome(dir, config)` is the status of a point's folder, from its summary.json if that
belongs to this point (same configuration), else from point.json and run.log.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from distributed import Event

import hilnic
from hilnic.run.interrupt import PARENT_ENV

POLL_S = 0.25
STOP_GRACE_S = 60.0  # a stopped run ends in seconds (RTL: SIGTERM, a few s, SIGKILL); then SIGKILL
POINT_JSON = "point.json"
RUN_LOG = "run.log"
SUMMARY = "summary.json"
# RunConfig fields a sweep sets per point; the rest must match for a summary to be this point's
NOT_COMPARED = ("out", "force", "verbose")

STATUS_OK, STATUS_FAILED, STATUS_INTERRUPTED = "ok", "failed", "interrupted"
INTERRUPT_EXITS = (128 + signal.SIGINT, 128 + signal.SIGTERM)


def run_point(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one point (see the module docstring). `spec`: name, dir, argv, config, stop."""
    d = Path(spec["dir"])
    stop = _stop_event(spec.get("stop"))
    if stop is not None and _is_set(stop):  # the sweep was stopped before this point started
        return {"name": spec["name"], "status": "", "error": "", "summary": None}
    d.mkdir(parents=True, exist_ok=True)
    (d / POINT_JSON).unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "hilnic.cli.main", "run", *spec["argv"]]
    env = dict(os.environ)
    # the run imports the hilnic this worker has, whatever an editable install points at
    here = str(Path(hilnic.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)
    env[PARENT_ENV] = str(os.getpid())
    started = time.time()
    t0 = time.perf_counter()
    with open(d / RUN_LOG, "w") as log:
        log.write("$ hilnic run " + " ".join(_quote(a) for a in spec["argv"]) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        code, stopped = _wait(proc, stop)
    except BaseException:  # the worker is going away: the run must not outlive the task
        _end(proc)
        raise
    wall = time.perf_counter() - t0
    record = {"name": spec["name"], "argv": spec["argv"], "exit_code": code, "point_wall_s": wall,
              "started_at": started, "worker": f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}",
              "stopped": stopped}
    with contextlib.suppress(OSError):
        _write_json(d / POINT_JSON, record)
    return {**record, **outcome(d, spec["config"])}


def _wait(proc: subprocess.Popen[bytes], stop: Any) -> tuple[int, bool]:
    """(exit status, whether the sweep stopped it)."""
    asked = 0.0
    while True:
        try:
            return proc.wait(timeout=POLL_S), bool(asked)
        except subprocess.TimeoutExpired:
            pass
        if not asked and stop is not None and _is_set(stop):
            proc.send_signal(signal.SIGINT)
            asked = time.monotonic()
        elif asked and time.monotonic() - asked > STOP_GRACE_S:
            proc.kill()


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _stop_event(name: str | None) -> Any:
    return Event(name) if name else None


def _is_set(event: Any) -> bool:
    try:
        return bool(event.is_set())
    except Exception:  # the scheduler is gone: nobody is waiting for this point any more
        return True


def outcome(d: Path, config: dict[str, Any]) -> dict[str, Any]:
    """{"status", "error", "summary"} of point folder `d` for configuration `config`."""
    summary = read_summary(d, config)
    point = _read_json(d / POINT_JSON) or {}
    if summary is not None:
        status = summary.get("status") or (STATUS_OK if summary.get("ok") else STATUS_FAILED)
        return {"status": status, "error": summary.get("error", ""), "summary": summary}
    code = point.get("exit_code")
    if code is None:
        return {"status": "", "error": "", "summary": None}  # never ran
    # stopped before it could write a summary (e.g. during Python's start-up): -SIGINT
    status = STATUS_INTERRUPTED if point.get("stopped") or code in INTERRUPT_EXITS else STATUS_FAILED
    return {"status": status, "error": _last_line(d / RUN_LOG) or f"hilnic run exited {code} without a summary",
            "summary": None}


def read_summary(d: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """d/summary.json if it is a run of `config` (an earlier sweep with other options is not)."""
    s = _read_json(d / SUMMARY)
    if not s or not isinstance(s.get("config"), dict):
        return None
    got = {k: v for k, v in s["config"].items() if k not in NOT_COMPARED}
    want = {k: v for k, v in config.items() if k not in NOT_COMPARED}
    return s if got == want else None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def _last_line(path: Path) -> str:
    """The last line of a run's log that says something (its one-line error)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.strip():
            return line.strip()[:300]
    return ""


def _quote(a: str) -> str:
    return a if a and all(c.isalnum() or c in "-_.,=/:+" for c in a) else "'" + a.replace("'", "'\\''") + "'"


__all__ = ["POINT_JSON", "RUN_LOG", "STATUS_FAILED", "STATUS_INTERRUPTED", "STATUS_OK", "outcome", "read_summary",
           "run_point"]
