"""cocotb tests of the harness itself and a smoke test of the NIC through RtlNic.

Run through tests/rtl/test_harness_smoke.py (pytest). Tests named `selftest_*` need the
toplevel tb_selftest (the harness transactors without nic_top, driven by cocotbext-axi /
cocotbext-eth models); tests named `nic_*` need nic_harness.
"""

from __future__ import annotations

import random
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

from cocotb.triggers import ClockCycles, RisingEdge  # noqa: E402

from hilnic.cosim.api import rtl_test, with_sim_timeout  # noqa: E402
from hilnic.cosim.bridge import (  # noqa: E402
    DECERR,
    SLVERR,
    AxiMemService,
    MemTiming,
    MmioPort,
    ProtocolMonitor,
    RtlNic,
    XgmiiCapture,
)
from hilnic.hw.regs import (  # noqa: E402
    E1000_TCTL_EN,
    E1000_TXD_CMD_EOP,
    E1000_TXD_CMD_IFCS,
    E1000_TXD_CMD_RS,
    HID_VALUE,
    Reg,
    TxDesc,
)
from hilnic.mm.hostmem import DmaDir, HostMemory  # noqa: E402

PERIOD_PS = 6400


_SELFTEST_INPUTS = (
    "s_axi_awid", "s_axi_awaddr", "s_axi_awlen", "s_axi_awsize", "s_axi_awburst", "s_axi_awlock",
    "s_axi_awcache", "s_axi_awprot", "s_axi_awvalid", "s_axi_wdata", "s_axi_wstrb", "s_axi_wlast",
    "s_axi_wvalid", "s_axi_bready", "s_axi_arid", "s_axi_araddr", "s_axi_arlen", "s_axi_arsize",
    "s_axi_arburst", "s_axi_arlock", "s_axi_arcache", "s_axi_arprot", "s_axi_arvalid", "s_axi_rready",
    "m_axil_awready", "m_axil_wready", "m_axil_bresp", "m_axil_bvalid", "m_axil_arready",
    "m_axil_rdata", "m_axil_rresp", "m_axil_rvalid",
)


async def _selftest_reset(dut, timing: MemTiming | None = None) -> None:
    """Drive every top-level input of tb_selftest to a defined idle value, pulse rst."""
    t = timing or MemTiming()
    for name in _SELFTEST_INPUTS:
        getattr(dut, name).value = 0
    dut.xgmii_txd.value = 0x0707070707070707
    dut.xgmii_txc.value = 0xFF
    dut.cfg_seed.value = t.seed
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def _axi_master(dut):
    from cocotbext.axi import AxiBus, AxiMaster

    m = AxiMaster(AxiBus.from_prefix(dut, "s_axi"), dut.clk, dut.rst)
    for iface in (m.read_if, m.write_if):
        iface.log.setLevel("WARNING")
    return m


# -- harness self-tests (toplevel tb_selftest) ------------------------------------------------


