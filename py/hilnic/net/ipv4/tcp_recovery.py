"""Loss detection (net/ipv4/tcp_recovery.c): RACK (RFC 8985) for SACK connections, NewReno's
"the head is lost" for the others.

RACK marks a packet lost when a packet sent after it has been (s)acked and more than the
last RTT plus a reordering window has passed since it was sent; the window is min_rtt/4
(times reo_wnd_steps, which D-SACKs widen), or 0 in recovery or once `reordering` packets
are SACKed while no reordering was ever seen. What is not yet overdue arms the reordering
timer (ICSK_TIME_REO_TIMEOUT, tcp_rack_reo_timeout).

Linux walks tp->tsorted_sent_queue, the sent skbs in (re)transmission order without the
SACKed ones and the ones marked lost and not retransmitted since; here that list is the rtx
queue filtered the same way and ordered by (send time, end_seq).

tcp_mark_skb_lost, tcp_init_undo, tcp_enter_recovery and PRR's tcp_cwnd_reduction are
tcp_input.c's; they live here because tcp_rack_reo_timeout calls them and tcp_input.py
imports this file.
"""

from __future__ import annotations

from hilnic.include.net.tcp import (
    TCPCB_LOST,
    TCPCB_RETRANS,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    U32,
    after,
    before,
    tcp_packets_in_flight,
    tcp_skb_timestamp_us,
)
from hilnic.kernel.ftrace import traced
from hilnic.net.core.skbuff import SkBuff
from hilnic.net.core.sock import ICSK_TIME_REO_TIMEOUT, ICSK_TIME_RETRANS, RateSample, TCP_CA_Recovery, TcpSock
from hilnic.net.ipv4.tcp_output import (
    TCP_FRAG_IN_RTX_QUEUE,
    TCP_TIMEOUT_MIN,
    inet_csk_reset_xmit_timer,
    tcp_current_ssthresh,
    tcp_fragment,
    tcp_in_cwnd_reduction,
    tcp_init_cwnd_reduction,
    tcp_is_reno,
    tcp_rearm_rto,
    tcp_rtx_queue_head,
    tcp_set_ca_state,
    tcp_xmit_retransmit_queue,
    usecs_to_jiffies,
)
from hilnic.net.ipv4.tcp_rate import (
    tcp_min_rtt,
)

TCP_RACK_LOSS_DETECTION = 0x1  # net.ipv4.tcp_recovery bits
TCP_RACK_STATIC_REO_WND = 0x2
TCP_RACK_NO_DUPTHRESH = 0x4
TCP_RACK_RECOVERY_THRESH = 16

FLAG_SND_UNA_ADVANCED = 0x400  # tcp_input.c's ACK flag: snd_una was changed


def tcp_mark_skb_lost(sk: TcpSock, skb: SkBuff) -> None:
    """Tag an skb lost (LOST counts in lost_out); a lost retransmission drops its RETRANS."""
    cb = skb.cb
    sacked = cb["sacked"]
    if sacked & TCPCB_SACKED_ACKED:
        return
    if sacked & TCPCB_LOST:
        if sacked & TCPCB_SACKED_RETRANS:  # a retransmit lost again
            cb["sacked"] &= ~TCPCB_SACKED_RETRANS
            sk.retrans_out -= cb["pcount"]
            sk.host.mib["TcpExt"]["TCPLostRetransmit"] += cb["pcount"]
            sk.lost += cb["pcount"]  # tcp_notify_skb_loss_event
    else:
        sk.lost_out += cb["pcount"]
        cb["sacked"] |= TCPCB_LOST
        sk.lost += cb["pcount"]


