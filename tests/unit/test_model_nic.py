"""The behavioral NIC (hw/model.py) against docs/nic.md, in virtual time, without a driver.

Frames are built and checked with scapy; the FCS is checked against a bitwise CRC-32 written
here (independent of zlib); timing is measured in virtual picoseconds.
"""

import itertools
import struct

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether

from hilnic.hw.model import ModelNic, wire_slot_cycles
from hilnic.hw.regs import (
    CLK_PERIOD_PS,
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
    E1000_TXD_CMD_VLE,
    ERR_BAD_DESC,
    ERR_DMA_READ,
    ERR_DMA_WRITE,
    ERR_RING_WRITE_EN,
    ERR_TDT_RANGE,
    ERR_TOO_LONG,
    ERR_ZERO_LEN,
    HID_VALUE,
    HVER_VALUE,
    ICR_CAUSES,
    TDWBAL_EN,
    TX_DESC_SIZE,
    TXDCTL_WTHRESH_SHIFT,
    Reg,
    TxDesc,
    reg_info,
)
from hilnic.kernel.env import MS, NS, US, VirtualEnv
from hilnic.lib.checksum import csum_partial
from hilnic.mm.hostmem import DmaDir, HostMemory

EOP_CMD = E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS
LINE_RATE_1518 = 812_743  # frames/s (docs/nic.md §6)
LINE_RATE_64 = 14_880_952


