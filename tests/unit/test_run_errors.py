"""`hilnic run`'s mistakes, OS errors and signals on the behavioral model: one line on stderr,
a non-zero exit, no traceback (--verbose shows it), and a summary.json that says what happened.

Most run `hilnic run` as a child process (its real stderr, its real exit status), each bounded
by PROC_TIMEOUT_S; the in-process ones are bounded in simulated time (--sim-limit-ms).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from hilnic.cli.main import main
from hilnic.run.interrupt import Interrupted, at_event_boundaries, stop_signals
from hilnic.wire.pcap import read_pcap
from hilnic.wire.pcap_trim import trim_capture

PROC_TIMEOUT_S = 120
HILNIC = [sys.executable, "-m", "hilnic.cli.main"]


def _hilnic(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HILNIC, *argv], capture_output=True, text=True, timeout=PROC_TIMEOUT_S,
                          env=env, stdin=subprocess.DEVNULL)


def _one_line(r: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def _main(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


# -- the output directory ---------------------------------------------------------------------


def test_out_under_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    r = _hilnic("run", "--sim", "model", "--bytes", "1K", "--out", str(tmp_path / "f" / "sub"))
    assert r.returncode == 2
    line = _one_line(r)
    assert line.startswith("hilnic run: error: --out") and "is a file, not a directory" in line


@pytest.mark.parametrize("where", ["/proc", "/sys"])
def test_out_where_nothing_can_be_written(where):
    out = f"{where}/hilnic-test-{uuid.uuid4().hex[:8]}"
    r = _hilnic("run", "--sim", "model", "--bytes", "1K", "--out", out)
    assert r.returncode == 2
    line = _one_line(r)
    assert line.startswith(f"hilnic run: error: --out {out}: cannot write there:"), line


def test_out_holding_an_earlier_run_needs_force(tmp_path):
    out = tmp_path / "o"
    assert _hilnic("run", "--sim", "model", "--bytes", "4K", "--out", str(out)).returncode == 0
    first = json.loads((out / "summary.json").read_text())
    r = _hilnic("run", "--sim", "model", "--bytes", "8K", "--out", str(out))
    assert r.returncode == 2
    assert "holds an earlier run" in _one_line(r) and "--force" in r.stderr
    assert json.loads((out / "summary.json").read_text()) == first  # untouched
    r = _hilnic("run", "--sim", "model", "--bytes", "8K", "--out", str(out), "--force")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "summary.json").read_text())["nbytes"] == 8 << 10
    assert not (out / ".hilnic-run.lock").exists()


def test_out_in_use_by_another_run(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    with open(out / ".hilnic-run.lock", "w") as fh:  # as a running `hilnic run` holds it
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write("4242\n")
        fh.flush()
        r = _hilnic("run", "--sim", "model", "--bytes", "1K", "--out", str(out), "--force")
    assert r.returncode == 2
    assert "another hilnic run (pid 4242) is writing there" in _one_line(r)


def test_missing_simulator(tmp_path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # no iverilog, no vvp
    r = _hilnic("run", "--sim", "icarus", "--out", str(tmp_path / "o"), env=env)
    assert r.returncode == 2
    line = _one_line(r)
    assert "iverilog is not installed" in line and "--sim model" in line


# -- a full disk ------------------------------------------------------------------------------


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs (root only); skipped where it cannot be mounted."""
    d = tmp_path / "tiny"
    d.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], capture_output=True,
                           timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs: {exc}")
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.decode().strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True, timeout=30)


def test_full_disk_is_one_line(tiny_fs):
    r = _hilnic("run", "--sim", "model", "--bytes", "1M", "--out", str(tiny_fs / "o"))
    assert r.returncode == 1
    line = _one_line(r)
    assert line.startswith("hilnic run: error: No space left on device"), line
    assert not (tiny_fs / "o" / "summary.json").exists()  # no empty or half summary


def test_full_disk_verbose_shows_the_traceback(tiny_fs):
    r = _hilnic("run", "--sim", "model", "--bytes", "1M", "--out", str(tiny_fs / "o"), "--verbose")
    assert r.returncode == 1
    assert "Traceback" in r.stderr and r.stderr.strip().splitlines()[-1].startswith("hilnic run: error: No space")


