"""The tcp_congestion_ops registry: Reno built in, a second algorithm registered and chosen per
socket with TCP_CONGESTION or per netns as the default, unknown names refused with ENOENT."""

import errno

import pytest
from tcp_rig import Rig

from hilnic.net.core.sock import TCP_CA_CWR, TCP_CA_Open, TcpCongestionOps
from hilnic.net.ipv4.tcp_cong import (
    tcp_ca_find,
    tcp_get_default_congestion_control,
    tcp_register_congestion_control,
    tcp_reno,
    tcp_reno_cong_avoid,
    tcp_reno_undo_cwnd,
    tcp_set_congestion_control,
    tcp_set_default_congestion_control,
    tcp_unregister_congestion_control,
)
from hilnic.net.ipv4.tcp_cubic import cubictcp
from hilnic.net.socket import SOL_TCP, TCP_CONGESTION, socket


@pytest.fixture
def halving_by_four():
    """A toy algorithm: Reno's growth, but ssthresh = cwnd/4, and it records its calls."""
    calls: list[tuple] = []
    ca = TcpCongestionOps(
        name="quarter",
        ssthresh=lambda sk: max(sk.snd_cwnd >> 2, 2),
        cong_avoid=tcp_reno_cong_avoid,
        undo_cwnd=tcp_reno_undo_cwnd,
        init=lambda sk: calls.append(("init",)),
        set_state=lambda sk, state: calls.append(("set_state", state)),
        pkts_acked=lambda sk, sample: calls.append(("pkts_acked", sample.pkts_acked)),
    )
    assert tcp_register_congestion_control(ca) == 0
    try:
        yield ca, calls
    finally:
        tcp_unregister_congestion_control(ca)
    assert tcp_ca_find("quarter") is None


def test_cubic_is_the_default_reno_and_bbr_registered(monkeypatch):
    """net.ipv4.tcp_congestion_control is cubic on Linux 6.x (CONFIG_DEFAULT_TCP_CONG)."""
    rig = Rig(monkeypatch)
    assert tcp_ca_find("reno") is tcp_reno
    assert tcp_ca_find("cubic") is cubictcp
    assert tcp_get_default_congestion_control(rig.host) == "cubic"
    assert rig.sk.icsk_ca_ops is cubictcp
    assert rig.sock.getsockopt(SOL_TCP, TCP_CONGESTION) == "cubic"


def test_register_refuses_duplicates_and_incomplete_ops(halving_by_four):
    ca, _ = halving_by_four
    assert tcp_register_congestion_control(ca) == -errno.EEXIST
    no_growth = TcpCongestionOps(name="nogrowth", ssthresh=ca.ssthresh, undo_cwnd=ca.undo_cwnd)
    assert tcp_register_congestion_control(no_growth) == -errno.EINVAL
    assert tcp_ca_find("nogrowth") is None


def test_tcp_congestion_selects_a_registered_algorithm(monkeypatch, halving_by_four):
    ca, calls = halving_by_four
    rig = Rig(monkeypatch)
    rig.sock.setsockopt(SOL_TCP, TCP_CONGESTION, "quarter")
    assert rig.sk.icsk_ca_ops is ca
    assert rig.sock.getsockopt(SOL_TCP, TCP_CONGESTION) == "quarter"
    assert calls == []  # not initialised before the connection is established
    rig.connect(window_update=65535)
    assert calls.count(("init",)) == 1  # tcp_init_transfer, after the SYN-ACK's pkts_acked
    calls.clear()
    sk = rig.sk
    rig.do(rig.sock.send(bytes(1000)))
    rig.ack_all()
    assert ("pkts_acked", 1) in calls
    # A local drop (NET_XMIT_DROP) enters CWR with the algorithm's ssthresh: 10 / 4.
    rig.ip.ret = 1
    rig.do(rig.sock.send(bytes(500)))
    assert sk.icsk_ca_state == TCP_CA_CWR and sk.snd_ssthresh == 2
    assert ("set_state", TCP_CA_CWR) in calls
    # Back to reno on an established socket: the new algorithm is initialised at once.
    rig.sock.setsockopt(SOL_TCP, TCP_CONGESTION, b"reno")
    assert sk.icsk_ca_ops is tcp_reno and sk.icsk_ca_state == TCP_CA_CWR


def test_unknown_algorithm_is_enoent(monkeypatch):
    rig = Rig(monkeypatch)
    with pytest.raises(OSError) as e:
        rig.sock.setsockopt(SOL_TCP, TCP_CONGESTION, "no-such-cc")
    assert e.value.errno == errno.ENOENT
    assert rig.sk.icsk_ca_ops is cubictcp
    assert tcp_set_congestion_control(rig.sk, "no-such-cc", True) == -errno.ENOENT
    assert tcp_set_default_congestion_control(rig.host, "no-such-cc") == -errno.ENOENT
    assert rig.sk.icsk_ca_state == TCP_CA_Open


def test_default_applies_to_new_sockets_of_the_netns(monkeypatch, halving_by_four):
    ca, _ = halving_by_four
    rig = Rig(monkeypatch)
    assert tcp_set_default_congestion_control(rig.host, "quarter") == 0
    assert tcp_get_default_congestion_control(rig.host) == "quarter"
    assert socket(rig.host).sk.icsk_ca_ops is ca
    assert rig.sk.icsk_ca_ops is cubictcp  # existing sockets keep theirs
    assert tcp_set_default_congestion_control(rig.host, "reno") == 0
