"""TCP input (net/ipv4/tcp_input.c): ACK processing, RTT/RTO, the SACK scoreboard, the
congestion state machine (Open/Disorder/CWR/Recovery/Loss) with PRR, undo (D-SACK,
timestamps, F-RTO) and NewReno for peers without SACK, the TLP episode's end; the
algorithm itself is sk.icsk_ca_ops (tcp_cong.py), RACK loss detection tcp_recovery.py.
Then the SYN-SENT handshake, FIN states and in-order data.

Incoming segments arrive as skbs whose `cb` was filled by tcp_v4_rcv (tcp_ipv4.py) with
the parsed header: seq, end_seq, ack_seq, tcp_flags, window, and the options (SACK blocks
as `sack`, a list of (start, end)).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from hilnic.include.trace.events.tcp import trace_tcp_probe
from hilnic.kernel.ftrace import traced
from hilnic.net.core.skbuff import SkBuff
from hilnic.net.core.sock import (
    CA_EVENT_COMPLETE_CWR,
    CA_EVENT_LOSS,
    ICSK_ACK_NOW,
    ICSK_TIME_RETRANS,
    SEND_SHUTDOWN,
    SOCK_DEAD,
    SOCK_SNDBUF_LOCK,
    TCP_CA_CWR,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_DSACK_SEEN,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_LAST_ACK,
    TCP_SACK_SEEN,
    TCP_SYN_SENT,
    TCP_TIME_WAIT,
    AckSample,
    RateSample,
    TCP_CA_Disorder,
    TCP_CA_Loss,
    TCP_CA_Open,
    TCP_CA_Recovery,
    TcpSock,
)
from hilnic.net.ipv4.tcp import tcp_fin_time, tcp_write_queue_purge
from hilnic.net.ipv4.tcp_cong import tcp_init_congestion_control
from hilnic.net.ipv4.tcp_minisocks import tcp_time_wait
from hilnic.net.ipv4.tcp_output import (
    ICSK_TIME_PROBE0,
    TCP_FRAG_IN_RTX_QUEUE,
    TCP_INFINITE_SSTHRESH,
    TCP_MIN_MSS,
    TCP_MSS_DEFAULT,
    TCP_NAGLE_OFF,
    TCP_RTO_MAX,
    TCP_RTO_MIN_US,
    TCP_TIMEWAIT_LEN,
    TCPCB_EVER_RETRANS,
    TCPCB_LOST,
    TCPCB_RETRANS,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    TCPHDR_ACK,
    TCPHDR_ECE,
    TCPHDR_FIN,
    TCPHDR_RST,
    TCPHDR_SYN,
    U32,
    __tcp_push_pending_frames,
    __tcp_select_window,
    after,
    before,
    inet_csk_ack_scheduled,
    inet_csk_clear_xmit_timer,
    inet_csk_reset_xmit_timer,
    inet_csk_schedule_ack,
    tcp_ca_event,
    tcp_check_space,
    tcp_current_mss,
    tcp_current_ssthresh,
    tcp_done,
    tcp_enter_cwr,
    tcp_fragment,
    tcp_in_cwnd_reduction,
    tcp_init_cwnd_reduction,
    tcp_is_reno,
    tcp_is_sack,
    tcp_mstamp_refresh,
    tcp_packets_in_flight,
    tcp_probe0_when,
    tcp_push_pending_frames,
    tcp_rearm_rto,
    tcp_reset_xmit_timer,
    tcp_rtx_queue_head,
    tcp_rtx_queue_unlink_and_free,
    tcp_schedule_loss_probe,
    tcp_send_ack,
    tcp_send_delayed_ack,
    tcp_set_ca_state,
    tcp_set_state,
    tcp_skb_timestamp_us,
    tcp_sndbuf_expand,
    tcp_sync_mss,
    tcp_time_stamp_ts,
    tcp_trim_head,
    tcp_wnd_end,
    tcp_xmit_retransmit_queue,
    usecs_to_jiffies,
)
from hilnic.net.ipv4.tcp_rate import tcp_rate_gen, tcp_rate_skb_delivered
from hilnic.net.ipv4.tcp_recovery import (
    FLAG_SND_UNA_ADVANCED,
    tcp_cwnd_reduction,
    tcp_enter_recovery,
    tcp_init_undo,
    tcp_mark_skb_lost,
    tcp_newreno_mark_lost,
    tcp_rack_advance,
    tcp_rack_mark_lost,
    tcp_rack_skb_timeout,
    tcp_rack_update_reo_wnd,
)

FLAG_DATA = 0x01
FLAG_WIN_UPDATE = 0x02
FLAG_DATA_ACKED = 0x04
FLAG_RETRANS_DATA_ACKED = 0x08
FLAG_SYN_ACKED = 0x10
FLAG_DATA_SACKED = 0x20
FLAG_ECE = 0x40
FLAG_LOST_RETRANS = 0x80
FLAG_SLOWPATH = 0x100
FLAG_ORIG_SACK_ACKED = 0x200
FLAG_DSACKING_ACK = 0x800
FLAG_SET_XMIT_TIMER = 0x1000
FLAG_SACK_RENEGING = 0x2000
FLAG_DSACK_TLP = 0x20000
FLAG_ACK_MAYBE_DELAYED = 0x10000  # likely a delayed ACK
FLAG_ACKED = FLAG_DATA_ACKED | FLAG_SYN_ACKED
FLAG_NOT_DUP = FLAG_DATA | FLAG_WIN_UPDATE | FLAG_ACKED
FLAG_CA_ALERT = FLAG_DATA_SACKED | FLAG_ECE | FLAG_DSACKING_ACK
FLAG_FORWARD_PROGRESS = FLAG_ACKED | FLAG_DATA_SACKED

REXMIT_NONE = 0  # no loss recovery to do
REXMIT_LOST = 1  # retransmit packets marked lost
REXMIT_NEW = 2  # F-RTO: transmit new data

TCP_REORDERING = 3  # sysctl_tcp_reordering
TCP_NUM_SACKS = 4


def tcp_is_rack(sk: TcpSock) -> bool:
    return bool(sk.host.sysctl.tcp_recovery & 1)  # TCP_RACK_LOSS_DETECTION


# -- RTT and RTO ----------------------------------------------------------------------------------


def tcp_rtt_estimator(sk: TcpSock, mrtt_us: int) -> None:
    """Jacobson/Karels with the kernel's scaling: srtt_us ×8, mdev_us ×4, rttvar ≥ rto_min."""
    tp = sk
    m = mrtt_us
    srtt = tp.srtt_us
    if srtt != 0:
        m -= srtt >> 3
        srtt += m
        if m < 0:
            m = -m
            m -= tp.mdev_us >> 2
            if m > 0:
                m >>= 3
        else:
            m -= tp.mdev_us >> 2
        tp.mdev_us += m
        if tp.mdev_us > tp.mdev_max_us:
            tp.mdev_max_us = tp.mdev_us
            tp.rttvar_us = max(tp.rttvar_us, tp.mdev_max_us)
        if after(tp.snd_una, tp.rtt_seq):
            if tp.mdev_max_us < tp.rttvar_us:
                tp.rttvar_us -= (tp.rttvar_us - tp.mdev_max_us) >> 2
            tp.rtt_seq = tp.snd_nxt
            tp.mdev_max_us = TCP_RTO_MIN_US
    else:
        srtt = m << 3
        tp.mdev_us = m << 1
        tp.rttvar_us = max(tp.mdev_us, TCP_RTO_MIN_US)
        tp.mdev_max_us = tp.rttvar_us
        tp.rtt_seq = tp.snd_nxt
    tp.srtt_us = max(1, srtt)


def __tcp_set_rto(tp: TcpSock) -> int:
    return usecs_to_jiffies((tp.srtt_us >> 3) + tp.rttvar_us)


def tcp_set_rto(sk: TcpSock) -> None:
    sk.icsk_rto = min(__tcp_set_rto(sk), TCP_RTO_MAX)  # tcp_bound_rto


def _rcv_tsecr(tp: TcpSock) -> int:
    """rx_opt.rcv_tsecr as Linux keeps it: our TSval echoed, the per-connection offset removed."""
    raw = tp.rx_opt.rcv_tsecr
    return (raw - tp.tsoffset) & U32 if raw else 0


