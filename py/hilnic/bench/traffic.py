"""One transmit workload, shared by the cocotb benches and the pure-Verilog replay bench.

A ring of `ring_n` legacy descriptors at `base`, each pointing at one of `nbuf` frame buffers
(slot i uses buffer i % nbuf, at deliberately varied byte alignment), every descriptor
EOP|IFCS|RS with `frame_len` bytes (without FCS). The descriptors never change: refilling the
ring is only a TDT write, so the Python bench and the Verilog bench replay the same traffic.
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass, field

from hilnic.hw.regs import E1000_TXD_CMD_EOP, E1000_TXD_CMD_IFCS, E1000_TXD_CMD_RS, TxDesc

BASE = 0x1_0000_0000  # HostMemory's default base
CMD = E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS


def line_rate_fps(wire_len: int, gbps: float = 10.0) -> float:
    """Frames per second at line rate for `wire_len`-byte frames (incl. FCS): preamble+SFD
    (8) and the minimum inter-frame gap (12) take 20 more byte times."""
    return gbps * 1e9 / ((wire_len + 20) * 8)


def fcs(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "little")


def xgmii_signature(frame: bytes) -> tuple[int, int]:
    """(64-bit word sum, length incl. FCS) of a frame as nic_replay_tb.v sees it on XGMII:
    frame + FCS + terminate (0xFD) + idles (0x07) up to a word boundary, as little-endian
    64-bit words, summed mod 2**64."""
    wire = frame + fcs(frame) + b"\xfd"
    wire += b"\x07" * (-len(wire) % 8)
    s = sum(struct.unpack(f"<{len(wire) // 8}Q", wire)) & (2**64 - 1)
    return s, len(frame) + 4


def make_frame(frame_len: int, rng: random.Random, index: int) -> bytes:
    """An Ethernet II frame of `frame_len` bytes (without FCS), payload random."""
    hdr = bytes.fromhex("02000000aa01") + bytes.fromhex("020000000001") + b"\x88\xb5"  # local experimental
    body = struct.pack(">I", index) + rng.randbytes(max(0, frame_len - len(hdr) - 4))
    return (hdr + body)[:frame_len]


@dataclass
class Traffic:
    frame_len: int
    ring_n: int = 256
    seed: int = 1
    base: int = BASE
    nbuf: int = 0
    frames: list[bytes] = field(default_factory=list)
    buf_addrs: list[int] = field(default_factory=list)
    size: int = 0  # bytes from base that hold the ring and the buffers

    def __post_init__(self) -> None:
        if self.ring_n % 8 or not 8 <= self.ring_n <= 65536:
            raise ValueError("ring_n must be a multiple of 8 in [8, 65536]")
        stride = (self.frame_len + 64 + 63) // 64 * 64
        if not self.nbuf:
            self.nbuf = max(1, min(self.ring_n, 64, (1 << 19) // stride))
        rng = random.Random(self.seed)
        self.frames = [make_frame(self.frame_len, rng, i) for i in range(self.nbuf)]
        buf_base = self.base + (self.ring_n * 16 + 4095) // 4096 * 4096
        self.buf_addrs = [buf_base + i * stride + (i * 5) % 61 for i in range(self.nbuf)]
        self.size = buf_base + self.nbuf * stride - self.base

    def desc(self, slot: int) -> TxDesc:
        return TxDesc(addr=self.buf_addrs[slot % self.nbuf], length=self.frame_len, cmd=CMD)

    def frame_for(self, index: int) -> bytes:
        """The frame the index-th transmitted frame must be (ring replayed from slot 0)."""
        return self.frames[(index % self.ring_n) % self.nbuf]

    def image(self) -> bytearray:
        """Bytes [base, base + size): ring then buffers."""
        img = bytearray(self.size)
        for slot in range(self.ring_n):
            img[slot * 16 : slot * 16 + 16] = self.desc(slot).pack()
        for addr, frame in zip(self.buf_addrs, self.frames, strict=False):
            off = addr - self.base
            img[off : off + len(frame)] = frame
        return img

    def write_memh(self, path: str, data_width: int = 128) -> int:
        """$readmemh image, one data_width-bit word per line; returns the word count."""
        bpb = data_width // 8
        img = self.image()
        img += bytes(-len(img) % bpb)
        n = len(img) // bpb
        digits = 2 * bpb
        with open(path, "w") as fh:
            for i in range(n):
                fh.write(f"{int.from_bytes(img[i * bpb : (i + 1) * bpb], 'little'):0{digits}x}\n")
        return n

    def write_sigs(self, path: str) -> None:
        """Expected XGMII signature and length per ring slot (nic_replay_tb.v +sigfile)."""
        with open(path, "w") as fh:
            for slot in range(self.ring_n):
                s, n = xgmii_signature(self.frames[slot % self.nbuf])
                fh.write(f"{s:016x}{n:08x}\n")
