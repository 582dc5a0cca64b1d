"""Ctrl-C (SIGINT) and SIGTERM to `hilnic run` on Icarus: the simulator and every other
process the run started are gone when it exits (130/143), and summary.json says
"interrupted" with a readable pcap.

`hilnic run` runs as a child of the test with a transfer far too big to finish; the signal
goes to its pid only (as `kill` would; a terminal's Ctrl-C reaches its process group, which
does not hold the simulator either). Its descendants are listed from /proc just before.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from hilnic.run import load_schema
from hilnic.wire.pcap import read_pcap

START_TIMEOUT_S = 240  # build (cached after the first run) and start-up
STOP_TIMEOUT_S = 60  # STOP_GRACE_S and the summary, with room


def _proc_stat(pid: int) -> tuple[int, int, str] | None:
    """(ppid, pgid, state) of `pid`, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[2]), fields[0]


def _all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        st = _proc_stat(pid)
        if st:
            children.setdefault(st[0], []).append(pid)
    out, todo = set(), [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _alive(pid: int) -> bool:
    st = _proc_stat(pid)
    return st is not None and st[2] != "Z"


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_simulator_and_every_child(tmp_path, sig, status):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "hilnic.cli.main", "run", "--sim", "icarus", "--bytes", "512M",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (out / "progress.json").exists():  # the simulator is running the scenario
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no progress.json: the simulation did not start"
            time.sleep(0.2)
        time.sleep(1.0)
        kids = _descendants(proc.pid)
        assert kids, "hilnic run has no child process (the simulator)"
        groups = {st[1] for k in kids if (st := _proc_stat(k))}
        proc.send_signal(sig)
        so, se = proc.communicate(timeout=STOP_TIMEOUT_S)
    finally:
        with contextlib.suppress(OSError):
            proc.kill()
    left = [k for k in kids if _alive(k)]
    left += [p for p in _all_pids() if (st := _proc_stat(p)) and st[1] in groups and st[2] != "Z"]
    for p in left:  # never leave them to the next test
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)
    assert not left, f"processes left behind: {left}"
    assert proc.returncode == status, se
    assert "Traceback" not in se and "INTERRUPTED" in so
    assert se.strip().splitlines()[-1].startswith(f"hilnic run: interrupted by {sig.name}; the simulator is stopped")
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and not s["ok"] and s["signal"] == sig.name
    assert s["error"].startswith(f"interrupted by {sig.name}")
    assert s["payload_bytes"] < s["nbytes"]
    jsonschema.validate(s, load_schema(), cls=jsonschema.Draft202012Validator)
    if "files" in s:  # the simulator wrote its summary on SIGTERM: counters and a whole pcap
        assert len(read_pcap(str(out / "wire.pcap"))) == s["files"]["pcap_frames"] == s["frames"]
    assert not (out / "progress.json").exists() and not (out / ".hilnic-run.lock").exists()
