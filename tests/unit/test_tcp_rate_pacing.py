"""Delivery-rate sampling (net/ipv4/tcp_rate.c: tcp_rate_skb_sent, tcp_rate_skb_delivered,
tcp_rate_gen, tcp_rate_check_app_limited) and pacing (tcp_update_pacing_rate's ratios, EDT
stamps from tcp_update_skb_after_send, internal pacing through tcp_pacing_check and the
tcp_pace_kick hrtimer), on a socket driven by the TCP rig."""

from __future__ import annotations

import itertools

from tcp_rig import Rig

from hilnic.kernel.env import MS, US
from hilnic.kernel.softirq import HRTIMER_SOFTIRQ
from hilnic.net.core.sock import SK_PACING_FQ, SK_PACING_NEEDED, SK_PACING_NONE
from hilnic.net.socket import SOL_TCP, TCP_CONGESTION

MSS = 1448


def _rig(monkeypatch, cc: str = "cubic", rtt_ms: float = 10) -> Rig:
    rig = Rig(monkeypatch)
    rig.sock.setsockopt(SOL_TCP, TCP_CONGESTION, cc)
    rig.connect(window_update=65535, rtt_ms=rtt_ms)
    return rig


def test_tcp_rate_gen_samples_delivered_over_the_ack_phase(monkeypatch):
    """Ten segments sent at once and acked 10 ms later: 10 delivered over 10 ms (the ACK
    phase is the longer one), the sample app-limited because the application had less than
    cwnd to send when it wrote (tcp_rate_check_app_limited)."""
    rig = _rig(monkeypatch)
    sk = rig.sk
    assert sk.delivered == 1  # the SYN
    rig.do(rig.sock.send(bytes(10 * MSS)))
    assert sk.app_limited == 1  # delivered + in flight, when send() found cwnd unused
    sent_at = rig.ip.sent[0].skb.tstamp // 1000
    assert all(s.skb.cb == {} for s in rig.ip.sent)  # the clones' cb is cleared for IP
    assert [sk.tcp_rtx_queue[i].cb["tx"][2] for i in range(len(sk.tcp_rtx_queue))] == [1] * 5  # tx.delivered
    rig.run(10)
    rig.ack_all()
    assert sk.delivered == 11
    assert sk.rate_delivered == 10 and sk.rate_interval_us == rig.env.now() // US - sent_at == 10_000
    assert sk.rate_app_limited and sk.app_limited == 0  # the bubble is acked and gone


def test_tcp_rate_gen_is_not_app_limited_when_cwnd_bound(monkeypatch):
    """The write found the socket idle (app-limited until the first flight is delivered);
    what is sent after that ACK, with data still queued behind cwnd, samples the network."""
    rig = _rig(monkeypatch)
    sk = rig.sk
    rig.do(rig.sock.send(bytes(40 * MSS)))  # more than cwnd (10): the rest waits in the queue
    assert sk.app_limited == 1 and sk.packets_out == 10
    rig.run(10)
    rig.ack_all()  # app_limited cleared; 20 more leave, not app-limited
    assert sk.app_limited == 0 and sk.rate_app_limited and sk.packets_out == 20
    assert all(skb.cb["tx"][3] == 0 for skb in sk.tcp_rtx_queue)
    rig.run(10)
    rig.ack_all()
    assert sk.rate_delivered == 20 and sk.rate_interval_us == 10_000 and not sk.rate_app_limited


def test_pacing_rate_is_ratio_times_cwnd_mss_over_srtt(monkeypatch):
    """sk_pacing_rate = 200 % of cwnd·mss/srtt in slow start below ssthresh/2 (sysctl
    tcp_pacing_ss_ratio), else 120 % (tcp_pacing_ca_ratio)."""
    rig = _rig(monkeypatch)
    sk = rig.sk
    rig.do(rig.sock.send(bytes(10 * MSS)))
    rig.run(10)
    rig.ack_all()
    srtt_s = (sk.srtt_us / 8) / 1e6
    assert sk.snd_cwnd == 20 and sk.snd_ssthresh > 40
    assert abs(sk.sk_pacing_rate - 2.0 * 20 * MSS / srtt_s) < 1
    sk.snd_ssthresh = 30  # cwnd 20 >= 30/2: approaching the end of slow start
    rig.do(rig.sock.send(bytes(MSS)))
    rig.run(10)
    rig.ack_all()
    srtt_s = (sk.srtt_us / 8) / 1e6
    assert abs(sk.sk_pacing_rate - 1.2 * sk.snd_cwnd * MSS / srtt_s) < 1
    rig.host.sysctl.tcp_pacing_ca_ratio = 150
    rig.do(rig.sock.send(bytes(MSS)))
    rig.run(10)
    rig.ack_all()
    srtt_s = (sk.srtt_us / 8) / 1e6
    assert abs(sk.sk_pacing_rate - 1.5 * sk.snd_cwnd * MSS / srtt_s) < 1


