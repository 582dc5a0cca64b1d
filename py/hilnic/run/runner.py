"""Run one `hilnic run` and print its summary.

`run(rc)` picks the simulator: `model` runs the scenario in this process on the behavioral
NIC in virtual time; `icarus`/`verilator` build nic_harness and run the cocotb test
hilnic.run.rtl_main in the simulator, with the RunConfig in HILNIC_RUN_CFG and the
simulator's output in <out>/sim.log (unless verbose). The simulator process leaves
<out>/progress.json (polled here for the progress bar) and <out>/summary.json (read back
here, completed with the wall time including the build, the log and the waveform).
`format_summary(summary)` is the table the command prints.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from hilnic.cosim.sim import ROOT, build_dir_for, display_path, quiet, run_rtl_test
from hilnic.kernel.env import NS, SimulationTimeout
from hilnic.run.config import RunConfig, fmt_size
from hilnic.run.scenario import Scenario, sim_limit_ps, testbed_config
from hilnic.testbed import model_testbed

MODULE = "hilnic.run.rtl_main"
TESTCASE = "run"
POLL_S = 0.25
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
            text = self._text(status)
            if status and self.state is not None:
                text += f"  {status}"
            self._emit(text, final=True)


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
    """Validate `rc`, run it, return the summary ("ok", "error", "out", "log", ...).

    Raises RunConfigError for a bad configuration; a failed run comes back with ok=false."""
    rc.validate()
    out = rc.out_dir().resolve()
    out.mkdir(parents=True, exist_ok=True)
    rc = dataclasses.replace(rc, out=str(out))
    stream = progress_stream if progress_stream is not None else sys.stderr
    if rc.sim == "model":
        return _run_model(rc, out, stream)
    return _run_rtl(rc, out, stream)


def _label(rc: RunConfig) -> str:
    return f"hilnic run ({rc.proto}, {rc.sim})"


def _run_model(rc: RunConfig, out: Path, stream: IO[str]) -> dict[str, Any]:

    bar = ProgressBar(stream, _label(rc))
    t0 = time.perf_counter()
    tb = model_testbed(testbed_config(rc), mem_latency_ps=int(rc.mem_latency_ns * NS))
    sc = Scenario(tb, rc, bar.update, out=out, interval=0.1)
    task = tb.host.kernel.spawn(sc.run(), "hilnic-run")
    try:
        summary = tb.env.run_until_complete(task, sim_limit_ps(rc))
    except SimulationTimeout:
        summary = sc.fail(f"the run did not finish within {rc.sim_limit_ms:g} ms of simulated time "
                          f"(raise --sim-limit-ms)")
    except RuntimeError as exc:  # a kernel task raised (the cause is the error)
        summary = sc.fail(exc.__cause__ or exc)
    except (AssertionError, TimeoutError, ValueError, OSError) as exc:
        summary = sc.fail(exc)
    summary["wall_total_s"] = time.perf_counter() - t0
    summary.update(out=str(out), log="", fst="")
    _write_summary(out, summary)
    bar.finish("done" if summary["ok"] else "FAILED")
    return summary


def _run_rtl(rc: RunConfig, out: Path, stream: IO[str]) -> dict[str, Any]:

    for stale in ("summary.json", "progress.json", "waves.fst", "waves.vcd", "sim.log"):
        (out / stale).unlink(missing_ok=True)
    log = out / "sim.log"
    env = {"HILNIC_RUN_CFG": rc.to_json()}
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
    poller = _Poller(out / "progress.json", bar, rc.sim)
    run_name = "run-" + hashlib.sha1(str(out).encode()).hexdigest()[:8]
    kwargs = dict(waves=rc.waves, sim=rc.sim, seed=rc.seed, extra_env=env, wall_timeout_s=rc.wall_limit_s,
                  run_name=run_name)
    error = ""
    run_dir: Path | None = None
    t0 = time.perf_counter()
    poller.start()
    try:
        if rc.verbose:
            run_dir = run_rtl_test(MODULE, TESTCASE, **kwargs)
        else:
            with quiet(log):
                run_dir = run_rtl_test(MODULE, TESTCASE, **kwargs)
    except AssertionError as exc:
        error = _first_reason(str(exc))
    except (RuntimeError, OSError) as exc:  # the build failed (compiler error, missing simulator)
        error = f"simulator build/run failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
    finally:
        poller.stop_event.set()
        poller.join()
        poller.poll()
    wall = time.perf_counter() - t0
    sj = out / "summary.json"
    summary: dict[str, Any] = {}
    if sj.exists():
        try:
            summary = json.loads(sj.read_text())
        except ValueError:
            summary = {}
    if not summary:
        summary = {"ok": False, "error": error or "the simulation wrote no summary", "sim": rc.sim, "proto": rc.proto,
                   "nbytes": rc.nbytes}
    elif error and summary.get("ok"):
        summary["ok"] = False
        summary["error"] = error
    elif error and not summary.get("error"):
        summary["error"] = error
    if error and "wall-clock" not in summary.get("error", "") and _killed(error):
        summary["error"] += f" (wall-clock bound {rc.wall_limit_s:g} s, --wall-limit-s)"
    summary["wall_total_s"] = wall
    summary["out"] = str(out)
    summary["log"] = "" if rc.verbose else str(log)
    summary["fst"] = _move_waves(rc, run_dir, run_name, out) if rc.waves else ""
    _write_summary(out, summary)
    (out / "progress.json").unlink(missing_ok=True)
    bar.finish("done" if summary.get("ok") else "FAILED")
    if dup_stream is not None:
        dup_stream.close()
    return summary


def _killed(error: str) -> bool:
    return "exit -9" in error or "exit 137" in error or "died" in error


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


def _write_summary(out: Path, summary: dict[str, Any]) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))


# -- the table ----------------------------------------------------------------------------------


def format_summary(s: dict[str, Any]) -> str:
    """The summary table `hilnic run` prints."""

    cfg = s.get("config") or {}
    what = (f"{fmt_size(s.get('nbytes', 0))} over {str(s.get('proto', '?')).upper()} "
            f"through {'the behavioral NIC model' if s.get('sim') == 'model' else 'nic_top on ' + str(s.get('sim'))}")
    if "frames" not in s:
        lines = [f"hilnic run: {what}: no summary from the simulation"]
        if s.get("log"):
            lines.append(f"  simulator log      {display_path(s['log'])}")
        lines.append(f"  result             FAILED: {s.get('error', '')}")
        return "\n".join(lines)
    knobs = [f"MTU {s.get('mtu')}"]
    if s.get("proto") == "tcp":
        knobs.append(f"MSS {s.get('mss')}")
    else:
        knobs.append(f"datagrams of {s.get('datagram')} B")
    knobs += [f"ring {cfg.get('ring_size')}", f"ITR {cfg.get('itr')}", f"loss {cfg.get('loss_rate', 0):g}"]
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
        row("qdisc", f"{q['requeues']:,} requeues, {q['drops']:,} drops")
        row("ring", f"{r['stops']:,} stops, {r['restarts']:,} restarts by the cleaner "
                    f"(+{r['reprieves']:,} at once; {r['tx_busy']:,} NETDEV_TX_BUSY)")
    c = s.get("copies") or {}
    if c:
        row("copies (seed 4.5)", f"1. {c.get('user_copy_bytes', 0):,} bytes user -> kernel; "
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
    f = s.get("files") or {}
    out = display_path(s.get("out", ""))
    files = [f"wire.pcap ({f.get('pcap_frames', 0):,} frames{', with FCS' if f.get('pcap_fcs') else ''})"]
    if f.get("trace"):
        files.append("trace.txt")
    if f.get("stats"):
        files.append("stats.txt")
    files.append("summary.json")
    row("output", f"{out}/: " + ", ".join(files))
    if s.get("fst"):
        row("waveform", f"{display_path(s['fst'])}")

        lines.append(f"  {'':<18} gtkwave {display_path(s['fst'])} {display_path(str(ROOT / 'hdl' / 'nic.gtkw'))}")
    if s.get("log"):
        row("simulator log", display_path(s["log"]))
    if not s.get("ok"):
        verdict = f"FAILED: {s.get('error', '')}"
    elif s.get("proto") == "udp" and s["payload_bytes"] != s["nbytes"]:
        verdict = "OK: every datagram that arrived is byte-exact (the rest were lost as configured), nothing leaked"
    else:
        verdict = "OK: delivered byte-exact, nothing leaked"
    row("result", verdict)
    return "\n".join(lines)


__all__ = ["ProgressBar", "format_summary", "run"]
