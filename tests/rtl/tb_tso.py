"""cocotb bench: TCP segmentation offload in nic_top (docs/nic.md §3, §5).

Run by tests/rtl/test_tso.py. Packets are built with scapy and handed over as Linux's e1000
driver does (context descriptor, then TSE data descriptors, the header prepared by
e1000_tso()); the segments on the wire must be exactly the ones scapy builds from the
original packet (tso_ref.scapy_segments), each with a valid FCS (zlib) and checksums that
scapy recomputes to the same values.
"""

from __future__ import annotations

import logging
import random
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from nic_tb import CMD_FRAME, NicTB, eth_frame, wire_image  # noqa: E402
from scapy.layers.inet import IP, TCP, IPOption_NOP  # noqa: E402
from scapy.layers.l2 import Dot1Q, Ether  # noqa: E402
from scapy.packet import Packet, Raw  # noqa: E402
from tso_ref import byte_segments, check_segment, linux_tso_header, scapy_segments  # noqa: E402

from hilnic.cosim.api import rtl_test  # noqa: E402
from hilnic.hw.regs import (  # noqa: E402
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
    Reg,
    TxContextDesc,
    TxDataDesc,
    TxDesc,
)

TUCMD_TSO = E1000_TXD_CMD_TCP | E1000_TXD_CMD_IP | E1000_TXD_CMD_TSE
POPTS = E1000_TXD_POPTS_IXSM | E1000_TXD_POPTS_TXSM
TS_OPTS = [("NOP", None), ("NOP", None), ("Timestamp", (123456, 654321))]


def tcp_packet(rng: random.Random, payload_len: int, *, l2: str = "eth", ip_opts: bool = False, ts: bool = True,
               flags: str = "PA", seq: int | None = None, ip_id: int | None = None) -> Packet:
    """An Ethernet (or VLAN, or 15 raw bytes: an odd IPCSS) / IPv4 / TCP packet."""
    if l2 == "vlan":
        front: Packet = Ether(dst="02:aa:bb:cc:dd:ee", src="02:11:22:33:44:55") / Dot1Q(vlan=5)
    elif l2 == "odd":
        front = Raw(bytes(range(15)))
    else:
        front = Ether(dst="02:aa:bb:cc:dd:ee", src="02:11:22:33:44:55")
    ip = IP(src="10.0.0.1", dst="10.0.0.2", flags="DF", ttl=64,
            id=rng.randrange(1 << 16) if ip_id is None else ip_id,
            options=[IPOption_NOP()] * 4 if ip_opts else [])
    tcp = TCP(sport=rng.randrange(1024, 65536), dport=5001, flags=flags,
              seq=rng.randrange(1 << 32) if seq is None else seq, ack=rng.randrange(1 << 32),
              window=rng.randrange(1, 65536), options=TS_OPTS if ts else [])
    return front / ip / tcp / Raw(rng.randbytes(payload_len))


def layout(pkt: Packet) -> dict[str, int]:
    """IPCSS, IPCSE, TUCSS, HDRLEN of a packet built by tcp_packet."""
    raw = bytes(pkt)
    ipcss = len(raw) - len(bytes(pkt[IP]))
    tucss = len(raw) - len(bytes(pkt[TCP]))
    hdrlen = len(raw) - len(bytes(pkt[TCP].payload))
    return {"ipcss": ipcss, "ipcse": tucss - 1, "tucss": tucss, "hdrlen": hdrlen}


def post_raw(tb: NicTB, raw: bytes) -> int:
    idx = tb.tail
    tb.mem.write(tb.desc_addr(idx), raw)
    tb.tail = (tb.tail + 1) % tb.n
    return idx


