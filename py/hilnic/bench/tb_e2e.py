"""cocotb side of hilnic.bench.e2e_speed (runs inside the simulator; toplevel nic_harness).

`bulk`: the whole machine on the RTL (hilnic.testbed.rtl.rtl_testbed: CocotbEnv, RtlNic,
host, e1000 driver, peer) sends HILNIC_BENCH_CFG["nbytes"] bytes of TCP (testbed.tcp_bulk,
MTU 1500: 1514-byte frames) and the bulk phase is timed on the wall clock: from the call of
tcp_bulk (connect included) to its return (the peer has every byte and the socket is
closed). Build, simulator start-up, reset, `tb.setup()` (probe, open) and the teardown after
the phase are outside the window. Config (JSON): nbytes, mem_model ("py" | "axiram"), hold
(clock hold on/off), mem_latency_ns, tso (bool, default on), record (bool: write the replay
trace, see below). With HILNIC_BENCH_PROFILE=<path> the bulk phase runs under cProfile.

Per frame the listener keeps (wall time, t_start, t_end, length) so the host side can cut a
line-rate window out of the phase. Writes bench_result.json into the run directory.

With record on, the run also writes what it did to the hardware, for the pure-Verilog replay
(hdl/tb/nic_trace_replay_tb.v) into <run dir>/trace/:
  mmio.memh    one line per MMIO access in queueing order: t_ps[127:64] addr[63:48]
               strb[47:44] write[32] data[31:0] (reads: the value the NIC answered)
  bursts.memh  one line per DMA read burst, in request order: addr[127:64] word[63:32]
               (index of its first beat in beats.memh) beats[31:16] resp[1:0]
  beats.memh   the bytes each read burst returned, one DMA_DATA_WIDTH-bit beat per line
  frames.memh  one line per frame captured on the wire up to the end of the phase:
               sig[255:192] (sum of the frame's little-endian 64-bit words, FCS included,
               last word zero-padded) len[191:160] start_cycle[127:64] end_cycle[63:0]
  meta.json    rst release, clock-hold time, bulk phase start/end (ps), counts
Recording adds one list append per MMIO access, DMA read burst and frame inside the window.
"""

from __future__ import annotations

import gc
import json
import os
import struct
import time
import warnings
from pathlib import Path
from typing import Any

from hilnic.cosim.api import FallingEdge, rtl_test, sim_time_ps, start_soon
from hilnic.kernel.env import MS, SEC
from hilnic.testbed import TestbedConfig, pattern, tcp_bulk
from hilnic.testbed.rtl import rtl_testbed

warnings.filterwarnings("ignore", category=DeprecationWarning)


def frame_sig(data: bytes) -> int:
    """Sum mod 2**64 of `data` as little-endian 64-bit words (last one zero-padded)."""
    padded = data + bytes(-len(data) % 8)
    return sum(struct.unpack(f"<{len(padded) // 8}Q", padded)) & (2**64 - 1)


