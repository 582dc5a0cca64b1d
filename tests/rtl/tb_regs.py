"""cocotb bench: registers and interrupts of nic_top (docs/nic.md §2, §4 "Interrupts").

Run by tests/rtl/test_regs.py. References: hw/regs.reg_info() (reset values, access types,
writable masks), the spec's time units (ITR 256 ns, TIDV/TADV 1.024 us).
"""

from __future__ import annotations

import itertools
import random
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

from nic_tb import CMD_FRAME, NicTB, eth_frame  # noqa: E402

from hilnic.cosim.api import rtl_test, with_sim_timeout  # noqa: E402
from hilnic.hw.regs import (  # noqa: E402
    E1000_CTRL_RST,
    E1000_ICR_ERR,
    E1000_ICR_INT_ASSERTED,
    E1000_ICR_TXDW,
    E1000_ICR_TXQE,
    E1000_TCTL_EN,
    E1000_TXD_CMD_IDE,
    ICR_CAUSES,
    ITR_UNIT_NS,
    TIDV_UNIT_NS,
    Reg,
    reg_info,
)

UNKNOWN_OFFSETS = (0x0004, 0x000C, 0x00BC, 0x00CC, 0x00D4, 0x00DC, 0x0404, 0x3814, 0x381C,
                   0x3830, 0x4000, 0x4084, 0x40D0, 0xF00C, 0xF01C, 0xF024, 0xFFFC)


def _info(tb: NicTB):
    return reg_info(dma_data_width=tb.rtl.data_width)


async def _check_reset_values(tb: NicTB, what: str) -> None:
    for reg, info in _info(tb).items():
        got = await tb.readl(reg)
        assert got == info.reset, f"{what}: {reg.name} reads {got:#010x}, reset value is {info.reset:#010x}"


