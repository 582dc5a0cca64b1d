"""BBR v1 (net/ipv4/tcp_bbr.c) driven by delivery-rate samples: bbr_update_bw's windowed max
(lib/win_minmax.c), bbr_check_full_bw_reached (3 rounds under +25%) into DRAIN and PROBE_BW,
the pacing-gain cycle (bbr_update_cycle_phase), bbr_set_pacing_rate (bw·mss·gain·99%),
bbr_set_cwnd towards cwnd_gain·BDP, and PROBE_RTT after 10 s without a new min_rtt."""

from __future__ import annotations

import itertools

import pytest
from tcp_rig import Rig

from hilnic.kernel.env import MS, US
from hilnic.net.core.sock import SK_PACING_NEEDED, RateSample
from hilnic.net.ipv4.tcp_bbr import (
    BBR_DRAIN,
    BBR_PROBE_BW,
    BBR_PROBE_RTT,
    BBR_STARTUP,
    BBR_UNIT,
    BW_SCALE,
    bbr_main,
    bbr_pacing_gain,
    tcp_bbr_cong_ops,
)
from hilnic.net.socket import SOL_TCP, TCP_CONGESTION

MSS = 1448
RTT_US = 10_000


@pytest.fixture
def sk(monkeypatch):
    rig = Rig(monkeypatch)
    rig.sock.setsockopt(SOL_TCP, TCP_CONGESTION, "bbr")
    rig.connect(window_update=65535, rtt_ms=RTT_US / 1000)
    s = rig.sk
    s.rig = rig
    assert s.icsk_ca_ops is tcp_bbr_cong_ops and s.sk_pacing_status == SK_PACING_NEEDED
    return s


def feed(sk, delivered: int, interval_us: int = RTT_US, rtt_us: int = RTT_US, inflight: int = 0,
         app_limited: bool = False, losses: int = 0) -> RateSample:
    """One ACK ending a round: `delivered` packets over `interval_us`, `inflight` still out."""
    env = sk.rig.env
    env.run(until=env.now() + interval_us * US)
    prior = sk.delivered
    sk.delivered += delivered
    now_us = env.now() // US
    sk.delivered_mstamp = sk.tcp_mstamp = now_us
    sk.tcp_clock_cache = env.now() // 1000
    sk.packets_out = inflight
    rs = RateSample(prior_delivered=prior, prior_mstamp=now_us - interval_us, delivered=delivered,
                    interval_us=interval_us, rtt_us=rtt_us, acked_sacked=delivered, prior_in_flight=inflight,
                    is_app_limited=app_limited, losses=losses)
    bbr_main(sk, 0, 0, rs)
    return rs


