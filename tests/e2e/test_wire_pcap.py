"""wire.pcap of a real `hilnic run`, read by three independent readers: scapy, dpkt, tshark.

Both directions must be there in time order (the host's frames from the MAC, the peer's
answers as they enter the host), as plain Ethernet (DLT_EN10MB) every reader opens, with valid
IP/TCP/UDP checksums both ways, and Wireshark's TCP analysis must find no segment missing or
acknowledged unseen on a clean run. Runs: the behavioral model (TCP and UDP) and Icarus (TCP).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from decimal import Decimal
from pathlib import Path

import dpkt
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw
from scapy.utils import rdpcap

from hilnic.cli.main import main
from hilnic.wire.pcap import read_pcap

HOST_MAC = "02:00:00:00:00:01"
TSHARK_TIMEOUT_S = 120
CHECKSUMS = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]

RUNS = {
    "model-tcp": ["--sim", "model", "--bytes", "64K"],
    "model-udp": ["--sim", "model", "--proto", "udp", "--bytes", "20000", "--mtu", "1000", "--no-trace"],
    "icarus-tcp": ["--sim", "icarus", "--bytes", "24K", "--ring", "64", "--no-trace", "--wall-limit-s", "600"],
}


@pytest.fixture(scope="module", params=sorted(RUNS))
def run(request, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp(request.param) / "run"
    try:
        rc = main(["run", *RUNS[request.param], "--sim-limit-ms", "2000", "--out", str(out)])
    except SystemExit as exc:
        rc = int(exc.code or 0)
    assert rc == 0, f"hilnic run {request.param} failed: see {out}"
    return out / "wire.pcap", json.loads((out / "summary.json").read_text())


def test_both_directions_in_time_order(run):
    path, s = run
    magic, _vmaj, _vmin, _tz, _sig, _snap, linktype = struct.unpack("<IHHiIII", path.read_bytes()[:24])
    assert (magic, linktype) == (0xA1B23C4D, 1)  # nanosecond pcap, plain Ethernet without FCS
    recs = read_pcap(str(path))
    out = [r for r in recs if r.frame[6:12] == bytes.fromhex(HOST_MAC.replace(":", ""))]
    assert len(out) == s["frames"] and len(recs) == s["files"]["pcap_frames"]
    assert len(recs) - len(out) == s["files"]["pcap_peer_frames"] >= 1  # the ARP reply at least
    if s["proto"] == "tcp":  # + the ARP reply, the SYN-ACK and the FIN
        assert s["files"]["pcap_peer_frames"] >= s["peer"]["acks_sent"] + 1
    times = [r.ts_ps for r in recs]
    assert times == sorted(times) and times[-1] <= s["sim_time_ps"] + 10**12


def _scapy_checksums_ok(p) -> bool:
    """scapy recomputes the IP header and TCP/UDP checksums: equal to the ones on the wire."""
    ip = IP(raw(p[IP]))
    sent = (ip.chksum, ip.payload.chksum if isinstance(ip.payload, (TCP, UDP)) else None)
    del ip.chksum
    if isinstance(ip.payload, (TCP, UDP)):
        del ip.payload.chksum
    again = IP(raw(ip))
    return (again.chksum, again.payload.chksum if isinstance(again.payload, (TCP, UDP)) else None) == sent


def test_scapy_reads_every_frame_with_valid_checksums(run):
    path, s = run
    pkts = rdpcap(str(path))
    assert len(pkts) == s["files"]["pcap_frames"]
    assert all(isinstance(p, Ether) for p in pkts)
    times = [Decimal(p.time) for p in pkts]
    assert times == sorted(times)
    ip = [p for p in pkts if p.haslayer(IP)]
    l4 = TCP if s["proto"] == "tcp" else UDP
    assert sum(p.haslayer(l4) for p in ip) >= s["data_frames"]
    bad = [i for i, p in enumerate(pkts) if p.haslayer(IP) and not _scapy_checksums_ok(p)]
    assert not bad, f"frames with a wrong checksum (0-based): {bad[:10]}"
    assert {p[Ether].src for p in ip} == {HOST_MAC, "02:00:00:00:00:02"} or s["proto"] == "udp"


def test_dpkt_reads_every_frame_with_valid_checksums(run):
    path, s = run
    with open(path, "rb") as f:
        reader = dpkt.pcap.Reader(f)
        assert reader.datalink() == dpkt.pcap.DLT_EN10MB
        recs = list(reader)
    assert len(recs) == s["files"]["pcap_frames"]
    assert [ts for ts, _ in recs] == sorted(ts for ts, _ in recs)
    assert [buf for _, buf in recs] == [raw(p) for p in rdpcap(str(path))]  # the same bytes as scapy's
    n_ip = 0
    for i, (_ts, buf) in enumerate(recs):
        eth = dpkt.ethernet.Ethernet(buf)
        if not isinstance(eth.data, dpkt.ip.IP):
            continue
        n_ip += 1
        ip = eth.data
        sent = (ip.sum, ip.data.sum)
        ip.sum = 0
        ip.data.sum = 0  # dpkt fills in zeroed IP and TCP/UDP checksums when packing
        again = dpkt.ip.IP(bytes(ip))
        assert (again.sum, again.data.sum) == sent, f"frame {i}: checksums {sent} should be {(again.sum, again.data.sum)}"
    assert n_ip >= s["data_frames"]


def _tshark() -> str:
    exe = shutil.which("tshark")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("tshark is missing on CI: scripts/bootstrap.sh installs it (apt-get install tshark, as root)")
        pytest.skip("tshark not installed: apt-get install tshark (scripts/bootstrap.sh does it when run as root)")
    return exe


def _tshark_fields(path: Path, *fields: str, display_filter: str = "") -> list[list[str]]:
    cmd = [_tshark(), "-r", str(path), *CHECKSUMS, "-T", "fields", "-E", "separator=,"]
    if display_filter:
        cmd += ["-Y", display_filter]
    for f in fields:
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TSHARK_TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    return [ln.split(",") for ln in r.stdout.splitlines()]


def test_tshark_validates_checksums_both_ways(run):
    path, s = run
    rows = _tshark_fields(path, "frame.time_epoch", "eth.src", "ip.checksum.status", "tcp.checksum.status",
                          "udp.checksum.status")
    assert len(rows) == s["files"]["pcap_frames"]
    times = [Decimal(r[0]) for r in rows]
    assert times == sorted(times)
    ip_rows = [r for r in rows if r[2]]
    assert {r[1] for r in ip_rows} >= ({HOST_MAC, "02:00:00:00:00:02"} if s["proto"] == "tcp" else {HOST_MAC})
    # Wireshark's proto_checksum_status: 1 good, 0 bad (2 unverified would mean the check was off)
    assert all(r[2] == "1" for r in ip_rows), [r for r in ip_rows if r[2] != "1"][:5]
    col = 3 if s["proto"] == "tcp" else 4
    assert sum(r[col] == "1" for r in ip_rows) >= s["data_frames"]
    assert all(r[3] in ("", "1") and r[4] in ("", "1") for r in ip_rows), [r for r in ip_rows if "0" in r[3:]][:5]


def test_tshark_tcp_analysis_finds_nothing_missing(run):
    path, s = run
    if s["proto"] != "tcp":
        pytest.skip("TCP analysis needs a TCP run")
    bad = _tshark_fields(path, "frame.number", "_ws.col.Info",
                         display_filter="tcp.analysis.lost_segment or tcp.analysis.ack_lost_segment")
    assert not bad, f"Wireshark's TCP analysis: {bad[:5]}"
    # nor anything else (retransmission, dup ACK, window full...): the README's filter prints nothing
    flagged = _tshark_fields(path, "frame.number", "_ws.col.Info", display_filter="tcp.analysis.flags")
    assert not flagged, f"Wireshark's TCP analysis: {flagged[:5]}"
    # and it did analyse: every data segment the peer received is acknowledged in the capture
    acked = _tshark_fields(path, "frame.number", display_filter="tcp.analysis.acks_frame")
    assert acked