@rtl_test(timeout_us=200)
async def regs_reset_and_access(dut):
    """Every register's reset value; RW writable masks, RO/RC/WO ignore writes, byte
    strobes, unknown offsets read 0 and ignore writes (OKAY)."""
    tb = NicTB(dut)
    await tb.reset()
    await _check_reset_values(tb, "after reset")
    info = _info(tb)

    # RO / RC / WO: writes of all ones change nothing (no traffic: counters stay 0)
    for reg, ri in info.items():
        if ri.access in ("RO", "RC"):
            tb.writel(reg, 0xFFFFFFFF)
            got = await tb.readl(reg)
            assert got == ri.reset, f"{ri.access} {reg.name} changed by a write: {got:#010x}"
    # WO registers read 0 (ICS sets ICR, IMC clears IMS; checked in irq_* tests)
    for reg in (Reg.ICS, Reg.IMC):
        assert await tb.readl(reg) == 0, f"WO {reg.name} does not read 0"

    # RW: all-ones then zero; read back exactly the writable mask. Ring registers before
    # TCTL.EN (they are ignored while enabled); CTRL without RST; TDT needs a ring size.
    rw = [r for r, ri in info.items() if ri.access == "RW" and r not in (Reg.IMS, Reg.TDT, Reg.TCTL)]
    for reg in rw:
        mask = info[reg].writable_mask & ~(E1000_CTRL_RST if reg == Reg.CTRL else 0)
        tb.writel(reg, 0xFFFFFFFF & ~(E1000_CTRL_RST if reg == Reg.CTRL else 0))
        got = await tb.readl(reg)
        assert got == mask, f"RW {reg.name}: wrote all ones, read {got:#010x}, expected mask {mask:#010x}"
        tb.writel(reg, 0)
        assert await tb.readl(reg) == 0, f"RW {reg.name}: does not clear"
    # TDLEN keeps bits 19:7 only: a non-multiple of 128 reads rounded down
    tb.writel(Reg.TDLEN, 0x1FF)
    assert await tb.readl(Reg.TDLEN) == 0x180, "TDLEN low bits 6:0 must read 0"
    tb.writel(Reg.TDBAL, 0x1234567F)
    assert await tb.readl(Reg.TDBAL) == 0x12345670, "TDBAL bits 3:0 must read 0"
    # TDT: RW within the ring (N = 0x180/16 = 24)
    tb.writel(Reg.TDT, 23)
    assert await tb.readl(Reg.TDT) == 23
    # IMS: write-1-to-set, reads the mask; IMC clears
    tb.writel(Reg.IMS, 0xFFFFFFFF)
    assert await tb.readl(Reg.IMS) == ICR_CAUSES
    tb.writel(Reg.IMS, 0)
    assert await tb.readl(Reg.IMS) == ICR_CAUSES, "IMS write of 0 must not clear causes"
    tb.writel(Reg.IMC, E1000_ICR_TXQE)
    assert await tb.readl(Reg.IMS) == ICR_CAUSES & ~E1000_ICR_TXQE
    tb.writel(Reg.IMC, 0xFFFFFFFF)
    assert await tb.readl(Reg.IMS) == 0
    # TCTL (EN off so nothing runs): all bits except EN
    tb.writel(Reg.TCTL, 0xFFFFFFFF & ~E1000_TCTL_EN)
    assert await tb.readl(Reg.TCTL) == 0xFFFFFFFF & ~E1000_TCTL_EN
    tb.writel(Reg.TCTL, 0)
    for reg in (Reg.TDT, Reg.TDLEN, Reg.TDBAL):  # TDT first: with TDLEN = 0 it cannot be written
        tb.writel(reg, 0)

    # byte strobes: only the strobed bytes change
    for reg in (Reg.TDBAH, Reg.TDWBAH, Reg.TXDCTL):
        tb.writel(reg, 0x11223344)
        tb.writel(reg, 0xAABBCCDD, strb=0b0101)
        got = await tb.readl(reg)
        assert got == 0x11BB33DD, f"{reg.name}: strobe 0101 gave {got:#010x}, expected 0x11bb33dd"
        tb.writel(reg, 0xAABBCCDD, strb=0b1000)
        assert await tb.readl(reg) == 0xAABB33DD, f"{reg.name}: strobe 1000"
        tb.writel(reg, 0)
    tb.writel(Reg.ITR, 0x1234)
    tb.writel(Reg.ITR, 0xFFFFFFFF, strb=0b0010)
    assert await tb.readl(Reg.ITR) == 0xFF34, "ITR byte 1 strobe"
    tb.writel(Reg.ITR, 0xFFFFFFFF, strb=0b1100)
    assert await tb.readl(Reg.ITR) == 0xFF34, "ITR bits 31:16 are not writable"
    tb.writel(Reg.ITR, 0)
    tb.writel(Reg.CTRL, 0xFFFFFFFF, strb=0b0000)
    assert await tb.readl(Reg.CTRL) == 0, "a write with no strobes must change nothing"

    # unknown offsets: read 0, writes ignored (and do not alias a real register)
    for off in UNKNOWN_OFFSETS:
        tb.writel(off, 0xFFFFFFFF)
        got = await tb.readl(off)
        assert got == 0, f"unknown offset {off:#06x} reads {got:#010x}"
    await _check_reset_values(tb, "after writes to unknown offsets")
    await tb.finish()


@rtl_test(timeout_us=100)
async def regs_verilog_offsets(dut):
    """The elaborated nic_csr answers at every Reg offset: HID/HVER/HCAPS exact, and each
    writable register reads back at its own offset only (no aliasing between offsets)."""
    tb = NicTB(dut)
    await tb.reset()
    info = _info(tb)
    tb.writel(Reg.TDLEN, 0x80)
    patterns = {}
    for i, (reg, ri) in enumerate(info.items()):
        if ri.access == "RW" and reg not in (Reg.CTRL, Reg.TCTL, Reg.IMS, Reg.TDLEN, Reg.TDT):
            patterns[reg] = (0x01010101 * (i + 1)) & ri.writable_mask
            tb.writel(reg, patterns[reg])
    for reg, v in patterns.items():
        got = await tb.readl(reg)
        assert got == v, f"{reg.name} at {int(reg):#06x} reads {got:#010x}, wrote {v:#010x}"
    await tb.finish()


