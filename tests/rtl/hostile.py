"""Hostile-input campaign (issue 11 item 3): random bad descriptors and register abuse, one
scenario per seed, with the outcome docs/nic.md §5 and hdl/nic/README.md define.

Pure Python (hilnic, scapy, zlib; no cocotb): the scenario generator (`make_scenario`), the
reference (`reference`: what must reach the wire and the registers, computed from the
descriptor contents in host memory with zlib's CRC-32 and scapy's checksum, not from the
NIC's code) and the runner (`run_seed`) drive any `Port`. tests/rtl/tb_hostile.py runs it on
the RTL inside the simulator (cocotb); tests/rtl/test_hostile.py also runs it on the
behavioral model (hw/model.py), so both are held to the same outcome.

A scenario: a ring of 8..64 descriptors at any 16-byte position (across 4 KiB pages too),
starting at a random TDH, up to 24 descriptors with lengths 0, 1..64, frame sizes, the burst
limits (256 bus words ±1, 2/4 KiB ±1), jumbo, > 9220 and > 16 KiB; buffers at every byte
alignment and next to 4 KiB boundaries; random CMD bits (DEXT anywhere, IC with CSS/CSO
inside and outside the frame, IFCS off, RS/RPS/IDE/VLE), garbage STA and SPECIAL; garbage
addresses on descriptors that must not be read (LEN 0, beyond the length limit). Doorbells in
steps (TDT inside frames), TDT >= N, ring registers and read-only/unknown registers written
while enabled, PSP, WTHRESH, head write-back. A random DEXT descriptor is a context descriptor
(DTYP 0) or a TSE data descriptor (DTYP 1, TSE) as docs/nic.md §3 says. The clean and rst
classes also get TSO packets (context + TSE data descriptors, random header layout, MSS,
PAYLEN and buffer cuts), valid or with one of §5's faults (MSS 0, no context, a context the
NIC does not segment with, HDRLEN beyond the first buffer, HDRLEN + MSS too long, PAYLEN
above or below the data, a foreign descriptor inside the packet); their segments are
computed by tso_ref.byte_segments. One seed class of:

  clean       the above; the outcome is exact
  unreadable  one buffer the NIC reads is unmapped (IOMMU), wraps past 2^64, or lies outside RAM
  inject      (RTL) SLVERR or DECERR on a descriptor read, a data read, a DD write-back or
              the head write-back
  rst         CTRL.RST at a random point of the traffic (slow memory: bursts in flight)

Oracle: every wait is bounded in simulated time (a hang fails the seed); the harness's AXI
checker, XGMII decoder and IOMMU see nothing unexpected; the frames on the wire are exactly
the reference's frames (clean), or the frames before the failing frame (data read errors), or
a prefix of them (descriptor or write errors, CTRL.RST); ERRCAUSE, TXDROP, ERRADDR, TDH, the
statistics, STATUS.TXOFF, DD bytes (or the written-back head) as the spec says; after the
seed, CTRL.RST finishes, registers read their reset values and a clean ring sends again.
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from scapy.utils import checksum
from tso_ref import byte_segments

from hilnic.hw.backend import WireFrame
from hilnic.hw.regs import (
    DESC_STA_BYTE,
    E1000_CTRL_RST,
    E1000_ICR_ERR,
    E1000_STATUS_RST_BUSY,
    E1000_STATUS_TXOFF,
    E1000_TCTL_EN,
    E1000_TCTL_PSP,
    E1000_TXD_CMD_DEXT,
    E1000_TXD_CMD_EOP,
    E1000_TXD_CMD_IC,
    E1000_TXD_CMD_IDE,
    E1000_TXD_CMD_IFCS,
    E1000_TXD_CMD_IP,
    E1000_TXD_CMD_RPS,
    E1000_TXD_CMD_RS,
    E1000_TXD_CMD_TCP,
    E1000_TXD_CMD_TSE,
    E1000_TXD_CMD_VLE,
    E1000_TXD_POPTS_IXSM,
    E1000_TXD_POPTS_TXSM,
    ERR_BAD_DESC,
    ERR_DMA_READ,
    ERR_DMA_WRITE,
    ERR_RING_WRITE_EN,
    ERR_TDT_RANGE,
    ERR_TOO_LONG,
    ERR_ZERO_LEN,
    TDWBAL_EN,
    TX_DESC_SIZE,
    TXDCTL_WTHRESH_SHIFT,
    Reg,
    TxDesc,
    reg_info,
)
from hilnic.mm.hostmem import DmaDir, HostMemory

SLVERR, DECERR = 2, 3
CLASSES = ("clean", "unreadable", "inject", "rst")
ETH_ZLEN = 60
A64 = 1 << 64
# Outcome kinds of a failing seed (the campaign's counts)
HANG, WIRE, PROTOCOL, REGS, IOMMU = "hang", "wrong-wire", "protocol", "registers", "iommu"


class SeedFailure(Exception):
    """A seed broke the oracle; `kind` is one of HANG, WIRE, PROTOCOL, REGS, IOMMU."""

    def __init__(self, kind: str, msg: str) -> None:
        super().__init__(f"{kind}: {msg}")
        self.kind = kind


def _check(cond: bool, kind: str, msg: str) -> None:
    if not cond:
        raise SeedFailure(kind, msg)


# -- the scenario -----------------------------------------------------------------------


@dataclass
class Desc:
    length: int
    cmd: int
    cso: int
    css: int
    sta: int
    special: int
    where: str  # "mapped" | "unmapped" | "wrap" | "far" | "garbage" (never read) | "ctx" (a context: addr holds its fields)
    offset: int  # byte offset of the buffer in its 4 KiB page (mapped/unmapped)
    data: bytes = b""
    addr: int = 0  # DMA address (set by place())


@dataclass
class Step:
    op: str  # "tdt" | "bad_tdt" | "ring_write" | "junk_write" | "sleep" | "rst"
    reg: int = 0
    value: int = 0


@dataclass
class Scenario:
    seed: int
    cls: str
    bpb: int  # bus bytes (DMA_DATA_WIDTH / 8)
    max_frame: int
    n: int  # ring descriptors
    ring_off: int  # byte offset of the ring from a 4 KiB boundary (16-aligned)
    tdh0: int
    psp: bool
    wthresh: int
    head_wb: bool
    hwb_off: int
    descs: list[Desc]
    steps: list[Step]
    fault: tuple = ()  # ("desc", k, resp) | ("data", k, off, len, resp) | ("dd", k, resp) | ("hwb", resp)
    recovery: str = "ctrl_rst"  # after a halt: "tctl" (EN 0->1) or "ctrl_rst"
    timing: dict[str, Any] = field(default_factory=dict)
    # set by place()
    ring: int = 0
    hwb_addr: int = 0

    def idx(self, i: int) -> int:
        """Ring index of the scenario's i-th descriptor."""
        return (self.tdh0 + i) % self.n

    def desc_addr(self, i: int) -> int:
        return self.ring + TX_DESC_SIZE * self.idx(i)

    def describe(self) -> str:
        kinds = ", ".join(f"{d.length}{'@' + hex(d.offset) if d.where == 'mapped' else ':' + d.where}/{d.cmd:02x}"
                          for d in self.descs)
        return (f"seed {self.seed} [{self.cls}] bus {8 * self.bpb}b N={self.n} ring+{self.ring_off:#x} TDH0={self.tdh0} "
                f"psp={int(self.psp)} wthresh={self.wthresh} hwb={int(self.head_wb)} fault={self.fault} "
                f"timing={self.timing} descs=[{kinds}] steps={[(s.op, s.reg, s.value) for s in self.steps]}")


