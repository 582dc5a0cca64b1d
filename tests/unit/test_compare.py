"""`hilnic compare` on synthetic captures: the host's TCP segments (sizes, PSH/FIN, run-length
encoded) and UDP fragments (ip_len@offset+MF), read from plain DLT_EN10MB pcaps, hilnic's
wire.pcap with FCS bits in the link type, Linux cooked captures and pcapng; a mismatch is
highlighted and exits 1, a match exits 0, an unreadable file exits 2."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.l2 import ARP, CookedLinux, Ether
from scapy.packet import Raw
from scapy.utils import wrpcap, wrpcapng

from hilnic.cli.main import main
from hilnic.run.compare import compare, compare_files, format_comparison, pattern_of, rle_text

HOST, PEER = "192.0.2.1", "192.0.2.2"
HMAC, PMAC = "02:00:00:00:00:01", "02:00:00:00:00:02"


def _tcp(sizes_flags: list[tuple[int, str]], two_way: bool = True) -> list:
    """A connection from HOST: SYN, the data segments (size, extra flags), FIN; the peer's
    SYN-ACK and ACKs (and the host's pure ACKs) when two_way."""
    e_h, e_p = Ether(src=HMAC, dst=PMAC), Ether(src=PMAC, dst=HMAC)
    pk = [e_h / ARP(psrc=HOST, pdst=PEER)]  # not IPv4: ignored
    pk.append(e_h / IP(src=HOST, dst=PEER) / TCP(sport=40000, dport=5001, flags="S", seq=100))
    if two_way:
        pk.append(e_p / IP(src=PEER, dst=HOST) / TCP(sport=5001, dport=40000, flags="SA", seq=7, ack=101))
        pk.append(e_h / IP(src=HOST, dst=PEER) / TCP(sport=40000, dport=5001, flags="A", seq=101, ack=8))
    seq = 101
    for n, fl in sizes_flags:
        pk.append(e_h / IP(src=HOST, dst=PEER) / TCP(sport=40000, dport=5001, flags="A" + fl, seq=seq, ack=8)
                  / Raw(bytes(n)))
        seq += n
        if two_way:
            pk.append(e_p / IP(src=PEER, dst=HOST) / TCP(sport=5001, dport=40000, flags="A", seq=8, ack=seq))
    return pk


def _udp(sizes: list[int]) -> list:
    pk = []
    for i, n in enumerate(sizes):
        dg = IP(src=HOST, dst=PEER, id=i + 1) / UDP(sport=33000, dport=9000) / Raw(bytes(n))
        pk += [Ether(src=HMAC, dst=PMAC) / f for f in fragment(dg, fragsize=1480)]
    return pk


def _wire_pcap(path: Path, pkts: list) -> Path:
    """wire.pcap as hilnic wrote it: ns timestamps, frames padded to 60 bytes and ending with
    their FCS, the link type LINKTYPE_ETHERNET with the FCS-length bits (0x24000001)."""
    out = [struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 0x24000001)]
    for i, p in enumerate(pkts):
        data = bytes(p)
        data += bytes(max(0, 60 - len(data)))
        data += (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "little")
        out.append(struct.pack("<IIII", 0, i * 1000, len(data), len(data)) + data)
    path.write_bytes(b"".join(out))
    return path


