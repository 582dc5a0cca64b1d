"""`hilnic run` end to end on Icarus: the stack and driver on nic_top, through the CLI."""

from __future__ import annotations

import json

import jsonschema

from hilnic.cli.main import main
from hilnic.run import load_schema
from hilnic.wire.pcap import read_pcap


def _run(capfd, *argv: str) -> tuple[int, str, str]:
    try:
        rc = main(list(argv))
    except SystemExit as exc:
        rc = int(exc.code or 0)
    cap = capfd.readouterr()
    return rc, cap.out, cap.err


def test_run_tcp_icarus(capfd, tmp_path):
    out = tmp_path / "run"
    rc, so, se = _run(capfd, "run", "--sim", "icarus", "--bytes", "48K", "--ring", "64", "--trace", "--out", str(out))
    assert rc == 0, so + se
    s = json.loads((out / "summary.json").read_text())
    assert s["ok"] and s["sim"] == "icarus" and s["payload_bytes"] == 48 << 10
    jsonschema.validate(s, load_schema(), cls=jsonschema.Draft202012Validator)
    f = s["files"]
    assert s["frames"] == s["nic"]["gptc"] == f["pcap_frames"] - f["pcap_peer_frames"] and s["wire_bytes"] == s["nic"]["gotc"]
    recs = read_pcap(str(out / "wire.pcap"))
    assert len(recs) == f["pcap_frames"]
    assert all(r.fcs_ok in (True, None) for r in recs)
    assert [r.ts_ps for r in recs] == sorted(r.ts_ps for r in recs) and recs[-1].ts_ps <= s["sim_time_ps"]
    for name in ("trace.txt", "stats.txt", "sim.log"):
        assert (out / name).exists(), name
    assert "nic_top on icarus" in so and "OK" in so and "simulator log" in so


def test_run_udp_icarus_failure_is_one_line(capfd, tmp_path):
    out = tmp_path / "udp"
    rc, so, se = _run(capfd, "run", "--sim", "icarus", "--proto", "udp", "--bytes", "16K", "--out", str(out))
    assert rc == 0, so + se
    s = json.loads((out / "summary.json").read_text())
    assert s["payload_bytes"] == 16 << 10 and not (out / "trace.txt").exists()
    # a run that cannot finish in its simulated-time bound: exit 1, one FAILED line naming the log
    rc, so, se = _run(capfd, "run", "--sim", "icarus", "--bytes", "16K", "--sim-limit-ms", "0.2",
                      "--out", str(out), "--force")
    assert rc == 1
    failed = [ln for ln in se.splitlines() if ln.startswith("hilnic run: FAILED")]
    assert len(failed) == 1 and "sim-limit-ms" in failed[0] and "sim.log" in failed[0], se
    assert "Traceback" not in se
    jsonschema.validate(json.loads((out / "summary.json").read_text()), load_schema(),
                        cls=jsonschema.Draft202012Validator)
