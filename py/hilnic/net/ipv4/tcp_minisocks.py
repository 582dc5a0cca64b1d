"""TCP's minisockets (net/ipv4/tcp_minisocks.c): a connection's TIME_WAIT life.

tcp_time_wait turns a closing sock into a timewait sock (inet_timewait_sock.py) and
destroys the sock; tcp_timewait_state_process answers what still arrives for it: the
peer's (retransmitted) FIN is ACKed again and restarts the 60 s, a RST kills it, new data
is refused. PAWS is not modelled (docs/deviations.md), so no segment is rejected on its
timestamp; SYN reuse of the 4-tuple needs a listener, which the host does not have.
"""

from __future__ import annotations

from hilnic.kernel.ftrace import traced
from hilnic.net.core.skbuff import SkBuff
from hilnic.net.core.sock import TCP_FIN_WAIT2, TCP_TIME_WAIT, TcpSock
from hilnic.net.ipv4.inet_timewait_sock import (
    InetTimewaitSock,
    inet_twsk_alloc,
    inet_twsk_deschedule_put,
    inet_twsk_hashdance_schedule,
    inet_twsk_reschedule,
)
from hilnic.net.ipv4.tcp_output import (
    HZ,
    TCP_TIMEWAIT_LEN,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_RST,
    TCPHDR_SYN,
    U32,
    after,
    before,
    tcp_done,
    tcp_receive_window,
)

# enum tcp_tw_status
TCP_TW_SUCCESS = 0
TCP_TW_RST = 1
TCP_TW_ACK = 2
TCP_TW_SYN = 3
TCP_TW_ACK_OOW = 4  # an out-of-window segment: ACK it, rate limited

TCP_INVALID_RATELIMIT = HZ // 2  # net.ipv4.tcp_invalid_ratelimit (500 ms)


@traced
def tcp_time_wait(sk: TcpSock, state: int, timeo: int) -> None:
    """Move a connection to TIME_WAIT (or an orphan's FIN_WAIT2) as a timewait sock and
    destroy the full sock, whose state becomes CLOSE (tcp_done)."""
    tp = sk
    tw = inet_twsk_alloc(sk, state)
    rto = (sk.icsk_rto << 2) - (sk.icsk_rto >> 1)
    tw.tw_rcv_nxt = tp.rcv_nxt
    tw.tw_snd_nxt = tp.snd_nxt
    tw.tw_rcv_wnd = tcp_receive_window(tp)
    tw.tw_ts_recent = tp.rx_opt.ts_recent
    tw.tw_ts_recent_stamp = tp.rx_opt.ts_recent_stamp
    tw.tw_ts_offset = tp.tsoffset
    if timeo < rto:
        timeo = rto
    if state == TCP_TIME_WAIT:
        timeo = TCP_TIMEWAIT_LEN
    inet_twsk_hashdance_schedule(tw, sk, timeo)
    tcp_done(sk)


def tcp_in_window(seq: int, end_seq: int, s_win: int, e_win: int) -> bool:
    if seq == s_win:
        return True
    if after(end_seq, s_win) and before(seq, e_win):
        return True
    return seq == e_win and seq == end_seq


def tcp_timewait_check_oow_rate_limit(tw: InetTimewaitSock, skb: SkBuff, mib: str) -> int:
    """ACK an out-of-window segment; pure ACKs and SYNs at most once per
    tcp_invalid_ratelimit (tcp_oow_rate_limited), anything with data or FIN always."""
    cb = skb.cb
    if cb["seq"] != cb["end_seq"] and not cb["tcp_flags"] & TCPHDR_SYN:
        return TCP_TW_ACK_OOW
    now = tw.kernel.jiffies
    if tw.tw_last_oow_ack_time and now - tw.tw_last_oow_ack_time < TCP_INVALID_RATELIMIT:
        tw.host.mib["TcpExt"][mib] += 1
        return TCP_TW_SUCCESS
    tw.tw_last_oow_ack_time = now
    return TCP_TW_ACK_OOW


@traced
def tcp_timewait_state_process(tw: InetTimewaitSock, skb: SkBuff) -> int:
    """What to do with a segment for a timewait sock (tcp_v4_rcv acts on the verdict)."""
    cb = skb.cb
    flags = cb["tcp_flags"]
    seq, end_seq = cb["seq"], cb["end_seq"]
    rcv_nxt = tw.tw_rcv_nxt
    if tw.tw_substate == TCP_FIN_WAIT2:
        # Just repeat all the checks of tcp_rcv_state_process().
        if not tcp_in_window(seq, end_seq, rcv_nxt, (rcv_nxt + tw.tw_rcv_wnd) & U32):
            return tcp_timewait_check_oow_rate_limit(tw, skb, "TCPACKSkippedFinWait2")
        if flags & TCPHDR_RST:
            inet_twsk_deschedule_put(tw)
            return TCP_TW_SUCCESS
        if flags & TCPHDR_SYN and not before(seq, rcv_nxt):
            return TCP_TW_RST
        if not flags & TCPHDR_ACK or not after(end_seq, rcv_nxt) or end_seq == seq:
            return TCP_TW_SUCCESS  # a duplicate ACK
        # New data or FIN. If new data arrive after half-duplex close, reset.
        if not flags & TCPHDR_FIN or end_seq != (rcv_nxt + 1) & U32:
            return TCP_TW_RST
        # FIN arrived, enter true time-wait state.
        tw.tw_substate = TCP_TIME_WAIT
        tw.tw_rcv_nxt = end_seq
        if cb["saw_tstamp"]:
            tw.tw_ts_recent_stamp = tw.kernel.jiffies // HZ
            tw.tw_ts_recent = cb["tsval"]
        inet_twsk_reschedule(tw, TCP_TIMEWAIT_LEN)
        return TCP_TW_ACK
    # Now real TIME-WAIT state.
    if seq == rcv_nxt and (seq == end_seq or flags & TCPHDR_RST):
        # In window segment, it may be only reset or bare ack.
        if flags & TCPHDR_RST:
            # TIME_WAIT assassination (net.ipv4.tcp_rfc1337 = 0): let it kill us.
            inet_twsk_deschedule_put(tw)
            return TCP_TW_SUCCESS
        inet_twsk_reschedule(tw, TCP_TIMEWAIT_LEN)
        if cb["saw_tstamp"]:
            tw.tw_ts_recent = cb["tsval"]
            tw.tw_ts_recent_stamp = tw.kernel.jiffies // HZ
        return TCP_TW_SUCCESS
    # Out of window segment: all are ACKed at once, but a new SYN, which needs a listener.
    if flags & TCPHDR_SYN and not flags & (TCPHDR_RST | TCPHDR_ACK) and after(seq, rcv_nxt):
        return TCP_TW_SYN
    if not flags & TCPHDR_RST:
        if flags & TCPHDR_ACK:
            inet_twsk_reschedule(tw, TCP_TIMEWAIT_LEN)
        return tcp_timewait_check_oow_rate_limit(tw, skb, "TCPACKSkippedTimeWait")
    return TCP_TW_SUCCESS


__all__ = [
    "TCP_TW_ACK",
    "TCP_TW_ACK_OOW",
    "TCP_TW_RST",
    "TCP_TW_SUCCESS",
    "TCP_TW_SYN",
    "tcp_time_wait",
    "tcp_timewait_state_process",
]