def _main(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


NAGLE = [(1000, "P")] + [(1448, "")] * 6 + [(312, "PF")]


def test_tcp_pattern_two_way_capture(tmp_path):
    p = tmp_path / "a.pcap"
    wrpcap(str(p), _tcp(NAGLE))
    pat = pattern_of(p)
    assert pat.proto == "tcp" and pat.host == f"{HOST}:40000"
    assert pat.tokens == ["S", "1000P"] + ["1448"] * 6 + ["312PF"]  # the peer's segments, pure ACKs: out
    assert pat.text() == "S 1000P 1448 x6 312PF"
    f = pat.features()
    assert (f["segments"], f["bytes"], f["max_size"], f["psh"], f["fin"]) == (8, 10_000, 1448, 2, "with data")


def test_wire_pcap_with_fcs_and_plain_pcap_match(tmp_path, capsys):
    _wire_pcap(tmp_path / "wire.pcap", _tcp(NAGLE, two_way=False))
    real = tmp_path / "real.pcap"
    wrpcap(str(real), _tcp(NAGLE))
    assert _main("compare", str(tmp_path), str(real)) == 0  # a run directory means its wire.pcap
    out = capsys.readouterr().out
    assert "MATCH" in out and "1448 x6" in out


def test_mismatch_is_highlighted_and_exits_1(tmp_path, capsys):
    run = tmp_path / "run.pcap"
    wrpcap(str(run), _tcp([(1000, "P")] + [(1448, "")] * 3 + [(1448, "P"), (1448, ""), (1448, ""), (312, "PF")]))
    real = tmp_path / "real.pcap"
    wrpcap(str(real), _tcp(NAGLE))
    assert _main("compare", str(run), str(real), "--no-color") == 1
    out = capsys.readouterr().out
    marked = [ln for ln in out.splitlines() if "<<< first difference" in ln]
    assert len(marked) == 1 and "1448 x3" in marked[0] and "1448 x6" in marked[0]  # the first groups that differ
    assert "DIFFERENT: segment 6: run 1448P, real 1448" in out
    c = compare_files(run, real)
    assert not c.ok and c.first_diff == 5
    colored = format_comparison(c, "run", "real", color=True)
    assert "\x1b[31m" in colored


def test_length_difference_and_fin_alone(tmp_path):
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    wrpcap(str(a), _tcp([(1000, "P")] * 3 + [(0, "F")]))
    wrpcap(str(b), _tcp([(1000, "P")] * 2 + [(0, "F")]))
    pa, pb = pattern_of(a), pattern_of(b)
    assert pa.text() == "S 1000P x3 F" and pa.features()["fin"] == "alone"
    c = compare(pa, pb)
    assert c.first_difference() == "segment 4: run 1000P, real F"


def test_udp_fragments(tmp_path, capsys):
    real = tmp_path / "real.pcap"
    wrpcap(str(real), _udp([4000, 100]))
    pat = pattern_of(real)
    assert pat.proto == "udp"
    assert pat.text() == "1500@0+MF 1500@1480+MF 1068@2960 128@0"
    assert pat.features()["fragmented"] == 3
    run = _wire_pcap(tmp_path / "wire.pcap", _udp([4000, 100]))
    assert _main("compare", str(run), str(real)) == 0
    wrpcap(str(run), _udp([4000, 101]))
    assert _main("compare", str(run), str(real)) == 1
    assert "packet 4: run 129@0, real 128@0" in capsys.readouterr().out


def test_cooked_and_pcapng_captures(tmp_path):
    sll = tmp_path / "any.pcap"  # tcpdump -i any: Linux cooked capture, the frames without Ethernet header
    wrpcap(str(sll), [CookedLinux(proto=0x0800) / p[IP] for p in _tcp(NAGLE) if IP in p])
    ng = tmp_path / "ng.pcapng"
    wrpcapng(str(ng), _tcp(NAGLE))
    assert pattern_of(sll).text() == pattern_of(ng).text() == "S 1000P 1448 x6 312PF"


def test_first_connection_only_and_host_is_the_syn_sender(tmp_path):
    # the peer's SYN-ACK first in the file (capture started late on the peer's side) and a
    # second connection after the first: the host is still the SYN sender, the first connection only
    pk = _tcp([(500, "P")])
    pk = [pk[2], pk[1], *pk[3:]]
    second = [p.copy() for p in _tcp([(7, "P")], two_way=False)[1:]]
    for p in second:
        p[TCP].sport = 40001
    wrpcap(str(tmp_path / "a.pcap"), pk + second)
    assert pattern_of(tmp_path / "a.pcap").text() == "S 500P"


def test_features_from_the_sidecar(tmp_path, capsys):
    run, real = tmp_path / "run.pcap", tmp_path / "real.pcap"
    wrpcap(str(run), _tcp([(1448, "")] * 3 + [(1448, "P"), (200, "PF")]))
    wrpcap(str(real), _tcp([(1448, "P")] * 4 + [(200, "PF")]))
    assert _main("compare", str(run), str(real)) == 1
    capsys.readouterr()
    stable = {"mode": "features", "features": {"segments": 5, "bytes": 5992, "max_size": 1448, "fin": "with data"}}
    (tmp_path / "real.json").write_text(json.dumps({"stable": stable}))
    assert _main("compare", str(run), str(real)) == 0
    out = capsys.readouterr().out
    assert "stable features" in out and "ok  segments" in out
    assert _main("compare", str(run), str(real), "--full") == 1
    assert _main("compare", str(run), str(real), "--features", "segments,psh") == 1
    assert "psh: run 2, real 5" in capsys.readouterr().out


def test_unreadable_files_exit_2_one_line(tmp_path, capsys):
    good = tmp_path / "good.pcap"
    wrpcap(str(good), _tcp(NAGLE))
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all")
    empty = tmp_path / "empty.pcap"
    wrpcap(str(empty), [Ether() / ARP()])
    for argv in ([str(junk), str(good)], [str(good), str(tmp_path / "missing.pcap")], [str(empty), str(good)],
                 [str(good), str(good), "--features", "nosuch"]):
        assert _main("compare", *argv) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "hilnic compare: error:" in err, err


def test_rle_text():
    assert rle_text(["S", "1448", "1448", "1448P", "F", "F"]) == "S 1448 x2 1448P F x2"
    assert rle_text([]) == ""


@pytest.mark.parametrize("n, flags, token", [(0, 0x02, "S"), (0, 0x12, "S"), (0, 0x11, "F"), (10, 0x18, "10P"),
                                            (10, 0x19, "10PF"), (0, 0x14, "R"), (10, 0x10, "10")])
def test_tcp_tokens(n, flags, token):
    from hilnic.run.compare import tcp_token

    assert tcp_token(n, flags) == token
