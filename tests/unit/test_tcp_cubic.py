"""CUBIC (net/ipv4/tcp_cubic.c): cubic_root, cubictcp_recalc_ssthresh (beta 717/1024, fast
convergence), bictcp_update's window curve against RFC 8312's W(t) = C·(t−K)³ + W_max with
C = 0.4, tcp_friendliness, cubictcp_cwnd_event's epoch shift, and HyStart (hystart_update)
leaving slow start on an ACK train and on a delay increase."""

from __future__ import annotations

import math

import pytest
from tcp_rig import Rig

from hilnic.net.core.sock import CA_EVENT_TX_START, AckSample, TCP_CA_Loss
from hilnic.net.ipv4.tcp_cong import tcp_set_congestion_control
from hilnic.net.ipv4.tcp_cubic import (
    HYSTART_DELAY_MAX,
    HYSTART_DELAY_MIN,
    Bictcp,
    bictcp_update,
    cube_factor,
    cubic_root,
    cubictcp,
    cubictcp_acked,
    cubictcp_cwnd_event,
    cubictcp_recalc_ssthresh,
    cubictcp_state,
)

C = 0.4  # RFC 8312: bic_scale 41/1024 per (1/1024 s)^3 is 0.4 per s^3
BETA = 0.7  # 717/1024 rounded


@pytest.mark.parametrize("a", [0, 1, 7, 63, 64, 1000, 123_456, 80_452_070_310, 2**40, 2**63 - 1])
def test_cubic_root_is_within_its_documented_error(a):
    """cubic_root: table lookup + one Newton-Raphson step, average error ~0.2%, here at most 1.5%
    (and exact for perfect small cubes)."""
    r = cubic_root(a)
    true = a ** (1 / 3)
    assert abs(r - true) <= max(1.0, 0.015 * true), (a, r, true)


def test_recalc_ssthresh_beta_and_fast_convergence(monkeypatch):
    """ssthresh = cwnd·717/1024; a loss below the previous W_max lowers W_max to cwnd·(1+β)/2."""
    rig = Rig_sk(monkeypatch)
    sk = rig.sk
    ca = Bictcp()
    sk.icsk_ca_priv = ca
    sk.snd_cwnd = 100
    assert cubictcp_recalc_ssthresh(sk) == 70  # 100·717/1024 = 70.02
    assert ca.last_max_cwnd == 100 and ca.epoch_start == 0
    sk.snd_cwnd = 80  # lost again below W_max: release bandwidth (fast convergence)
    assert cubictcp_recalc_ssthresh(sk) == 56  # 80·717/1024 = 56.02
    assert ca.last_max_cwnd == 68  # 80·(1024+717)/2048 = 68.01
    sk.snd_cwnd = 1
    assert cubictcp_recalc_ssthresh(sk) == 2  # never below 2


def _after_loss(wmax: int, cwnd: int) -> Bictcp:
    ca = Bictcp()
    ca.last_max_cwnd = wmax
    ca.delay_min = 0  # t counts from the epoch start only
    return ca


