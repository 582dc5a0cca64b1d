"""TCP input (net/ipv4/tcp_input.c): ACK processing, RTT/RTO, the congestion state machine
with NewReno recovery (the algorithm itself is sk.icsk_ca_ops, tcp_cong.py), the SYN-SENT
handshake, FIN states and in-order data.

Incoming segments arrive as skbs whose `cb` was filled by tcp_v4_rcv (tcp_ipv4.py) with
the parsed header: seq, end_seq, ack_seq, tcp_flags, window, and the options.
"""

from __future__ import annotations

import errno

from hilnic.kernel.ftrace import traced
from hilnic.net.core.skbuff import SkBuff
from hilnic.net.core.sock import (
    CA_EVENT_COMPLETE_CWR,
    CA_EVENT_LOSS,
    SOCK_SNDBUF_LOCK,
    TCP_CA_CWR,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_LAST_ACK,
    TCP_SYN_SENT,
    TCP_TIME_WAIT,
    AckSample,
    TCP_CA_Disorder,
    TCP_CA_Loss,
    TCP_CA_Open,
    TCP_CA_Recovery,
    TcpSock,
)
from hilnic.net.ipv4.tcp import tcp_done, tcp_set_state, tcp_write_queue_purge
from hilnic.net.ipv4.tcp_cong import tcp_init_congestion_control
from hilnic.net.ipv4.tcp_output import (
    ICSK_TIME_PROBE0,
    TCP_FRAG_IN_RTX_QUEUE,
    TCP_INFINITE_SSTHRESH,
    TCP_RTO_MAX,
    TCP_RTO_MIN_US,
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
    after,
    before,
    inet_csk_clear_xmit_timer,
    tcp_ca_event,
    tcp_check_space,
    tcp_current_mss,
    tcp_current_ssthresh,
    tcp_fragment,
    tcp_init_cwnd_reduction,
    tcp_mstamp_refresh,
    tcp_packets_in_flight,
    tcp_probe0_when,
    tcp_push_pending_frames,
    tcp_rearm_rto,
    tcp_reset_xmit_timer,
    tcp_rtx_queue_head,
    tcp_rtx_queue_unlink_and_free,
    tcp_send_ack,
    tcp_set_ca_state,
    tcp_sndbuf_expand,
    tcp_sync_mss,
    tcp_time_stamp_ts,
    tcp_trim_head,
    tcp_wnd_end,
    tcp_xmit_retransmit_queue,
    usecs_to_jiffies,
)

FLAG_DATA = 0x01
FLAG_WIN_UPDATE = 0x02
FLAG_DATA_ACKED = 0x04
FLAG_RETRANS_DATA_ACKED = 0x08
FLAG_SYN_ACKED = 0x10
FLAG_DATA_SACKED = 0x20
FLAG_ECE = 0x40
FLAG_SLOWPATH = 0x100
FLAG_SND_UNA_ADVANCED = 0x400
FLAG_DSACKING_ACK = 0x800
FLAG_SET_XMIT_TIMER = 0x1000
FLAG_ACKED = FLAG_DATA_ACKED | FLAG_SYN_ACKED
FLAG_NOT_DUP = FLAG_DATA | FLAG_WIN_UPDATE | FLAG_ACKED
FLAG_CA_ALERT = FLAG_DATA_SACKED | FLAG_ECE | FLAG_DSACKING_ACK

REXMIT_NONE = 0
REXMIT_LOST = 1

TCP_REORDERING = 3  # sysctl_tcp_reordering


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


def tcp_ack_update_rtt(sk: TcpSock, flag: int, seq_rtt_us: int, ca_rtt_us: int) -> bool:
    tp = sk
    opt = tp.rx_opt
    if seq_rtt_us < 0 and opt.saw_tstamp and opt.rcv_tsecr and flag & FLAG_ACKED:
        # RTTM: a TSecr sample only when the ACK advances snd_una (allowed after rtx)
        delta = (tcp_time_stamp_ts(tp) - ((opt.rcv_tsecr - tp.tsoffset) & U32)) & U32
        if delta < 0x7FFFFFFF // 1000:
            seq_rtt_us = ca_rtt_us = max(delta, 1) * 1000
    if seq_rtt_us < 0:
        return False
    if ca_rtt_us >= 0 and (not tp.min_rtt_us or ca_rtt_us < tp.min_rtt_us):
        tp.min_rtt_us = max(ca_rtt_us, 1)  # tcp_update_rtt_min (windowed min, window not kept)
    tcp_rtt_estimator(sk, seq_rtt_us)
    tcp_set_rto(sk)
    sk.icsk_backoff = 0  # RFC 6298: only a valid RTT sample resets the backoff
    return True


