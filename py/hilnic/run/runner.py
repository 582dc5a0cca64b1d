"""Run one `hilnic run` and print its summary.

`run(rc)` picks the simulator: `model` runs the scenario in this process on the behavioral
NIC in virtual time; `icarus`/`verilator` build nic_harness and run the cocotb test
hilnic.run.rtl_main in the simulator, with the RunConfig in HILNIC_RUN_CFG and the
simulator's output in <out>/sim.log (unless verbose). The simulator process leaves
<out>/progress.json (polled here for the progress bar) and <out>/summary.json (read back
here, completed with the wall time including the build, the log and the waveform).
`format_summary(summary)` is the table the command prints.

The output directory is locked for the run (a second run into it is refused). On SIGINT or
SIGTERM (see hilnic.run.interrupt) the simulator's process group is stopped and waited for
(hilnic.cosim.sim.run_process_group); the simulator writes its summary on the way out if it
can (rtl_main), and this process then completes summary.json with status "interrupted" and
trims wire.pcap to whole records.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from hilnic.cosim.sim import GTKW, SimulatorWallTimeout, build_dir_for, display_path, quiet, run_rtl_test, verilator_vcd_reason
from hilnic.kernel.env import NS, SimulationTimeout
from hilnic.run.config import OUTPUT_FILES, RunConfig, RunConfigError, fmt_size
from hilnic.run.interrupt import Interrupted, at_event_boundaries, signal_name, signum_of
from hilnic.run.linux_peer import peer_factory, peer_namespace
from hilnic.run.linux_peer import to_env as linux_peer_env
from hilnic.run.scenario import Scenario, sim_limit_ps, testbed_config, write_json
from hilnic.run.schema import SCHEMA_VERSION, STATUS_FAILED, STATUS_INTERRUPTED
from hilnic.testbed import model_testbed
from hilnic.trace.waves import WaveError, write_save_file
from hilnic.wire.netns import PeerNamespace
from hilnic.wire.pcap_trim import trim_capture

MODULE = "hilnic.run.rtl_main"
TESTCASE = "run"
POLL_S = 0.25
WAVE_LAYOUT = GTKW  # groups and formats; the run's .gtkw adds view, markers, names
NON_TTY_EVERY_S = 5.0


# -- the progress bar ---------------------------------------------------------------------------


def fmt_ps(ps: int | float) -> str:
    if ps >= 1e12:
        return f"{ps / 1e12:.3f} s"
    if ps >= 1e9:
        return f"{ps / 1e9:.3f} ms"
    return f"{ps / 1e6:.1f} us"


class ProgressBar:
    """One line on a stream: `\\r` updates on a TTY, else a line every NON_TTY_EVERY_S (and the last)."""

    WIDTH = 24

    def __init__(self, stream: IO[str], label: str, tty: bool | None = None) -> None:
        self.stream = stream
        self.label = label
        if tty is None:
            try:
                tty = stream.isatty()
            except (AttributeError, ValueError):
                tty = False
        self.tty = tty
        self.wall0 = time.perf_counter()
        self._last_print = 0.0
        self._last_text = ""
        self._done = False
        self._lock = threading.Lock()
        self.state: tuple[int, int, int, int] | None = None

    def _text(self, status: str = "") -> str:
        wall = time.perf_counter() - self.wall0
        if self.state is None:
            return f"{self.label}: {status or 'starting'} ({wall:.0f} s)"
        sim_ps, frames, done, total = self.state
        frac = min(1.0, done / total) if total else 0.0
        fill = int(frac * self.WIDTH)
        bar = "#" * fill + "-" * (self.WIDTH - fill)
        return (f"{self.label} [{bar}] {100 * frac:3.0f}%  {fmt_size(done)}/{fmt_size(total)}  "
                f"frames {frames:,}  sim {fmt_ps(sim_ps)}  wall {wall:.1f} s")

    def _emit(self, text: str, final: bool = False) -> None:
        if self.tty:
            pad = max(0, len(self._last_text) - len(text))
            self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._last_text = text

    def update(self, sim_ps: int, frames: int, bytes_done: int, total: int) -> None:
        with self._lock:
            self.state = (sim_ps, frames, bytes_done, total)
            self._maybe_print()

    def status(self, text: str) -> None:
        """Before the first numbers (building, starting the simulator)."""
        with self._lock:
            if self.state is None:
                self._maybe_print(text)

    def _maybe_print(self, status: str = "") -> None:
        if self._done:
            return
        now = time.perf_counter()
        every = 0.1 if self.tty else NON_TTY_EVERY_S
        if now - self._last_print < every:
            return
        if not self.tty and self._last_print == 0.0:  # first non-TTY line only after a while
            self._last_print = now
            return
        self._last_print = now
        self._emit(self._text(status))

    def finish(self, status: str = "") -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            text = self._text(status)
            if status and self.state is not None:
                text += f"  {status}"
            self._emit(text, final=True)

    def abort(self) -> None:
        """No final line (an error message follows); on a TTY end the line the bar is on."""
        with self._lock:
            if not self._done and self.tty and self._last_text:
                with contextlib.suppress(OSError, ValueError):
                    self.stream.write("\n")
                    self.stream.flush()
            self._done = True


class _Poller(threading.Thread):
    """Follows <out>/progress.json written by the simulator process."""

    def __init__(self, path: Path, bar: ProgressBar, sim: str) -> None:
        super().__init__(daemon=True, name="hilnic-run-progress")
        self.path = path
        self.bar = bar
        self.sim = sim
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(POLL_S):
            self.poll()

    def poll(self) -> None:
        try:
            p = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.bar.status(f"building nic_harness and starting {self.sim}")
            return
        self.bar.update(int(p["sim_ps"]), int(p["frames"]), int(p["bytes_done"]), int(p["total"]))


# -- running ------------------------------------------------------------------------------------


def run(rc: RunConfig, progress_stream: IO[str] | None = None) -> dict[str, Any]:
    """Validate `rc`, run it, return the summary ("ok", "status", "error", "out", "log", ...).

    Raises RunConfigError for a bad configuration or an output directory it cannot use;
    Interrupted (a KeyboardInterrupt, with the summary) when SIGINT or SIGTERM stopped the run
    (inside `stop_signals()`; a plain KeyboardInterrupt counts as SIGINT); OSError when the
    output cannot be written (a full disk). A failed run comes back with ok=false."""
    rc.validate()
    out = rc.out_dir().resolve()
    stream = progress_stream if progress_stream is not None else sys.stderr
    with _claim_out(out):
        rc = dataclasses.replace(rc, out=str(out))
        # --peer linux: the namespace lives as long as the run, deleted however it ends
        with peer_namespace(rc) as ns:
            if rc.sim == "model":
                return _run_model(rc, out, stream, ns)
            return _run_rtl(rc, out, stream, ns)


LOCK_NAME = ".hilnic-run.lock"


@contextlib.contextmanager
def _claim_out(out: Path) -> Iterator[None]:
    """Create `out`, hold its lock for the run (a second run into it is refused, not mixed
    in), remove an earlier run's files."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fh = open(out / LOCK_NAME, "a+")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise RunConfigError(f"--out {out}: cannot write there: {exc.strerror or exc}") from None
    held = False
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            pid = fh.read().strip()
            raise RunConfigError(f"--out {out}: another hilnic run{f' (pid {pid})' if pid else ''} is writing "
                                 f"there") from None
        held = True
        with contextlib.suppress(OSError):  # the pid only helps the message above
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)
        yield
    finally:
        if held:
            with contextlib.suppress(OSError):
                (out / "progress.json").unlink(missing_ok=True)  # only meaningful while a run goes on
            with contextlib.suppress(OSError):
                (out / LOCK_NAME).unlink()
        with contextlib.suppress(OSError):
            fh.close()