def _length(rng: random.Random, bpb: int, max_frame: int) -> int:
    r = rng.random()
    if r < 0.08:
        return 0
    if r < 0.24:
        return rng.randint(1, 64)
    if r < 0.52:
        return rng.randint(65, 1514)
    if r < 0.70:
        base = rng.choice([256 * bpb, 2048, 4096, 4096 - bpb, 8 * bpb, max_frame, max_frame + 4])
        return max(1, base + rng.choice([-1, 0, 0, 1]))
    if r < 0.84:
        return rng.randint(1515, max_frame + 4)
    if r < 0.93:
        return rng.randint(max_frame + 5, 16384)
    return rng.randint(16385, 0xFFFF)


def _offset(rng: random.Random, bpb: int) -> int:
    r = rng.random()
    if r < 0.3:
        return rng.randrange(bpb)
    if r < 0.5:
        return rng.randrange(4096)
    if r < 0.75:
        return 4096 - rng.randint(1, 3 * bpb)  # starts just before a 4 KiB boundary
    return rng.randrange(64)


def _cmd(rng: random.Random) -> int:
    cmd = 0
    if rng.random() < 0.5:
        cmd |= E1000_TXD_CMD_EOP
    if rng.random() < 0.85:
        cmd |= E1000_TXD_CMD_IFCS
    if rng.random() < 0.3:
        cmd |= E1000_TXD_CMD_IC
    if rng.random() < 0.6:
        cmd |= E1000_TXD_CMD_RS
    if rng.random() < 0.1:
        cmd |= E1000_TXD_CMD_RPS
    if rng.random() < 0.2:
        cmd |= E1000_TXD_CMD_IDE
    if rng.random() < 0.05:
        cmd |= E1000_TXD_CMD_VLE
    if rng.random() < 0.05:
        cmd |= E1000_TXD_CMD_DEXT
    return cmd


TSO_FAULTS = ("mss0", "noctx", "badctx", "hdr_split", "long", "paylen_more", "paylen_less", "foreign")


def _tso_packet(rng: random.Random, bpb: int, max_frame: int) -> list[Desc]:
    """A context descriptor and the TSE data descriptors of one packet (random header layout,
    MSS, PAYLEN and cuts), valid or with one fault of TSO_FAULTS."""
    fault = rng.choice([None] * 12 + list(TSO_FAULTS))
    ipcss = rng.choice([14, 14, 18, 15, 0, 31])
    tucss = ipcss + rng.choice([20, 20, 24, 60])
    hdrlen = tucss + rng.choice([20, 32, 32, 60])
    ipcse = tucss - 1 if rng.random() < 0.8 else rng.randint(ipcss + 19, tucss - 1)
    mss = rng.choice([1, 7, 100, 536, 1448, 1460, 3000, max_frame - hdrlen, rng.randint(1, 2000)])
    if fault == "mss0":
        mss = 0
    elif fault == "long":
        mss = max_frame - hdrlen + rng.randint(1, 100)
    # at most 40 segments (a seed stays short in simulation)
    paylen = max(1, min(rng.choice([1, mss, mss + 1, 3 * mss, rng.randint(1, 12000)]), 20000, 40 * max(mss, 1)))
    nbytes = paylen + {"paylen_more": -rng.randint(1, paylen), "paylen_less": rng.randint(1, 300)}.get(fault or "", 0)
    data = rng.randbytes(hdrlen + nbytes)
    tucmd = E1000_TXD_CMD_TCP | E1000_TXD_CMD_IP | E1000_TXD_CMD_TSE
    tucmd |= rng.choice([0, E1000_TXD_CMD_RS]) | rng.choice([0, 0, E1000_TXD_CMD_IDE])
    ipcso, tucso, tucse = ipcss + 10, tucss + 16, 0
    if fault == "badctx":
        which = rng.choice(["tse", "ipcso", "tucso", "tucse", "ipcse", "short_tcp"])
        tucmd &= ~(E1000_TXD_CMD_TSE if which == "tse" else 0)
        ipcso += 2 if which == "ipcso" else 0
        tucso -= 1 if which == "tucso" else 0
        tucse = rng.randint(1, 0xFFFF) if which == "tucse" else 0
        ipcse = tucss if which == "ipcse" else ipcse
        hdrlen = tucss + 19 if which == "short_tcp" else hdrlen
    fields = ipcss | ipcso << 8 | ipcse << 16 | tucss << 32 | tucso << 40 | tucse << 48
    out = []
    if fault != "noctx":
        out.append(Desc(paylen & 0xFFFF, tucmd | E1000_TXD_CMD_DEXT, paylen >> 16, hdrlen, rng.randrange(256), mss,
                        "ctx", 0, addr=fields))
    first = hdrlen + (rng.choice([0, 0, rng.randint(0, nbytes)]) if nbytes > 0 else 0)
    if fault == "hdr_split":
        first = rng.randint(1, hdrlen - 1)
    first = min(first, len(data))
    cuts = sorted({first} | {rng.randint(first, len(data)) for _ in range(rng.choice([0, 1, 2, 4]))} | {len(data)})
    edges = [0, *cuts]
    pieces = [data[a:b] for a, b in itertools.pairwise(edges)]
    popts = rng.choice([E1000_TXD_POPTS_IXSM | E1000_TXD_POPTS_TXSM] * 4 + [0, E1000_TXD_POPTS_IXSM, E1000_TXD_POPTS_TXSM])
    for k, piece in enumerate(pieces):
        last = k == len(pieces) - 1
        cmd = E1000_TXD_CMD_DEXT | E1000_TXD_CMD_TSE | E1000_TXD_CMD_IFCS | (E1000_TXD_CMD_EOP if last else 0)
        cmd |= E1000_TXD_CMD_RS if last or rng.random() < 0.3 else 0
        out.append(Desc(len(piece), cmd, 0x10, popts if k == 0 else rng.randrange(256), rng.randrange(256),
                        rng.randrange(1 << 16), "mapped" if piece else "garbage", _offset(rng, bpb), data=piece))
    if fault == "foreign":
        # the packet's descriptors up to some point, without EOP, then a legacy one ends it
        del out[rng.randint(2, len(out)):]
        out[-1].cmd &= ~E1000_TXD_CMD_EOP
        cmd = rng.choice([E1000_TXD_CMD_EOP, 0]) | E1000_TXD_CMD_IFCS | rng.choice([0, E1000_TXD_CMD_RS])
        n = rng.randint(1, 3000)  # not read here, but a mapped buffer: another packet may be put before it
        out.append(Desc(n, cmd, 0, 0, 0, 0, "mapped", _offset(rng, bpb), data=rng.randbytes(n)))
    return out