def tcp_ack_update_rtt(sk: TcpSock, flag: int, seq_rtt_us: int, sack_rtt_us: int, ca_rtt_us: int,
                       rs: RateSample | None = None) -> bool:
    tp = sk
    opt = tp.rx_opt
    if seq_rtt_us < 0:
        seq_rtt_us = sack_rtt_us
    if seq_rtt_us < 0 and opt.saw_tstamp and opt.rcv_tsecr and flag & FLAG_ACKED:
        # RTTM: a TSecr sample only when the ACK advances snd_una (allowed after rtx)
        delta = (tcp_time_stamp_ts(tp) - _rcv_tsecr(tp)) & U32
        if delta < 0x7FFFFFFF // 1000:
            seq_rtt_us = ca_rtt_us = max(delta, 1) * 1000
    if rs is not None:
        rs.rtt_us = ca_rtt_us  # RTT of last (S)ACKed packet (or -1)
    if seq_rtt_us < 0:
        return False
    if ca_rtt_us >= 0 and (not tp.min_rtt_us or ca_rtt_us < tp.min_rtt_us):
        tp.min_rtt_us = max(ca_rtt_us, 1)  # tcp_update_rtt_min (windowed min, window not kept)
    tcp_rtt_estimator(sk, seq_rtt_us)
    tcp_set_rto(sk)
    sk.icsk_backoff = 0  # RFC 6298: only a valid RTT sample resets the backoff
    return True


# -- congestion control: PRR and the hooks into icsk_ca_ops ----------------------------------------


def tcp_end_cwnd_reduction(sk: TcpSock) -> None:
    if sk.icsk_ca_ops.cong_control is not None:
        return
    if sk.snd_ssthresh < TCP_INFINITE_SSTHRESH and (sk.icsk_ca_state == TCP_CA_CWR or sk.undo_marker):
        sk.snd_cwnd = sk.snd_ssthresh
        sk.snd_cwnd_stamp = sk.kernel.jiffies
    tcp_ca_event(sk, CA_EVENT_COMPLETE_CWR)


