"""pcap with the FCS: header bits, round trip through read_pcap, and what readers make of it.

The FCS is checked here with a bitwise CRC-32 written out below (not zlib, which the writer
uses) and the IP/TCP/UDP checksums by scapy; tshark, where installed, checks all three.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zlib

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import raw

from hilnic.hw.backend import WireFrame
from hilnic.wire import PcapRecord, PcapWriter, read_pcap
from hilnic.wire.pcap import LINKTYPE_ETHERNET, eth_fcs, lt_fcs_datalink_ext, lt_fcs_length


def crc32_ieee(data: bytes) -> int:
    """IEEE 802.3 CRC-32, bit by bit (reflected, poly 0xEDB88320, init and xorout ~0)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def wire_frame(pkt, t_ps: int, index: int) -> WireFrame:
    b = raw(pkt)
    b += bytes(max(0, 60 - len(b)))
    return WireFrame(b + zlib.crc32(b).to_bytes(4, "little"), t_ps, t_ps + 800 * len(b), True, index)


def sample_frames() -> list[WireFrame]:
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    base = eth / IP(src="10.0.0.1", dst="10.0.0.2")
    return [
        wire_frame(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="10.0.0.2"), 6_400, 0),
        wire_frame(base / TCP(sport=40001, dport=80, flags="PA", seq=1) / (b"d" * 1448), 1_234_567_890_123, 1),
        wire_frame(base / UDP(sport=3000, dport=4000) / b"x", 2 * 10**12 + 801, 2),
    ]


def write(frames, **kw) -> bytes:
    buf = io.BytesIO()
    w = PcapWriter(buf, **kw)
    for f in frames:
        w.write_frame(f)
    w.close()
    return buf.getvalue()


def test_link_type_field_says_four_bytes_of_fcs():
    assert lt_fcs_datalink_ext(LINKTYPE_ETHERNET, 4) == 0x24000001  # P bit, 2 x 16-bit words
    assert lt_fcs_length(0x24000001) == 4
    assert lt_fcs_length(1) is None
    with pytest.raises(ValueError):
        lt_fcs_datalink_ext(1, 3)
    head = write([], fcs=True)[:24]
    magic, vmaj, vmin, _tz, _sig, snaplen, linkfield = struct.unpack("<IHHiIII", head)
    assert (magic, vmaj, vmin, snaplen) == (0xA1B23C4D, 2, 4, 65535)
    assert linkfield & 0xFFFF == LINKTYPE_ETHERNET
    assert linkfield & 0x04000000  # FCS length present
    assert linkfield >> 28 == 2  # in 16-bit words
    # default and keep_fcs are as before / the old name of fcs=True
    assert struct.unpack_from("<I", write([]), 20)[0] == 1
    assert write([], keep_fcs=True)[:24] == head
    assert PcapWriter(io.BytesIO(), keep_fcs=True).fcs and not PcapWriter(io.BytesIO()).fcs