def post_tso(tb: NicTB, rng: random.Random, data: bytes, lo: dict[str, int], mss: int, cuts: list[int], *,
             paylen: int | None = None, popts: int = POPTS, tucmd: int = TUCMD_TSO, hdrlen: int | None = None,
             context: bool = True, eop: bool = True) -> list[int]:
    """A context descriptor (unless `context` is False) and data descriptors holding
    `data` cut at `cuts`, buffers at random byte offsets; EOP (unless `eop` is False) and RS
    on the last. Returns the descriptor indices."""
    hl = lo["hdrlen"] if hdrlen is None else hdrlen
    idxs = []
    if context:
        ctx = TxContextDesc(ipcss=lo["ipcss"], ipcso=lo["ipcss"] + 10, ipcse=lo["ipcse"], tucss=lo["tucss"],
                            tucso=lo["tucss"] + 16, tucse=0,
                            paylen=len(data) - lo["hdrlen"] if paylen is None else paylen,
                            tucmd=tucmd, hdrlen=hl, mss=mss)
        idxs.append(post_raw(tb, ctx.pack()))
    edges = [0, *cuts, len(data)]
    for k in range(len(edges) - 1):
        piece = data[edges[k]:edges[k + 1]]
        addr = tb.buffer(piece, rng.randrange(64)) if piece else 0
        last = k == len(edges) - 2
        dcmd = E1000_TXD_CMD_IFCS | E1000_TXD_CMD_TSE | ((E1000_TXD_CMD_EOP if eop else 0) | E1000_TXD_CMD_RS if last else 0)
        idxs.append(post_raw(tb, TxDataDesc(addr=addr, length=len(piece), dcmd=dcmd, popts=popts).pack()))
    return idxs


def driver_bytes(pkt: Packet) -> tuple[bytes, dict[str, int]]:
    """The packet's bytes with the header as e1000_tso() leaves it, and its layout."""
    raw = bytes(pkt)
    lo = layout(pkt)
    return linux_tso_header(raw[:lo["hdrlen"]], lo["ipcss"], lo["tucss"]) + raw[lo["hdrlen"]:], lo


def random_cuts(rng: random.Random, n: int, first: int, parts: int) -> list[int]:
    """Cut points for `parts` buffers of n bytes, the first holding at least `first` bytes."""
    if parts <= 1 or n <= first:
        return []
    return sorted(set(rng.sample(range(first, n), min(parts - 1, n - first))))


async def run_packets(tb: NicTB, cases: list[tuple[Packet, int, list[int]]], rng: random.Random) -> None:
    """Post the packets (each: packet, MSS, cuts), one doorbell; every segment exact, its
    checksums valid for scapy, IP IDs and sequence numbers increasing, FIN/PSH on the last
    one only; DD on every packet's last descriptor; GPTC = segments."""
    expected, lasts = [], []
    start = len(tb.rtl.frames)
    for pkt, mss, cuts in cases:
        data, lo = driver_bytes(pkt)
        lasts.append(post_tso(tb, rng, data, lo, mss, cuts)[-1])
        segs = scapy_segments(pkt, mss)
        expected.append((segs, lo, pkt))
    tb.doorbell()
    n = sum(len(s) for s, _lo, _p in expected)
    await tb.wait_frames(start + n, 2000)
    tb.expect_frames([wire_image(s) for segs, _lo, _p in expected for s in segs], start=start)
    i = start
    for segs, lo, pkt in expected:
        seen = []
        for _s in segs:
            seen.append(check_segment(tb.rtl.frames[i].data[:-4], lo["ipcss"]))
            i += 1
        ip, tcp = pkt[IP], pkt[TCP]
        off = 0
        for k, (ipid, seq, flags, plen) in enumerate(seen):
            assert ipid == (ip.id + k) & 0xFFFF and seq == (tcp.seq + off) & 0xFFFFFFFF
            last = k == len(seen) - 1
            assert (flags & 0x09) == ((int(tcp.flags) & 0x09) if last else 0), f"segment {k}: flags {flags:#x}"
            off += plen
        assert off == len(bytes(tcp.payload))
    for idx in lasts:
        await tb.wait_dd(idx)
    assert await tb.readl(Reg.GPTC) == n
    assert await tb.readl(Reg.ERRCAUSE) == 0 and await tb.readl(Reg.TXDROP) == 0


