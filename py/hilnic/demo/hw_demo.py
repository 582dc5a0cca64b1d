"""cocotb side of `hilnic demo` (runs inside the simulator; toplevel nic_harness).

Config in HILNIC_DEMO_CFG (JSON: frames, seed, mem_latency_ns, out). Builds the frame list
(hilnic.demo.frames), writes the buffers and raw legacy descriptors into host memory, programs
the NIC (ring, ITR, IMS, TCTL.EN|PSP), rings the doorbell once, and checks every frame that
leaves the MAC: FCS, bytes (checksums inserted by the NIC, padding), IP/TCP/UDP checksums
re-verified with scapy. A small interrupt handler reads ICR on each assertion (as e1000_intr
does). Writes <out>/wire.pcap and demo_summary.json (run directory and <out>), then fails the
test if anything was wrong.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from hilnic.cosim.api import rtl_test, start_soon, with_sim_timeout
from hilnic.cosim.bridge import RtlNic
from hilnic.demo.frames import build_frames, check_wire_frame, scapy_checksums_ok
from hilnic.hw.regs import (
    E1000_ICR_TXDW,
    E1000_ICR_TXQE,
    E1000_TCTL_EN,
    E1000_TCTL_PSP,
    E1000_TXD_CMD_EOP,
    E1000_TXD_CMD_IC,
    E1000_TXD_CMD_IFCS,
    E1000_TXD_CMD_RS,
    HID_VALUE,
    Reg,
    TxDesc,
)
from hilnic.mm.hostmem import DmaDir, HostMemory
from hilnic.wire.pcap import PcapWriter

warnings.filterwarnings("ignore", category=DeprecationWarning)

ITR_UNITS = 40  # 40 x 256 ns = 10.24 us between interrupt assertions


def _line_rate_fps(wire_len: int) -> float:
    return 10e9 / ((wire_len + 20) * 8)


@rtl_test(timeout_us=100_000)
async def demo(dut):
    cfg = json.loads(os.environ.get("HILNIC_DEMO_CFG", "{}"))
    n = int(cfg.get("frames", 120))
    seed = int(cfg.get("seed", 1))
    lat = float(cfg.get("mem_latency_ns", 500))
    out = Path(cfg.get("out", os.environ.get("HILNIC_RUN_DIR", ".")))
    out.mkdir(parents=True, exist_ok=True)
    run_dir = Path(os.environ.get("HILNIC_RUN_DIR", str(out)))
    wall0 = time.perf_counter()

    frames = build_frames(n, seed)
    ndesc = sum(len(f.segments) for f in frames)
    ring_n = max(64, (ndesc + 1 + 7) // 8 * 8)
    hm = HostMemory(size=max(4 << 20, (ndesc * 2048 + ring_n * 16 + (1 << 20)) & ~0xFFFFF))
    rtl = RtlNic(dut, hm, mem_latency_ns=lat, seed=seed)
    ring = hm.dma_alloc_coherent(16 * ring_n)
    descs: list[tuple[int, bool]] = []  # (ring index, RS)
    slot = 0
    for f in frames:
        for k, (seg, off) in enumerate(zip(f.segments, f.offsets, strict=False)):
            buf = hm.alloc(len(seg) + 64, align=64) + off
            hm.write(buf, seg)
            hm.dma_map(buf, len(seg), DmaDir.TO_DEVICE, owner=f"frame{f.index}")
            eop = k == len(f.segments) - 1
            cmd = E1000_TXD_CMD_IFCS | (E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS if eop else 0)
            if eop and f.ic:
                cmd |= E1000_TXD_CMD_IC
            d = TxDesc(addr=buf, length=len(seg), cmd=cmd, cso=f.cso if eop else 0, css=f.css if eop else 0)
            hm.write(ring + 16 * slot, d.pack())
            descs.append((slot, eop))
            slot += 1

    pcap_path = out / "wire.pcap"
    # Ethernet without the FCS, as `hilnic run` writes it: scapy, dpkt and tshark all read that
    # link type; the FCS itself is checked frame by frame below (fcs_ok)
    pcap = PcapWriter(str(pcap_path), fcs=False)
    rtl.on_frame(pcap.write_frame)
    irq = {"asserts": 0, "icr_reads": 0, "causes": 0}

    async def handler() -> None:
        icr = await rtl.readl(Reg.ICR)
        irq["icr_reads"] += 1
        irq["causes"] |= icr

    def on_irq(level: bool) -> None:
        if level:
            irq["asserts"] += 1
            start_soon(handler())

    rtl.on_irq(on_irq)
    await rtl.reset()
    hid = await rtl.readl(Reg.HID)
    w = rtl.writel
    w(Reg.TDBAL, ring & 0xFFFFFFFF)
    w(Reg.TDBAH, ring >> 32)
    w(Reg.TDLEN, 16 * ring_n)
    w(Reg.TDH, 0)
    w(Reg.TDT, 0)
    w(Reg.ITR, ITR_UNITS)
    w(Reg.IMS, E1000_ICR_TXDW | E1000_ICR_TXQE)
    w(Reg.TCTL, E1000_TCTL_EN | E1000_TCTL_PSP)
    await rtl.mmio.flush()
    t_door_ps, cyc0, wall_sim0 = rtl.now(), rtl.cycle, time.perf_counter()
    w(Reg.TDT, slot % ring_n)  # the doorbell
    bound_us = int(n * 4 + 200)
    await with_sim_timeout(rtl.wait_frames(n), bound_us, f"{n} frames on the wire")
    wall_sim1, cyc1, t_last_ps = time.perf_counter(), rtl.cycle, rtl.now()
    await rtl.wait_cycles(400)  # let the last write-backs and interrupt land
    gptc = await rtl.readl(Reg.GPTC)
    gotcl = await rtl.readl(Reg.GOTCL)
    gotch = await rtl.readl(Reg.GOTCH)
    txdrop = await rtl.readl(Reg.TXDROP)
    errcause = await rtl.readl(Reg.ERRCAUSE)
    tdh = await rtl.readl(Reg.TDH)
    pcap.close()

    problems: list[str] = []
    if hid != HID_VALUE:
        problems.append(f"HID {hid:#x}")
    wire = rtl.frames
    csum_ok = 0
    kinds: dict[str, int] = {}
    for f, got in zip(frames, wire, strict=False):
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
        if not got.fcs_ok:
            problems.append(f"frame {f.index} ({f.kind}): bad FCS")
        why = check_wire_frame(f, got.data[:-4])
        if why:
            problems.append(f"frame {f.index} ({f.kind}): {why}")
        nck, cps = scapy_checksums_ok(got.data[:-4])
        csum_ok += nck if not cps else 0
        problems += [f"frame {f.index} ({f.kind}): {p}" for p in cps]
    if len(wire) != n:
        problems.append(f"{len(wire)} frames on the wire, {n} sent")
    dd = sum(TxDesc.unpack(hm.read(ring + 16 * s, 16)).dd for s, rs in descs if rs)
    n_rs = sum(rs for _, rs in descs)
    if dd != n_rs:
        problems.append(f"{n_rs - dd} RS descriptors without DD")
    if gptc != n:
        problems.append(f"GPTC {gptc} != {n}")
    if txdrop or errcause:
        problems.append(f"TXDROP {txdrop}, ERRCAUSE {errcause:#x}")
    if tdh != slot % ring_n:
        problems.append(f"TDH {tdh} != TDT {slot % ring_n}")
    problems += rtl.errors()

    b2b = [got for f, got in zip(frames, wire, strict=False) if f.b2b]
    skip = 2 if len(b2b) > 4 else 0
    seg = b2b[skip:]
    b2b_info: dict[str, Any] = {"frames": len(b2b)}
    if len(seg) >= 2:
        span = seg[-1].t_start - seg[0].t_start
        fps = (len(seg) - 1) / (span * 1e-12)
        b2b_info.update(measured=len(seg), skipped=skip, frames_per_s=fps,
                        pct_line_rate=100 * fps / _line_rate_fps(1518), span_ns=span / 1000)
    wall_sim = wall_sim1 - wall_sim0
    stats = rtl.stats()
    summary = {
        "frames_sent": n, "descriptors": ndesc, "ring_n": ring_n, "kinds": kinds,
        "bytes_sent": sum(f.length for f in frames),
        "frames_on_wire": len(wire), "bytes_on_wire": sum(len(g.data) for g in wire),
        "fcs_ok": sum(g.fcs_ok for g in wire), "frames_exact": n - sum(1 for p in problems if p.startswith("frame ")),
        "checksums_verified": csum_ok,
        "gptc": gptc, "gotc": gotch << 32 | gotcl, "txdrop": txdrop, "errcause": errcause,
        "sim_ns": (t_last_ps - t_door_ps) / 1000, "cycles": cyc1 - cyc0,
        "wall_sim_s": wall_sim, "cycles_per_wall_s": (cyc1 - cyc0) / wall_sim if wall_sim > 0 else 0.0,
        "wall_total_s": time.perf_counter() - wall0,
        "back_to_back": b2b_info,
        "irq": {"assertions": irq["asserts"], "icr_reads": irq["icr_reads"], "itr_ns": ITR_UNITS * 256,
                "causes": irq["causes"]},
        "writebacks": {"dd_set": dd, "rs_descriptors": n_rs, "wr_bursts": stats.get("wr_bursts", 0)},
        "dma": {"rd_bursts": stats.get("rd_bursts", 0), "mem_latency_ns": lat},
        "pcap": str(pcap_path), "pcap_frames": pcap.count,
        "problems": problems,
    }
    text = json.dumps(summary, indent=1)
    (run_dir / "demo_summary.json").write_text(text)
    (out / "demo_summary.json").write_text(text)
    assert not problems, f"{len(problems)} problem(s): " + "; ".join(problems[:5])
