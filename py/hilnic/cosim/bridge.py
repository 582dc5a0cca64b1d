"""The cocotb bridge to the RTL NIC: `RtlNic`, a `NicBackend` in simulator time.

Python wakes once per transaction, never per clock (that is where the speed comes from):
the HDL harness (hdl/tb/nic_harness.v) generates the clock, collects whole AXI bursts and
whole XGMII frames, and raises a sequence counter half a clock later; the tasks here await
that counter's value change, answer in zero simulated time, and go back to sleep.

    rtl = RtlNic(dut, HostMemory(), mem_latency_ns=200, r_gap_prob=0.1, seed=7)
    await rtl.reset()                 # starts the service tasks, pulses rst
    assert await rtl.readl(Reg.HID) == HID_VALUE
    rtl.writel(Reg.TDT, 1)           # posted: returns at once, drained in order
    frame = await rtl.wait_frame()   # WireFrame(data, t_start, t_end, fcs_ok, index)
    rtl.check()                      # AssertionError on protocol / framing / MMIO errors

Pieces, usable on their own (tests of the harness itself use them on tb_selftest):

- `AxiMemService`: answers tb_axi_mem from a `HostMemory` (dma_read/dma_write; an access
  outside a live mapping is answered DECERR and recorded by HostMemory), plus error
  injection by address range and the timing knobs (latency, gaps, ready stalls).
- `MmioPort`: posted, ordered MMIO writes and awaited reads through tb_axil_master.
- `XgmiiCapture`: whole frames from tb_xgmii_rx as `WireFrame`s, FCS checked with zlib.
- `ProtocolMonitor`: reads tb_axi_checker's sticky violation registers.

Timing: simulator time is integer picoseconds (kernel/env.py); rising edge number `c` of
the harness clock is at c * period + period / 2 (`cycle_to_ps`).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hilnic.cosim.cocotb_internals import RawValueWake, handle_names, raw_handle, raw_int, raw_put
from hilnic.hw.backend import NicBackend, WireFrame
from hilnic.hw.regs import CLK_PERIOD_PS
from hilnic.mm.hostmem import HostMemory

if TYPE_CHECKING:
    from hilnic.cosim.cocotb_env import CocotbEnv

log = logging.getLogger("hilnic.bridge")

# AXI response codes
OKAY = 0
EXOKAY = 1
SLVERR = 2
DECERR = 3
RESP_NAMES = {OKAY: "OKAY", EXOKAY: "EXOKAY", SLVERR: "SLVERR", DECERR: "DECERR"}

# AXI burst types
BURST_FIXED = 0
BURST_INCR = 1
BURST_WRAP = 2

CHUNK_BYTES = 256  # the harness moves burst and frame data in 2048-bit chunks
_CHUNK_BITS = CHUNK_BYTES * 8

# tb_axi_checker.v violation codes
CHECKER_CODES = {
    1: "AR valid dropped before ready",
    2: "AR payload changed while stalled",
    3: "AW valid dropped before ready",
    4: "AW payload changed while stalled",
    5: "W valid dropped before ready",
    6: "W payload changed while stalled",
    7: "R valid dropped before ready",
    8: "R payload changed while stalled",
    9: "B valid dropped before ready",
    10: "B payload changed while stalled",
    11: "AR burst crosses a 4 KiB boundary",
    12: "AW burst crosses a 4 KiB boundary",
    13: "AR burst not INCR or size wider than the bus",
    14: "AW burst not INCR or size wider than the bus",
    15: "WLAST not on the last beat (W beats != AWLEN+1)",
    16: "RLAST not on the last beat (R beats != ARLEN+1)",
    17: "R with an ID that has no read outstanding",
    18: "B with an ID that has no write outstanding",
    19: "X/Z on a valid/ready or on address/control while valid",
    20: "valid asserted during reset",
    21: "AXI-Lite AW valid dropped or payload changed while stalled",
    22: "AXI-Lite W valid dropped or payload changed while stalled",
    23: "AXI-Lite AR valid dropped or payload changed while stalled",
    24: "AXI-Lite R valid dropped or payload changed while stalled",
    25: "AXI-Lite B valid dropped or payload changed while stalled",
    26: "AXI-Lite response without an outstanding request",
    27: "checker tracking overflow (too many outstanding transactions)",
    28: "B response before the burst's last W beat",
}

# tb_xgmii_rx.v framing error bits
XGMII_ERRORS = {
    0: "bad preamble or SFD",
    1: "control character inside a frame",
    2: "inter-frame gap shorter than 12 bytes",
    3: "frame longer than the capture buffer (truncated)",
    4: "lanes after the terminate not idle",
    5: "garbage between frames (data, misplaced start, or a non-idle control character)",
}

class RawVpi:
    """Word-wise (vpiVectorVal) access to the harness's 2048-bit chunk arrays.

    cocotb reads and writes wide signals as binary strings: 2048 characters per chunk, parsed
    bit by bit by the simulator (Verilator's vpi_put_value loops over every character) and by
    Python (int(s, 2), format(v, "b")). The simulator's own VPI entry points are exported from
    its executable, so ctypes can call vpi_get_value / vpi_put_value with vpiVectorVal
    directly: 64 words per chunk instead of 2048 characters. Used where it is verified to work
    (`RawVpi.get()` returns None otherwise; every array is checked when first bound, see
    `ChunkArray`): by default on Verilator only ($HILNIC_RAW_VPI=1 forces it on, 0 off).
    """

    VPI_VECTOR_VAL = 9
    VPI_NO_DELAY = 1
    _instance: Any = None
    _tried = False

    def __init__(self) -> None:
        import ctypes

        class _Value(ctypes.Structure):
            _fields_ = [("format", ctypes.c_int32), ("vector", ctypes.c_void_p)]

        lib = ctypes.CDLL(None)
        self.ct = ctypes
        self.Value = _Value
        self.by_name = lib.vpi_handle_by_name
        self.by_name.restype = ctypes.c_void_p
        self.by_name.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        self.by_index = lib.vpi_handle_by_index
        self.by_index.restype = ctypes.c_void_p
        self.by_index.argtypes = [ctypes.c_void_p, ctypes.c_int32]
        self.put_value = lib.vpi_put_value
        self.put_value.restype = ctypes.c_void_p
        self.put_value.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32]
        self.get_value = lib.vpi_get_value
        self.get_value.restype = None
        self.get_value.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._val = _Value(self.VPI_VECTOR_VAL, None)
        self._pval = ctypes.addressof(self._val)

    @classmethod
    def get(cls) -> RawVpi | None:
        if not cls._tried:
            cls._tried = True
            import os

            want = os.environ.get("HILNIC_RAW_VPI", "").strip()
            try:
                import cocotb

                sim_name = str(getattr(cocotb, "SIM_NAME", "") or "")
            except Exception:
                sim_name = ""
            if want == "1" or (want != "0" and "verilator" in sim_name.lower()):
                try:
                    cls._instance = cls()
                except Exception as exc:
                    log.debug("raw VPI access unavailable: %s", exc)
                    cls._instance = None
        return cls._instance

    def element_handles(self, array: Any, n: int) -> list[int] | None:
        """vpiHandles of array[0..n-1] (a cocotb handle of an unpacked array), or None."""
        for name in handle_names(array):
            h = self.by_name(name.encode(), None)
            if not h:
                continue
            out = [self.by_index(h, i) for i in range(n)]
            if all(out):
                return out
        return None

    def get_words(self, h: int, words: int) -> bytes:
        """The value of `h` as 8*`words` bytes: (aval, bval) uint32 pairs, least significant first."""
        self._val.format = self.VPI_VECTOR_VAL
        self.get_value(h, self._pval)
        return self.ct.string_at(self._val.vector, 8 * words)

    def put_words(self, h: int, address: int) -> None:
        """Deposit the (aval, bval) uint32 pairs at `address` on `h` now."""
        self._val.format = self.VPI_VECTOR_VAL
        self._val.vector = address
        self.put_value(h, self._pval, None, self.VPI_NO_DELAY)


class ChunkArray:
    """An unpacked array of `bits`-wide elements (a harness chunk buffer): whole elements in and
    out as little-endian bytes, through RawVpi when available (checked against cocotb's binary
    strings on the first element when bound), else through cocotb's binary strings."""

    def __init__(self, array: Any, writable: bool = False) -> None:
        self.n = len(array)
        self.handles = [raw_handle(array[i]) for i in range(self.n)]
        self.bits = len(array[0])
        self.nbytes = self.bits // 8
        self.words = (self.bits + 31) // 32
        self.raw: RawVpi | None = None
        rv = RawVpi.get()
        if rv is not None and self.bits % 32 == 0:
            hs = rv.element_handles(array, self.n)
            if hs is not None and self._verify(rv, hs, writable):
                self._bind_raw(rv, hs)

    def _bind_raw(self, rv: RawVpi, hs: list[int]) -> None:
        ct = rv.ct
        self.raw = rv
        self.raw_h = hs
        # one (aval, bval) vector per element, bval always 0, and one s_vpi_value pointing at it
        self._vec = np.zeros(2 * self.words * self.n, dtype="<u4")
        self._aval = self._vec[0::2]
        base, step = self._vec.ctypes.data, 8 * self.words
        self._addr = [base + k * step for k in range(self.n)]
        self._vals = [rv.Value(RawVpi.VPI_VECTOR_VAL, base + k * step) for k in range(self.n)]
        self._pvals = [ct.addressof(v) for v in self._vals]
        self._get_val = rv.Value(RawVpi.VPI_VECTOR_VAL, None)
        self._pget = ct.addressof(self._get_val)
        self._memmove = ct.memmove

    def _verify(self, rv: RawVpi, hs: list[int], writable: bool) -> bool:
        try:
            before = raw_int(self.handles[0])
            got = np.frombuffer(rv.get_words(hs[0], self.words), dtype="<u4")[0::2].tobytes()
            if int.from_bytes(got, "little") != before:
                return False
            if writable:
                pattern = bytes((i * 37 + 11) & 0xFF for i in range(self.nbytes))
                vec = np.zeros(2 * self.words, dtype="<u4")
                vec[0::2] = np.frombuffer(pattern, dtype="<u4")
                rv.put_words(hs[0], vec.ctypes.data)
                ok = raw_int(self.handles[0]) == int.from_bytes(pattern, "little")
                raw_put(self.handles[0], before, self.bits)
                return ok
            return True
        except Exception as exc:
            log.debug("raw VPI check failed: %s", exc)
            return False

    def read(self, first: int, count: int) -> bytes:
        """Elements first .. first+count-1 as count*nbytes bytes."""
        if self.raw is not None:
            get, pget, gv, move, hs, addr = (self.raw.get_value, self._pget, self._get_val,
                                              self._memmove, self.raw_h, self._addr)
            size = 8 * self.words
            for k in range(first, first + count):
                get(hs[k], pget)
                move(addr[k], gv.vector, size)
            w = self.words
            return self._aval[first * w : (first + count) * w].tobytes()
        nb, hs_ = self.nbytes, self.handles
        return b"".join([raw_int(hs_[k]).to_bytes(nb, "little") for k in range(first, first + count)])

    def write(self, first: int, data: bytes) -> None:
        """`data` (padded with zeros to whole elements) into elements first, first+1, ..."""
        nb = self.nbytes
        count = (len(data) + nb - 1) // nb
        if len(data) != count * nb:
            data = data + bytes(count * nb - len(data))
        if self.raw is not None:
            w = self.words
            self._aval[first * w : (first + count) * w] = np.frombuffer(data, dtype="<u4")
            put, hs, pv, nd = self.raw.put_value, self.raw_h, self._pvals, RawVpi.VPI_NO_DELAY
            for k in range(first, first + count):
                put(hs[k], pv[k], None, nd)
            return
        bits = self.bits
        for k in range(count):
            self.handles[first + k].set_signal_val_binstr(
                0, format(int.from_bytes(data[k * nb : (k + 1) * nb], "little"), f"0{bits}b"))


# byte -> its 8 bits as 0/1 bytes, least significant first (np.unpackbits(bitorder="little"))
_STRB_BITS = [bytes((b >> i) & 1 for i in range(8)) for b in range(256)]


def _decode_bits(mask: int, names: dict[int, str]) -> list[str]:
    return [f"{b}: {names.get(b, '?')}" for b in range(32) if mask >> b & 1]


def _now_ps() -> int:
    from cocotb.simtime import get_sim_time

    return int(get_sim_time("ps"))


class _Clock:
    """`now()` in ps for HostMemory violation timestamps."""

    def now(self) -> int:
        return _now_ps()


# -- host memory ---------------------------------------------------------------------------


@dataclass
class InjectedError:
    """Bursts touching [addr, addr+length) in direction `kind` get `resp` (SLVERR/DECERR)."""

    addr: int
    length: int
    resp: int = SLVERR
    kind: str = "rw"  # "r", "w" or "rw"
    count: int | None = None  # answer this many bursts, then expire (None: forever)
    hits: int = 0

    def matches(self, addr: int, length: int, write: bool) -> bool:
        if ("w" if write else "r") not in self.kind:
            return False
        if self.count is not None and self.hits >= self.count:
            return False
        return addr < self.addr + self.length and self.addr < addr + length


@dataclass
class BurstRecord:
    """One burst as the memory saw it (kept when AxiMemService.record is on)."""

    time_ps: int
    write: bool
    addr: int
    length: int  # AxLEN + 1 beats
    size: int  # bytes per beat
    axi_id: int
    resp: int


@dataclass
class MemTiming:
    """Memory knobs; cycles are clock cycles of the harness, probabilities in [0, 1]."""

    rd_latency_cycles: int = 0  # AR handshake to first R beat (2 cycles minimum in effect)
    wr_latency_cycles: int = 0  # last W beat to BVALID
    r_gap_cycles: int = 0  # idle cycles before every R beat
    r_gap_prob: float = 0.0  # chance of one more idle cycle before an R beat, per cycle
    ar_stall_prob: float = 0.0  # chance ARREADY is low in a cycle
    aw_stall_prob: float = 0.0
    w_stall_prob: float = 0.0
    b_gap_prob: float = 0.0
    seed: int = 1  # taken by the HDL generator while rst is high


def _prob(p: float) -> int:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability {p} outside [0, 1]")
    return min(255, round(p * 256)) if p < 1.0 else 255


def _unpack_req(v: int, aw: int, amask: int, idw: int, idmask: int) -> tuple[int, int, int, int, int, int]:
    """tb_axi_mem's rd_req_info / wr_req_info above the 32-bit count:
    {slot (reads), id, burst[1:0], size[2:0], len[7:0], addr} from bit 0 up.
    Returns (addr, beats, bytes per beat, burst, id, slot)."""
    addr = v & amask
    v >>= aw
    return addr, (v & 0xFF) + 1, 1 << (v >> 8 & 7), v >> 11 & 3, v >> 13 & idmask, v >> (13 + idw)


class AxiMemService:
    """Answers the tb_axi_mem instance `mem_dut` from `hostmem`, one wake per burst."""

    def __init__(self, mem_dut: Any, hostmem: HostMemory, knobs: Any, data_width: int, *,
                 record: bool = False) -> None:
        self.dut = mem_dut
        self.knobs = knobs  # object holding the cfg_* registers (the harness toplevel)
        self.hostmem = hostmem
        self.dw = data_width
        self.bpb = data_width // 8
        self.beats_per_chunk = _CHUNK_BITS // data_width
        self.chunks_per_slot = 256 // self.beats_per_chunk
        self.errors: list[InjectedError] = []
        self.record = record
        self.bursts: list[BurstRecord] = []
        self.error_responses: list[BurstRecord] = []
        self.n_rd = 0
        self.n_wr = 0
        self.wall_rd = 0.0
        self.wall_wr = 0.0
        self._tasks: list[Any] = []
        d = mem_dut
        self._h = {n: raw_handle(getattr(d, n)) for n in (
            "rd_req_seq", "rd_req_addr", "rd_req_len", "rd_req_size", "rd_req_burst", "rd_req_id",
            "rd_req_slot", "rd_ack_seq", "rd_ack_resp",
            "wr_req_seq", "wr_req_addr", "wr_req_len", "wr_req_size", "wr_req_burst", "wr_req_id",
            "wr_ack_seq", "wr_ack_resp")}
        self._rd_seq_sig = d.rd_req_seq
        self._wr_seq_sig = d.wr_req_seq
        # rd_req_info / wr_req_info: every request field in one vector (one read per wake);
        # field widths from the individual registers
        self._aw = len(d.rd_req_addr)
        self._idw = len(d.rd_req_id)
        self._rd_info = raw_handle(d.rd_req_info)
        self._wr_info = raw_handle(d.wr_req_info)
        self._rd_buf: ChunkArray | None = None
        self._wr_buf: ChunkArray | None = None
        self._wr_strb: ChunkArray | None = None
        self._rd_seen = raw_int(self._h["rd_req_seq"])
        self._wr_seen = raw_int(self._h["wr_req_seq"])

    # knobs ---------------------------------------------------------------------------
    def set_timing(self, t: MemTiming) -> None:
        k = self.knobs
        k.cfg_rd_latency.value = max(0, min(0xFFFF, t.rd_latency_cycles))
        k.cfg_wr_latency.value = max(0, min(0xFFFF, t.wr_latency_cycles))
        k.cfg_r_gap_fixed.value = max(0, min(255, t.r_gap_cycles))
        k.cfg_r_gap_prob.value = _prob(t.r_gap_prob)
        k.cfg_ar_stall.value = _prob(t.ar_stall_prob)
        k.cfg_aw_stall.value = _prob(t.aw_stall_prob)
        k.cfg_w_stall.value = _prob(t.w_stall_prob)
        k.cfg_b_gap_prob.value = _prob(t.b_gap_prob)
        k.cfg_seed.value = (t.seed & 0xFFFFFFFF) or 1

    def inject_error(self, addr: int, length: int, resp: int = SLVERR, kind: str = "rw",
                     count: int | None = None) -> InjectedError:
        """Answer bursts overlapping [addr, addr+length) with `resp` (no memory access)."""
        if resp not in (SLVERR, DECERR):
            raise ValueError("resp must be SLVERR or DECERR")
        if kind not in ("r", "w", "rw"):
            raise ValueError("kind must be 'r', 'w' or 'rw'")
        e = InjectedError(addr, length, resp, kind, count)
        self.errors.append(e)
        return e

    def clear_errors(self) -> None:
        self.errors.clear()

    # tasks ---------------------------------------------------------------------------
    def start(self) -> None:
        if not self._tasks:
            # one simulator callback per burst, straight into the handler (no cocotb task)
            self._tasks = [RawValueWake(self._rd_seq_sig, self._read_handler(), "dma read"),
                           RawValueWake(self._wr_seq_sig, self._write_handler(), "dma write")]
            for t in self._tasks:
                t.start()

    def stop(self) -> None:
        for t in self._tasks:
            t.stop()
        self._tasks = []

    def _injected(self, addr: int, length: int, write: bool) -> int:
        for e in self.errors:
            if e.matches(addr, length, write):
                e.hits += 1
                return e.resp
        return OKAY

    def _raw(self, addr: int, length: int) -> bytes:
        """Host RAM bytes without an IOMMU check; zeros outside RAM."""
        hm = self.hostmem
        lo = max(addr, hm.base)
        hi = min(addr + length, hm.base + hm.size)
        if hi <= lo:
            return bytes(length)
        if lo == addr and hi == addr + length:
            return hm._mv[lo - hm.base : hi - hm.base].tobytes()
        return bytes(lo - addr) + hm.mem[lo - hm.base : hi - hm.base].tobytes() + bytes(addr + length - hi)

    def _beat_addrs(self, addr: int, beats: int, size: int, burst: int) -> list[int]:
        if burst == BURST_FIXED:
            return [addr] * beats
        aligned = addr - addr % size
        if burst == BURST_WRAP:
            total = size * beats
            lower = addr - addr % total
            return [lower + (aligned - lower + i * size) % total for i in range(beats)]
        return [addr] + [aligned + i * size for i in range(1, beats)]

    def read_image(self, addr: int, beats: int, size: int, burst: int) -> tuple[int, bytes]:
        """(resp, beats*bpb bytes as the R beats carry them) for one read burst."""
        bpb = self.bpb
        nbytes = beats * bpb
        if burst == BURST_INCR and size == bpb:
            aligned = addr - addr % bpb
            resp = self._injected(aligned, nbytes, False)
            if resp != OKAY:
                return resp, bytes(nbytes)
            # every beat must hold at least one mapped byte: check addr .. first byte of
            # the last beat (the rest of the last beat is the page the NIC cannot avoid)
            need = aligned + (beats - 1) * bpb + 1 - addr
            if not self.hostmem.dma_read_ok(addr, need):
                return DECERR, bytes(nbytes)
            return OKAY, self._raw(aligned, nbytes)
        # narrow, FIXED or WRAP bursts: beat by beat
        img = bytearray(nbytes)
        addrs = self._beat_addrs(addr, beats, size, burst)
        lo = min(addrs)
        resp = self._injected(lo - lo % bpb, max(addrs) - lo + bpb, False)
        if resp != OKAY:
            return resp, bytes(nbytes)
        for i, a in enumerate(addrs):
            end = a - a % size + size  # the transfer runs to the next size boundary
            data = self.hostmem.dma_read(a, end - a)
            if data is None:
                return DECERR, bytes(nbytes)
            lane = a % bpb
            img[i * bpb + lane : i * bpb + lane + len(data)] = data
        return OKAY, bytes(img)

    def write_image(self, addr: int, beats: int, size: int, burst: int, data: bytes, strb: bytes) -> int:
        """Apply one write burst (data/strobe images, beats*bpb bytes); returns BRESP."""
        bpb = self.bpb
        if burst == BURST_INCR and size == bpb:
            aligned = addr - addr % bpb
            resp = self._injected(aligned, beats * bpb, True)
            if resp != OKAY:
                return resp
            first = strb.find(1)  # strobe bytes are 0 / 1
            if first < 0:
                return OKAY
            last = strb.rfind(1) + 1
            ok = self.hostmem.dma_write(aligned + first, data[first:last], strb[first:last])
            return OKAY if ok else DECERR
        addrs = self._beat_addrs(addr, beats, size, burst)
        lo = min(addrs)
        resp = self._injected(lo - lo % bpb, max(addrs) - lo + bpb, True)
        if resp != OKAY:
            return resp
        for i, a in enumerate(addrs):
            base = a - a % bpb
            st = strb[i * bpb : (i + 1) * bpb]
            nz = [j for j in range(bpb) if st[j]]
            if not nz:
                continue
            first, last = nz[0], nz[-1] + 1
            if not self.hostmem.dma_write(base + first, data[i * bpb + first : i * bpb + last], st[first:last]):
                return DECERR
        return OKAY

    def _read_handler(self) -> Callable[[], None]:
        """The per-burst read handler (called on each rd_req_seq change)."""
        h = self._h
        if self._rd_buf is None:
            self._rd_buf = ChunkArray(self.dut.rd_buf, writable=True)
        rd_buf = self._rd_buf
        cps = self.chunks_per_slot
        info_h = self._rd_info
        aw, idw = self._aw, self._idw
        amask, idmask = (1 << aw) - 1, (1 << idw) - 1
        ack_resp, ack_seq = h["rd_ack_resp"].set_signal_val_int, h["rd_ack_seq"].set_signal_val_int
        perf = time.perf_counter

        def on_read() -> None:
            v = raw_int(info_h)
            seq = v & 0xFFFFFFFF
            if seq == self._rd_seen:
                return
            self._rd_seen = seq
            t0 = perf()
            addr, beats, size, burst, axi_id, slot = _unpack_req(v >> 32, aw, amask, idw, idmask)
            resp, img = self.read_image(addr, beats, size, burst)
            rd_buf.write(slot * cps, img)
            ack_resp(0, resp)
            ack_seq(0, seq)
            self.n_rd += 1
            if self.record or resp != OKAY:
                self._note(False, addr, beats, size, axi_id, resp)
            self.wall_rd += perf() - t0

        return on_read

    def _write_handler(self) -> Callable[[], None]:
        """The per-burst write handler (called on each wr_req_seq change)."""
        h = self._h
        if self._wr_buf is None:
            self._wr_buf = ChunkArray(self.dut.wr_buf)
            self._wr_strb = ChunkArray(self.dut.wr_strb_buf)
        wr_buf, wr_strb = self._wr_buf, self._wr_strb
        assert wr_strb is not None
        bpb = self.bpb
        info_h = self._wr_info
        aw, idw = self._aw, self._idw
        amask, idmask = (1 << aw) - 1, (1 << idw) - 1
        ack_resp, ack_seq = h["wr_ack_resp"].set_signal_val_int, h["wr_ack_seq"].set_signal_val_int
        perf = time.perf_counter

        def on_write() -> None:
            v = raw_int(info_h)
            seq = v & 0xFFFFFFFF
            if seq == self._wr_seen:
                return
            self._wr_seen = seq
            t0 = perf()
            addr, beats, size, burst, axi_id, _ = _unpack_req(v >> 32, aw, amask, idw, idmask)
            nbytes = beats * bpb
            nchunks = (nbytes + CHUNK_BYTES - 1) // CHUNK_BYTES
            data = wr_buf.read(0, nchunks)[:nbytes]
            sbits = wr_strb.read(0, nchunks)
            if nbytes <= 512:  # a few bytes of strobe bits (DD write-backs): table lookups
                strb = b"".join([_STRB_BITS[b] for b in sbits[: (nbytes + 7) // 8]])[:nbytes]
            else:
                strb = np.unpackbits(np.frombuffer(sbits, dtype=np.uint8), bitorder="little")[:nbytes].tobytes()
            resp = self.write_image(addr, beats, size, burst, data, strb)
            ack_resp(0, resp)
            ack_seq(0, seq)
            self.n_wr += 1
            if self.record or resp != OKAY:
                self._note(True, addr, beats, size, axi_id, resp)
            self.wall_wr += perf() - t0

        return on_write

    def _note(self, write: bool, addr: int, beats: int, size: int, axi_id: int, resp: int) -> None:
        """Keep a burst's record (record=True) and every error response."""
        rec = BurstRecord(_now_ps(), write, addr, beats, size, axi_id, resp)
        if self.record:
            self.bursts.append(rec)
        if resp != OKAY:
            self.error_responses.append(rec)

    def stats(self) -> dict[str, Any]:
        return {
            "rd_bursts": self.n_rd,
            "wr_bursts": self.n_wr,
            "rd_wall_us_per_burst": 1e6 * self.wall_rd / self.n_rd if self.n_rd else 0.0,
            "wr_wall_us_per_burst": 1e6 * self.wall_wr / self.n_wr if self.n_wr else 0.0,
            "error_responses": len(self.error_responses),
        }


class HostMemAxiTarget:
    """cocotbext-axi `AxiSlave` target over a HostMemory, per beat (the baseline model).

    Reads are raw RAM reads (whole beats, no IOMMU check: per-beat reads cannot tell a
    buffer's tail from a stray access); writes go through dma_write, and a write outside a
    live mapping makes cocotbext-axi answer SLVERR."""

    def __init__(self, hostmem: HostMemory) -> None:
        self.hostmem = hostmem

    async def read(self, address: int, length: int) -> bytes:
        hm = self.hostmem
        lo, hi = address - hm.base, address - hm.base + length
        if lo < 0 or hi > hm.size:
            raise IndexError(f"read {address:#x}+{length} outside host RAM")
        return hm.mem[lo:hi].tobytes()

    async def write(self, address: int, data: bytes) -> None:
        if not self.hostmem.dma_write(address, bytes(data)):
            raise PermissionError(f"write {address:#x}+{len(data)} outside any live mapping")


# -- MMIO ----------------------------------------------------------------------------------


class MmioError(Exception):
    pass


class MmioPort:
    """Posted, ordered MMIO writes and awaited reads through tb_axil_master (`axil_dut`)."""

    def __init__(self, axil_dut: Any) -> None:
        self.dut = axil_dut
        self._h = {n: raw_handle(getattr(axil_dut, n)) for n in (
            "cmd_write", "cmd_addr", "cmd_data", "cmd_strb", "cmd_seq", "done_seq", "done_rdata", "done_resp")}
        self._done_sig = axil_dut.done_seq
        self._done_info = None  # {done_rdata, done_resp, done_seq}: one read per completion
        with contextlib.suppress(Exception):
            self._done_info = raw_handle(axil_dut.done_info)
        self._seq = raw_int(self._h["cmd_seq"])
        self._queue: collections.deque[tuple[bool, int, int, int, Any]] = collections.deque()
        self._wake: Any = None
        self._task: Any = None
        self.errors: list[str] = []
        self.n_writes = 0
        self.n_reads = 0
        self._busy = False
        self._idle: Any = None

    def start(self) -> None:
        from cocotb.triggers import Event

        if self._task is None:
            self._idle = Event()
            self._idle.set()
            # completions come straight from the simulator's callback on done_seq
            self._task = RawValueWake(self._done_sig, self._on_done, "mmio")
            self._task.start()
            self._busy = False
            self._issue()

    def stop(self) -> None:
        if self._task is not None:
            self._task.stop()
            self._task = None

    def write(self, offset: int, value: int, strb: int = 0xF) -> None:
        """Posted write: queued, returns at once."""
        self._queue.append((True, offset, value & 0xFFFFFFFF, strb, None))
        if self._task is not None and not self._busy:
            self._issue()

    async def read(self, offset: int) -> int:
        """Read; completes after every earlier write."""
        from cocotb.triggers import Event

        if self._task is None:
            raise RuntimeError("MmioPort not started (call RtlNic.start() or reset())")
        done = Event()
        box: list[int] = []
        self._queue.append((False, offset, 0, 0xF, (done, box)))
        if not self._busy:
            self._issue()
        await done.wait()
        return box[0]

    def read_cb(self, offset: int, callback: Callable[[int], None]) -> None:
        """Read without awaiting: `callback(value)` runs (in the MMIO completion callback) once
        it completes, after every earlier write. For callers that are not cocotb coroutines
        (CocotbEnv)."""
        if self._task is None:
            raise RuntimeError("MmioPort not started (call RtlNic.start() or reset())")
        self._queue.append((False, offset, 0, 0xF, callback))
        if not self._busy:
            self._issue()

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def flush(self) -> None:
        """Wait until every queued access has completed."""
        while self._task is not None and (self._queue or self._busy):
            await self._idle.wait()

    def _issue(self) -> None:
        """Put the head of the queue on the command port (nothing in flight), or go idle."""
        if not self._queue:
            self._busy = False
            self._idle.set()
            return
        self._busy = True
        self._idle.clear()
        h = self._h
        write, off, val, strb, _ = self._queue[0]
        h["cmd_write"].set_signal_val_int(0, 1 if write else 0)
        h["cmd_addr"].set_signal_val_int(0, off)
        h["cmd_data"].set_signal_val_int(0, val)
        h["cmd_strb"].set_signal_val_int(0, strb)
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        h["cmd_seq"].set_signal_val_int(0, self._seq)

    def _on_done(self) -> None:
        """done_seq changed: complete the access in flight, issue the next one."""
        if not self._busy:
            return
        info_h = self._done_info
        if info_h is not None:
            v = raw_int(info_h)
            if v & 0xFFFFFFFF != self._seq:
                return
            resp, rdata = v >> 32 & 3, v >> 34
        else:
            h = self._h
            if raw_int(h["done_seq"]) != self._seq:
                return
            resp, rdata = raw_int(h["done_resp"]), raw_int(h["done_rdata"])
        write, off, _, _, waiter = self._queue.popleft()
        if resp != OKAY:
            self.errors.append(
                f"MMIO {'write' if write else 'read'} {off:#06x} answered {RESP_NAMES[resp]} at {_now_ps()} ps")
        if write:
            self.n_writes += 1
        else:
            self.n_reads += 1
        # the next command goes out before the completion runs, as the drain loop did
        # (a read's callback may queue more accesses)
        self._issue()
        if not write:
            if callable(waiter):
                waiter(rdata)
            else:
                done, box = waiter
                box.append(rdata)
                done.set()


# -- wire ----------------------------------------------------------------------------------


def fcs_ok(data: bytes) -> bool:
    """CRC-32 over data[:-4] equals the little-endian FCS in data[-4:]."""
    return len(data) >= 4 and zlib.crc32(data[:-4]) == int.from_bytes(data[-4:], "little")


@dataclass
class FramingError:
    index: int
    time_ps: int
    flags: int

    def __str__(self) -> str:
        return f"frame {self.index} at {self.time_ps} ps: " + "; ".join(
            XGMII_ERRORS[b] for b in range(8) if self.flags >> b & 1 and b in XGMII_ERRORS)


class XgmiiCapture:
    """Whole frames from tb_xgmii_rx (`xg_dut`), one wake per frame."""

    def __init__(self, xg_dut: Any, period_ps: int, keep: bool = True) -> None:
        self.dut = xg_dut
        self.period_ps = period_ps
        self.keep = keep
        self.frames: list[WireFrame] = []
        self.framing_errors: list[FramingError] = []
        self.missed = 0
        self.count = 0
        self.listeners: list[Any] = []
        self.wall = 0.0
        self._h = {n: raw_handle(getattr(xg_dut, n)) for n in (
            "fr_seq", "fr_len", "fr_start_cycle", "fr_end_cycle", "fr_err")}
        self._sig = xg_dut.fr_seq
        self._info = None  # {fr_err, fr_end_cycle, fr_start_cycle, fr_len, fr_seq}: one read per frame
        with contextlib.suppress(Exception):
            self._info = raw_handle(xg_dut.fr_info)
        self._buf: ChunkArray | None = None
        self._seen = raw_int(self._h["fr_seq"])
        self._task: Any = None
        self._event: Any = None

    def cycle_to_ps(self, cycle: int) -> int:
        return cycle * self.period_ps + self.period_ps // 2

    def start(self) -> None:
        from cocotb.triggers import Event

        if self._task is None:
            self._event = Event()
            # one simulator callback per frame, straight into the handler (no cocotb task)
            self._task = RawValueWake(self._sig, self._handler(), "xgmii")
            self._task.start()

    def stop(self) -> None:
        if self._task is not None:
            self._task.stop()
            self._task = None

    async def wait_frames(self, n: int) -> None:
        """Wait until `n` frames have been captured in total."""
        while self.count < n:
            self._event.clear()
            await self._event.wait()

    def _handler(self) -> Callable[[], None]:
        """The per-frame handler (called on each fr_seq change)."""
        h = self._h
        if self._buf is None:
            self._buf = ChunkArray(self.dut.fr_buf)
        buf = self._buf
        info_h = self._info
        m64 = (1 << 64) - 1
        perf = time.perf_counter
        crc32 = zlib.crc32
        period, half = self.period_ps, self.period_ps // 2

        def on_frame() -> None:
            if info_h is not None:
                v = raw_int(info_h)
                seq = v & 0xFFFFFFFF
                n = v >> 32 & 0xFFFFFFFF
                c_start = v >> 64 & m64
                c_end = v >> 128 & m64
                flags = v >> 192 & 0xFF
            else:
                seq = raw_int(h["fr_seq"])
            if seq == self._seen:
                return
            t0 = perf()
            if (seq - self._seen) & 0xFFFFFFFF != 1:
                self.missed += ((seq - self._seen) & 0xFFFFFFFF) - 1
            self._seen = seq
            if info_h is None:
                n = raw_int(h["fr_len"])
                c_start, c_end = raw_int(h["fr_start_cycle"]), raw_int(h["fr_end_cycle"])
                flags = raw_int(h["fr_err"])
            nch = (n + CHUNK_BYTES - 1) // CHUNK_BYTES
            data = buf.read(0, nch)
            if len(data) != n:
                data = data[:n]
            # fcs_ok(data), without copying the frame
            fcs = n >= 4 and crc32(memoryview(data)[:-4]) == int.from_bytes(data[-4:], "little")
            frame = WireFrame(data, c_start * period + half, c_end * period + half, fcs, self.count)
            if flags:
                err = FramingError(frame.index, frame.t_start, flags)
                self.framing_errors.append(err)
                log.error("XGMII framing error: %s", err)
            self.count += 1
            if self.keep:
                self.frames.append(frame)
            self.wall += perf() - t0
            for fn in self.listeners:
                fn(frame)
            self._event.set()

        return on_frame


# -- protocol checker ----------------------------------------------------------------------


class ProtocolMonitor:
    """Reads tb_axi_checker (`chk_dut`) and tb_xgmii_rx's sticky error registers."""

    def __init__(self, chk_dut: Any, xg_dut: Any | None, period_ps: int) -> None:
        self.chk = chk_dut
        self.xg = xg_dut
        self.period_ps = period_ps

    def axi_errors(self) -> list[str]:
        c = self.chk
        count = int(c.err_count.value)
        if count == 0:
            return []
        mask = int(c.err_mask.value)
        first = int(c.err_first_code.value)
        cyc = int(c.err_first_cycle.value)
        head = (f"{count} AXI protocol violation event(s); first: code {first} "
                f"({CHECKER_CODES.get(first, '?')}) at cycle {cyc} "
                f"({cyc * self.period_ps + self.period_ps // 2} ps)")
        return [head] + ["  seen " + s for s in _decode_bits(mask, CHECKER_CODES)]

    def xgmii_errors(self) -> list[str]:
        if self.xg is None:
            return []
        count = int(self.xg.err_count.value)
        if count == 0:
            return []
        mask = int(self.xg.err_mask.value)
        cyc = int(self.xg.err_first_cycle.value)
        return [f"{count} XGMII framing error event(s), first at cycle {cyc}"] + [
            "  seen " + s for s in _decode_bits(mask, XGMII_ERRORS)]


# -- the NIC -------------------------------------------------------------------------------


def _find(dut: Any, *paths: str) -> Any | None:
    for path in paths:
        obj = dut
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return obj
    return None


class RtlNic(NicBackend):
    """The RTL NIC in the cocotb harness (hdl/tb/nic_harness.v) as a NicBackend.

    dut:            the cocotb toplevel handle (nic_harness)
    mem:            the HostMemory that DMA reaches (HostMemory.clock is set to simulator
                    time if it has none)
    mem_latency_ns: AR handshake to first R beat; wr_latency_ns: last W beat to BVALID
    r_gap_prob / r_gap_cycles: random / fixed idle cycles before R beats
    ar_stall_prob, aw_stall_prob, w_stall_prob, b_gap_prob: ready / valid back-pressure
    seed:           the HDL random generator's seed (taken at reset)
    error_ranges:   iterable of (addr, length[, resp[, kind]]) answered SLVERR/DECERR
    mem_model:      "py" (tb_axi_mem, needs USE_PY_MEM=1) or "axiram" (cocotbext-axi per-beat
                    AxiSlave on the m_axi_* ports, needs USE_PY_MEM=0; the speed baseline)
    keep_frames:    keep every WireFrame in .frames (else only listeners get them)
    record_bursts:  keep a BurstRecord per DMA burst in .mem_service.bursts
    """

    def __init__(
        self,
        dut: Any,
        mem: HostMemory,
        *,
        mem_latency_ns: float = 0.0,
        wr_latency_ns: float = 0.0,
        r_gap_prob: float = 0.0,
        r_gap_cycles: int = 0,
        ar_stall_prob: float = 0.0,
        aw_stall_prob: float = 0.0,
        w_stall_prob: float = 0.0,
        b_gap_prob: float = 0.0,
        seed: int = 1,
        error_ranges: Iterable[tuple] = (),
        mem_model: str = "py",
        keep_frames: bool = True,
        record_bursts: bool = False,
    ) -> None:
        super().__init__()
        self.dut = dut
        self.mem = mem
        if mem.clock is None:
            mem.clock = _Clock()
        self.period_ps = self._param("CLK_PERIOD_PS", CLK_PERIOD_PS)
        self.data_width = self._param("DMA_DATA_WIDTH", 128)
        self.timing = MemTiming(
            rd_latency_cycles=self.ns_to_cycles(mem_latency_ns),
            wr_latency_cycles=self.ns_to_cycles(wr_latency_ns),
            r_gap_cycles=r_gap_cycles,
            r_gap_prob=r_gap_prob,
            ar_stall_prob=ar_stall_prob,
            aw_stall_prob=aw_stall_prob,
            w_stall_prob=w_stall_prob,
            b_gap_prob=b_gap_prob,
            seed=seed,
        )
        self.mem_model = mem_model
        mem_dut = _find(dut, "g_py_mem.u_mem", "u_mem")
        self.mem_service: AxiMemService | None = None
        self.axiram: Any = None
        if mem_model == "py":
            if mem_dut is None:
                raise ValueError("mem_model='py' needs the harness built with USE_PY_MEM=1")
            self.mem_service = AxiMemService(mem_dut, mem, dut, self.data_width, record=record_bursts)
            for spec in error_ranges:
                self.mem_service.inject_error(*spec)
        elif mem_model == "axiram":
            if mem_dut is not None:
                raise ValueError("mem_model='axiram' needs the harness built with USE_PY_MEM=0")
            if error_ranges:
                raise ValueError("error_ranges need mem_model='py'")
        else:
            raise ValueError(f"unknown mem_model {mem_model!r}")
        self.mmio = MmioPort(dut.u_axil)
        self.wire = XgmiiCapture(dut.u_xgmii, self.period_ps, keep=keep_frames)
        self.wire.listeners.append(self._emit_frame)
        self.monitor = ProtocolMonitor(dut.u_check, dut.u_xgmii, self.period_ps)
        self._irq_task: RawValueWake | None = None
        self._env: CocotbEnv | None = None
        self._started = False
        self.irq_edges = 0

    # helpers ---------------------------------------------------------------------------
    def _param(self, name: str, default: int) -> int:
        try:
            return int(getattr(self.dut, name).value)
        except Exception:
            return default

    def ns_to_cycles(self, ns: float) -> int:
        return round(ns * 1000 / self.period_ps)

    def cycle_to_ps(self, cycle: int) -> int:
        return cycle * self.period_ps + self.period_ps // 2

    def now(self) -> int:
        """Simulator time in ps."""
        return _now_ps()

    @property
    def cycle(self) -> int:
        return int(self.dut.cycle.value)

    @property
    def frames(self) -> list[WireFrame]:
        return self.wire.frames

    # NicBackend --------------------------------------------------------------------------
    def writel(self, offset: int, value: int) -> None:
        self.mmio.write(offset, value)

    async def readl(self, offset: int) -> int:
        env = self._env
        if env is None:
            return await self.mmio.read(offset)
        # a kernel-model task stepped by CocotbEnv: wait on an env event, not a cocotb one
        done = env.event("readl")
        box: list[int] = []

        def complete(value: int) -> None:
            box.append(value)
            done.set()

        self.mmio.read_cb(offset, complete)
        await done.wait()
        return box[0]

    def attach_env(self, env: CocotbEnv) -> None:
        """Serve `readl` to tasks of `env` (a CocotbEnv) instead of cocotb coroutines."""
        self._env = env

    # control -----------------------------------------------------------------------------
    def set_mem_timing(self, **changes: Any) -> None:
        """Change memory knobs now (MemTiming field names, or mem_latency_ns / wr_latency_ns)."""
        if "mem_latency_ns" in changes:
            changes["rd_latency_cycles"] = self.ns_to_cycles(changes.pop("mem_latency_ns"))
        if "wr_latency_ns" in changes:
            changes["wr_latency_cycles"] = self.ns_to_cycles(changes.pop("wr_latency_ns"))
        for k, v in changes.items():
            if not hasattr(self.timing, k):
                raise TypeError(f"unknown memory knob {k!r}")
            setattr(self.timing, k, v)
        if self.mem_service is not None:
            self.mem_service.set_timing(self.timing)

    def inject_error(self, addr: int, length: int, resp: int = SLVERR, kind: str = "rw",
                     count: int | None = None) -> InjectedError:
        """DMA bursts touching [addr, addr+length) are answered `resp` (SLVERR/DECERR)."""
        if self.mem_service is None:
            raise ValueError("error injection needs mem_model='py'")
        return self.mem_service.inject_error(addr, length, resp, kind, count)

    def clear_injected_errors(self) -> None:
        if self.mem_service is not None:
            self.mem_service.clear_errors()

    async def start(self) -> None:
        """Start the service tasks (DMA, MMIO, IRQ, wire). Idempotent."""
        if self._started:
            return
        self._started = True
        if self.mem_service is not None:
            self.mem_service.set_timing(self.timing)
            self.mem_service.start()
        else:
            self._start_axiram()
        self.mmio.start()
        self.wire.start()
        self._irq_h = raw_handle(self.dut.irq)
        self._irq_task = RawValueWake(self.dut.irq, self._on_irq, "irq")
        self._irq_task.start()
        self._set_irq(bool(raw_int(self._irq_h)))

    def _start_axiram(self) -> None:
        from cocotbext.axi import AxiBus, AxiSlave

        for name in ("cocotb.nic_harness.m_axi", "cocotbext.axi"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # Verilator builds (EXT_MEM_NEGEDGE=1, see nic_harness.v) clock the model on ~clk
        # (a constant wire may still read Z before time 0's first delta on Icarus: that means 0)
        flag = self.dut.ext_mem_negedge.value if hasattr(self.dut, "ext_mem_negedge") else None
        negedge = flag is not None and flag.is_resolvable and int(flag) == 1
        clock = self.dut.m_axi_clk if negedge else self.dut.clk
        self.axiram = AxiSlave(AxiBus.from_prefix(self.dut, "m_axi"), clock, self.dut.rst,
                               target=HostMemAxiTarget(self.mem))
        for iface in (self.axiram.read_if, self.axiram.write_if):
            iface.log.setLevel(logging.WARNING)

    def stop(self) -> None:
        """Stop the service tasks (the simulation keeps running)."""
        if self.mem_service is not None:
            self.mem_service.stop()
        self.mmio.stop()
        self.wire.stop()
        if self._irq_task is not None:
            self._irq_task.stop()
            self._irq_task = None
        self._started = False

    async def reset(self, cycles: int = 8) -> None:
        """Start the service tasks if needed, hold rst for `cycles`, release it."""
        from cocotb.triggers import ClockCycles, RisingEdge

        await self.start()
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def wait_cycles(self, n: int) -> None:
        from cocotb.triggers import ClockCycles

        await ClockCycles(self.dut.clk, n)

    async def wait_frames(self, n: int) -> list[WireFrame]:
        """Wait until `n` frames in total have left the MAC; returns .frames."""
        await self.wire.wait_frames(n)
        return self.wire.frames

    async def wait_frame(self) -> WireFrame:
        """Wait for the next frame on the wire."""
        await self.wire.wait_frames(self.wire.count + 1)
        return self.wire.frames[-1] if self.wire.keep else None  # type: ignore[return-value]

    def _on_irq(self) -> None:
        self.irq_edges += 1
        self._set_irq(bool(raw_int(self._irq_h)))

    # verdict -----------------------------------------------------------------------------
    def errors(self, *, dma_violations: bool = True) -> list[str]:
        """Every problem seen so far, one line each (empty: all good)."""
        out = self.monitor.axi_errors() + self.monitor.xgmii_errors()
        out += [f"XGMII: {e}" for e in self.wire.framing_errors]
        if self.wire.missed:
            out.append(f"{self.wire.missed} frame(s) missed by the capture task")
        out += self.mmio.errors
        if self.mmio.pending:
            out.append(f"{self.mmio.pending} MMIO access(es) still queued")
        if dma_violations:
            out += [f"IOMMU: {v.kind} {v.addr:#x}+{v.length} at {v.time_ps} ps: {v.reason}"
                    for v in self.mem.violations]
        return out

    def check(self, *, dma_violations: bool = True) -> None:
        """AssertionError listing every protocol violation, framing error, MMIO error
        response, missed frame and (unless dma_violations=False) IOMMU violation."""
        errs = self.errors(dma_violations=dma_violations)
        if errs:
            raise AssertionError("RTL harness found problems:\n  " + "\n  ".join(errs))

    def stats(self) -> dict[str, Any]:
        s: dict[str, Any] = {
            "frames": self.wire.count,
            "mmio_writes": self.mmio.n_writes,
            "mmio_reads": self.mmio.n_reads,
            "irq_edges": self.irq_edges,
            "wire_wall_us_per_frame": 1e6 * self.wire.wall / self.wire.count if self.wire.count else 0.0,
        }
        if self.mem_service is not None:
            s.update(self.mem_service.stats())
        return s
