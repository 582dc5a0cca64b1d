"""Wall speed of the harness: full-size (1514 B + FCS) frames per wall second.

The same traffic (hilnic.bench.traffic, ring of 256 kept full, RS on every frame) through
the same RTL twice: host memory through the transaction-level bridge (tb_axi_mem, one Python
wake per burst, mem_model="py", USE_PY_MEM=1) and through cocotbext-axi's per-beat AxiSlave
over the same HostMemory (mem_model="axiram", USE_PY_MEM=0), each in its own simulator run.
Frames per wall second in steady state (first frames skipped, build and start-up excluded),
and the ratio (issue target: >= 10x).

    python -m hilnic.bench.wall_speed [--frames N] [--axiram-frames N] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hilnic.bench import common

MODULE = "hilnic.bench.wall_speed"
TARGET_RATIO = 10.0


def run_one(model: str, frames: int, mem_latency_ns: float, sim: str | None) -> dict[str, Any]:
    cfg = {"mem_model": model, "runs": [{"frame_len": 1514, "frames": frames, "ring_n": 256, "batch": 16,
                                         "mem_latency_ns": mem_latency_ns}]}
    params = {} if model == "py" else {"USE_PY_MEM": 0}
    return common.run_cocotb_bench("stream", cfg, parameters=params, sim=sim, run_name=f"bench_wall_{model}")["runs"][0]


def measure(frames: int = 600, axiram_frames: int = 150, mem_latency_ns: float = 200,
            sim: str | None = None) -> dict[str, Any]:
    py = run_one("py", frames, mem_latency_ns, sim)
    ax = run_one("axiram", axiram_frames, mem_latency_ns, sim)
    ratio = py["frames_per_wall_s"] / ax["frames_per_wall_s"] if ax["frames_per_wall_s"] else 0.0
    return {"py": py, "axiram": ax, "ratio": ratio}


def rows(res: dict[str, Any]) -> list[list[Any]]:
    out = []
    for key, label in (("py", "bridge (tb_axi_mem, per burst)"), ("axiram", "cocotbext-axi AxiSlave (per beat)")):
        r = res[key]
        out.append([label, r["frames"], f"{r['frames_per_wall_s']:,.0f}", f"{r['cycles_per_s']:,.0f}",
                    f"{r['good']}/{r['frames']}"])
    return out


HEADER = ["host memory model", "frames", "frames / wall s", "sim cycles / wall s", "frames ok"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m " + MODULE, description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=None, help="frames through the bridge (default 600, quick 200)")
    ap.add_argument("--axiram-frames", type=int, default=None,
                    help="frames through AxiRam (default 150, quick 60)")
    ap.add_argument("--mem-latency-ns", type=float, default=200.0, help="bridge memory latency (default 200)")
    ap.add_argument("--quick", action="store_true", help="fewer frames")
    ap.add_argument("--sim", default=None, help="icarus (default) or verilator")
    common.add_report_only(ap)
    a = ap.parse_args(argv)
    frames = a.frames or (200 if a.quick else 600)
    axf = a.axiram_frames or (60 if a.quick else 150)
    res = measure(frames, axf, a.mem_latency_ns, a.sim)
    common.save("wall_speed", res)
    print(common.table(rows(res), HEADER))
    ok = res["ratio"] >= TARGET_RATIO
    print(f"bridge / AxiRam: {res['ratio']:.1f}x (target >= {TARGET_RATIO:g}x: {common.verdict(ok)})")
    print(f"reproduce: {common.reproduce(MODULE, f'--frames={frames}', f'--axiram-frames={axf}')}")
    return common.exit_status(not ok, a.report_only)


if __name__ == "__main__":
    sys.exit(main())