def tcp_cwnd_reduction(sk: TcpSock, newly_acked_sacked: int, newly_lost: int, flag: int) -> None:
    """Proportional Rate Reduction (RFC 6937) during CWR/Recovery: above ssthresh, send
    ssthresh/prior_cwnd of what is delivered; below it, as much as delivered (slow start
    towards ssthresh when snd_una advances without new losses)."""
    tp = sk
    delta = tp.snd_ssthresh - tcp_packets_in_flight(tp)
    if newly_acked_sacked <= 0 or not tp.prior_cwnd:
        return
    tp.prr_delivered += newly_acked_sacked
    if delta < 0:
        dividend = tp.snd_ssthresh * tp.prr_delivered + tp.prior_cwnd - 1
        sndcnt = dividend // tp.prior_cwnd - tp.prr_out
    else:
        sndcnt = max(tp.prr_delivered - tp.prr_out, newly_acked_sacked)
        if flag & FLAG_SND_UNA_ADVANCED and not newly_lost:
            sndcnt += 1
        sndcnt = min(delta, sndcnt)
    sndcnt = max(sndcnt, 0 if tp.prr_out else 1)  # force the fast retransmit
    tp.snd_cwnd = tcp_packets_in_flight(tp) + sndcnt


def tcp_init_undo(tp: TcpSock) -> None:
    tp.undo_marker = tp.snd_una
    tp.undo_retrans = tp.retrans_out or -1  # retransmissions still in flight may be D-SACKed


def tcp_enter_recovery(sk: TcpSock, ece_ack: bool) -> None:
    tp = sk
    sk.host.mib["TcpExt"]["TCPRenoRecovery" if tcp_is_reno(tp) else "TCPSackRecovery"] += 1
    tp.prior_ssthresh = 0
    tcp_init_undo(tp)
    if not tcp_in_cwnd_reduction(sk):
        if not ece_ack:
            tp.prior_ssthresh = tcp_current_ssthresh(sk)
        tcp_init_cwnd_reduction(sk)
    tcp_set_ca_state(sk, TCP_CA_Recovery)


def tcp_rack_sent_after(t1: int, t2: int, seq1: int, seq2: int) -> bool:
    return t1 > t2 or (t1 == t2 and after(seq1, seq2))


def tcp_rack_reo_wnd(sk: TcpSock) -> int:
    """The reordering window in us."""
    tp = sk
    if not tp.reord_seen:
        # No reordering seen: be aggressive in recovery, or once DUPTHRESH packets are SACKed.
        if sk.icsk_ca_state >= TCP_CA_Recovery:
            return 0
        if tp.sacked_out >= tp.reordering and not sk.host.sysctl.tcp_recovery & TCP_RACK_NO_DUPTHRESH:
            return 0
    return min((tcp_min_rtt(tp) >> 2) * tp.rack.reo_wnd_steps, tp.srtt_us >> 3)


def tcp_rack_skb_timeout(tp: TcpSock, skb: SkBuff, reo_wnd: int) -> int:
    """us left before `skb` counts as lost (<= 0: it is)."""
    return tp.rack.rtt_us + reo_wnd - (tp.tcp_mstamp - tcp_skb_timestamp_us(skb))


def _tsorted_sent_queue(sk: TcpSock) -> list[SkBuff]:
    una = sk.snd_una
    live = [skb for skb in sk.tcp_rtx_queue
            if not skb.cb["sacked"] & TCPCB_SACKED_ACKED
            and (skb.cb["sacked"] & (TCPCB_LOST | TCPCB_SACKED_RETRANS)) != TCPCB_LOST]
    live.sort(key=lambda skb: (skb.tstamp, (skb.cb["end_seq"] - una) & U32))
    return live


def tcp_rack_detect_loss(sk: TcpSock) -> int:
    """Mark the overdue packets sent before the most recently delivered one lost; returns the
    longest wait (us) of those not overdue yet, 0 if none."""
    tp = sk
    rack = tp.rack
    reo_timeout = 0
    reo_wnd = tcp_rack_reo_wnd(sk)
    for skb in _tsorted_sent_queue(sk):
        if not tcp_rack_sent_after(rack.mstamp, tcp_skb_timestamp_us(skb), rack.end_seq, skb.cb["end_seq"]):
            break
        remaining = tcp_rack_skb_timeout(tp, skb, reo_wnd)
        if remaining <= 0:
            tcp_mark_skb_lost(sk, skb)
        else:
            reo_timeout = max(reo_timeout, remaining)
    return reo_timeout


