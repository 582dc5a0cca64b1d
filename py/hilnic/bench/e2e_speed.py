"""End-to-end speed: full-size TCP frames per wall second through stack + driver + RTL.

Every figure comes from one invocation, the runs side by side:

1. Full stack (hilnic.bench.tb_e2e `bulk`): CocotbEnv + RtlNic + host + e1000 driver + peer
   (hilnic.cosim.cocotb_env.rtl_testbed) send --bytes of TCP (tcp_bulk, MTU 1500: 1514-byte
   frames, 1518 on the wire with FCS; memory read latency 500 ns). Frames per wall second
   over the bulk phase only (tcp_bulk: connect, send, close, until the peer has every
   byte; build, simulator start-up, reset, driver probe/open and teardown excluded). Three
   runs: the transaction-level memory (mem_model="py", tb_axi_mem, one Python wake per
   burst) with the harness's clock hold on (the default) and off, and cocotbext-axi's
   per-beat AxiSlave (mem_model="axiram", USE_PY_MEM=0 build, clock hold off: it awaits
   clock edges). Ratio = py (hold on) / axiram.
2. RTL-only replay: the py/hold-on run records every MMIO access (queue time, value), every
   DMA read burst's bytes and every frame; hdl/tb/nic_trace_replay_tb.v replays them into
   the same nic_harness with no Python and no VPI (compiled with iverilog / verilator
   --binary, run directly) and checks every frame (length, 64-bit word sum incl. FCS,
   start/end cycle). Ratio = full-stack wall / replay wall over the same simulated interval
   (the bulk phase).
3. Slowdown at line rate: wall seconds per simulated second while the NIC sends at line rate
   inside the py/hold-on run's bulk phase: TCP sends in bursts of back-to-back 1518-byte
   frames (cwnd / window limited, then a pause for ACKs); every run of >= 32 frames each
   starting <= 10 cycles after the previous one ends counts (wire ~100% busy there), wall
   time from the per-frame arrival stamps in Python (see line_rate_window).

    python -m hilnic.bench.e2e_speed [--quick] [--sim icarus|verilator] [--bytes N] [--tso on|off]

--tso (default on): TCP segmentation offload on eth0, as `hilnic run --tso`: the stack hands
the driver GSO skbs of up to 64 KiB and the NIC cuts them (one driver and Python trip per
~45 frames); off, one skb per 1518-byte frame.

Targets (issue): >= 500 frames/s on Icarus, >= 2,000 on Verilator (TSO off) and >= 10,000
with TSO; py/axiram >= 10x; full stack / replay <= 2x; slowdown <= 1,600x on Icarus,
<= 400x on Verilator.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hilnic.bench import common

MODULE = "hilnic.bench.e2e_speed"
TB_MODULE = "hilnic.bench.tb_e2e"
WIRE_PS_PER_BYTE = 800  # 10GbE
TARGETS = {
    "fps": {"icarus": 500.0, "verilator": 2000.0},
    "fps_tso": {"icarus": 500.0, "verilator": 10000.0},
    "ratio": 10.0,
    "replay": 2.0,
    "slowdown": {"icarus": 1600.0, "verilator": 400.0},
}
DEFAULT_BYTES = 4 << 20
QUICK_BYTES = 1 << 20


# -- full stack ------------------------------------------------------------------------------


def run_full(nbytes: int, mem_model: str = "py", hold: bool = True, record: bool = False,
             sim: str = "icarus", mem_latency_ns: float = 500.0, wall_timeout_s: float = 3600,
             tso: bool = True) -> dict[str, Any]:
    """One simulator run of tb_e2e.bulk; returns its bench_result.json."""
    from hilnic.cosim.sim import quiet, run_rtl_test

    cfg = {"nbytes": nbytes, "mem_model": mem_model, "hold": hold, "record": record,
           "mem_latency_ns": mem_latency_ns, "tso": tso}
    params = {} if mem_model == "py" else {"USE_PY_MEM": 0}
    name = f"e2e_{mem_model}_{'hold' if hold else 'nohold'}_{nbytes}{'' if tso else '_notso'}"
    log = common.results_dir() / f"{name}_{sim}.log"
    try:
        with quiet(log):
            run_dir = run_rtl_test(
                TB_MODULE, "bulk", parameters=params, sim=sim, waves=False,
                extra_env={"HILNIC_BENCH_CFG": json.dumps(cfg), "COCOTB_LOG_LEVEL": "WARNING"},
                wall_timeout_s=wall_timeout_s, run_name=name,
            )
    except AssertionError as exc:
        raise common.BenchError(f"{exc}\nsimulator log: {log}") from None
    res = json.loads((run_dir / "bench_result.json").read_text())
    res["sim"] = sim
    res["tso"] = tso
    res["log"] = str(log)
    res["fps"] = res["frames"] / res["wall_s"] if res["wall_s"] > 0 else 0.0
    res["fps_cpu"] = res["frames"] / res["cpu_s"] if res.get("cpu_s") else 0.0
    res["slowdown_all"] = res["wall_s"] / (res["sim_ps"] * 1e-12) if res["sim_ps"] else 0.0
    res["sim_gbps"] = 8 * nbytes / (res["sim_ps"] * 1e-3) if res["sim_ps"] else 0.0  # bits / ps*1e-3 = Gb/s
    res["busy_all"] = busy_fraction(res["stamps"])
    res["window"] = line_rate_window(res["stamps"])
    return res


def busy_fraction(stamps: list[list[float]]) -> float:
    """Share of [first start, last end] the wire spends on frames (+ preamble and minimum IFG)."""
    if not stamps:
        return 0.0
    span = stamps[-1][2] - stamps[0][1]
    busy = sum((s[3] + 20) * WIRE_PS_PER_BYTE for s in stamps)
    return min(1.0, busy / span) if span > 0 else 0.0


def line_rate_window(stamps: list[list[float]], max_gap_ps: int = 64_000, min_frames: int = 32) -> dict[str, Any]:
    """The stretches of the bulk phase in which the NIC sends at line rate: runs of at least
    `min_frames` consecutive frames, each starting at most `max_gap_ps` (10 cycles) after the
    previous one ended (the minimum is 20 byte times of preamble and gap, 16 ns). Per run,
    simulated time from the first frame's end to the last frame's end and wall time between
    the two frames' arrival in Python; summed over the runs. `busy`: the wire's share of that
    simulated time (frames + 20 bytes each at 10 Gb/s)."""
    runs: list[tuple[int, int]] = []
    start = 0
    for k in range(1, len(stamps) + 1):
        if k == len(stamps) or stamps[k][1] - stamps[k - 1][2] > max_gap_ps:
            if k - 1 - start >= min_frames:
                runs.append((start, k - 1))
            start = k
    if not runs:
        return {}
    sim_ps = sum(stamps[j][2] - stamps[i][2] for i, j in runs)
    wall = sum(stamps[j][0] - stamps[i][0] for i, j in runs)
    busy = sum((stamps[k][3] + 20) * WIRE_PS_PER_BYTE for i, j in runs for k in range(i + 1, j + 1))
    frames = sum(j - i for i, j in runs)
    return {"runs": len(runs), "spans": runs, "frames": frames, "sim_ps": sim_ps, "wall_s": wall,
            "busy": min(1.0, busy / sim_ps) if sim_ps else 0.0,
            "slowdown": wall / (sim_ps * 1e-12) if sim_ps else 0.0,
            "fps": frames / wall if wall > 0 else 0.0}


# -- replay ----------------------------------------------------------------------------------


def _replay_sources() -> list[Path]:
    from hilnic.cosim.sim import HDL_NIC, HDL_TB

    tb = ["nic_harness.v", "tb_axi_mem.v", "tb_axil_master.v", "tb_xgmii_rx.v", "tb_axi_checker.v",
          "nic_trace_replay_tb.v"]
    return sorted(HDL_NIC.glob("*.v")) + [HDL_TB / n for n in tb]


def _pow2(n: int, floor: int = 1024) -> int:
    p = floor
    while p < n:
        p *= 2
    return p


def compile_replay(params: dict[str, Any], sim: str) -> list[str]:
    """Build the replay bench (cached by sources and parameters); returns the command prefix."""
    from hilnic.cosim.sim import HDL_NIC, headers

    srcs = _replay_sources()
    deps = srcs + headers()
    out = common.results_dir() / "trace_replay"
    out.mkdir(parents=True, exist_ok=True)
    if sim == "icarus":
        key = repr(sorted(params.items())) + "".join(f"{p}:{p.stat().st_mtime_ns}" for p in deps)
        vvp = out / f"trace-replay-{hashlib.sha1(key.encode()).hexdigest()[:10]}.vvp"
        if not vvp.exists():
            cmd = ["iverilog", "-g2012", "-o", str(vvp) + ".tmp", "-s", "nic_trace_replay_tb", f"-I{HDL_NIC}"]
            cmd += [f"-Pnic_trace_replay_tb.{k}={v}" for k, v in params.items()]
            cmd += [str(s) for s in srcs]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise common.BenchError(f"iverilog failed:\n{r.stdout}{r.stderr}")
            os.replace(str(vvp) + ".tmp", vvp)
        return ["vvp", "-n", str(vvp)]
    if sim == "verilator":
        from hilnic.cosim import sim as hwsim

        make_vars = hwsim._verilator_make_vars(hwsim._verilator_env())
        key = (repr(sorted(params.items())) + repr(make_vars)
               + "".join(f"{p}:{p.stat().st_mtime_ns}" for p in deps))
        mdir = out / f"trace-replay-vl-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
        exe = mdir / "Vnic_trace_replay_tb"
        if not exe.exists():
            try:
                common.verilator_binary("nic_trace_replay_tb", srcs, params, mdir)
            except RuntimeError as exc:
                raise common.BenchError(str(exc)) from None
        return [str(exe)]
    raise ValueError(f"replay: unsupported simulator {sim!r}")


def _kv(line: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def run_replay(trace: str | Path, sim: str = "icarus", timeout_s: float = 3600) -> dict[str, Any]:
    """Replay a recorded trace; wall time between the REPLAY_T0 and REPLAY_T1 lines."""
    tdir = Path(trace)
    meta = json.loads((tdir / "meta.json").read_text())
    params = {"DMA_DATA_WIDTH": meta["data_width"], "CLK_PERIOD_PS": meta["period_ps"],
              "MEM_RD_LATENCY": meta["mem_rd_latency"], "MAX_MMIO": _pow2(meta["n_mmio"]),
              "MAX_BURSTS": _pow2(meta["n_bursts"]), "MAX_BEATS": _pow2(meta["n_beats"]),
              "MAX_FRAMES": _pow2(meta["n_frames"])}
    t_c = time.perf_counter()
    cmd = compile_replay(params, sim)
    compile_s = time.perf_counter() - t_c
    cmd += [f"+mmio={tdir / 'mmio.memh'}", f"+bursts={tdir / 'bursts.memh'}", f"+beats={tdir / 'beats.memh'}",
            f"+frames={tdir / 'frames.memh'}", f"+n_mmio={meta['n_mmio']}", f"+n_bursts={meta['n_bursts']}",
            f"+n_beats={meta['n_beats']}", f"+n_frames={meta['n_frames']}", f"+t_rst={meta['t_rst_ps']}",
            f"+t0={meta['t0_ps']}", f"+t1={meta['t1_ps']}", "+stamp_frames"]
    if meta["t_hold_ps"] >= 0:
        cmd.append(f"+t_hold={meta['t_hold_ps']}")
    t_launch = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    marks: dict[str, tuple[float, dict[str, int]]] = {}
    lines: list[str] = []
    fstamps: dict[int, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        now = time.perf_counter()
        if line.startswith("REPLAY_F "):
            fstamps[int(line[9:])] = now
            continue
        lines.append(line.rstrip())
        for tag in ("REPLAY_T0", "REPLAY_T1", "REPLAY_DONE", "REPLAY_ERROR"):
            if line.startswith(tag):
                marks[tag] = (now, _kv(line))
        if now - t_launch > timeout_s:
            proc.kill()
            break
    proc.wait()
    total = time.perf_counter() - t_launch
    if "REPLAY_DONE" not in marks or "REPLAY_T0" not in marks:
        raise common.BenchError("trace replay did not finish:\n" + "\n".join(lines[-20:]))
    done = marks["REPLAY_DONE"][1]
    wall = marks["REPLAY_T1"][0] - marks["REPLAY_T0"][0]
    frames_phase = marks["REPLAY_T1"][1]["frames"] - marks["REPLAY_T0"][1]["frames"]
    problems = []
    if done["frames"] != done["exp_frames"] or done["extra"]:
        problems.append(f"{done['frames']} frames on the wire, the full run had {done['exp_frames']}")
    if done["sig_ok"] != done["exp_frames"] or done["bad"]:
        problems.append(f"{done['bad']} frame(s) differ in length or bytes from the full run")
    if done["axi_err"] or done["xgmii_err"]:
        problems.append(f"protocol checker {done['axi_err']} / XGMII {done['xgmii_err']} error events")
    problems += [ln for ln in lines if ln.startswith(("REPLAY_BADFRAME", "REPLAY_RD_MISMATCH"))][:8]
    return {"sim": sim, "wall_s": wall, "total_wall_s": total, "compile_s": compile_s,
            "frames_phase": frames_phase, "done": done, "problems": problems,
            "cycle_exact": done["time_ok"] == done["exp_frames"] and not done["rd_mismatch"],
            "cmd": " ".join(cmd), "sim_ps": meta["t1_ps"] - meta["t0_ps"], "meta": meta,
            "frame_wall": fstamps}


# -- all of it -------------------------------------------------------------------------------


def measure(nbytes: int = DEFAULT_BYTES, sim: str = "icarus", axiram: bool = True, nohold: bool = True,
            replay: bool = True, verbose: bool = True, tso: bool = True) -> dict[str, Any]:
    def say(msg: str) -> None:
        if verbose:
            print(msg, flush=True)

    out: dict[str, Any] = {"sim": sim, "nbytes": nbytes, "tso": tso}
    t = time.perf_counter()
    out["py_hold"] = run_full(nbytes, "py", True, record=replay, sim=sim, tso=tso)
    say(f"  full stack, py memory, clock hold on: {out['py_hold']['frames']} frames in "
        f"{out['py_hold']['wall_s']:.3f} s, {out['py_hold'].get('cpu_s', 0):.3f} s CPU "
        f"({time.perf_counter() - t:.0f} s with build and start-up)")
    if nohold:
        t = time.perf_counter()
        out["py_nohold"] = run_full(nbytes, "py", False, sim=sim, tso=tso)
        say(f"  full stack, py memory, clock hold off: {out['py_nohold']['wall_s']:.2f} s "
            f"({time.perf_counter() - t:.0f} s)")
    if axiram:
        t = time.perf_counter()
        out["axiram"] = run_full(nbytes, "axiram", False, sim=sim, tso=tso)
        say(f"  full stack, cocotbext-axi AxiSlave: {out['axiram']['wall_s']:.2f} s ({time.perf_counter() - t:.0f} s)")
    if replay:
        t = time.perf_counter()
        out["replay"] = run_replay(out["py_hold"]["trace"], sim=sim)
        say(f"  trace replay (no Python): {out['replay']['wall_s']:.2f} s ({time.perf_counter() - t:.0f} s with build)")
        w = out["py_hold"]["window"]
        fw = out["replay"].pop("frame_wall")
        k0 = out["replay"]["meta"]["frames_before_t0"]
        if w and all(k0 + i in fw and k0 + j in fw for i, j in w["spans"]):
            wall = sum(fw[k0 + j] - fw[k0 + i] for i, j in w["spans"])
            out["replay"]["line_rate"] = {"wall_s": wall, "slowdown": wall / (w["sim_ps"] * 1e-12)}
    return out


def _crossings(r: dict[str, Any]) -> str:
    """Simulator-to-Python wakes of the phase and the wall time the bridge's handlers took."""
    bw = r.get("bridge_wall_s")
    if not bw:
        return ""
    return (f"; wakes: {r['rd_bursts']:,} DMA reads ({1e3 * bw['dma_read']:.0f} ms), {r.get('wr_bursts', 0):,} "
            f"writes, {r['frames']:,} frames ({1e3 * bw['wire']:.0f} ms), {sum(r['mmio']):,} MMIO, "
            f"{r['irq_edges']:,} IRQ edges, {r['timer_wakes']:,} kernel-timer wakes")


