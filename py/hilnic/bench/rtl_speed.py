"""Simulation efficiency of the RTL itself: nic_top's simulated cycles per wall second.

1. Replay (no Python in the loop): hdl/tb/nic_replay_tb.v, compiled with iverilog and run
   with vvp straight from here (or, with --sim verilator, built with `verilator --binary
   --timing` into a plain executable, no VPI, and run the same way). A Verilog AXI memory serves the image this module writes
   (ring + buffers, hilnic.bench.traffic) with a fixed read latency; a Verilog CSR sequence
   programs the NIC, rings the doorbell and refills the ring by advancing TDT; a Verilog XGMII
   checker compares every frame's length and word signature with the values computed here
   (zlib CRC-32 included), and the first frames are dumped and re-checked here with zlib.
   Wall time is taken between the REPLAY_MARK line (after the first frames: steady state) and
   REPLAY_DONE, so compile and start-up are not counted.
2. Bridge: the same traffic (same image, ring, refill batches, latency) through nic_harness and
   RtlNic (hilnic.bench.tb_bench `stream`), steady-state cycles per wall second.

    python -m hilnic.bench.rtl_speed [--frames N] [--frame-len L] [--mem-latency-ns NS] [--quick]
                                     [--sim icarus|verilator] [--replay-frames N]
                                     [--against REV [--repeat K]]

--against REV: the replay of this checkout's hdl/nic and of git revision REV's, side by side in
one run (K alternating runs each, best and median cycles/s of each), to price an RTL change.

On Verilator the replay runs at millions of cycles per second, so it replays more frames than
the bridge run (--replay-frames, default: enough for about VERILATOR_REPLAY_CYCLES cycles) to
keep the timed window well above a second; the ring and image are the same.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from hilnic.bench import common
from hilnic.bench.traffic import Traffic

MODULE = "hilnic.bench.rtl_speed"
TARGET_CYCLES_PER_S = 100_000
# Verilator replays run at ~10M cycles/s: time about this many cycles by default
VERILATOR_REPLAY_CYCLES = 20_000_000


def _sources(hdl_nic: Path | None = None) -> list[Path]:
    """hdl/nic/*.v (of this checkout or `hdl_nic`) and the replay bench: the bench of the same
    revision as the NIC (rev_hdl keeps it next to hdl/nic), so the ports always match."""
    from hilnic.cosim.sim import HDL_NIC, HDL_TB

    nic = hdl_nic or HDL_NIC
    tb = nic.parent / "tb" / "nic_replay_tb.v" if hdl_nic else HDL_TB / "nic_replay_tb.v"
    return sorted(nic.glob("*.v")) + [tb]


def _key_files(hdl_nic: Path | None = None) -> list[Path]:
    """What a cached build depends on: the sources and the include files."""
    from hilnic.cosim.sim import HDL_NIC, headers

    return _sources(hdl_nic) + headers(hdl_nic or HDL_NIC)


def rev_hdl(rev: str) -> Path:
    """hdl/nic of git revision `rev` (its .v and .vh files) and its hdl/tb/nic_replay_tb.v,
    extracted under the bench's results directory."""
    from hilnic.cosim.sim import CHECKOUT

    if CHECKOUT is None:
        raise SystemExit("rtl_speed: --against needs a git checkout of hilnic (this is an installed package)")
    ROOT = CHECKOUT
    sha = subprocess.run(["git", "rev-parse", "--short=10", rev], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    d = common.results_dir() / f"rev-{sha}" / "hdl" / "nic"
    if not (d.parent / "tb" / "nic_replay_tb.v").is_file():
        names = subprocess.run(["git", "ls-tree", "--name-only", sha, "hdl/nic/"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.split()
        d.mkdir(parents=True, exist_ok=True)
        (d.parent / "tb").mkdir(exist_ok=True)
        for name in [n for n in names if n.endswith((".v", ".vh"))] + ["hdl/tb/nic_replay_tb.v"]:
            text = subprocess.run(["git", "show", f"{sha}:{name}"], cwd=ROOT, capture_output=True,
                                  text=True, check=True).stdout
            (d.parent / ("tb" if name.startswith("hdl/tb/") else "nic") / Path(name).name).write_text(text)
    return d


def compile_replay(params: dict[str, Any], out_dir: Path, hdl_nic: Path | None = None) -> Path:
    """iverilog the replay bench with `params`; returns the .vvp (rebuilt when sources change)."""
    srcs = _sources(hdl_nic)
    key = repr(sorted(params.items())) + "".join(f"{p}:{p.stat().st_mtime_ns}" for p in _key_files(hdl_nic))
    vvp = out_dir / f"replay-{hashlib.sha1(key.encode()).hexdigest()[:10]}.vvp"
    if vvp.exists():
        return vvp
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = ["iverilog", "-g2012", "-o", str(vvp) + ".tmp", "-s", "nic_replay_tb", f"-I{srcs[0].parent}"]
    cmd += [f"-Pnic_replay_tb.{k}={v}" for k, v in params.items()]
    cmd += [str(s) for s in srcs]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"iverilog failed:\n{r.stdout}{r.stderr}")
    os.replace(str(vvp) + ".tmp", vvp)
    return vvp


def compile_replay_verilator(params: dict[str, Any], out_dir: Path) -> Path:
    """`verilator --binary --timing` the replay bench with `params` (plain executable: no VPI,
    no public signals, the C++ built like the cocotb models, see hilnic.cosim.sim); returns the
    executable (rebuilt when sources or parameters change)."""
    from hilnic.cosim import sim as hwsim

    srcs = _sources()
    make_vars = hwsim._verilator_make_vars(hwsim._verilator_env())
    key = (repr(sorted(params.items())) + repr(make_vars)
           + "".join(f"{p}:{p.stat().st_mtime_ns}" for p in _key_files()))
    tag = f"replay-vl-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
    exe = out_dir / tag / "Vnic_replay_tb"
    if exe.exists():
        return exe
    return common.verilator_binary("nic_replay_tb", srcs, params, out_dir / tag)


def _kv(line: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def check_dump(path: Path, traffic: Traffic) -> tuple[int, list[str]]:
    """Re-check the dumped first frames with zlib: (frames checked, problems)."""
    words: dict[int, list[tuple[int, int]]] = {}
    for line in path.read_text().split("\n"):
        if line.strip():
            f, w, c = line.split()
            words.setdefault(int(f), []).append((int(w, 16), int(c, 16)))
    problems = []
    for idx, ws in sorted(words.items()):
        data = bytearray()
        for w, c in ws:
            b = w.to_bytes(8, "little")
            if c == 0:
                data += b
            else:
                lane = (c & -c).bit_length() - 1
                data += b[:lane]
                break
        frame, fcs = bytes(data[:-4]), bytes(data[-4:])
        if zlib.crc32(frame).to_bytes(4, "little") != fcs:
            problems.append(f"dumped frame {idx}: bad FCS")
        if frame != traffic.frame_for(idx):
            problems.append(f"dumped frame {idx}: bytes differ from the buffer")
    return len(words), problems


def run_replay(frames: int = 2000, frame_len: int = 1514, mem_latency_ns: float = 500, ring_n: int = 256,
               batch: int = 16, data_width: int = 128, mark: int | None = None,
               timeout_s: float = 600, sim: str = "icarus", hdl_nic: Path | None = None) -> dict[str, Any]:
    """Build the image, compile, run vvp (or the Verilator executable); return the figures."""
    traffic = Traffic(frame_len, ring_n=ring_n)
    out = common.results_dir() / "replay"
    out.mkdir(parents=True, exist_ok=True)
    tag = f"L{frame_len}_R{ring_n}_W{data_width}" + ("_vl" if sim == "verilator" else "")
    memfile, sigfile, dumpfile = out / f"{tag}.memh", out / f"{tag}.sig", out / f"{tag}.dump"
    nwords = traffic.write_memh(str(memfile), data_width)
    traffic.write_sigs(str(sigfile))
    mark = mark if mark is not None else max(4, min(100, frames // 10))
    lat = round(mem_latency_ns * 1000 / 6400)
    params = {"DMA_DATA_WIDTH": data_width, "MEM_WORDS": nwords, "RING_N": ring_n, "N_FRAMES": frames,
              "BATCH": batch, "RD_LATENCY": lat, "MARK_FRAMES": mark, "DUMP_FRAMES": 4}
    t0 = time.perf_counter()
    if sim == "verilator":
        cmd = [str(compile_replay_verilator(params, out))]
    elif sim == "icarus":
        cmd = ["vvp", "-n", str(compile_replay(params, out, hdl_nic))]
    else:
        raise ValueError(f"replay bench: unsupported simulator {sim!r} (icarus or verilator)")
    t_compile = time.perf_counter() - t0
    cmd += [f"+memfile={memfile}", f"+sigfile={sigfile}", f"+dumpfile={dumpfile}"]
    t_launch = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    marks: dict[str, tuple[float, dict[str, int]]] = {}
    lines = []
    assert proc.stdout is not None
    deadline = t_launch + timeout_s
    for line in proc.stdout:
        now = time.perf_counter()
        lines.append(line.rstrip())
        for tag_ in ("REPLAY_START", "REPLAY_MARK", "REPLAY_DONE", "REPLAY_TIMEOUT", "REPLAY_ERROR"):
            if line.startswith(tag_):
                marks[tag_] = (now, _kv(line))
        if now > deadline:
            proc.kill()
            break
    proc.wait()
    t_exit = time.perf_counter()
    if "REPLAY_DONE" not in marks:
        raise RuntimeError("replay bench did not finish:\n" + "\n".join(lines[-20:]))
    t_done, done = marks["REPLAY_DONE"]
    t_mark, mk = marks.get("REPLAY_MARK", marks["REPLAY_START"])
    n_dump, problems = check_dump(dumpfile, traffic)
    if done["good"] != frames or done["bad"]:
        problems.append(f"{done['bad']} of {done['frames']} frames wrong on the wire (good {done['good']})")
    if done["gptc"] != frames:
        problems.append(f"GPTC {done['gptc']} != {frames}")
    if done["txdrop"] or done["errcause"]:
        problems.append(f"TXDROP {done['txdrop']} ERRCAUSE {done['errcause']:#x}")
    problems += [ln for ln in lines if ln.startswith("REPLAY_BADFRAME")]
    steady_cycles = done["cycles"] - mk["cycle"]
    steady_wall = t_done - t_mark
    sim_fps = ((frames - 1) / ((done["last_start"] - done["first_start"]) * 6.4e-9)
               if frames > 1 else 0.0)
    return {
        "sim": sim, "frames": frames, "frame_len": frame_len, "mem_latency_ns": mem_latency_ns,
        "good": done["good"], "bad": done["bad"], "gptc": done["gptc"], "dump_checked": n_dump,
        "cycles": done["cycles"], "steady_cycles": steady_cycles, "steady_wall_s": steady_wall,
        "cycles_per_s": steady_cycles / steady_wall if steady_wall > 0 else 0.0,
        "total_wall_s": t_exit - t_launch, "compile_s": t_compile,
        "sim_frames_per_s": sim_fps, "rd_bursts": done["rd_bursts"], "wr_bursts": done["wr_bursts"],
        "problems": problems, "cmd": " ".join(cmd),
    }


def run_bridge(frames: int, frame_len: int, mem_latency_ns: float, ring_n: int = 256, batch: int = 16,
               sim: str | None = None) -> dict[str, Any]:
    """The same traffic through nic_harness + RtlNic (mem_model='py')."""
    cfg = {"mem_model": "py", "runs": [{"frame_len": frame_len, "frames": frames, "ring_n": ring_n,
                                        "batch": batch, "mem_latency_ns": mem_latency_ns}]}
    res = common.run_cocotb_bench("stream", cfg, sim=sim, run_name=f"rtl_speed_bridge_{frame_len}")
    return res["runs"][0]


def replay_frames_for(sim: str, frames: int, frame_len: int) -> int:
    """Frames the replay runs: `frames` on Icarus; on Verilator at least enough for about
    VERILATOR_REPLAY_CYCLES cycles (a frame takes (frame_len + 4 + 20) / 8 cycles at line rate)."""
    if sim != "verilator":
        return frames
    return max(frames, -(-VERILATOR_REPLAY_CYCLES * 8 // (frame_len + 24)))


def measure(frames: int, frame_len: int, mem_latency_ns: float, sim: str | None = None,
            bridge: bool = True, replay_frames: int | None = None) -> dict[str, Any]:
    """Replay on `sim` (default icarus) and the bridge on `sim` (default $SIM / icarus)."""
    rsim = sim or "icarus"
    rframes = replay_frames or replay_frames_for(rsim, frames, frame_len)
    rep = run_replay(rframes, frame_len, mem_latency_ns, sim=rsim)
    out: dict[str, Any] = {"replay": rep}
    if bridge:
        br = run_bridge(frames, frame_len, mem_latency_ns, sim=sim)
        out["bridge"] = br
        out["bridge_cost"] = rep["cycles_per_s"] / br["cycles_per_s"] if br["cycles_per_s"] else 0.0
    return out


def compare(rev: str, frames: int, frame_len: int, mem_latency_ns: float, repeat: int = 3) -> dict[str, Any]:
    """Icarus replay of this checkout and of `rev`, alternating, `repeat` runs each."""
    old = rev_hdl(rev)
    runs: dict[str, list[float]] = {"this": [], rev: []}
    for _ in range(repeat):
        for name, hdl in (("this", None), (rev, old)):
            r = run_replay(frames, frame_len, mem_latency_ns, hdl_nic=hdl)
            if r["problems"]:
                raise RuntimeError(f"replay of {name}: " + "; ".join(r["problems"]))
            runs[name].append(r["cycles_per_s"])
    return {"rev": rev, "frames": frames, "frame_len": frame_len, "runs": runs,
            "best": {k: max(v) for k, v in runs.items()},
            "median": {k: sorted(v)[len(v) // 2] for k, v in runs.items()}}


def report(res: dict[str, Any], args: list[str]) -> tuple[list[list[Any]], list[str]]:
    rep = res["replay"]
    rows = [[f"replay (Verilog only, {rep.get('sim', 'icarus')}), {rep['frame_len'] + 4} B", f"{rep['cycles_per_s']:,.0f}",
             f"{rep['good']}/{rep['frames']}",
             common.verdict(rep["cycles_per_s"] >= TARGET_CYCLES_PER_S)]]
    if "bridge" in res:
        br = res["bridge"]
        rows.append([f"bridge (RtlNic, py mem), {br['frame_len'] + 4} B", f"{br['cycles_per_s']:,.0f}",
                     f"{br['good']}/{br['frames']}", f"replay/bridge {res['bridge_cost']:.2f}x"])
    notes = [f"reproduce: {common.reproduce(MODULE, *args)}",
             f"replay run alone: {rep['cmd']}"]
    if rep["problems"]:
        notes += ["PROBLEM: " + p for p in rep["problems"]]
    return rows, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hilnic.bench.rtl_speed", description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=None, help="frames per run (default 2000, quick 600)")
    ap.add_argument("--frame-len", type=int, default=1514, help="frame length without FCS (default 1514)")
    ap.add_argument("--mem-latency-ns", type=float, default=500.0, help="memory read latency (default 500)")
    ap.add_argument("--no-bridge", action="store_true", help="replay only, skip the bridge comparison")
    ap.add_argument("--quick", action="store_true", help="fewer frames")
    ap.add_argument("--sim", default=None,
                    help="simulator of the replay and the bridge run: icarus (default) or verilator")
    ap.add_argument("--replay-frames", type=int, default=None,
                    help="frames of the replay run (default: --frames on Icarus; on Verilator at "
                         f"least {VERILATOR_REPLAY_CYCLES / 1e6:g}M cycles' worth)")
    common.add_report_only(ap)
    ap.add_argument("--against", metavar="REV", default=None,
                    help="also replay git revision REV's hdl/nic on Icarus, alternating with this checkout's")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each side with --against (default 3)")
    a = ap.parse_args(argv)
    frames = a.frames or (600 if a.quick else 2000)
    if not 60 <= a.frame_len <= 9216:
        ap.error("--frame-len must be in [60, 9216]")
    if a.against:
        cmp_ = compare(a.against, frames, a.frame_len, a.mem_latency_ns, a.repeat)
        common.save("rtl_speed_compare", cmp_)
        rows = [[name, f"{cmp_['best'][name]:,.0f}", f"{cmp_['median'][name]:,.0f}",
                 " ".join(f"{v:,.0f}" for v in cmp_["runs"][name])] for name in cmp_["runs"]]
        print(common.table(rows, ["hdl/nic", "best cycles / wall s", "median", "runs"]))
        ratio = cmp_["best"]["this"] / cmp_["best"][a.against]
        print(f"this / {a.against}: {ratio:.2f}x (best of {a.repeat}, Icarus replay, {a.frame_len + 4} B frames)")
        print("reproduce: " + common.reproduce(MODULE, f"--against={a.against}", f"--frames={frames}",
                                               f"--repeat={a.repeat}", f"--frame-len={a.frame_len}"))
        return 0
    res = measure(frames, a.frame_len, a.mem_latency_ns, sim=a.sim, bridge=not a.no_bridge,
                  replay_frames=a.replay_frames)
    common.save("rtl_speed" if not a.sim or a.sim == "icarus" else f"rtl_speed_{a.sim}", res)
    args = [f"--frames={frames}", f"--frame-len={a.frame_len}", f"--mem-latency-ns={a.mem_latency_ns:g}"]
    if a.sim:
        args.append(f"--sim={a.sim}")
    if a.replay_frames:
        args.append(f"--replay-frames={a.replay_frames}")
    rows, notes = report(res, args)
    print(common.table(rows, ["run", "sim cycles / wall s", "frames ok", "verdict (target >= 100k)"]))
    for n in notes:
        print(n)
    missed = res["replay"]["cycles_per_s"] < TARGET_CYCLES_PER_S
    return common.exit_status(bool(res["replay"]["problems"]) or missed, a.report_only)


if __name__ == "__main__":
    sys.exit(main())