def tcp_update_pacing_rate(sk: TcpSock) -> None:
    """sk_pacing_rate = ratio × cwnd × mss / srtt in bytes/s, the ratio being
    net.ipv4.tcp_pacing_ss_ratio (200 %) in slow start below ssthresh/2, else
    tcp_pacing_ca_ratio (120 %); srtt_us is ×8, hence the << 3."""
    tp = sk
    sysctl = sk.host.sysctl
    rate = tp.mss_cache * ((1_000_000 // 100) << 3)
    if tp.snd_cwnd < tp.snd_ssthresh // 2:
        rate *= sysctl.tcp_pacing_ss_ratio
    else:
        rate *= sysctl.tcp_pacing_ca_ratio
    rate *= max(tp.snd_cwnd, tp.packets_out)
    if tp.srtt_us:
        rate //= tp.srtt_us
    sk.sk_pacing_rate = min(rate, sk.sk_max_pacing_rate)


def tcp_may_raise_cwnd(sk: TcpSock, flag: int) -> bool:
    """Grow cwnd on in-order delivery only, unless reordering is high (then on any progress)."""
    if sk.reordering > sk.host.sysctl.tcp_reordering:
        return bool(flag & FLAG_FORWARD_PROGRESS)
    return bool(flag & FLAG_DATA_ACKED)


def tcp_cong_control(sk: TcpSock, ack: int, acked_sacked: int, flag: int, rs: RateSample) -> None:
    ca_ops = sk.icsk_ca_ops
    if ca_ops.cong_control is not None:
        ca_ops.cong_control(sk, ack, flag, rs)  # the algorithm sets cwnd and the pacing rate
        return
    if tcp_in_cwnd_reduction(sk):
        tcp_cwnd_reduction(sk, acked_sacked, rs.losses, flag)
    elif tcp_may_raise_cwnd(sk, flag):
        ca_ops.cong_avoid(sk, ack, acked_sacked)  # type: ignore[misc]  # registered with cong_avoid
        sk.snd_cwnd_stamp = sk.kernel.jiffies
    tcp_update_pacing_rate(sk)


# -- the SACK scoreboard (tcp_sacktag_write_queue) ----------------------------------------------------


@dataclass(slots=True)
class TcpSacktagState:
    """struct tcp_sacktag_state: what one ACK's SACK blocks (and its cumulative ACK) did.
    Times in us; -1: no never-retransmitted skb was SACKed."""

    first_sackt: int = -1  # send time of the earliest never-retransmitted skb newly SACKed
    last_sackt: int = -1  # ... and of the latest
    reord: int = 0  # lowest never-retransmitted seq SACKed below the highest SACK
    sack_delivered: int = 0
    flag: int = 0
    mss_now: int = 0
    rate: RateSample = field(default_factory=RateSample)  # the ACK's delivery-rate sample


def tcp_highest_sack_seq(tp: TcpSock) -> int:
    """The start of the skb after the highest SACKed one: how far SACKs reach."""
    if not tp.sacked_out:
        return tp.snd_una
    if tp.highest_sack is None:
        return tp.snd_nxt
    return tp.highest_sack.cb["seq"]


def tcp_highest_sack_reset(sk: TcpSock) -> None:
    sk.highest_sack = tcp_rtx_queue_head(sk)


def tcp_dsack_seen(tp: TcpSock, start_seq: int, end_seq: int, state: TcpSacktagState) -> int:
    """Count the D-SACKed segments; 0 for a D-SACK this sender cannot have caused (larger than
    any window, or more duplicates than retransmissions)."""
    if not before(start_seq, end_seq):
        return 0
    seq_len = (end_seq - start_seq) & U32
    if seq_len > tp.max_window:
        return 0
    dup_segs = 1
    if seq_len > tp.mss_cache:
        dup_segs = -(-seq_len // tp.mss_cache)
    elif tp.tlp_high_seq and tp.tlp_high_seq == end_seq:
        state.flag |= FLAG_DSACK_TLP
    tp.dsack_dups += dup_segs
    if tp.dsack_dups > tp.total_retrans:
        return 0
    tp.rx_opt.sack_ok |= TCP_DSACK_SEEN
    # RACK widens its reordering window on D-SACKs, unless no reordering was ever seen or
    # the D-SACK is for a loss probe (timer-driven, not RACK's doing).
    if tp.reord_seen and not state.flag & FLAG_DSACK_TLP:
        tp.rack.dsack_seen = True
    state.flag |= FLAG_DSACKING_ACK
    state.sack_delivered += dup_segs  # a spurious retransmission is delivered
    return dup_segs


def tcp_check_sack_reordering(sk: TcpSock, low_seq: int, ts: int) -> None:
    """A higher sequence was delivered before the never-retransmitted low_seq: reordering.
    Its distance in MSS becomes `reordering` when larger."""
    tp = sk
    mss = tp.mss_cache
    fack = tcp_highest_sack_seq(tp)
    if not before(low_seq, fack):
        return
    metric = (fack - low_seq) & U32
    if metric > tp.reordering * mss and mss:
        tp.reordering = min((metric + mss - 1) // mss, sk.host.sysctl.tcp_max_reordering)
    tp.reord_seen += 1
    sk.host.mib["TcpExt"]["TCPTSReorder" if ts else "TCPSACKReorder"] += 1


def tcp_is_sackblock_valid(tp: TcpSock, is_dsack: bool, start_seq: int, end_seq: int) -> bool:
    """A block within snd_una..snd_nxt, or a D-SACK below snd_una not older than undo_marker."""
    if after(end_seq, tp.snd_nxt) or not before(start_seq, end_seq):
        return False  # too far in future, or reversed
    if not before(start_seq, tp.snd_nxt):
        return False  # start_seq wrapped around
    if after(start_seq, tp.snd_una):
        return True  # in the outstanding window
    if not is_dsack or not tp.undo_marker:
        return False
    if after(end_seq, tp.snd_una):
        return False  # a D-SACK must lie wholly below snd_una
    if not before(start_seq, tp.undo_marker):
        return True
    if not after(end_seq, tp.undo_marker):
        return False  # too old
    return not before(start_seq, (end_seq - tp.max_window) & U32)  # crosses undo_marker


def tcp_check_dsack(sk: TcpSock, ack_seq: int, sp: list[tuple[int, int]], prior_snd_una: int,
                    state: TcpSacktagState) -> bool:
    """Is the first block a D-SACK (RFC 2883: below the cumulative ACK, or inside the second
    block)? Then count it, and let it pay back a retransmission for undo."""
    tp = sk
    mib = sk.host.mib["TcpExt"]
    start_seq_0, end_seq_0 = sp[0]
    if before(start_seq_0, ack_seq):
        mib["TCPDSACKRecv"] += 1
    elif len(sp) > 1:
        start_seq_1, end_seq_1 = sp[1]
        if after(end_seq_0, end_seq_1) or before(start_seq_0, start_seq_1):
            return False
        mib["TCPDSACKOfoRecv"] += 1
    else:
        return False
    dup_segs = tcp_dsack_seen(tp, start_seq_0, end_seq_0, state)
    if not dup_segs:
        mib["TCPDSACKIgnoredDubious"] += 1
        return False
    mib["TCPDSACKRecvSegs"] += dup_segs
    # D-SACK for already forgotten data: dumb counting.
    if (tp.undo_marker and tp.undo_retrans > 0 and not after(end_seq_0, prior_snd_una)
            and after(end_seq_0, tp.undo_marker)):
        tp.undo_retrans = max(0, tp.undo_retrans - dup_segs)
    return True


def tcp_match_skb_to_sack(sk: TcpSock, skb: SkBuff, start_seq: int, end_seq: int) -> int:
    """1 if skb lies within the block, 0 if not; a GSO skb straddling an edge is first split
    at an MSS boundary so that one part does. Negative: the split failed."""
    cb = skb.cb
    in_sack = not after(start_seq, cb["seq"]) and not before(end_seq, cb["end_seq"])
    if cb["pcount"] > 1 and not in_sack and after(cb["end_seq"], start_seq):
        mss = cb["tcp_gso_size"]
        in_sack = not after(start_seq, cb["seq"])
        if not in_sack:
            pkt_len = max((start_seq - cb["seq"]) & U32, mss)
        else:
            pkt_len = (end_seq - cb["seq"]) & U32
            if pkt_len < mss:
                return -errno.EINVAL
        if pkt_len > mss:  # SACKs cover whole MSSes, or the small remainder
            new_len = pkt_len // mss * mss
            if not in_sack and new_len < pkt_len:
                new_len += mss
            pkt_len = new_len
        if pkt_len >= skb.len and not in_sack:
            return 0
        err = tcp_fragment(sk, TCP_FRAG_IN_RTX_QUEUE, skb, pkt_len, mss)
        if err < 0:
            return err
    return int(in_sack)


def tcp_sacktag_one(sk: TcpSock, state: TcpSacktagState, sacked: int, start_seq: int, end_seq: int,
                    dup_sack: bool, pcount: int, xmit_time: int) -> int:
    """Tag a newly SACKed range: counters (sacked_out, lost_out, retrans_out), RACK, RTT
    samples, reordering; returns the skb's new `sacked` bits."""
    tp = sk
    if dup_sack and sacked & TCPCB_RETRANS:  # a D-SACK for a retransmitted packet
        if tp.undo_marker and tp.undo_retrans > 0 and after(end_seq, tp.undo_marker):
            tp.undo_retrans = max(0, tp.undo_retrans - pcount)
        if sacked & TCPCB_SACKED_ACKED and before(start_seq, state.reord):
            state.reord = start_seq
    if not after(end_seq, tp.snd_una):
        return sacked  # acked: about to be freed
    if not sacked & TCPCB_SACKED_ACKED:
        tcp_rack_advance(tp, sacked, end_seq, xmit_time)
        if sacked & TCPCB_SACKED_RETRANS:
            # Not tagged lost: the retransmission is believed still in flight, RETRANS stays.
            if sacked & TCPCB_LOST:
                sacked &= ~(TCPCB_LOST | TCPCB_SACKED_RETRANS)
                tp.lost_out -= pcount
                tp.retrans_out -= pcount
        else:
            if not sacked & TCPCB_RETRANS:
                # A never-retransmitted packet in a hole: reordering.
                if before(start_seq, tcp_highest_sack_seq(tp)) and before(start_seq, state.reord):
                    state.reord = start_seq
                if not after(end_seq, tp.high_seq):
                    state.flag |= FLAG_ORIG_SACK_ACKED
                if state.first_sackt < 0:
                    state.first_sackt = xmit_time
                state.last_sackt = xmit_time
            if sacked & TCPCB_LOST:
                sacked &= ~TCPCB_LOST
                tp.lost_out -= pcount
        sacked |= TCPCB_SACKED_ACKED
        state.flag |= FLAG_DATA_SACKED
        tp.sacked_out += pcount
        state.sack_delivered += pcount  # out-of-order packets delivered
    # A D-SACK on S|R or R: that retransmission was redundant.
    if dup_sack and sacked & TCPCB_SACKED_RETRANS:
        sacked &= ~TCPCB_SACKED_RETRANS
        tp.retrans_out -= pcount
    return sacked


def tcp_sacktag_walk(sk: TcpSock, idx: int, next_dup: tuple[int, int] | None, state: TcpSacktagState,
                     start_seq: int, end_seq: int, dup_sack_in: bool) -> int:
    """Tag the rtx queue from index idx through the block (no shifting into the previous
    SACKed skb: tcp_shift_skb_data is not modelled, skbs are split instead)."""
    tp = sk
    q = sk.tcp_rtx_queue
    while idx < len(q):
        skb = q[idx]
        cb = skb.cb
        in_sack = 0
        dup_sack = dup_sack_in
        if not before(cb["seq"], end_seq):
            break
        if next_dup is not None and before(cb["seq"], next_dup[1]):
            in_sack = tcp_match_skb_to_sack(sk, skb, next_dup[0], next_dup[1])
            if in_sack > 0:
                dup_sack = True
        if in_sack <= 0:
            in_sack = tcp_match_skb_to_sack(sk, skb, start_seq, end_seq)
        if in_sack < 0:
            break
        if in_sack:
            cb["sacked"] = tcp_sacktag_one(sk, state, cb["sacked"], cb["seq"], cb["end_seq"], dup_sack,
                                           cb["pcount"], tcp_skb_timestamp_us(skb))
            tcp_rate_skb_delivered(sk, skb, state.rate)
            if not before(cb["seq"], tcp_highest_sack_seq(tp)):
                tp.highest_sack = q[idx + 1] if idx + 1 < len(q) else None  # tcp_advance_highest_sack
        idx += 1
    return idx


def _sacktag_index(sk: TcpSock, seq: int) -> int:
    """tcp_sacktag_skip: the index of the skb holding seq (len(queue) if none does)."""
    q = sk.tcp_rtx_queue
    for i, skb in enumerate(q):
        if before(seq, skb.cb["end_seq"]):
            return i if not before(seq, skb.cb["seq"]) else len(q)
    return len(q)


@traced
def tcp_sacktag_write_queue(sk: TcpSock, ack_seq: int, blocks: list[tuple[int, int]], prior_snd_una: int,
                            state: TcpSacktagState) -> int:
    """Apply an ACK's SACK blocks to the rtx queue (RFC 2018, D-SACK RFC 2883)."""
    tp = sk
    mib = sk.host.mib["TcpExt"]
    sp_wire = blocks[:TCP_NUM_SACKS]
    state.flag = 0
    state.reord = tp.snd_nxt
    if not tp.sacked_out:
        tcp_highest_sack_reset(sk)
    found_dup_sack = tcp_check_dsack(sk, ack_seq, sp_wire, prior_snd_una, state)
    if before(ack_seq, (prior_snd_una - tp.max_window) & U32):
        return 0  # too old an ACK
    if not tp.packets_out:
        return state.flag
    sp: list[tuple[int, int]] = []
    first_sack_index = 0
    for i, (start_seq, end_seq) in enumerate(sp_wire):
        dup_sack = i == 0 and found_dup_sack
        if not tcp_is_sackblock_valid(tp, dup_sack, start_seq, end_seq):
            if dup_sack:
                mib["TCPDSACKIgnoredOld" if tp.undo_marker else "TCPDSACKIgnoredNoUndo"] += 1
            else:
                # don't count old blocks an ACK reordered on the way brings
                if ack_seq != tp.snd_una and not after(end_seq, tp.snd_una):
                    continue
                mib["TCPSACKDiscard"] += 1
            if i == 0:
                first_sack_index = -1
            continue
        if not after(end_seq, prior_snd_una):  # ignore very old blocks early
            if i == 0:
                first_sack_index = -1
            continue
        sp.append((start_seq, end_seq))
    # order the blocks for an in-order walk of the queue, following the first one
    for i in range(len(sp) - 1, 0, -1):
        for j in range(i):
            if after(sp[j][0], sp[j + 1][0]):
                sp[j], sp[j + 1] = sp[j + 1], sp[j]
                if j == first_sack_index:
                    first_sack_index = j + 1
    state.mss_now = tcp_current_mss(sk)
    for i, (start_seq, end_seq) in enumerate(sp):
        dup_sack = found_dup_sack and i == first_sack_index
        next_dup = sp[i + 1] if found_dup_sack and i + 1 == first_sack_index else None
        tcp_sacktag_walk(sk, _sacktag_index(sk, start_seq), next_dup, state, start_seq, end_seq, dup_sack)
    if sk.icsk_ca_state != TCP_CA_Loss or tp.undo_marker:
        tcp_check_sack_reordering(sk, state.reord, 0)
    return state.flag


# -- Reno "SACK" emulation ----------------------------------------------------------------------------


def tcp_limit_reno_sacked(tp: TcpSock) -> bool:
    holes = min(max(tp.lost_out, 1), tp.packets_out)
    if tp.sacked_out + holes > tp.packets_out:
        tp.sacked_out = tp.packets_out - holes
        return True
    return False


def tcp_check_reno_reordering(sk: TcpSock, addend: int) -> None:
    """More dupacks than packets out: that was reordering (or a broken receiver)."""
    if not tcp_limit_reno_sacked(sk):
        return
    sk.reordering = min(sk.packets_out + addend, sk.host.sysctl.tcp_max_reordering)
    sk.reord_seen += 1
    sk.host.mib["TcpExt"]["TCPRenoReorder"] += 1


def tcp_add_reno_sack(sk: TcpSock, num_dupack: int) -> None:
    if num_dupack:
        prior_sacked = sk.sacked_out
        sk.sacked_out += num_dupack
        tcp_check_reno_reordering(sk, 0)
        delivered = sk.sacked_out - prior_sacked
        if delivered > 0:
            sk.delivered += delivered


def tcp_remove_reno_sacks(sk: TcpSock, acked: int) -> None:
    if acked > 0:
        sk.delivered += max(acked - sk.sacked_out, 1)  # one ACK filled the hole, the rest ate dupacks
        if acked - 1 >= sk.sacked_out:
            sk.sacked_out = 0
        else:
            sk.sacked_out -= acked - 1
    tcp_check_reno_reordering(sk, acked)


def tcp_reset_reno_sack(tp: TcpSock) -> None:
    tp.sacked_out = 0


# -- loss: RTO, recovery and undo ---------------------------------------------------------------------


def tcp_timeout_mark_lost(sk: TcpSock) -> None:
    """RTO: everything outstanding is lost, except what RACK says was sent too recently to
    tell; a SACKed head means the receiver reneged, and its SACKs are forgotten."""
    tp = sk
    head = tcp_rtx_queue_head(sk)
    is_reneg = head is not None and bool(head.cb["sacked"] & TCPCB_SACKED_ACKED)
    if is_reneg:
        sk.host.mib["TcpExt"]["TCPSACKReneging"] += 1
        tp.sacked_out = 0
        tp.is_sack_reneg = True  # until we recover from this loss event
    elif tcp_is_reno(tp):
        tcp_reset_reno_sack(tp)
    rack = tcp_is_rack(sk)
    for skb in sk.tcp_rtx_queue:
        if is_reneg:
            skb.cb["sacked"] &= ~TCPCB_SACKED_ACKED
        elif rack and skb is not head and tcp_rack_skb_timeout(tp, skb, 0) > 0:
            continue  # don't mark recently sent ones lost yet
        tcp_mark_skb_lost(sk, skb)


@traced
def tcp_enter_loss(sk: TcpSock) -> None:
    """RTO: outstanding data lost, ssthresh from the algorithm (once per window), cwnd = in
    flight + 1, state Loss; F-RTO (RFC 5682) starts unless a recovery was under way."""
    tp = sk
    new_recovery = sk.icsk_ca_state < TCP_CA_Recovery
    tcp_timeout_mark_lost(sk)
    if sk.icsk_ca_state <= TCP_CA_Disorder or not after(tp.high_seq, tp.snd_una) or (
        sk.icsk_ca_state == TCP_CA_Loss and not sk.icsk_retransmits
    ):
        tp.prior_ssthresh = tcp_current_ssthresh(sk)
        tp.prior_cwnd = tp.snd_cwnd
        tp.snd_ssthresh = sk.icsk_ca_ops.ssthresh(sk)
        tcp_ca_event(sk, CA_EVENT_LOSS)
        tcp_init_undo(tp)
    tp.snd_cwnd = tcp_packets_in_flight(tp) + 1
    tp.snd_cwnd_cnt = 0
    tp.snd_cwnd_stamp = sk.kernel.jiffies
    # A timeout in Disorder after many dupacks: reordering was over-estimated.
    reordering = sk.host.sysctl.tcp_reordering
    if sk.icsk_ca_state <= TCP_CA_Disorder and tp.sacked_out >= reordering:
        tp.reordering = min(tp.reordering, reordering)
    tcp_set_ca_state(sk, TCP_CA_Loss)
    tp.high_seq = tp.snd_nxt
    tp.frto = bool(sk.host.sysctl.tcp_frto) and (new_recovery or bool(sk.icsk_retransmits))


def tcp_check_sack_reneging(sk: TcpSock, flag: int) -> tuple[bool, int]:
    """snd_una reached a SACKed skb: the receiver may be reneging. Give it max(RTT/2, 10 ms)
    to ACK more before the RTO forgets its SACKs."""
    if flag & FLAG_SACK_RENEGING and flag & FLAG_SND_UNA_ADVANCED:
        delay = max(usecs_to_jiffies(sk.srtt_us >> 4), 10)
        inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, delay, TCP_RTO_MAX)
        return True, flag & ~FLAG_SET_XMIT_TIMER
    return False, flag


def tcp_dupack_heuristics(tp: TcpSock) -> int:
    return tp.sacked_out + 1


def tcp_time_to_recover(sk: TcpSock, flag: int) -> bool:
    """Enter Recovery when a loss is proven (lost_out), or, without RACK, after enough dupacks."""
    if sk.lost_out:
        return True
    return not tcp_is_rack(sk) and tcp_dupack_heuristics(sk) > sk.reordering


def tcp_mark_head_lost(sk: TcpSock, packets: int, mark_head: bool) -> None:
    """RFC 6675 without RACK: a packet with `reordering` SACKed packets above it is lost."""
    cnt = 0
    for skb in list(sk.tcp_rtx_queue):
        cb = skb.cb
        if after(cb["end_seq"], sk.snd_nxt):
            break
        if cb["sacked"] & TCPCB_SACKED_ACKED:
            cnt += cb["pcount"]
        if cnt > packets:
            break
        if not cb["sacked"] & TCPCB_LOST:
            tcp_mark_skb_lost(sk, skb)
        if mark_head:
            break


def tcp_update_scoreboard(sk: TcpSock, fast_rexmit: bool) -> None:
    if tcp_is_sack(sk):
        sacked_upto = sk.sacked_out - sk.reordering
        if sacked_upto >= 0:
            tcp_mark_head_lost(sk, sacked_upto, False)
        elif fast_rexmit:
            tcp_mark_head_lost(sk, 1, True)


def tcp_tsopt_ecr_before(tp: TcpSock, when: int) -> bool:
    return tp.rx_opt.saw_tstamp and bool(tp.rx_opt.rcv_tsecr) and before(_rcv_tsecr(tp), when)


def tcp_skb_spurious_retrans(tp: TcpSock, skb: SkBuff) -> bool:
    """A retransmitted skb whose ACK echoes a TSval older than the retransmission."""
    return bool(skb.cb["sacked"] & TCPCB_RETRANS) and tcp_tsopt_ecr_before(tp, (skb.tstamp // 1_000_000) & U32)


def tcp_packet_delayed(tp: TcpSock) -> bool:
    """The echoed TSval predates the first retransmission: the original got through."""
    return bool(tp.retrans_stamp) and tcp_tsopt_ecr_before(tp, tp.retrans_stamp)


def tcp_any_retrans_done(sk: TcpSock) -> bool:
    if sk.retrans_out:
        return True
    skb = tcp_rtx_queue_head(sk)
    return skb is not None and bool(skb.cb["sacked"] & TCPCB_EVER_RETRANS)


def tcp_undo_cwnd_reduction(sk: TcpSock, unmark_loss: bool) -> None:
    """The reduction was for nothing: cwnd back (the algorithm's undo_cwnd), ssthresh back."""
    tp = sk
    if unmark_loss:
        for skb in sk.tcp_rtx_queue:
            skb.cb["sacked"] &= ~TCPCB_LOST
        tp.lost_out = 0
    if tp.prior_ssthresh:
        tp.snd_cwnd = sk.icsk_ca_ops.undo_cwnd(sk)
        if tp.prior_ssthresh > tp.snd_ssthresh:
            tp.snd_ssthresh = tp.prior_ssthresh
    tp.snd_cwnd_stamp = sk.kernel.jiffies
    tp.undo_marker = 0
    tp.rack.advanced = True  # force RACK to re-examine losses


def tcp_may_undo(tp: TcpSock) -> bool:
    return bool(tp.undo_marker) and (not tp.undo_retrans or tcp_packet_delayed(tp))


def tcp_is_non_sack_preventing_reopen(sk: TcpSock) -> bool:
    """Reno holds the state until something above high_seq is ACKed (RFC 6582)."""
    if sk.snd_una == sk.high_seq and tcp_is_reno(sk):
        if not tcp_any_retrans_done(sk):
            sk.retrans_stamp = 0
        return True
    return False


def tcp_try_undo_recovery(sk: TcpSock) -> bool:
    """Recovery (or Loss) is over: undo if nothing needed retransmitting after all."""
    tp = sk
    if tcp_may_undo(tp):
        tcp_undo_cwnd_reduction(sk, False)
        sk.host.mib["TcpExt"]["TCPLossUndo" if sk.icsk_ca_state == TCP_CA_Loss else "TCPFullUndo"] += 1
    elif tp.rack.reo_wnd_persist:
        tp.rack.reo_wnd_persist -= 1
    if tcp_is_non_sack_preventing_reopen(sk):
        return True
    tcp_set_ca_state(sk, TCP_CA_Open)
    tp.is_sack_reneg = False
    return False


def tcp_try_undo_dsack(sk: TcpSock) -> bool:
    """Every retransmission was D-SACKed: they were all spurious, undo the reduction."""
    tp = sk
    if tp.undo_marker and not tp.undo_retrans:
        tp.rack.reo_wnd_persist = min(16, tp.rack.reo_wnd_persist + 1)  # TCP_RACK_RECOVERY_THRESH
        tcp_undo_cwnd_reduction(sk, False)
        sk.host.mib["TcpExt"]["TCPDSACKUndo"] += 1
        return True
    return False


def tcp_try_undo_loss(sk: TcpSock, frto_undo: bool) -> bool:
    """Undo in Loss after a partial ACK (timestamps) or when F-RTO finds the RTO spurious."""
    tp = sk
    if frto_undo or tcp_may_undo(tp):
        tcp_undo_cwnd_reduction(sk, True)
        mib = sk.host.mib["TcpExt"]
        mib["TCPLossUndo"] += 1
        if frto_undo:
            mib["TCPSpuriousRTOs"] += 1
        sk.icsk_retransmits = 0
        if tcp_is_non_sack_preventing_reopen(sk):
            return True
        if frto_undo or tcp_is_sack(tp):
            tcp_set_ca_state(sk, TCP_CA_Open)
            tp.is_sack_reneg = False
        return True
    return False


def tcp_try_keep_open(sk: TcpSock) -> None:
    state = TCP_CA_Disorder if (sk.sacked_out + sk.lost_out) or tcp_any_retrans_done(sk) else TCP_CA_Open
    if sk.icsk_ca_state != state:
        tcp_set_ca_state(sk, state)
        sk.high_seq = sk.snd_nxt


def tcp_try_to_open(sk: TcpSock, flag: int) -> None:
    if not tcp_any_retrans_done(sk):
        sk.retrans_stamp = 0
    if flag & FLAG_ECE:
        tcp_enter_cwr(sk)
    if sk.icsk_ca_state != TCP_CA_CWR:
        tcp_try_keep_open(sk)


def tcp_process_loss(sk: TcpSock, flag: int, num_dupack: int) -> int:
    """An ACK in Loss: back to Open once high_seq is acked or the RTO proves spurious
    (F-RTO: never-retransmitted data (s)acked); else retransmit more, or (F-RTO step 2b)
    send new data first. Returns the rexmit decision."""
    tp = sk
    recovered = not before(tp.snd_una, tp.high_seq)
    if flag & FLAG_SND_UNA_ADVANCED and tcp_try_undo_loss(sk, False):
        return REXMIT_NONE
    if tp.frto:  # F-RTO RFC 5682 sec 3.1 (SACK-enhanced)
        if flag & FLAG_ORIG_SACK_ACKED and tcp_try_undo_loss(sk, True):
            return REXMIT_NONE  # step 3.b: the timeout was spurious
        if after(tp.snd_nxt, tp.high_seq):
            if flag & FLAG_DATA_SACKED or num_dupack:
                tp.frto = False  # step 3.a: the loss was real
        elif flag & FLAG_SND_UNA_ADVANCED and not recovered:
            tp.high_seq = tp.snd_nxt
            # Step 2.b: send new data (once tcp_ack has updated cwnd), else conventional recovery.
            if sk.sk_write_queue and after(tcp_wnd_end(tp), tp.snd_nxt):
                return REXMIT_NEW
            tp.frto = False
    if recovered:
        tcp_try_undo_recovery(sk)  # F-RTO step 2.a and the first part of 3.a
        return REXMIT_NONE
    if tcp_is_reno(tp):
        # A Reno dupack means the new data of step 2.b was delivered: clock out more.
        if after(tp.snd_nxt, tp.high_seq) and num_dupack:
            tcp_add_reno_sack(sk, num_dupack)
        elif flag & FLAG_SND_UNA_ADVANCED:
            tcp_reset_reno_sack(tp)
    return REXMIT_LOST


def tcp_force_fast_retransmit(sk: TcpSock) -> bool:
    return after(tcp_highest_sack_seq(sk), (sk.snd_una + sk.reordering * sk.mss_cache) & U32)


def tcp_try_undo_partial(sk: TcpSock, prior_snd_una: int) -> tuple[bool, bool | None]:
    """A partial ACK in Recovery: undo if the original filled the hole (timestamps say so);
    else force a fast retransmit if SACKs reach far enough. Returns (stop, do_lost), do_lost
    None when it is left as it was."""
    tp = sk
    if tp.undo_marker and tcp_packet_delayed(tp):
        # Plain luck: the hole was filled by a delayed packet, not a retransmission.
        tcp_check_sack_reordering(sk, prior_snd_una, 1)
        if tp.retrans_out:
            return True, None  # clock out new data, mark nothing lost
        if not tcp_any_retrans_done(sk):
            tp.retrans_stamp = 0
        tcp_undo_cwnd_reduction(sk, True)
        sk.host.mib["TcpExt"]["TCPPartialUndo"] += 1
        tcp_try_keep_open(sk)
        return False, None
    return False, tcp_force_fast_retransmit(sk)


def tcp_identify_packet_loss(sk: TcpSock, flag: int) -> int:
    if not sk.tcp_rtx_queue:
        return flag
    if tcp_is_reno(sk):
        tcp_newreno_mark_lost(sk, bool(flag & FLAG_SND_UNA_ADVANCED))
    elif tcp_is_rack(sk):
        prior_retrans = sk.retrans_out
        if tcp_rack_mark_lost(sk):
            flag &= ~FLAG_SET_XMIT_TIMER  # the reordering timer holds the timer
        if prior_retrans > sk.retrans_out:
            flag |= FLAG_LOST_RETRANS
    return flag


@traced
def tcp_fastretrans_alert(sk: TcpSock, prior_snd_una: int, num_dupack: int, flag: int) -> tuple[int, int]:
    """The congestion state machine for a dubious ACK: state exits when high_seq is acked,
    undo, loss detection (RACK, NewReno), entering Recovery. Returns (rexmit, ack flag)."""
    tp = sk
    ack_flag = flag
    rexmit = REXMIT_NONE
    ece_ack = bool(flag & FLAG_ECE)
    do_lost = bool(num_dupack) or bool(flag & FLAG_DATA_SACKED and tcp_force_fast_retransmit(sk))
    fast_rexmit = False
    if not tp.packets_out and tp.sacked_out:
        tp.sacked_out = 0
    if ece_ack:  # A. ECE: the reduction is required, no undo
        tp.prior_ssthresh = 0
    reneg, ack_flag = tcp_check_sack_reneging(sk, ack_flag)  # B.
    if reneg:
        return REXMIT_NONE, ack_flag
    # D. state exits once high_seq is acked
    state = sk.icsk_ca_state
    if state == TCP_CA_Open:
        tp.retrans_stamp = 0
    elif not before(tp.snd_una, tp.high_seq):
        if state == TCP_CA_CWR:
            if tp.snd_una != tp.high_seq:  # CWR holds until something above high_seq is acked
                tcp_end_cwnd_reduction(sk)
                tcp_set_ca_state(sk, TCP_CA_Open)
        elif state == TCP_CA_Recovery:
            if tcp_is_reno(tp):
                tcp_reset_reno_sack(tp)
            if tcp_try_undo_recovery(sk):
                return REXMIT_NONE, ack_flag
            tcp_end_cwnd_reduction(sk)
    # E. process the state
    state = sk.icsk_ca_state
    if state == TCP_CA_Recovery:
        if not flag & FLAG_SND_UNA_ADVANCED:
            if tcp_is_reno(tp):
                tcp_add_reno_sack(sk, num_dupack)
        else:
            stop, partial_do_lost = tcp_try_undo_partial(sk, prior_snd_una)
            if stop:
                return REXMIT_NONE, ack_flag
            if partial_do_lost is not None:
                do_lost = partial_do_lost
        if tcp_try_undo_dsack(sk):
            tcp_try_keep_open(sk)
        ack_flag = tcp_identify_packet_loss(sk, ack_flag)
        if sk.icsk_ca_state != TCP_CA_Recovery:
            if not tcp_time_to_recover(sk, flag):
                return REXMIT_NONE, ack_flag
            tcp_enter_recovery(sk, ece_ack)  # undone, but loss is evident: a new recovery
    else:
        if state == TCP_CA_Loss:
            rexmit = tcp_process_loss(sk, flag, num_dupack)
            ack_flag = tcp_identify_packet_loss(sk, ack_flag)
            if not (sk.icsk_ca_state == TCP_CA_Open or ack_flag & FLAG_LOST_RETRANS):
                return rexmit, ack_flag
            # cwnd undone, or retransmissions lost: fall through to change the state
        if tcp_is_reno(tp):
            if flag & FLAG_SND_UNA_ADVANCED:
                tcp_reset_reno_sack(tp)
            tcp_add_reno_sack(sk, num_dupack)
        if sk.icsk_ca_state <= TCP_CA_Disorder:
            tcp_try_undo_dsack(sk)
        ack_flag = tcp_identify_packet_loss(sk, ack_flag)
        if not tcp_time_to_recover(sk, flag):
            tcp_try_to_open(sk, flag)
            return rexmit, ack_flag
        tcp_enter_recovery(sk, ece_ack)  # (no MTU probing: no probe failure to handle)
        fast_rexmit = True
    if not tcp_is_rack(sk) and do_lost:
        tcp_update_scoreboard(sk, fast_rexmit)
    return REXMIT_LOST, ack_flag


# -- tcp_ack ----------------------------------------------------------------------------------------


@traced
def tcp_clean_rtx_queue(sk: TcpSock, prior_fack: int, prior_snd_una: int, sack: TcpSacktagState) -> int:
    """Free fully acked originals, trim a partly acked TSO skb, take a Karn-safe RTT sample
    (or the SACK one), count deliveries, advance RACK and fill the rate sample
    (tcp_rate_skb_delivered)."""
    tp = sk
    rs = sack.rate
    flag = 0
    first_ackt = -1  # no sample (time 0 is a valid send time in the model)
    last_ackt = -1
    reord = tp.snd_nxt  # lowest acked un-retransmitted un-SACKed seq
    pkts_acked = 0
    fully_acked = True
    is_sack = tcp_is_sack(tp)
    prior_sacked = tp.sacked_out
    q = sk.tcp_rtx_queue
    snd_una = tp.snd_una
    while q:
        skb = q[0]
        cb = skb.cb
        start_seq = cb["seq"]
        if after(cb["end_seq"], snd_una):
            if cb["pcount"] == 1 or not after(snd_una, cb["seq"]):
                break
            packets = cb["pcount"]
            if tcp_trim_head(sk, skb, (snd_una - cb["seq"]) & U32):  # tcp_tso_acked
                break
            acked_pcount = packets - cb["pcount"]
            if not acked_pcount:
                break
            fully_acked = False
        else:
            acked_pcount = cb["pcount"]
        sacked = cb["sacked"]
        if sacked & TCPCB_RETRANS:
            if sacked & TCPCB_SACKED_RETRANS:
                tp.retrans_out -= acked_pcount
            flag |= FLAG_RETRANS_DATA_ACKED
        elif not sacked & TCPCB_SACKED_ACKED:
            last_ackt = skb.tstamp
            if first_ackt < 0:
                first_ackt = last_ackt
            if before(start_seq, reord):
                reord = start_seq
            if not after(cb["end_seq"], tp.high_seq):
                flag |= FLAG_ORIG_SACK_ACKED
        if sacked & TCPCB_SACKED_ACKED:
            tp.sacked_out -= acked_pcount
        elif is_sack:
            tp.delivered += acked_pcount  # tcp_count_delivered
            if not tcp_skb_spurious_retrans(tp, skb):
                tcp_rack_advance(tp, sacked, cb["end_seq"], tcp_skb_timestamp_us(skb))
        if sacked & TCPCB_LOST:
            tp.lost_out -= acked_pcount
        tp.packets_out -= acked_pcount
        pkts_acked += acked_pcount
        tcp_rate_skb_delivered(sk, skb, rs)
        if not cb["tcp_flags"] & TCPHDR_SYN:
            flag |= FLAG_DATA_ACKED
        else:
            flag |= FLAG_SYN_ACKED
            tp.retrans_stamp = 0
        if not fully_acked:
            break
        if skb is tp.highest_sack:  # tcp_highest_sack_replace
            tp.highest_sack = q[1] if len(q) > 1 else None
        tcp_rtx_queue_unlink_and_free(skb, sk)
    head = q[0] if q else None
    if head is not None and head.cb["sacked"] & TCPCB_SACKED_ACKED:
        flag |= FLAG_SACK_RENEGING
    seq_rtt_us = ca_rtt_us = sack_rtt_us = -1
    if first_ackt >= 0 and not flag & FLAG_RETRANS_DATA_ACKED:
        now_ns = tp.tcp_clock_cache
        seq_rtt_us = max(0, (now_ns - first_ackt) // 1000)
        ca_rtt_us = max(0, (now_ns - last_ackt) // 1000)
        if (pkts_acked == 1 and fully_acked and not prior_sacked and ((snd_una - prior_snd_una) & U32) < tp.mss_cache
                and rs.prior_delivered + 1 == tp.delivered and not flag & (FLAG_CA_ALERT | FLAG_SYN_ACKED)):
            # Conservatively mark a delayed ACK: typically a lone runt packet's.
            flag |= FLAG_ACK_MAYBE_DELAYED
    if sack.first_sackt >= 0:
        sack_rtt_us = max(0, tp.tcp_mstamp - sack.first_sackt)
        ca_rtt_us = max(0, tp.tcp_mstamp - sack.last_sackt)
    rtt_update = tcp_ack_update_rtt(sk, flag, seq_rtt_us, sack_rtt_us, ca_rtt_us, rs)
    if flag & FLAG_ACKED:
        flag |= FLAG_SET_XMIT_TIMER  # set TLP or RTO timer
        if tcp_is_reno(tp):
            tcp_remove_reno_sacks(sk, pkts_acked)
            # A non-SACK peer cannot confirm the progress came from an original.
            if flag & FLAG_RETRANS_DATA_ACKED:
                flag &= ~FLAG_ORIG_SACK_ACKED
        elif before(reord, prior_fack):
            tcp_check_sack_reordering(sk, reord, 0)  # a non-retransmitted hole got filled
        tp.bytes_acked += (snd_una - prior_snd_una) & U32
    elif (head is not None and rtt_update and sack_rtt_us >= 0
          and sack_rtt_us > tp.tcp_mstamp - tcp_skb_timestamp_us(head)):
        # Rearm only if the SACK RTT is not from data sent after the head was last (re)sent,
        # else the timeout could keep extending in recovery.
        flag |= FLAG_SET_XMIT_TIMER
    pkts_acked_op = sk.icsk_ca_ops.pkts_acked
    if pkts_acked_op is not None:
        pkts_acked_op(sk, AckSample(pkts_acked, rs.rtt_us, tp.mss_cache * (tp.delivered - rs.prior_delivered)))
    return flag


def tcp_may_update_window(tp: TcpSock, ack: int, ack_seq: int, nwin: int) -> bool:
    return after(ack, tp.snd_una) or after(ack_seq, tp.snd_wl1) or (
        ack_seq == tp.snd_wl1 and (nwin > tp.snd_wnd or not nwin)
    )


def tcp_ack_update_window(sk: TcpSock, skb: SkBuff, ack: int, ack_seq: int) -> int:
    tp = sk
    cb = skb.cb
    flag = 0
    nwin = cb["window"]
    if not cb["tcp_flags"] & TCPHDR_SYN:
        nwin <<= tp.rx_opt.snd_wscale
    if tcp_may_update_window(tp, ack, ack_seq, nwin):
        flag |= FLAG_WIN_UPDATE
        tp.snd_wl1 = ack_seq
        if tp.snd_wnd != nwin:
            tp.snd_wnd = nwin
            if nwin > tp.max_window:
                tp.max_window = nwin
                tcp_sync_mss(sk, sk.icsk_pmtu_cookie)
    tp.snd_una = ack
    return flag


def tcp_ack_probe(sk: TcpSock) -> None:
    """An ACK while only the probe timer runs: stop it if the window now fits the head."""
    head = sk.sk_write_queue[0] if sk.sk_write_queue else None
    if head is None:
        return
    if not after(head.cb["end_seq"], tcp_wnd_end(sk)):
        sk.icsk_backoff = 0
        inet_csk_clear_xmit_timer(sk, ICSK_TIME_PROBE0)
    else:
        tcp_reset_xmit_timer(sk, ICSK_TIME_PROBE0, tcp_probe0_when(sk, TCP_RTO_MAX), TCP_RTO_MAX)


def tcp_process_tlp_ack(sk: TcpSock, ack: int, flag: int) -> None:
    """An ACK during a TLP episode: it ends once the probe is acked; if the probe repaired a
    loss (the ACK goes beyond it and no D-SACK says both arrived), cwnd is reduced once."""
    tp = sk
    if before(ack, tp.tlp_high_seq):
        return
    if not tp.tlp_retrans:
        tp.tlp_high_seq = 0  # the probe was new data, acknowledged
    elif flag & FLAG_DSACK_TLP:
        tp.tlp_high_seq = 0  # original and probe both arrived: no loss
    elif after(ack, tp.tlp_high_seq):
        # The ACK advances: there was a loss (tcp_init_cwnd_reduction resets tlp_high_seq).
        tcp_init_cwnd_reduction(sk)
        tcp_set_ca_state(sk, TCP_CA_CWR)
        tcp_end_cwnd_reduction(sk)
        tcp_try_keep_open(sk)
        sk.host.mib["TcpExt"]["TCPLossProbeRecovery"] += 1
    elif not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DATA_SACKED):
        tp.tlp_high_seq = 0  # a pure dupack: original and probe arrived


def tcp_xmit_recovery(sk: TcpSock, rexmit: int) -> None:
    """After cwnd was updated: F-RTO's new data, or the retransmissions Loss/Recovery need."""
    tp = sk
    if rexmit == REXMIT_NONE or sk.sk_state == TCP_SYN_SENT:
        return
    if rexmit == REXMIT_NEW:
        __tcp_push_pending_frames(sk, tcp_current_mss(sk), TCP_NAGLE_OFF)
        if after(tp.snd_nxt, tp.high_seq):
            return
        tp.frto = False
    tcp_xmit_retransmit_queue(sk)


def tcp_set_xmit_timer(sk: TcpSock) -> None:
    """A loss probe if one may be scheduled, else the RTO."""
    if not tcp_schedule_loss_probe(sk, True):
        tcp_rearm_rto(sk)


@traced
def tcp_ack(sk: TcpSock, skb: SkBuff, flag: int) -> int:
    """Process the ACK field: window, SACK blocks, rtx queue, RTT, congestion state, TLP,
    retransmissions."""
    tp = sk
    cb = skb.cb
    rs = RateSample()
    sack_state = TcpSacktagState(rate=rs)
    is_sack_reneg = tp.is_sack_reneg
    prior_snd_una = tp.snd_una
    ack_seq = cb["seq"]
    ack = cb["ack_seq"]
    prior_packets = tp.packets_out
    prior_delivered = tp.delivered
    prior_lost = tp.lost
    num_dupack = 0
    rexmit = REXMIT_NONE
    sack = cb.get("sack") if tcp_is_sack(tp) else None
    if before(ack, prior_snd_una):
        # Old ACK: SACKs may still tag the queue, a D-SACK may allow an undo.
        if sack:
            flag |= tcp_sacktag_write_queue(sk, ack, sack, prior_snd_una, sack_state)
            rexmit, flag = tcp_fastretrans_alert(sk, prior_snd_una, num_dupack, flag)
            sk.host.mib["TcpExt"]["TCPDelivered"] += tp.delivered - prior_delivered
            tcp_xmit_recovery(sk, rexmit)
        return 0
    if after(ack, tp.snd_nxt):
        return -1  # ACKs data never sent: drop
    if after(ack, prior_snd_una):
        flag |= FLAG_SND_UNA_ADVANCED
        sk.icsk_retransmits = 0
    prior_fack = tcp_highest_sack_seq(tp) if tcp_is_sack(tp) else tp.snd_una
    rs.prior_in_flight = tcp_packets_in_flight(tp)
    if cb["saw_tstamp"] and not after(ack_seq, tp.rcv_wup):
        tp.rx_opt.ts_recent = cb["tsval"]  # tcp_replace_ts_recent
    if ack_seq != cb["end_seq"]:
        flag |= FLAG_DATA
    flag |= tcp_ack_update_window(sk, skb, ack, ack_seq)
    if sack:
        flag |= tcp_sacktag_write_queue(sk, ack, sack, prior_snd_una, sack_state)
    if cb["tcp_flags"] & TCPHDR_ECE:
        flag |= FLAG_ECE
    if sack_state.sack_delivered:
        tp.delivered += sack_state.sack_delivered
    sk.icsk_probes_out = 0
    if not prior_packets:
        if flag & FLAG_DSACKING_ACK:  # a D-SACK may allow an undo
            rexmit, flag = tcp_fastretrans_alert(sk, prior_snd_una, num_dupack, flag)
            sk.host.mib["TcpExt"]["TCPDelivered"] += tp.delivered - prior_delivered
        tcp_ack_probe(sk)
        if tp.tlp_high_seq:
            tcp_process_tlp_ack(sk, ack, flag)
        return 1
    flag |= tcp_clean_rtx_queue(sk, prior_fack, prior_snd_una, sack_state)
    tcp_rack_update_reo_wnd(sk, rs)
    if tp.tlp_high_seq:
        tcp_process_tlp_ack(sk, ack, flag)
    if not flag & FLAG_NOT_DUP or flag & FLAG_CA_ALERT or sk.icsk_ca_state != TCP_CA_Open:  # dubious
        if not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DSACKING_ACK):
            num_dupack = 1
        rexmit, flag = tcp_fastretrans_alert(sk, prior_snd_una, num_dupack, flag)
    if flag & FLAG_SET_XMIT_TIMER:
        tcp_set_xmit_timer(sk)
    delivered = tp.delivered - prior_delivered
    sk.host.mib["TcpExt"]["TCPDelivered"] += delivered  # tcp_newly_delivered
    lost = tp.lost - prior_lost  # freshly marked lost
    rs.is_ack_delayed = bool(flag & FLAG_ACK_MAYBE_DELAYED)
    tcp_rate_gen(sk, delivered, lost, is_sack_reneg, rs)
    tcp_cong_control(sk, ack, delivered, flag, rs)
    tcp_xmit_recovery(sk, rexmit)
    return 1


@traced
def tcp_data_snd_check(sk: TcpSock) -> None:
    tcp_push_pending_frames(sk)
    tcp_check_space(sk)


# -- options ------------------------------------------------------------------------------------


def tcp_parse_options(sk: TcpSock, cb: dict) -> None:
    opt = sk.rx_opt
    opt.saw_tstamp = cb["saw_tstamp"]
    if opt.saw_tstamp:
        opt.rcv_tsval = cb["tsval"]
        opt.rcv_tsecr = cb["tsecr"]


# -- connection establishment (SYN_SENT) ------------------------------------------------------------


def tcp_init_transfer(sk: TcpSock) -> None:
    """tcp_init_transfer: cwnd = TCP_INIT_CWND, then the initial send buffer size."""
    sk.snd_cwnd = 10 if sk.total_retrans <= 1 or not sk.undo_marker else 1
    sk.snd_cwnd_stamp = sk.kernel.jiffies
    if not sk.icsk_ca_initialized:
        tcp_init_congestion_control(sk)
    if not sk.sk_userlocks & SOCK_SNDBUF_LOCK:
        tcp_sndbuf_expand(sk)  # tcp_init_buffer_space


def tcp_initialize_rcv_mss(sk: TcpSock) -> None:
    """The first guess of the peer's segment size, for the delayed-ACK engine and the
    window (__tcp_select_window): at most 536 until data shows larger."""
    hint = min(sk.advmss, sk.mss_cache, sk.rcv_wnd // 2, TCP_MSS_DEFAULT)
    sk.icsk_ack.rcv_mss = max(hint, TCP_MIN_MSS)


@traced
def tcp_finish_connect(sk: TcpSock, skb: SkBuff | None) -> None:
    tcp_set_state(sk, TCP_ESTABLISHED)
    tcp_init_transfer(sk)
    sk.lsndtime = sk.kernel.jiffies
    sk.sk_wake()  # sk_state_change: wake connect()


def tcp_rcv_synsent_state_process(sk: TcpSock, skb: SkBuff) -> int:
    tp = sk
    cb = skb.cb
    flags = cb["tcp_flags"]
    if flags & TCPHDR_ACK:
        if not after(cb["ack_seq"], tp.snd_una) or after(cb["ack_seq"], tp.snd_nxt):
            return 1  # bad ACK: Linux answers with a RST; the model drops it
        if flags & TCPHDR_RST:
            tcp_reset(sk, errno.ECONNREFUSED)
            return 0
        if not flags & TCPHDR_SYN:
            return 0
        opt = tp.rx_opt
        tcp_parse_options(sk, cb)
        if cb.get("sack_ok") and sk.host.sysctl.tcp_sack:
            opt.sack_ok = TCP_SACK_SEEN  # the SYN-ACK's SACK_PERM
        tp.snd_wl1 = cb["seq"]
        tcp_ack(sk, skb, FLAG_SLOWPATH)
        tp.rcv_nxt = (cb["seq"] + 1) & U32
        tp.rcv_wup = tp.rcv_nxt
        tp.copied_seq = tp.rcv_nxt
        tp.snd_wnd = cb["window"]  # SYN windows are not scaled
        if cb.get("wscale") is None:
            opt.snd_wscale = opt.rcv_wscale = 0
            opt.wscale_ok = False
        else:
            opt.wscale_ok = True
            opt.snd_wscale = min(cb["wscale"], 14)
        if cb["saw_tstamp"] and sk.host.sysctl.tcp_timestamps:
            opt.tstamp_ok = True
            tp.tcp_header_len = 20 + 12
            opt.ts_recent = cb["tsval"]
        else:
            opt.tstamp_ok = False
            tp.tcp_header_len = 20
        if cb.get("mss"):
            opt.mss_clamp = min(opt.user_mss or 0xFFFF, cb["mss"])
        tp.max_window = tp.snd_wnd
        tcp_sync_mss(sk, sk.icsk_pmtu_cookie)
        tcp_initialize_rcv_mss(sk)
        tcp_finish_connect(sk, skb)
        tcp_send_ack(sk)
        return -1
    if flags & TCPHDR_RST:
        return 0
    return 0  # simultaneous open is not modelled


def tcp_reset(sk: TcpSock, err: int = errno.ECONNRESET) -> None:
    if sk.sk_state == TCP_SYN_SENT:
        err = errno.ECONNREFUSED
    elif sk.sk_state == TCP_CLOSE_WAIT:
        err = errno.EPIPE
    sk.sk_err = err
    tcp_write_queue_purge(sk)
    tcp_done(sk)


# -- established and closing states ---------------------------------------------------------------


def tcp_fin(sk: TcpSock) -> None:
    """The peer's FIN (in order): move along the close state diagram. In ESTABLISHED the
    ACK is scheduled, and delayed (pingpong mode: our FIN may soon carry it); in FIN_WAIT1
    and FIN_WAIT2 it is sent at once, FIN_WAIT2 then going to TIME_WAIT."""
    inet_csk_schedule_ack(sk)
    sk.sk_shutdown |= 1  # RCV_SHUTDOWN
    state = sk.sk_state
    if state == TCP_ESTABLISHED:
        tcp_set_state(sk, TCP_CLOSE_WAIT)
        sk.icsk_ack.pingpong = 1  # inet_csk_enter_pingpong_mode
    elif state == TCP_FIN_WAIT1:
        # Simultaneous close: ACK the FIN and wait in CLOSING for ours to be ACKed.
        tcp_send_ack(sk)
        tcp_set_state(sk, TCP_CLOSING)
    elif state == TCP_FIN_WAIT2:
        tcp_send_ack(sk)  # the last ACK, then TIME_WAIT
        tcp_time_wait(sk, TCP_TIME_WAIT, 0)
    sk.sk_wake()


def tcp_in_quickack_mode(sk: TcpSock) -> bool:
    ack = sk.icsk_ack
    return bool(ack.quick) and not ack.pingpong


def __tcp_ack_snd_check(sk: TcpSock) -> None:
    """Send the scheduled ACK now (more than one full segment unacknowledged and the window
    may grow, quickack mode, or asked to), else arm the delayed-ACK timer."""
    tp = sk
    ack = sk.icsk_ack
    if ((((tp.rcv_nxt - tp.rcv_wup) & U32) > ack.rcv_mss and __tcp_select_window(sk) >= tp.rcv_wnd)
            or tcp_in_quickack_mode(sk) or ack.pending & ICSK_ACK_NOW):
        tcp_send_ack(sk)
        return
    tcp_send_delayed_ack(sk)


def tcp_ack_snd_check(sk: TcpSock) -> None:
    if not inet_csk_ack_scheduled(sk):
        return  # we sent a data segment already
    __tcp_ack_snd_check(sk)


def tcp_data_queue(sk: TcpSock, skb: SkBuff) -> None:
    """In-order data is queued and ACKed at once (a receiver in quickack mode, which the
    host's few received segments never leave); a bare FIN's ACK is left to the caller's
    tcp_ack_snd_check, which delays it in CLOSE_WAIT as Linux does. Anything else gets a
    dupack."""
    cb = skb.cb
    payload = cb["payload"]
    if cb["seq"] == sk.rcv_nxt:
        if payload:
            sk.sk_receive_queue.append(payload)
        sk.rcv_nxt = (sk.rcv_nxt + len(payload)) & U32
        if cb["tcp_flags"] & TCPHDR_FIN:
            sk.rcv_nxt = (sk.rcv_nxt + 1) & U32
            tcp_fin(sk)
        if payload and sk.sk_state != TCP_CLOSE:
            tcp_send_ack(sk)
        sk.sk_wake()
    elif sk.sk_state != TCP_CLOSE:
        tcp_send_ack(sk)


@traced
def tcp_rcv_established(sk: TcpSock, skb: SkBuff) -> None:
    trace_tcp_probe(sk, skb)  # TCP congestion window tracking
    cb = skb.cb
    tcp_mstamp_refresh(sk)
    if cb["tcp_flags"] & TCPHDR_RST:
        tcp_reset(sk)
        return
    tcp_parse_options(sk, cb)
    if not cb["tcp_flags"] & TCPHDR_ACK:
        return
    if tcp_ack(sk, skb, FLAG_SLOWPATH) < 0:
        return
    if cb["end_seq"] != cb["seq"]:
        tcp_data_queue(sk, skb)
    tcp_data_snd_check(sk)
    tcp_ack_snd_check(sk)


@traced
def tcp_rcv_state_process(sk: TcpSock, skb: SkBuff) -> int:
    """Every state but ESTABLISHED: SYN_SENT handshake, the FIN states, LAST_ACK."""
    cb = skb.cb
    state = sk.sk_state
    tcp_mstamp_refresh(sk)
    if state == TCP_CLOSE:
        return 1
    if state == TCP_SYN_SENT:
        ret = tcp_rcv_synsent_state_process(sk, skb)
        if ret < 0:
            tcp_data_snd_check(sk)  # data queued while connecting leaves now
        return ret
    if cb["tcp_flags"] & TCPHDR_RST:
        tcp_reset(sk)
        return 0
    trace_tcp_probe(sk, skb)  # not in Linux (docs/deviations.md): data closed early is still acked here
    tcp_parse_options(sk, cb)
    if not cb["tcp_flags"] & TCPHDR_ACK:
        return 0
    if tcp_ack(sk, skb, FLAG_SLOWPATH) < 0:
        return 1
    fin_acked = sk.snd_una == sk.write_seq and not sk.sk_write_queue
    if state == TCP_FIN_WAIT1 and fin_acked:
        tcp_set_state(sk, TCP_FIN_WAIT2)
        sk.sk_shutdown |= SEND_SHUTDOWN
        if not sk.sock_flag(SOCK_DEAD):
            sk.sk_wake()  # wake up lingering close()
        else:
            # An orphan: wait for the peer's FIN as a timewait sock (substate FIN_WAIT2),
            # unless this segment brings the FIN (or the user holds the socket): then Linux
            # arms the FIN_WAIT2 timer on the full sock, which the FIN about to be processed
            # ends (the timer itself is not modelled).
            tmo = tcp_fin_time(sk)
            if tmo <= TCP_TIMEWAIT_LEN and not cb["tcp_flags"] & TCPHDR_FIN and not sk.owned:
                tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)
                return 0
    elif state == TCP_CLOSING and fin_acked:
        tcp_time_wait(sk, TCP_TIME_WAIT, 0)
        return 0
    elif state == TCP_LAST_ACK and fin_acked:
        tcp_done(sk)
        return 0
    if cb["end_seq"] != cb["seq"] and sk.sk_state in (TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_ESTABLISHED):
        tcp_data_queue(sk, skb)
    elif cb["end_seq"] != cb["seq"] and sk.sk_state in (TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK):
        tcp_send_ack(sk)  # data after the peer's FIN: just ACK
    if sk.sk_state != TCP_CLOSE:
        tcp_data_snd_check(sk)
        tcp_ack_snd_check(sk)
    return 0


def tcp_simple_retransmit(sk: TcpSock) -> None:
    """The path MTU shrank: mark every sent skb whose segments exceed the new MSS lost and
    retransmit them; cwnd is left alone (units changed, not the amount of data in the network)."""
    mss = tcp_current_mss(sk)
    for skb in sk.tcp_rtx_queue:
        seglen = skb.len if skb.cb["pcount"] == 1 else skb.cb["tcp_gso_size"]  # tcp_skb_seglen
        if seglen > mss:
            tcp_mark_skb_lost(sk, skb)
    if not sk.lost_out:
        return
    if tcp_is_reno(sk):
        tcp_limit_reno_sacked(sk)
    if sk.icsk_ca_state != TCP_CA_Loss:
        sk.high_seq = sk.snd_nxt
        sk.snd_ssthresh = tcp_current_ssthresh(sk)
        sk.prior_ssthresh = 0
        sk.undo_marker = 0
        tcp_set_ca_state(sk, TCP_CA_Loss)
    tcp_xmit_retransmit_queue(sk)
