"""The testbed on the RTL, and raw frames through nic_top: what a cocotb test of hilnic uses.

The whole machine (stack, driver, peer) on nic_top:

    @testbed_test(timeout_us=20_000)          # 20 ms for the test's own work; set-up and
    async def test_bulk(dut):                 # teardown bounds are added to it
        tb = await rtl_testbed(dut, TestbedConfig(ring_size=64))   # reset, probe, open: ready
        r = await tb.process(tcp_bulk(tb, 64 << 10), 20 * MS)
        await rtl_teardown(tb)                # close; harness problems, leaks -> AssertionError

Raw frames, no stack: `RawTx` owns one transmit ring in host memory and hands frames to the NIC
the way a driver does (buffer, descriptor, doorbell), then returns what came out on XGMII:

    tx = await raw_tx(dut)                    # reset, a ring of 64, TCTL.EN | PSP
    out = await tx.send(frame)                # WireFrame: .data (frame + FCS), .fcs_ok, .t_start, .t_end

Runs inside the simulator. The model testbed (hilnic.testbed) does not import this module, so
it never imports cocotb.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from hilnic.cosim.api import rtl_test, with_sim_timeout
from hilnic.cosim.bridge import RtlNic
from hilnic.cosim.cocotb_env import CocotbEnv
from hilnic.hw.backend import WireFrame
from hilnic.hw.regs import (
    E1000_TCTL_EN,
    E1000_TCTL_PSP,
    E1000_TXD_CMD_EOP,
    E1000_TXD_CMD_IC,
    E1000_TXD_CMD_IFCS,
    E1000_TXD_CMD_RS,
    TX_DESC_SIZE,
    Reg,
    TxDesc,
)
from hilnic.kernel.env import US
from hilnic.mm.hostmem import DmaDir, HostMemory

# the TCP receive/timer modules are imported lazily by the stack; import them here (start-up)
# rather than inside the first connection
from hilnic.net.ipv4 import ip_input, tcp_input, tcp_ipv4, tcp_timer  # noqa: F401
from hilnic.testbed import SETUP_TIME_PS, TEARDOWN_TIME_PS, PeerFactory, Testbed, TestbedConfig


def testbed_test(timeout_us: float | None = 1000.0, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """`@cocotb.test` for a test on `rtl_testbed`: bounded by `timeout_us` of simulated time for
    the test's own work plus the driver's set-up and teardown bounds (SETUP_TIME_PS,
    TEARDOWN_TIME_PS), so a short bound never cuts the ~1 ms probe or the 10 ms close.
    None: unbounded. Other keyword arguments go to cocotb.test."""
    if timeout_us is None:
        return rtl_test(None, **kwargs)
    return rtl_test(timeout_us + (SETUP_TIME_PS + TEARDOWN_TIME_PS) / US, **kwargs)


async def rtl_testbed(dut: Any, cfg: TestbedConfig | None = None, *, mem_latency_ns: float = 500.0,
                      env: CocotbEnv | None = None, hold_clock: bool = True, setup: bool = True,
                      make_peer: PeerFactory | None = None, **nic_args: Any) -> Testbed:
    """A Testbed on the RTL: CocotbEnv + RtlNic (reset, service tasks running) + host; with
    `setup` (the default) the driver has probed and opened eth0 and the peer is attached, so
    the testbed is ready to send (bounded by SETUP_TIME_PS of simulated time).

    hold_clock: skip the cycles in which the design is quiet (see CocotbEnv.hold_clock).
    make_peer: a peer in place of PeerHost (as Testbed's).
    nic_args go to RtlNic (e.g. keep_frames, record_bursts, wr_latency_ns, mem_model)."""
    env = env or CocotbEnv()
    env.start()
    nic_args.setdefault("keep_frames", False)
    nic = RtlNic(dut, HostMemory(), mem_latency_ns=mem_latency_ns, **nic_args)
    await nic.reset()
    nic.attach_env(env)
    if hold_clock and nic.mem_model == "py":
        env.hold_clock(dut)
    tb = Testbed(env, nic, cfg, make_peer)
    if setup:
        await env.run_process(tb.host.kernel, tb.setup(), SETUP_TIME_PS, name="testbed setup")
    return tb


async def rtl_teardown(tb: Testbed, *, check: bool = True) -> None:
    """Close eth0 (bounded by TEARDOWN_TIME_PS); with `check`, then fail (AssertionError) on
    any problem the harness saw (AXI protocol, XGMII framing, MMIO errors, IOMMU violations)
    and on a leaked skb or DMA mapping."""
    await tb.process(tb.teardown(), TEARDOWN_TIME_PS)
    if check:
        tb.nic.check()
        tb.check_clean()


# -- raw frames ------------------------------------------------------------------------------


class RawTx:
    """Frames straight into nic_top's transmit ring, no stack and no driver.

    One ring of `ring_size` legacy descriptors in host memory, programmed as e1000_configure_tx
    does (TDBA, TDLEN, TDH = TDT = 0, TCTL.EN, and PSP: pad short frames to 60 bytes). Each
    frame is copied to DMA-mapped buffers, one descriptor per piece (IFCS on every one, EOP and
    RS on the last), the doorbell (TDT) rung once per batch; `send` and `send_many` then wait
    for the frames on XGMII and for the write-back of the batch's last descriptor, unmap and
    free the buffers, and return the WireFrames (data with the FCS the MAC appended).

    A frame the NIC refuses (see docs/nic.md §5: longer than its maximum, a bad descriptor)
    never appears: the wait fails with an AssertionError naming its bound.
    """

    def __init__(self, nic: RtlNic, ring_size: int = 64, *, psp: bool = True) -> None:
        if ring_size * TX_DESC_SIZE % 128:
            raise ValueError(f"ring_size must be a multiple of 8 descriptors (TDLEN: 128-byte units), got {ring_size}")
        self.nic = nic
        self.mem = nic.mem
        self.ring_size = ring_size
        self.psp = psp
        self.ring = 0
        self.tail = 0
        self.seen: list[WireFrame] = []  # every frame the MAC sent since start()
        nic.on_frame(self.seen.append)

    async def start(self) -> None:
        """Allocate the ring and program it; the transmitter is enabled when this returns."""
        self.ring = self.mem.dma_alloc_coherent(self.ring_size * TX_DESC_SIZE, owner="raw tx ring")
        w = self.nic.writel
        w(Reg.TDBAL, self.ring & 0xFFFFFFFF)
        w(Reg.TDBAH, self.ring >> 32)
        w(Reg.TDLEN, self.ring_size * TX_DESC_SIZE)
        w(Reg.TDH, 0)
        w(Reg.TDT, 0)
        w(Reg.TCTL, E1000_TCTL_EN | (E1000_TCTL_PSP if self.psp else 0))
        await self.nic.mmio.flush()

    async def send(self, frame: bytes | Sequence[bytes], *, css: int = 0, cso: int = 0,
                   timeout_us: float | None = None) -> WireFrame:
        """Send one frame (bytes, or a list of pieces for scatter-gather) and return it as it
        left the MAC. cso > 0 asks the NIC to insert a checksum: the 16-bit ones' complement
        sum from byte `css` to the end, stored at byte `cso` (the field holds the seed, e.g. the
        pseudo-header sum, as Linux leaves a CHECKSUM_PARTIAL skb)."""
        (out,) = await self._batch([(frame, css, cso)], timeout_us)
        return out

    async def send_many(self, frames: Iterable[bytes | Sequence[bytes]], *,
                        timeout_us: float | None = None) -> list[WireFrame]:
        """Send frames back to back (one doorbell per ring-full); return them from the wire,
        in order."""
        items = [(f, 0, 0) for f in frames]
        out: list[WireFrame] = []
        batch: list[tuple[bytes | Sequence[bytes], int, int]] = []
        room = self.ring_size - 1  # a full ring is TDT one behind TDH
        used = 0
        for item in items:
            n = 1 if isinstance(item[0], bytes | bytearray | memoryview) else max(1, len(item[0]))
            if n > room:
                raise ValueError(f"a frame of {n} pieces does not fit a ring of {self.ring_size}")
            if used + n > room:
                out += await self._batch(batch, timeout_us)
                batch, used = [], 0
            batch.append(item)
            used += n
        if batch:
            out += await self._batch(batch, timeout_us)
        return out

    def check(self) -> None:
        """AssertionError listing every problem the harness saw (protocol, framing, MMIO, IOMMU)."""
        self.nic.check()

    # -- internals -------------------------------------------------------------------------

    async def _batch(self, items: list[tuple[bytes | Sequence[bytes], int, int]],
                     timeout_us: float | None) -> list[WireFrame]:
        first_seen = len(self.seen)
        buffers: list[tuple[int, int, int]] = []  # (alloc, dma addr, length)
        last_idx = self.tail
        for frame, css, cso in items:
            pieces = [bytes(frame)] if isinstance(frame, bytes | bytearray | memoryview) else [bytes(p) for p in frame]
            for k, piece in enumerate(pieces):
                base = self.mem.alloc(len(piece) + 64, align=64)
                self.mem.write(base, piece)
                if piece:
                    self.mem.dma_map(base, len(piece), DmaDir.TO_DEVICE, owner="raw tx buffer")
                buffers.append((base, base, len(piece)))
                eop = k == len(pieces) - 1
                cmd = E1000_TXD_CMD_IFCS | (E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS if eop else 0)
                if eop and cso:
                    cmd |= E1000_TXD_CMD_IC
                d = TxDesc(addr=base, length=len(piece), cmd=cmd, css=css if eop else 0, cso=cso if eop else 0)
                self.mem.write(self.ring + TX_DESC_SIZE * self.tail, d.pack())
                last_idx = self.tail
                self.tail = (self.tail + 1) % self.ring_size
        self.nic.writel(Reg.TDT, self.tail)  # the doorbell
        n = len(items)
        bound = timeout_us if timeout_us is not None else 100.0 + 20.0 * n
        await with_sim_timeout(self._until(lambda: len(self.seen) >= first_seen + n), bound,
                               f"{n} frame(s) on the wire")
        last = self.ring + TX_DESC_SIZE * last_idx
        await with_sim_timeout(self._until(lambda: TxDesc.unpack(self.mem.read(last, TX_DESC_SIZE)).dd), bound,
                               "the write-back of the last descriptor")
        for base, addr, length in buffers:
            if length:
                self.mem.dma_unmap(addr, length)
            self.mem.free(base)
        return self.seen[first_seen:first_seen + n]

    async def _until(self, cond: Callable[[], bool], step_cycles: int = 16) -> None:
        while not cond():
            await self.nic.wait_cycles(step_cycles)


async def raw_tx(dut: Any, *, ring_size: int = 64, psp: bool = True, mem_latency_ns: float = 500.0,
                 **nic_args: Any) -> RawTx:
    """RtlNic on `dut` (nic_harness) reset and running, a RawTx ring programmed and enabled.
    nic_args go to RtlNic (memory timing, error injection, seed)."""
    nic = RtlNic(dut, HostMemory(), mem_latency_ns=mem_latency_ns, keep_frames=False, **nic_args)
    await nic.reset()
    tx = RawTx(nic, ring_size, psp=psp)
    await tx.start()
    return tx


__all__ = ["RawTx", "raw_tx", "rtl_teardown", "rtl_testbed", "testbed_test"]