def _label(rc: RunConfig) -> str:
    return f"hilnic run ({rc.proto}, {rc.sim}{', Linux peer' if rc.peer == 'linux' else ''})"


def _bare_summary(rc: RunConfig, error: str, status: str = STATUS_FAILED) -> dict[str, Any]:
    """A summary without numbers (the run ended before it had any)."""
    return {"schema_version": SCHEMA_VERSION, "ok": False, "status": status, "error": error, "sim": rc.sim,
            "proto": rc.proto, "nbytes": rc.nbytes}


def _run_model(rc: RunConfig, out: Path, stream: IO[str], ns: PeerNamespace | None = None) -> dict[str, Any]:

    bar = ProgressBar(stream, _label(rc))
    t0 = time.perf_counter()
    sc: Scenario | None = None
    tb: Any = None
    try:
        make_peer = peer_factory(rc, ns.fds, ns.info()) if ns is not None and ns.fds is not None else None
        tb = model_testbed(testbed_config(rc), make_peer=make_peer, mem_latency_ps=int(rc.mem_latency_ns * NS))
        sc = Scenario(tb, rc, bar.update, out=out, interval=0.1)
        task = tb.host.kernel.spawn(sc.run(), "hilnic-run")
        try:
            with at_event_boundaries() as stopped:  # raises Interrupted after the loop stops
                summary = tb.env.run_until_complete(task, sim_limit_ps(rc), stopped.__len__)
        except SimulationTimeout:
            summary = sc.fail(f"the run did not finish within {rc.sim_limit_ms:g} ms of simulated time "
                              f"(raise --sim-limit-ms)")
        except RuntimeError as exc:  # a kernel task raised (the cause is the error)
            if isinstance(exc.__cause__, KeyboardInterrupt):  # the signal landed inside the task
                raise exc.__cause__ from None
            summary = sc.fail(exc.__cause__ or exc)
        except (AssertionError, TimeoutError, ValueError, OSError) as exc:
            summary = sc.fail(exc)
    except KeyboardInterrupt as exc:
        signum = signum_of(exc)
        summary = _bare_summary(rc, f"interrupted by {signal_name(signum)}", STATUS_INTERRUPTED)
        if sc is not None:
            with contextlib.suppress(Exception):
                summary = sc.interrupt(signal_name(signum))
        _finish_interrupted(rc, out, summary, signum, time.perf_counter() - t0)
        bar.finish("interrupted")
        raise Interrupted(signum, summary) from None
    except BaseException:
        bar.abort()
        raise
    finally:
        if tb is not None:  # a run stopped early leaves processes mid-syscall
            tb.env.close()
    summary["wall_total_s"] = time.perf_counter() - t0
    summary.update(out=str(out), log="", fst="")
    try:
        _write_summary(out, summary)
    except BaseException:
        bar.abort()
        raise
    bar.finish("done" if summary["ok"] else "FAILED")
    return summary