@rtl_test(timeout_us=100)
async def irq_icr_ics_ims(dut):
    """ICR read-clear and W1C, ICS sets, IMS/IMC mask, INT_ASSERTED, irq = any(ICR & IMS)."""
    tb = NicTB(dut)
    await tb.reset()
    assert not tb.rtl.irq_level
    # ICS with nothing enabled: ICR shows the causes, no INT_ASSERTED, no irq
    tb.writel(Reg.ICS, 0xFFFFFFFF)
    await tb.flush()
    await tb.rtl.wait_cycles(10)
    assert not tb.rtl.irq_level, "irq with IMS = 0"
    assert await tb.readl(Reg.ICR) == ICR_CAUSES, "ICS must set exactly the cause bits"
    assert await tb.readl(Reg.ICR) == 0, "ICR read must clear"
    # W1C
    tb.writel(Reg.ICS, E1000_ICR_TXDW | E1000_ICR_TXQE | E1000_ICR_ERR)
    tb.writel(Reg.ICR, E1000_ICR_TXDW | E1000_ICR_ERR)
    assert await tb.readl(Reg.ICR) == E1000_ICR_TXQE, "ICR write-1-to-clear"
    # irq follows ICR & IMS
    tb.writel(Reg.IMS, E1000_ICR_TXQE)
    tb.writel(Reg.ICS, E1000_ICR_TXDW)
    await tb.flush()
    await tb.rtl.wait_cycles(10)
    assert not tb.rtl.irq_level, "irq for a masked cause"
    tb.writel(Reg.ICS, E1000_ICR_TXQE)
    await tb.flush()
    await tb.rtl.wait_cycles(10)
    assert tb.rtl.irq_level, "irq not asserted for ICR & IMS != 0"
    tb.writel(Reg.IMC, E1000_ICR_TXQE)
    await tb.flush()
    await tb.rtl.wait_cycles(10)
    assert not tb.rtl.irq_level, "irq stays asserted after IMC masked the cause"
    tb.writel(Reg.IMS, E1000_ICR_TXQE)
    await tb.flush()
    await tb.rtl.wait_cycles(10)
    assert tb.rtl.irq_level, "irq not re-asserted by IMS with the cause still pending"
    v = await tb.readl(Reg.ICR)
    assert v == E1000_ICR_INT_ASSERTED | E1000_ICR_TXDW | E1000_ICR_TXQE, f"ICR read {v:#010x}"
    await tb.rtl.wait_cycles(10)
    assert not tb.rtl.irq_level, "irq not deasserted by the ICR read"
    # W1C of the last enabled cause drops irq
    tb.writel(Reg.ICS, E1000_ICR_TXQE)
    await tb.flush()
    await tb.rtl.wait_cycles(10)
    assert tb.rtl.irq_level
    tb.writel(Reg.ICR, E1000_ICR_TXQE)
    await tb.flush()
    await tb.rtl.wait_cycles(10)
    assert not tb.rtl.irq_level, "irq not deasserted by ICR W1C"
    v = await tb.readl(Reg.ICR)
    assert v == 0, f"ICR after W1C: {v:#010x}"
    assert await tb.readl(Reg.ICS) == 0, "ICS is write-only (reads 0)"
    await tb.finish()


@rtl_test(timeout_us=200)
async def irq_itr_throttle(dut):
    """ITR: assertions at least ITR x 256 ns apart (and not much later); ITR = 0 at once."""
    tb = NicTB(dut)
    await tb.reset()
    tb.writel(Reg.IMS, E1000_ICR_TXDW)
    # ITR = 0: assertion within a few cycles of the ICS write
    for _ in range(3):
        n = len(tb.irq_rises)
        t0 = tb.rtl.now()
        tb.writel(Reg.ICS, E1000_ICR_TXDW)
        await with_sim_timeout(tb._poll(lambda n=n: len(tb.irq_rises) > n, 5, "irq"), 5, "irq with ITR=0")
        assert tb.irq_rises[-1] - t0 < 200_000, "ITR=0 must not delay the interrupt"
        await tb.readl(Reg.ICR)
    itr = 20  # 5.12 us
    gap_ps = itr * ITR_UNIT_NS * 1000
    tb.writel(Reg.ITR, itr)
    rises = []
    for _ in range(4):
        n = len(tb.irq_rises)
        tb.writel(Reg.ICS, E1000_ICR_TXDW)
        await tb._poll(lambda n=n: len(tb.irq_rises) > n, 20, "throttled irq", step_cycles=4)
        rises.append(tb.irq_rises[-1])
        assert await tb.readl(Reg.ICR) & E1000_ICR_TXDW
    for a, b in itertools.pairwise(rises):
        # each cause was raised right after the previous assertion was served
        assert b - a >= gap_ps, f"irq assertions {b - a} ps apart, ITR requires >= {gap_ps}"
        assert b - a <= gap_ps + 300_000, f"irq held back {b - a} ps, ITR is {gap_ps}"
    await tb.finish()