@rtl_test(timeout_us=3000)
async def tso_segments(dut):
    """TSO packets as Linux sends them and at the edges: header alone in the first buffer or
    with payload, payload in several buffers at any alignment, MSS 1448 / 536 / 7 / jumbo,
    one segment, a payload that is a multiple of MSS, FIN|PSH kept on the last segment only,
    IP ID and sequence numbers wrapping, VLAN, IPv4 options, an odd IPCSS; a legacy frame
    between two TSO packets (the context stays)."""
    tb = NicTB(dut)
    await tb.reset()
    bpb = tb.rtl.data_width // 8
    rng = random.Random(1100 + bpb)
    tb.setup_ring(128)
    p1 = tcp_packet(rng, 10000, flags="PA", ip_id=0xFFFE)
    lo1 = layout(p1)
    p2 = tcp_packet(rng, 3000, flags="FPA", seq=0xFFFFFF00)
    p3 = tcp_packet(rng, 100, l2="vlan", ip_opts=True, flags="FA")
    p4 = tcp_packet(rng, 300, l2="odd", ts=False, flags="P")
    p5 = tcp_packet(rng, 1000, flags="FPA")  # one segment
    p6 = tcp_packet(rng, 3 * 536, flags="PA")  # a multiple of MSS
    cases = [
        (p1, 1448, [lo1["hdrlen"], lo1["hdrlen"] + 1, 5000, 7001]),  # header alone, a 1-byte buffer
        (p2, 536, random_cuts(rng, len(p2), layout(p2)["hdrlen"] + 10, 3)),
        (p3, 7, random_cuts(rng, len(p3), layout(p3)["hdrlen"], 4)),
        (p4, 64, random_cuts(rng, len(p4), layout(p4)["hdrlen"], 2)),
        (p5, 1448, []),
        (p6, 536, random_cuts(rng, len(p6), layout(p6)["hdrlen"], 3)),
    ]
    await run_packets(tb, cases, rng)
    # a legacy frame, then TSO again with another context; jumbo segments
    frame = eth_frame(rng, 700)
    tb.post_frame([frame])
    p7 = tcp_packet(rng, 20000, flags="PA")
    start = len(tb.rtl.frames)
    tb.doorbell()
    await tb.wait_frames(start + 1, 100)
    tb.expect_frames([wire_image(frame)], start=start)
    assert await tb.readl(Reg.GPTC) == 1
    await run_packets(tb, [(p7, 8000, random_cuts(rng, len(p7), layout(p7)["hdrlen"], 5))], rng)
    await tb.finish()


@rtl_test(timeout_us=2000)
async def tso_checksum_options(dut):
    """POPTS: without IXSM the IPv4 checksum field stays as software left it, without TXSM
    the TCP checksum field too (and no pseudo-header length is added); TSE data descriptors
    of 64 KiB packets split at 32 KiB as Linux's e1000 does (byte reference, scapy's checksum)."""
    tb = NicTB(dut)
    await tb.reset()
    rng = random.Random(7)
    tb.setup_ring(64)
    expected = []
    for popts in (0, E1000_TXD_POPTS_IXSM, E1000_TXD_POPTS_TXSM):
        pkt = tcp_packet(rng, 4000)
        data, lo = driver_bytes(pkt)
        post_tso(tb, rng, data, lo, 1000, [lo["hdrlen"]], popts=popts)
        expected += byte_segments(data, ipcss=lo["ipcss"], ipcse=lo["ipcse"], tucss=lo["tucss"], hdrlen=lo["hdrlen"],
                                  mss=1000, ixsm=bool(popts & E1000_TXD_POPTS_IXSM),
                                  txsm=bool(popts & E1000_TXD_POPTS_TXSM))
    big = tcp_packet(rng, 65536 - 66 - 1)
    data, lo = driver_bytes(big)
    post_tso(tb, rng, data, lo, 1448, [lo["hdrlen"], lo["hdrlen"] + 32768])
    segs = scapy_segments(big, 1448)
    assert segs == byte_segments(data, ipcss=lo["ipcss"], ipcse=lo["ipcse"], tucss=lo["tucss"], hdrlen=lo["hdrlen"],
                                 mss=1448, ixsm=True, txsm=True), "the two references disagree"
    expected += segs
    tb.doorbell()
    await tb.wait_frames(len(expected), 1500)
    tb.expect_frames([wire_image(s) for s in expected])
    await tb.finish()


