"""TCP segmentation offload in the behavioral NIC (hw/model.py) against docs/nic.md §3 and §5.

The same packets and bad inputs as the RTL bench (tests/rtl/tb_tso.py), checked against the
same references (tests/rtl/tso_ref.py: segments built by scapy, or byte rules with scapy's
checksum), and the zlib FCS; the differential test (tests/e2e) holds model and RTL to each
other on a whole TCP run.
"""

from __future__ import annotations

import random
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rtl"))  # tso_ref: shared with the RTL bench

from scapy.layers.inet import IP, TCP, IPOption_NOP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Packet, Raw
from tso_ref import byte_segments, check_segment, linux_tso_header, scapy_segments

from hilnic.hw.model import ModelNic
from hilnic.hw.regs import (
    E1000_TCTL_EN,
    E1000_TXD_CMD_EOP,
    E1000_TXD_CMD_IFCS,
    E1000_TXD_CMD_IP,
    E1000_TXD_CMD_RS,
    E1000_TXD_CMD_TCP,
    E1000_TXD_CMD_TSE,
    E1000_TXD_POPTS_IXSM,
    E1000_TXD_POPTS_TXSM,
    ERR_BAD_DESC,
    ERR_TOO_LONG,
    TX_DESC_SIZE,
    Reg,
    TxContextDesc,
    TxDataDesc,
    TxDesc,
)
from hilnic.kernel.env import MS, VirtualEnv
from hilnic.mm.hostmem import DmaDir, HostMemory

TUCMD_TSO = E1000_TXD_CMD_TCP | E1000_TXD_CMD_IP | E1000_TXD_CMD_TSE
POPTS = E1000_TXD_POPTS_IXSM | E1000_TXD_POPTS_TXSM


def tcp_packet(rng: random.Random, payload_len: int, *, l2: str = "eth", ip_opts: bool = False, flags: str = "PA",
               seq: int | None = None, ip_id: int | None = None) -> Packet:
    front: Packet
    if l2 == "vlan":
        front = Ether(dst="02:aa:bb:cc:dd:ee", src="02:11:22:33:44:55") / Dot1Q(vlan=5)
    elif l2 == "odd":
        front = Raw(bytes(range(15)))
    else:
        front = Ether(dst="02:aa:bb:cc:dd:ee", src="02:11:22:33:44:55")
    ip = IP(src="10.0.0.1", dst="10.0.0.2", flags="DF", id=rng.randrange(1 << 16) if ip_id is None else ip_id,
            options=[IPOption_NOP()] * 4 if ip_opts else [])
    tcp = TCP(sport=40000, dport=5001, flags=flags, seq=rng.randrange(1 << 32) if seq is None else seq,
              ack=rng.randrange(1 << 32), options=[("NOP", None), ("NOP", None), ("Timestamp", (1, 2))])
    return front / ip / tcp / Raw(rng.randbytes(payload_len))


def layout(pkt: Packet) -> dict[str, int]:
    raw = bytes(pkt)
    tucss = len(raw) - len(bytes(pkt[TCP]))
    return {"ipcss": len(raw) - len(bytes(pkt[IP])), "ipcse": tucss - 1, "tucss": tucss,
            "hdrlen": len(raw) - len(bytes(pkt[TCP].payload))}


