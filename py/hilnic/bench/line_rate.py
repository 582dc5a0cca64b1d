"""Simulated transmit rate per frame size against 10GbE line rate (docs/nic.md §6).

Frames of 64, 128, 256, 512, 1024, 1518 and 9018 bytes on the wire (60..9014 + FCS), ring
kept full (descriptors always ready, RS on every frame), memory read latency 500 ns, host
memory through the transaction-level bridge. The rate is measured on the wire from the
frames' start times in steady state (the first frames of each size skipped). Line rate for
L-byte frames is 10e9 / ((L + 20) * 8) frames/s. Required: >= 99% at 1518 B and >= 95% at
64 B (PASS/FAIL printed); the other sizes are reported.

    python -m hilnic.bench.line_rate [--quick] [--sizes 64,1518] [--frames N] [--mem-latency-ns NS]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hilnic.bench import common
from hilnic.bench.traffic import line_rate_fps

MODULE = "hilnic.bench.line_rate"
SIZES = (64, 128, 256, 512, 1024, 1518, 9018)
REQUIRED = {1518: 99.0, 64: 95.0}
FRAMES = {64: 1000, 128: 800, 256: 600, 512: 400, 1024: 300, 1518: 300, 9018: 60}
QUICK = {64: 300, 128: 200, 256: 200, 512: 150, 1024: 100, 1518: 100, 9018: 24}


def measure(sizes=SIZES, frames: int | None = None, quick: bool = False, mem_latency_ns: float = 500,
            sim: str | None = None) -> list[dict[str, Any]]:
    table = QUICK if quick else FRAMES
    runs = [{"frame_len": L - 4, "frames": frames or table.get(L, 200), "ring_n": 256, "batch": 16,
             "mem_latency_ns": mem_latency_ns} for L in sizes]
    res = common.run_cocotb_bench("stream", {"mem_model": "py", "runs": runs}, sim=sim, run_name="bench_line_rate")
    out = []
    for r in res["runs"]:
        L = r["frame_len"] + 4
        pct = 100.0 * r["sim_frames_per_s"] / line_rate_fps(L)
        req = REQUIRED.get(L)
        out.append({**r, "wire_len": L, "line_rate_fps": line_rate_fps(L), "pct": pct, "required": req,
                    "verdict": common.verdict(pct >= req) if req else "-"})
    return out


def rows(res: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["wire_len"], r["frames"], f"{r['sim_frames_per_s']:,.0f}", f"{r['line_rate_fps']:,.0f}",
             f"{r['pct']:.2f}%", f">= {r['required']:g}%" if r["required"] else "", r["verdict"]] for r in res]


HEADER = ["frame B", "frames", "sim frames/s", "line rate", "% of 10GbE", "required", "verdict"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m " + MODULE, description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)),
                    help="wire frame sizes incl. FCS, comma-separated (default all seven)")
    ap.add_argument("--frames", type=int, default=None, help="frames per size (default per size)")
    ap.add_argument("--mem-latency-ns", type=float, default=500.0, help="memory read latency (default 500)")
    ap.add_argument("--quick", action="store_true", help="fewer frames per size")
    ap.add_argument("--sim", default=None, help="icarus (default) or verilator")
    common.add_report_only(ap)
    a = ap.parse_args(argv)
    try:
        sizes = [int(x) for x in a.sizes.split(",") if x]
    except ValueError:
        ap.error("--sizes: comma-separated integers")
    if any(not 64 <= s <= 9220 for s in sizes):
        ap.error("--sizes must be in [64, 9220]")
    res = measure(sizes, a.frames, a.quick, a.mem_latency_ns, a.sim)
    common.save("line_rate", res)
    print(common.table(rows(res), HEADER))
    args = [f"--sizes={a.sizes}", f"--mem-latency-ns={a.mem_latency_ns:g}"] + (["--quick"] if a.quick else [])
    print(f"reproduce: {common.reproduce(MODULE, *args)}")
    return common.exit_status(any(r["verdict"] == common.FAIL for r in res), a.report_only)


if __name__ == "__main__":
    sys.exit(main())