@rtl_test(timeout_us=2000)
async def tso_bad_input(dut):
    """docs/nic.md §5 for TSO: a TSE packet without a context, with MSS 0, with HDRLEN beyond
    its first buffer, with HDRLEN + MSS over MAX_FRAME_BYTES, with less or more data than
    HDRLEN + PAYLEN, cut short by a legacy descriptor; a context descriptor with RS. Each
    time: what the spec says reaches the wire (nothing, or the segments before the bad one),
    TXDROP, ERRCAUSE, ERRADDR, DD; a good frame after it goes out."""
    tb = NicTB(dut)
    await tb.reset()
    rng = random.Random(11)
    tb.setup_ring(64)
    sent = 0

    async def outcome(segs: list[bytes], cause: int, erraddr_idx: int | None, dd: list[int]) -> None:
        nonlocal sent
        frame = eth_frame(rng, 200)
        tb.post_frame([frame])
        tb.doorbell()
        await tb.wait_frames(sent + len(segs) + 1, 400)
        await tb.quiet(5)
        tb.expect_frames([wire_image(s) for s in segs] + [wire_image(frame)], start=sent)
        sent += len(segs) + 1
        assert await tb.readl(Reg.ERRCAUSE) == cause
        assert await tb.readl(Reg.TXDROP) == (1 if cause else 0)
        if erraddr_idx is not None:
            got = await tb.readl(Reg.ERRADDRL) | (await tb.readl(Reg.ERRADDRH)) << 32
            assert got == tb.desc_addr(erraddr_idx), f"ERRADDR {got:#x}, expected descriptor {erraddr_idx}"
        for idx in dd:
            await tb.wait_dd(idx)

    pkt = tcp_packet(rng, 5000)
    data, lo = driver_bytes(pkt)
    segs = scapy_segments(pkt, 1000)
    # no context since reset
    idxs = post_tso(tb, rng, data, lo, 1000, [lo["hdrlen"]], context=False)
    await outcome([], ERR_BAD_DESC, idxs[0], [idxs[-1]])
    # MSS 0
    idxs = post_tso(tb, rng, data, lo, 0, [lo["hdrlen"]])
    await outcome([], ERR_BAD_DESC, idxs[1], [idxs[-1]])
    # HDRLEN larger than the first buffer
    idxs = post_tso(tb, rng, data, lo, 1000, [lo["hdrlen"] - 1])
    await outcome([], ERR_BAD_DESC, idxs[1], [idxs[-1]])
    # HDRLEN + MSS > MAX_FRAME_BYTES (9216)
    idxs = post_tso(tb, rng, data, lo, 9216 - lo["hdrlen"] + 1, [lo["hdrlen"]])
    await outcome([], ERR_TOO_LONG, None, [idxs[-1]])
    # PAYLEN larger than the data: the complete segments go out, the one in progress at the
    # EOP descriptor is dropped (MSS 1200: 4 of 1200, the last would need 201 bytes, has 200)
    ref = dict(ipcss=lo["ipcss"], ipcse=lo["ipcse"], tucss=lo["tucss"], hdrlen=lo["hdrlen"], mss=1200, ixsm=True,
               txsm=True)
    idxs = post_tso(tb, rng, data, lo, 1200, [lo["hdrlen"], 3000], paylen=len(data) - lo["hdrlen"] + 1)
    await outcome(byte_segments(data + b"\0", **ref)[:4], ERR_BAD_DESC, idxs[-1], [idxs[-1]])
    # PAYLEN smaller than the data: the data after PAYLEN is not read, the last segment dropped
    idxs = post_tso(tb, rng, data, lo, 1200, [lo["hdrlen"], 3000], paylen=len(data) - lo["hdrlen"] - 5)
    await outcome(byte_segments(data[:-5], **ref)[:4], ERR_BAD_DESC, idxs[-1], [idxs[-1]])
    # a legacy descriptor in the middle ends the packet: it is dropped with the segment in progress
    idxs = post_tso(tb, rng, data[:2500], lo, 1000, [lo["hdrlen"]], paylen=len(data) - lo["hdrlen"], eop=False)
    bad = post_raw(tb, TxDesc(addr=0, length=0, cmd=CMD_FRAME).pack())
    await outcome(segs[:2], ERR_BAD_DESC, bad, [bad])
    # a context descriptor with RS is written back; TSO still works after all of that
    ctx = TxContextDesc(ipcss=lo["ipcss"], ipcso=lo["ipcss"] + 10, ipcse=lo["ipcse"], tucss=lo["tucss"],
                        tucso=lo["tucss"] + 16, paylen=len(data) - lo["hdrlen"], tucmd=TUCMD_TSO | E1000_TXD_CMD_RS,
                        hdrlen=lo["hdrlen"], mss=1000)
    cidx = post_raw(tb, ctx.pack())
    post_tso(tb, rng, data, lo, 1000, [lo["hdrlen"]], context=False)
    await outcome(segs, 0, None, [cidx])
    await tb.finish()