@pytest.mark.parametrize("t_ms", [500, 1500, 3000, 4000, 6000])
def test_bictcp_update_follows_the_cubic_curve(t_ms):
    """After a loss from W_max 100 to cwnd 70, ca->cnt (ACKs per cwnd increment) is
    cwnd / (W(t) − cwnd) with W(t) = 0.4·(t − K)³ + 100 and K = ∛(30 / 0.4) = 4.217 s."""
    wmax, cwnd = 100, 70
    ca = _after_loss(wmax, cwnd)
    epoch = 1000  # jiffies
    bictcp_update(ca, cwnd, 1, epoch)  # starts the epoch: K from cubic_root
    k_true = ((wmax - cwnd) / C) ** (1 / 3)
    assert abs(ca.bic_K / 1024 - k_true) < 0.01
    assert ca.bic_K == cubic_root(cube_factor * (wmax - cwnd))
    ca.last_cwnd = 0  # force a recompute at the later time (not the same cwnd within HZ/32)
    bictcp_update(ca, cwnd, 1, epoch + t_ms)
    w = C * (t_ms / 1000 - k_true) ** 3 + wmax
    target = math.floor(w)  # the kernel's u32 target, from the same curve
    expected = cwnd // (target - cwnd) if target > cwnd else 100 * cwnd
    expected = max(expected, 2)
    assert abs(ca.cnt - expected) <= max(1, expected // 20), (t_ms, ca.cnt, expected, w)


def test_tcp_friendliness_caps_cnt_at_renos_rate():
    """Far below the curve's growth, CUBIC still grows at least as fast as Reno would:
    tcp_cwnd counts +1 per cwnd·8/(3·(1+β)/(1−β)) ACKs and cnt ≤ cwnd/(tcp_cwnd − cwnd)."""
    ca = _after_loss(1000, 700)  # K ≈ 9.1 s: the curve is flat near the start (cnt ≈ 700)
    bictcp_update(ca, 700, 1, 5000)
    ca.last_cwnd = 0
    bictcp_update(ca, 700, 20_000, 5010)  # 20000 packets ACKed: Reno would be far ahead
    delta = 700 * 15 >> 3  # beta_scale = 8·(1024+717)/3/(1024−717) = 15
    reno_cwnd = 700 + (20_000 + 1) // delta
    assert ca.tcp_cwnd == reno_cwnd
    assert ca.cnt == max(700 // (reno_cwnd - 700), 2)


def test_cwnd_event_tx_start_shifts_the_epoch_by_the_idle_time(monkeypatch):
    rig = Rig_sk(monkeypatch)
    sk = rig.sk
    ca = Bictcp()
    sk.icsk_ca_priv = ca
    ca.epoch_start = 100
    rig.env.run(until=700 * 1_000_000_000)  # jiffies 700
    sk.lsndtime = 400  # idle since jiffy 400: 300 jiffies
    cubictcp_cwnd_event(sk, CA_EVENT_TX_START)
    assert ca.epoch_start == 400
    ca.epoch_start = 650
    sk.lsndtime = 100  # the shift never moves the epoch past now
    cubictcp_cwnd_event(sk, CA_EVENT_TX_START)
    assert ca.epoch_start == 700


def test_loss_state_resets_the_cubic_state(monkeypatch):
    rig = Rig_sk(monkeypatch)
    sk = rig.sk
    ca = Bictcp()
    sk.icsk_ca_priv = ca
    ca.last_max_cwnd, ca.epoch_start, ca.delay_min, ca.found = 50, 7, 900, 1
    cubictcp_state(sk, TCP_CA_Loss)
    assert (ca.last_max_cwnd, ca.epoch_start, ca.delay_min, ca.found) == (0, 0, 0, 0)
    assert ca.curr_rtt == 0xFFFFFFFF and ca.end_seq == sk.snd_nxt


# -- HyStart ---------------------------------------------------------------------------------------


class Rig_sk:
    """A connected cubic socket (the rig's peer never answers unless told)."""

    def __init__(self, monkeypatch) -> None:
        self.rig = Rig(monkeypatch)
        self.rig.connect(window_update=65535)
        self.sk = self.rig.sk
        self.env = self.rig.env
        assert self.sk.icsk_ca_ops is cubictcp


def _slow_start(monkeypatch, cwnd: int = 20):
    r = Rig_sk(monkeypatch)
    sk = r.sk
    tcp_set_congestion_control(sk, "reno", True)
    tcp_set_congestion_control(sk, "cubic", True)  # a fresh cubictcp_init now
    sk.snd_cwnd = cwnd
    sk.sk_pacing_rate = (1 << 64) - 1  # hystart_ack_delay 0
    return r, sk


def _ack_at(r, sk, t_us: int, rtt_us: int) -> None:
    r.env.run(until=t_us * 1_000_000)
    sk.tcp_mstamp = t_us
    cubictcp_acked(sk, AckSample(1, rtt_us, 0))


def test_hystart_delay_exits_slow_start_on_rtt_increase(monkeypatch):
    """After HYSTART_MIN_SAMPLES (8) ACKs of a round, a round minimum above delay_min +
    clamp(delay_min/8, 4 ms, 16 ms) sets ssthresh = cwnd: slow start ends."""
    r, sk = _slow_start(monkeypatch)
    base = 1_000_000
    _ack_at(r, sk, base, 10_000)  # delay_min 10 ms
    ca = sk.icsk_ca_priv
    assert ca.delay_min == 10_000 and sk.snd_ssthresh > sk.snd_cwnd
    thresh = 10_000 + min(max(10_000 >> 3, HYSTART_DELAY_MIN), HYSTART_DELAY_MAX)  # 14 ms
    ca.end_seq = (sk.snd_una - 1) & 0xFFFFFFFF  # snd_una past end_seq: the next sample starts a round
    for i in range(9):  # ACKs 3 ms apart: no ACK train
        _ack_at(r, sk, base + 3000 * (i + 1), thresh + 1)
        if i < 8:
            assert sk.snd_ssthresh > sk.snd_cwnd, i
    assert sk.snd_ssthresh == sk.snd_cwnd == 20
    mib = r.rig.host.mib["TcpExt"]
    assert mib["TCPHystartDelayDetect"] == 1 and mib["TCPHystartDelayCwnd"] == 20
    assert mib["TCPHystartTrainDetect"] == 0


def test_hystart_delay_below_threshold_stays_in_slow_start(monkeypatch):
    r, sk = _slow_start(monkeypatch)
    _ack_at(r, sk, 1_000_000, 10_000)
    ca = sk.icsk_ca_priv
    ca.end_seq = (sk.snd_una - 1) & 0xFFFFFFFF
    for i in range(20):
        _ack_at(r, sk, 1_000_000 + 3000 * (i + 1), 13_999)
    assert sk.snd_ssthresh > sk.snd_cwnd and not ca.found


def test_hystart_ack_train_exits_slow_start(monkeypatch):
    """ACKs arriving within 2 ms of each other for longer than delay_min/2 since the round
    started (unpaced socket): the pipe is full."""
    r, sk = _slow_start(monkeypatch, cwnd=32)
    _ack_at(r, sk, 1_000_000, 1000)  # delay_min 1 ms: threshold 500 us
    ca = sk.icsk_ca_priv
    ca.end_seq = (sk.snd_una - 1) & 0xFFFFFFFF
    _ack_at(r, sk, 1_000_100, 1000)  # hystart_update starts a round at 1_000_100
    assert ca.round_start == ca.last_ack == 1_000_100
    for t in range(1_000_200, 1_000_601, 100):
        _ack_at(r, sk, t, 1000)
    assert sk.snd_ssthresh > sk.snd_cwnd  # 500 us since the round start: not yet
    _ack_at(r, sk, 1_000_700, 1000)
    assert sk.snd_ssthresh == sk.snd_cwnd == 32
    assert r.rig.host.mib["TcpExt"]["TCPHystartTrainDetect"] == 1


def test_hystart_waits_for_a_window_of_16(monkeypatch):
    r, sk = _slow_start(monkeypatch, cwnd=15)
    _ack_at(r, sk, 1_000_000, 1000)
    for t in range(1_000_100, 1_010_000, 100):
        _ack_at(r, sk, t, 50_000)
    assert sk.snd_ssthresh > sk.snd_cwnd and not sk.icsk_ca_priv.found
