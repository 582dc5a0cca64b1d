"""The Linux peer's parts that need no root: how wall time meets simulated time (LinuxPeer
against a scripted kernel on a socket pair in place of the TAP), the receiving process on
loopback (its byte-for-byte check must catch a wrong byte and a wrong datagram), the
privilege check, and that `--peer model` stays the default.

The real kernel is in tests/e2e/test_linux_peer_kernel.py.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import hilnic.testbed as testbed
from hilnic.hw.backend import WireFrame
from hilnic.kernel.env import MS, US, VirtualEnv
from hilnic.wire.linux_peer import LinuxPeer, LinuxPeerOptions, _Flow
from hilnic.wire.netns import CAP_NET_ADMIN, CAP_SYS_ADMIN, effective_caps, missing_privileges
from hilnic.wire.packets import (
    _TCP,
    ETH_P_IP,
    IP_DF,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TCP_ACK,
    TCP_SYN,
    build_eth,
    build_ipv4,
    build_tcp,
    fcs,
    ip_bytes,
    mac_bytes,
)
from hilnic.wire.payload import PATTERN_CHUNK, pattern, pattern_chunks

PY = Path(__file__).resolve().parents[2] / "py"
HOST_MAC, PEER_MAC = mac_bytes("02:00:00:00:00:01"), mac_bytes("02:00:00:00:00:02")
HOST_IP, PEER_IP = ip_bytes("192.0.2.1"), ip_bytes("192.0.2.2")
ISN = 1000
DELAY = 10 * US
LATE_S = 0.030  # the scripted kernel's "delayed ACK"


# -- the payload both ends generate ---------------------------------------------------------------


def test_the_receiver_generates_the_runs_payload():
    assert testbed.pattern is pattern
    n = PATTERN_CHUNK + 12345  # across a chunk boundary
    assert b"".join(pattern_chunks(n, 7)) == pattern(n, 7)
    assert pattern(1000, 7) == pattern(n, 7)[:1000]


# -- the timing rule, against a scripted kernel ------------------------------------------------------


def _frame(payload_ip: bytes) -> bytes:
    eth = build_eth(PEER_MAC, HOST_MAC, ETH_P_IP, payload_ip)
    return eth + fcs(eth)


def _tcp_frame(seq: int, flags: int, data: bytes = b"") -> bytes:
    return _frame(build_ipv4(HOST_IP, PEER_IP, IPPROTO_TCP, build_tcp(HOST_IP, PEER_IP, 40000, 5001, seq, 0, flags,
                                                                      65535, payload=data), 1, flags_frag=IP_DF))


def _kernel_ack(ack: int, flags: int = TCP_ACK) -> bytes:
    tcp = build_tcp(PEER_IP, HOST_IP, 5001, 40000, 5555, ack, flags, 1000)
    return build_eth(HOST_MAC, PEER_MAC, ETH_P_IP, build_ipv4(PEER_IP, HOST_IP, IPPROTO_TCP, tcp, 9))


class ScriptedKernel(threading.Thread):
    """The other end of the 'TAP': a SYN is answered at once, data b'late' after LATE_S of
    wall time, data b'fast' at once; anything else never."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.stop = threading.Event()
        self.got: list[bytes] = []

    def run(self) -> None:
        while not self.stop.is_set():
            if not select.select([self.sock], [], [], 0.01)[0]:
                continue
            try:
                eth = self.sock.recv(65536)
            except OSError:
                return
            self.got.append(eth)
            if eth[12:14] != b"\x08\x00" or eth[23] != IPPROTO_TCP:
                continue
            _sp, _dp, seq, _a, doff, flags, *_ = _TCP.unpack_from(eth, 34)
            data = eth[34 + (doff >> 4) * 4:14 + int.from_bytes(eth[16:18], "big")]  # without the padding
            if flags & TCP_SYN:
                self.sock.send(_kernel_ack(seq + 1, TCP_SYN | TCP_ACK))
            elif data == b"fast":
                self.sock.send(_kernel_ack(seq + len(data)))
            elif data == b"late":
                time.sleep(LATE_S)
                self.sock.send(_kernel_ack(seq + len(data)))


@pytest.fixture
def rig():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    kernel = ScriptedKernel(theirs)
    kernel.start()
    env = VirtualEnv()
    delivered: list[tuple[int, float, bytes]] = []  # (simulated ps, wall s, frame)

    def make(**opts):
        peer = LinuxPeer(env, ours.fileno(), lambda f: delivered.append((env.now(), time.perf_counter(), f)),
                         mac=PEER_MAC, ip=PEER_IP, host_ip=HOST_IP, wire_delay_ps=DELAY,
                         options=LinuxPeerOptions(**opts))
        peer.start()
        return peer

    yield env, make, delivered, kernel
    kernel.stop.set()
    kernel.join()
    ours.close()
    theirs.close()