class Bench:
    """A ring, the model in virtual time, raw descriptor posting."""

    def __init__(self, n: int = 256, **kw) -> None:
        self.env = VirtualEnv()
        self.mem = HostMemory(size=32 << 20)
        self.nic = ModelNic(self.env, self.mem, **kw)
        self.frames: list = []
        self.nic.on_frame(self.frames.append)
        self.n = n
        self.ring = self.mem.dma_alloc_coherent(n * TX_DESC_SIZE)
        self.tail = 0
        w = self.nic.writel
        w(Reg.TDBAL, self.ring & 0xFFFFFFFF)
        w(Reg.TDBAH, self.ring >> 32)
        w(Reg.TDLEN, n * TX_DESC_SIZE)
        w(Reg.TCTL, E1000_TCTL_EN)
        self.env.run()

    def buf(self, data: bytes, offset: int) -> int:
        addr = self.mem.alloc(len(data) + offset + 64, align=64) + offset
        self.mem.write(addr, data)
        self.mem.dma_map(addr, len(data), DmaDir.TO_DEVICE)
        return addr

    def raw(self, desc: bytes) -> int:
        idx = self.tail
        self.mem.write(self.ring + idx * TX_DESC_SIZE, desc)
        self.tail = (idx + 1) % self.n
        return idx

    def tso(self, data: bytes, lo: dict[str, int], mss: int, cuts: list[int], rng: random.Random, *,
            paylen: int | None = None, popts: int = POPTS, context: bool = True, eop: bool = True) -> list[int]:
        idxs = []
        if context:
            idxs.append(self.raw(TxContextDesc(
                ipcss=lo["ipcss"], ipcso=lo["ipcss"] + 10, ipcse=lo["ipcse"], tucss=lo["tucss"], tucso=lo["tucss"] + 16,
                paylen=len(data) - lo["hdrlen"] if paylen is None else paylen, tucmd=TUCMD_TSO, hdrlen=lo["hdrlen"],
                mss=mss).pack()))
        edges = [0, *cuts, len(data)]
        for k in range(len(edges) - 1):
            piece = data[edges[k]:edges[k + 1]]
            last = k == len(edges) - 2
            dcmd = E1000_TXD_CMD_IFCS | E1000_TXD_CMD_TSE | ((E1000_TXD_CMD_EOP if eop else 0) | E1000_TXD_CMD_RS
                                                             if last else 0)
            addr = self.buf(piece, rng.randrange(64)) if piece else 0
            idxs.append(self.raw(TxDataDesc(addr=addr, length=len(piece), dcmd=dcmd, popts=popts).pack()))
        return idxs

    def run(self) -> None:
        self.nic.writel(Reg.TDT, self.tail)
        self.env.run()

    def readl(self, reg: int) -> int:
        return self.env.run_until_complete(self.env.spawn(self.nic.readl(reg)), timeout=1 * MS)

    def dd(self, idx: int) -> bool:
        return bool(self.mem.read(self.ring + idx * TX_DESC_SIZE + 12, 1)[0] & 1)


def driver_bytes(pkt: Packet) -> tuple[bytes, dict[str, int]]:
    raw, lo = bytes(pkt), layout(pkt)
    return linux_tso_header(raw[:lo["hdrlen"]], lo["ipcss"], lo["tucss"]) + raw[lo["hdrlen"]:], lo


def body(frames: list) -> list[bytes]:
    """The frames without FCS, after checking the FCS with zlib."""
    out = []
    for f in frames:
        assert zlib.crc32(f.data[:-4]).to_bytes(4, "little") == f.data[-4:]
        out.append(f.data[:-4])
    return out


@pytest.mark.parametrize(("l2", "ip_opts", "flags", "payload", "mss", "parts"), [
    ("eth", False, "PA", 10000, 1448, 4),
    ("eth", False, "FPA", 3000, 536, 3),
    ("vlan", True, "FA", 100, 7, 5),
    ("odd", False, "P", 300, 64, 2),
    ("eth", False, "FPA", 1000, 1448, 1),  # one segment
    ("eth", False, "PA", 3 * 536, 536, 2),  # a multiple of MSS
    ("eth", False, "PA", 20000, 8000, 5),  # jumbo segments
])
def test_segments_are_what_scapy_builds(l2: str, ip_opts: bool, flags: str, payload: int, mss: int, parts: int) -> None:
    rng = random.Random(payload + mss)
    b = Bench()
    pkt = tcp_packet(rng, payload, l2=l2, ip_opts=ip_opts, flags=flags, ip_id=0xFFFE, seq=0xFFFFFF00)
    data, lo = driver_bytes(pkt)
    cuts = sorted(rng.sample(range(lo["hdrlen"], len(data)), parts - 1)) if parts > 1 else []
    idxs = b.tso(data, lo, mss, cuts, rng)
    b.run()
    segs = scapy_segments(pkt, mss)
    assert body(b.frames) == segs
    for k, f in enumerate(body(b.frames)):
        ipid, seq, fl, _n = check_segment(f, lo["ipcss"])
        assert ipid == (0xFFFE + k) & 0xFFFF and seq == (0xFFFFFF00 + k * mss) & 0xFFFFFFFF
        assert fl & 0x09 == (int(pkt[TCP].flags) & 0x09 if k == len(segs) - 1 else 0)
    assert b.dd(idxs[-1]) and b.readl(Reg.GPTC) == len(segs) and b.readl(Reg.TDH) == b.tail
    assert b.readl(Reg.ERRCAUSE) == 0 and b.readl(Reg.TXDROP) == 0


