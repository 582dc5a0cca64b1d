"""`hilnic demo` end to end with a few frames: the summary adds up and the pcap parses."""

from __future__ import annotations

import os

from hilnic.demo.frames import build_frames
from hilnic.demo.run import format_summary, run_demo


def test_demo_small(tmp_path):
    n = 10
    s = run_demo(frames=n, out=tmp_path, seed=3, mem_latency_ns=300)
    text = format_summary(s)
    assert s["ok"], text + "\n" + s.get("error", "")
    assert s["frames_sent"] == s["frames_on_wire"] == s["fcs_ok"] == s["frames_exact"] == s["gptc"] == n
    assert s["writebacks"]["dd_set"] == n and s["irq"]["assertions"] >= 1
    assert s["checksums_verified"] > 0 and s["cycles"] > 0
    assert "OK: every frame correct" in text

    import dpkt
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import ARP, Ether
    from scapy.utils import rdpcap

    from hilnic.wire.pcap import read_pcap

    path = os.fspath(tmp_path / "wire.pcap")
    recs = read_pcap(path)
    assert len(recs) == n == s["pcap_frames"]
    assert all(r.fcs_ok is None for r in recs)  # plain Ethernet: the FCS was checked on XGMII and stripped
    # the two independent readers see the same Ethernet frames (an FCS-flagged link type would fail both)
    pkts = list(rdpcap(path))
    assert [bytes(p) for p in pkts] == [r.frame for r in recs]
    with open(path, "rb") as fh:
        rd = dpkt.pcap.Reader(fh)
        assert rd.datalink() == dpkt.pcap.DLT_EN10MB
        assert [bytes(buf) for _, buf in rd] == [r.frame for r in recs]
    expected = build_frames(n, 3)
    for p, f in zip(pkts, expected, strict=False):
        assert bytes(p) == f.expected  # checksums as scapy computes them
        assert p.haslayer(Ether)
    assert sum(p.haslayer(ARP) for p in pkts) == s["kinds"]["arp"]
    assert sum(p.haslayer(TCP) for p in pkts) == s["kinds"]["tcp"] + s["kinds"]["sg"]
    assert sum(p.haslayer(UDP) for p in pkts) == s["kinds"]["udp"] + s["kinds"]["small"] + s["kinds"]["full"]
    for p in pkts:
        if p.haslayer(IP):
            ip = p[IP]
            again = Ether(bytes(p))
            del again[IP].chksum
            assert Ether(bytes(again))[IP].chksum == ip.chksum