class Recorder:
    """Hooks RtlNic's MMIO port and DMA read service (instance attributes, no code change)."""

    def __init__(self, nic: Any) -> None:
        self.mmio: list[list[int]] = []  # [t_ps, write, addr, data, strb]
        self.bursts: list[tuple[int, int, int, bytes]] = []  # addr, beats, resp, image
        port = nic.mmio
        orig_write, orig_read_cb = port.write, port.read_cb
        now = nic.now

        def write(offset: int, value: int, strb: int = 0xF) -> None:
            self.mmio.append([now(), 1, offset, value & 0xFFFFFFFF, strb])
            orig_write(offset, value, strb)

        def read_cb(offset: int, callback: Any) -> None:
            rec = [now(), 0, offset, 0, 0xF]
            self.mmio.append(rec)

            def done(value: int) -> None:
                rec[3] = value & 0xFFFFFFFF
                callback(value)

            orig_read_cb(offset, done)

        port.write = write
        port.read_cb = read_cb
        svc = nic.mem_service
        orig_image = svc.read_image

        def read_image(addr: int, beats: int, size: int, burst: int) -> tuple[int, bytes]:
            resp, img = orig_image(addr, beats, size, burst)
            self.bursts.append((addr, beats, resp, img))
            return resp, img

        svc.read_image = read_image

    def write(self, out: Path, frames: list[tuple[int, int, int, bytes]], bpb: int, period: int,
              meta: dict[str, Any]) -> None:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "mmio.memh", "w") as fh:
            for t, w, a, d, s in self.mmio:
                fh.write(f"{t:016x}{a & 0xFFFF:04x}{s & 0xF:x}{w & 1:03x}{d:08x}\n")
        word = 0
        digits = 2 * bpb
        with open(out / "bursts.memh", "w") as fb, open(out / "beats.memh", "w") as fd:
            for addr, beats, resp, img in self.bursts:
                fb.write(f"{addr:016x}{word:08x}{beats:04x}{resp & 3:04x}\n")
                for b in range(beats):
                    fd.write(f"{int.from_bytes(img[b * bpb:(b + 1) * bpb], 'little'):0{digits}x}\n")
                word += beats
        half = period // 2
        with open(out / "frames.memh", "w") as ff:
            for t_start, t_end, _cap, data in frames:
                ff.write(f"{frame_sig(data):016x}{len(data):08x}{0:08x}{(t_start - half) // period:016x}"
                         f"{(t_end - half) // period:016x}\n")
        meta.update({"n_mmio": len(self.mmio), "n_bursts": len(self.bursts), "n_beats": word,
                     "n_frames": len(frames)})
        (out / "meta.json").write_text(json.dumps(meta, indent=1))