def feed_acks(sk, count: int, window: int = 100, rtt_us: int = RTT_US, inflight: int = 100) -> list[int]:
    """Steady state: one ACK per packet, `window` packets per RTT (each sample: `window`
    delivered over one RTT); returns the cycle index after each ACK."""
    env = sk.rig.env
    idx = []
    for _ in range(count):
        env.run(until=env.now() + rtt_us * US // window)
        sk.delivered += 1
        now_us = env.now() // US
        sk.delivered_mstamp = sk.tcp_mstamp = now_us
        sk.tcp_clock_cache = env.now() // 1000
        sk.packets_out = inflight
        rs = RateSample(prior_delivered=sk.delivered - window, prior_mstamp=now_us - rtt_us, delivered=window,
                        interval_us=rtt_us, rtt_us=rtt_us, acked_sacked=1, prior_in_flight=inflight)
        bbr_main(sk, 0, 0, rs)
        idx.append(sk.icsk_ca_priv.cycle_idx)
    return idx


def bw_of(pkts: int, us: int) -> int:
    return pkts * (1 << BW_SCALE) // us


def test_startup_gains_and_full_pipe_after_three_flat_rounds(sk):
    bbr = sk.icsk_ca_priv
    assert bbr.mode == BBR_STARTUP
    feed(sk, 10)
    assert bbr.pacing_gain == bbr.cwnd_gain == 739  # 2/ln 2 = 2.885 in 1/256
    feed(sk, 20)
    feed(sk, 40)  # doubling each round: still filling the pipe
    assert bbr.mode == BBR_STARTUP and bbr.full_bw_cnt == 0
    for n in (1, 2):
        feed(sk, 45, inflight=200)  # < 1.25 × 40
        assert bbr.full_bw_cnt == n and bbr.mode == BBR_STARTUP
    feed(sk, 45, inflight=200)  # third round without growth: the pipe is full, drain
    assert bbr.full_bw_reached and bbr.mode == BBR_DRAIN
    assert bbr.pacing_gain == 88 and bbr.cwnd_gain == 739  # 1/2.885 in 1/256, cwnd kept
    bdp = -(-bw_of(45, RTT_US) * RTT_US // (1 << BW_SCALE))  # ceil(bw · min_rtt)
    assert sk.snd_ssthresh >= bdp == 45
    feed(sk, 45, inflight=10)  # the queue is gone: steady state
    assert bbr.mode == BBR_PROBE_BW
    assert bbr.pacing_gain == bbr_pacing_gain[bbr.cycle_idx] and bbr.cwnd_gain == 2 * BBR_UNIT


def test_bw_filter_is_a_max_over_ten_rounds(sk):
    bbr = sk.icsk_ca_priv
    feed(sk, 100)
    best = bw_of(100, RTT_US)
    assert bbr.bw.s[0][1] == best
    for _ in range(9):
        feed(sk, 50)  # lower samples: the max holds for the window of 10 rounds
        assert bbr.bw.s[0][1] == best
    for _ in range(3):
        feed(sk, 50)
    assert bbr.bw.s[0][1] == bw_of(50, RTT_US)  # aged out
    feed(sk, 200, app_limited=True)  # an app-limited sample counts only if it raises the max
    assert bbr.bw.s[0][1] == bw_of(200, RTT_US)
    feed(sk, 10, app_limited=True)
    assert bbr.bw.s[0][1] == bw_of(200, RTT_US)


def _to_probe_bw(sk):
    bbr = sk.icsk_ca_priv
    for _ in range(5):
        feed(sk, 100, inflight=10)
    assert bbr.mode == BBR_PROBE_BW
    return bbr


def test_pacing_rate_is_bw_times_gain_minus_one_percent(sk):
    """bbr_rate_bytes_per_sec: bw (packets/us) · mss · gain, paced 1% below."""
    bbr = _to_probe_bw(sk)
    bw_pps = 100 / (RTT_US / 1e6)  # 10,000 packets/s
    expected = bw_pps * MSS * bbr.pacing_gain / 256 * 0.99
    assert abs(sk.sk_pacing_rate - expected) / expected < 1e-3


def test_cwnd_is_cwnd_gain_times_bdp_plus_quantization_budget(sk):
    """Once the pipe is full, cwnd = cwnd_gain · BDP + the ACK aggregation seen (here the
    100-packet burst of the first ACKs, never drained below the ACK rate) + 3 TSO goals,
    rounded up to even (+2 in the probing phase)."""
    bbr = _to_probe_bw(sk)
    feed_acks(sk, 2000)  # 20 rounds, an ACK per packet
    assert max(bbr.extra_acked) == 101
    bdp2 = 2 * 100 + 101  # cwnd_gain 2 · bw 100 pkts/RTT · min_rtt, + extra_acked
    tso = max(min(sk.sk_pacing_rate >> 10, 65536 - 1 - 192) // MSS, 2)  # bbr_tso_segs_goal
    target = bdp2 + 3 * tso
    target = (target + 1) & ~1
    if bbr.cycle_idx == 0:
        target += 2
    assert sk.snd_cwnd == target, (sk.snd_cwnd, target, bbr.cycle_idx)


def test_gain_cycle_advances_each_min_rtt(sk):
    """In PROBE_BW a phase with gain 1.0 ends once more than a min_rtt has passed since it
    began; the index walks 0..7 over the gains 5/4, 3/4, 1 x6."""
    _to_probe_bw(sk)
    idx = feed_acks(sk, 3000, inflight=300)  # 30 RTTs, an ACK every 100 us, inflight above 5/4 BDP
    changes = [i for i in range(1, len(idx)) if idx[i] != idx[i - 1]]
    assert {(idx[i] - idx[i - 1]) & 7 for i in changes} == {1}
    lengths = {b - a for a, b in itertools.pairwise(changes)}
    assert lengths == {101}  # ACKs per phase: the first one more than min_rtt (100 ACKs) on
    assert len(changes) >= 28
    assert [bbr_pacing_gain[i] for i in range(8)] == [320, 192, 256, 256, 256, 256, 256, 256]


def test_probe_rtt_after_ten_seconds_without_a_lower_rtt(sk):
    """min_rtt is 10 s old: PROBE_RTT caps cwnd at 4 for max(200 ms, one round) at that
    flight, then BBR returns to PROBE_BW with the cwnd it had."""
    bbr = _to_probe_bw(sk)
    for _ in range(10):
        feed(sk, 100, inflight=100)
    cwnd_before = sk.snd_cwnd
    sk.rig.env.run(until=sk.rig.env.now() + 10 * 1000 * MS)  # 10 s without sending
    feed(sk, 100, rtt_us=RTT_US + 500, inflight=100)  # first sample after the window: the filter expired
    assert bbr.mode == BBR_PROBE_RTT and sk.snd_cwnd == 4
    assert bbr.min_rtt_us == RTT_US + 500  # the expired filter takes the new sample
    feed(sk, 4, interval_us=1000, inflight=4)  # flight down to 4: the 200 ms start now
    t_done = bbr.probe_rtt_done_stamp
    assert t_done == sk.kernel.jiffies + 200
    for _ in range(19):  # PROBE_RTT marks its samples app-limited: the bw estimate stays
        feed(sk, 4, interval_us=10_000, inflight=4, app_limited=True)
        assert bbr.mode == BBR_PROBE_RTT and sk.snd_cwnd == 4
    feed(sk, 4, interval_us=10_000, inflight=4, app_limited=True)
    feed(sk, 4, interval_us=10_000, inflight=4, app_limited=True)
    assert bbr.mode == BBR_PROBE_BW and bbr.prior_cwnd == cwnd_before
    assert sk.snd_cwnd > 100  # cwnd restored (capped by the target), no longer 4