def _at(env: VirtualEnv, t: int, peer: LinuxPeer, frame: bytes) -> None:
    env.call_at(t, lambda: peer.receive_frame(WireFrame(frame, t - 1000, t, True)))


def test_an_answer_at_once_is_stamped_a_wire_delay_after_the_frame(rig):
    env, make, delivered, _k = rig
    peer = make(settle_s=2.0)  # (1) waits this long at most: the scripted kernel is a thread, maybe slow
    _at(env, 1 * MS, peer, _tcp_frame(ISN, TCP_SYN))
    _at(env, 2 * MS, peer, _tcp_frame(ISN + 1, TCP_ACK, b"fast"))
    env.run(until=3 * MS)
    assert [t for t, _w, _f in delivered] == [1 * MS + DELAY, 2 * MS + DELAY]
    assert peer.answers_at_once == 2 and peer.answers_later == 0
    assert not peer.owes()
    assert peer.delivered_bytes() == 4  # the kernel acknowledged b"fast"
    peer.close()


def test_a_late_answer_holds_simulated_time_to_wall_time(rig):
    """(3): while the kernel owes an ACK, simulated time waits for wall time; the ACK it sends
    LATE_S later arrives about LATE_S later in simulated time, not after the host's timers."""
    env, make, delivered, _k = rig
    peer = make()
    _at(env, 1 * MS, peer, _tcp_frame(ISN, TCP_SYN))
    t_data = 2 * MS
    _at(env, t_data, peer, _tcp_frame(ISN + 1, TCP_ACK, b"late"))
    env.run(until=t_data + 1 * US)
    assert peer.owes()
    paced_at_ack: list[int] = []
    env.call_at(t_data + 200 * MS, lambda: None)  # the host's retransmission timer would be due here
    w0 = time.perf_counter()
    while len(delivered) < 2 and time.perf_counter() - w0 < 5:
        env.run(until=env.now() + 1 * MS)
    assert len(delivered) == 2
    t_ack, _w, _ = delivered[1]
    late_ps = t_ack - DELAY - t_data
    # never past the kernel's wall-clock delay (+ a poll and scheduling); a loaded machine makes
    # the simulation itself slower than wall time, so the ACK may come a little early, not late
    assert LATE_S * 1e12 * 0.5 <= late_ps <= (LATE_S + 0.05) * 1e12, late_ps / MS
    assert peer.answers_later >= 1 and peer.pace_waits > 0 and peer.pace_wall_s > 0
    assert not peer.owes()
    # then the kernel owes nothing: the rest runs freely, no more waiting for wall time
    paced_at_ack = [peer.pace_waits, peer.settle_waits]
    env.run(until=t_data + 1000 * MS)
    assert [peer.pace_waits, peer.settle_waits] == paced_at_ack
    peer.close()


def test_without_pacing_the_simulation_runs_past_the_late_answer(rig):
    """The same without rule (3): the host would see the ACK far later than the kernel sent it."""
    env, make, delivered, _k = rig
    peer = make(pace=False, tick_ps=1 * MS)  # a coarse poll: simulated time races ahead of wall time
    _at(env, 1 * MS, peer, _tcp_frame(ISN, TCP_SYN))
    _at(env, 2 * MS, peer, _tcp_frame(ISN + 1, TCP_ACK, b"late"))
    w0 = time.perf_counter()
    while len(delivered) < 2 and time.perf_counter() - w0 < 5:
        env.run(until=env.now() + 100 * MS)
    assert len(delivered) == 2
    late_ps = delivered[1][0] - DELAY - 2 * MS
    assert late_ps > 3 * LATE_S * 1e12, late_ps / MS  # the simulation ran ahead while the kernel slept
    assert peer.pace_waits == 0
    peer.close()


def test_nothing_owed_nothing_waited(rig):
    """A datagram asks for no answer: no wait after it, and simulated time runs freely (no poll
    waits for wall time)."""
    env, make, delivered, kernel = rig
    peer = make()
    udp = bytes(8) + b"x" * 100
    udp = (1234).to_bytes(2, "big") + (9000).to_bytes(2, "big") + (len(udp)).to_bytes(2, "big") + bytes(2) + udp[8:]
    _at(env, 1 * MS, peer, _frame(build_ipv4(HOST_IP, PEER_IP, IPPROTO_UDP, udp, 3, flags_frag=IP_DF)))
    env.run(until=500 * MS)
    assert peer.settle_waits == 0 and peer.pace_waits == 0 and not delivered
    assert peer.frames_to_kernel == 1 and len(peer.datagrams) == 1 and peer.datagrams[0].data == b"x" * 100
    deadline = time.monotonic() + 2
    while not kernel.got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert kernel.got[0] == _frame(build_ipv4(HOST_IP, PEER_IP, IPPROTO_UDP, udp, 3, flags_frag=IP_DF))[:-4]
    peer.close()