def _verdict(ok: bool) -> str:
    return common.verdict(ok)


def rows(res: dict[str, Any], cmd: str) -> list[list[str]]:
    sim = res["sim"]
    out: list[list[str]] = []
    py = res["py_hold"]
    tso = res.get("tso", True)
    fps_t = TARGETS["fps_tso" if tso else "fps"][sim]
    sim = f"{sim}, TSO {'on' if tso else 'off'}"

    def run_row(key: str, label: str) -> None:
        r = res.get(key)
        if not r:
            return
        target = f">= {fps_t:,.0f}" if key == "py_hold" else ""
        out.append([f"{label}: frames / wall s", f"{r['fps']:,.0f}", target,
                    _verdict(r["fps"] >= fps_t) if target else "",
                    f"{r['frames']} frames ({r['full_frames']} x 1518 B), {r['wall_s']:.3f} s wall "
                    f"({r['fps_cpu']:,.0f} frames / CPU s), "
                    f"{r['sim_ps'] / 1e6:.3f} us sim, {r['sim_gbps']:.2f} Gb/s goodput, "
                    f"wire {100 * r['busy_all']:.0f}% busy, {r['cycles']:,} cycles + {r['skipped']:,} skipped"
                    + _crossings(r), cmd])

    run_row("py_hold", f"full stack, tb_axi_mem (per burst), clock hold on, {sim}")
    run_row("py_nohold", f"full stack, tb_axi_mem, clock hold off, {sim}")
    run_row("axiram", f"full stack, cocotbext-axi AxiSlave (per beat), {sim}")
    if "axiram" in res:
        ax = res["axiram"]
        ratio = py["fps"] / ax["fps"] if ax["fps"] else 0.0
        out.append(["per-burst bridge (hold on) / per-beat AxiSlave", f"{ratio:.1f}x", f">= {TARGETS['ratio']:g}x",
                    _verdict(ratio >= TARGETS["ratio"]), "same traffic, same run of this bench", cmd])
        if "py_nohold" in res:
            r2 = res["py_nohold"]["fps"] / ax["fps"] if ax["fps"] else 0.0
            out.append(["  same, bridge with clock hold off", f"{r2:.1f}x", "", "", "what the hold contributes", cmd])
    if "replay" in res:
        rp = res["replay"]
        d = rp["done"]
        ratio = py["wall_s"] / rp["wall_s"] if rp["wall_s"] > 0 else 0.0
        exact = (
            "cycle-exact"
            if rp["cycle_exact"]
            else f"{d['time_ok']}/{d['exp_frames']} frames at the same cycles (max dev {d['max_dev']})"
        )
        out.append([f"full stack wall / RTL-only trace replay wall, {sim}", f"{ratio:.2f}x",
                    f"<= {TARGETS['replay']:g}x", _verdict(ratio <= TARGETS["replay"]),
                    f"replay {rp['wall_s']:.2f} s for the same {rp['sim_ps'] / 1e6:.3f} us; frames "
                    f"{d['sig_ok']}/{d['exp_frames']} same bytes, {exact}; MMIO {d['mmio_done']} issued, "
                    f"{d['mmio_rd_mismatch']} read values differ; DMA reads {d['rd_bursts']}, "
                    f"{d['rd_mismatch']} addr mismatches", cmd])
    if "replay" in res:
        rp = res["replay"]
        rfps = rp["frames_phase"] / rp["wall_s"] if rp["wall_s"] > 0 else 0.0
        out.append([f"  RTL-only trace replay: frames / wall s, {sim}", f"{rfps:,.0f}", "", "",
                    f"the ceiling without Python: nic_harness + nic_top, {rp['done']['cycle']:,} cycles in all "
                    f"({rp['done']['skipped']:,} skipped by the hold)", cmd])
    w = py.get("window") or {}
    slow_t = TARGETS["slowdown"][res["sim"]]
    if w:
        out.append([f"slowdown vs real time at line rate, {sim}", f"{w['slowdown']:,.0f}x", f"<= {slow_t:,.0f}x",
                    _verdict(w["slowdown"] <= slow_t),
                    f"{w['runs']} line-rate runs of the TCP bulk phase ({w['frames']} frames back to back, wire "
                    f"{100 * w['busy']:.1f}% busy): {w['sim_ps'] / 1e6:.3f} us sim in {w['wall_s']:.2f} s wall", cmd])
        lr = res.get("replay", {}).get("line_rate")
        if lr:
            out.append([f"  RTL-only trace replay: slowdown at line rate, {sim}", f"{lr['slowdown']:,.0f}x", "", "",
                        f"the same {w['runs']} runs, same cycles, no Python: {lr['wall_s']:.2f} s wall", cmd])
    else:
        out.append([f"slowdown vs real time at line rate, {sim}", "-", f"<= {slow_t:,.0f}x", common.FAIL,
                    f"no run of >= 32 back-to-back frames in the TCP bulk phase "
                    f"(whole phase {100 * py['busy_all']:.0f}%: {py['slowdown_all']:,.0f}x)", cmd])
    return out


