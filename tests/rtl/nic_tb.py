"""Shared test-bench helper for the RTL NIC benches (tb_regs, tb_tx, tb_errors).

`NicTB` owns a HostMemory, the RtlNic bridge and one transmit ring, and offers what the
scenario tests need: ring setup (dma_alloc_coherent + ring registers), buffer allocation
and mapping at any byte alignment, descriptor writing with the TxDesc codec (hw/regs.py,
the single source of truth), the doorbell, waits for DD / head write-back / frames with a
simulated-time bound, expected wire images (zlib CRC-32, PSP padding) and the teardown
check (`finish`: protocol checker, XGMII framing, MMIO responses, IOMMU violations).

Runs inside the simulator (imported by the cocotb modules), never collected by pytest.
"""

from __future__ import annotations

import itertools
import random
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

warnings.filterwarnings("ignore", category=DeprecationWarning)

from hilnic.cosim.api import with_sim_timeout  # noqa: E402
from hilnic.cosim.bridge import RtlNic  # noqa: E402
from hilnic.hw.regs import (  # noqa: E402
    DESC_STA_BYTE,
    E1000_TCTL_EN,
    E1000_TCTL_PSP,
    E1000_TXD_CMD_EOP,
    E1000_TXD_CMD_IFCS,
    E1000_TXD_CMD_RS,
    TDWBAL_EN,
    TX_DESC_SIZE,
    TXDCTL_WTHRESH_SHIFT,
    Reg,
    TxDesc,
)
from hilnic.mm.hostmem import DmaDir, HostMemory  # noqa: E402

CMD_FRAME = E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS
MIN_FRAME = 60  # bytes before FCS (PSP)
LINE_BPS = 10_000_000_000


def fcs(data: bytes) -> bytes:
    """IEEE 802.3 FCS (CRC-32, little-endian on the wire), from zlib: an independent reference."""
    return zlib.crc32(data).to_bytes(4, "little")


def wire_image(frame: bytes, *, psp: bool = False) -> bytes:
    """What must leave the MAC for `frame` with IFCS: (padded) bytes + FCS."""
    if psp and len(frame) < MIN_FRAME:
        frame = frame + bytes(MIN_FRAME - len(frame))
    return frame + fcs(frame)


def eth_frame(rng: random.Random, length: int, ethertype: int = 0x88B5) -> bytes:
    """A frame of `length` bytes: unicast dst, local src, ethertype, random payload."""
    hdr = bytes.fromhex("02aabbccddee" "021122334455") + ethertype.to_bytes(2, "big")
    if length <= len(hdr):
        return hdr[:length]
    return hdr + rng.randbytes(length - len(hdr))


def split(rng: random.Random, data: bytes, max_parts: int) -> list[bytes]:
    """Cut `data` into 1..max_parts non-empty pieces at random points."""
    n = rng.randint(1, max(1, min(max_parts, len(data))))
    cuts = sorted(rng.sample(range(1, len(data)), n - 1)) if n > 1 else []
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@dataclass
class Buffer:
    addr: int
    length: int
    alloc: int