def make_scenario(seed: int, bpb: int, max_frame: int = 9216, *, inject: bool = True) -> Scenario:
    """The scenario of `seed` for a bus of `bpb` bytes (inject=False: no injected bus
    errors, for a backend that cannot answer SLVERR/DECERR — the class becomes clean)."""
    rng = random.Random(seed * 7919 + 17)
    cls = rng.choices(CLASSES, weights=[40, 15, 25, 20])[0]
    if cls == "inject" and not inject:
        cls = "clean"
    n = rng.choice([8, 16, 32, 64])
    ring_off = 16 * rng.randrange(256) if rng.random() < 0.5 else 4096 - 16 * rng.randint(1, n)
    count = rng.randint(1, min(n - 1, 24))
    descs: list[Desc] = []
    for i in range(count):
        length = _length(rng, bpb, max_frame)
        cmd = _cmd(rng)
        if i == count - 1:
            cmd |= E1000_TXD_CMD_EOP  # no frame left open at the last doorbell (a TSE descriptor neither)
        css = rng.randrange(256) if rng.random() < 0.3 else rng.choice([14, 34, 54])
        cso = rng.randrange(256) if rng.random() < 0.3 else css + rng.choice([6, 16, 10])
        cso &= 0xFF
        tdata = cmd & E1000_TXD_CMD_DEXT and cso >> 4 == 1 and cmd & E1000_TXD_CMD_TSE
        if tdata:
            cso &= 0xF0  # a TSE data descriptor's length is 20 bits (byte 10 low nibble): its buffer's
        d = Desc(length, cmd, cso, css, rng.randrange(256), rng.randrange(1 << 16), "mapped", _offset(rng, bpb))
        if (length == 0 or length > max_frame + 4) and not (tdata and length):  # TSO data has no frame limit
            if rng.random() < 0.5:
                d.where = "garbage"  # never read: any address
        descs.append(d)
    sc = Scenario(seed, cls, bpb, max_frame, n, ring_off, rng.randrange(n) if rng.random() < 0.5 else 0,
                  rng.random() < 0.3, rng.choice([0, 0, 1, 2, 4]), rng.random() < 0.25, 4 * rng.randrange(16),
                  descs, [])
    if cls in ("clean", "rst"):
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            pkt = _tso_packet(rng, bpb, max_frame)
            if len(descs) + len(pkt) > n - 1:
                break
            ends = [0] + [i + 1 for i, d in enumerate(descs) if d.cmd & (E1000_TXD_CMD_EOP | E1000_TXD_CMD_DEXT)]
            at = rng.choice(ends) if rng.random() < 0.8 else rng.randint(0, len(descs))
            descs[at:at] = pkt
        count = len(descs)
    sc.recovery = rng.choice(["tctl", "ctrl_rst"])
    slow = cls == "rst" or rng.random() < 0.3
    sc.timing = dict(
        mem_latency_ns=rng.choice([0, 100, 500, 800]) if slow else rng.choice([0, 0, 200]),
        r_gap_prob=rng.choice([0.0, 0.1, 0.3]) if slow else 0.0,
        ar_stall_prob=rng.choice([0.0, 0.2]),
        aw_stall_prob=rng.choice([0.0, 0.2]),
        w_stall_prob=rng.choice([0.0, 0.2]),
        b_gap_prob=rng.choice([0.0, 0.3]),
    )
    reads = [i for f in _frames(sc) for i in f.reads]
    if cls == "unreadable":
        if reads:
            k = rng.choice(reads)
            descs[k].where = rng.choice(["unmapped", "unmapped", "wrap", "far"])
        else:
            sc.cls = cls = "clean"
    if cls == "inject":
        closed = [i for f in _frames(sc) for i in f.descs]
        rs = [i for i in closed if descs[i].cmd & (E1000_TXD_CMD_RS | E1000_TXD_CMD_RPS)]
        kinds = ["desc"] + (["data"] if reads else []) + (["dd"] if rs and not sc.head_wb else []) + (
            ["hwb"] if rs and sc.head_wb else [])
        kind = rng.choice(kinds)
        resp = rng.choice([SLVERR, DECERR])
        if kind == "desc":
            sc.fault = ("desc", rng.randrange(count), resp)
        elif kind == "data":
            k = rng.choice(reads)
            off = rng.randrange(descs[k].length)
            sc.fault = ("data", k, off, rng.randint(1, descs[k].length - off), resp)
        elif kind == "dd":
            sc.fault = ("dd", rng.choice(rs), resp)
        else:
            sc.fault = ("hwb", resp)
    # doorbells: TDT in steps (possibly inside frames), the last one at the end of the pass
    cuts = sorted(set(rng.sample(range(1, count + 1), min(count, rng.choice([1, 1, 2, 3])))) | {count})
    steps: list[Step] = []
    for c in cuts:
        steps.append(Step("tdt", value=sc.idx(c)))
        if rng.random() < 0.5:
            steps.append(Step("sleep", value=rng.choice([0, 50, 300, 1500])))
    extras: list[Step] = []
    if rng.random() < 0.2:
        extras += [Step("bad_tdt", value=rng.randint(n, 0xFFFF)) for _ in range(rng.randint(1, 2))]
    if rng.random() < 0.2:
        extras += [Step("ring_write", reg=int(rng.choice([Reg.TDBAL, Reg.TDBAH, Reg.TDLEN, Reg.TDH])),
                        value=rng.getrandbits(32)) for _ in range(rng.randint(1, 2))]
    if rng.random() < 0.2:
        ro = [Reg.STATUS, Reg.HID, Reg.HVER, Reg.HCAPS, Reg.ERRADDRL, Reg.ERRADDRH, Reg.GPTC, Reg.TXDROP,
              Reg.ERRCAUSE, Reg.TPT]
        known = {int(r) for r in Reg}
        unknown = [a for a in (4 * rng.randrange(0x4000) for _ in range(4)) if a not in known]
        extras += [Step("junk_write", reg=int(rng.choice(ro)) if rng.random() < 0.6 or not unknown else rng.choice(unknown),
                        value=rng.getrandbits(32)) for _ in range(rng.randint(1, 3))]
    for e in extras:
        steps.insert(rng.randrange(len(steps) + 1), e)
    if cls == "rst":
        pos = rng.randrange(1, len(steps) + 1)
        steps.insert(pos, Step("rst", value=rng.choice([0, 20, 100, 400, 1500, 4000]) + rng.randrange(100)))
        del steps[pos + 1:]
    sc.steps = steps
    # contents of the buffers the NIC may read
    for d in descs:
        if d.length and d.where not in ("garbage", "ctx") and not d.data:  # (TSO packets have theirs)
            body = rng.randbytes(d.length)
            if not d.cmd & E1000_TXD_CMD_IFCS and d.length > 4 and rng.random() < 0.5:
                body = body[:-4] + zlib.crc32(body[:-4]).to_bytes(4, "little")
            d.data = body
    return sc