HEADER = ["figure", "value", "target", "verdict", "what exactly", "reproduce"]


def problems(res: dict[str, Any]) -> list[str]:
    out = []
    for key in ("py_hold", "py_nohold", "axiram"):
        r = res.get(key)
        if r and (r["errors"] or not r["delivered"]):
            out.append(f"{key}: " + ("; ".join(r["errors"]) or "payload not delivered"))
    if "replay" in res:
        out += [f"replay: {p}" for p in res["replay"]["problems"]]
    return out


def slim(res: dict[str, Any]) -> dict[str, Any]:
    """The results without the per-frame stamps (for the JSON file)."""
    return {k: ({kk: vv for kk, vv in v.items() if kk != "stamps"} if isinstance(v, dict) else v)
            for k, v in res.items()}


def cmd_args(nbytes: int, sim: str, tso: bool = True) -> list[str]:
    return [f"--bytes={nbytes}"] + ([f"--sim={sim}"] if sim != "icarus" else []) + ([] if tso else ["--tso=off"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m " + MODULE, description=__doc__.split("\n\n")[0])
    ap.add_argument("--bytes", type=int, default=None,
                    help=f"TCP payload bytes (default {DEFAULT_BYTES >> 20} MiB, quick {QUICK_BYTES >> 20} MiB)")
    ap.add_argument("--quick", action="store_true", help="1 MiB (about a minute on Icarus)")
    ap.add_argument("--sim", default=None, choices=("icarus", "verilator"), help="simulator (default icarus)")
    ap.add_argument("--no-axiram", action="store_true", help="skip the per-beat cocotbext-axi run")
    ap.add_argument("--no-nohold", action="store_true", help="skip the clock-hold-off run")
    ap.add_argument("--no-replay", action="store_true", help="skip the recording and the Verilog replay")
    ap.add_argument("--tso", choices=("on", "off"), default="on",
                    help="TCP segmentation offload on eth0, as hilnic run --tso (default on)")
    common.add_report_only(ap)
    a = ap.parse_args(argv)
    nbytes = a.bytes or (QUICK_BYTES if a.quick else DEFAULT_BYTES)
    if nbytes < 64 << 10:
        ap.error("--bytes: at least 65536 (the line-rate window needs 40 full-size frames)")
    sim = a.sim or common.sim_name(None)
    t0 = time.perf_counter()
    tso = a.tso == "on"
    print(f"== e. end to end: {nbytes:,} bytes of TCP through stack + driver + RTL ({sim}, TSO {a.tso}) ==", flush=True)
    try:
        res = measure(nbytes, sim, axiram=not a.no_axiram, nohold=not a.no_nohold, replay=not a.no_replay, tso=tso)
    except (common.BenchError, RuntimeError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    common.save(f"e2e_speed_{sim}{'' if tso else '_notso'}", slim(res))
    cmd = common.reproduce(MODULE, *cmd_args(nbytes, sim, tso))
    table_rows = rows(res, cmd)
    print(common.table([r[:5] for r in table_rows], HEADER[:5]))
    print(f"reproduce: {cmd}   ({time.perf_counter() - t0:.0f} s)")
    if "replay" in res:
        print(f"replay run alone: {res['replay']['cmd']}")
    probs = problems(res)
    for p in probs:
        print("PROBLEM: " + p)
    return common.exit_status(bool(probs) or any(r[3] == common.FAIL for r in table_rows), a.report_only)


if __name__ == "__main__":
    sys.exit(main())
