"""The behavioral NIC: docs/nic.md in virtual time, as a `NicBackend`.

What software sees is exact (every register of §2 with its access type from
`regs.reg_info()`, the descriptor format of §3, the behaviour of §4 and every row of §5).
Timing is modelled per transaction, not per clock: when a doorbell arrives the model
*plans* the descriptors up to TDT arithmetically — descriptor bursts, buffer reads on one
AXI read channel with `mem_latency_ps`, a transmit FIFO, the MAC's XGMII slots — and then
schedules two events per frame: `_frame_ready` when its last buffer has been read (the
data is read from host memory then, TDH advances, write-backs and interrupts happen) and
`_wire_done` when its terminate character leaves (the frame is emitted, statistics count).

Pipeline (one pass, in ring order):
  descriptor burst  ≤ DESC_PREFETCH, never across the ring end; up to 2·DESC_PREFETCH
                    descriptors fetched-but-not-yet-read (two bursts in flight), so
                    descriptor latency is hidden at 64-byte frames
  buffer read       one AR per cycle, data beats serialised on the R channel
                    (DMA_DATA_WIDTH/8 bytes per cycle), latency `mem_latency_ps`; a read
                    waits until the transmit FIFO has room for the buffer
  MAC               store-and-forward (checksum insertion needs the whole frame); a frame
                    starts on lane 0 of a 6.4 ns XGMII cycle and occupies
                    ceil((8 + L + 12) / 8) cycles (preamble/SFD, frame with FCS, IFG)

TCP segmentation (docs/nic.md §3): a context descriptor loads the TSO context; a packet of
TSE data descriptors is planned when its last descriptor is, segment by segment (the header
read once more for the first segment and again for each segment, then its payload), each
segment a frame of its own on the wire (`_seg_ready` builds it when its reads are done);
write-backs and TDH follow at the packet's end, as for any frame.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any

from hilnic.hw.backend import NicBackend, WireFrame
from hilnic.hw.regs import (
    CLK_PERIOD_PS,
    DESC_STA_BYTE,
    E1000_CTRL_RST,
    E1000_ICR_ERR,
    E1000_ICR_INT_ASSERTED,
    E1000_ICR_TXDW,
    E1000_ICR_TXQE,
    E1000_STATUS_LU,
    E1000_STATUS_RST_BUSY,
    E1000_STATUS_TXOFF,
    E1000_TCTL_EN,
    E1000_TCTL_PSP,
    E1000_TXD_CMD_DEXT,
    E1000_TXD_CMD_EOP,
    E1000_TXD_CMD_IC,
    E1000_TXD_CMD_IDE,
    E1000_TXD_CMD_IFCS,
    E1000_TXD_CMD_RPS,
    E1000_TXD_CMD_RS,
    E1000_TXD_CMD_TSE,
    E1000_TXD_CMD_VLE,
    E1000_TXD_POPTS_IXSM,
    E1000_TXD_POPTS_TXSM,
    E1000_TXD_STAT_DD,
    ERR_BAD_DESC,
    ERR_DMA_READ,
    ERR_DMA_WRITE,
    ERR_RING_WRITE_EN,
    ERR_TDT_RANGE,
    ERR_TOO_LONG,
    ERR_ZERO_LEN,
    ICR_CAUSES,
    ITR_UNIT_NS,
    TADV_UNIT_NS,
    TDWBAL_EN,
    TIDV_UNIT_NS,
    TX_DESC_SIZE,
    TXDCTL_WTHRESH_MASK,
    TXDCTL_WTHRESH_SHIFT,
    Reg,
    reg_info,
)
from hilnic.kernel.env import NS, US, Env
from hilnic.lib.checksum import inet_checksum
from hilnic.mm.hostmem import HostMemory

_DESC = struct.Struct("<QHBBBBH")  # addr, len, cso, cmd, sta, css, special

# Enum members bound once: class-attribute lookup on an Enum is slow in hot paths.
_R_CTRL = Reg.CTRL
_R_ERRADDRH = Reg.ERRADDRH
_R_ERRADDRL = Reg.ERRADDRL
_R_ERRCAUSE = Reg.ERRCAUSE
_R_GOTCH = Reg.GOTCH
_R_GOTCL = Reg.GOTCL
_R_GPTC = Reg.GPTC
_R_ICR = Reg.ICR
_R_ICS = Reg.ICS
_R_IMC = Reg.IMC
_R_IMS = Reg.IMS
_R_ITR = Reg.ITR
_R_STATUS = Reg.STATUS
_R_TADV = Reg.TADV
_R_TCTL = Reg.TCTL
_R_TDBAH = Reg.TDBAH
_R_TDBAL = Reg.TDBAL
_R_TDH = Reg.TDH
_R_TDLEN = Reg.TDLEN
_R_TDT = Reg.TDT
_R_TDWBAH = Reg.TDWBAH
_R_TDWBAL = Reg.TDWBAL
_R_TIDV = Reg.TIDV
_R_TPT = Reg.TPT
_R_TXDCTL = Reg.TXDCTL
_R_TXDROP = Reg.TXDROP
_RS_BITS = E1000_TXD_CMD_RS | E1000_TXD_CMD_RPS
# The write-back of one descriptor: the 4-byte word holding STA, only byte 12 strobed
# (DD set, bits 3:1 zero); the rest of the descriptor is never written.
_DD_WORD = bytes([E1000_TXD_STAT_DD, 0, 0, 0])
_DD_STROBE = b"\x01\x00\x00\x00"

PREAMBLE_BYTES = 8  # start/preamble + SFD
FCS_BYTES = 4
IFG_BYTES = 12
XGMII_LANES = 8
BYTE_TIME_PS = 800  # 10 Gb/s
ETH_ZLEN = 60  # PSP pads to this before FCS
VLAN_TPID = 0x8100
REG_SPACE = 1 << 16  # AXIL_ADDR_WIDTH = 16

# Frame kinds decided when the EOP (or DEXT) descriptor is planned; _CTX: a context
# descriptor (no frame: TDH and its write-back only).
_OK, _TOO_LONG, _BAD_DESC, _ZERO_LEN, _CTX = 0, 1, 2, 3, 4
_TCP_FIN_PSH = 0x09
_DROP_CAUSE = {_TOO_LONG: ERR_TOO_LONG, _BAD_DESC: ERR_BAD_DESC, _ZERO_LEN: ERR_ZERO_LEN}


_REG_AT: dict[int, Reg] = {int(r): r for r in Reg}  # offset → register (Reg(offset) without the enum call)
_BYTEMASK = tuple(sum(0xFF << (8 * i) for i in range(4) if w >> i & 1) for w in range(16))  # WSTRB → bit mask
_new_object = object.__new__


def wire_slot_cycles(frame_len_with_fcs: int) -> int:
    """XGMII cycles one frame occupies, IFG included, starts on lane 0 only."""
    return -(-(PREAMBLE_BYTES + frame_len_with_fcs + IFG_BYTES) // XGMII_LANES)


class _Frame:
    """One frame (or one dropped bad frame) of the plan, in ring order."""

    __slots__ = (
        "descs", "end_idx", "nbytes", "kind", "cmd", "cso", "css", "special", "err_addr",
        "t_ready", "t_start", "t_end", "t_slot_end", "wire_len", "data", "cancelled",
        "tso", "segs", "drop", "tso_end", "hdr", "pieces",
    )

    def __init__(self) -> None:
        self.descs: list[tuple[int, int, int, int]] = []  # (desc addr, buf addr, len, cmd)
        self.end_idx = 0
        self.nbytes = 0
        self.kind = _OK
        self.cmd = 0
        self.cso = self.css = self.special = 0
        self.err_addr = 0
        self.t_ready = 0
        self.t_start = self.t_end = self.t_slot_end = 0
        self.wire_len = 0
        self.data = b""
        self.cancelled = False
        # TSO packet: its context, its segments (frames of their own), how it ends
        self.tso: _TsoCtx | None = None
        self.segs: list[_Frame] = []  # its segments (frames of their own)
        self.drop: tuple[int, int] | None = None  # (kind, ERRADDR) when the packet ends bad
        self.tso_end: int | None = None  # a descriptor that does not belong ended it
        self.hdr = b""  # the header as the first segment read it
        self.pieces: list[tuple[int, int]] = []  # (addr, len): a segment's payload; a packet's dropped last segment's


class _TsoCtx:
    """The TSO context (a context descriptor's fields) and what the NIC makes of them."""

    __slots__ = ("ipcss", "ipcse", "tucss", "hdrlen", "mss", "paylen", "ok", "long", "ixsm", "txsm")

    def __init__(self, addr: int, length: int, cso: int, cmd: int, css: int, special: int, max_frame: int) -> None:
        ipcss, ipcso, ipcse = addr & 0xFF, addr >> 8 & 0xFF, addr >> 16 & 0xFFFF
        tucss, tucso, tucse = addr >> 32 & 0xFF, addr >> 40 & 0xFF, addr >> 48
        self.ipcss, self.ipcse, self.tucss = ipcss, ipcse, tucss
        self.hdrlen, self.mss = css, special
        self.paylen = length | (cso & 0xF) << 16
        # what the NIC segments with (docs/nic.md §3): TSE, IPv4, TCP; MSS, PAYLEN not 0;
        # IPv4 header [IPCSS, IPCSE] >= 20 bytes before TUCSS, its checksum at IPCSS + 10;
        # the TCP checksum at TUCSS + 16 summed to the end; a 20-byte TCP header in HDRLEN
        self.ok = (cmd & 7 == 7 and self.mss != 0 and self.paylen != 0 and tucse == 0
                   and ipcss + 20 <= tucss and ipcss + 19 <= ipcse < tucss and ipcso == ipcss + 10
                   and tucso == tucss + 16 and tucss + 20 <= self.hdrlen)
        self.long = self.hdrlen + self.mss > max_frame
        self.ixsm = self.txsm = False


class ModelNic(NicBackend):
    """The NIC of docs/nic.md, simulated at transaction level in `env`'s time (ps)."""

    def __init__(
        self,
        env: Env,
        mem: HostMemory,
        dma_data_width: int = 128,
        desc_prefetch: int = 8,
        max_frame_bytes: int = 9216,
        mem_latency_ps: int = 500 * NS,
        mmio_read_latency_ps: int = 1 * US,
        mmio_write_latency_ps: int = 100 * NS,
        clk_period_ps: int = CLK_PERIOD_PS,
        tx_fifo_bytes: int = 16384,
    ) -> None:
        super().__init__()
        if dma_data_width not in (64, 128, 256):
            raise ValueError(f"dma_data_width must be 64, 128 or 256, got {dma_data_width}")
        if not 1 <= desc_prefetch <= 255:
            raise ValueError(f"desc_prefetch must be 1..255 (HCAPS bits 15:8), got {desc_prefetch}")
        if max_frame_bytes % 16 or not 64 <= max_frame_bytes <= 16 * 0xFFFF:
            raise ValueError(f"max_frame_bytes must be a multiple of 16 in 64..{16 * 0xFFFF}, got {max_frame_bytes}")
        if tx_fifo_bytes < max_frame_bytes:
            raise ValueError(f"tx_fifo_bytes ({tx_fifo_bytes}) must hold one maximum frame ({max_frame_bytes})")
        for name, v in (("mem_latency_ps", mem_latency_ps), ("mmio_read_latency_ps", mmio_read_latency_ps),
                        ("mmio_write_latency_ps", mmio_write_latency_ps)):
            if v < 0:
                raise ValueError(f"{name} must be >= 0, got {v}")
        if clk_period_ps <= 0:
            raise ValueError(f"clk_period_ps must be positive, got {clk_period_ps}")
        self.env = env
        self.mem = mem
        self.dma_data_width = dma_data_width
        self.desc_prefetch = desc_prefetch
        self.max_frame_bytes = max_frame_bytes
        self.mem_latency_ps = mem_latency_ps
        self.mmio_read_latency_ps = mmio_read_latency_ps
        self.mmio_write_latency_ps = mmio_write_latency_ps
        self.clk = clk_period_ps
        self.tx_fifo_bytes = tx_fifo_bytes
        self._wbytes = dma_data_width // 8
        self._desc_cache = 2 * desc_prefetch
        self._info = reg_info(dma_data_width, desc_prefetch, max_frame_bytes)
        self._last_write_t = 0
        self._counters = dict.fromkeys(
            ("frames", "bytes", "dropped", "irq_asserts", "writebacks", "head_writebacks",
             "desc_fetches", "descs_fetched", "data_reads", "data_bytes", "mmio_writes",
             "mmio_reads", "events", "resets", "dma_errors"), 0)
        self._wire_index = 0
        self._reset_state()

    # -- state -------------------------------------------------------------------------

    def _reset_state(self) -> None:
        """All registers and engines to their reset values (power-on and CTRL.RST)."""
        self._gen = getattr(self, "_gen", 0) + 1  # invalidates every pending timer
        self._regs = {reg: info.reset for reg, info in self._info.items()}
        self._icr = 0
        self._ims = 0
        self._tdh = 0
        self._tdt = 0
        self._txoff = False
        self._rst_busy = False
        self._gotch_latch = 0
        self._gotc = 0
        self._gptc = 0
        self._tpt = 0
        self._txdrop = 0
        self._errcause = 0
        self._erraddr = 0
        # transmit engine
        self._fetch_ptr = 0
        self._epoch = getattr(self, "_epoch", 0) + 1  # bumped whenever the plan is thrown away
        self._fault_pending = False  # a descriptor fetch failed: plan nothing more
        self._open: _Frame | None = None
        self._open_bytes = 0
        self._ctx: _TsoCtx | None = None  # the last context descriptor (CTRL.RST, TCTL.EN 0->1 forget it)
        self._planned: deque[_Frame] = deque()  # planned, _frame_ready not run yet
        self._wire_q: deque[_Frame] = deque()  # ready, not yet off the wire
        self._fifo: deque[tuple[int, int]] = deque()  # (release time, bytes) of frames in the FIFO
        self._fifo_sum = 0
        self._slot_q: deque[int] = deque(maxlen=self._desc_cache)  # data-issue times of recent descriptors
        now = self.env.now()
        self._desc_ar_free = now
        self._ar_free = now
        self._r_free = now
        self._reads: deque[tuple[int, int]] = deque()  # planned reads: (AR issue time, last beat time)
        self._last_ready = now
        self._mac_free = now
        self._pending_wb: list[tuple[int, bool]] = []  # (descriptor addr, IDE)
        # interrupts
        self._last_assert: int | None = None
        self._itr_timer_at: int | None = None
        self._tidv_deadline: int | None = None
        self._tadv_deadline: int | None = None
        self._delay_timer_at: int | None = None
        if self.irq_level:
            self._set_irq(False)

    @property
    def _ndesc(self) -> int:
        return self._regs[_R_TDLEN] // TX_DESC_SIZE

    @property
    def _ring_base(self) -> int:
        return (self._regs[_R_TDBAH] << 32) | self._regs[_R_TDBAL]

    def _call_at(self, when: int, fn: Callable[..., Any], *args: Any) -> None:
        self._counters["events"] += 1
        self.env.call_at(when, fn, *args)

    # -- MMIO ----------------------------------------------------------------------------

    @staticmethod
    def _check_access(offset: int) -> None:
        if not isinstance(offset, int) or offset < 0 or offset >= REG_SPACE or offset & 3:
            raise ValueError(f"MMIO offset must be a 4-byte aligned int below {REG_SPACE:#x}, got {offset!r}")

    def writel(self, offset: int, value: int) -> None:
        self.write_strobed(offset, value, 0xF)

    def write_strobed(self, offset: int, value: int, wstrb: int) -> None:
        """Posted write updating only the bytes whose WSTRB bit is set (AXI-Lite)."""
        self._check_access(offset)
        if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"MMIO value must be a 32-bit unsigned int, got {value!r}")
        if not 0 <= wstrb <= 0xF:
            raise ValueError(f"wstrb must be 4 bits, got {wstrb!r}")
        self._counters["mmio_writes"] += 1
        t = max(self.env.now() + self.mmio_write_latency_ps, self._last_write_t)
        self._last_write_t = t
        self._call_at(t, self._apply_write, offset, value, wstrb)

    async def readl(self, offset: int) -> int:
        self._check_access(offset)
        self._counters["mmio_reads"] += 1
        now = self.env.now()
        # The request reaches the device half-way, and never before earlier posted writes.
        arrive = max(now + self.mmio_read_latency_ps // 2, self._last_write_t)
        await self.env.sleep(arrive - now)
        value = self._read(offset)
        await self.env.sleep(max(0, now + self.mmio_read_latency_ps - arrive))
        return value

    def peek(self, offset: int) -> int:
        """A register's value without read side effects (for tests and reports)."""
        return self._read(offset, side_effects=False)

    def _read(self, offset: int, side_effects: bool = True) -> int:
        reg = _REG_AT.get(offset)
        if reg is None:
            return 0  # unknown offsets read as 0
        if reg is _R_CTRL:
            return self._regs[reg] | (E1000_CTRL_RST if self._rst_busy else 0)
        if reg is _R_STATUS:
            return (E1000_STATUS_LU | (E1000_STATUS_TXOFF if self._txoff else 0)
                    | (E1000_STATUS_RST_BUSY if self._rst_busy else 0))
        if reg is _R_ICR:
            v = self._icr | (E1000_ICR_INT_ASSERTED if self._icr & self._ims else 0)
            if side_effects:
                self._icr = 0
                self._update_irq()
            return v
        if reg is _R_IMS:
            return self._ims
        if reg in (_R_ICS, _R_IMC):
            return 0  # write-only
        if reg is _R_TDH:
            return self._tdh
        if reg is _R_TDT:
            return self._tdt
        if reg is _R_GOTCL:
            v = self._gotc
            if side_effects:
                self._gotch_latch = v >> 32
                self._gotc = 0
            return v & 0xFFFFFFFF
        if reg is _R_GOTCH:
            v = self._gotch_latch
            if side_effects:
                self._gotch_latch = 0
            return v
        rc = {_R_GPTC: "_gptc", _R_TPT: "_tpt", _R_TXDROP: "_txdrop", _R_ERRCAUSE: "_errcause"}.get(reg)
        if rc is not None:
            v = getattr(self, rc)
            if side_effects:
                setattr(self, rc, 0)
            return v & 0xFFFFFFFF
        if reg is _R_ERRADDRL:
            return self._erraddr & 0xFFFFFFFF
        if reg is _R_ERRADDRH:
            return self._erraddr >> 32
        return self._regs[reg]

    def _apply_write(self, offset: int, value: int, wstrb: int) -> None:
        reg = _REG_AT.get(offset)
        if reg is None:
            return  # unknown offsets ignore writes
        if self._rst_busy:
            return  # the NIC is resetting: writes are dropped
        info = self._info[reg]
        if info.access in ("RO", "RC"):
            return
        bytemask = _BYTEMASK[wstrb]
        bits = value & bytemask & info.writable_mask
        m = bytemask & info.writable_mask
        merged = (self._regs[reg] & ~m) | bits
        if reg is _R_ICR:
            self._icr &= ~bits
            self._update_irq()
        elif reg is _R_ICS:
            self._icr |= bits
            self._update_irq()
        elif reg is _R_IMS:
            self._ims |= bits
            self._update_irq()
        elif reg is _R_IMC:
            self._ims &= ~bits
            self._update_irq()
        elif reg is _R_CTRL:
            self._regs[reg] = merged & ~E1000_CTRL_RST
            if merged & E1000_CTRL_RST:
                self._start_reset()
        elif reg is _R_TCTL:
            was = self._regs[reg] & E1000_TCTL_EN
            self._regs[reg] = merged
            now_en = merged & E1000_TCTL_EN
            if now_en and not was:
                self._txoff = False  # TCTL.EN 0→1 recovers from a DMA error
                self._ctx = None  # and resets the datapath: the TSO context too
                self._fetch_ptr = self._tdh
                self._plan()
            elif was and not now_en:
                self._stop_engine()
        elif reg in (_R_TDBAL, _R_TDBAH, _R_TDLEN, _R_TDH):
            if self._regs[_R_TCTL] & E1000_TCTL_EN:
                self._error(ERR_RING_WRITE_EN)
                return
            self._regs[reg] = merged
            if reg is _R_TDH:
                self._tdh = merged
                self._fetch_ptr = merged
        elif reg is _R_TDT:
            if merged >= self._ndesc:
                self._error(ERR_TDT_RANGE)
                return
            self._regs[reg] = merged
            self._tdt = merged
            self._plan()
        else:
            self._regs[reg] = merged

    # -- interrupts -------------------------------------------------------------------------

    def _update_irq(self) -> None:
        """irq = any(ICR & IMS), except that a new assertion waits ITR after the last one."""
        if not (self._icr & self._ims & ICR_CAUSES):
            if self.irq_level:
                self._set_irq(False)
            return
        if self.irq_level:
            return
        now = self.env.now()
        itr_ps = (self._regs[_R_ITR] & 0xFFFF) * ITR_UNIT_NS * NS
        if self._last_assert is not None and itr_ps and now < self._last_assert + itr_ps:
            when = self._last_assert + itr_ps
            if self._itr_timer_at != when:
                self._itr_timer_at = when
                self._call_at(when, self._itr_expired, self._gen, when)
            return
        self._last_assert = now
        self._counters["irq_asserts"] += 1
        self._set_irq(True)

    def _itr_expired(self, gen: int, when: int) -> None:
        if gen == self._gen and self._itr_timer_at == when:
            self._itr_timer_at = None
            self._update_irq()

    def _error(self, cause: int, addr: int | None = None) -> None:
        self._errcause |= cause
        if addr is not None:
            self._erraddr = addr
        self._icr |= E1000_ICR_ERR
        self._update_irq()

    def _txdw(self, delayed: bool) -> None:
        """A write-back happened: TXDW now, or (IDE only) after TIDV, bounded by TADV."""
        tidv = self._regs[_R_TIDV] & 0xFFFF
        if not delayed or not tidv:
            self._tidv_deadline = self._tadv_deadline = None
            self._icr |= E1000_ICR_TXDW
            self._update_irq()
            return
        now = self.env.now()
        self._tidv_deadline = now + tidv * TIDV_UNIT_NS * NS  # re-armed by each IDE write-back
        tadv = self._regs[_R_TADV] & 0xFFFF
        if self._tadv_deadline is None and tadv:
            self._tadv_deadline = now + tadv * TADV_UNIT_NS * NS  # armed by the first one only
        self._arm_delay_timer(self._tidv_deadline)

    def _arm_delay_timer(self, tidv_deadline: int) -> None:
        due = tidv_deadline if self._tadv_deadline is None else min(tidv_deadline, self._tadv_deadline)
        if self._delay_timer_at is None or due < self._delay_timer_at:
            self._delay_timer_at = due
            self._call_at(due, self._delay_expired, self._gen, due)

    def _delay_expired(self, gen: int, when: int) -> None:
        if gen != self._gen or self._delay_timer_at != when:
            return  # superseded by an earlier timer or a reset
        self._delay_timer_at = None
        tidv_deadline = self._tidv_deadline
        if tidv_deadline is None:
            return  # flushed by a non-delayed write-back meanwhile
        due = tidv_deadline if self._tadv_deadline is None else min(tidv_deadline, self._tadv_deadline)
        if due > self.env.now():
            self._arm_delay_timer(tidv_deadline)  # TIDV was re-armed since: sleep again (lazy re-arm, one event)
            return
        self._tidv_deadline = self._tadv_deadline = None
        self._icr |= E1000_ICR_TXDW
        self._update_irq()

    # -- the transmit engine: planning --------------------------------------------------------

    def _running(self) -> bool:
        return bool(self._regs[_R_TCTL] & E1000_TCTL_EN) and not self._txoff and not self._rst_busy

    def _fifo_room(self, t: int, need: int) -> int:
        """Earliest time ≥ t at which `need` more bytes fit in the transmit FIFO."""
        fifo = self._fifo
        while fifo and fifo[0][0] <= t:
            self._fifo_sum -= fifo.popleft()[1]
        while fifo and self._fifo_sum + self._open_bytes + need > self.tx_fifo_bytes:
            rel, b = fifo.popleft()
            self._fifo_sum -= b
            t = max(t, rel)
        return t

    def _plan(self) -> None:
        """Plan every descriptor from the fetch pointer to TDT (one pass per doorbell)."""
        if not self._running() or self._fault_pending:
            return
        n_ring = self._ndesc
        tdt = self._tdt
        if n_ring == 0 or tdt >= n_ring or self._fetch_ptr >= n_ring:
            return  # TDLEN 0 (or shrunk below the pointers): nothing is ever fetched
        now = self.env.now()
        clk, wb, mlat = self.clk, self._wbytes, self.mem_latency_ps
        base = self._ring_base
        slot_q = self._slot_q
        reads = self._reads
        while reads and reads[0][1] <= now:  # finished: no longer needed for a reset's drain
            reads.popleft()
        cache = self._desc_cache
        ctr = self._counters
        while self._fetch_ptr != tdt:
            ptr = self._fetch_ptr
            n = min(self.desc_prefetch, n_ring - ptr, (tdt - ptr) % n_ring)
            # A burst needs n free slots in the descriptor cache; a slot frees when its buffer read issues.
            t = self._desc_ar_free
            if now > t:
                t = now
            busy = len(slot_q) - (cache - n)
            if busy > 0 and slot_q[busy - 1] > t:
                t = slot_q[busy - 1]
            self._desc_ar_free = t + clk
            desc_addr = base + ptr * TX_DESC_SIZE
            raw = self.mem.dma_read(desc_addr, n * TX_DESC_SIZE)
            t_avail = t + mlat + -(-(n * TX_DESC_SIZE) // wb) * clk
            reads.append((t, t_avail))
            ctr["desc_fetches"] += 1
            if raw is None:
                # The fault takes effect when the burst's response returns.
                self._call_at(t_avail, self._dma_fault, self._epoch, desc_addr, ERR_DMA_READ)
                self._fault_pending = True
                return
            ctr["descs_fetched"] += n
            ar_free, r_free = self._ar_free, self._r_free  # only _plan touches these two
            for i, (addr, length, cso, cmd, _sta, css, special) in enumerate(_DESC.iter_unpack(raw)):
                da = desc_addr + i * TX_DESC_SIZE
                fr = self._open
                if cmd & E1000_TXD_CMD_DEXT or (fr is not None and fr.tso is not None):
                    # context and TSE data descriptors, and whatever ends a TSO packet
                    self._ar_free, self._r_free = ar_free, r_free
                    done = self._plan_ext(fr, da, addr, length, cso, cmd, css, special, t_avail, (ptr + i + 1) % n_ring)
                    ar_free, r_free = self._ar_free, self._r_free
                    if done:
                        slot_q.append(t_avail)
                        continue
                    fr = self._open
                if fr is None:
                    fr = self._open = _Frame()
                if t_avail > fr.t_ready:
                    fr.t_ready = t_avail
                if cmd & E1000_TXD_CMD_DEXT:
                    slot_q.append(t_avail)
                    fr.descs.append((da, 0, 0, cmd))  # no data read for a bad descriptor
                    fr.kind = _BAD_DESC
                    fr.err_addr = da
                    self._close_frame(fr, (ptr + i + 1) % n_ring, cmd, cso, css, special)
                    continue
                if length:
                    t_iss = ar_free if ar_free > t_avail else t_avail
                    if self._fifo_sum + self._open_bytes + length > self.tx_fifo_bytes:
                        t_iss = self._fifo_room(t_iss, length)
                    ar_free = t_iss + clk
                    beats = (addr + length - 1) // wb - addr // wb + 1
                    t_done = t_iss + mlat
                    if r_free > t_done:
                        t_done = r_free
                    t_done += beats * clk
                    r_free = t_done
                    reads.append((t_iss, t_done))
                    self._open_bytes += length
                    if t_done > fr.t_ready:
                        fr.t_ready = t_done
                else:
                    t_iss = t_avail
                slot_q.append(t_iss)
                fr.descs.append((da, addr, length, cmd))
                fr.nbytes += length
                if cmd & E1000_TXD_CMD_EOP:
                    self._close_frame(fr, (ptr + i + 1) % n_ring, cmd, cso, css, special)
            self._ar_free, self._r_free = ar_free, r_free
            self._fetch_ptr = (ptr + n) % n_ring

    def _plan_ext(self, fr: _Frame | None, da: int, addr: int, length: int, cso: int, cmd: int, css: int,
                  special: int, t_avail: int, end_idx: int) -> bool:
        """Plan a context or TSE data descriptor, or one that ends a TSO packet; False for a
        descriptor the legacy path takes (any other DEXT descriptor is a bad one there)."""
        dtyp = cso >> 4 if cmd & E1000_TXD_CMD_DEXT else -1
        if fr is None and dtyp == 0:
            self._ctx = _TsoCtx(addr, length, cso, cmd, css, special, self.max_frame_bytes)
            cf = _Frame()
            cf.kind = _CTX
            cf.t_ready = t_avail
            cf.descs.append((da, 0, 0, cmd))
            self._close_frame(cf, end_idx, cmd, 0, 0, 0)
            return True
        tdata = dtyp == 1 and bool(cmd & E1000_TXD_CMD_TSE)
        if fr is None and tdata:
            fr = self._open = _Frame()
            ctx = self._ctx
            len20 = length | (cso & 0xF) << 16
            if ctx is None or not ctx.ok or len20 < ctx.hdrlen:
                fr.kind, fr.err_addr = _BAD_DESC, da
            elif ctx.long:
                fr.kind = _TOO_LONG
            tso = _TsoCtx.__new__(_TsoCtx)
            for k in _TsoCtx.__slots__:
                setattr(tso, k, getattr(ctx, k) if ctx is not None and k not in ("ixsm", "txsm") else 0)
            tso.ixsm, tso.txsm = bool(css & E1000_TXD_POPTS_IXSM), bool(css & E1000_TXD_POPTS_TXSM)
            fr.tso = tso
        if fr is None or fr.tso is None:
            return False
        if t_avail > fr.t_ready:
            fr.t_ready = t_avail
        if tdata:
            fr.descs.append((da, addr, length | (cso & 0xF) << 16, cmd))
            if cmd & E1000_TXD_CMD_EOP:
                self._close_tso(fr, end_idx)
        else:
            fr.descs.append((da, 0, 0, cmd))  # not read: it ends the packet as a bad one
            fr.tso_end = da
            self._close_tso(fr, end_idx)
        return True

    def _close_tso(self, fr: _Frame, end_idx: int) -> None:
        """The TSO packet's last descriptor is planned: cut it into segments as the NIC does
        (a segment is opened when there is payload for it, ended when full; the last one by
        the EOP descriptor, if the data matches HDRLEN + PAYLEN), plan their reads and MAC
        slots, and the packet's end (TDH, write-backs, a drop)."""
        self._open = None
        fr.end_idx = end_idx
        fr.cmd = E1000_TXD_CMD_IFCS
        ctx = fr.tso
        assert ctx is not None
        if fr.t_ready < self._last_ready:
            fr.t_ready = self._last_ready
        segs: list[list[tuple[int, int]]] = []
        chunks: list[tuple[int, int]] = []
        if fr.kind != _OK:
            fr.drop = (fr.kind, fr.err_addr)
        else:
            hdrlen, mss = ctx.hdrlen, ctx.mss
            pay_rem, seg_open, seg_rem, bad = ctx.paylen, False, 0, None
            descs = fr.descs[:-1] if fr.tso_end is not None else fr.descs
            for j, (da, addr, ln, _cmd) in enumerate(descs):
                cur, rem = (addr + hdrlen, ln - hdrlen) if j == 0 else (addr, ln)
                while True:
                    if seg_open and seg_rem == 0 and pay_rem:
                        segs.append(chunks)  # full, not the last: ends here
                        seg_open = False
                    elif rem == 0:
                        break
                    elif seg_open and seg_rem == 0:
                        bad = da  # data beyond HDRLEN + PAYLEN: not read
                        break
                    elif not seg_open:
                        seg_rem = min(mss, pay_rem)
                        pay_rem -= seg_rem
                        seg_open, chunks = True, []
                    else:
                        n = min(rem, seg_rem)
                        chunks.append((cur, n))
                        cur, rem, seg_rem = cur + n, rem - n, seg_rem - n
                if bad is not None:
                    break
            if fr.tso_end is not None or bad is not None:
                fr.drop = (_BAD_DESC, bad if bad is not None else fr.tso_end or 0)
            elif seg_open and seg_rem == 0 and pay_rem == 0:
                segs.append(chunks)
                seg_open = False
            else:
                fr.drop = (_BAD_DESC, fr.descs[-1][0])  # less data than HDRLEN + PAYLEN
            if seg_open:
                fr.pieces = chunks
        # reads (the probe, then per segment its header and payload) and MAC slots
        clk, wb, mlat = self.clk, self._wbytes, self.mem_latency_ps
        ar_free, r_free = self._ar_free, self._r_free
        t = fr.t_ready
        reads = self._reads

        def read(t0: int, addr: int, n: int) -> int:
            nonlocal ar_free, r_free
            t_iss = max(ar_free, t0)
            ar_free = t_iss + clk
            beats = (addr + n - 1) // wb - addr // wb + 1
            t_done = max(t_iss + mlat, r_free) + beats * clk
            r_free = t_done
            reads.append((t_iss, t_done))
            return t_done

        if fr.kind == _OK:
            hdr_addr = fr.descs[0][1]
            t_data = read(t, hdr_addr, ctx.hdrlen)
            for pieces in [*segs, *([fr.pieces] if fr.pieces or fr.drop else [])]:
                nbytes = ctx.hdrlen + sum(n for _a, n in pieces)
                t_iss = t
                if self._fifo_sum + nbytes > self.tx_fifo_bytes:
                    t_iss = self._fifo_room(t_iss, nbytes)
                t_data = read(t_iss, hdr_addr, ctx.hdrlen)
                for a, n in pieces:
                    t_data = read(t_iss, a, n)
                if pieces is fr.pieces and fr.drop:
                    break  # read, then dropped
                sf = _Frame()
                sf.pieces = pieces
                sf.nbytes = nbytes
                sf.cmd = E1000_TXD_CMD_IFCS
                sf.t_ready = t_data
                length = max(nbytes, ETH_ZLEN) if self._regs[_R_TCTL] & E1000_TCTL_PSP else nbytes
                sf.wire_len = length + FCS_BYTES
                start = -(-max(t_data, self._mac_free) // clk) * clk
                sf.t_start = start
                sf.t_end = start + (PREAMBLE_BYTES + sf.wire_len) * BYTE_TIME_PS
                sf.t_slot_end = start + wire_slot_cycles(sf.wire_len) * clk
                self._mac_free = sf.t_slot_end
                self._fifo.append((sf.t_end, nbytes))
                self._fifo_sum += nbytes
                fr.segs.append(sf)
            fr.t_ready = max(fr.t_ready, t_data)
        self._ar_free, self._r_free = ar_free, r_free
        self._last_ready = fr.t_ready
        ctr = self._counters
        for sf in fr.segs:
            ctr["events"] += 1
            self.env.call_at(sf.t_ready, self._seg_ready, fr, sf)
        self._planned.append(fr)
        ctr["events"] += 1
        self.env.call_at(fr.t_ready, self._frame_ready, fr)

    def _seg_ready(self, fr: _Frame, sf: _Frame) -> None:
        """A TSO segment's reads are done: build it (docs/nic.md §3) and queue it for the wire."""
        if fr.cancelled:
            return
        ctx = fr.tso
        assert ctx is not None
        mem = self.mem
        if not fr.hdr:
            hdr = mem.dma_read(fr.descs[0][1], ctx.hdrlen)
            if hdr is None:
                self._halt(ERR_DMA_READ, fr.descs[0][1], fr)
                return
            fr.hdr = hdr
        parts = [fr.hdr]
        for a, n in sf.pieces:
            chunk = mem.dma_read(a, n)
            if chunk is None:
                self._halt(ERR_DMA_READ, a, fr)
                return
            parts.append(chunk)
        k = fr.segs.index(sf)
        seg = bytearray().join(parts)
        ipcss, tucss = ctx.ipcss, ctx.tucss
        seg[ipcss + 2:ipcss + 4] = (len(seg) - ipcss).to_bytes(2, "big")
        ip_id = int.from_bytes(fr.hdr[ipcss + 4:ipcss + 6], "big")
        seg[ipcss + 4:ipcss + 6] = ((ip_id + k) & 0xFFFF).to_bytes(2, "big")
        seq = int.from_bytes(fr.hdr[tucss + 4:tucss + 8], "big") + k * ctx.mss
        seg[tucss + 4:tucss + 8] = (seq & 0xFFFFFFFF).to_bytes(4, "big")
        if k != len(fr.segs) - 1 or fr.drop:
            seg[tucss + 13] &= ~_TCP_FIN_PSH & 0xFF  # FIN and PSH on the last segment only
        if ctx.txsm:
            s = int.from_bytes(fr.hdr[tucss + 16:tucss + 18], "big") + len(seg) - tucss  # + the TCP length
            seg[tucss + 16:tucss + 18] = ((s & 0xFFFF) + (s >> 16)).to_bytes(2, "big")
            seg[tucss + 16:tucss + 18] = inet_checksum(memoryview(seg)[tucss:]).to_bytes(2, "big")
        if ctx.ixsm:
            seg[ipcss + 10:ipcss + 12] = inet_checksum(memoryview(seg)[ipcss:ctx.ipcse + 1]).to_bytes(2, "big")
        seg += zlib.crc32(seg).to_bytes(4, "little")
        if len(seg) < ETH_ZLEN + FCS_BYTES and self._regs[_R_TCTL] & E1000_TCTL_PSP:
            body = bytes(seg[:-4]) + bytes(ETH_ZLEN + FCS_BYTES - len(seg))
            seg = bytearray(body + zlib.crc32(body).to_bytes(4, "little"))
        ctr = self._counters
        ctr["data_reads"] += len(parts)
        ctr["data_bytes"] += sf.nbytes
        sf.data = bytes(seg)
        self._wire_q.append(sf)
        ctr["events"] += 1
        self.env.call_at(sf.t_end, self._wire_done, sf)

    def _close_frame(self, fr: _Frame, end_idx: int, cmd: int, cso: int, css: int, special: int) -> None:
        """The frame's last descriptor is planned: fix its kind and its MAC slot."""
        self._open = None
        fr.end_idx = end_idx
        fr.cmd, fr.cso, fr.css, fr.special = cmd, cso, css, special
        if fr.t_ready < self._last_ready:
            fr.t_ready = self._last_ready  # write-backs and TDH move in ring order
        self._last_ready = fr.t_ready
        if fr.kind == _OK:  # (a context descriptor's _CTX stays)
            # With IFCS=0 the buffers hold the frame's own FCS: 4 bytes more are allowed
            # (hdl/nic/README.md). Only a bad descriptor (DEXT) sets ERRADDR.
            if fr.nbytes > self.max_frame_bytes + (0 if cmd & E1000_TXD_CMD_IFCS else FCS_BYTES):
                fr.kind = _TOO_LONG
            elif fr.nbytes == 0:
                fr.kind = _ZERO_LEN
        nb, self._open_bytes = self._open_bytes, 0
        if fr.kind == _OK:
            length = fr.nbytes + (4 if cmd & E1000_TXD_CMD_VLE else 0)
            if cmd & E1000_TXD_CMD_IFCS:
                if self._regs[_R_TCTL] & E1000_TCTL_PSP and length < ETH_ZLEN:
                    length = ETH_ZLEN
                length += FCS_BYTES
            fr.wire_len = length
            clk = self.clk
            start = max(fr.t_ready, self._mac_free)
            start = -(-start // clk) * clk  # XGMII start character on a cycle boundary, lane 0
            fr.t_start = start
            fr.t_end = start + (PREAMBLE_BYTES + length) * BYTE_TIME_PS
            fr.t_slot_end = start + wire_slot_cycles(length) * clk
            self._mac_free = fr.t_slot_end
            self._fifo.append((fr.t_end, nb))
            self._fifo_sum += nb
        self._planned.append(fr)
        self._counters["events"] += 1
        self.env.call_at(fr.t_ready, self._frame_ready, fr)

    # -- the transmit engine: events ------------------------------------------------------------

    def _frame_ready(self, fr: _Frame) -> None:
        """All of the frame's buffers have been read: build it, advance TDH, write back."""
        if fr.cancelled:
            return
        self._planned.popleft()
        mem = self.mem
        ctr = self._counters
        if fr.tso is not None or fr.kind == _CTX:
            if fr.tso is not None and fr.kind == _OK:
                # reads no segment made: the probe's (no segment was sent), a dropped segment's
                for a, n in ([] if fr.hdr else [(fr.descs[0][1], fr.tso.hdrlen)]) + fr.pieces:
                    if mem.dma_read(a, n) is None:
                        self._halt(ERR_DMA_READ, a, fr)
                        return
            if fr.drop is not None:
                kind, addr = fr.drop
                self._txdrop += 1
                ctr["dropped"] += 1
                self._error(_DROP_CAUSE[kind], addr if kind == _BAD_DESC else None)
            self._writeback(fr)
            return
        # The buffers are read in ring order as the descriptors arrive, before the frame's
        # end is known: every buffer while the frame, with it, stays within
        # MAX_FRAME_BYTES + 4 and no DEXT came -- a too-long or DEXT frame's leading buffers
        # are read too (and may fault), as in the RTL.
        parts = []
        total, limit = 0, self.max_frame_bytes + FCS_BYTES
        for _da, addr, length, dcmd in fr.descs:
            if dcmd & E1000_TXD_CMD_DEXT or total + length > limit:
                break
            total += length
            if length:
                chunk = mem.dma_read(addr, length)
                if chunk is None:
                    self._halt(ERR_DMA_READ, addr, fr)
                    return
                parts.append(chunk)
        if fr.kind == _OK:
            ctr["data_reads"] += len(parts)
            ctr["data_bytes"] += fr.nbytes
            fr.data = self._build_frame(parts, fr)
            self._wire_q.append(fr)
            ctr["events"] += 1
            self.env.call_at(fr.t_end, self._wire_done, fr)
        else:
            self._txdrop += 1
            ctr["dropped"] += 1
            self._error(_DROP_CAUSE[fr.kind], fr.err_addr if fr.kind == _BAD_DESC else None)
        self._writeback(fr)

    def _writeback(self, fr: _Frame) -> None:
        """The frame's descriptors are done: TDH past them, their write-backs, TXQE."""
        self._tdh = fr.end_idx
        self._regs[_R_TDH] = fr.end_idx
        pending = self._pending_wb
        for da, _addr, _len, cmd in fr.descs:
            if cmd & _RS_BITS:
                pending.append((da, bool(cmd & E1000_TXD_CMD_IDE)))
        idle = self._tdh == self._tdt
        if pending:
            wthresh = (self._regs[_R_TXDCTL] & TXDCTL_WTHRESH_MASK) >> TXDCTL_WTHRESH_SHIFT
            if not wthresh or len(pending) >= wthresh or idle:
                if not self._flush_writebacks():
                    return
        if idle:
            self._icr |= E1000_ICR_TXQE
            self._update_irq()

    def _build_frame(self, parts: list[bytes], fr: _Frame) -> bytes:
        """Gathered buffers → the frame on the wire: checksum, VLAN tag, padding, FCS."""
        buf = bytearray().join(parts)
        cmd = fr.cmd
        n = len(buf)
        if cmd & E1000_TXD_CMD_IC:
            # the sum ends before a software FCS (IFCS=0), as in the RTL (hdl/nic/README.md)
            end = n if cmd & E1000_TXD_CMD_IFCS else max(n - FCS_BYTES, 0)
            cso, css = fr.cso, fr.css
            if css < end and cso + 2 <= end:
                check = inet_checksum(memoryview(buf)[css:end])
                buf[cso : cso + 2] = check.to_bytes(2, "big")
        if cmd & E1000_TXD_CMD_VLE:
            buf[12:12] = struct.pack(">HH", VLAN_TPID, fr.special)
        if cmd & E1000_TXD_CMD_IFCS:
            if len(buf) < ETH_ZLEN and self._regs[_R_TCTL] & E1000_TCTL_PSP:
                buf += bytes(ETH_ZLEN - len(buf))
            buf += zlib.crc32(buf).to_bytes(4, "little")
        return bytes(buf)

    def _flush_writebacks(self) -> bool:
        """Write back every pending RS descriptor (DD, or the head with TDWBAL.EN); False on a DMA error."""
        pending = self._pending_wb
        self._pending_wb = []
        ctr = self._counters
        wbal = self._regs[_R_TDWBAL]
        delayed = all(ide for _da, ide in pending)
        if wbal & TDWBAL_EN:
            # the index after the batch's last RS descriptor (not the live TDH), as the RTL
            addr = (self._regs[_R_TDWBAH] << 32) | (wbal & ~3 & 0xFFFFFFFF)
            head = ((pending[-1][0] - self._ring_base) // TX_DESC_SIZE + 1) % max(self._ndesc, 1)
            if not self.mem.dma_write(addr, head.to_bytes(4, "little")):
                self._halt(ERR_DMA_WRITE, addr, None)
                return False
            ctr["head_writebacks"] += 1
        else:
            dma_write = self.mem.dma_write
            for da, _ide in pending:
                if not dma_write(da + DESC_STA_BYTE, _DD_WORD, _DD_STROBE):
                    self._halt(ERR_DMA_WRITE, da + DESC_STA_BYTE, None)  # ERRADDR: the DD byte
                    return False
            ctr["writebacks"] += len(pending)
        self._txdw(delayed)
        return True

    def _wire_done(self, fr: _Frame) -> None:
        """The frame's terminate character left the MAC."""
        if fr.cancelled:
            return
        self._wire_q.popleft()
        n = len(fr.data)
        self._gptc += 1
        self._tpt += 1
        self._gotc += n
        ctr = self._counters
        ctr["frames"] += 1
        ctr["bytes"] += n
        data = fr.data
        fcs_ok = True
        if not fr.cmd & E1000_TXD_CMD_IFCS:
            fcs_ok = n >= FCS_BYTES and zlib.crc32(data[:-4]).to_bytes(4, "little") == data[-4:]
        idx = self._wire_index
        self._wire_index += 1
        # WireFrame is a frozen dataclass: its __init__ pays object.__setattr__ per field.
        # Fill the instance dict directly (same fields, same equality/hash/repr).
        wf = _new_object(WireFrame)
        wf.__dict__.update(data=data, t_start=fr.t_start, t_end=fr.t_end, fcs_ok=fcs_ok, index=idx)
        for fn in self.frame_listeners:
            fn(wf)

    def _dma_fault(self, epoch: int, addr: int, cause: int) -> None:
        if epoch == self._epoch and self._running():
            self._halt(cause, addr, None)

    def _cancel_plan(self) -> None:
        """Forget planned frames not yet read; engines restart from TDH when enabled again."""
        for fr in self._planned:
            fr.cancelled = True
        self._planned.clear()
        self._epoch += 1
        self._fault_pending = False
        self._open = None
        self._open_bytes = 0
        self._slot_q.clear()
        self._fetch_ptr = self._tdh
        now = self.env.now()
        self._last_ready = now
        # Only frames already in the FIFO still hold it and the MAC.
        self._fifo = deque((f.t_end, f.nbytes) for f in self._wire_q)
        self._fifo_sum = sum(b for _t, b in self._fifo)
        self._mac_free = max([now] + [f.t_slot_end for f in self._wire_q])

    def _halt(self, cause: int, addr: int, fr: _Frame | None) -> None:
        """A DMA error: no frame with bad data leaves; transmit halts (STATUS.TXOFF)."""
        self._counters["dma_errors"] += 1
        if fr is not None:
            fr.cancelled = True
        self._txoff = True
        self._pending_wb = []
        self._cancel_plan()
        self._error(cause, addr)

    def _stop_engine(self) -> None:
        """TCTL.EN 1→0: stop fetching; frames already read still go out."""
        self._cancel_plan()

    def _start_reset(self) -> None:
        """CTRL.RST: let outstanding bus transactions and the frame on the wire finish, then reset."""
        self._counters["resets"] += 1
        now = self.env.now()
        self._rst_busy = True
        self._epoch += 1
        for fr in self._planned:
            fr.cancelled = True
        self._planned.clear()
        # reads already issued complete on the bus; planned ones not issued yet are dropped
        done = now
        for t_iss, t_done in self._reads:
            if t_iss <= now < t_done and t_done > done:
                done = t_done
        for fr in self._wire_q:
            if fr.t_start < now:
                done = max(done, fr.t_end)  # the frame being sent completes on the wire
            else:
                fr.cancelled = True
        self._wire_q = deque(f for f in self._wire_q if not f.cancelled)
        self._gen += 1  # stop interrupt timers now
        self._call_at(done + self.clk, self._reset_done)

    def _reset_done(self) -> None:
        self._reset_state()

    # -- reports ----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        s = dict(self._counters)
        s["tdh"] = self._tdh
        s["tdt"] = self._tdt
        s["txoff"] = self._txoff
        return s


__all__ = ["ModelNic", "wire_slot_cycles"]