def _finish_interrupted(rc: RunConfig, out: Path, summary: dict[str, Any], signum: int, wall: float) -> None:
    """A stopped run's last words: status, signal, a readable pcap, summary.json (best effort:
    the signal decides the exit status, not a full disk)."""
    summary.update(ok=False, status=STATUS_INTERRUPTED, signal=signal_name(signum), wall_total_s=wall, out=str(out))
    summary.setdefault("schema_version", SCHEMA_VERSION)
    # the simulator's own error names its phase but the SIGTERM this process sent it
    phase = re.search(r" \(during \w+\)$", summary.get("error", ""))
    summary["error"] = f"interrupted by {signal_name(signum)}" + (phase.group(0) if phase else "")
    summary.setdefault("log", "" if rc.verbose or not rc.rtl else str(out / "sim.log"))
    summary.setdefault("fst", "")
    kept = trim_capture(out / "wire.pcap")
    if kept is not None and isinstance(summary.get("files"), dict):
        summary["files"]["pcap_frames"] = kept
    with contextlib.suppress(OSError):
        _write_summary(out, summary)
    with contextlib.suppress(OSError):
        (out / "progress.json").unlink(missing_ok=True)


def _run_rtl(rc: RunConfig, out: Path, stream: IO[str], ns: PeerNamespace | None = None) -> dict[str, Any]:

    log = out / "sim.log"
    # HILNIC_RUN_PARENT: the simulator stops itself if this process dies (see rtl_main)
    env = {"HILNIC_RUN_CFG": rc.to_json(), "HILNIC_RUN_PARENT": str(os.getpid())}
    pass_fds: tuple[int, ...] = ()
    if ns is not None and ns.fds is not None:  # the simulator inherits the TAP and the receiver's pipes
        env.update(linux_peer_env(ns))
        pass_fds = tuple(ns.fds)
    if not rc.verbose:
        env["COCOTB_LOG_LEVEL"] = "WARNING"
    # quiet() points fds 1 and 2 at the log; the bar keeps writing to the terminal's stderr
    bar_stream = stream
    dup_stream = None
    try:
        if not rc.verbose and stream.fileno() == 2:
            dup_stream = os.fdopen(os.dup(2), "w", buffering=1)
            bar_stream = dup_stream
    except (AttributeError, ValueError, OSError):
        pass
    bar = ProgressBar(bar_stream, _label(rc), tty=stream.isatty() if hasattr(stream, "isatty") else False)
    waves_note = verilator_vcd_reason() if rc.waves and rc.sim == "verilator" else ""
    if waves_note:  # said before the build, not only in the table after it
        bar_stream.write(f"hilnic run: {waves_note}\n")
    poller = _Poller(out / "progress.json", bar, rc.sim)
    run_name = "run-" + hashlib.sha1(str(out).encode()).hexdigest()[:8]
    kwargs = dict(waves=rc.waves, sim=rc.sim, seed=rc.seed, extra_env=env, wall_timeout_s=rc.wall_limit_s,
                  pass_fds=pass_fds,
                  run_name=run_name)
    error = ""
    run_dir: Path | None = None
    t0 = time.perf_counter()
    poller.start()
    try:
        try:
            if rc.verbose:
                run_dir = run_rtl_test(MODULE, TESTCASE, **kwargs)
            else:
                with quiet(log):
                    run_dir = run_rtl_test(MODULE, TESTCASE, **kwargs)
        except AssertionError as exc:
            error = _first_reason(str(exc))
        except SimulatorWallTimeout as exc:
            error = f"{exc} (--wall-limit-s)"
        except (RuntimeError, OSError) as exc:  # the build failed (compiler error, missing simulator)
            error = f"simulator build/run failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
        finally:
            poller.stop_event.set()
            poller.join()
            poller.poll()
    except KeyboardInterrupt as exc:
        # run_process_group has stopped the simulator's process group and waited for it
        signum = signum_of(exc)
        summary = _read_summary(out) or _bare_summary(rc, f"interrupted by {signal_name(signum)}", STATUS_INTERRUPTED)
        _progress_into(summary, bar)
        _finish_interrupted(rc, out, summary, signum, time.perf_counter() - t0)
        bar.finish("interrupted")
        _close(dup_stream)
        raise Interrupted(signum, summary) from None
    except BaseException:
        bar.abort()
        _close(dup_stream)
        raise
    wall = time.perf_counter() - t0
    summary = _read_summary(out)
    if not summary:
        summary = _bare_summary(rc, error or "the simulation wrote no summary")
    elif error and (summary.get("ok") or summary.get("status") != STATUS_FAILED):
        # the simulator's summary says ok, or "interrupted" (stopped at the wall-clock bound)
        summary.update(ok=False, status=STATUS_FAILED, error=error)
    elif error and not summary.get("error"):
        summary["error"] = error
    summary.pop("signal", None)
    if error:  # the simulator may have been killed mid-write
        kept = trim_capture(out / "wire.pcap")
        if kept is not None and isinstance(summary.get("files"), dict):
            summary["files"]["pcap_frames"] = kept
    summary["wall_total_s"] = wall
    summary["out"] = str(out)
    summary["log"] = "" if rc.verbose else str(log)
    try:
        summary["fst"] = _move_waves(rc, run_dir, run_name, out) if rc.waves else ""
        summary["gtkw"] = ""
        if summary["fst"]:
            summary["gtkw"], note = _save_file(Path(summary["fst"]))
            waves_note = "; ".join(n for n in (waves_note, note) if n)
        summary["waves_note"] = waves_note
        _write_summary(out, summary)
        (out / "progress.json").unlink(missing_ok=True)
    except BaseException:
        bar.abort()
        _close(dup_stream)
        raise
    bar.finish("done" if summary.get("ok") else "FAILED")
    _close(dup_stream)
    return summary


