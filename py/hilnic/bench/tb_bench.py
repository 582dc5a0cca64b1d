"""cocotb side of the benchmarks (runs inside the simulator; toplevel nic_harness).

`stream`: for each run in HILNIC_BENCH_CFG (JSON: {"mem_model": "py"|"axiram", "runs": [{
frame_len, frames, ring_n, batch, mem_latency_ns, mark?}]}), reset the NIC, load the
hilnic.bench.traffic image into host memory, program the ring, ring the doorbell and keep the
ring topped up (TDT advanced in batches as frames leave the MAC) until `frames` frames are
out. Every frame is checked (FCS and bytes). Writes bench_result.json in the run directory:
per run, the frames' simulated rate in steady state (from the frames' t_start on the wire,
skipping the first `mark`), simulated cycles and wall time in steady state.
With HILNIC_BENCH_PROFILE=<path> the test runs under cProfile and dumps its stats there.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from hilnic.bench.traffic import Traffic
from hilnic.cosim.api import Event, rtl_test, with_sim_timeout
from hilnic.cosim.bridge import RtlNic
from hilnic.hw.regs import E1000_TCTL_EN, E1000_TCTL_PSP, Reg
from hilnic.mm.hostmem import DmaDir, HostMemory

warnings.filterwarnings("ignore", category=DeprecationWarning)


class _Run:
    def __init__(self, rtl: RtlNic, traffic: Traffic, frames: int, batch: int, mark: int) -> None:
        self.rtl = rtl
        self.t = traffic
        self.n = frames
        self.batch = batch
        self.mark = mark
        self.count = 0
        self.posted = 0
        self.good = 0
        self.bad: list[str] = []
        self.t_start: list[int] = []
        self.wall_mark = self.wall_end = 0.0
        self.cyc_mark = self.cyc_end = 0
        self.done = Event()

    def refill(self) -> None:
        room = self.t.ring_n - 1 - (self.posted - self.count)
        if self.posted < self.n and (room >= self.batch or self.posted + room >= self.n):
            self.posted = min(self.n, self.posted + room)
            self.rtl.writel(Reg.TDT, self.posted % self.t.ring_n)

    def on_frame(self, f: Any) -> None:
        i = self.count
        if f.fcs_ok and f.data[:-4] == self.t.frame_for(i):
            self.good += 1
        elif len(self.bad) < 5:
            self.bad.append(f"frame {i}: " + ("bad FCS" if not f.fcs_ok else f"bytes differ (len {len(f.data)})"))
        self.t_start.append(f.t_start)
        self.count += 1
        if self.count == self.mark:
            self.wall_mark, self.cyc_mark = time.perf_counter(), self.rtl.cycle
        if self.count == self.n:
            self.wall_end, self.cyc_end = time.perf_counter(), self.rtl.cycle
            self.done.set()
        else:
            self.refill()


@rtl_test(timeout_us=1_000_000)
async def stream(dut):
    cfg = json.loads(os.environ["HILNIC_BENCH_CFG"])
    prof_path = os.environ.get("HILNIC_BENCH_PROFILE")  # cProfile stats of the whole test
    prof = None
    if prof_path:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    model = cfg.get("mem_model", "py")
    runs = cfg["runs"]
    biggest = max(Traffic(r["frame_len"], ring_n=r.get("ring_n", 256)).size for r in runs)
    hm = HostMemory(size=max(1 << 20, (biggest + 0xFFFFF) & ~0xFFFFF))
    hm.dma_map(hm.base, hm.size, DmaDir.BIDIRECTIONAL)
    rtl = RtlNic(dut, hm, mem_latency_ns=runs[0].get("mem_latency_ns", 500), mem_model=model, keep_frames=False)
    current: list[_Run] = []
    rtl.on_frame(lambda f: current[0].on_frame(f) if current else None)
    out = []
    for r in runs:
        traffic = Traffic(r["frame_len"], ring_n=r.get("ring_n", 256), seed=r.get("seed", 1))
        n = int(r["frames"])
        mark = int(r.get("mark", max(4, min(100, n // 10))))
        rtl.set_mem_timing(mem_latency_ns=r.get("mem_latency_ns", 500))
        await rtl.reset()
        hm.write(traffic.base, bytes(traffic.image()))
        run = _Run(rtl, traffic, n, int(r.get("batch", 16)), mark)
        current[:] = [run]
        w = rtl.writel
        w(Reg.TDBAL, traffic.base & 0xFFFFFFFF)
        w(Reg.TDBAH, traffic.base >> 32)
        w(Reg.TDLEN, 16 * traffic.ring_n)
        w(Reg.TDH, 0)
        w(Reg.TDT, 0)
        w(Reg.TCTL, E1000_TCTL_EN | E1000_TCTL_PSP)
        wall0, cyc0 = time.perf_counter(), rtl.cycle
        run.refill()
        bound_us = int(n * (r["frame_len"] + 24) * 0.0008 * 4) + 200
        await with_sim_timeout(run.done.wait(), bound_us, f"{n} frames of {r['frame_len']} B")
        ts = run.t_start
        k = min(mark, n - 2) if n > 2 else 0
        span_ps = ts[-1] - ts[k] if n > 1 else 0
        sim_fps = (n - 1 - k) / (span_ps * 1e-12) if span_ps > 0 else 0.0
        steady_wall = run.wall_end - run.wall_mark
        out.append({
            "frame_len": r["frame_len"], "frames": n, "good": run.good, "bad": run.bad,
            "mem_latency_ns": r.get("mem_latency_ns", 500), "mark": k,
            "sim_frames_per_s": sim_fps,
            "total_wall_s": run.wall_end - wall0, "total_cycles": run.cyc_end - cyc0,
            "steady_wall_s": steady_wall, "steady_cycles": run.cyc_end - run.cyc_mark,
            "steady_frames": n - mark,
            "cycles_per_s": (run.cyc_end - run.cyc_mark) / steady_wall if steady_wall > 0 else 0.0,
            "frames_per_wall_s": (n - mark) / steady_wall if steady_wall > 0 else 0.0,
            "stats": rtl.stats(),
        })
        current.clear()
    if prof is not None:
        prof.disable()
        prof.dump_stats(prof_path)
    errs = rtl.errors()
    result = {"mem_model": model, "runs": out, "errors": errs}
    Path(os.environ.get("HILNIC_RUN_DIR", ".")).joinpath("bench_result.json").write_text(json.dumps(result, indent=1))
    assert not errs, "harness found problems: " + "; ".join(errs)
    for o in out:
        assert o["good"] == o["frames"], f"{o['frame_len']} B: {o['frames'] - o['good']} bad frames: {o['bad']}"