def test_full_disk_during_the_capture(capsys, tmp_path, monkeypatch):
    """ENOSPC while writing wire.pcap (simulated): the run fails, the summary says why."""
    from hilnic.wire import pcap

    written = {"n": 0}
    real = pcap.PcapWriter._write

    def write(self, data, t_ps):
        written["n"] += 1
        if written["n"] > 10:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, data, t_ps)

    monkeypatch.setattr(pcap.PcapWriter, "_write", write)
    out = tmp_path / "o"
    rc = _main("run", "--sim", "model", "--bytes", "256K", "--sim-limit-ms", "2000", "--out", str(out))
    cap = capsys.readouterr()
    assert rc == 1 and "Traceback" not in cap.err
    failed = [ln for ln in cap.err.splitlines() if ln.startswith("hilnic run:")]
    assert len(failed) == 1 and "No space left on device" in failed[0], cap.err
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "failed" and "No space left on device" in s["error"]


# -- what a failed run reports ----------------------------------------------------------------


def test_failed_run_counts_what_was_delivered(capsys, tmp_path):
    out = tmp_path / "o"
    rc = _main("run", "--sim", "model", "--bytes", "256K", "--loss", "0.3", "--sim-limit-ms", "3000",
               "--out", str(out))
    capsys.readouterr()
    assert rc == 1
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "failed" and not s["ok"] and "--sim-limit-ms" in s["error"]
    assert 0 < s["payload_bytes"] < s["nbytes"]
    assert s["payload_bytes"] <= s["data_payload_bytes"]


# -- signals ----------------------------------------------------------------------------------


def _start(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*HILNIC, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def _wait_for(cond, timeout_s: float, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"hilnic run ended early ({proc.returncode}): {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no progress within {timeout_s} s")
        time.sleep(0.1)


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_a_model_run(tmp_path, sig, status):
    out = tmp_path / "o"
    proc = _start("run", "--sim", "model", "--bytes", "512M", "--out", str(out))
    try:
        pcap = out / "wire.pcap"
        _wait_for(lambda: pcap.exists() and pcap.stat().st_size > 64 << 10, 60, proc)
        proc.send_signal(sig)
        so, se = proc.communicate(timeout=PROC_TIMEOUT_S)
    finally:
        with contextlib.suppress(OSError):
            proc.kill()
    assert proc.returncode == status, se
    assert "Traceback" not in se
    assert se.strip().splitlines()[-1].startswith(f"hilnic run: interrupted by {sig.name}")
    assert "INTERRUPTED" in so
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and not s["ok"] and s["signal"] == sig.name
    assert s["error"].startswith(f"interrupted by {sig.name} (during ")
    assert 0 < s["payload_bytes"] < s["nbytes"]
    recs = read_pcap(str(pcap))
    assert len(recs) == s["files"]["pcap_frames"]
    # both directions are captured; the host's frames (source 02:00:00:00:00:01) are the NIC's count
    assert sum(r.frame[6:12] == bytes.fromhex("020000000001") for r in recs) == s["frames"] > 0


def test_stop_signals_turn_sigterm_into_interrupted():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as ei, stop_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises at once
    assert ei.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before  # restored


def test_a_signal_at_event_boundaries_waits_for_the_loop():
    # a model run's callbacks write a frame and then count it: the signal must not land between
    with pytest.raises(Interrupted) as ei, stop_signals(), at_event_boundaries() as stopped:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        assert stopped == [signal.SIGTERM]  # recorded, not raised
        done = True  # the code in between ran to its end
    assert done and ei.value.signum == signal.SIGTERM


# -- a capture cut off mid-record -------------------------------------------------------------


def test_trim_capture_drops_a_partial_record(tmp_path):
    from hilnic.hw.backend import WireFrame
    from hilnic.wire.pcap import PcapWriter

    p = tmp_path / "w.pcap"
    w = PcapWriter(str(p))
    for i in range(3):
        w.write_frame(WireFrame(bytes(range(60)) + b"\0\0\0\0", i * 1000, i * 1000 + 800, True, i))
    w.close()
    whole = p.read_bytes()
    assert trim_capture(p) == 3 and p.read_bytes() == whole
    p.write_bytes(whole[:-7])  # the last record cut short
    assert trim_capture(p) == 2
    assert len(read_pcap(str(p))) == 2
    p.write_bytes(b"not a capture")
    assert trim_capture(p) is None and p.read_bytes() == b"not a capture"