def test_cubic_without_fq_is_not_paced(monkeypatch):
    """No fq below and a congestion control that does not ask for pacing: EDT stamps stay at
    the send time, nothing waits for the pacing timer."""
    rig = _rig(monkeypatch)
    sk = rig.sk
    rig.do(rig.sock.send(bytes(10 * MSS)))
    rig.run(10)
    rig.ack_all()
    rig.do(rig.sock.send(bytes(20 * MSS)))
    assert sk.sk_pacing_status == SK_PACING_NONE
    assert len({s.t for s in rig.ip.sent[5:]}) == 1  # all at once
    assert not sk.pacing_timer.hrtimer_is_queued()


def test_edt_stamps_advance_by_len_over_rate_once_fq_paces(monkeypatch):
    """tcp_update_skb_after_send: once the socket is paced (fq marked it SK_PACING_FQ) and 10
    segments are out, each send moves tcp_wstamp_ns on by len / sk_pacing_rate, less the
    credit (at most half) the previous send left."""
    rig = _rig(monkeypatch)
    sk = rig.sk
    rig.do(rig.sock.send(bytes(10 * MSS)))
    rig.run(10)
    rig.ack_all()
    sk.sk_pacing_status = SK_PACING_FQ  # as fq_classify does on the socket's first packet
    n0 = len(rig.ip.sent)
    rig.do(rig.sock.send(bytes(20 * MSS)))
    sent = rig.ip.sent[n0:]
    rate = sk.sk_pacing_rate
    stamps = [s.skb.tstamp for s in sent]
    assert stamps[0] == sent[0].t // 1000  # the first leaves now: wstamp was in the past
    for i, (a, b, s) in enumerate(zip(stamps, stamps[1:], sent, strict=False)):
        len_ns = len(s.payload) * 1_000_000_000 // rate
        if i == 0:  # tcp_wstamp_ns jumped to now: that credit (OS jitter) takes off half
            len_ns -= len_ns // 2
        assert b - a == len_ns, (i, a, b, rate)
    assert len({s.t for s in sent}) == 1  # the qdisc (fq) holds them until their tstamp; TCP does not


def test_bbr_paces_internally_with_the_pacing_hrtimer(monkeypatch):
    """bbr_init asks for pacing (SK_PACING_NEEDED); with no fq below, tcp_write_xmit stops at
    the departure time (tcp_pacing_check) and the soft hrtimer tcp_pace_kick sends the rest:
    each packet leaves len/sk_pacing_rate after the previous one."""
    rig = _rig(monkeypatch, "bbr")
    sk = rig.sk
    assert sk.sk_pacing_status == SK_PACING_NEEDED
    rig.do(rig.sock.send(bytes(10 * MSS)))
    rig.run(10)
    rig.ack_all()
    n0 = len(rig.ip.sent)
    k = rig.host.kernel
    hr0 = k.softirq_count[HRTIMER_SOFTIRQ]
    task = rig.spawn(rig.sock.send(bytes(40 * MSS)))
    rig.run(50)
    rig.finish(task)
    sent = rig.ip.sent[n0:]
    rate = sk.sk_pacing_rate
    assert len(sent) >= 4 and k.softirq_count[HRTIMER_SOFTIRQ] - hr0 >= len(sent) - 2
    for i, (a, b) in enumerate(itertools.pairwise(sent)):
        gap_ns = (b.t - a.t) // 1000
        expected = len(a.payload) * 1_000_000_000 // rate
        if i == 0:  # tcp_update_skb_after_send's credit for the jump to now
            expected -= expected // 2
        assert abs(gap_ns - expected) <= 1, (i, gap_ns, expected)
    assert sent[-1].t - sent[0].t > 1 * MS  # spread out, not a burst


def test_pacing_timer_stops_with_the_connection(monkeypatch):
    rig = _rig(monkeypatch, "bbr")
    sk = rig.sk
    rig.do(rig.sock.send(bytes(10 * MSS)))
    rig.run(10)
    rig.ack_all()
    rig.do(rig.sock.send(bytes(40 * MSS)))
    assert sk.pacing_timer.hrtimer_is_queued()
    rig.inject("R")
    assert not sk.pacing_timer.hrtimer_is_queued()