# -- the reference ----------------------------------------------------------------------


@dataclass
class Frame:
    """A frame of the pass (closed by EOP or DEXT), a context descriptor, or a TSO packet, in
    ring order."""

    descs: list[int]  # scenario descriptor indices
    reads: list[int]  # the buffers the NIC reads (in order)
    kind: str  # "ok" | "long" | "dext" | "zero" | "ctx" (a TSO packet may send segments and end "dext")
    wires: list[bytes] = field(default_factory=list)  # what reaches the wire
    err_desc: int | None = None  # ERRADDR's descriptor (kind dext)
    tso: bool = False  # a TSO packet


def _ctx_of(d: Desc, max_frame: int) -> dict[str, Any]:
    """A context descriptor's fields, and whether the NIC segments with it (docs/nic.md §3)."""
    a = d.addr
    ipcss, ipcso, ipcse = a & 0xFF, a >> 8 & 0xFF, a >> 16 & 0xFFFF
    tucss, tucso, tucse = a >> 32 & 0xFF, a >> 40 & 0xFF, a >> 48 & 0xFFFF
    paylen, hdrlen, mss = d.length | (d.cso & 0xF) << 16, d.css, d.special
    ok = (d.cmd & 7 == 7 and mss > 0 and paylen > 0 and tucse == 0 and ipcss + 20 <= tucss
          and ipcss + 19 <= ipcse < tucss and ipcso == ipcss + 10 and tucso == tucss + 16 and tucss + 20 <= hdrlen)
    return {"ok": ok, "long": hdrlen + mss > max_frame, "ipcss": ipcss, "ipcse": ipcse, "tucss": tucss,
            "hdrlen": hdrlen, "mss": mss, "paylen": paylen}