@rtl_test(timeout_us=2000)
async def selftest_mem(dut):
    """tb_axi_mem + AxiMemService against cocotbext-axi's AxiMaster: data, alignment,
    latency/gaps/stalls, injected errors, IOMMU violations; the checker stays quiet."""
    hm = HostMemory(size=1 << 20)
    buf = hm.alloc(16384, align=4096)
    hm.dma_map(buf, 16384, DmaDir.BIDIRECTIONAL)
    svc = AxiMemService(dut.u_mem, hm, dut, 128, record=True)
    rng = random.Random(1)
    await _selftest_reset(dut, MemTiming(seed=99))
    svc.start()
    master = _axi_master(dut)
    for timing in (MemTiming(), MemTiming(rd_latency_cycles=40, wr_latency_cycles=7, r_gap_cycles=1,
                                          r_gap_prob=0.3, ar_stall_prob=0.3, aw_stall_prob=0.3,
                                          w_stall_prob=0.3, b_gap_prob=0.3, seed=99)):
        svc.set_timing(timing)
        t0 = int(dut.cycle.value)
        for _ in range(12):
            off = rng.randrange(0, 12000)
            n = rng.randrange(1, 3000)
            data = bytes(rng.getrandbits(8) for _ in range(n))
            await master.write(buf + off, data)
            assert hm.read(buf + off, n) == data, "write burst did not land in host memory"
            back = await master.read(buf + off, n)
            assert bytes(back.data) == data, f"read back mismatch at +{off} len {n}"
        dut._log.info("%s: 12 write+read pairs in %d cycles", timing, int(dut.cycle.value) - t0)
        master.read_if.log.setLevel("CRITICAL")
        master.write_if.log.setLevel("CRITICAL")
        # injected error
        inj = svc.inject_error(buf + 0x2000, 64, SLVERR, "r", count=1)
        r = await master.read(buf + 0x2000, 32)
        assert int(r.resp) == SLVERR and inj.hits == 1
        r = await master.read(buf + 0x2000, 32)
        assert int(r.resp) == 0, "count=1 injection should expire"
        # outside any mapping: DECERR and a recorded violation
        nv = len(hm.violations)
        r = await master.read(hm.base + (1 << 19), 64)
        assert int(r.resp) == DECERR and len(hm.violations) == nv + 1
        w = await master.write(hm.base + (1 << 19), b"x" * 16)
        assert int(w.resp) == DECERR and len(hm.violations) == nv + 2
    svc.stop()
    hm.violations.clear()
    mon = ProtocolMonitor(dut.u_check, dut.u_xgmii, PERIOD_PS)
    assert mon.axi_errors() == [], mon.axi_errors()
    dut._log.info("memory service: %s", svc.stats())


@rtl_test(timeout_us=200)
async def selftest_checker(dut):
    """The protocol checker flags a dropped valid, a payload change while stalled, a 4 KiB
    crossing and a wrong WLAST."""
    hm = HostMemory(size=1 << 16)
    hm.dma_map(hm.base, 1 << 16, DmaDir.BIDIRECTIONAL)
    svc = AxiMemService(dut.u_mem, hm, dut, 128)
    svc.set_timing(MemTiming(ar_stall_prob=1.0))
    await _selftest_reset(dut)
    svc.start()
    mon = ProtocolMonitor(dut.u_check, None, PERIOD_PS)
    for name in ("awvalid", "wvalid", "arvalid", "bready", "rready"):
        getattr(dut, f"s_axi_{name}").value = 0
    dut.s_axi_arburst.value = 1
    dut.s_axi_arsize.value = 4
    dut.s_axi_arlen.value = 0
    dut.s_axi_arid.value = 0
    dut.s_axi_araddr.value = hm.base
    dut.s_axi_rready.value = 1
    await RisingEdge(dut.clk)
    # AR stalled (ARREADY forced low), then payload change, then valid dropped
    dut.s_axi_arvalid.value = 1
    await ClockCycles(dut.clk, 2)
    dut.s_axi_araddr.value = hm.base + 16
    await ClockCycles(dut.clk, 2)
    dut.s_axi_arvalid.value = 0
    await ClockCycles(dut.clk, 2)
    codes = int(dut.u_check.err_mask.value)
    assert codes & (1 << 2), f"payload change not flagged: {mon.axi_errors()}"
    assert codes & (1 << 1), f"dropped valid not flagged: {mon.axi_errors()}"
    # a burst across 4 KiB
    svc.set_timing(MemTiming())
    dut.s_axi_araddr.value = hm.base + 0xFF0
    dut.s_axi_arlen.value = 1
    dut.s_axi_arvalid.value = 1
    await RisingEdge(dut.clk)
    while not int(dut.s_axi_arready.value):
        await RisingEdge(dut.clk)
    dut.s_axi_arvalid.value = 0
    await ClockCycles(dut.clk, 10)
    assert int(dut.u_check.err_mask.value) & (1 << 11), mon.axi_errors()
    # WLAST early: AWLEN=1 but WLAST on the first beat
    dut.s_axi_awaddr.value = hm.base
    dut.s_axi_awlen.value = 1
    dut.s_axi_awsize.value = 4
    dut.s_axi_awburst.value = 1
    dut.s_axi_awid.value = 0
    dut.s_axi_awvalid.value = 1
    dut.s_axi_wstrb.value = 0xFFFF
    dut.s_axi_wdata.value = 0
    dut.s_axi_wlast.value = 1
    dut.s_axi_wvalid.value = 1
    dut.s_axi_bready.value = 1
    await RisingEdge(dut.clk)
    while not int(dut.s_axi_awready.value):
        await RisingEdge(dut.clk)
    dut.s_axi_awvalid.value = 0
    await RisingEdge(dut.clk)
    while not int(dut.s_axi_wready.value):
        await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.s_axi_wlast.value = 0
    await ClockCycles(dut.clk, 1)
    dut.s_axi_wvalid.value = 0
    await ClockCycles(dut.clk, 10)
    assert int(dut.u_check.err_mask.value) & (1 << 15), mon.axi_errors()
    dut._log.info("checker caught: %s", mon.axi_errors())
    svc.stop()