# -- congestion control: the state machine around icsk_ca_ops -----------------------------------


def tcp_cwnd_reduction(sk: TcpSock, newly_acked_sacked: int, newly_lost: int, flag: int) -> None:
    """Proportional Rate Reduction (RFC 6937) during CWR/Recovery."""
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


def tcp_end_cwnd_reduction(sk: TcpSock) -> None:
    if sk.icsk_ca_ops.cong_control is not None:
        return
    if sk.snd_ssthresh < TCP_INFINITE_SSTHRESH and (sk.icsk_ca_state == TCP_CA_CWR or sk.undo_marker):
        sk.snd_cwnd = sk.snd_ssthresh
        sk.snd_cwnd_stamp = sk.kernel.jiffies
    tcp_ca_event(sk, CA_EVENT_COMPLETE_CWR)


def tcp_update_pacing_rate(sk: TcpSock) -> None:
    """sk_pacing_rate = 200 % (slow start) or 120 % of cwnd·mss/srtt, in bytes/s."""
    tp = sk
    rate = tp.mss_cache * ((1_000_000 // 100) << 3)
    ratio = 200 if tp.snd_cwnd < tp.snd_ssthresh // 2 else 120
    rate *= ratio * max(tp.snd_cwnd, tp.packets_out)
    if tp.srtt_us:
        rate //= tp.srtt_us
    sk.sk_pacing_rate = min(rate, sk.sk_max_pacing_rate)


def tcp_cong_control(sk: TcpSock, ack: int, acked_sacked: int, flag: int) -> None:
    ca_ops = sk.icsk_ca_ops
    if ca_ops.cong_control is not None:
        ca_ops.cong_control(sk, ack, flag, acked_sacked)  # no rate_sample modelled yet
        return
    if sk.icsk_ca_state in (TCP_CA_CWR, TCP_CA_Recovery):
        tcp_cwnd_reduction(sk, acked_sacked, 0, flag)
    elif flag & FLAG_DATA_ACKED:  # tcp_may_raise_cwnd (reordering at its default)
        ca_ops.cong_avoid(sk, ack, acked_sacked)  # type: ignore[misc]  # registered with cong_avoid
    tcp_update_pacing_rate(sk)


# -- Reno "SACK" emulation and loss marking ---------------------------------------------------------


def tcp_limit_reno_sacked(tp: TcpSock) -> bool:
    holes = min(max(tp.lost_out, 1), tp.packets_out)
    if tp.sacked_out + holes > tp.packets_out:
        tp.sacked_out = tp.packets_out - holes
        return True
    return False


def tcp_add_reno_sack(sk: TcpSock, num_dupack: int) -> None:
    if num_dupack:
        prior_sacked = sk.sacked_out
        sk.sacked_out += num_dupack
        tcp_limit_reno_sacked(sk)
        delivered = sk.sacked_out - prior_sacked
        if delivered > 0:
            sk.delivered += delivered


def tcp_remove_reno_sacks(sk: TcpSock, acked: int) -> None:
    if acked > 0:
        sk.delivered += max(acked - sk.sacked_out, 1)
        if acked - 1 >= sk.sacked_out:
            sk.sacked_out = 0
        else:
            sk.sacked_out -= acked - 1
    tcp_limit_reno_sacked(sk)


def tcp_reset_reno_sack(tp: TcpSock) -> None:
    tp.sacked_out = 0


def tcp_mark_skb_lost(sk: TcpSock, skb: SkBuff) -> None:
    cb = skb.cb
    sacked = cb["sacked"]
    if sacked & TCPCB_SACKED_ACKED:
        return
    if sacked & TCPCB_LOST:
        if sacked & TCPCB_SACKED_RETRANS:  # a retransmit lost again
            cb["sacked"] &= ~TCPCB_SACKED_RETRANS
            sk.retrans_out -= cb["pcount"]
            sk.host.mib["TcpExt"]["TCPLostRetransmit"] += cb["pcount"]
    else:
        sk.lost_out += cb["pcount"]
        cb["sacked"] |= TCPCB_LOST


def tcp_newreno_mark_lost(sk: TcpSock, snd_una_advanced: bool) -> None:
    """Reno loss detection: the head is lost after `reordering` dupacks, or on a partial ACK
    in Recovery (NewReno). It is cut to one MSS first."""
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


def tcp_timeout_mark_lost(sk: TcpSock) -> None:
    tcp_reset_reno_sack(sk)
    for skb in sk.tcp_rtx_queue:
        tcp_mark_skb_lost(sk, skb)


@traced
def tcp_enter_loss(sk: TcpSock) -> None:
    """RTO: everything outstanding is lost, ssthresh from the algorithm (Reno: max(cwnd/2, 2)), cwnd = 1."""
    tp = sk
    tcp_timeout_mark_lost(sk)
    if sk.icsk_ca_state <= TCP_CA_Disorder or not after(tp.high_seq, tp.snd_una) or (
        sk.icsk_ca_state == TCP_CA_Loss and not sk.icsk_retransmits
    ):
        tp.prior_ssthresh = tcp_current_ssthresh(sk)
        tp.prior_cwnd = tp.snd_cwnd
        tp.snd_ssthresh = sk.icsk_ca_ops.ssthresh(sk)
        tcp_ca_event(sk, CA_EVENT_LOSS)
        tp.undo_marker = tp.snd_una
    tp.snd_cwnd = tcp_packets_in_flight(tp) + 1
    tp.snd_cwnd_cnt = 0
    tp.snd_cwnd_stamp = sk.kernel.jiffies
    if sk.icsk_ca_state <= TCP_CA_Disorder and tp.sacked_out >= TCP_REORDERING:
        tp.reordering = min(tp.reordering, TCP_REORDERING)
    tcp_set_ca_state(sk, TCP_CA_Loss)
    tp.high_seq = tp.snd_nxt


def tcp_enter_recovery(sk: TcpSock) -> None:
    sk.host.mib["TcpExt"]["TCPRenoRecovery"] += 1
    sk.prior_ssthresh = 0
    sk.undo_marker = sk.snd_una
    if sk.icsk_ca_state not in (TCP_CA_CWR, TCP_CA_Recovery):
        sk.prior_ssthresh = tcp_current_ssthresh(sk)
        tcp_init_cwnd_reduction(sk)
        tcp_set_ca_state(sk, TCP_CA_Recovery)


def tcp_any_retrans_done(sk: TcpSock) -> bool:
    if sk.retrans_out:
        return True
    skb = tcp_rtx_queue_head(sk)
    return skb is not None and bool(skb.cb["sacked"] & 0x80)


def tcp_try_undo_recovery(sk: TcpSock) -> bool:
    """No undo (docs/deviations.md); Reno holds the state until something above high_seq is acked."""
    if sk.snd_una == sk.high_seq:
        if not tcp_any_retrans_done(sk):
            sk.retrans_stamp = 0
        return True
    tcp_set_ca_state(sk, TCP_CA_Open)
    return False


def tcp_try_keep_open(sk: TcpSock) -> None:
    state = TCP_CA_Disorder if (sk.sacked_out + sk.lost_out) or sk.retrans_out else TCP_CA_Open
    if sk.icsk_ca_state != state:
        tcp_set_ca_state(sk, state)
        sk.high_seq = sk.snd_nxt


def tcp_try_to_open(sk: TcpSock, flag: int) -> None:
    if not tcp_any_retrans_done(sk):
        sk.retrans_stamp = 0
    if sk.icsk_ca_state != TCP_CA_CWR:
        tcp_try_keep_open(sk)


def tcp_process_loss(sk: TcpSock, flag: int, num_dupack: int) -> int:
    recovered = not before(sk.snd_una, sk.high_seq)
    if recovered:
        tcp_try_undo_recovery(sk)
        return REXMIT_NONE
    if after(sk.snd_nxt, sk.high_seq) and num_dupack:
        tcp_add_reno_sack(sk, num_dupack)
    elif flag & FLAG_SND_UNA_ADVANCED:
        tcp_reset_reno_sack(sk)
    return REXMIT_LOST


def tcp_fastretrans_alert(sk: TcpSock, prior_snd_una: int, num_dupack: int, flag: int) -> int:
    """The congestion state machine (Open/Disorder/CWR/Recovery/Loss) for a dubious ACK."""
    tp = sk
    if not tp.packets_out and tp.sacked_out:
        tp.sacked_out = 0
    state = sk.icsk_ca_state
    if state == TCP_CA_Open:
        tp.retrans_stamp = 0
    elif not before(tp.snd_una, tp.high_seq):
        if state == TCP_CA_CWR:
            if tp.snd_una != tp.high_seq:
                tcp_end_cwnd_reduction(sk)
                tcp_set_ca_state(sk, TCP_CA_Open)
        elif state == TCP_CA_Recovery:
            tcp_reset_reno_sack(tp)
            if tcp_try_undo_recovery(sk):
                return REXMIT_NONE
            tcp_end_cwnd_reduction(sk)
    state = sk.icsk_ca_state
    if state == TCP_CA_Recovery:
        if not flag & FLAG_SND_UNA_ADVANCED:
            tcp_add_reno_sack(sk, num_dupack)
        tcp_newreno_mark_lost(sk, bool(flag & FLAG_SND_UNA_ADVANCED))
        return REXMIT_LOST
    if state == TCP_CA_Loss:
        rexmit = tcp_process_loss(sk, flag, num_dupack)
        if sk.icsk_ca_state != TCP_CA_Open:
            return rexmit
    if flag & FLAG_SND_UNA_ADVANCED:
        tcp_reset_reno_sack(tp)
    tcp_add_reno_sack(sk, num_dupack)
    tcp_newreno_mark_lost(sk, bool(flag & FLAG_SND_UNA_ADVANCED))
    if not tp.lost_out:  # tcp_time_to_recover (RACK on: lost_out decides)
        tcp_try_to_open(sk, flag)
        return REXMIT_NONE
    tcp_enter_recovery(sk)
    return REXMIT_LOST


# -- tcp_ack ----------------------------------------------------------------------------------------


@traced
def tcp_clean_rtx_queue(sk: TcpSock, prior_snd_una: int) -> int:
    """Free fully acked originals, trim a partly acked TSO skb, take a Karn-safe RTT sample."""
    tp = sk
    flag = 0
    first_ackt = -1  # no sample (time 0 is a valid send time in the model)
    last_ackt = -1
    pkts_acked = 0
    fully_acked = True
    q = sk.tcp_rtx_queue
    snd_una = tp.snd_una
    while q:
        skb = q[0]
        cb = skb.cb
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
        if sacked & TCPCB_LOST:
            tp.lost_out -= acked_pcount
        tp.packets_out -= acked_pcount
        pkts_acked += acked_pcount
        if not cb["tcp_flags"] & TCPHDR_SYN:
            flag |= FLAG_DATA_ACKED
        else:
            flag |= FLAG_SYN_ACKED
            tp.retrans_stamp = 0
        if not fully_acked:
            break
        tcp_rtx_queue_unlink_and_free(skb, sk)
    seq_rtt_us = ca_rtt_us = -1
    if first_ackt >= 0 and not flag & FLAG_RETRANS_DATA_ACKED:
        now_ns = tp.tcp_clock_cache
        seq_rtt_us = max(0, (now_ns - first_ackt) // 1000)
        ca_rtt_us = max(0, (now_ns - last_ackt) // 1000)
    tcp_ack_update_rtt(sk, flag, seq_rtt_us, ca_rtt_us)
    if flag & FLAG_ACKED:
        flag |= FLAG_SET_XMIT_TIMER
        tcp_remove_reno_sacks(sk, pkts_acked)
        tp.bytes_acked += (snd_una - prior_snd_una) & U32
    pkts_acked_op = sk.icsk_ca_ops.pkts_acked
    if pkts_acked_op is not None:
        pkts_acked_op(sk, AckSample(pkts_acked, ca_rtt_us, tcp_packets_in_flight(tp)))
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


@traced
def tcp_ack(sk: TcpSock, skb: SkBuff, flag: int) -> int:
    """Process the ACK field: window, rtx queue, RTT, congestion state, retransmissions."""
    tp = sk
    cb = skb.cb
    prior_snd_una = tp.snd_una
    ack_seq = cb["seq"]
    ack = cb["ack_seq"]
    prior_packets = tp.packets_out
    prior_delivered = tp.delivered
    num_dupack = 0
    if before(ack, prior_snd_una):
        return 0  # old ACK
    if after(ack, tp.snd_nxt):
        return -1  # ACKs data never sent: drop
    if after(ack, prior_snd_una):
        flag |= FLAG_SND_UNA_ADVANCED
        sk.icsk_retransmits = 0
    if cb["saw_tstamp"] and not after(ack_seq, tp.rcv_wup):
        tp.rx_opt.ts_recent = cb["tsval"]  # tcp_replace_ts_recent
    if ack_seq != cb["end_seq"]:
        flag |= FLAG_DATA
    flag |= tcp_ack_update_window(sk, skb, ack, ack_seq)
    if cb["tcp_flags"] & TCPHDR_ECE:
        flag |= FLAG_ECE
    sk.icsk_probes_out = 0
    if not prior_packets:
        tcp_ack_probe(sk)
        return 1
    flag |= tcp_clean_rtx_queue(sk, prior_snd_una)
    rexmit = REXMIT_NONE
    if not flag & FLAG_NOT_DUP or flag & FLAG_CA_ALERT or sk.icsk_ca_state != TCP_CA_Open:  # dubious
        if not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DSACKING_ACK):
            num_dupack = 1
        rexmit = tcp_fastretrans_alert(sk, prior_snd_una, num_dupack, flag)
    if flag & FLAG_SET_XMIT_TIMER:
        tcp_rearm_rto(sk)  # tcp_set_xmit_timer: no TLP without SACK
    delivered = tp.delivered - prior_delivered
    tcp_cong_control(sk, ack, delivered, flag)
    if rexmit != REXMIT_NONE and sk.sk_state != TCP_SYN_SENT:
        tcp_xmit_retransmit_queue(sk)  # tcp_xmit_recovery
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
    """The peer's FIN (in order): move along the close state diagram and ACK it."""
    sk.sk_shutdown |= 1  # RCV_SHUTDOWN
    state = sk.sk_state
    if state == TCP_ESTABLISHED:
        tcp_set_state(sk, TCP_CLOSE_WAIT)
    elif state == TCP_FIN_WAIT1:
        tcp_set_state(sk, TCP_CLOSING)
    elif state == TCP_FIN_WAIT2:
        tcp_send_ack(sk)  # the last ACK, then TIME_WAIT
        tcp_time_wait(sk)
    sk.sk_wake()


def tcp_time_wait(sk: TcpSock) -> None:
    """TIME_WAIT is short-circuited: the connection closes at once (docs/deviations.md)."""
    tcp_set_state(sk, TCP_TIME_WAIT)
    tcp_done(sk)


def tcp_data_queue(sk: TcpSock, skb: SkBuff) -> None:
    """In-order data is queued and ACKed at once (no delayed ACK); anything else gets a dupack."""
    cb = skb.cb
    payload = cb["payload"]
    if cb["seq"] == sk.rcv_nxt:
        if payload:
            sk.sk_receive_queue.append(payload)
        sk.rcv_nxt = (sk.rcv_nxt + len(payload)) & U32
        if cb["tcp_flags"] & TCPHDR_FIN:
            sk.rcv_nxt = (sk.rcv_nxt + 1) & U32
            tcp_fin(sk)
        if sk.sk_state != TCP_CLOSE:
            tcp_send_ack(sk)
        sk.sk_wake()
    elif sk.sk_state != TCP_CLOSE:
        tcp_send_ack(sk)


@traced
def tcp_rcv_established(sk: TcpSock, skb: SkBuff) -> None:
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
    tcp_parse_options(sk, cb)
    if not cb["tcp_flags"] & TCPHDR_ACK:
        return 0
    if tcp_ack(sk, skb, FLAG_SLOWPATH) < 0:
        return 1
    fin_acked = sk.snd_una == sk.write_seq and not sk.sk_write_queue
    if state == TCP_FIN_WAIT1 and fin_acked:
        tcp_set_state(sk, TCP_FIN_WAIT2)
        sk.sk_wake()
    elif state == TCP_CLOSING and fin_acked:
        tcp_time_wait(sk)
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
    tcp_limit_reno_sacked(sk)
    if sk.icsk_ca_state != TCP_CA_Loss:
        sk.high_seq = sk.snd_nxt
        sk.snd_ssthresh = tcp_current_ssthresh(sk)
        sk.prior_ssthresh = 0
        sk.undo_marker = 0
        tcp_set_ca_state(sk, TCP_CA_Loss)
    tcp_xmit_retransmit_queue(sk)