def test_round_trip_keeps_the_fcs_and_read_pcap_checks_it():
    frames = sample_frames()
    data = write(frames, fcs=True)
    # the records hold the frames exactly as on the wire, FCS included
    off, stored = 24, []
    while off < len(data):
        _s, _ns, incl, _orig = struct.unpack_from("<IIII", data, off)
        stored.append(data[off + 16 : off + 16 + incl])
        off += 16 + incl
    assert stored == [f.data for f in frames]
    for body in stored:  # an independent CRC
        assert crc32_ieee(body[:-4]).to_bytes(4, "little") == body[-4:]
    recs = read_pcap(io.BytesIO(data))
    assert recs == [PcapRecord(f.t_start // 1000 * 1000, f.data[:-4], True) for f in frames]
    assert all(isinstance(r, tuple) and len(r) == 3 for r in recs)
    # the IP/TCP/UDP checksums in the frames are valid (scapy recomputes them)
    for r in recs[1:]:
        ip = Ether(r.frame)[IP]
        l4 = ip.payload
        sent = (ip.chksum, l4.chksum)
        ip2 = IP(raw(ip))
        del ip2.chksum
        del ip2.payload.chksum
        again = IP(raw(ip2))
        assert (again.chksum, again.payload.chksum) == sent


def test_a_bad_fcs_reads_as_bad(tmp_path):
    f = sample_frames()[1]
    bad = WireFrame(f.data[:-1] + bytes([f.data[-1] ^ 0x80]), f.t_start, f.t_end, True, 0)
    path = tmp_path / "bad.pcap"
    with PcapWriter(str(path), fcs=True) as w:
        w.write_frame(bad)
        w.write_frame(f)
    assert [r.fcs_ok for r in read_pcap(str(path))] == [False, True]


def test_write_packet_pads_and_appends_the_fcs():
    ack = raw(Ether() / IP() / TCP(flags="A"))  # 54 bytes, as the peer builds it
    buf = io.BytesIO()
    w = PcapWriter(buf, fcs=True)
    w.write_packet(ack, 5 * 10**9 + 7_000)
    w.write_packet(sample_frames()[1].data, 6 * 10**9, has_fcs=True)
    w.flush()
    buf.seek(0)
    (r, r2) = read_pcap(buf)
    assert r.ts_ps == 5 * 10**9 + 7_000 and r.fcs_ok is True
    assert r.frame == ack + bytes(6)  # padded to the 60-byte minimum like a MAC does
    assert buf.getvalue()[24 + 16 : 24 + 16 + 64][-4:] == eth_fcs(ack + bytes(6))
    assert r2.frame == sample_frames()[1].data[:-4] and r2.fcs_ok is True
    # without FCS nothing is padded or added, and a frame's FCS is dropped
    buf = io.BytesIO()
    w = PcapWriter(buf)
    w.write_packet(ack, 0)
    w.write_packet(sample_frames()[1].data, 0, has_fcs=True)
    buf.seek(0)
    assert [(r.frame, r.fcs_ok) for r in read_pcap(buf)] == [(ack, None), (sample_frames()[1].data[:-4], None)]


def test_snaplen_truncation_loses_the_fcs_check():
    frames = sample_frames()
    recs = read_pcap(io.BytesIO(write(frames, fcs=True, snaplen=100)))
    assert [r.fcs_ok for r in recs] == [True, None, True]
    assert recs[1].frame == frames[1].data[:100]


def test_read_pcap_reads_other_byte_orders_and_microseconds():
    frame = sample_frames()[2].data
    for endian, magic, sub, scale in (("<", 0xA1B2C3D4, 7, 10**6), (">", 0xA1B23C4D, 7, 10**3), (">", 0xA1B2C3D4, 9, 10**6)):
        data = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, 0x24000001)
        data += struct.pack(endian + "IIII", 3, sub, len(frame), len(frame)) + frame
        assert read_pcap(io.BytesIO(data)) == [(3 * 10**12 + sub * scale, frame[:-4], True)]
    with pytest.raises(ValueError):
        read_pcap(io.BytesIO(b"\0" * 24))


def test_scapy_still_reads_the_file(tmp_path):
    """scapy does not know the FCS bits: it gives Raw records, FCS included (with a warning)."""
    from scapy.utils import rdpcap

    path = tmp_path / "wire.pcap"
    frames = sample_frames()
    with PcapWriter(str(path), fcs=True) as w:
        for f in frames:
            w.write_frame(f)
    pkts = rdpcap(str(path))
    assert [raw(p) for p in pkts] == [f.data for f in frames]
    assert Ether(raw(pkts[1])[:-4])[TCP].dport == 80


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_reports_good_fcs_and_checksums(tmp_path):
    path = tmp_path / "wire.pcap"
    frames = sample_frames()
    bad = WireFrame(frames[0].data[:-1] + bytes([frames[0].data[-1] ^ 1]), 10**9, 10**9, True, 3)
    with PcapWriter(str(path), fcs=True) as w:
        for f in frames + [bad]:
            w.write_frame(f)
    fields = ["frame.number", "eth.fcs.status", "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status"]
    cmd = ["tshark", "-r", str(path), "-o", "eth.check_fcs:TRUE", "-o", "ip.check_checksum:TRUE",
           "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "separator=,"]
    for fld in fields:
        cmd += ["-e", fld]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [ln.split(",") for ln in out.splitlines()]
    # status 1 = good, 0 = bad (Wireshark's proto_checksum_status)
    assert rows == [["1", "1", "", "", ""], ["2", "1", "1", "1", ""], ["3", "1", "1", "", "1"], ["4", "0", "", "", ""]]