def _linux_peer_rows(s: dict[str, Any], lp: dict[str, Any]) -> list[str]:
    """The Linux peer's rows of the summary table: its socket, its kernel's frames and
    counters, and how the kernel's wall time met simulated time."""
    rows = []
    row = lambda k, v: rows.append(f"  {k:<18} {v}")  # noqa: E731
    rcv = lp.get("receiver") or {}
    c = lp.get("counters") or {}
    where = f"this machine's kernel {rcv.get('kernel', '')} in netns {lp.get('netns')} ({lp.get('tap')} {lp.get('peer_ip')})"
    if s.get("proto") == "tcp":
        got = f"its TCP socket received {rcv.get('bytes', 0):,} of {s.get('nbytes', 0):,} bytes"
    else:
        got = (f"its UDP socket received {rcv.get('datagrams', 0):,} of {rcv.get('datagrams_expected', 0):,} datagrams, "
               f"{rcv.get('bytes', 0):,} bytes")
    row("linux peer", f"{where}: {got}" + (", byte-exact" if rcv.get("match") else "")
        + (f" ({rcv['error']})" if rcv.get("error") else ""))
    fk = lp.get("from_kernel") or {}
    kinds = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in sorted(fk.items(), key=lambda kv: -kv[1]))
    row("kernel frames", f"{lp.get('frames_from_kernel', 0):,} to the host ({kinds}); {lp.get('frames_to_kernel', 0):,} "
                         f"from the host" + (f" (+{lp['dropped_by_loss']:,} lost on the wire)"
                                             if lp.get("dropped_by_loss") else ""))
    ko, w = lp.get("kernel_options") or {}, lp.get("window") or {}
    if ko or w:
        opts = [f"MSS {ko['mss']}"] if "mss" in ko else []
        opts += [f"wscale {ko['wscale']}"] if "wscale" in ko else ["no window scaling"]
        opts += ["timestamps" if ko.get("timestamps") else "no timestamps", "SACK" if ko.get("sack_perm") else "no SACK"]
        win = f"; window {w['first']:,} B at the SYN-ACK, {w['min']:,}..{w['max']:,} B" if w else ""
        row("kernel tcp", ", ".join(opts) + win + (f"; {lp['sack_blocks']:,} SACK blocks" if lp.get("sack_blocks") else ""))
    if c:
        if s.get("proto") == "tcp":
            names = [("Tcp", "InSegs"), ("Tcp", "InCsumErrors"), ("Tcp", "InErrs"), ("Ip", "InHdrErrors"),
                     ("TcpExt", "TCPOFOQueue"), ("TcpExt", "DelayedACKs")]
        else:
            names = [("Udp", "InDatagrams"), ("Udp", "InCsumErrors"), ("Udp", "InErrors"), ("Ip", "InHdrErrors"),
                     ("Ip", "ReasmReqds"), ("Ip", "ReasmOKs"), ("Ip", "ReasmFails")]
        row("kernel counters", ", ".join(f"{g} {n} {c.get(g, {}).get(n, 0):,}" for g, n in names)
            + " (stats.txt: all)")
    lat = lp.get("answer_latency_us") or {}
    delay = lp.get("wire_delay_ps", 0)
    row("kernel timing", f"answers stamped {fmt_ps(delay)} (wire delay + --rtt) after the frame or poll; "
                         f"{lp.get('answers_at_once', 0):,} while the simulation waited on a frame"
                         + (f" (median {lat['median']:.0f} us wall)" if lat.get("median") is not None else "")
                         + f", {lp.get('answers_later', 0):,} on a later poll; "
                           f"{lp.get('settle_wall_s', 0) + lp.get('pace_wall_s', 0):.3f} s wall waiting for the kernel "
                           f"({lp.get('settle_waits', 0):,} waits after a frame, {lp.get('pace_waits', 0):,} paced polls)")
    return rows