@rtl_test(timeout_us=10_000_000)
async def bulk(dut):
    cfg = json.loads(os.environ["HILNIC_BENCH_CFG"])
    nbytes = int(cfg["nbytes"])
    model = cfg.get("mem_model", "py")
    hold = bool(cfg.get("hold", True)) and model == "py"
    record = bool(cfg.get("record", False)) and model == "py"
    run_dir = Path(os.environ.get("HILNIC_RUN_DIR", "."))
    t_rst: list[int] = []

    async def watch_rst() -> None:
        await FallingEdge(dut.rst)
        t_rst.append(sim_time_ps())

    start_soon(watch_rst())
    lat = float(cfg.get("mem_latency_ns", 500.0))
    tb = await rtl_testbed(dut, TestbedConfig(tso=bool(cfg.get("tso", True))), mem_latency_ns=lat, hold_clock=hold,
                           mem_model=model,
                           setup=False)  # set up below, with the recorders attached
    nic, env, k = tb.nic, tb.env, tb.host.kernel
    t_hold = env.now()
    rec = Recorder(nic) if record else None
    frames: list[tuple[int, int, int, bytes]] = []  # t_start, t_end, capture time, data (record)
    stamps: list[tuple[float, int, int, int]] = []  # wall, t_start, t_end, length

    def on_frame(f: Any) -> None:
        stamps.append((time.perf_counter(), f.t_start, f.t_end, len(f.data)))
        if record:
            frames.append((f.t_start, f.t_end, env.now(), f.data))

    nic.on_frame(on_frame)
    await env.run_process(k, tb.setup(), 50 * MS)
    payload = pattern(nbytes)
    gc.collect()
    f0, b0 = tb.frames, tb.wire_bytes
    def cycles_now() -> tuple[int, int]:
        """(cycles elapsed, cycles skipped): `cycle` counts a clock hold only once it ends,
        skipped_cycles counts one in progress too, so add that part to the elapsed count."""
        skipped = env.skipped_cycles(dut)
        held = getattr(dut, "clk_skipped", None)
        in_progress = skipped - int(held.value) if held is not None else 0
        return int(dut.cycle.value) + in_progress, skipped

    def bridge_wall() -> list[float]:
        """Wall seconds inside the bridge's handlers (DMA read, DMA write, wire capture)."""
        ms = nic.mem_service
        return [ms.wall_rd if ms else 0.0, ms.wall_wr if ms else 0.0, nic.wire.wall]

    c0, s0 = cycles_now()
    st0 = nic.stats()
    bw0 = bridge_wall()
    tw0 = env.timer_wakes
    n_stamps0 = len(stamps)
    t0 = env.now()
    prof_path = os.environ.get("HILNIC_BENCH_PROFILE")  # cProfile stats of the bulk phase
    prof = None
    if prof_path:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    w0, cpu0 = time.perf_counter(), time.process_time()
    res = await env.run_process(k, tcp_bulk(tb, nbytes, data=payload), 2 * SEC)
    wall = time.perf_counter() - w0
    cpu = time.process_time() - cpu0  # the simulator process's CPU time: steadier than wall on a busy machine
    if prof is not None:
        prof.disable()
        prof.dump_stats(prof_path)
    t1 = env.now()
    c1, s1 = cycles_now()
    st1 = nic.stats()
    bw1 = bridge_wall()
    f1, b1 = tb.frames, tb.wire_bytes
    delivered = tb.peer.stream(peer_port=5001) == payload
    await env.run_process(k, tb.quiesce(), 50 * MS)
    await env.run_process(k, tb.teardown(), 100 * MS)
    tb.check_clean()
    errs = nic.errors()
    out: dict[str, Any] = {
        "mem_model": model, "hold": hold, "nbytes": nbytes, "mem_latency_ns": lat,
        "delivered": delivered, "errors": errs,
        "frames": f1 - f0, "wire_bytes": b1 - b0,
        "full_frames": sum(1 for s in stamps[n_stamps0:] if s[3] == 1518),
        "segments": tb.host.mib["TcpExt"]["TCPOrigDataSent"],
        "retrans": tb.host.mib["Tcp"].get("RetransSegs", 0),
        "wall_s": wall, "cpu_s": cpu, "sim_ps": t1 - t0, "t0_ps": t0, "t1_ps": t1,
        "cycles": (c1 - c0) - (s1 - s0), "skipped": s1 - s0,
        "mmio": [st1["mmio_writes"] - st0["mmio_writes"], st1["mmio_reads"] - st0["mmio_reads"]],
        "rd_bursts": st1.get("rd_bursts", 0) - st0.get("rd_bursts", 0),
        "irq_edges": st1["irq_edges"] - st0["irq_edges"], "timer_wakes": env.timer_wakes - tw0,
        "wr_bursts": st1.get("wr_bursts", 0) - st0.get("wr_bursts", 0),
        "bridge_wall_s": {k: b - a for k, a, b in zip(("dma_read", "dma_write", "wire"), bw0, bw1, strict=True)},
        "elapsed_ps": res["elapsed_ps"],
        "stamps": [[w - w0, a, b, n] for w, a, b, n in stamps[n_stamps0:]],
    }
    if rec is not None:
        bpb = nic.data_width // 8
        upto = [f for f in frames if f[2] <= t1]
        meta = {"t_rst_ps": t_rst[0] if t_rst else 0, "t_hold_ps": t_hold if hold else -1,
                "t0_ps": t0, "t1_ps": t1, "mem_rd_latency": nic.timing.rd_latency_cycles,
                "data_width": nic.data_width, "period_ps": nic.period_ps,
                "frames_before_t0": sum(1 for f in upto if f[2] <= t0)}
        rec.write(run_dir / "trace", upto, bpb, nic.period_ps, meta)
        out["trace"] = str(run_dir / "trace")
    run_dir.joinpath("bench_result.json").write_text(json.dumps(out))
    assert not errs, "harness found problems: " + "; ".join(errs)
    assert delivered, "the peer did not receive the payload byte-exact"
