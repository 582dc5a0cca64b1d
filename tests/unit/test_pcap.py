"""PcapWriter: read back with scapy's rdpcap (an independent reader) and compare."""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib
from decimal import Decimal

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw
from scapy.utils import rdpcap

from hilnic.hw.backend import WireFrame
from hilnic.wire import PcapWriter


def frame(pkt, t_ps: int, index: int) -> WireFrame:
    b = raw(pkt)
    b += bytes(max(0, 60 - len(b)))
    return WireFrame(b + zlib.crc32(b).to_bytes(4, "little"), t_ps, t_ps + 800 * len(b), True, index)


def sample_frames() -> list[WireFrame]:
    base = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.0.0.1", dst="10.0.0.2")
    return [
        frame(base / TCP(sport=1, dport=2, flags="S"), 6_400, 0),  # 6.4 ns
        frame(base / TCP(sport=1, dport=2, flags="PA", seq=1) / (b"d" * 1448), 1_234_567_890_123, 1),  # 1.23 s
        frame(base / UDP(sport=3, dport=4) / b"x", 2 * 10**12 + 801, 2),  # sub-ns part is truncated
    ]


def test_round_trip_without_fcs(tmp_path):
    path = tmp_path / "wire.pcap"
    frames = sample_frames()
    with PcapWriter(str(path)) as w:
        for f in frames:
            w.write_frame(f)
    head = path.read_bytes()[:24]
    magic, vmaj, vmin, _tz, _sig, snaplen, linktype = struct.unpack("<IHHiIII", head)
    assert (magic, vmaj, vmin, snaplen, linktype) == (0xA1B23C4D, 2, 4, 65535, 1)
    pkts = rdpcap(str(path))
    assert [raw(p) for p in pkts] == [f.data[:-4] for f in frames]
    assert [Decimal(p.time) for p in pkts] == [Decimal(f.t_start // 1000) / Decimal(10**9) for f in frames]
    tcp = pkts[1]
    ip = IP(raw(tcp[IP]))
    sent = (ip.chksum, ip[TCP].chksum)
    del ip.chksum
    del ip[TCP].chksum
    again = IP(raw(ip))
    assert (again.chksum, again[TCP].chksum) == sent  # the capture carries valid checksums


def test_keep_fcs_and_snaplen():
    buf = io.BytesIO()
    frames = sample_frames()
    w = PcapWriter(buf, keep_fcs=True, snaplen=100)
    for f in frames:
        w.write_frame(f)
    w.close()
    buf.seek(0)
    pkts = rdpcap(buf)
    assert [raw(p) for p in pkts] == [f.data[:100] for f in frames]
    assert [p.wirelen for p in pkts] == [len(f.data) for f in frames]
    # the stored FCS of the untruncated frames is the CRC-32 of the rest
    small = raw(pkts[0])
    assert zlib.crc32(small[:-4]).to_bytes(4, "little") == small[-4:]


def test_write_packet_for_return_traffic():
    buf = io.BytesIO()
    w = PcapWriter(buf)
    ack = raw(Ether() / IP() / TCP(flags="A"))
    w.write_packet(ack, 5 * 10**9 + 7_000)  # 5 ms + 7 ns
    w.flush()
    buf.seek(0)
    (p,) = rdpcap(buf)
    assert raw(p) == ack and Decimal(p.time) == Decimal("0.005000007") and w.count == 1


def test_records_out_of_order_are_written_in_time_order():
    """The MAC reports a frame after it has left the wire, the peer an answer before it reaches
    the host: with the clock given, the writer holds records for its horizon and sorts them."""
    now = [0]
    buf = io.BytesIO()
    w = PcapWriter(buf, now=lambda: now[0], horizon_ps=1_000_000)
    ack = raw(Ether() / IP() / TCP(flags="A"))
    f0, f1, _ = sample_frames()
    now[0] = 2_000_000
    w.write_packet(ack, 2_500_000)  # an answer stamped in the future
    assert buf.getvalue()[24:] == b""  # held
    now[0] = 3_000_000
    w.write_frame(dataclasses.replace(f1, t_start=1_500_000))  # a frame that started before it
    w.write_frame(dataclasses.replace(f0, t_start=2_600_000))
    now[0] = 3_550_000
    w.flush()  # due: up to 2.55 us
    assert len(rdpcap(io.BytesIO(buf.getvalue()))) == 2
    w.close()  # the rest
    pkts = rdpcap(io.BytesIO(buf.getvalue()))
    assert [Decimal(p.time) * 10**12 for p in pkts] == [1_500_000, 2_500_000, 2_600_000]
    assert raw(pkts[1]) == ack and w.count == 3 and w.late == 0
    # a record older than one already written still goes in, counted as late
    buf = io.BytesIO()
    w = PcapWriter(buf, now=lambda: now[0], horizon_ps=0)
    w.write_packet(ack, 3_000_000)
    w.write_packet(ack, 1_000_000)
    w.close()
    assert w.late == 1 and len(rdpcap(io.BytesIO(buf.getvalue()))) == 2