def _tso_frame(sc: Scenario, idxs: list[int], ctx: dict[str, Any] | None, foreign: bool) -> Frame:
    """A TSO packet (docs/nic.md §3, §5): dropped unread with a context the NIC does not
    segment with, or HDRLEN beyond the first buffer (ERRADDR: the first descriptor), or
    HDRLEN + MSS too long. Else the payload after the header is cut into MSS segments; every
    full segment but the last (by PAYLEN) leaves as soon as it is complete; the last one
    leaves only if the packet ends with its EOP descriptor holding exactly HDRLEN + PAYLEN
    bytes. Otherwise the packet ends as a bad frame: at the first descriptor holding data
    beyond PAYLEN (not read), at a descriptor that is not TSE data (unread), or at the EOP
    descriptor when data is missing; that descriptor is ERRADDR."""
    descs = sc.descs
    f = Frame(idxs, [], "ok", tso=True)
    data_idxs = idxs[:-1] if foreign else idxs
    first = descs[idxs[0]]
    dtalen = [descs[j].length | (descs[j].cso & 0xF) << 16 for j in data_idxs]
    if ctx is None or not ctx["ok"] or dtalen[0] < ctx["hdrlen"]:
        f.kind, f.err_desc = "dext", idxs[0]
        return f
    if ctx["long"]:
        f.kind = "long"
        return f
    hdrlen, mss, paylen = ctx["hdrlen"], ctx["mss"], ctx["paylen"]
    payload, surplus, reads = bytearray(), None, [idxs[0]]
    for k, j in enumerate(data_idxs):
        chunk = descs[j].data[hdrlen:] if k == 0 else descs[j].data
        take = min(len(chunk), paylen - len(payload))
        payload += chunk[:take]
        if take and k:
            reads.append(j)
        if len(chunk) > take:
            surplus = j
            break
    full = len(payload) == paylen
    nseg = -(-paylen // mss)
    sent = nseg if full and surplus is None and not foreign else min(len(payload) // mss, nseg - 1)
    if sent < nseg:
        f.kind = "dext"
        f.err_desc = surplus if surplus is not None else idxs[-1]
    segs = byte_segments(first.data[:hdrlen] + bytes(payload) + bytes(paylen - len(payload)), ipcss=ctx["ipcss"],
                         ipcse=ctx["ipcse"], tucss=ctx["tucss"], hdrlen=hdrlen, mss=mss,
                         ixsm=bool(first.css & E1000_TXD_POPTS_IXSM), txsm=bool(first.css & E1000_TXD_POPTS_TXSM))
    f.wires = [wire_image(s, E1000_TXD_CMD_IFCS, 0, 0, 0, sc.psp, False) for s in segs[:sent]]
    f.reads = reads
    return f


def _frames(sc: Scenario) -> list[Frame]:
    """The frames of the pass and the buffers the NIC reads for each. A buffer is read while
    the frame's running length, with it, stays within MAX_FRAME_BYTES + 4 (the NIC cannot know
    yet whether the frame has IFCS) and no DEXT came; LEN 0 is never read. Outside a frame a
    DEXT descriptor of DTYP 0 is a context descriptor (no frame), one of DTYP 1 with TSE
    starts a TSO packet, which TSE data descriptors continue until EOP and anything else ends."""
    limit = sc.max_frame + 4
    out, cur = [], []
    tso: list[int] | None = None
    ctx: dict[str, Any] | None = None
    for i, d in enumerate(sc.descs):
        dext = bool(d.cmd & E1000_TXD_CMD_DEXT)
        tdata = dext and d.cso >> 4 == 1 and bool(d.cmd & E1000_TXD_CMD_TSE)
        if tso is not None:
            tso.append(i)
            if tdata and not d.cmd & E1000_TXD_CMD_EOP:
                continue
            out.append(_tso_frame(sc, tso, ctx, foreign=not tdata))
            tso = None
            continue
        if not cur and dext and d.cso >> 4 == 0:
            ctx = _ctx_of(d, sc.max_frame)
            out.append(Frame([i], [], "ctx"))
            continue
        if not cur and tdata:
            tso = [i]
            if d.cmd & E1000_TXD_CMD_EOP:
                out.append(_tso_frame(sc, tso, ctx, foreign=False))
                tso = None
            continue
        cur.append(i)
        if not d.cmd & (E1000_TXD_CMD_EOP | E1000_TXD_CMD_DEXT):
            continue
        reads, total, long_ = [], 0, False
        for j in cur:
            dj = sc.descs[j]
            if dj.cmd & E1000_TXD_CMD_DEXT:
                break
            if long_ or total + dj.length > limit:
                long_ = True
                continue
            total += dj.length
            if dj.length:
                reads.append(j)
        if d.cmd & E1000_TXD_CMD_DEXT:
            kind = "dext"
        elif long_ or (d.cmd & E1000_TXD_CMD_IFCS and total > sc.max_frame):
            kind = "long"
        elif total == 0:
            kind = "zero"
        else:
            kind = "ok"
        out.append(Frame(cur, reads, kind, err_desc=i if kind == "dext" else None))
        cur = []
    return out


def wire_image(data: bytes, cmd: int, cso: int, css: int, special: int, psp: bool, vle: bool) -> bytes:
    """What leaves the MAC for one frame's bytes and its EOP descriptor's fields (docs/nic.md §3,
    hdl/nic/README.md): checksum over CSS..end of data (before a software FCS) stored
    big-endian at CSO if it fits, the VLAN tag if the backend implements VLE, PSP padding and
    the FCS with IFCS."""
    buf = bytearray(data)
    end = len(buf) if cmd & E1000_TXD_CMD_IFCS else max(len(buf) - 4, 0)
    if cmd & E1000_TXD_CMD_IC and css < end and cso + 2 <= end:
        buf[cso:cso + 2] = checksum(bytes(buf[css:end])).to_bytes(2, "big")
    if vle and cmd & E1000_TXD_CMD_VLE:
        buf[12:12] = (0x8100).to_bytes(2, "big") + special.to_bytes(2, "big")
    if cmd & E1000_TXD_CMD_IFCS:
        if psp and len(buf) < ETH_ZLEN:
            buf += bytes(ETH_ZLEN - len(buf))
        buf += zlib.crc32(buf).to_bytes(4, "little")
    return bytes(buf)


_DROP_CAUSE = {"long": ERR_TOO_LONG, "dext": ERR_BAD_DESC, "zero": ERR_ZERO_LEN}


@dataclass
class Expected:
    frames: list[Frame]
    fail: int | None  # index into frames of the first frame with a failing read (None: none)
    fail_desc: int | None  # the failing descriptor
    reg_causes: int  # ERRCAUSE bits from register abuse


def reference(sc: Scenario, vle: bool) -> Expected:
    """The frames of the pass with their wire images, and where a read fails."""
    frames = _frames(sc)
    bad_reads = {i for i, d in enumerate(sc.descs) if d.where in ("unmapped", "wrap", "far")}
    if sc.fault and sc.fault[0] == "data":
        bad_reads.add(sc.fault[1])
    fail = fail_desc = None
    for fi, f in enumerate(frames):
        hit = [j for j in f.reads if j in bad_reads]
        if hit:
            fail, fail_desc = fi, hit[0]
            break
    for f in frames:
        if f.kind == "ok" and not f.wires:
            eop = sc.descs[f.descs[-1]]
            data = b"".join(sc.descs[j].data for j in f.reads)
            f.wires = [wire_image(data, eop.cmd, eop.cso, eop.css, eop.special, sc.psp, vle)]
    causes = 0
    for s in sc.steps:
        if s.op == "bad_tdt":
            causes |= ERR_TDT_RANGE
        elif s.op == "ring_write":
            causes |= ERR_RING_WRITE_EN
    return Expected(frames, fail, fail_desc, causes)


# -- placing it in host memory ----------------------------------------------------------------


class Placement:
    """Every allocation and mapping of one seed, undone by release()."""

    def __init__(self, mem: HostMemory) -> None:
        self.mem = mem
        self.allocs: list[int] = []
        self.maps: list[tuple[int, int]] = []

    def alloc(self, length: int, align: int = 4096) -> int:
        a = self.mem.alloc(length, align)
        self.allocs.append(a)
        return a

    def map(self, addr: int, length: int, direction: DmaDir) -> None:
        self.mem.dma_map(addr, length, direction, owner="hostile")
        self.maps.append((addr, length))

    def release(self) -> None:
        for a, n in self.maps:
            self.mem.dma_unmap(a, n)
        for a in self.allocs:
            self.mem.free(a)
        self.maps.clear()
        self.allocs.clear()


def place(sc: Scenario, pl: Placement) -> None:
    """Ring, buffers and head write-back word into host memory (the ring's and every buffer's
    bytes mapped exactly; guard bytes around them)."""
    mem = pl.mem
    rng = random.Random(sc.seed)
    ring_bytes = sc.n * TX_DESC_SIZE
    base = pl.alloc(sc.ring_off + ring_bytes + 64)
    sc.ring = base + sc.ring_off
    mem.write(base, rng.randbytes(sc.ring_off + ring_bytes + 64))  # stale descriptors everywhere else
    pl.map(sc.ring, ring_bytes, DmaDir.BIDIRECTIONAL)
    for d in sc.descs:
        if d.where == "ctx":
            continue  # a context descriptor: addr holds its fields
        if d.where in ("mapped", "unmapped") and d.length:
            b = pl.alloc(d.offset + d.length + 64)
            mem.write(b, b"\xa5" * (d.offset + d.length + 64))
            d.addr = b + d.offset
            mem.write(d.addr, d.data)
            if d.where == "mapped":
                pl.map(d.addr, d.length, DmaDir.TO_DEVICE)
        elif d.where == "wrap":
            d.addr = A64 - rng.randint(1, min(d.length, 4096) if d.length > 1 else 1)
        elif d.where == "far":
            d.addr = rng.choice([0, 0x1000, 0x7FFF_FFFF_0000, 0xFFFF_0000_0000_0000]) + rng.randrange(4096)
        else:  # garbage: LEN 0 or never read
            d.addr = rng.getrandbits(64)
    if sc.head_wb:
        hb = pl.alloc(64, 64)
        mem.write(hb, b"\xee" * 64)
        pl.map(hb, 64, DmaDir.BIDIRECTIONAL)
        sc.hwb_addr = hb + sc.hwb_off
    for i, d in enumerate(sc.descs):
        mem.write(sc.desc_addr(i), desc_bytes(d))


def desc_bytes(d: Desc) -> bytes:
    """The descriptor as software wrote it (STA byte with garbage in the reserved bits 7:4 too)."""
    raw = bytearray(TxDesc(addr=d.addr, length=d.length, cso=d.cso, cmd=d.cmd, css=d.css, special=d.special).pack())
    raw[DESC_STA_BYTE] = d.sta
    return bytes(raw)


# -- the port: what the runner needs of a backend ------------------------------------------------


class Port(Protocol):
    mem: HostMemory
    vle: bool  # the backend inserts VLAN tags (VLE)

    def writel(self, offset: int, value: int) -> None: ...
    async def readl(self, offset: int) -> int: ...
    async def sleep_ns(self, ns: float) -> None: ...
    def now_ns(self) -> float: ...
    def frames(self) -> list[WireFrame]: ...
    def set_timing(self, timing: dict[str, Any]) -> None: ...
    def inject(self, addr: int, length: int, resp: int, kind: str) -> None: ...
    def clear_injected(self) -> None: ...
    def error_responses(self) -> list[tuple[bool, int]]: ...  # (write, burst address), oldest first
    def harness_errors(self) -> list[str]: ...  # new protocol / framing / MMIO problems


async def until(port: Port, cond: Callable[[], Awaitable[bool]], bound_us: float, what: str, step_ns: float = 200) -> None:
    """Poll `cond` until true; a SeedFailure(HANG) after `bound_us` of simulated time."""
    deadline = port.now_ns() + bound_us * 1000
    while not await cond():
        if port.now_ns() > deadline:
            raise SeedFailure(HANG, f"{what} did not happen within {bound_us} us of simulated time")
        await port.sleep_ns(step_ns)


async def settle_wire(port: Port, bound_us: float, quiet_us: float = 40) -> None:
    """Wait until no frame has left the MAC for `quiet_us`: a 9 KiB frame already read may
    take ~22 us to come out at 64 bits (checksum pass, then 7.4 us on the wire)."""
    deadline = port.now_ns() + bound_us * 1000
    n, t_last = len(port.frames()), port.now_ns()
    while port.now_ns() - t_last < quiet_us * 1000:
        await port.sleep_ns(500)
        if len(port.frames()) != n:
            n, t_last = len(port.frames()), port.now_ns()
        if port.now_ns() > deadline:
            raise SeedFailure(HANG, f"the wire did not go quiet within {bound_us} us of simulated time")


async def wait_not_busy(port: Port, what: str, bound_us: float = 200) -> None:
    async def idle() -> bool:
        return not await port.readl(Reg.STATUS) & E1000_STATUS_RST_BUSY
    await until(port, idle, bound_us, what)


async def setup_ring(port: Port, sc: Scenario) -> None:
    w = port.writel
    w(Reg.TDBAL, (sc.ring & 0xFFFFFFFF) | (sc.seed & 0xF))  # bits 3:0 read as 0
    w(Reg.TDBAH, sc.ring >> 32)
    w(Reg.TDLEN, sc.n * TX_DESC_SIZE | (sc.seed * 13 & 0x7F))  # bits 6:0 read as 0
    w(Reg.TDH, sc.tdh0)
    w(Reg.TDT, sc.tdh0)
    w(Reg.TXDCTL, sc.wthresh << TXDCTL_WTHRESH_SHIFT)
    if sc.head_wb:
        w(Reg.TDWBAL, (sc.hwb_addr & 0xFFFFFFFF) | TDWBAL_EN | 2)  # bit 1 is not an address bit
        w(Reg.TDWBAH, sc.hwb_addr >> 32)
    else:
        w(Reg.TDWBAL, 0)
        w(Reg.TDWBAH, 0)
    w(Reg.IMS, E1000_ICR_ERR)
    w(Reg.TCTL, E1000_TCTL_EN | (E1000_TCTL_PSP if sc.psp else 0))


async def _clean_pass(port: Port, rng: random.Random, pl: Placement, nframes: int = 2) -> None:
    """After a reset: a fresh 16-descriptor ring, `nframes` frames, exactly on the wire."""
    mem = pl.mem
    ring = pl.alloc(256)
    pl.map(ring, 256, DmaDir.BIDIRECTIONAL)
    mem.write(ring, bytes(256))
    start = len(port.frames())
    expected = []
    for i in range(nframes):
        data = rng.randbytes(rng.randint(60, 1514))
        buf = pl.alloc(len(data) + 64 + 64)
        a = buf + rng.randrange(64)
        mem.write(a, data)
        pl.map(a, len(data), DmaDir.TO_DEVICE)
        mem.write(ring + 16 * i, TxDesc(addr=a, length=len(data), cmd=E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS
                                        | E1000_TXD_CMD_RS).pack())
        expected.append(data + zlib.crc32(data).to_bytes(4, "little"))
    w = port.writel
    w(Reg.TCTL, 0)
    w(Reg.TDBAL, ring & 0xFFFFFFFF)
    w(Reg.TDBAH, ring >> 32)
    w(Reg.TDLEN, 256)
    w(Reg.TDH, 0)
    w(Reg.TDT, 0)
    w(Reg.TDWBAL, 0)
    w(Reg.TXDCTL, 0)
    w(Reg.TCTL, E1000_TCTL_EN)
    w(Reg.TDT, nframes)

    async def sent() -> bool:
        return len(port.frames()) >= start + nframes
    await until(port, sent, 100, f"{nframes} frames after the reset")
    got = [f.data for f in port.frames()[start:]]
    _check(got == expected, WIRE, "frames after the reset differ from what was posted")


def _compare_wire(got: list[bytes], want: list[bytes], *, prefix: bool, what: str) -> None:
    n = len(got)
    if not prefix:
        _check(n == len(want), WIRE, f"{n} frame(s) on the wire, expected {len(want)} ({what})")
    else:
        _check(n <= len(want), WIRE, f"{n} frame(s) on the wire, at most {len(want)} allowed ({what})")
    for i, (g, e) in enumerate(zip(got, want, strict=False)):
        if g != e:
            diff = next((k for k in range(min(len(g), len(e))) if g[k] != e[k]), min(len(g), len(e)))
            raise SeedFailure(WIRE, f"frame {i}: {len(g)} bytes on the wire, expected {len(e)}; first difference at "
                                    f"byte {diff} ({what})")


async def run_seed(port: Port, sc: Scenario, *, max_frame: int) -> dict[str, Any]:
    """Run one scenario on `port`; raise SeedFailure when the oracle is broken. Returns a
    summary (frames sent, drops, ...)."""
    mem = port.mem
    pl = Placement(mem)
    rng = random.Random(sc.seed ^ 0x5EED)
    frames0 = len(port.frames())
    mem.violations.clear()
    err0 = len(port.error_responses())
    try:
        place(sc, pl)
        exp = reference(sc, port.vle)  # after placement: a random DTYP 0 descriptor's address is its context
        port.set_timing(sc.timing)
        if sc.fault:
            kind = sc.fault[0]
            if kind == "desc":
                port.inject(sc.desc_addr(sc.fault[1]), TX_DESC_SIZE, sc.fault[2], "r")
            elif kind == "data":
                _, k, off, ln, resp = sc.fault
                port.inject(sc.descs[k].addr + off, ln, resp, "r")
            elif kind == "dd":
                port.inject(sc.desc_addr(sc.fault[1]) + DESC_STA_BYTE, 1, sc.fault[2], "w")
            else:
                port.inject(sc.hwb_addr, 4, sc.fault[1], "w")
        await setup_ring(port, sc)
        rst_done = False
        for s in sc.steps:
            if s.op in ("tdt", "bad_tdt"):
                port.writel(Reg.TDT, s.value)
            elif s.op in ("ring_write", "junk_write"):
                port.writel(s.reg, s.value)
            elif s.op == "sleep":
                await port.sleep_ns(s.value)
            elif s.op == "rst":
                await port.sleep_ns(s.value)
                port.writel(Reg.CTRL, E1000_CTRL_RST)
                rst_done = True
        total = sum(d.length for d in sc.descs if d.where != "garbage")
        # us: > 4x the worst case (64-bit bus, 800 ns latency, gaps); TSO segments ~0.25 us each at least
        bound = 60 + total / 250 + sum(len(f.wires) for f in exp.frames)
        ok_wires = [w for f in exp.frames for w in f.wires]
        sent_before_fail = [w for f in (exp.frames[:exp.fail] if exp.fail is not None else exp.frames)
                            for w in f.wires]
        out: dict[str, Any] = {"cls": sc.cls, "fault": sc.fault[0] if sc.fault else "",
                               "tso": [(len(f.wires), f.kind) for f in exp.frames if f.tso]}
        if rst_done:
            await wait_not_busy(port, "CTRL.RST in the middle of traffic")
            n = len(port.frames())
            await port.sleep_ns(3000)
            _check(len(port.frames()) == n, WIRE, "frames left the MAC after CTRL.RST finished")
            _compare_wire([f.data for f in port.frames()[frames0:]], sent_before_fail, prefix=True,
                          what="CTRL.RST mid-traffic: a prefix")
            info = reg_info(dma_data_width=8 * sc.bpb, max_frame_bytes=max_frame)
            for reg in (Reg.CTRL, Reg.TCTL, Reg.TDBAL, Reg.TDLEN, Reg.TDH, Reg.TDT, Reg.TXDCTL, Reg.TDWBAL,
                        Reg.ERRCAUSE, Reg.TXDROP, Reg.GPTC, Reg.STATUS, Reg.IMS):
                got = await port.readl(reg)
                _check(got == info[reg].reset, REGS, f"after CTRL.RST {reg.name} reads {got:#x}, reset value "
                                                     f"{info[reg].reset:#x}")
            out["frames"] = len(port.frames()) - frames0
        elif exp.fail is not None or sc.fault:
            await _check_fault(port, sc, exp, frames0, err0, bound, sent_before_fail)
            out["frames"] = len(port.frames()) - frames0
        else:
            await _check_clean(port, sc, exp, frames0, bound, ok_wires)
            out["frames"] = len(ok_wires)
        # IOMMU: violations only by reads of the buffers that were meant to be unreadable
        bad = [d for d in sc.descs if d.where in ("unmapped", "wrap", "far")]
        for v in mem.violations:
            _check(any(_in_buffer(d, v.addr) for d in bad) or not mem.base <= v.addr < mem.base + mem.size,
                   IOMMU, f"IOMMU violation outside the unreadable buffers: {v.kind} {v.addr:#x}+{v.length} ({v.reason})")
        errs = port.harness_errors()
        _check(not errs, PROTOCOL, "; ".join(errs))
        # every seed ends with CTRL.RST, which must finish, and a clean pass
        port.clear_injected()
        if not rst_done:
            if sc.recovery == "tctl" and (exp.fail is not None or sc.fault):
                # as a driver does: stop, empty the ring (TDT := TDH, so the failing
                # descriptor is not fetched again), restart
                port.writel(Reg.TCTL, 0)
                port.writel(Reg.TDT, await port.readl(Reg.TDH))
                port.writel(Reg.TCTL, E1000_TCTL_EN)
                await wait_not_busy(port, "TCTL.EN 0->1 recovery")
                st = await port.readl(Reg.STATUS)
                _check(not st & E1000_STATUS_TXOFF, REGS, "STATUS.TXOFF still set after TCTL.EN 0->1")
            port.writel(Reg.CTRL, E1000_CTRL_RST)
            await wait_not_busy(port, "CTRL.RST at the end of the seed")
            _check(await port.readl(Reg.TDT) == 0 and await port.readl(Reg.TCTL) == 0, REGS,
                   "TDT/TCTL not reset by CTRL.RST")
        await _clean_pass(port, rng, pl)
        port.writel(Reg.CTRL, E1000_CTRL_RST)
        await wait_not_busy(port, "CTRL.RST after the clean pass")
        mem.violations.clear()
        errs = port.harness_errors()
        _check(not errs, PROTOCOL, "; ".join(errs))
        return out
    finally:
        port.clear_injected()
        pl.release()


def _in_buffer(d: Desc, addr: int) -> bool:
    """`addr` is a byte of d's buffer (addresses wrap at 2^64)."""
    return (addr - d.addr) % A64 < d.length


def _drops(frames: list[Frame]) -> tuple[int, int]:
    """(TXDROP, ERRCAUSE bits) of these frames."""
    bad = [f for f in frames if f.kind not in ("ok", "ctx")]
    causes = 0
    for f in bad:
        causes |= _DROP_CAUSE[f.kind]
    return len(bad), causes


async def _check_clean(port: Port, sc: Scenario, exp: Expected, frames0: int, bound: float, ok_wires: list[bytes]) -> None:
    mem = port.mem
    final = sc.idx(len(sc.descs))
    rs = [i for f in exp.frames for i in f.descs if sc.descs[i].cmd & (E1000_TXD_CMD_RS | E1000_TXD_CMD_RPS)]

    def wb_done() -> bool:
        if sc.head_wb:
            return not rs or int.from_bytes(mem.read(sc.hwb_addr, 4), "little") == (sc.idx(rs[-1]) + 1) % sc.n
        return all(mem.read(sc.desc_addr(i) + DESC_STA_BYTE, 1)[0] == 1 for i in rs)

    async def settled() -> bool:
        return (len(port.frames()) - frames0 >= len(ok_wires) and wb_done()
                and await port.readl(Reg.TDH) == final)
    await until(port, settled, bound, "all frames sent, TDH at TDT and every write-back done")
    await port.sleep_ns(2000)
    _compare_wire([f.data for f in port.frames()[frames0:]], ok_wires, prefix=False, what="clean")
    ndrop, causes = _drops(exp.frames)
    causes |= exp.reg_causes
    got = {r: await port.readl(r) for r in (Reg.ERRCAUSE, Reg.TXDROP, Reg.GPTC, Reg.TPT, Reg.GOTCL, Reg.STATUS,
                                            Reg.ERRADDRL, Reg.ERRADDRH, Reg.ICR, Reg.TDH)}
    _check(got[Reg.ERRCAUSE] == causes, REGS, f"ERRCAUSE {got[Reg.ERRCAUSE]:#x}, expected {causes:#x}")
    _check(got[Reg.TXDROP] == ndrop, REGS, f"TXDROP {got[Reg.TXDROP]}, expected {ndrop}")
    _check(got[Reg.GPTC] == len(ok_wires) == got[Reg.TPT], REGS,
           f"GPTC {got[Reg.GPTC]} / TPT {got[Reg.TPT]}, expected {len(ok_wires)}")
    gotc = sum(len(w) for w in ok_wires)
    _check(got[Reg.GOTCL] == gotc, REGS, f"GOTCL {got[Reg.GOTCL]}, expected {gotc}")
    _check(not got[Reg.STATUS] & E1000_STATUS_TXOFF, REGS, "STATUS.TXOFF set without a DMA error")
    _check(bool(got[Reg.ICR] & E1000_ICR_ERR) == bool(causes), REGS, f"ICR {got[Reg.ICR]:#x} with ERRCAUSE {causes:#x}")
    dext = [f.err_desc for f in exp.frames if f.kind == "dext"]
    erraddr = got[Reg.ERRADDRL] | got[Reg.ERRADDRH] << 32
    want_addr = sc.desc_addr(dext[-1]) if dext else 0
    _check(erraddr == want_addr, REGS, f"ERRADDR {erraddr:#x}, expected {want_addr:#x} (the last DEXT descriptor)")
    _check(got[Reg.TDH] == final, REGS, f"TDH {got[Reg.TDH]}, expected {final}")
    _check_descs(sc, mem, set(rs) if not sc.head_wb else set(), exact=True)


def _check_descs(sc: Scenario, mem: HostMemory, dd: set[int], *, exact: bool) -> None:
    """Only byte 12 of RS descriptors may change, to exactly 0x01 (DD); with `exact`, every
    one in `dd` has it."""
    for i, d in enumerate(sc.descs):
        raw = mem.read(sc.desc_addr(i), TX_DESC_SIZE)
        orig = desc_bytes(d)
        _check(raw[:DESC_STA_BYTE] == orig[:DESC_STA_BYTE] and raw[DESC_STA_BYTE + 1:] == orig[DESC_STA_BYTE + 1:], REGS,
               f"descriptor {sc.idx(i)} changed outside the STA byte")
        sta = raw[DESC_STA_BYTE]
        if i in dd and exact:
            _check(sta == 1, REGS, f"descriptor {sc.idx(i)}: STA byte {sta:#04x}, expected 0x01 (DD)")
        elif i not in dd:
            _check(sta == d.sta, REGS, f"descriptor {sc.idx(i)} (no RS or not finished) written back: STA {sta:#04x}")
        else:
            _check(sta in (d.sta, 1), REGS, f"descriptor {sc.idx(i)}: STA byte {sta:#04x}")


async def _check_fault(port: Port, sc: Scenario, exp: Expected, frames0: int, err0: int, bound: float,
                       sent_before_fail: list[bytes]) -> None:
    """A DMA error: transmit halts (TXOFF); no frame with bad data; ERRCAUSE/ERRADDR."""
    mem = port.mem

    async def halted() -> bool:
        return bool(await port.readl(Reg.STATUS) & E1000_STATUS_TXOFF)
    await until(port, halted, bound, "STATUS.TXOFF after a DMA error")
    await settle_wire(port, bound)
    got_wire = [f.data for f in port.frames()[frames0:]]
    kind = sc.fault[0] if sc.fault else "data"
    write = kind in ("dd", "hwb")
    # data read errors: every frame before the failing one is complete in the buffer first (reads
    # return in order) -> exact; a descriptor fetch may overtake earlier buffer reads and a write
    # error halts at any point -> a prefix
    exact = not write and kind != "desc"
    if kind == "desc":
        k = sc.fault[1]
        # the failing beat may also hold a neighbour (bus wider than a descriptor): a fetch
        # ending at the earlier one of the pair fails too
        beat = sc.desc_addr(k) - sc.desc_addr(k) % sc.bpb
        first_bad = min(j for j in range(k + 1) if beat <= sc.desc_addr(j) < beat + sc.bpb)
        fi = next((i for i, f in enumerate(exp.frames) if any(j >= first_bad for j in f.descs)), len(exp.frames))
        allowed = [w for f in exp.frames[:fi] for w in f.wires]
    elif write:
        allowed = [w for f in exp.frames for w in f.wires]
    else:
        allowed = sent_before_fail
    _compare_wire(got_wire, allowed, prefix=not exact, what=f"{kind} error")
    cause = await port.readl(Reg.ERRCAUSE)
    want = ERR_DMA_WRITE if write else ERR_DMA_READ
    _check(bool(cause & want), REGS, f"ERRCAUSE {cause:#x} without bit {want:#x}")
    ndrop, drop_causes = _drops(exp.frames[:exp.fail] if exp.fail is not None and not write else exp.frames)
    allowed_causes = want | drop_causes | exp.reg_causes
    _check(not cause & ~allowed_causes, REGS, f"ERRCAUSE {cause:#x}, allowed bits {allowed_causes:#x}")
    if exact:
        _check(cause == allowed_causes, REGS, f"ERRCAUSE {cause:#x}, expected {allowed_causes:#x}")
        txdrop = await port.readl(Reg.TXDROP)
        _check(txdrop == ndrop, REGS, f"TXDROP {txdrop}, expected {ndrop} (drops before the failing frame)")
    erraddr = await port.readl(Reg.ERRADDRL) | (await port.readl(Reg.ERRADDRH)) << 32
    errs = [a for w, a in port.error_responses()[err0:] if w == write]
    if kind in ("data",) or not sc.fault:
        d = sc.descs[exp.fail_desc if exp.fail_desc is not None else 0]
        _check(_in_buffer(d, erraddr), REGS, f"ERRADDR {erraddr:#x} outside the failing buffer {d.addr:#x}+{d.length}")
    elif kind == "desc":
        _check(sc.ring <= erraddr < sc.ring + sc.n * TX_DESC_SIZE, REGS, f"ERRADDR {erraddr:#x} outside the ring")
    elif kind == "dd":
        k = sc.fault[1]
        ok = {sc.desc_addr(k) + DESC_STA_BYTE}
        if sc.bpb > TX_DESC_SIZE:  # the failing beat holds the neighbour's DD byte too
            pair = (sc.desc_addr(k) - sc.desc_addr(k) % sc.bpb)
            ok |= {pair + DESC_STA_BYTE, pair + TX_DESC_SIZE + DESC_STA_BYTE}
        # a DEXT descriptor whose marker was in flight when the write failed may come later
        ok |= {sc.desc_addr(f.err_desc) for f in exp.frames if f.kind == "dext"}
        _check(erraddr in ok, REGS, f"ERRADDR {erraddr:#x}, expected the DD byte or a DEXT descriptor {sorted(ok)}")
    else:
        ok = {sc.hwb_addr} | {sc.desc_addr(f.err_desc) for f in exp.frames if f.kind == "dext"}
        _check(erraddr in ok, REGS, f"ERRADDR {erraddr:#x}, expected the head write-back address {sc.hwb_addr:#x} "
                                    "or a DEXT descriptor")
    if errs and not write:
        _check(erraddr == errs[0], REGS, f"ERRADDR {erraddr:#x}, the first failing burst started at {errs[0]:#x}")
    icr = await port.readl(Reg.ICR)
    _check(bool(icr & E1000_ICR_ERR), REGS, f"ICR.ERR not set after a DMA error (ICR {icr:#x})")
    if exact and exp.fail is not None:
        f = exp.frames[exp.fail]
        lo, hi = sc.idx(f.descs[0]), sc.idx(exp.fail_desc if exp.fail_desc is not None else f.descs[0])
        tdh = await port.readl(Reg.TDH)
        rel = (tdh - sc.tdh0) % sc.n
        _check(f.descs[0] <= rel <= (exp.fail_desc or 0), REGS,
               f"TDH {tdh} after the read error, expected {lo}..{hi} (where buffers were read)")
    # descriptors: DD only on finished RS descriptors of frames before the failing one
    before = exp.frames if write else (exp.frames[:exp.fail] if exp.fail is not None else exp.frames)
    if kind == "desc":
        before = exp.frames
    dd = set() if sc.head_wb else {i for f in before for i in f.descs
                                   if sc.descs[i].cmd & (E1000_TXD_CMD_RS | E1000_TXD_CMD_RPS)}
    _check_descs(sc, mem, dd, exact=False)


def outcome_counts(results: dict[int, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in results.values():
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items()))


__all__ = ["CLASSES", "Port", "Scenario", "SeedFailure", "make_scenario", "outcome_counts", "reference", "run_seed",
           "wire_image"]