def _read_summary(out: Path) -> dict[str, Any]:
    try:
        s = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
    return s if isinstance(s, dict) else {}


def _progress_into(summary: dict[str, Any], bar: ProgressBar) -> None:
    """A summary without numbers gets the last progress the simulator reported."""
    if "frames" not in summary and bar.state is not None:
        sim_ps, frames, done, _total = bar.state
        summary.update(progress={"sim_ps": sim_ps, "frames": frames, "bytes_done": done})


def _close(f: IO[str] | None) -> None:
    if f is not None:
        with contextlib.suppress(OSError):
            f.close()


def _first_reason(text: str) -> str:
    """One line from run_rtl_test's AssertionError: the failing test's message, else its first line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for ln in lines[1:]:
        if ln.startswith(f"{TESTCASE}:"):
            return ln[len(TESTCASE) + 1:].strip()
    return lines[0] if lines else "the simulation failed"


def _move_waves(rc: RunConfig, run_dir: Path | None, run_name: str, out: Path) -> str:

    dirs = [d for d in (run_dir, build_dir_for("nic_harness", {}, rc.sim, True) / "runs" / run_name) if d]
    for d in dirs:
        for name in ("waves.fst", "dump.fst", "dump.vcd"):
            src = d / name
            if src.exists():
                dst = out / ("waves.vcd" if name.endswith(".vcd") else "waves.fst")
                shutil.move(str(src), dst)
                return str(dst)
    return ""


def _save_file(dump: Path) -> tuple[str, str]:
    """(path of the run's .gtkw, "") or ("", why there is none): a dump cut short by a killed
    simulator may not be readable."""
    try:
        sf = write_save_file(dump, WAVE_LAYOUT)
    except (WaveError, OSError) as exc:
        return "", f"no GTKWave save file: {exc}"
    return str(sf.path), "" if sf.marks else "no doorbell in the waveform: the save file has no markers"


def _write_summary(out: Path, summary: dict[str, Any]) -> None:
    write_json(out / "summary.json", summary)


# -- the table ----------------------------------------------------------------------------------


def format_summary(s: dict[str, Any]) -> str:
    """The summary table `hilnic run` prints."""

    cfg = s.get("config") or {}
    what = (f"{fmt_size(s.get('nbytes', 0))} over {str(s.get('proto', '?')).upper()} "
            f"through {'the behavioral NIC model' if s.get('sim') == 'model' else 'nic_top on ' + str(s.get('sim'))}")
    failed = "INTERRUPTED" if s.get("status") == STATUS_INTERRUPTED else "FAILED"
    if "frames" not in s:
        lines = [f"hilnic run: {what}: no summary from the simulation"]
        p = s.get("progress")
        if p:
            lines.append(f"  so far             {p['frames']:,} frames, {p['bytes_done']:,} bytes delivered, "
                         f"sim {fmt_ps(p['sim_ps'])}")
        if s.get("log"):
            lines.append(f"  simulator log      {display_path(s['log'])}")
        lines.append(f"  result             {failed}: {s.get('error', '')}")
        return "\n".join(lines)
    knobs = [f"MTU {s.get('mtu')}"]
    if s.get("proto") == "tcp":
        knobs.append(f"MSS {s.get('mss')}")
    else:
        knobs.append(f"datagrams of {s.get('datagram')} B")
    knobs += [f"ring {cfg.get('ring_size')}", f"ITR {cfg.get('itr')}"]
    if s.get("proto") == "tcp":
        knobs.append(f"TSO {'on' if cfg.get('tso', True) else 'off'}")
    knobs.append(f"loss {cfg.get('loss_rate', 0):g}")
    if s.get("sim") != "model" or cfg.get("mem_latency_ns") != 500.0:
        knobs.append(f"memory latency {cfg.get('mem_latency_ns', 500):g} ns")
    lines = [f"hilnic run: {what} ({', '.join(knobs)})"]
    row = lambda k, v: lines.append(f"  {k:<18} {v}")  # noqa: E731
    row("frames", f"{s['frames']:,} on the wire, {s['wire_bytes']:,} bytes incl. FCS "
                  f"({s['data_frames']:,} carrying data, {s['data_payload_bytes']:,} payload bytes"
                  + (" incl. retransmissions)" if s.get("proto") == "tcp" else ")"))
    exact = s.get("ok") or s.get("phase") == "done"
    row("payload", f"{s['payload_bytes']:,} of {s['nbytes']:,} bytes delivered to the peer"
                   + (", byte-exact" if exact and s["payload_bytes"] == s["nbytes"] else ""))
    row("simulated time", f"{fmt_ps(s['sim_time_ps'])} in all; data on the wire for {fmt_ps(s['transfer_ps'])}")
    row("throughput", f"{s['throughput_gbps']:.2f} Gb/s of payload; the data frames fill {s['line_rate_pct']:.1f}% "
                      f"of 10GbE line rate (frame + FCS + preamble 8 + IFG 12)")
    sd = s["slowdown"]
    pace = (f"{sd:,.0f}x slower than real time" if sd >= 10 else f"{sd:.1f}x slower than real time" if sd >= 1
            else f"{1 / sd:.1f}x faster than real time" if sd > 0 else "")
    wall = f"{s['wall_s']:.2f} s for the run, {pace}"
    if s.get("wall_total_s") is not None and s.get("sim") != "model":
        wall += f"; {s['wall_total_s']:.1f} s in all incl. build"
    row("wall time", wall)
    ck = s.get("clock")
    if ck and ck.get("cycles"):
        row("clock", f"{ck['cycles']:,} cycles of {ck['period_ps'] / 1000:g} ns; "
                     + (f"{ck['skipped']:,} ({100 * ck['skipped'] / ck['cycles']:.1f}%) skipped while the RTL was quiet "
                        f"(clock hold)" if ck.get("hold") else "every one simulated (--no-clock-hold)"))
    if "interrupts" in s:
        sq, q, r = s["softirqs"], s["qdisc"], s["ring"]
        row("interrupts", f"{s['interrupts']:,} (IRQ 16, eth0)")
        row("softirqs", f"NET_TX {sq['NET_TX']:,}, NET_RX {sq['NET_RX']:,}")
        for cpu in s.get("cpu") or []:  # /proc/stat's split: who paid which CPU time
            row("cpu time" if cpu["cpu"] == 0 else "", f"CPU{cpu['cpu']} (us): " + ", ".join(
                f"{label} {cpu[name + '_ns'] / 1000:,.1f}" for name, label in
                (("us", "user"), ("sy", "system"), ("si", "softirq"), ("hi", "irq")))
                + f"; NET_RX {cpu['softirqs']['NET_RX']:,}, IRQs {cpu['interrupts']:,}")
        row("qdisc", f"{q['requeues']:,} requeues, {q['drops']:,} drops")
        row("ring", f"{r['stops']:,} stops, {r['restarts']:,} restarts by the cleaner "
                    f"(+{r['reprieves']:,} at once; {r['tx_busy']:,} NETDEV_TX_BUSY)")
    c = s.get("copies") or {}
    if c:
        row("copies", f"1. {c.get('user_copy_bytes', 0):,} bytes user -> kernel; "
                                 f"2. {c.get('clones', 0):,} clones ({c.get('fclone_hits', 0):,} fclone), "
                                 f"{c.get('pskb_copies', 0) + c.get('skb_copies', 0):,} deep copies; "
                                 f"3. {c.get('frag_skbs', 0):,} extra skbs")
    t = s.get("tcp")
    if t and s.get("proto") == "tcp":
        text = f"{t['out_segs']:,} segments sent, {t['retrans_segs']:,} retransmitted"
        if t.get("timeouts"):
            text += f" ({t['timeouts']:,} timeouts)"
        if s.get("peer", {}).get("dropped_by_loss"):
            text += f"; {s['peer']['dropped_by_loss']:,} frames dropped by the loss model"
        row("tcp", text)
    elif s.get("peer", {}).get("dropped_by_loss"):
        row("loss", f"{s['peer']['dropped_by_loss']:,} frames dropped by the loss model")
    lp = s.get("linux_peer")
    if lp:
        lines.extend(_linux_peer_rows(s, lp))
    f = s.get("files") or {}
    out = display_path(s.get("out", ""))
    peer_frames = f.get("pcap_peer_frames", 0)
    files = [f"wire.pcap ({f.get('pcap_frames', 0) - peer_frames:,} frames out, {peer_frames:,} in"
             f"{', with FCS' if f.get('pcap_fcs') else ''})"]
    if f.get("trace"):
        files.append("trace.txt")
    if f.get("stats"):
        files.append("stats.txt")
    if f.get("records"):
        files.append("records.npz")
    files.append("summary.json")
    row("output", f"{out}/: " + ", ".join(files))
    if s.get("fst"):
        row("waveform", display_path(s["fst"]) + (f" ({s['waves_note']})" if s.get("waves_note") else ""))
        if s.get("gtkw"):
            lines.append(f"  {'':<18} gtkwave {display_path(s['gtkw'])}   (first doorbell to first interrupt, "
                         f"markers A-D)")
        else:
            lines.append(f"  {'':<18} gtkwave {display_path(s['fst'])} {display_path(str(WAVE_LAYOUT))}")
    if s.get("log"):
        row("simulator log", display_path(s["log"]))
    if not s.get("ok"):
        verdict = f"{failed}: {s.get('error', '')}"
    elif s.get("proto") == "udp" and s["payload_bytes"] != s["nbytes"]:
        verdict = "OK: every datagram that arrived is byte-exact (the rest were lost as configured), nothing leaked"
    else:
        verdict = "OK: delivered byte-exact, nothing leaked"
    row("result", verdict)
    return "\n".join(lines)


__all__ = ["ProgressBar", "format_summary", "run"]