@rtl_test(timeout_us=500)
async def selftest_xgmii(dut):
    """tb_xgmii_rx + XgmiiCapture against cocotbext-eth's XgmiiSource: bytes, FCS, times,
    and a framing error (bad SFD) flagged."""
    from cocotbext.eth import XgmiiFrame, XgmiiSource

    src = XgmiiSource(dut.xgmii_txd, dut.xgmii_txc, dut.clk, dut.rst)
    src.log.setLevel("WARNING")
    src.enable_dic = False  # our decoder wants starts in lane 0 and >= 12 idle bytes
    await _selftest_reset(dut)
    cap = XgmiiCapture(dut.u_xgmii, PERIOD_PS)
    cap.start()
    rng = random.Random(2)
    sent = []
    for n in (60, 61, 63, 64, 65, 127, 1514, 100, 9000):
        payload = bytes(rng.getrandbits(8) for _ in range(n))
        sent.append(payload)
        await src.send(XgmiiFrame.from_payload(payload))
        await src.wait()  # idle in between, so the next start is in lane 0
        await ClockCycles(dut.clk, 2)
    await with_sim_timeout(cap.wait_frames(len(sent)), 100, "XGMII capture")
    for i, (f, p) in enumerate(zip(cap.frames, sent, strict=False)):
        assert f.data[:-4] == p, f"frame {i} bytes differ"
        assert f.fcs_ok and f.index == i
        assert f.t_end > f.t_start
        assert (f.t_start - PERIOD_PS // 2) % PERIOD_PS == 0
    assert cap.framing_errors == [], [str(e) for e in cap.framing_errors]
    mon = ProtocolMonitor(dut.u_check, dut.u_xgmii, PERIOD_PS)
    assert mon.xgmii_errors() == []
    # a bad SFD
    await src.wait()
    await ClockCycles(dut.clk, 4)
    bad = XgmiiFrame.from_payload(b"\x11" * 60)
    bad.data[7] = 0xD4
    await src.send(bad)
    await with_sim_timeout(cap.wait_frames(len(sent) + 1), 50, "bad frame")
    assert cap.framing_errors and cap.framing_errors[0].flags & 1, "bad SFD not flagged"
    assert mon.xgmii_errors(), "sticky XGMII error not set"


@rtl_test(timeout_us=200)
async def selftest_mmio(dut):
    """tb_axil_master + MmioPort against cocotbext-axi's AxiLiteRam: posted writes in order,
    reads after earlier writes, one Python wake per access."""
    from cocotbext.axi import AxiLiteBus, AxiLiteRam

    await _selftest_reset(dut)
    ram = AxiLiteRam(AxiLiteBus.from_prefix(dut, "m_axil"), dut.clk, dut.rst, size=1 << 16)
    for iface in (ram.read_if, ram.write_if):
        iface.log.setLevel("WARNING")
    port = MmioPort(dut.u_axil)
    port.start()
    for i in range(8):
        port.write(4 * i, 0x1000_0000 + i)
    port.write(0x40, 0xDEADBEEF)
    assert port.pending >= 8  # posted: nothing waited yet
    assert await port.read(0x40) == 0xDEADBEEF
    for i in range(8):
        assert await port.read(4 * i) == 0x1000_0000 + i
    port.write(0x44, 0xFFFFFFFF)
    await port.flush()
    assert ram.read_dword(0x44) == 0xFFFFFFFF
    assert port.errors == []
    mon = ProtocolMonitor(dut.u_check, None, PERIOD_PS)
    assert mon.axi_errors() == [], mon.axi_errors()


# -- the NIC (toplevel nic_harness) ------------------------------------------------------------


class Ring:
    """A minimal transmit ring for smoke tests (the real driver lives in hilnic.drivers)."""

    def __init__(self, rtl: RtlNic, n: int = 64) -> None:
        self.rtl = rtl
        self.mem = rtl.mem
        self.n = n
        self.base = self.mem.dma_alloc_coherent(16 * n)
        self.tail = 0
        self.bufs: dict[int, tuple[int, int]] = {}  # index -> (addr, capacity), mapped once

    def program(self) -> None:
        w = self.rtl.writel
        w(Reg.TDBAL, self.base & 0xFFFFFFFF)
        w(Reg.TDBAH, self.base >> 32)
        w(Reg.TDLEN, 16 * self.n)
        w(Reg.TDH, 0)
        w(Reg.TDT, 0)
        w(Reg.TCTL, E1000_TCTL_EN)

    def post(self, payload: bytes, cmd: int = E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS) -> int:
        idx = self.tail
        buf, cap = self.bufs.get(idx, (0, 0))
        if cap < len(payload):
            cap = max(len(payload), 2048)
            buf = self.mem.alloc(cap + 1, align=64) + 1  # deliberately unaligned
            self.mem.dma_map(buf, cap, DmaDir.TO_DEVICE)
            self.bufs[idx] = (buf, cap)
        self.mem.write(buf, payload)
        self.mem.write(self.base + 16 * idx, TxDesc(addr=buf, length=len(payload), cmd=cmd).pack())
        self.tail = (self.tail + 1) % self.n
        return idx

    def doorbell(self) -> None:
        self.rtl.writel(Reg.TDT, self.tail)

    def desc(self, idx: int) -> TxDesc:
        return TxDesc.unpack(self.mem.read(self.base + 16 * idx, 16))


@rtl_test(timeout_us=200)
async def nic_hid(dut):
    """Reset, then read HID through the bridge."""
    rtl = RtlNic(dut, HostMemory(size=1 << 20))
    await rtl.reset()
    hid = await rtl.readl(Reg.HID)
    assert hid == HID_VALUE, f"HID read {hid:#010x}, expected {HID_VALUE:#010x}"
    rtl.check()


@rtl_test(timeout_us=500)
async def nic_one_frame(dut):
    """One frame from one raw descriptor: bytes on the wire, FCS, DD written back."""
    rtl = RtlNic(dut, HostMemory(size=1 << 20), mem_latency_ns=100)
    await rtl.reset()
    ring = Ring(rtl, 64)
    ring.program()
    payload = bytes(range(256)) * 4 + bytes(100)
    payload = bytes.fromhex("ffffffffffff020000000001") + b"\x08\x00" + payload[: 1514 - 14]
    idx = ring.post(payload)
    ring.doorbell()
    frame = await with_sim_timeout(rtl.wait_frame(), 50, "first frame on XGMII")
    assert frame.data[:-4] == payload, "frame bytes differ from the buffer"
    assert frame.fcs_ok, "bad FCS"
    for _ in range(200):
        if ring.desc(idx).dd:
            break
        await rtl.wait_cycles(10)
    assert ring.desc(idx).dd, "DD not written back"
    rtl.check()