@traced
def tcp_rack_mark_lost(sk: TcpSock) -> bool:
    """Loss detection after an ACK that advanced RACK; True if the reordering timer was armed."""
    tp = sk
    if not tp.rack.advanced:
        return False
    tp.rack.advanced = False  # no rescan until RACK advances again
    timeout = tcp_rack_detect_loss(sk)
    if timeout:
        inet_csk_reset_xmit_timer(sk, ICSK_TIME_REO_TIMEOUT, usecs_to_jiffies(timeout) + TCP_TIMEOUT_MIN,
                                  sk.icsk_rto)
    return bool(timeout)


def tcp_rack_advance(tp: TcpSock, sacked: int, end_seq: int, xmit_time: int) -> None:
    """A packet (re)sent at xmit_time (us) was (s)acked: the newest such sets RACK's clock."""
    rack = tp.rack
    rtt_us = tp.tcp_mstamp - xmit_time
    if rtt_us < tcp_min_rtt(tp) and sacked & TCPCB_RETRANS:
        # Acked sooner than a round trip after the retransmission: the original was (s)acked.
        return
    rack.advanced = True
    rack.rtt_us = rtt_us
    if tcp_rack_sent_after(xmit_time, rack.mstamp, end_seq, rack.end_seq):
        rack.mstamp = xmit_time
        rack.end_seq = end_seq


@traced
def tcp_rack_reo_timeout(sk: TcpSock) -> None:
    """The reordering timer: mark the packets now overdue lost, enter recovery, retransmit."""
    prior_inflight = tcp_packets_in_flight(sk)
    tcp_rack_detect_loss(sk)
    if prior_inflight != tcp_packets_in_flight(sk):
        if sk.icsk_ca_state != TCP_CA_Recovery:
            tcp_enter_recovery(sk, False)
            if sk.icsk_ca_ops.cong_control is None:
                tcp_cwnd_reduction(sk, 1, 0, 0)
        tcp_xmit_retransmit_queue(sk)
    if sk.icsk_pending != ICSK_TIME_RETRANS:
        tcp_rearm_rto(sk)


def tcp_rack_update_reo_wnd(sk: TcpSock, rs: RateSample) -> None:
    """Widen the reordering window by min_rtt/4 after a D-SACK (at most once a round trip,
    judged by the rate sample's prior_delivered, the delivered count when the newest (s)acked
    packet was sent); keep it for 16 recoveries, then back to one step."""
    tp = sk
    rack = tp.rack
    if sk.host.sysctl.tcp_recovery & TCP_RACK_STATIC_REO_WND or not rs.prior_delivered:
        return
    if before(rs.prior_delivered, rack.last_delivered):  # DSACK within a round trip of the last widening
        rack.dsack_seen = False
    if rack.dsack_seen:
        rack.reo_wnd_steps = min(0xFF, rack.reo_wnd_steps + 1)
        rack.dsack_seen = False
        rack.last_delivered = tp.delivered
        rack.reo_wnd_persist = TCP_RACK_RECOVERY_THRESH
    elif not rack.reo_wnd_persist:
        rack.reo_wnd_steps = 1


def tcp_newreno_mark_lost(sk: TcpSock, snd_una_advanced: bool) -> None:
    """RFC 6582 NewReno for a connection without SACK: the head is lost after `reordering`
    dupacks, and again on each partial ACK in Recovery. It is cut to one MSS first."""
    state = sk.icsk_ca_state
    if (state < TCP_CA_Recovery and sk.sacked_out >= sk.reordering) or (
        state == TCP_CA_Recovery and snd_una_advanced
    ):
        skb = tcp_rtx_queue_head(sk)
        if skb is None or skb.cb["sacked"] & TCPCB_LOST:
            return
        mss = skb.cb["tcp_gso_size"] or skb.len
        if skb.cb["pcount"] > 1 and skb.len > mss:
            tcp_fragment(sk, TCP_FRAG_IN_RTX_QUEUE, skb, mss, mss)
        tcp_mark_skb_lost(sk, skb)


__all__ = [
    "tcp_mark_skb_lost",
    "tcp_newreno_mark_lost",
    "tcp_rack_advance",
    "tcp_rack_mark_lost",
    "tcp_rack_reo_timeout",
    "tcp_rack_skb_timeout",
    "tcp_rack_update_reo_wnd",
]
