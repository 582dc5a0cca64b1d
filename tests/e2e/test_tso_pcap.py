"""TSO on and off give the same segments on the wire (issue 11 item 5's evidence).

`hilnic run --tso on` (the default: the stack hands the driver GSO skbs of up to 64 KiB, the
NIC cuts them) and `--tso off` (the stack segments in software, validate_xmit_skb), then
wire.pcap read with scapy: the host's TCP segments are the same in both runs (IP ID, sequence
number, payload length, IP total length, flags but PSH), IP IDs go up by one and sequence
numbers are contiguous, and every IPv4 and TCP checksum is valid (scapy recomputes them).
PSH may differ: the stack sets it on every TSO packet (Linux __tcp_transmit_skb), kept on its
last segment in both paths, and where GSO packets end follows the ACKs' timing, which the
NIC's timing changes (at most once per GSO packet). The summary proves which path ran: no
software-GSO skbs with TSO on.

1 MiB on the behavioral model and 256 KiB on Icarus in `make test`; 1 MiB on Icarus behind
the soak marker.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap

from hilnic.cli.main import main

HOST_IP = "10.0.0.1"
FIN, PSH = 0x01, 0x08


def _run(out: Path, sim: str, nbytes: str, tso: str) -> dict:
    args = ["run", "--sim", sim, "--bytes", nbytes, "--tso", tso, "--no-trace", "--sim-limit-ms", "2000",
            "--wall-limit-s", "900", "--out", str(out)]
    try:
        rc = main(args)
    except SystemExit as exc:
        rc = int(exc.code or 0)
    assert rc == 0, f"hilnic {' '.join(args)} failed: see {out}"
    return json.loads((out / "summary.json").read_text())


def _segments(pcap: Path) -> list[tuple[int, int, int, int, int]]:
    """(IP ID, seq, flags, payload bytes, IP total length) of the host's TCP segments; every
    checksum checked by recomputing it with scapy."""
    out = []
    for p in rdpcap(str(pcap)):
        if IP not in p or p[IP].src != HOST_IP or TCP not in p:
            continue
        ip = p[IP]
        again = IP(bytes(ip))
        del again.chksum, again[TCP].chksum
        again = IP(bytes(again))
        assert ip.chksum == again.chksum, f"IPv4 checksum of ID {ip.id}: {ip.chksum:#06x}, scapy {again.chksum:#06x}"
        assert ip[TCP].chksum == again[TCP].chksum, f"TCP checksum of seq {ip[TCP].seq}"
        out.append((ip.id, ip[TCP].seq, int(ip[TCP].flags), len(ip[TCP].payload), ip.len))
    return out


def _same_segments(tmp_path: Path, sim: str, nbytes: str) -> None:
    s_on = _run(tmp_path / "on", sim, nbytes, "on")
    s_off = _run(tmp_path / "off", sim, nbytes, "off")
    assert s_on["copies"]["frag_skbs"] == 0, "TSO on, yet the stack segmented in software"
    assert s_off["copies"]["frag_skbs"] > 0, "TSO off, yet no software GSO"
    on, off = _segments(tmp_path / "on" / "wire.pcap"), _segments(tmp_path / "off" / "wire.pcap")
    assert len(on) == len(off) == s_on["frames"] - 1  # but the ARP request
    data = [x for x in on if x[3]]
    assert sum(x[3] for x in data) == s_on["payload_bytes"]
    for a, b in itertools.pairwise(data):
        assert b[0] == (a[0] + 1) & 0xFFFF, f"IP ID {b[0]} after {a[0]}"
        assert b[1] == (a[1] + a[3]) & 0xFFFFFFFF, f"seq {b[1]} after {a[1]}+{a[3]}"
    psh = 0
    for i, (a, b) in enumerate(zip(on, off, strict=True)):
        assert (a[0], a[1], a[3], a[4], a[2] & ~PSH) == (b[0], b[1], b[3], b[4], b[2] & ~PSH), f"segment {i}: {a} vs {b}"
        psh += a[2] != b[2]
    # each difference is a TSO packet's end in one run and not the other: at most the packets
    # of both runs (TCP clones one skb per transmission: the clone counts)
    packets = s_on["copies"]["clones"] + s_off["copies"]["clones"]
    assert psh <= packets, f"PSH differs on {psh} of {len(on)} segments ({packets} GSO packets)"
    # and the bound is not trivial: the NIC cut packets of four segments or more on average
    assert s_on["copies"]["clones"] <= len(on) // 4, f"{s_on['copies']['clones']} TSO packets for {len(on)} segments"
    assert any(x[2] & FIN for x in on) and any(x[2] & FIN for x in off)  # the close
    print(f"\n{sim} {nbytes}: {len(on)} segments identical with TSO on and off (PSH differs on {psh}); "
          f"{s_on['copies']['frag_skbs']} vs {s_off['copies']['frag_skbs']} software-GSO skbs")


def test_tso_on_off_same_segments_model(tmp_path: Path) -> None:
    _same_segments(tmp_path, "model", "1M")


def test_tso_on_off_same_segments_icarus(tmp_path: Path) -> None:
    _same_segments(tmp_path, "icarus", "256K")


@pytest.mark.soak
def test_tso_on_off_same_segments_icarus_1mib(tmp_path: Path) -> None:
    _same_segments(tmp_path, "icarus", "1M")
