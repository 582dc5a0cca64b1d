"""Run the hardware demo and print its summary (the `hilnic demo` command).

The cocotb test (hilnic.demo.hw_demo) runs in the simulator through hilnic.cosim.sim; its
output goes to <out>/sim.log, and the summary it leaves (demo_summary.json) is printed here
after the simulator exits.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from hilnic.cosim.sim import GTKW, build_dir_for, display_path, quiet, run_rtl_test, sim_build_root

MODULE = "hilnic.demo.hw_demo"


def run_demo(frames: int = 120, out: str | Path | None = None, waves: bool = False, sim: str | None = None,
             mem_latency_ns: float = 500.0, seed: int = 1, verbose: bool = False) -> dict[str, Any]:
    """Build and run the demo; return its summary (with "ok", "out", "fst", "log", "error")."""

    out = Path(out) if out else sim_build_root() / "demo"
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("demo_summary.json", "wire.pcap", "waves.fst"):
        (out / stale).unlink(missing_ok=True)
    log = out / "sim.log"
    cfg = {"frames": frames, "seed": seed, "mem_latency_ns": mem_latency_ns, "out": str(out)}
    env = {"HILNIC_DEMO_CFG": json.dumps(cfg)}
    if not verbose:
        env["COCOTB_LOG_LEVEL"] = "WARNING"
    error = ""
    run_dir = None
    t0 = time.perf_counter()
    try:
        if verbose:
            run_dir = run_rtl_test(MODULE, "demo", waves=waves, sim=sim, seed=seed, extra_env=env,
                                   wall_timeout_s=900, run_name="demo")
        else:
            with quiet(log):
                run_dir = run_rtl_test(MODULE, "demo", waves=waves, sim=sim, seed=seed, extra_env=env,
                                       wall_timeout_s=900, run_name="demo")
    except AssertionError as exc:
        error = str(exc)
    except (RuntimeError, OSError) as exc:  # the build failed (compiler error, missing simulator)
        error = f"simulator build/run failed: {exc}"
    wall = time.perf_counter() - t0
    sj = out / "demo_summary.json"
    summary: dict[str, Any] = json.loads(sj.read_text()) if sj.exists() else {}
    summary["wall_incl_build_s"] = wall
    summary["out"] = str(out)
    summary["log"] = str(log) if not verbose else ""
    summary["sim"] = sim or os.environ.get("SIM", "icarus") or "icarus"
    fst = None
    if waves:

        cands = list(run_dir.glob("*.fst")) if run_dir else []
        if not cands:
            cands = list((build_dir_for("nic_harness", {}, summary["sim"], True) / "runs" / "demo").glob("*.fst"))
        if cands:
            fst = out / "waves.fst"
            shutil.move(str(cands[0]), fst)
    summary["fst"] = str(fst) if fst else ""
    summary["gtkw"] = str(GTKW)
    summary["error"] = error
    summary["ok"] = not error and not summary.get("problems") and bool(summary.get("frames_sent"))
    return summary


def format_summary(s: dict[str, Any]) -> str:

    if not s.get("frames_sent"):
        return "hilnic demo: the simulation produced no summary" + (
            f" (simulator log: {display_path(s['log'])})" if s.get("log") else ""
        )
    k = s["kinds"]
    mix = ", ".join(f"{v} {name}" for name, v in k.items())
    lines = [
        f"hilnic demo: {s['frames_sent']} frames through nic_top on {s['sim']} "
        f"(raw descriptors via the cocotb bridge, memory latency {s['dma']['mem_latency_ns']:g} ns)",
        f"  frames sent        {s['frames_sent']} in {s['descriptors']} descriptors ({mix})",
        f"  bytes sent         {s['bytes_sent']:,} (buffers)",
        f"  seen on the wire   {s['frames_on_wire']} frames, {s['bytes_on_wire']:,} bytes incl. FCS "
        f"(GPTC {s['gptc']}, GOTC {s['gotc']:,})",
        f"  FCS ok             {s['fcs_ok']}/{s['frames_on_wire']}",
        f"  frames exact       {s['frames_exact']}/{s['frames_sent']} (NIC-inserted checksums, PSP padding, "
        f"scatter-gather)",
        f"  checksums          {s['checksums_verified']} IP/TCP/UDP checksums re-verified with scapy",
    ]
    b = s.get("back_to_back", {})
    if "frames_per_s" in b:
        lines.append(f"  back-to-back       {b['frames']} x 1518 B: {b['frames_per_s']:,.0f} frames/s = "
                     f"{b['pct_line_rate']:.2f}% of 10GbE line rate (steady state, first {b['skipped']} skipped)")
    irq = s["irq"]
    lines += [
        f"  interrupts         {irq['assertions']} assertions (ITR {irq['itr_ns'] / 1000:g} us), {irq['icr_reads']} ICR reads",
        f"  write-backs        {s['writebacks']['dd_set']}/{s['writebacks']['rs_descriptors']} RS descriptors with DD "
        f"({s['writebacks']['wr_bursts']} write bursts; {s['dma']['rd_bursts']} read bursts)",
        f"  simulated time     {s['sim_ns'] / 1000:,.2f} us = {s['cycles']:,} cycles at 156.25 MHz",
        f"  wall time          {s['wall_sim_s']:.2f} s for the traffic ({s['cycles_per_wall_s']:,.0f} simulated "
        f"cycles per wall second); {s['wall_incl_build_s']:.1f} s in all incl. build",
        f"  pcap               {display_path(s['pcap'])} ({s['pcap_frames']} frames; Ethernet, FCS "
        "checked above and stripped: wireshark, tshark, scapy, dpkt)",
    ]
    if s.get("fst"):
        lines.append(f"  waveform           {display_path(s['fst'])}")
        lines.append(f"                     gtkwave {display_path(s['fst'])} {display_path(s['gtkw'])}")
    if s.get("log"):
        lines.append(f"  simulator log      {display_path(s['log'])}")
    if s.get("problems"):
        lines.append(f"  PROBLEMS ({len(s['problems'])}):")
        lines += [f"    {p}" for p in s["problems"][:20]]
    lines.append("  result             " + ("OK: every frame correct" if s.get("ok") else "FAILED"))
    return "\n".join(lines)