class NicTB:
    """One NIC, one ring, host memory; see the module docstring."""

    def __init__(self, dut, *, mem_size: int = 4 << 20, **rtl_kwargs) -> None:
        self.dut = dut
        self.log = dut._log
        self.mem = HostMemory(size=mem_size)
        self.rtl = RtlNic(dut, self.mem, **rtl_kwargs)
        self.ring = 0
        self.n = 0
        self.tail = 0
        self.buffers: list[Buffer] = []
        self.hwb_addr: int | None = None
        self.irq_rises: list[int] = []  # ps
        self.irq_falls: list[int] = []
        self.rtl.on_irq(self._irq)

    def _irq(self, level: bool) -> None:
        (self.irq_rises if level else self.irq_falls).append(self.rtl.now())

    # -- registers ---------------------------------------------------------------------
    def writel(self, reg: int, value: int, strb: int = 0xF) -> None:
        self.rtl.mmio.write(int(reg), value, strb)

    async def readl(self, reg: int) -> int:
        return await self.rtl.readl(int(reg))

    async def flush(self) -> None:
        await self.rtl.mmio.flush()

    async def reset(self) -> None:
        await self.rtl.reset()

    # -- ring ----------------------------------------------------------------------------
    def setup_ring(self, n: int = 16, *, enable: bool = True, psp: bool = False, wthresh: int = 0,
                   head_wb: bool = False, tidv: int = 0, tadv: int = 0, itr: int = 0) -> None:
        """Allocate an n-descriptor ring (coherent), program the ring registers, enable."""
        assert n * TX_DESC_SIZE % 128 == 0, "ring length must be a multiple of 128 bytes"
        self.n = n
        self.ring = self.mem.dma_alloc_coherent(n * TX_DESC_SIZE, owner="tx ring")
        self.tail = 0
        w = self.writel
        w(Reg.TDBAL, self.ring & 0xFFFFFFFF)
        w(Reg.TDBAH, self.ring >> 32)
        w(Reg.TDLEN, n * TX_DESC_SIZE)
        w(Reg.TDH, 0)
        w(Reg.TDT, 0)
        w(Reg.TXDCTL, wthresh << TXDCTL_WTHRESH_SHIFT)
        w(Reg.TIDV, tidv)
        w(Reg.TADV, tadv)
        w(Reg.ITR, itr)
        if head_wb:
            self.hwb_addr = self.mem.dma_alloc_coherent(64, align=64, owner="head wb")
            self.mem.write(self.hwb_addr, b"\xEE" * 64)
            w(Reg.TDWBAL, (self.hwb_addr & 0xFFFFFFFF) | TDWBAL_EN)
            w(Reg.TDWBAH, self.hwb_addr >> 32)
        if enable:
            w(Reg.TCTL, E1000_TCTL_EN | (E1000_TCTL_PSP if psp else 0))

    def buffer(self, data: bytes, offset: int = 0, *, map_: bool = True) -> int:
        """Copy `data` to a fresh buffer starting `offset` bytes past a 4 KiB-aligned
        allocation (plus guard bytes), map exactly those bytes TO_DEVICE; returns the DMA address."""
        n = max(1, len(data))
        base = self.mem.alloc(offset + n + 64, align=4096)
        self.mem.write(base, bytes([0xA5]) * (offset + n + 64))  # guard pattern
        addr = base + offset
        self.mem.write(addr, data)
        if map_ and data:
            self.mem.dma_map(addr, len(data), DmaDir.TO_DEVICE, owner="tx buffer")
        self.buffers.append(Buffer(addr, len(data), base))
        return addr

    def desc_addr(self, idx: int) -> int:
        return self.ring + TX_DESC_SIZE * idx

    def put_desc(self, d: TxDesc, raw_sta: int | None = None) -> int:
        """Write descriptor `d` at the tail; returns its index (tail advances, no doorbell)."""
        idx = self.tail
        raw = bytearray(d.pack())
        if raw_sta is not None:
            raw[DESC_STA_BYTE] = raw_sta
        self.mem.write(self.desc_addr(idx), bytes(raw))
        self.tail = (self.tail + 1) % self.n
        return idx

    def post_frame(self, pieces: Sequence[bytes], *, cmd: int = CMD_FRAME, css: int = 0, cso: int = 0,
                   offsets: Sequence[int] | None = None, rs_all: bool = False) -> list[int]:
        """One frame as len(pieces) descriptors; EOP (and IC/CSS/CSO, RS) on the last one,
        IFCS on all. Returns the descriptor indices."""
        idxs = []
        for i, piece in enumerate(pieces):
            off = offsets[i] if offsets is not None else 0
            addr = self.buffer(piece, off) if piece else 0
            last = i == len(pieces) - 1
            c = cmd if last else (cmd & ~(E1000_TXD_CMD_EOP | 0x04 | (0 if rs_all else E1000_TXD_CMD_RS)))
            idxs.append(self.put_desc(TxDesc(addr=addr, length=len(piece), cmd=c,
                                             css=css if last else 0, cso=cso if last else 0)))
        return idxs

    def doorbell(self) -> None:
        self.writel(Reg.TDT, self.tail)

    def desc_raw(self, idx: int) -> bytes:
        return self.mem.read(self.desc_addr(idx), TX_DESC_SIZE)

    def desc(self, idx: int) -> TxDesc:
        return TxDesc.unpack(self.desc_raw(idx))

    def head_wb(self) -> int:
        assert self.hwb_addr is not None
        return int.from_bytes(self.mem.read(self.hwb_addr, 4), "little")

    # -- waits ---------------------------------------------------------------------------
    async def _poll(self, cond, timeout_us: float, what: str, step_cycles: int = 16) -> None:
        async def loop():
            while not cond():
                await self.rtl.wait_cycles(step_cycles)
        await with_sim_timeout(loop(), timeout_us, what)

    async def wait_dd(self, idx: int, timeout_us: float = 50) -> None:
        await self._poll(lambda: self.desc(idx).dd, timeout_us, f"DD of descriptor {idx}")

    async def wait_head(self, value: int, timeout_us: float = 50) -> None:
        await self._poll(lambda: self.head_wb() == value, timeout_us, f"head write-back == {value}")

    async def wait_frames(self, n: int, timeout_us: float = 100) -> list:
        """Wait until `n` frames in total have been captured; returns rtl.frames."""
        return await with_sim_timeout(self.rtl.wait_frames(n), timeout_us, f"{n} frame(s) on XGMII")

    async def wait_idle(self, timeout_us: float = 100) -> None:
        """TDH == TDT as read through MMIO."""
        async def loop():
            while True:
                if await self.readl(Reg.TDH) == await self.readl(Reg.TDT):
                    return
                await self.rtl.wait_cycles(32)
        await with_sim_timeout(loop(), timeout_us, "ring idle (TDH == TDT)")

    async def quiet(self, us: float) -> None:
        """Let `us` microseconds of simulated time pass."""
        await self.rtl.wait_cycles(int(us * 1e6 / self.rtl.period_ps))

    # -- checks --------------------------------------------------------------------------
    def expect_frames(self, expected: Sequence[bytes], start: int = 0) -> None:
        got = self.rtl.frames[start:]
        assert len(got) == len(expected), f"{len(got)} frame(s) on the wire, expected {len(expected)}"
        for i, (f, e) in enumerate(zip(got, expected, strict=False)):
            if f.data != e:
                diff = next((k for k in range(min(len(f.data), len(e))) if f.data[k] != e[k]), None)
                raise AssertionError(
                    f"frame {start + i}: {len(f.data)} bytes on the wire, expected {len(e)}; "
                    f"first difference at byte {diff}")
            assert f.fcs_ok, f"frame {start + i}: bad FCS"

    async def finish(self, *, violations_expected: bool = False) -> None:
        """Teardown: MMIO drained, no protocol/framing/MMIO errors, no IOMMU violation
        (unless the test provoked them on purpose)."""
        await with_sim_timeout(self.flush(), 50, "MMIO queue drain")
        await self.rtl.wait_cycles(20)
        self.rtl.check(dma_violations=not violations_expected)
