"""The benchmarks' reports: tables within 100 columns, verdicts spelled PASS/FAIL, and
`python -m hilnic.bench.all` exiting 1 when a target is missed (0 with --report-only). The
measurements are replaced by fixed figures: no simulator, a few milliseconds each."""

from __future__ import annotations

import re

import pytest

from hilnic.bench import all as bench_all
from hilnic.bench import common, peer_speed, python_path
from hilnic.cli.main import main as hilnic_main

LONG = ("600 frames (580 x 1518 B), 1.23 s wall, 123.456 us sim, 9.80 Gb/s goodput, wire 99% busy, "
        "1,234,567 cycles + 12,345 skipped")


def test_table_wraps_to_100_columns_and_keeps_every_word():
    rows = [["full stack, tb_axi_mem (per burst), clock hold on, icarus: frames / wall s", "1,234", ">= 500",
             "PASS", LONG], ["short", "7", "", "", "x"]]
    text = common.table(rows, ["figure", "value", "target", "verdict", "what exactly"])
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= common.TABLE_WIDTH
    assert set(" ".join(c for row in rows for c in row).split()) <= set(text.split())
    assert lines[0].startswith("figure") and set(lines[1]) <= {"-", " "}
    narrow = common.table([["a", "1"]], ["x", "y"])
    assert narrow.splitlines() == ["x  y", "-  -", "a  1"]


def _fake_figures(monkeypatch, segments_per_s: float, frames_per_s: float) -> None:
    monkeypatch.setattr(python_path, "measure", lambda mib: {
        "mib": mib, "segments": 2900, "wall_s": 2900 / segments_per_s, "segments_per_s": segments_per_s,
        "sim_s": 0.004, "sim_gbps": 8.0, "slowdown": 300.0})
    monkeypatch.setattr(peer_speed, "measure", lambda n, strict: {
        "frames": n, "wall_s": n / frames_per_s, "frames_per_s": frames_per_s})


@pytest.mark.parametrize(("segs", "frames", "missed"), [
    (python_path.TARGET * 2, peer_speed.TARGET * 2, False),
    (python_path.TARGET / 2, peer_speed.TARGET * 2, True),
    (python_path.TARGET * 2, peer_speed.TARGET / 2, True),
])
def test_all_exits_1_when_a_target_is_missed(monkeypatch, capsys, segs, frames, missed):
    _fake_figures(monkeypatch, segs, frames)
    argv = ["--quick", "--only", "python_path,peer_speed"]
    assert bench_all.main(argv) == int(missed)
    out = capsys.readouterr().out
    assert ("targets missed:" in out) == missed
    assert bench_all.main([*argv, "--report-only"]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("== summary"):]
    table = [ln for ln in summary.splitlines()[1:] if not re.match(r"\[\d+\] ", ln)]
    assert max(len(ln) for ln in table) <= common.TABLE_WIDTH, summary
    assert re.search(r"^\[1\] python -m hilnic\.bench\.python_path ", summary, re.M)
    verdicts = re.findall(r"\b(PASS|FAIL|[Nn][Oo][Tt] met|met)\b", out)
    assert verdicts and set(verdicts) <= {"PASS", "FAIL"}
    assert ("FAIL" in verdicts) == missed


def test_each_bench_and_the_cli_fail_on_a_missed_target(monkeypatch, capsys):
    _fake_figures(monkeypatch, python_path.TARGET / 2, peer_speed.TARGET / 2)
    assert python_path.main(["--quick"]) == 1 and python_path.main(["--quick", "--report-only"]) == 0
    assert peer_speed.main(["--frames", "100", "--repeat", "1"]) == 1
    assert hilnic_main(["bench", "python_path", "--quick"]) == 1
    assert hilnic_main(["bench", "python_path", "--quick", "--report-only"]) == 0
    assert "FAIL" in capsys.readouterr().out