def test_popts_and_64k_packet() -> None:
    rng = random.Random(3)
    b = Bench()
    expected = []
    for popts in (0, E1000_TXD_POPTS_IXSM, E1000_TXD_POPTS_TXSM):
        data, lo = driver_bytes(tcp_packet(rng, 4000))
        b.tso(data, lo, 1000, [lo["hdrlen"]], rng, popts=popts)
        expected += byte_segments(data, ipcss=lo["ipcss"], ipcse=lo["ipcse"], tucss=lo["tucss"], hdrlen=lo["hdrlen"],
                                  mss=1000, ixsm=bool(popts & 1), txsm=bool(popts & 2))
    big = tcp_packet(rng, 65535 - 66)
    data, lo = driver_bytes(big)
    b.tso(data, lo, 1448, [lo["hdrlen"], lo["hdrlen"] + 32768], rng)
    expected += scapy_segments(big, 1448)
    b.run()
    assert body(b.frames) == expected
    # the segments of the 64 KiB packet leave back to back (the MAC's gap only)
    segs = b.frames[-46:]
    busy = sum(f.t_end - f.t_start for f in segs) / (segs[-1].t_end - segs[0].t_start)
    assert busy > 0.95, busy


def test_bad_input() -> None:
    """docs/nic.md §5 (the same cases as tests/rtl/tb_tso.py::tso_bad_input)."""
    rng = random.Random(11)
    b = Bench()
    data, lo = driver_bytes(tcp_packet(rng, 5000))
    ref = dict(ipcss=lo["ipcss"], ipcse=lo["ipcse"], tucss=lo["tucss"], hdrlen=lo["hdrlen"], ixsm=True, txsm=True)
    sent = 0

    def outcome(segs: list[bytes], cause: int, erraddr_idx: int | None, dd: int) -> None:
        nonlocal sent
        b.run()
        assert body(b.frames[sent:]) == segs
        sent = len(b.frames)
        assert b.readl(Reg.ERRCAUSE) == cause and b.readl(Reg.TXDROP) == (1 if cause else 0)
        if erraddr_idx is not None:
            assert b.readl(Reg.ERRADDRL) | b.readl(Reg.ERRADDRH) << 32 == b.ring + TX_DESC_SIZE * erraddr_idx
        assert b.dd(dd)

    idxs = b.tso(data, lo, 1000, [lo["hdrlen"]], rng, context=False)  # no context since reset
    outcome([], ERR_BAD_DESC, idxs[0], idxs[-1])
    idxs = b.tso(data, lo, 0, [lo["hdrlen"]], rng)  # MSS 0
    outcome([], ERR_BAD_DESC, idxs[1], idxs[-1])
    idxs = b.tso(data, lo, 1000, [lo["hdrlen"] - 1], rng)  # HDRLEN beyond the first buffer
    outcome([], ERR_BAD_DESC, idxs[1], idxs[-1])
    idxs = b.tso(data, lo, 9216 - lo["hdrlen"] + 1, [lo["hdrlen"]], rng)  # HDRLEN + MSS > MAX_FRAME_BYTES
    outcome([], ERR_TOO_LONG, None, idxs[-1])
    idxs = b.tso(data, lo, 1200, [lo["hdrlen"], 3000], rng, paylen=len(data) - lo["hdrlen"] + 1)
    outcome(byte_segments(data + b"\0", mss=1200, **ref)[:4], ERR_BAD_DESC, idxs[-1], idxs[-1])
    idxs = b.tso(data, lo, 1200, [lo["hdrlen"], 3000], rng, paylen=len(data) - lo["hdrlen"] - 5)
    outcome(byte_segments(data[:-5], mss=1200, **ref)[:4], ERR_BAD_DESC, idxs[-1], idxs[-1])
    b.tso(data[:2500], lo, 1000, [lo["hdrlen"]], rng, paylen=len(data) - lo["hdrlen"], eop=False)
    bad = b.raw(TxDesc(addr=0, length=0, cmd=E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS).pack())
    outcome(byte_segments(data, mss=1000, **ref)[:2], ERR_BAD_DESC, bad, bad)
    # a context descriptor with RS: written back, no frame; the context serves the next packet
    cidx = b.raw(TxContextDesc(ipcss=lo["ipcss"], ipcso=lo["ipcss"] + 10, ipcse=lo["ipcse"], tucss=lo["tucss"],
                               tucso=lo["tucss"] + 16, paylen=len(data) - lo["hdrlen"],
                               tucmd=TUCMD_TSO | E1000_TXD_CMD_RS, hdrlen=lo["hdrlen"], mss=1000).pack())
    b.tso(data, lo, 1000, [lo["hdrlen"]], rng, context=False)
    outcome(byte_segments(data, mss=1000, **ref), 0, None, cidx)
