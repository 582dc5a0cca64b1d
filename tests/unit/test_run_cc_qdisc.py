"""`hilnic run --cc NAME --qdisc NAME`: each congestion control and qdisc a user meets, end to
end on the model: the socket runs the algorithm (TCP_CONGESTION), the qdisc is eth0's root in
stats.txt's `tc -s qdisc`, and pacing shows on the wire — BBR paces itself through the pacing
hrtimer on pfifo_fast, CUBIC over fq is paced by EDT timestamps fq honours."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from hilnic.cli.main import main
from hilnic.wire.pcap import read_pcap


def _run(capsys, tmp_path: Path, *argv: str) -> tuple[dict, str, list[tuple[int, int]]]:
    out = tmp_path / "run"
    try:
        rc = main(["run", "--sim", "model", "--no-trace", "--out", str(out), "--force", *argv])
    except SystemExit as exc:
        rc = int(exc.code or 0)
    cap = capsys.readouterr()
    assert rc == 0, cap.out + cap.err
    data = [(r.ts_ps, len(r.frame)) for r in read_pcap(str(out / "wire.pcap"))
            if r.frame[12:14] == b"\x08\x00" and r.frame[23] == 6 and r.frame[26:30] == bytes((10, 0, 0, 1))
            and len(r.frame) > 100]
    return json.loads((out / "summary.json").read_text()), (out / "stats.txt").read_text(), data


def _bursts(data: list[tuple[int, int]]) -> list[list[int]]:
    """Frames less than 10 us apart (the segments of one GSO packet) grouped."""
    out: list[list[int]] = []
    for t, _ in data:
        if out and t - out[-1][-1] < 10_000_000:
            out[-1].append(t)
        else:
            out.append([t])
    return out


def _softirq(stats: str, name: str) -> int:
    m = re.search(rf"^\s*{name}:\s+(\d+)", stats, re.M)
    assert m, name
    return int(m.group(1))


@pytest.mark.parametrize(("cc", "qdisc"), [("cubic", "fq_codel"), ("reno", "noqueue"), ("bbr", "pfifo_fast")])
def test_cc_and_qdisc_knobs_run(capsys, tmp_path, cc, qdisc):
    s, stats, _data = _run(capsys, tmp_path, "--bytes", "64K", "--cc", cc, "--qdisc", qdisc)
    assert s["ok"] and s["payload_bytes"] == 64 << 10
    assert f"qdisc {qdisc} 0: root" in stats


def test_bbr_paces_with_the_pacing_hrtimer(capsys, tmp_path):
    """BBR on pfifo_fast: after the first flight, GSO packets of a few segments leave one
    pacing interval apart (HRTIMER softirqs), not back to back."""
    _, stats, data = _run(capsys, tmp_path, "--bytes", "64K", "--cc", "bbr", "--rtt", "10ms")
    assert _softirq(stats, "HRTIMER") >= 5
    bursts = _bursts(data[10:])
    assert len(bursts) >= 10 and max(len(b) for b in bursts) <= 4
    gaps = [b[0] - a[-1] for a, b in itertools.pairwise(bursts)]
    assert min(gaps) > 100_000_000  # > 100 us apart (a 1.5 KB frame takes 1.2 us at 10G)


def test_cubic_over_fq_is_paced_by_edt(capsys, tmp_path):
    """CUBIC asks for no pacing; fq marks the socket SK_PACING_FQ, TCP stamps each packet
    len/sk_pacing_rate after the previous one, fq throttles the flow until then."""
    _, stats, data = _run(capsys, tmp_path, "--bytes", "64K", "--qdisc", "fq", "--rtt", "10ms")
    m = re.search(r"gc (\d+) highprio 0(?: fastpath (\d+))? throttled (\d+)", stats)
    assert m and int(m.group(3)) >= 5
    assert _softirq(stats, "HRTIMER") == 0  # fq's watchdog is a hard hrtimer; NET_TX does the work
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(data)]
    # After the first flight, which fq does not pace, the GSO packets (the peer's ACK every
    # two segments makes them 1-3 segments) leave one pacing interval apart.
    bursts = _bursts(data[10:])
    assert len(bursts) >= 10 and min(b[0] - a[-1] for a, b in itertools.pairwise(bursts)) > 100_000_000
    _, stats, data = _run(capsys, tmp_path, "--bytes", "64K", "--qdisc", "pfifo_fast", "--rtt", "10ms")
    gaps_unpaced = [b[0] - a[0] for a, b in itertools.pairwise(data)]
    assert sum(g > 100_000_000 for g in gaps_unpaced) < sum(g > 100_000_000 for g in gaps)