async def _one_frame_irq(tb: NicTB, rng: random.Random, cmd: int, timeout_us: float) -> tuple[int, int]:
    """Post one frame; return (time of its DD write burst, time of the next irq rise)."""
    n_irq = len(tb.irq_rises)
    (idx,) = tb.post_frame([eth_frame(rng, 100)], cmd=cmd)
    tb.doorbell()
    await tb.wait_dd(idx, 20)
    dd_addr = tb.desc_addr(idx) + 12
    wb = [b for b in tb.rtl.mem_service.bursts if b.write and b.addr <= dd_addr < b.addr + b.size * b.length]
    assert wb, "no write burst recorded for the DD"
    await tb._poll(lambda: len(tb.irq_rises) > n_irq, timeout_us, "TXDW interrupt", step_cycles=2)
    t_irq = tb.irq_rises[-1]
    assert await tb.readl(Reg.ICR) & E1000_ICR_TXDW, "irq without TXDW"
    return wb[-1].time_ps, t_irq


@rtl_test(timeout_us=400)
async def irq_tidv_tadv(dut):
    """TXDW moderation: non-IDE at once; IDE delayed by TIDV x 1.024 us, re-armed by each
    IDE descriptor, bounded by TADV after the first held write-back."""
    tb = NicTB(dut, record_bursts=True)
    await tb.reset()
    rng = random.Random(11)
    tidv, tadv = 4, 6
    unit = TIDV_UNIT_NS * 1000
    tol = 150_000  # ps
    tb.setup_ring(16, tidv=tidv, tadv=0)
    tb.writel(Reg.IMS, E1000_ICR_TXDW)
    # non-IDE: immediate
    t_wb, t_irq = await _one_frame_irq(tb, rng, CMD_FRAME, 10)
    assert 0 <= t_irq - t_wb < tol, f"non-IDE TXDW {t_irq - t_wb} ps after the write-back"
    # IDE: TIDV after the write-back
    t_wb, t_irq = await _one_frame_irq(tb, rng, CMD_FRAME | E1000_TXD_CMD_IDE, 20)
    d = t_irq - t_wb
    assert abs(d - tidv * unit) < tol, f"IDE TXDW {d} ps after the write-back, TIDV={tidv} -> {tidv * unit}"
    # re-armed by a second IDE descriptor half-way through
    n_irq = len(tb.irq_rises)
    (i1,) = tb.post_frame([eth_frame(rng, 80)], cmd=CMD_FRAME | E1000_TXD_CMD_IDE)
    tb.doorbell()
    await tb.wait_dd(i1)
    await tb.quiet(tidv * 1.024 / 2)
    assert len(tb.irq_rises) == n_irq, "TXDW not delayed"
    t_wb2, t_irq = await _one_frame_irq(tb, rng, CMD_FRAME | E1000_TXD_CMD_IDE, 20)
    d = t_irq - t_wb2
    assert abs(d - tidv * unit) < tol, f"re-armed TXDW {d} ps after the 2nd write-back, expected {tidv * unit}"
    # TADV bounds the delay: IDE frames every 3 us keep re-arming TIDV=4; TADV=6 fires
    tb.writel(Reg.TADV, tadv)
    await tb.flush()
    n_irq = len(tb.irq_rises)
    (i1,) = tb.post_frame([eth_frame(rng, 80)], cmd=CMD_FRAME | E1000_TXD_CMD_IDE)
    tb.doorbell()
    await tb.wait_dd(i1)
    dd_addr = tb.desc_addr(i1) + 12
    t_first = [b for b in tb.rtl.mem_service.bursts if b.write and b.addr <= dd_addr < b.addr + b.size * b.length][-1].time_ps
    for _ in range(3):
        await tb.quiet(2.5)
        if len(tb.irq_rises) > n_irq:
            break
        (i2,) = tb.post_frame([eth_frame(rng, 80)], cmd=CMD_FRAME | E1000_TXD_CMD_IDE)
        tb.doorbell()
        await tb.wait_dd(i2)
    await tb._poll(lambda: len(tb.irq_rises) > n_irq, 20, "TADV interrupt", step_cycles=2)
    d = tb.irq_rises[n_irq] - t_first
    assert abs(d - tadv * unit) < tol, f"TADV-bounded TXDW {d} ps after the first held write-back, expected {tadv * unit}"
    await tb.readl(Reg.ICR)
    await tb.finish()
