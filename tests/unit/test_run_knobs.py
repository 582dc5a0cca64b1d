"""`hilnic run`'s scenario knobs (hilnic.run.knobs): each one's effect on the run, and one-line
errors (exit 2) for bad values and combinations."""

from __future__ import annotations

import itertools
import json
import struct
from pathlib import Path

import pytest

from hilnic.cli.main import main
from hilnic.net.core.sock import TcpCongestionOps
from hilnic.net.ipv4.tcp_cong import (
    tcp_ca_find,
    tcp_register_congestion_control,
    tcp_reno_cong_avoid,
    tcp_reno_ssthresh,
    tcp_reno_undo_cwnd,
    tcp_unregister_congestion_control,
)
from hilnic.net.socket import Socket
from hilnic.run.compare import pattern_of
from hilnic.run.config import DEFAULT_NBYTES, RunConfig, RunConfigError
from hilnic.run.knobs import parse_duration, write_sizes
from hilnic.run.runner import format_summary
from hilnic.wire.pcap import read_pcap

MS_PS = 10**9


def _main(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


def _run(capsys, tmp_path: Path, *argv: str) -> tuple[dict, Path]:
    out = tmp_path / "run"
    rc = _main("run", "--sim", "model", "--no-trace", "--out", str(out), "--force", *argv)
    cap = capsys.readouterr()
    assert rc == 0, cap.out + cap.err
    return json.loads((out / "summary.json").read_text()), out


def _host_frames(out: Path, proto: int) -> list[tuple[int, bytes]]:
    """(time ps, frame) of the host's IPv4 frames of one protocol in wire.pcap."""
    return [(r.ts_ps, r.frame) for r in read_pcap(str(out / "wire.pcap"))
            if r.frame[12:14] == b"\x08\x00" and r.frame[23] == proto and r.frame[26:30] == bytes((10, 0, 0, 1))]


@pytest.fixture
def sends(monkeypatch):
    """Every Socket.send/sendto/connect the application makes: (call, socket type, bytes)."""
    calls: list[tuple[str, int, int]] = []
    orig_send, orig_sendto, orig_connect = Socket.send, Socket.sendto, Socket.connect

    async def send(self, data, flags=0):
        calls.append(("send", self.type, len(data)))
        return await orig_send(self, data, flags)

    async def sendto(self, data, address=None, flags=0):
        calls.append(("sendto", self.type, len(data)))
        return await orig_sendto(self, data, address, flags)

    async def connect(self, address):
        calls.append(("connect", self.type, 0))
        return await orig_connect(self, address)

    monkeypatch.setattr(Socket, "send", send)
    monkeypatch.setattr(Socket, "sendto", sendto)
    monkeypatch.setattr(Socket, "connect", connect)
    return calls


# -- --writes / --write-size ----------------------------------------------------------------------


def test_writes_and_write_size_tcp(capsys, tmp_path, sends):
    s, _ = _run(capsys, tmp_path, "--writes", "10", "--write-size", "1000")
    assert s["nbytes"] == 10_000 and s["payload_bytes"] == 10_000  # --bytes follows N x SIZE
    assert [c[2] for c in sends if c[0] == "send"] == [1000] * 10


def test_default_is_one_send_of_bytes(capsys, tmp_path, sends):
    _run(capsys, tmp_path, "--bytes", "100K")
    assert [c[2] for c in sends if c[0] == "send"] == [100 << 10]


def test_writes_split_bytes_and_udp_datagram_sizes(capsys, tmp_path):
    s, out = _run(capsys, tmp_path, "--proto", "udp", "--writes", "3", "--write-size", "100")
    assert s["payload_bytes"] == 300 and s["datagram"] == 100
    assert [len(f) for _, f in _host_frames(out, 17)] == [14 + 128] * 3
    s, out = _run(capsys, tmp_path, "--proto", "udp", "--writes", "1", "--write-size", "4000")
    frags = [struct.unpack_from("!H2xH", f, 16) for _, f in _host_frames(out, 17)]
    assert frags == [(1500, 0x2000), (1500, 0x2000 | 185), (1068, 370)]  # ip_len, MF | offset/8
    assert write_sizes(RunConfig(nbytes=10, writes=3)) == [4, 4, 2]
    assert write_sizes(RunConfig(nbytes=10, write_size=4)) == [4, 4, 2]
    assert write_sizes(RunConfig(nbytes=3000, proto="udp")) == [1472, 1472, 56]


# -- --nodelay, --think-time, --rtt, --peer-mss, --connect ---------------------------------------


def test_nodelay_sends_each_write_at_once(capsys, tmp_path):
    """With the ACKs 10 ms away, Nagle (tcp_nagle_test) holds the small writes until the first
    is acknowledged; TCP_NODELAY sends each one when it is written."""
    knobs = ("--writes", "10", "--write-size", "1000", "--rtt", "10ms", "--think-time", "300us")
    _, out = _run(capsys, tmp_path, *knobs, "--nodelay")
    assert pattern_of(out).text() == "S 1000P x10 F"
    _, out = _run(capsys, tmp_path, *knobs)
    nagle = pattern_of(out)
    assert nagle.tokens[:2] == ["S", "1000P"] and len(nagle.tokens) < 12 and max(nagle.payloads) > 1000


def test_think_time_spaces_the_writes(capsys, tmp_path):
    _, out = _run(capsys, tmp_path, "--proto", "udp", "--writes", "3", "--write-size", "100", "--think-time", "2ms")
    t = [ts for ts, _ in _host_frames(out, 17)]
    assert len(t) == 3 and all(b - a >= 2 * MS_PS for a, b in itertools.pairwise(t))


def test_rtt_delays_the_peers_answers(capsys, tmp_path):
    def syn_to_ack(out: Path) -> int:
        tcp = _host_frames(out, 6)
        syn = next(t for t, f in tcp if f[47] & 0x02)
        ack = next(t for t, f in tcp if not f[47] & 0x02)  # the handshake's ACK, after the SYN-ACK
        return ack - syn

    _, out = _run(capsys, tmp_path, "--bytes", "1000")
    base = syn_to_ack(out)
    _, out = _run(capsys, tmp_path, "--bytes", "1000", "--rtt", "10ms")
    delayed = syn_to_ack(out)
    # the SYN-ACK comes 10 ms later; the host's answer still waits for its interrupt (ITR)
    assert base < 1 * MS_PS and 10 * MS_PS < delayed < 10 * MS_PS + base + 1 * MS_PS


def test_peer_mss_is_what_the_peer_announces(capsys, tmp_path):
    s, out = _run(capsys, tmp_path, "--bytes", "10000", "--peer-mss", "536")
    assert s["mss"] == 536
    assert max(pattern_of(out).payloads) == 536 - 12  # the timestamp option takes 12 bytes of it


def test_connect_uses_a_connected_udp_socket(capsys, tmp_path, sends):
    s, _ = _run(capsys, tmp_path, "--proto", "udp", "--writes", "2", "--write-size", "200", "--connect")
    assert s["payload_bytes"] == 400
    assert [c[0] for c in sends] == ["connect", "send", "send"]
    sends.clear()
    _run(capsys, tmp_path, "--proto", "udp", "--writes", "2", "--write-size", "200")
    assert [c[0] for c in sends] == ["sendto", "sendto"]


# -- --cc, --qdisc, --cpus ------------------------------------------------------------------------


def test_cc_picks_a_registered_algorithm(capsys, tmp_path):
    """--cc sets net.ipv4.tcp_congestion_control: new sockets run that tcp_congestion_ops."""
    acked: list[int] = []

    def cong_avoid(sk, ack, n):
        acked.append(n)
        tcp_reno_cong_avoid(sk, ack, n)

    ca = TcpCongestionOps(name="knobtest", ssthresh=tcp_reno_ssthresh, cong_avoid=cong_avoid,
                          undo_cwnd=tcp_reno_undo_cwnd)
    assert tcp_register_congestion_control(ca) == 0
    try:
        _run(capsys, tmp_path, "--bytes", "64K", "--cc", "knobtest")
        assert acked
        acked.clear()
        _run(capsys, tmp_path, "--bytes", "64K", "--cc", "reno")
        assert not acked
    finally:
        tcp_unregister_congestion_control(ca)
    assert tcp_ca_find("knobtest") is None


def test_qdisc_is_the_default_qdisc(capsys, tmp_path):
    _, out = _run(capsys, tmp_path, "--bytes", "10000", "--qdisc", "noqueue")
    assert "qdisc noqueue 0: root" in (out / "stats.txt").read_text()
    _, out = _run(capsys, tmp_path, "--bytes", "10000", "--qdisc", "pfifo_fast")
    assert "qdisc pfifo_fast 0: root" in (out / "stats.txt").read_text()


def test_cpus_one_is_accepted(capsys, tmp_path):
    s, _ = _run(capsys, tmp_path, "--bytes", "1000", "--cpus", "1")
    assert s["config"]["cpus"] == 1 and [c["cpu"] for c in s["cpu"]] == [0]


def test_cpus_two_puts_the_interrupt_on_cpu1(capsys, tmp_path):
    """--cpus 2: summary.json's per-CPU figures and stats.txt's /proc files have two CPUs;
    the NIC's interrupts and NET_RX are CPU 1's, tcp_sendmsg's system time CPU 0's."""
    s, out = _run(capsys, tmp_path, "--bytes", "200000", "--cpus", "2")
    cpu0, cpu1 = s["cpu"]
    assert cpu0["interrupts"] == 0 and cpu1["interrupts"] == s["interrupts"] > 0
    assert cpu0["softirqs"]["NET_RX"] == 0 and cpu1["softirqs"]["NET_RX"] == s["softirqs"]["NET_RX"] > 0
    assert cpu0["sy_ns"] > 0 and cpu1["sy_ns"] == 0 and cpu1["hi_ns"] > 0 and cpu0["hi_ns"] == 0
    assert s["cpu_time_ns"] == {n: cpu0[f"{n}_ns"] + cpu1[f"{n}_ns"] for n in ("us", "sy", "si", "hi")}
    text = format_summary(s)
    assert f"CPU1 (us): user 0.0, system 0.0, softirq {cpu1['si_ns'] / 1000:,.1f}" in text
    assert f"NET_RX {cpu1['softirqs']['NET_RX']:,}, IRQs {s['interrupts']:,}" in text
    stats = (out / "stats.txt").read_text()
    assert "\ncpu0 " in stats and "\ncpu1 " in stats and "CPU0       CPU1" in stats


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, words", [
    (["--cc", "nosuchcc"], ["--cc 'nosuchcc' is not a registered congestion control", "reno"]),
    (["--proto", "udp", "--cc", "reno"], ["--cc applies to --proto tcp"]),
    (["--qdisc", "nosuchq"], ["--qdisc 'nosuchq' is not a registered qdisc", "pfifo_fast", "noqueue"]),
    (["--qdisc", "noop"], ["--qdisc noop: drops every packet"]),
    (["--cpus", "0"], ["--cpus must be 1..64, got 0"]),
    (["--cpus", "65"], ["--cpus must be 1..64, got 65"]),
    (["--writes", "0"], ["--writes must be 1.."]),
    (["--write-size", "0"], ["--write-size must be 1.."]),
    (["--proto", "udp", "--write-size", "70000"], ["--write-size must be 1..65,507", "UDP"]),
    (["--bytes", "5000", "--writes", "10", "--write-size", "1000"], ["--bytes 5,000 is not --writes 10 x --write-size"]),
    (["--bytes", "5", "--writes", "10"], ["--writes 10 is more than --bytes 5"]),
    (["--proto", "udp", "--nodelay"], ["--nodelay", "--proto tcp"]),
    (["--connect"], ["--connect applies to --proto udp"]),
    (["--rtt", "11s"], ["--rtt must be 0..10 s"]),
    (["--rtt", "10"], ["needs a unit"]),
    (["--rtt", "soon"], ["is not a duration"]),
    (["--think-time", "1h"], ["is not a duration"]),
    (["--peer-mss", "20"], ["--peer-mss must be 88..65535"]),
    (["--peer-mss", "536", "--mss", "1000"], ["--mss and --peer-mss both"]),
    (["--proto", "udp", "--peer-mss", "536"], ["--peer-mss applies to --proto tcp"]),
])
def test_bad_knobs_one_line_exit_2(capsys, tmp_path, argv, words):
    rc = _main("run", "--sim", "model", "--out", str(tmp_path / "run"), *argv)
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, (w, err)


def test_knobs_cross_into_the_simulator_as_json():
    rc = RunConfig(sim="model", nbytes=10_000, writes=10, write_size=1000, nodelay=True, cc="reno", qdisc="noqueue",
                   rtt_us=10_000.0, peer_mss=536, think_time_us=5.0, cpus=1)
    assert RunConfig.from_json(rc.to_json()) == rc
    rc.validate(check_tools=False)
    with pytest.raises(RunConfigError, match=r"--cpus must be 1\.\.64, got 0"):
        RunConfig(cpus=0).validate(check_tools=False)
    assert RunConfig().nbytes == DEFAULT_NBYTES and write_sizes(RunConfig()) == [DEFAULT_NBYTES]


def test_parse_duration():
    assert parse_duration("10ms") == 10_000.0
    assert parse_duration("200us") == 200.0
    assert parse_duration("1.5s") == 1_500_000.0
    assert parse_duration("500ns") == 0.5
    assert parse_duration("0") == 0.0
    for bad in ("10", "ms", "-1ms", "1 h"):
        with pytest.raises(ValueError):
            parse_duration(bad)
