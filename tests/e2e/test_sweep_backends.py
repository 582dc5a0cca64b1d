"""`hilnic sweep` beyond the model: points on the RTL simulator, and points whose peer is this
machine's kernel, two at a time on a LocalCluster of two workers.

What two points at once can break: one simulator build shared by both (each run has its own
run folder and the build is locked), one network namespace per run (each point gets its own,
both are removed afterwards). The figures in the table must be each run's own.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest

from hilnic.cli.main import main
from hilnic.sweep.table import read_table
from hilnic.wire.netns import missing_privileges, namespaces


def _sweep(out: Path, *argv: str) -> tuple[int, str, str]:
    err, cap = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(cap):
        try:
            code = main(["sweep", "--out", str(out), "--workers", "2", "--no-plots", *argv])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, cap.getvalue(), err.getvalue()


def _summaries(out: Path) -> dict[str, dict]:
    return {p.name: json.loads((p / "summary.json").read_text()) for p in (out / "points").iterdir()}


def _overlapped(out: Path, names: list[str]) -> bool:
    spans = []
    for n in names:
        p = json.loads((out / "points" / n / "point.json").read_text())
        spans.append((p["started_at"], p["started_at"] + p["point_wall_s"]))
    return any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1:])


def test_sweep_on_icarus_runs_points_in_parallel_with_their_own_figures(tmp_path):
    out = tmp_path / "s"
    code, stdout, stderr = _sweep(out, "--grid", "itr=0,20000", "--", "--sim", "icarus", "--bytes", "16K")
    assert code == 0, stdout + stderr
    assert "Traceback" not in stderr and "2 ok, 0 failed" in stdout
    rows = {r["point"]: r for r in read_table(out / "sweep.csv")}
    summaries = _summaries(out)
    assert set(rows) == set(summaries) == {"itr=0", "itr=20000"}
    for name, s in summaries.items():
        assert s["ok"] and s["sim"] == "icarus" and s["payload_bytes"] == 16 << 10
        assert s["clock"]["cycles"] > 0  # the RTL ran: cycles are counted by the harness
        assert rows[name]["status"] == "ok" and rows[name]["frames"] == s["frames"] == s["nic"]["gptc"]
        assert rows[name]["interrupt_rate_hz"] == s["interrupt_rate_hz"]
    # the NIC's throttle at work: ITR 20000 holds interrupts to one per 50 us, ITR 0 does not
    assert summaries["itr=20000"]["interrupt_rate_hz"] <= 20_000 < summaries["itr=0"]["interrupt_rate_hz"]
    assert _overlapped(out, list(summaries))


def test_sweep_with_the_linux_peer_gives_each_point_its_own_namespace(tmp_path):
    problem = missing_privileges()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem} (CI runs as root: the Linux peer's tests must run there)")
        pytest.skip(problem)
    out = tmp_path / "s"
    before = set(namespaces())
    code, stdout, stderr = _sweep(out, "--grid", "loss=0,0.02", "--", "--sim", "model", "--peer", "linux",
                                  "--bytes", "96K")
    assert code == 0, stdout + stderr
    summaries = _summaries(out)
    assert set(summaries) == {"loss=0", "loss=0.02"}
    spaces = {s["linux_peer"]["netns"] for s in summaries.values()}
    assert len(spaces) == 2  # one namespace per point
    for s in summaries.values():
        lp = s["linux_peer"]
        assert s["ok"] and lp["receiver"]["match"] and lp["receiver"]["bytes"] == 96 << 10, lp["receiver"]
        c = lp["counters"]
        assert c["Tcp"]["InCsumErrors"] == c["Ip"]["InHdrErrors"] == c["IpExt"]["InCsumErrors"] == 0
        assert c["Tcp"]["InSegs"] == lp["to_kernel"]["tcp"]  # this point's kernel saw this point's frames
    assert summaries["loss=0"]["tcp"]["retrans_segs"] == 0 < summaries["loss=0.02"]["tcp"]["retrans_segs"]
    assert _overlapped(out, list(summaries))
    assert set(namespaces()) - before == set()  # both removed