def crc32_bitwise(data: bytes) -> int:
    """IEEE 802.3 CRC-32, reflected, one bit at a time (reference for zlib's)."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def udp_frame(payload_len: int = 100, seed: int = 0) -> bytes:
    payload = bytes((seed + i) & 0xFF for i in range(payload_len))
    return bytes(
        Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01")
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / UDP(sport=1000 + seed, dport=9)
        / payload
    )


def raw_frame(length: int, seed: int = 0) -> bytes:
    """A frame of exactly `length` bytes (Ethernet header + filler) that names its seed."""
    hdr = bytes.fromhex("020000000002020000000001") + b"\x88\xb5"
    body = struct.pack(">I", seed) + bytes((seed * 7 + i) & 0xFF for i in range(length - 18))
    return (hdr + body)[:length]


class Bench:
    """A ring in host memory, the model, and helpers to post descriptors and read registers."""

    def __init__(self, n: int = 256, tctl: int = E1000_TCTL_EN | E1000_TCTL_PSP, ring_dir: DmaDir | None = None, **kw):
        self.env = VirtualEnv()
        self.mem = HostMemory(size=32 << 20)
        self.mem.clock = self.env
        self.nic = ModelNic(self.env, self.mem, **kw)
        self.frames = []
        self.nic.on_frame(self.frames.append)
        self.irq_log: list[tuple[int, bool]] = []
        self.nic.on_irq(lambda level: self.irq_log.append((self.env.now(), level)))
        self.n = n
        if ring_dir is None:
            self.ring = self.mem.dma_alloc_coherent(n * TX_DESC_SIZE)
        else:
            self.ring = self.mem.alloc(n * TX_DESC_SIZE, align=4096)
            self.mem.dma_map(self.ring, n * TX_DESC_SIZE, ring_dir)
        self.tail = 0
        self.bufs: dict[int, int] = {}
        if tctl is not None:
            self.configure(tctl)

    def configure(self, tctl: int) -> None:
        w = self.nic.writel
        w(Reg.TDBAL, self.ring & 0xFFFFFFFF)
        w(Reg.TDBAH, self.ring >> 32)
        w(Reg.TDLEN, self.n * TX_DESC_SIZE)
        w(Reg.TDH, 0)
        w(Reg.TDT, 0)
        w(Reg.TCTL, tctl)
        self.env.run()

    def buf(self, data: bytes, offset: int = 0, mapped: bool = True) -> int:
        """Copy `data` into a new buffer at `offset` bytes past a 64-byte boundary."""
        base = self.mem.alloc(len(data) + offset + 64, align=64)
        addr = base + offset
        self.mem.write(addr, data)
        if mapped:
            self.mem.dma_map(addr, len(data), DmaDir.TO_DEVICE)
        return addr

    def put(self, addr: int, length: int, cmd: int, cso: int = 0, css: int = 0, special: int = 0) -> int:
        idx = self.tail
        self.mem.write(self.ring + idx * TX_DESC_SIZE, TxDesc(addr, length, cso, cmd, 0, css, special).pack())
        self.tail = (self.tail + 1) % self.n
        return idx

    def post(self, frame: bytes, cmd: int = EOP_CMD, **kw) -> int:
        return self.put(self.buf(frame), len(frame), cmd, **kw)

    def doorbell(self) -> None:
        self.nic.writel(Reg.TDT, self.tail)

    def desc(self, idx: int) -> TxDesc:
        return TxDesc.unpack(self.mem.read(self.ring + idx * TX_DESC_SIZE, TX_DESC_SIZE))

    def readl(self, reg: int) -> int:
        task = self.env.spawn(self.nic.readl(reg))
        return self.env.run_until_complete(task, timeout=1 * MS)

    def run(self, until: int | None = None) -> None:
        self.env.run(until=until)


def test_every_register_has_its_reset_value_and_access_type():
    b = Bench(tctl=None, dma_data_width=256, desc_prefetch=4, max_frame_bytes=2048)
    info = reg_info(256, 4, 2048)
    for reg, ri in info.items():
        assert b.nic.peek(reg) == ri.reset, reg.name
    assert b.readl(Reg.HID) == HID_VALUE
    assert b.readl(Reg.HVER) == HVER_VALUE
    assert b.readl(Reg.HCAPS) == 32 | (4 << 8) | ((2048 // 16) << 16)
    assert b.readl(Reg.STATUS) == E1000_STATUS_LU

    plain_rw = [Reg.ITR, Reg.TDBAL, Reg.TDBAH, Reg.TDLEN, Reg.TIDV, Reg.TXDCTL, Reg.TADV, Reg.TDWBAL, Reg.TDWBAH]
    for reg in plain_rw:
        b.nic.writel(reg, 0xFFFFFFFF)
        assert b.readl(reg) == info[reg].writable_mask, reg.name  # unimplemented bits read 0
        b.nic.writel(reg, 0)
        assert b.readl(reg) == 0, reg.name
    for reg in [r for r, ri in info.items() if ri.access == "RO"]:
        before = b.nic.peek(reg)
        b.nic.writel(reg, 0xFFFFFFFF if before == 0 else 0)
        assert b.readl(reg) == before, reg.name
    for reg in [r for r, ri in info.items() if ri.access == "WO"]:
        b.nic.writel(reg, 0)  # harmless value
        assert b.readl(reg) == 0, reg.name  # write-only: reads 0
    b.nic.writel(Reg.IMS, ICR_CAUSES | 0x1234_0000)
    assert b.readl(Reg.IMS) == ICR_CAUSES  # IMS reads back the mask, only real causes
    b.nic.writel(Reg.IMC, E1000_ICR_TXQE)
    assert b.readl(Reg.IMS) == ICR_CAUSES & ~E1000_ICR_TXQE
    # TDH/TDT are 16-bit; TDT needs a ring to be accepted.
    b.nic.writel(Reg.TDLEN, 128 * TX_DESC_SIZE)
    b.nic.writel(Reg.TDH, 0x1_0005)
    b.nic.writel(Reg.TDT, 7)
    assert (b.readl(Reg.TDH), b.readl(Reg.TDT)) == (5, 7)
    # Unknown offsets read 0 and ignore writes.
    b.nic.writel(0x1234, 0xFFFFFFFF)
    assert b.readl(0x1234) == 0
    assert b.readl(Reg.ERRCAUSE) == 0 and b.nic.stats()["frames"] == 0


def test_bad_mmio_arguments_raise_clear_errors():
    b = Bench(tctl=None)
    with pytest.raises(ValueError, match="aligned"):
        b.nic.writel(0x3802, 1)
    with pytest.raises(ValueError, match="32-bit"):
        b.nic.writel(Reg.ITR, 1 << 32)
    with pytest.raises(ValueError, match="aligned"):
        b.nic.writel(0x10000, 1)
    with pytest.raises(ValueError, match="dma_data_width"):
        ModelNic(b.env, b.mem, dma_data_width=96)
    with pytest.raises(ValueError, match="max_frame_bytes"):
        ModelNic(b.env, b.mem, max_frame_bytes=1000)


def test_byte_strobed_write_updates_only_strobed_bytes():
    b = Bench(tctl=None)
    b.nic.writel(Reg.TDBAH, 0x11223344)
    b.nic.write_strobed(Reg.TDBAH, 0xAABBCCDD, 0b0101)
    assert b.readl(Reg.TDBAH) == 0x11BB33DD
    b.nic.write_strobed(Reg.TDBAH, 0xFFFFFFFF, 0)
    assert b.readl(Reg.TDBAH) == 0x11BB33DD


def test_mmio_read_waits_for_posted_writes_and_takes_a_round_trip():
    b = Bench(tctl=None, mmio_read_latency_ps=1 * US)
    t0 = b.env.now()
    b.nic.writel(Reg.ITR, 77)
    assert b.nic.peek(Reg.ITR) == 0  # posted: not applied yet

    async def reader():
        v = await b.nic.readl(Reg.ITR)
        return v, b.env.now() - t0

    assert b.env.run_until_complete(b.env.spawn(reader()), timeout=1 * MS) == (77, 1 * US)


def test_one_frame_leaves_byte_exact_with_fcs():
    b = Bench()
    frame = udp_frame(200)
    b.post(frame)
    b.doorbell()
    b.run()
    assert len(b.frames) == 1
    wf = b.frames[0]
    assert wf.data[:-4] == frame
    assert wf.data[-4:] == crc32_bitwise(frame).to_bytes(4, "little")  # FCS goes out LSB first
    assert wf.fcs_ok and wf.index == 0
    p = Ether(wf.data[:-4])
    assert p[UDP].load == bytes(i & 0xFF for i in range(200))
    # Wire time: preamble + frame + FCS at 0.8 ns/byte, start on a 6.4 ns boundary.
    assert wf.t_end - wf.t_start == (8 + len(frame) + 4) * 800
    assert wf.t_start % CLK_PERIOD_PS == 0
    assert b.desc(0).dd and b.readl(Reg.TDH) == 1
    assert b.mem.violations == []


def test_scatter_gather_with_odd_alignments_and_empty_buffers():
    b = Bench()
    frame = udp_frame(1000, seed=3)
    cuts = [0, 1, 14, 14, 47, 333, 998, len(frame)]  # includes a zero-length buffer
    offsets = [1, 3, 0, 7, 15, 9, 5]
    for i in range(len(cuts) - 1):
        piece = frame[cuts[i] : cuts[i + 1]]
        last = i == len(cuts) - 2
        if piece:
            b.put(b.buf(piece, offset=offsets[i]), len(piece), EOP_CMD if last else 0)
        else:
            b.put(0, 0, 0)  # LEN 0: no data read, even from address 0
    b.doorbell()
    b.run()
    assert [f.data[:-4] for f in b.frames] == [frame]
    assert b.frames[0].fcs_ok
    assert b.mem.violations == []
    assert b.readl(Reg.TDH) == len(cuts) - 1


def test_ring_wraps_and_bursts_never_leave_the_ring():
    b = Bench(n=8, desc_prefetch=8)
    reads = []
    orig = b.mem.dma_read

    def spy(addr, length):
        if b.ring <= addr < b.ring + 8 * TX_DESC_SIZE:
            reads.append((addr, length))
        return orig(addr, length)

    b.mem.dma_read = spy
    sent = []
    for batch in range(5):
        for k in range(5):
            f = raw_frame(100, seed=batch * 5 + k)
            sent.append(f)
            b.post(f)
            if k == 2:
                b.doorbell()  # doorbell mid-batch too
        b.doorbell()
        b.run()
    assert [f.data[:-4] for f in b.frames] == sent
    assert [f.index for f in b.frames] == list(range(25))
    assert b.readl(Reg.TDH) == 25 % 8
    for addr, length in reads:
        assert length <= 8 * TX_DESC_SIZE and length % TX_DESC_SIZE == 0
        assert addr + length <= b.ring + 8 * TX_DESC_SIZE
    assert b.mem.violations == []


@pytest.mark.parametrize("l4", ["tcp", "udp"])
def test_checksum_insertion_matches_scapy(l4):
    b = Bench()
    payload = bytes(range(256)) * 3 + b"x"  # odd length
    ip = IP(src="192.168.1.10", dst="192.168.1.20", id=7)
    seg = TCP(sport=40000, dport=5001, seq=123456, ack=99, flags="PA") if l4 == "tcp" else UDP(sport=5353, dport=53)
    full = Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01") / ip / seg / payload
    good = Ether(bytes(full))  # scapy fills the correct checksums
    csum_off = 16 if l4 == "tcp" else 6
    css = 14 + 20
    l4_len = len(bytes(good[IP].payload))
    # What Linux leaves for CHECKSUM_PARTIAL: the folded pseudo-header sum, not complemented.
    pseudo = struct.pack(
        ">4s4sBBH",
        bytes(map(int, ["192", "168", "1", "10"])),
        bytes(map(int, ["192", "168", "1", "20"])),
        0,
        6 if l4 == "tcp" else 17,
        l4_len,
    )
    partial = bytearray(bytes(good))
    partial[css + csum_off : css + csum_off + 2] = csum_partial(pseudo).to_bytes(2, "big")
    b.post(bytes(partial), EOP_CMD | E1000_TXD_CMD_IC, css=css, cso=css + csum_off)
    b.doorbell()
    b.run()
    out = Ether(b.frames[0].data[:-4])
    layer = TCP if l4 == "tcp" else UDP
    assert out[layer].chksum == good[layer].chksum
    assert b.frames[0].data[:-4] == bytes(good)


def test_psp_pads_short_frames_to_60_before_fcs():
    for tctl, wire_len in ((E1000_TCTL_EN | E1000_TCTL_PSP, 64), (E1000_TCTL_EN, 46)):
        b = Bench(tctl=tctl)
        frame = raw_frame(42)
        b.post(frame)
        b.doorbell()
        b.run()
        data = b.frames[0].data
        assert len(data) == wire_len
        assert data[:42] == frame and set(data[42:-4]) <= {0}
        assert data[-4:] == crc32_bitwise(data[:-4]).to_bytes(4, "little")


def test_frame_without_ifcs_is_sent_as_is_and_vlan_insertion():
    b = Bench()
    frame = raw_frame(80)
    with_fcs = frame + crc32_bitwise(frame).to_bytes(4, "little")
    b.post(with_fcs, E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS)
    b.post(udp_frame(50), EOP_CMD | E1000_TXD_CMD_VLE, special=0x2005)
    b.doorbell()
    b.run()
    assert b.frames[0].data == with_fcs and b.frames[0].fcs_ok
    tagged = Ether(b.frames[1].data[:-4])
    assert tagged[Dot1Q].vlan == 5 and tagged[Dot1Q].prio == 1 and tagged[UDP].dport == 9
    assert b.frames[1].fcs_ok


def test_dd_only_for_rs_written_in_ring_order_after_the_data_was_read():
    b = Bench()
    log = []
    rd, wr = b.mem.dma_read, b.mem.dma_write
    b.mem.dma_read = lambda a, n: (log.append(("r", a)), rd(a, n))[1]
    b.mem.dma_write = lambda a, d, s=None: (log.append(("w", a)), wr(a, d, s))[1]
    bufs = []
    for i in range(12):
        f = raw_frame(300, seed=i)
        cmd = E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | (E1000_TXD_CMD_RS if i % 2 == 0 else 0)
        if i == 10:
            cmd = E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RPS  # RPS counts as RS
        bufs.append(b.buf(f))
        b.put(bufs[-1], len(f), cmd)
    b.doorbell()
    b.run()
    assert len(b.frames) == 12
    assert [b.desc(i).dd for i in range(12)] == [i % 2 == 0 for i in range(12)]
    for i in range(12):
        d = b.desc(i)  # the write-back left every other byte alone
        assert d.addr == bufs[i] and d.length == 300 and d.sta & 0x0E == 0
    wb = [a for k, a in log if k == "w"]
    assert wb == sorted(wb) and len(wb) == 6
    for a in wb:
        idx = (a - b.ring) // TX_DESC_SIZE
        assert log.index(("r", bufs[idx])) < log.index(("w", a))
    assert b.nic.stats()["writebacks"] == 6


def test_head_write_back_replaces_dd():
    b = Bench()
    hwb = b.mem.dma_alloc_coherent(64)
    b.mem.write(hwb, b"\xee" * 4)
    b.nic.writel(Reg.TDWBAL, (hwb & 0xFFFFFFFF) | TDWBAL_EN)
    b.nic.writel(Reg.TDWBAH, hwb >> 32)
    for i in range(5):
        b.post(raw_frame(200, seed=i))
    b.doorbell()
    b.run()
    assert len(b.frames) == 5
    assert int.from_bytes(b.mem.read(hwb, 4), "little") == 5
    assert not any(b.desc(i).dd for i in range(5))
    assert b.nic.stats()["head_writebacks"] >= 1 and b.nic.stats()["writebacks"] == 0


def test_wthresh_batches_write_backs_and_flushes_when_idle():
    b = Bench()
    b.nic.writel(Reg.TXDCTL, 4 << TXDCTL_WTHRESH_SHIFT)
    b.nic.writel(Reg.IMS, E1000_ICR_TXDW)
    times = []
    wr = b.mem.dma_write
    b.mem.dma_write = lambda a, d, s=None: (times.append(b.env.now()), wr(a, d, s))[1]
    for i in range(10):
        b.post(raw_frame(1000, seed=i))
    b.doorbell()
    b.run()
    assert len(times) == 10 and all(b.desc(i).dd for i in range(10))
    groups = [times.count(t) for t in sorted(set(times))]
    assert groups == [4, 4, 2]  # two full batches, then the rest when the ring went idle


def test_icr_read_clears_and_w1c_and_ics():
    b = Bench(tctl=None)
    b.nic.writel(Reg.ICS, E1000_ICR_TXDW | E1000_ICR_TXQE)
    b.run()
    assert not b.nic.irq_level  # masked
    b.nic.writel(Reg.ICR, E1000_ICR_TXQE)  # W1C
    assert b.readl(Reg.ICR) == E1000_ICR_TXDW  # INT_ASSERTED clear: nothing enabled
    assert b.readl(Reg.ICR) == 0  # read cleared it
    b.nic.writel(Reg.IMS, E1000_ICR_TXDW)
    b.nic.writel(Reg.ICS, E1000_ICR_TXDW | E1000_ICR_ERR)
    b.run()
    assert b.nic.irq_level
    assert b.readl(Reg.ICR) == E1000_ICR_TXDW | E1000_ICR_ERR | E1000_ICR_INT_ASSERTED
    assert not b.nic.irq_level and b.readl(Reg.ICR) == 0
    b.nic.writel(Reg.ICS, E1000_ICR_TXDW)
    b.run()
    assert b.nic.irq_level
    b.nic.writel(Reg.IMC, E1000_ICR_TXDW)  # masking drops the line, the cause stays
    b.run()
    assert not b.nic.irq_level and b.nic.peek(Reg.ICR) == E1000_ICR_TXDW


def _irq_assert_times(b: Bench) -> list[int]:
    return [t for t, level in b.irq_log if level]


def _service_irq(b: Bench):
    """A CPU that reads ICR (clearing it) whenever the line goes up."""

    def on_irq(level):
        if level:
            b.env.spawn(b.nic.readl(Reg.ICR))

    b.nic.on_irq(on_irq)


@pytest.mark.parametrize("itr", [0, 100])
def test_itr_spaces_interrupt_assertions(itr):
    b = Bench()
    _service_irq(b)
    b.nic.writel(Reg.ITR, itr)
    b.nic.writel(Reg.IMS, E1000_ICR_TXDW)
    for i in range(40):  # one frame every 3 us, each written back
        b.env.call_at(b.env.now() + i * 3 * US, lambda i=i: (b.post(raw_frame(200, seed=i)), b.doorbell()))
    b.run()
    assert len(b.frames) == 40
    asserts = _irq_assert_times(b)
    gaps = [y - x for x, y in itertools.pairwise(asserts)]
    if itr:
        assert min(gaps) >= itr * 256 * NS
        assert len(asserts) <= 120 * US // (itr * 256 * NS) + 2
    else:
        assert len(asserts) == 40  # one per write-back
        assert min(gaps) == 3 * US


def test_tidv_delays_txdw_and_tadv_bounds_it():
    b = Bench()
    b.nic.writel(Reg.IMS, E1000_ICR_TXDW)
    b.nic.writel(Reg.TIDV, 10)  # 10.24 us, re-armed by each IDE write-back
    b.nic.writel(Reg.TADV, 30)  # 30.72 us after the first held write-back
    wb_times = []
    wr = b.mem.dma_write
    b.mem.dma_write = lambda a, d, s=None: (wb_times.append(b.env.now()), wr(a, d, s))[1]
    cmd = EOP_CMD | E1000_TXD_CMD_IDE
    b.run()
    b.post(raw_frame(100), cmd)
    b.doorbell()
    b.run()
    assert _irq_assert_times(b) == [wb_times[0] + 10240 * NS]  # TIDV alone
    b.readl(Reg.ICR)
    # IDE frames every 5 us keep re-arming TIDV; TADV fires 30.72 us after the first write-back.
    t0 = b.env.now()
    for i in range(12):
        b.env.call_at(t0 + i * 5 * US, lambda i=i: (b.post(raw_frame(100, seed=i), cmd), b.doorbell()))
    b.run(until=t0 + 40 * US)
    asserts = [t for t in _irq_assert_times(b) if t > t0]
    assert asserts[0] == wb_times[1] + 30720 * NS
    b.run()
    b.readl(Reg.ICR)
    # A write-back without IDE raises TXDW at once.
    n_wb = len(wb_times)
    b.post(raw_frame(100))
    b.doorbell()
    b.run()
    assert _irq_assert_times(b)[-1] == wb_times[n_wb]


def test_txqe_when_the_ring_goes_empty():
    b = Bench()
    for i in range(3):
        b.post(raw_frame(100, seed=i))
    b.doorbell()
    b.run()
    assert b.nic.peek(Reg.ICR) & E1000_ICR_TXQE


# -- docs/nic.md §5: bad input -----------------------------------------------------------------------


def test_tdt_out_of_range_is_ignored():
    b = Bench(n=16)
    b.nic.writel(Reg.TDT, 16)
    b.run()
    assert b.readl(Reg.TDT) == 0
    assert b.readl(Reg.ERRCAUSE) == ERR_TDT_RANGE
    assert b.readl(Reg.ICR) & E1000_ICR_ERR
    assert b.readl(Reg.ERRCAUSE) == 0  # read-clear


def test_ring_registers_written_while_enabled_are_ignored():
    b = Bench(n=16)
    for reg in (Reg.TDBAL, Reg.TDBAH, Reg.TDLEN, Reg.TDH):
        before = b.nic.peek(reg)
        b.nic.writel(reg, 0x80)
        assert b.readl(reg) == before, reg.name
        assert b.readl(Reg.ERRCAUSE) == ERR_RING_WRITE_EN
    b.post(raw_frame(64))
    b.doorbell()
    b.run()
    assert len(b.frames) == 1


def test_tdlen_low_bits_and_zero_tdlen_fetches_nothing():
    b = Bench(tctl=None)
    b.nic.writel(Reg.TDLEN, 0x1FF)
    assert b.readl(Reg.TDLEN) == 0x180
    reads = []
    orig = b.mem.dma_read
    b.mem.dma_read = lambda a, n: (reads.append(a), orig(a, n))[1]
    b.nic.writel(Reg.TDBAL, b.ring & 0xFFFFFFFF)
    b.nic.writel(Reg.TDBAH, b.ring >> 32)
    b.nic.writel(Reg.TDLEN, 0)
    b.nic.writel(Reg.TCTL, E1000_TCTL_EN)
    b.post(raw_frame(64))
    b.doorbell()
    b.run()
    assert reads == [] and b.frames == []
    assert b.readl(Reg.TDT) == 0 and b.readl(Reg.ERRCAUSE) == ERR_TDT_RANGE


def test_zero_length_descriptor_and_zero_length_frame():
    b = Bench()
    reads = []
    orig = b.mem.dma_read
    b.mem.dma_read = lambda a, n: (reads.append((a, n)), orig(a, n))[1]
    b.put(0xDEAD0000, 0, E1000_TXD_CMD_RS)  # LEN 0, part of the next frame
    f = raw_frame(100)
    b.post(f)
    b.put(0xBEEF0000, 0, EOP_CMD)  # a frame of total length 0
    b.post(raw_frame(70, seed=1))
    b.doorbell()
    b.run()
    assert [x.data[:-4] for x in b.frames] == [f, raw_frame(70, seed=1)]
    assert all(a not in (0xDEAD0000, 0xBEEF0000) for a, _ in reads)  # no data read for LEN 0
    assert [b.desc(i).dd for i in range(4)] == [True] * 4
    assert b.readl(Reg.TXDROP) == 1
    assert b.readl(Reg.ERRCAUSE) == ERR_ZERO_LEN
    assert b.mem.violations == []


def test_too_long_frame_is_dropped_and_the_ring_keeps_going():
    b = Bench(max_frame_bytes=2048)
    big = raw_frame(2049)
    b.post(big[:1000], E1000_TXD_CMD_RS)
    b.post(big[1000:])
    ok = raw_frame(2048, seed=2)
    b.post(ok)
    b.doorbell()
    b.run()
    assert [x.data[:-4] for x in b.frames] == [ok]
    assert b.desc(0).dd and b.desc(1).dd and b.desc(2).dd
    assert b.readl(Reg.TXDROP) == 1
    assert b.readl(Reg.ERRCAUSE) == ERR_TOO_LONG
    assert b.readl(Reg.ERRADDRL) == 0  # ERRADDR: DMA errors and bad (DEXT) descriptors only
    assert b.readl(Reg.TDH) == 3 and not b.readl(Reg.STATUS) & E1000_STATUS_TXOFF


def test_dext_descriptor_is_a_one_descriptor_bad_frame():
    """DEXT with a DTYP that is neither a context (0) nor TSE data (1): bad, no data read."""
    b = Bench()
    b.put(b.buf(raw_frame(100)), 100, EOP_CMD | E1000_TXD_CMD_DEXT, cso=0xF0)
    ok = raw_frame(90, seed=5)
    b.post(ok)
    b.doorbell()
    b.run()
    assert [x.data[:-4] for x in b.frames] == [ok]
    assert b.desc(0).dd
    assert b.readl(Reg.ERRCAUSE) == ERR_BAD_DESC
    assert (b.readl(Reg.ERRADDRH) << 32 | b.readl(Reg.ERRADDRL)) == b.ring
    assert b.readl(Reg.TXDROP) == 1


def test_dma_read_error_halts_without_sending_bad_data_and_en_toggle_recovers():
    b = Bench()
    b.nic.writel(Reg.IMS, E1000_ICR_ERR)
    good = [raw_frame(500, seed=i) for i in range(3)]
    b.post(good[0])
    bad_addr = b.buf(raw_frame(500, seed=9), mapped=False)
    b.put(b.buf(b"\x02" * 14), 14, 0)
    b.put(bad_addr, 500, EOP_CMD)  # an IOMMU fault
    b.post(good[1])
    b.post(good[2])
    b.doorbell()
    b.run()
    assert [x.data[:-4] for x in b.frames] == [good[0]]
    assert b.readl(Reg.STATUS) & E1000_STATUS_TXOFF
    assert b.nic.irq_level
    assert b.readl(Reg.ICR) & E1000_ICR_ERR
    assert b.readl(Reg.ERRCAUSE) == ERR_DMA_READ
    assert (b.readl(Reg.ERRADDRH) << 32 | b.readl(Reg.ERRADDRL)) == bad_addr
    assert b.readl(Reg.TDH) == 1 and not b.desc(1).dd and not b.desc(2).dd
    assert [v.addr for v in b.mem.violations] == [bad_addr]
    # Software fixes the buffer, then TCTL.EN 0→1 restarts from TDH.
    b.mem.dma_map(bad_addr, 500, DmaDir.TO_DEVICE)
    b.nic.writel(Reg.TCTL, 0)
    b.nic.writel(Reg.TCTL, E1000_TCTL_EN | E1000_TCTL_PSP)
    b.run()
    assert [x.data[:-4] for x in b.frames] == [good[0], b"\x02" * 14 + raw_frame(500, seed=9), good[1], good[2]]
    assert not b.readl(Reg.STATUS) & E1000_STATUS_TXOFF


def test_descriptor_fetch_error_and_write_back_error():
    b = Bench(tctl=None)
    bogus = b.mem.alloc(4096, align=4096)  # never mapped
    b.nic.writel(Reg.TDBAL, bogus & 0xFFFFFFFF)
    b.nic.writel(Reg.TDBAH, bogus >> 32)
    b.nic.writel(Reg.TDLEN, 128 * TX_DESC_SIZE)
    b.nic.writel(Reg.TCTL, E1000_TCTL_EN)
    b.nic.writel(Reg.TDT, 4)
    b.run()
    assert b.frames == []
    assert b.readl(Reg.ERRCAUSE) == ERR_DMA_READ and b.readl(Reg.STATUS) & E1000_STATUS_TXOFF
    assert b.readl(Reg.ERRADDRL) == bogus & 0xFFFFFFFF
    # A ring mapped for device reads only: the DD write-back faults (ERRCAUSE bit 1).
    w = Bench(ring_dir=DmaDir.TO_DEVICE)
    f = raw_frame(100)
    w.post(f)
    w.post(raw_frame(100, seed=1))
    w.doorbell()
    w.run()
    assert w.readl(Reg.ERRCAUSE) == ERR_DMA_WRITE
    assert w.readl(Reg.STATUS) & E1000_STATUS_TXOFF
    assert [x.data[:-4] for x in w.frames] == [f]  # the frame read correctly still leaves
    assert [v.kind for v in w.mem.violations] == ["write"]


def test_ctrl_rst_in_the_middle_of_traffic():
    b = Bench()
    sent = [raw_frame(1500, seed=i) for i in range(40)]
    for f in sent:
        b.post(f)
    b.doorbell()
    b.nic.writel(Reg.IMS, E1000_ICR_TXDW)
    b.nic.writel(Reg.ITR, 5)
    b.run(until=b.env.now() + 10 * US)
    assert b.frames and b.nic.irq_level
    t_rst = b.env.now()
    b.nic.writel(Reg.CTRL, E1000_CTRL_RST)
    b.run(until=t_rst + 200 * NS)
    assert b.nic.peek(Reg.CTRL) & E1000_CTRL_RST and b.nic.peek(Reg.STATUS) & E1000_STATUS_RST_BUSY
    b.run()
    n = len(b.frames)
    assert 0 < n < 40
    assert [x.data[:-4] for x in b.frames] == sent[:n]  # a prefix, every frame whole
    assert all(x.fcs_ok for x in b.frames)
    assert b.frames[-1].t_end <= t_rst + 2 * US  # at most the frame on the wire finishes
    assert not b.nic.irq_level
    for reg, ri in reg_info().items():
        if ri.access not in ("RC", "RC/W1C"):
            assert b.nic.peek(reg) == ri.reset, reg.name
    assert b.readl(Reg.GPTC) == 0 and b.readl(Reg.ICR) == 0
    # The NIC works again after being reprogrammed.
    b.tail = 0
    b.mem.write(b.ring, bytes(b.n * TX_DESC_SIZE))
    b.configure(E1000_TCTL_EN)
    b.post(sent[0])
    b.doorbell()
    b.run()
    assert b.frames[-1].data[:-4] == sent[0] and b.mem.violations == []


def test_slow_memory_gives_correct_frames_only_slower():
    fast, slow = Bench(), Bench(mem_latency_ps=5 * US)
    for bench in (fast, slow):
        for i in range(20):
            bench.post(raw_frame(1000, seed=i))
        bench.doorbell()
        bench.run()
    assert [f.data for f in fast.frames] == [f.data for f in slow.frames]
    assert slow.frames[-1].t_end > fast.frames[-1].t_end


def test_one_doorbell_is_one_pass_up_to_tdt():
    b = Bench(n=16)
    for i in range(16):
        b.put(b.buf(raw_frame(64, seed=i)), 64, EOP_CMD)  # all 16 look valid
    b.nic.writel(Reg.TDT, 5)
    b.run()
    assert len(b.frames) == 5 and b.readl(Reg.TDH) == 5
    assert b.nic.stats()["descs_fetched"] == 5


def test_statistics_count_frames_that_left_and_gotch_latches():
    b = Bench()
    frames = [raw_frame(100 + i, seed=i) for i in range(7)]
    for f in frames:
        b.post(f)
    b.doorbell()
    b.run()
    octets = sum(len(f) + 4 for f in frames)
    assert b.readl(Reg.GPTC) == 7 and b.readl(Reg.GPTC) == 0
    assert b.readl(Reg.TPT) == 7
    assert b.readl(Reg.GOTCL) == octets
    assert b.readl(Reg.GOTCH) == 0
    assert b.readl(Reg.GOTCL) == 0


def _line_rate(frame_len: int, count: int) -> tuple[float, Bench]:
    b = Bench(n=4096, mem_latency_ps=500 * NS)
    buf = b.buf(raw_frame(frame_len))
    for _ in range(count):
        b.put(buf, frame_len, EOP_CMD)  # the same buffer: only the timing matters here
    b.doorbell()
    b.run()
    assert len(b.frames) == count
    span = b.frames[-1].t_start - b.frames[0].t_start
    return (count - 1) / (span / 1e12), b


def test_line_rate_1518_byte_frames():
    rate, b = _line_rate(1514, 2000)
    assert rate >= 0.99 * LINE_RATE_1518
    assert wire_slot_cycles(1518) == 193
    assert b.nic.stats()["events"] <= 3 * 2000  # O(1) events per frame


def test_line_rate_64_byte_frames():
    rate, b = _line_rate(60, 4000)
    assert rate >= 0.95 * LINE_RATE_64
    assert b.nic.stats()["events"] <= 3 * 4000