def test_bad_fcs_and_runts_never_reach_the_kernel(rig):
    env, make, _d, kernel = rig
    peer = make()
    good = _tcp_frame(ISN, TCP_SYN)
    _at(env, 1 * MS, peer, good[:-1] + bytes([good[-1] ^ 1]))
    _at(env, 2 * MS, peer, good[:40] + fcs(good[:40]))
    env.run(until=3 * MS)
    time.sleep(0.05)
    assert (peer.bad_fcs, peer.runts, peer.frames_to_kernel) == (1, 1, 0) and not kernel.got
    peer.close()


def test_flow_owes_in_order_data_only():
    f = _Flow(isn=ISN)
    f.given(0, 1)  # SYN
    assert f.owes()
    f.acked = 1
    f.given(1001, 2001)  # out of order: the kernel answers that at once with a duplicate ACK
    assert not f.owes()
    f.given(1, 1001)  # fills the hole: now 2000 bytes are owed
    assert f.rcv_nxt == 2001 and f.owes()
    f.acked = 2001
    f.fin = 2001
    f.given(2001, 2002)
    assert f.owes()  # the FIN
    f.acked = 2002
    assert f.owes()  # and the application's FIN after it
    f.kernel_fin = True
    assert not f.owes() and f.delivered() == 2000


# -- the receiving process, on loopback ----------------------------------------------------------------


def _receiver(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(PY))
    p = subprocess.Popen([sys.executable, "-m", "hilnic.wire.ns_receiver", "--bind", "127.0.0.1", *args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert p.stdout.readline().strip() == b"ready"
    return p


def _report(p: subprocess.Popen) -> dict:
    out, _ = p.communicate(b"done\n", timeout=20)
    return json.loads(out.splitlines()[-1])


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("corrupt_at", [None, 70_001])
def test_receiver_checks_a_tcp_stream_byte_for_byte(corrupt_at):
    n, seed = 200_000, 5
    port = _free_port(socket.SOCK_STREAM)
    p = _receiver("--proto", "tcp", "--port", str(port), "--nbytes", str(n), "--seed", str(seed))
    data = bytearray(pattern(n, seed))
    if corrupt_at is not None:
        data[corrupt_at] ^= 0x40
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(data)
    r = _report(p)
    assert r["bytes"] == n and r["eof"]
    assert r["match"] is (corrupt_at is None)
    assert r["first_difference"] == corrupt_at
    assert r["counters"]["Tcp"]["InSegs"] > 0  # /proc/net/snmp, as nstat reads it


def test_receiver_checks_datagrams_in_order_some_lost():
    size, n, seed = 1000, 5000, 3
    port = _free_port(socket.SOCK_DGRAM)
    p = _receiver("--proto", "udp", "--port", str(port), "--nbytes", str(n), "--seed", str(seed),
                  "--datagram", str(size))
    data = pattern(n, seed)
    chunks = [data[i:i + size] for i in range(0, n, size)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in (0, 1, 3):  # datagram 2 lost on the way
            s.sendto(chunks[i], ("127.0.0.1", port))
        s.sendto(b"?" * size, ("127.0.0.1", port))  # one that was never sent
        s.sendto(chunks[4], ("127.0.0.1", port))
        time.sleep(0.1)
    r = _report(p)
    assert (r["datagrams"], r["datagrams_expected"], r["unmatched"], r["first_difference"]) == (5, 5, 1, 3)
    assert r["match"] is False


def test_receiver_stops_when_the_run_goes_away():
    """Its stdin closing (the run died) ends it with a report, not a hang."""
    p = _receiver("--proto", "tcp", "--port", str(_free_port(socket.SOCK_STREAM)), "--nbytes", "10", "--seed", "1")
    p.stdin.close()
    out = p.stdout.read()
    p.stdout.close()
    assert p.wait(timeout=10) == 0
    r = json.loads(out.splitlines()[-1])
    assert r["error"] == "no connection before the run ended" and r["match"] is False


# -- privileges and defaults ------------------------------------------------------------------------


def test_privilege_message_names_what_is_missing():
    assert "CAP_NET_ADMIN and CAP_SYS_ADMIN" in missing_privileges(0)
    msg = missing_privileges(1 << CAP_NET_ADMIN)
    assert "lacks CAP_SYS_ADMIN;" in msg and "root" in msg and "\n" not in msg
    both = (1 << CAP_NET_ADMIN) | (1 << CAP_SYS_ADMIN)
    assert "CAP_" not in missing_privileges(both)
    assert effective_caps("Name:\tx\nCapEff:\t0000000000001000\n") == 1 << CAP_NET_ADMIN


def test_peer_model_stays_the_default():
    from hilnic.cli.main import build_parser
    from hilnic.run import RunConfig

    assert RunConfig().peer == "model"
    a = build_parser().parse_args(["run"])
    assert a.peer == "model"
    assert build_parser().parse_args(["run", "--peer", "linux"]).peer == "linux"
