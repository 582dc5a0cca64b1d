"""`hilnic sweep` on the behavioral model: the table against each point's own files, a failed
point, resume on another Dask cluster, Ctrl-C, and one-line errors for bad grids.

The points are real `hilnic run` processes; the checks compare the table with each point's
summary.json and, independently of both, with its wire.pcap (dpkt) and its run.log.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dpkt
import pytest

from hilnic.cli.main import main
from hilnic.sweep.grid import Grid, GridError, load_sweep_file
from hilnic.sweep.runner import SweepBar
from hilnic.sweep.table import CONFIG_FIELDS, FIGURES, read_table

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOST_MAC = bytes.fromhex("020000000001")


def _main(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


def _summary(out: Path, point: str) -> dict:
    return json.loads((out / "points" / point / "summary.json").read_text())


def _host_frame_sizes(pcap: Path) -> list[int]:
    """Lengths (+ FCS, which the pcap leaves out) of the host's frames in a run's wire.pcap."""
    with open(pcap, "rb") as fh:
        return [len(buf) + 4 for _ts, buf in dpkt.pcap.Reader(fh) if buf[6:12] == HOST_MAC]


SWEEP_4 = ["--grid", "frame_size=512,1518", "--grid", "itr=0,20000", "--", "--sim", "model", "--bytes", "32K"]


def test_tiny_sweep_table_matches_each_point_then_resume_reruns_only_a_deleted_one(tmp_path):
    """4 points (frame size x ITR), 32 KiB of TCP each, on a LocalCluster of two workers."""
    out = tmp_path / "s"
    err, cap = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(cap):
        code = _main("sweep", "--out", str(out), "--workers", "2", *SWEEP_4)
    stdout, stderr = cap.getvalue(), err.getvalue()
    assert code == 0, stdout + stderr
    assert "Traceback" not in stderr
    assert "4 points (4 run on 2 workers" in stdout and "4 ok, 0 failed" in stdout
    rows = read_table(out / "sweep.csv")
    names = ["frame-size=512,itr=0", "frame-size=512,itr=20000", "frame-size=1518,itr=0",
             "frame-size=1518,itr=20000"]
    assert [r["point"] for r in rows] == names  # one row per point, in grid order
    for r in rows:
        s = _summary(out, r["point"])
        assert r["status"] == s["status"] == "ok" and r["error"] == "" and r["exit_code"] == 0
        assert r["resumed"] is False
        for k in CONFIG_FIELDS:  # the parameters are the run's own
            assert r[k] == s["config"][k], k
        for column, path in FIGURES:  # and so are the figures
            v = s
            for key in path:
                v = v[key]
            assert r[column] == v, column
        # the grid's values reached the run: the run's frames on the wire have that size...
        frame, itr = (int(p.split("=")[1]) for p in r["point"].split(","))
        assert r["frame_size"] == frame and r["mtu"] == frame - 18 and r["itr"] == itr
        assert max(_host_frame_sizes(out / "points" / r["point"] / "wire.pcap")) == frame
        # ... and its command line, in its log, says so
        log = (out / "points" / r["point"] / "run.log").read_text()
        assert f"--mtu {frame - 18} " in log and f"--itr {itr} " in log and "--bytes 32768 " in log
        assert r["point_wall_s"] > r["wall_s"] > 0
    # ITR 20000 caps the interrupt rate at 20,000/s; ITR 0 does not
    by = {r["point"]: r for r in rows}
    for frame in (512, 1518):
        assert by[f"frame-size={frame},itr=20000"]["interrupt_rate_hz"] <= 20_000
        assert by[f"frame-size={frame},itr=0"]["interrupt_rate_hz"] > 20_000
    # two workers: at least two points ran at the same time
    spans = []
    for n in names:
        p = json.loads((out / "points" / n / "point.json").read_text())
        spans.append((p["started_at"], p["started_at"] + p["point_wall_s"]))
    assert any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1:])
    # the bar: one line per point (not a terminal), on stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("hilnic sweep [")]
    assert len(lines) == 4 and lines[-1].count("4/4 points") == 1
    for stem in ("throughput", "interrupts", "wall"):
        assert (out / "plots" / f"{stem}.png").read_bytes()[:8] == PNG_MAGIC
        assert b"<svg" in (out / "plots" / f"{stem}.svg").read_bytes()[:1000]
    sweep = json.loads((out / "sweep.json").read_text())
    assert [p["name"] for p in sweep["points"]] == names

    # resume: the same command after one point's folder is gone runs that point only
    gone = "frame-size=512,itr=20000"
    shutil.rmtree(out / "points" / gone)
    before = {p.name: (p / "summary.json").stat().st_mtime_ns for p in (out / "points").iterdir()}
    err, cap = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(cap):
        code = _main("sweep", "--out", str(out), "--workers", "2", "--no-plots", *SWEEP_4)
    assert code == 0, cap.getvalue() + err.getvalue()
    assert "4 points (1 run on 2 workers" in cap.getvalue() and "3 resumed" in cap.getvalue()
    rows = read_table(out / "sweep.csv")
    assert [r["point"] for r in rows] == names
    assert [r["point"] for r in rows if not r["resumed"]] == [gone]
    for name, mtime in before.items():  # the others were not touched
        assert (out / "points" / name / "summary.json").stat().st_mtime_ns == mtime
    assert rows[1]["status"] == _summary(out, gone)["status"] == "ok"
    assert rows[1]["line_rate_pct"] == _summary(out, gone)["line_rate_pct"]


def test_failed_point_is_recorded_and_the_others_finish_on_a_dask_cluster(tmp_path, capsys):
    from distributed import Client, LocalCluster

    out = tmp_path / "s"
    # a cluster of its own this time: worker processes, reached by address (--scheduler)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as cluster:
        # 0.3 ms of simulated time is less than the set-up takes: that point fails, at run time
        code = _main("sweep", "--out", str(out), "--scheduler", cluster.scheduler_address, "--no-plots",
                     "--grid", "sim-limit-ms=0.3,10000", "--", "--sim", "model", "--bytes", "16K")
        cap = capsys.readouterr()
        with Client(cluster) as client:
            workers = set(client.run(os.getpid).values())
    assert code == 1, cap.out + cap.err
    rows = {r["point"]: r for r in read_table(out / "sweep.csv")}
    bad, good = rows["sim-limit-ms=0.3"], rows["sim-limit-ms=10000"]
    s = _summary(out, "sim-limit-ms=0.3")
    assert bad["status"] == s["status"] == "failed" and bad["exit_code"] == 1
    assert bad["error"] == s["error"] and "did not finish within 0.3 ms" in bad["error"]
    assert good["status"] == "ok" and good["payload_bytes"] == 16 << 10
    assert "1 ok, 1 failed" in cap.out and "failed   sim-limit-ms=0.3: the run did not finish" in cap.out
    for name in rows:  # run by the cluster's worker processes
        point = json.loads((out / "points" / name / "point.json").read_text())
        assert int(point["worker"].split(":")[1]) in workers


def _descendants(root: int) -> set[int]:
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{d}/stat").read_text()
                parent[int(d)] = int(text[text.rindex(")") + 2:].split()[1])
    out, todo = set(), [root]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p and c not in out:
                out.add(c)
                todo.append(c)
    return out


def _cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] != "Z"


def test_ctrl_c_stops_every_run_and_the_finished_points_are_kept(tmp_path):
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "hilnic.cli.main", "sweep", "--out", str(out), "--workers", "2", "--no-plots",
           "--grid", "bytes=16K,8M", "--", "--sim", "model"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "py")}
    small, big = out / "points" / "bytes=16K", out / "points" / "bytes=8M"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        runs: set[int] = set()
        while time.monotonic() < deadline:  # the small point done, the big one sending (its pcap is open)
            runs = {p for p in _descendants(proc.pid) if b"run" in _cmdline(p)}
            if (small / "summary.json").exists() and (big / "wire.pcap").exists() and runs:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            pytest.fail(f"the sweep did not get going: {proc.communicate()}")
        assert not (big / "summary.json").exists()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted by SIGINT: 1 of 2 points done; the same command resumes" in stderr
    assert "Traceback" not in stderr
    assert not [p for p in runs if _alive(p)]  # no run left behind
    rows = {r["point"]: r for r in read_table(out / "sweep.csv")}
    assert rows["bytes=16K"]["status"] == "ok"
    assert rows["bytes=8M"]["status"] == "interrupted" == json.loads((big / "summary.json").read_text())["status"]
    # resumed: the finished point is kept (here from a grid of that point alone, to stay short)
    mtime = (small / "summary.json").stat().st_mtime_ns
    r = subprocess.run([*cmd[:cmd.index("bytes=16K,8M")], "bytes=16K", *cmd[cmd.index("bytes=16K,8M") + 1:]],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 point (0 run, 1 resumed): 1 ok" in r.stdout
    assert (small / "summary.json").stat().st_mtime_ns == mtime
    assert read_table(out / "sweep.csv")[0]["resumed"] is True


# -- bad input: one line, exit 2, nothing run ---------------------------------------------------


MODEL = ["--", "--sim", "model"]


@pytest.mark.parametrize("args, message", [
    (["--grid", "colour=red", *MODEL], "--grid colour=red: hilnic run has no option --colour (see 'hilnic run --help')"),
    (["--grid", "itr=abc", *MODEL], "--grid itr=abc: argument --itr: 'abc' is not an integer"),
    (["--grid", "proto=tcp,sctp", *MODEL], "--grid proto=sctp: argument --proto: invalid choice: 'sctp'"),
    (["--grid", "itr=0,5", *MODEL], "point itr=5: --itr must be 0 (off), 1 or 3 (dynamic) or 100..100000"),
    (["--grid", "frame-size=100,1518", *MODEL], "point frame-size=100: --mtu 82 "),
    (["--grid", "mss=1500", *MODEL], "point mss=1500: --mss "),
    (["--grid", "out=x", *MODEL], "--grid out=x: --out is the sweep's own"),
    (["--grid", "itr=0,0", *MODEL], "--grid itr=0,0: a value is given twice"),
    (["--grid", "itr", *MODEL], "--grid itr: expected KEY=VALUE"),
    (["--grid", "trace=maybe", *MODEL], "--grid trace=maybe: --trace is on or off, not 'maybe'"),
    (["--grid", "mtu=1500", "--grid", "frame-size=1518", *MODEL], "both set --mtu"),
    (MODEL, "nothing to sweep"),
    (["--grid", "itr=0", "--", "--colour", "red"], "run options --colour red: unrecognized arguments: --colour red"),
    (["--grid", "itr=0", "--", "--sim", "model", "--waves"], "point itr=0: --waves needs an RTL simulator"),
    (["--grid", "itr=0", "--", "--sim", "model", "--out", "x"], "run options: --out is the sweep's own"),
])
def test_bad_grid_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "s"
    code = _main("sweep", "--out", str(out), *args)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("hilnic sweep: error: "), err
    assert message in err, err
    assert not out.exists()  # nothing started


def test_bad_sweep_files_and_out(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid\nitr = [0]\n")
    (tmp_path / "plain").write_text("")
    for args, message in ((["--file", str(bad)], "not valid TOML"),
                          (["--file", str(tmp_path / "none.yaml")], "No such file"),
                          (["--file", str(tmp_path / "x.json")], "a sweep file is .toml, .yaml or .yml"),
                          (["--grid", "itr=0", "--out", str(tmp_path / "plain" / "s")],
                           f"--out {tmp_path / 'plain' / 's'}: {tmp_path / 'plain'} is a file, not a directory")):
        if args[0] == "--file" and args[1].endswith("x.json"):
            Path(args[1]).write_text("{}")
        code = _main("sweep", *args, "--", "--sim", "model")
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and message in err, err


def test_sweep_files_toml_and_yaml_make_the_command_lines_points(tmp_path):
    (tmp_path / "s.toml").write_text('[run]\nsim = "model"\nbytes = "64K"\ntrace = false\n'
                                     '[grid]\nframe_size = [256, 1518]\nitr = [0, 20000]\nring = 64\n')
    (tmp_path / "s.yaml").write_text("run: {sim: model, bytes: 64K, trace: false}\n"
                                     "grid:\n  frame-size: [256, 1518]\n  itr: [0, 20000]\n  ring: [64]\n")
    cli = Grid(["--sim", "model", "--bytes", "64K", "--no-trace"])
    for spec in ("frame-size=256,1518", "itr=0,20000", "ring=64"):
        cli.add_spec(spec)
    want = [(p.name, p.argv) for p in cli.make_points(tmp_path / "points")]
    assert len(want) == 4 and want[0][0] == "frame-size=256,itr=0,ring=64"
    for f in ("s.toml", "s.yaml"):
        g = Grid()
        load_sweep_file(tmp_path / f, g)
        assert [(p.name, p.argv) for p in g.make_points(tmp_path / "points")] == want
    # the command line overrides the file's axis
    g = Grid()
    load_sweep_file(tmp_path / "s.toml", g)
    g.add_spec("itr=3")
    assert [p.name for p in g.make_points(tmp_path / "points")] == ["frame-size=256,itr=3,ring=64",
                                                                    "frame-size=1518,itr=3,ring=64"]
    (tmp_path / "u.toml").write_text('[run]\ncolour = "red"\n')
    with pytest.raises(GridError, match=r"run\.colour: hilnic run has no option --colour"):
        load_sweep_file(tmp_path / "u.toml", Grid())


def test_sweep_bar_redraws_one_line_on_a_terminal():
    buf = io.StringIO()
    bar = SweepBar(buf, total=3, tty=True)
    bar.point("a", "ok", resumed=True)
    bar.point("b", "ok")
    bar.point("c", "failed")
    bar.finish()
    text = buf.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # \r redraws, one line at the end
    last = text.rstrip("\n").split("\r")[-1]
    assert "3/3 points" in last and "ok 2, failed 1, 1 resumed" in last


def test_every_run_option_is_an_axis_with_the_runs_own_checks(tmp_path):
    """The scenario knobs too (--cc, --qdisc, --rtt ...): the sweep takes them from the run's parser."""
    g = Grid(["--sim", "model"])
    for spec in ("qdisc=pfifo_fast,noqueue", "rtt=0,10ms", "cc=reno", "nodelay=on,off"):
        g.add_spec(spec)
    points = g.make_points(tmp_path / "points")
    assert len(points) == 8 and points[3].name == "qdisc=pfifo_fast,rtt=10ms,cc=reno,nodelay=off"
    rc = points[3].rc
    assert (rc.qdisc, rc.rtt_us, rc.cc, rc.nodelay) == ("pfifo_fast", 10_000.0, "reno", False)
    argv = points[3].argv
    assert argv[argv.index("--rtt") + 1] == "10000us" and "--nodelay" not in argv
    for spec, message in (("qdisc=cake", "point qdisc=cake: --qdisc"), ("rtt=10", "--grid rtt=10: argument --rtt")):
        bad = Grid(["--sim", "model"])
        bad.add_spec(spec)
        with pytest.raises(GridError, match=message):
            bad.make_points(tmp_path / "points")
