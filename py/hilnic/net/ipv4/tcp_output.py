"""TCP output (net/ipv4/tcp_output.c): tcp_write_xmit and its checks, __tcp_transmit_skb,
TSQ (tcp_wfree / tcp_tasklet_func), splitting, retransmission and probes.

Sequence numbers are u32 and compared with `before`/`after` as in the kernel. TCP_SKB_CB
lives in `skb.cb` under the kernel's field names: seq, end_seq, tcp_flags, sacked, pcount,
tcp_gso_size, eor.

This is the lowest of the TCP files: the include/net/tcp.h constants and inlines live here,
and so do the few tcp_input.c functions tcp_output.c calls (tcp_enter_cwr, tcp_rearm_rto,
tcp_check_space and the send-buffer growth), since tcp_input calls into this file and Python
has no forward declarations. The IP layer is reached through sk.icsk_af_ops, the congestion
algorithm through sk.icsk_ca_ops.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from hilnic.include.net.tcp import (
    TCPCB_EVER_RETRANS,
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
from hilnic.kernel.hrtimer import HRTIMER_MODE_ABS_PINNED_SOFT, HRTIMER_NORESTART, Hrtimer
from hilnic.kernel.softirq import TASKLET_SOFTIRQ
from hilnic.net.core.netdevice import NET_XMIT_CN
from hilnic.net.core.skbuff import (
    CHECKSUM_PARTIAL,
    SIZEOF_SK_BUFF,
    SIZEOF_SKB_SHARED_INFO,
    SKB_DATA_ALIGN,
    SkbFrag,
    SkbSharedInfo,
    SkBuff,
    __skb_header_release,
    _attach_head,
    _release_data,
    alloc_skb,
    alloc_skb_fclone,
    kfree_skb,
    pskb_copy,
    skb_clone,
)
from hilnic.net.core.skbuff import (
    skb_still_in_host_queue as skb_fclone_busy,
)
from hilnic.net.core.sock import (
    CA_EVENT_TX_START,
    ICSK_ACK_PUSHED,
    ICSK_ACK_SCHED,
    ICSK_ACK_TIMER,
    ICSK_TIME_DACK,
    ICSK_TIME_LOSS_PROBE,
    ICSK_TIME_PROBE0,
    ICSK_TIME_REO_TIMEOUT,
    ICSK_TIME_RETRANS,
    MAX_TCP_HEADER,
    SK_PACING_NEEDED,
    SK_PACING_NONE,
    SOCK_NOSPACE,
    SOCK_SNDBUF_LOCK,
    TCP_CA_CWR,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_DEFERRED_ALL,
    TCP_DELACK_TIMER_DEFERRED,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_LAST_ACK,
    TCP_MTU_REDUCED_DEFERRED,
    TCP_SYN_SENT,
    TCP_TSQ_DEFERRED,
    TCP_WRITE_TIMER_DEFERRED,
    TSQ_QUEUED,
    TSQ_THROTTLED,
    TCP_CA_Loss,
    TCP_CA_Open,
    TCP_CA_Recovery,
    TcpSock,
    dst_mtu,
    sk_stream_write_space,
)
from hilnic.net.ipv4.inet_hashtables import inet_unhash
from hilnic.net.ipv4.tcp_rate import tcp_rate_skb_sent

if TYPE_CHECKING:
    from hilnic.net.ipv4.inet_timewait_sock import InetTimewaitSock

# -- constants (include/net/tcp.h) --------------------------------------------------------------

TCPHDR_FIN = 0x01
TCPHDR_SYN = 0x02
TCPHDR_RST = 0x04
TCPHDR_PSH = 0x08
TCPHDR_ACK = 0x10
TCPHDR_URG = 0x20
TCPHDR_ECE = 0x40
TCPHDR_CWR = 0x80

TCP_NAGLE_OFF = 1
TCP_NAGLE_CORK = 2
TCP_NAGLE_PUSH = 4

TCP_MSS_DEFAULT = 536
TCP_MIN_SND_MSS = 48
TCP_MIN_MSS = 88  # minimal accepted MSS (the rcv_mss floor)
TCP_INIT_CWND = 10
TCP_INFINITE_SSTHRESH = 0x7FFFFFFF
TCPOLEN_TSTAMP_ALIGNED = 12
HZ = 1000
TCP_RTO_MAX = 120 * HZ  # jiffies
TCP_RTO_MIN = HZ // 5
TCP_TIMEOUT_INIT = 1 * HZ
TCP_TIMEOUT_MIN = 2  # jiffies: the shortest TCP timer (TLP, RACK reordering timer)
TCP_RESOURCE_PROBE_INTERVAL = HZ // 2
TCP_RTO_MIN_US = TCP_RTO_MIN * 1_000_000 // HZ
TCP_DELACK_MAX = HZ // 5  # maximal time to delay before sending an ACK
TCP_DELACK_MIN = HZ // 25  # minimal time to delay before sending an ACK (= TCP_ATO_MIN)
TCP_ATO_MIN = HZ // 25
TCP_TIMEWAIT_LEN = 60 * HZ  # how long to wait to destroy TIME-WAIT state
TCP_FIN_TIMEOUT = TCP_TIMEWAIT_LEN  # net.ipv4.tcp_fin_timeout
TCP_RMEM_TO_WIN_SCALE = 8
TCP_DEFAULT_SCALING_RATIO = 1 << (TCP_RMEM_TO_WIN_SCALE - 1)  # half of the buffer is window

TCP_FRAG_IN_WRITE_QUEUE = 0
TCP_FRAG_IN_RTX_QUEUE = 1

_TH = struct.Struct("!HHIIHHHH")
_TS_OPT = struct.Struct("!BBBBII")


def usecs_to_jiffies(us: int) -> int:
    return -(-us // (1_000_000 // HZ))


# -- small accessors ------------------------------------------------------------------------------


def tcp_send_head(sk: TcpSock) -> SkBuff | None:
    q = sk.sk_write_queue
    return q[0] if q else None


def tcp_write_queue_tail(sk: TcpSock) -> SkBuff | None:
    q = sk.sk_write_queue
    return q[-1] if q else None


def tcp_rtx_queue_head(sk: TcpSock) -> SkBuff | None:
    q = sk.tcp_rtx_queue
    return q[0] if q else None


def tcp_wnd_end(tp: TcpSock) -> int:
    return (tp.snd_una + tp.snd_wnd) & U32


def tcp_is_sack(tp: TcpSock) -> bool:
    return bool(tp.rx_opt.sack_ok)


def tcp_is_reno(tp: TcpSock) -> bool:
    return not tp.rx_opt.sack_ok


def tcp_in_cwnd_reduction(sk: TcpSock) -> bool:
    return sk.icsk_ca_state in (TCP_CA_CWR, TCP_CA_Recovery)


def tcp_in_slow_start(tp: TcpSock) -> bool:
    return tp.snd_cwnd < tp.snd_ssthresh


def tcp_is_cwnd_limited(sk: TcpSock) -> bool:
    if sk.is_cwnd_limited:
        return True
    if tcp_in_slow_start(sk):
        return sk.snd_cwnd < 2 * sk.max_packets_out
    return False


def tcp_current_ssthresh(sk: TcpSock) -> int:
    if sk.icsk_ca_state in (TCP_CA_CWR, TCP_CA_Recovery):
        return sk.snd_ssthresh
    return max(sk.snd_ssthresh, (sk.snd_cwnd >> 1) + (sk.snd_cwnd >> 2))


def tcp_set_ca_state(sk: TcpSock, ca_state: int) -> None:
    set_state = sk.icsk_ca_ops.set_state
    if set_state is not None:
        set_state(sk, ca_state)
    sk.icsk_ca_state = ca_state


def tcp_ca_event(sk: TcpSock, event: int) -> None:
    cwnd_event = sk.icsk_ca_ops.cwnd_event
    if cwnd_event is not None:
        cwnd_event(sk, event)


def tcp_mstamp_refresh(tp: TcpSock) -> None:
    ns = tp.kernel.env.now() // 1000
    tp.tcp_clock_cache = ns
    tp.tcp_mstamp = ns // 1000


def tcp_time_stamp_ts(tp: TcpSock | InetTimewaitSock) -> int:
    """TSval clock: milliseconds (tcp_usec_ts off); options add tsoffset."""
    return (tp.kernel.env.now() // 1_000_000_000) & U32


def tcp_set_skb_tso_segs(skb: SkBuff, mss_now: int) -> None:
    cb = skb.cb
    if skb.len <= mss_now:
        cb["pcount"] = 1
        cb["tcp_gso_size"] = 0
    else:
        cb["pcount"] = -(-skb.len // mss_now)
        cb["tcp_gso_size"] = mss_now


def tcp_init_tso_segs(skb: SkBuff, mss_now: int) -> int:
    cb = skb.cb
    tso_segs = cb["pcount"]
    if not tso_segs or (tso_segs > 1 and cb["tcp_gso_size"] != mss_now):
        tcp_set_skb_tso_segs(skb, mss_now)
        tso_segs = cb["pcount"]
    return tso_segs


def tcp_init_nondata_skb(skb: SkBuff, seq: int, flags: int) -> None:
    skb.ip_summed = CHECKSUM_PARTIAL
    skb.cb = {"seq": seq, "end_seq": (seq + (1 if flags & (TCPHDR_SYN | TCPHDR_FIN) else 0)) & U32,
              "tcp_flags": flags, "sacked": 0, "pcount": 1, "tcp_gso_size": 0, "eor": 0}


# -- allocation, queues ---------------------------------------------------------------------------


@traced
def tcp_stream_alloc_skb(sk: TcpSock) -> SkBuff:
    """alloc_skb_fclone(MAX_TCP_HEADER), all of it reserved: payload goes to page frags."""
    skb = alloc_skb_fclone(MAX_TCP_HEADER)
    skb.skb_reserve(MAX_TCP_HEADER)
    skb.ip_summed = CHECKSUM_PARTIAL
    skb.cb = {"seq": 0, "end_seq": 0, "tcp_flags": 0, "sacked": 0, "pcount": 0, "tcp_gso_size": 0, "eor": 0}
    return skb


def tcp_rtx_queue_unlink_and_free(skb: SkBuff, sk: TcpSock) -> None:
    """Drop the kept original: wmem_queued shrinks; the last data reference frees the pages."""
    sk.tcp_rtx_queue.remove(skb)
    sk.sk_wmem_queued -= skb.truesize
    kfree_skb(skb)


def _insert_after(sk: TcpSock, skb: SkBuff, buff: SkBuff, tcp_queue: int) -> None:
    q = sk.sk_write_queue if tcp_queue == TCP_FRAG_IN_WRITE_QUEUE else sk.tcp_rtx_queue
    if q[0] is skb:
        q.insert(1, buff)
    else:
        q.insert(q.index(skb) + 1, buff)


# -- MSS ------------------------------------------------------------------------------------------


def tcp_bound_to_half_wnd(tp: TcpSock, pktsize: int) -> int:
    cutoff = tp.max_window >> 1 if tp.max_window > TCP_MSS_DEFAULT else tp.max_window
    if cutoff and pktsize > cutoff:
        return max(cutoff, 68 - tp.tcp_header_len)
    return pktsize


def __tcp_mtu_to_mss(sk: TcpSock, pmtu: int) -> int:
    mss_now = pmtu - sk.icsk_af_ops.net_header_len - 20  # and struct tcphdr
    mss_now = min(mss_now, sk.rx_opt.mss_clamp)
    mss_now -= sk.icsk_ext_hdr_len
    return max(mss_now, TCP_MIN_SND_MSS)


def tcp_mtu_to_mss(sk: TcpSock, pmtu: int) -> int:
    return __tcp_mtu_to_mss(sk, pmtu) - (sk.tcp_header_len - 20)


@traced
def tcp_sync_mss(sk: TcpSock, pmtu: int) -> int:
    """Recompute mss_cache for a path MTU (no MTU probing: icsk_mtup disabled)."""
    mss_now = tcp_mtu_to_mss(sk, pmtu)
    mss_now = tcp_bound_to_half_wnd(sk, mss_now)
    sk.icsk_pmtu_cookie = pmtu
    sk.mss_cache = mss_now
    return mss_now


def tcp_established_options_size(sk: TcpSock) -> int:
    return TCPOLEN_TSTAMP_ALIGNED if sk.rx_opt.tstamp_ok else 0


def tcp_current_mss(sk: TcpSock) -> int:
    mss_now = sk.mss_cache
    dst = sk.sk_dst_cache
    if dst is not None:
        mtu = dst_mtu(dst)
        if mtu != sk.icsk_pmtu_cookie:
            mss_now = tcp_sync_mss(sk, mtu)
    header_len = tcp_established_options_size(sk) + 20
    if header_len != sk.tcp_header_len:
        mss_now -= header_len - sk.tcp_header_len
    return mss_now


def tcp_tso_autosize(sk: TcpSock, mss_now: int, min_tso_segs: int) -> int:
    """About 1 ms of data at the pacing rate (sk_pacing_shift 10), more on a short RTT."""
    bytes_ = sk.sk_pacing_rate >> sk.sk_pacing_shift
    r = sk.min_rtt_us >> 9 if sk.min_rtt_us else 0xFFFFFFFF >> 9  # tcp_tso_rtt_log = 9
    if r < 32:
        bytes_ += sk.sk_gso_max_size >> r
    bytes_ = min(bytes_, sk.sk_gso_max_size)
    return max(bytes_ // mss_now, min_tso_segs)


def tcp_tso_segs(sk: TcpSock, mss_now: int) -> int:
    """Segments per TSO/GSO packet: the algorithm's min_tso_segs (BBR's) or the sysctl's floor."""
    min_tso_op = sk.icsk_ca_ops.min_tso_segs
    min_tso = min_tso_op(sk) if min_tso_op is not None else sk.host.sysctl.tcp_min_tso_segs
    return min(tcp_tso_autosize(sk, mss_now, min_tso), sk.sk_gso_max_segs)


# -- timers (inet_csk_reset_xmit_timer) -----------------------------------------------------------


def inet_csk_reset_xmit_timer(sk: TcpSock, what: int, when: int, max_when: int = TCP_RTO_MAX) -> None:
    when = min(when, max_when)
    if what == ICSK_TIME_DACK:
        ack = sk.icsk_ack
        ack.pending |= ICSK_ACK_TIMER
        ack.timeout = sk.kernel.jiffies + when
        sk.icsk_delack_timer.mod_timer(ack.timeout)
        return
    sk.icsk_pending = what
    sk.icsk_timeout = sk.kernel.jiffies + when
    sk.icsk_retransmit_timer.mod_timer(sk.icsk_timeout)


def inet_csk_clear_xmit_timer(sk: TcpSock, what: int) -> None:
    if what in (ICSK_TIME_RETRANS, ICSK_TIME_PROBE0, ICSK_TIME_LOSS_PROBE, ICSK_TIME_REO_TIMEOUT):
        sk.icsk_pending = 0
        sk.icsk_retransmit_timer.del_timer()
    elif what == ICSK_TIME_DACK:
        sk.icsk_ack.pending = 0
        sk.icsk_ack.retry = 0
        sk.icsk_delack_timer.del_timer()


def inet_csk_schedule_ack(sk: TcpSock) -> None:
    sk.icsk_ack.pending |= ICSK_ACK_SCHED


def inet_csk_ack_scheduled(sk: TcpSock) -> bool:
    return bool(sk.icsk_ack.pending & ICSK_ACK_SCHED)


def inet_csk_in_pingpong_mode(sk: TcpSock) -> bool:
    return bool(sk.icsk_ack.pingpong)


def tcp_reset_xmit_timer(sk: TcpSock, what: int, when: int, max_when: int = TCP_RTO_MAX) -> None:
    inet_csk_reset_xmit_timer(sk, what, when, max_when)


def tcp_probe0_base(sk: TcpSock) -> int:
    return max(sk.icsk_rto, TCP_RTO_MIN)


def tcp_probe0_when(sk: TcpSock, max_when: int) -> int:
    backoff = min((TCP_RTO_MAX // TCP_RTO_MIN).bit_length() - 1 + 1, sk.icsk_backoff)
    return min(tcp_probe0_base(sk) << backoff, max_when)


def tcp_check_probe_timer(sk: TcpSock) -> None:
    if not sk.packets_out and not sk.icsk_pending:
        tcp_reset_xmit_timer(sk, ICSK_TIME_PROBE0, tcp_probe0_base(sk), TCP_RTO_MAX)


# -- __tcp_transmit_skb ---------------------------------------------------------------------------


def tcp_win_from_space(sk: TcpSock, space: int) -> int:
    """The part of `space` bytes of buffer offered as window (scaling_ratio: half, until
    receive-side autotuning measures the real ratio, which the model does not do)."""
    return (space * TCP_DEFAULT_SCALING_RATIO) >> TCP_RMEM_TO_WIN_SCALE


def tcp_space(sk: TcpSock) -> int:
    """Free receive space: what the backlog charges counts as used (TCP keeps no rmem)."""
    return tcp_win_from_space(sk, sk.sk_rcvbuf - sk.sk_backlog.len)


def tcp_full_space(sk: TcpSock) -> int:
    return tcp_win_from_space(sk, sk.sk_rcvbuf)


def tcp_receive_window(tp: TcpSock) -> int:
    """What is left of the window advertised last (rcv_wup + rcv_wnd - rcv_nxt, at least 0)."""
    win = tp.rcv_wup + tp.rcv_wnd - tp.rcv_nxt
    win = (win + (1 << 31)) % (1 << 32) - (1 << 31)  # s32
    return max(win, 0)


def ALIGN(x: int, a: int) -> int:
    return (x + a - 1) & ~(a - 1)


def __tcp_select_window(sk: TcpSock) -> int:
    """The window to offer now: the free space, clamped to rcv_ssthresh, rounded UP to a
    multiple of the window-scale unit ("advertise enough space so that it won't get scaled
    away"), or, without scaling, kept at a multiple of the peer's MSS. Linux 6.x
    net/ipv4/tcp_output.c, with net.ipv4.tcp_shrink_window = 0 (the default)."""
    tp = sk
    mss = sk.icsk_ack.rcv_mss
    free_space = tcp_space(sk)
    allowed_space = tcp_full_space(sk)
    full_space = min(tp.window_clamp, allowed_space)
    wscale = tp.rx_opt.rcv_wscale
    if mss > full_space:
        mss = full_space
        if mss <= 0:
            return 0
    if free_space < (full_space >> 1):
        sk.icsk_ack.quick = 0
        free_space = free_space & ~((1 << wscale) - 1)  # round_down: never grown by wscale
        if free_space < (allowed_space >> 4) or free_space < mss:
            return 0
    if free_space > tp.rcv_ssthresh:
        free_space = tp.rcv_ssthresh
    if wscale:
        window = ALIGN(free_space, 1 << wscale)
    else:
        window = tp.rcv_wnd
        if window <= free_space - mss or window > free_space:
            window = free_space // mss * mss
        elif mss == full_space and free_space > window + (full_space >> 1):
            window = free_space
    return window


def tcp_select_window(sk: TcpSock) -> int:
    """The window field of an outgoing segment: never shrink what was offered (the current
    window, aligned up to the scale unit), remember it in rcv_wnd/rcv_wup, then scale."""
    tp = sk
    old_win = tp.rcv_wnd
    cur_win = tcp_receive_window(tp)
    new_win = __tcp_select_window(sk)
    wscale = tp.rx_opt.rcv_wscale
    if new_win < cur_win:
        # Danger Will Robinson! Never shrink the offered window (tcp_shrink_window = 0).
        if new_win == 0:
            sk.host.mib["TcpExt"]["TCPWantZeroWindowAdv"] += 1
        new_win = ALIGN(cur_win, 1 << wscale)
    tp.rcv_wnd = new_win
    tp.rcv_wup = tp.rcv_nxt
    new_win = min(new_win, 65535 << wscale)
    new_win >>= wscale
    if new_win == 0:
        if old_win:
            sk.host.mib["TcpExt"]["TCPToZeroWindowAdv"] += 1
    elif old_win == 0:
        sk.host.mib["TcpExt"]["TCPFromZeroWindowAdv"] += 1
    return new_win


def _tcp_options(sk: TcpSock, flags: int) -> bytes:
    opt = sk.rx_opt
    if flags & TCPHDR_SYN:
        # tcp_syn_options + tcp_options_write: MSS, SACK_PERM+TS (or NOP NOP TS, or NOP NOP
        # SACK_PERM), NOP WSCALE.
        sysctl = sk.host.sysctl
        out = struct.pack("!BBH", 2, 4, sk.advmss)
        if sysctl.tcp_timestamps:
            kind = (4, 2) if sysctl.tcp_sack else (1, 1)  # TCPOPT_SACK_PERM shares the TS word
            out += _TS_OPT.pack(*kind, 8, 10, (tcp_time_stamp_ts(sk) + sk.tsoffset) & U32, opt.ts_recent)
        elif sysctl.tcp_sack:
            out += struct.pack("!BBBB", 1, 1, 4, 2)
        if sysctl.tcp_window_scaling:
            out += struct.pack("!BBBB", 1, 3, 3, opt.rcv_wscale)
        return out
    if opt.tstamp_ok:
        return _TS_OPT.pack(1, 1, 8, 10, (tcp_time_stamp_ts(sk) + sk.tsoffset) & U32, opt.ts_recent)
    return b""


@traced
def __tcp_transmit_skb(sk: TcpSock, skb: SkBuff, clone_it: int, rcv_nxt: int) -> int:
    """Clone (or pskb_copy) the kept skb, push and fill the TCP header, hand it to IP. The
    skb leaves with its earliest departure time (EDT) in skb->tstamp: tcp_wstamp_ns, which
    pacing moves on after each send (tcp_update_skb_after_send)."""
    k = sk.kernel
    k.charge(k.cost.tcp_transmit_skb)
    prior_wstamp = sk.tcp_wstamp_ns
    sk.tcp_wstamp_ns = max(sk.tcp_wstamp_ns, sk.tcp_clock_cache)
    skb.tstamp = sk.tcp_wstamp_ns  # skb_set_delivery_time: the clone inherits it
    oskb = None
    if clone_it:
        oskb = skb
        skb = pskb_copy(oskb) if oskb.skb_cloned() else skb_clone(oskb)
        skb.dev = None
    tcb = skb.cb
    flags = tcb["tcp_flags"]
    pcount = tcb["pcount"]
    options = _tcp_options(sk, flags)
    if not flags & TCPHDR_SYN and pcount > 1:
        flags |= TCPHDR_PSH  # PSH on every GSO packet, to expedite GRO flush at the receiver
        tcb["tcp_flags"] = flags
        if oskb is not None:
            oskb.cb["tcp_flags"] |= TCPHDR_PSH
    tcp_header_size = 20 + len(options)

    skb.skb_push(tcp_header_size)
    skb.skb_reset_transport_header()
    # skb_orphan + ownership: the clone charges sk_wmem_alloc until tcp_wfree.
    if skb.destructor is not None:
        d, skb.destructor = skb.destructor, None
        d(skb)
    skb.sk = sk
    skb.destructor = tcp_wfree
    sk.sk_wmem_alloc += skb.truesize

    if not flags & TCPHDR_SYN:
        window = tcp_select_window(sk)
    else:
        window = min(sk.rcv_wnd, 65535)  # RFC 1323: SYN windows are never scaled
    skb.shinfo.gso_type = sk.sk_gso_type
    af_ops = sk.icsk_af_ops
    check = af_ops.send_check(sk, skb)
    seq = tcb["seq"]
    skb.write_at(skb.data, _TH.pack(sk.inet_sport, sk.inet_dport, seq, rcv_nxt,
                                    ((tcp_header_size >> 2) << 12) | flags, window, check, 0) + options)

    if flags & TCPHDR_ACK:
        tcp_event_ack_sent(sk)
    if skb.len != tcp_header_size:  # tcp_event_data_sent
        if sk.icsk_ca_ops.cwnd_event is not None and not tcp_packets_in_flight(sk):
            tcp_ca_event(sk, CA_EVENT_TX_START)
        sk.lsndtime = sk.kernel.jiffies
        sk.data_segs_out += pcount
        sk.bytes_sent += skb.len - tcp_header_size
    if after(tcb["end_seq"], sk.snd_nxt) or seq == tcb["end_seq"]:
        sk.host.mib["Tcp"]["OutSegs"] += pcount
    sk.segs_out += pcount
    skb.shinfo.gso_segs = pcount
    skb.shinfo.gso_size = tcb["tcp_gso_size"]
    skb.priority = sk.sk_priority
    skb.cb = {}  # cleanup our debris for the IP layer

    err = af_ops.queue_xmit(sk, skb)
    if err > 0:
        tcp_enter_cwr(sk)
        err = 0 if err == NET_XMIT_CN else err
    if not err and oskb is not None:
        tcp_update_skb_after_send(sk, oskb, prior_wstamp)
        tcp_rate_skb_sent(sk, oskb)
    return err


def tcp_update_skb_after_send(sk: TcpSock, skb: SkBuff, prior_wstamp: int) -> None:
    """EDT pacing: the next packet may leave len/sk_pacing_rate later (less what the previous
    send left unused, at most half, for OS jitter) — once a qdisc (fq) or the stack paces
    this socket, and after the first 10 segments, which the original sch_fq never paced."""
    tp = sk
    if sk.sk_pacing_status != SK_PACING_NONE:
        rate = sk.sk_pacing_rate
        if rate != (1 << 64) - 1 and rate and tp.data_segs_out >= 10:
            len_ns = skb.len * 1_000_000_000 // rate
            credit = tp.tcp_wstamp_ns - prior_wstamp
            len_ns -= min(len_ns // 2, credit)
            tp.tcp_wstamp_ns += len_ns


def tcp_transmit_skb(sk: TcpSock, skb: SkBuff, clone_it: int) -> int:
    return __tcp_transmit_skb(sk, skb, clone_it, sk.rcv_nxt)


def tcp_dec_quickack_mode(sk: TcpSock) -> None:
    ack = sk.icsk_ack
    if ack.quick:
        ack.quick -= 1


def tcp_event_ack_sent(sk: TcpSock) -> None:
    """Any segment carrying an ACK acknowledges what a delayed ACK would have."""
    tcp_dec_quickack_mode(sk)
    inet_csk_clear_xmit_timer(sk, ICSK_TIME_DACK)


# -- TSQ -----------------------------------------------------------------------------------------


def tcp_wfree(skb: SkBuff) -> None:
    """The clone's destructor (NIC completion): give back sk_wmem_alloc; if TSQ throttled
    the socket, queue it to the TSQ tasklet, which runs tcp_write_xmit again."""
    sk = skb.sk
    sk.sk_wmem_alloc -= skb.truesize
    oval = sk.sk_tsq_flags
    if not oval & TSQ_THROTTLED or oval & TSQ_QUEUED:
        return
    sk.sk_tsq_flags = (oval & ~TSQ_THROTTLED) | TSQ_QUEUED
    k = sk.kernel
    tsq = getattr(k, "tsq_tasklet", None)
    if tsq is None:
        tsq = k.tsq_tasklet = []
        k.open_softirq(TASKLET_SOFTIRQ, lambda: tasklet_action(k))
    empty = not tsq
    tsq.append(sk)
    if empty:
        k.raise_softirq(TASKLET_SOFTIRQ)  # tasklet_schedule


def tasklet_action(k) -> None:
    """TASKLET_SOFTIRQ: the only tasklet in the model is TSQ's."""
    tcp_tasklet_func(k)


@traced
def tcp_tasklet_func(k) -> None:
    socks, k.tsq_tasklet = k.tsq_tasklet, []
    for sk in socks:
        sk.sk_tsq_flags &= ~TSQ_QUEUED
        if not sk.owned:
            tcp_tsq_write(sk)
        else:
            sk.sk_tsq_flags |= TCP_TSQ_DEFERRED  # tcp_release_cb runs it


@traced
def tcp_tsq_write(sk: TcpSock) -> None:
    if sk.sk_state in (TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_CLOSING, TCP_CLOSE_WAIT, TCP_LAST_ACK):
        if sk.lost_out > sk.retrans_out and sk.snd_cwnd > tcp_packets_in_flight(sk):
            tcp_mstamp_refresh(sk)
            tcp_xmit_retransmit_queue(sk)
        tcp_write_xmit(sk, tcp_current_mss(sk), sk.nonagle, 0)


def tcp_release_cb(sk: TcpSock) -> None:
    """sk_prot->release_cb, run by release_sock (and sk_flush_backlog) once the backlog is
    processed: the work softirq context deferred because the user owned the socket, in the
    kernel's order — TSQ (tcp_tsq_write), the write timer, the delayed-ACK timer, a PMTU
    reduction. The timers' handlers are the ones tcp_init_xmit_timers installed."""
    flags = sk.sk_tsq_flags & TCP_DEFERRED_ALL
    if not flags:
        return
    sk.sk_tsq_flags &= ~TCP_DEFERRED_ALL
    if flags & TCP_TSQ_DEFERRED:
        tcp_tsq_write(sk)
    if flags & TCP_WRITE_TIMER_DEFERRED:
        sk.icsk_retransmit_handler(sk)
    if flags & TCP_DELACK_TIMER_DEFERRED:
        sk.icsk_delack_handler(sk)
    if flags & TCP_MTU_REDUCED_DEFERRED:
        sk.icsk_af_ops.mtu_reduced(sk)


# -- internal pacing (when no fq below paces the socket) -------------------------------------------


def tcp_needs_internal_pacing(sk: TcpSock) -> bool:
    return sk.sk_pacing_status == SK_PACING_NEEDED


def tcp_pacing_check(sk: TcpSock) -> bool:
    """True when TCP paces itself and the next departure time is still ahead: arm the pacing
    hrtimer for it (tcp_pace_kick sends then), and send nothing now."""
    tp = sk
    if not tcp_needs_internal_pacing(sk):
        return False
    if tp.tcp_wstamp_ns <= tp.tcp_clock_cache:
        return False
    timer = tp.pacing_timer
    if not timer.hrtimer_is_queued():
        timer.hrtimer_start(tp.tcp_wstamp_ns, HRTIMER_MODE_ABS_PINNED_SOFT)
    return True


def tcp_tsq_handler(sk: TcpSock) -> None:
    if not sk.owned:
        tcp_tsq_write(sk)
    else:
        sk.sk_tsq_flags |= TCP_TSQ_DEFERRED  # tcp_release_cb runs it


class TcpPacingTimer(Hrtimer):
    """tp->pacing_timer; `sk` stands for container_of(timer, struct tcp_sock, pacing_timer)."""

    __slots__ = ("sk",)

    def __init__(self, sk: TcpSock) -> None:
        super().__init__(sk.kernel, tcp_pace_kick, HRTIMER_MODE_ABS_PINNED_SOFT, "tcp_pace_kick")
        self.sk = sk


@traced
def tcp_pace_kick(timer: Hrtimer) -> int:
    """The pacing hrtimer (HRTIMER_SOFTIRQ): the departure time has come, send again."""
    assert isinstance(timer, TcpPacingTimer)
    tcp_tsq_handler(timer.sk)
    return HRTIMER_NORESTART


def tcp_small_queue_check(sk: TcpSock, skb: SkBuff, factor: int) -> bool:
    """TSQ: stop when more than ~1 ms of data (or 1 MiB) sits below TCP in qdisc/driver."""
    limit = max(2 * skb.truesize, sk.sk_pacing_rate >> sk.sk_pacing_shift)
    if sk.sk_pacing_status == SK_PACING_NONE:
        limit = min(limit, sk.host.sysctl.tcp_limit_output_bytes)
    limit <<= factor
    if sk.sk_wmem_alloc > limit:
        if len(sk.tcp_rtx_queue) <= 1:  # tcp_rtx_queue_empty_or_single_skb
            return False
        sk.sk_tsq_flags |= TSQ_THROTTLED
        if sk.sk_wmem_alloc > limit:
            return True
    return False


# -- the tcp_write_xmit checks, in the kernel's order ----------------------------------------------


def tcp_cwnd_test(tp: TcpSock, skb: SkBuff) -> int:
    if skb.cb["tcp_flags"] & TCPHDR_FIN and skb.cb["pcount"] == 1:
        return 1  # a lone FIN is always allowed out
    in_flight = tcp_packets_in_flight(tp)
    cwnd = tp.snd_cwnd
    if in_flight >= cwnd:
        return 0
    halfcwnd = max(cwnd >> 1, 1)  # at least two GSO packets in flight
    return min(halfcwnd, cwnd - in_flight)


def tcp_snd_wnd_test(tp: TcpSock, skb: SkBuff, cur_mss: int) -> bool:
    end_seq = skb.cb["end_seq"]
    if skb.len > cur_mss:
        end_seq = (skb.cb["seq"] + cur_mss) & U32
    return not after(end_seq, tcp_wnd_end(tp))


def tcp_minshall_check(tp: TcpSock) -> bool:
    return after(tp.snd_sml, tp.snd_una) and not after(tp.snd_sml, tp.snd_nxt)


def tcp_nagle_check(partial: bool, tp: TcpSock, nonagle: int) -> bool:
    return partial and bool(nonagle & TCP_NAGLE_CORK or (not nonagle and tp.packets_out and tcp_minshall_check(tp)))


def tcp_nagle_test(tp: TcpSock, skb: SkBuff, cur_mss: int, nonagle: int) -> bool:
    if nonagle & TCP_NAGLE_PUSH:
        return True
    if skb.cb["tcp_flags"] & TCPHDR_FIN:
        return True
    return not tcp_nagle_check(skb.len < cur_mss, tp, nonagle)


def tcp_tso_should_defer(sk: TcpSock, skb: SkBuff, state: list[bool], max_segs: int) -> bool:
    """Defer a partial TSO skb hoping for more data/ACKs; state = [cwnd_limited, rwnd_limited]."""
    tp = sk
    if sk.icsk_ca_state >= TCP_CA_Recovery:
        return False
    if tp.tcp_clock_cache - tp.tcp_wstamp_ns - 1_000_000 > 0:  # last send more than 1 ms ago
        return False
    in_flight = tcp_packets_in_flight(tp)
    send_win = (tcp_wnd_end(tp) - skb.cb["seq"]) & U32
    cong_win = (tp.snd_cwnd - in_flight) * tp.mss_cache
    limit = min(send_win, cong_win)
    if limit >= max_segs * tp.mss_cache:
        return False
    if skb is not sk.sk_write_queue[-1] and limit >= skb.len:
        return False
    win_divisor = sk.host.sysctl.tcp_tso_win_divisor
    if win_divisor:
        chunk = min(tp.snd_wnd, tp.snd_cwnd * tp.mss_cache) // win_divisor
        if limit >= chunk:
            return False
    elif limit > 3 * tp.mss_cache:
        return False
    head = tcp_rtx_queue_head(sk)
    if head is None:
        return False
    delta = tp.tcp_clock_cache - head.tstamp
    if delta - 1000 * (tp.srtt_us >> 4) < 0:  # next ACK due within srtt/2
        return False
    if cong_win < send_win:
        if cong_win <= skb.len:
            state[0] = True
            return True
    elif send_win <= skb.len:
        state[1] = True
        return True
    return not (skb.cb["tcp_flags"] & TCPHDR_FIN or skb.cb["eor"])


def tcp_mss_split_point(sk: TcpSock, skb: SkBuff, mss_now: int, max_segs: int, nonagle: int) -> int:
    window = (tcp_wnd_end(sk) - skb.cb["seq"]) & U32
    max_len = mss_now * max_segs
    if max_len <= window and skb is not sk.sk_write_queue[-1]:
        return max_len
    needed = min(skb.len, window)
    if max_len <= needed:
        return max_len
    partial = needed % mss_now
    if tcp_nagle_check(partial != 0, sk, nonagle):
        return needed - partial  # hold the sub-MSS tail back
    return needed


def skb_split(skb: SkBuff, skb1: SkBuff, len_: int) -> None:
    """Move the bytes past `len_` (paged data only, as TCP's are) into skb1: frags move or
    are shared by page reference; no payload is copied."""
    pos = skb.headlen
    if len_ < pos:
        raise RuntimeError("skb_split inside the linear area")
    keep: list[SkbFrag] = []
    moved: list[SkbFrag] = []
    for f in skb.shinfo.frags:
        size = f.size
        if pos + size <= len_:
            keep.append(f)
        elif pos >= len_:
            moved.append(f)
        else:
            off = len_ - pos
            f.page.get_page()
            moved.append(SkbFrag(f.page, f.offset + off, size - off))
            f.size = off
            keep.append(f)
        pos += size
    skb.shinfo.frags = keep
    skb1.shinfo.frags = moved
    n = skb.len - len_
    headlen = skb.headlen
    skb1.len += n
    skb1.data_len += n
    skb.len = len_
    skb.data_len = len_ - headlen
    uarg = skb.shinfo.destructor_arg
    if uarg is not None and skb1.shinfo.destructor_arg is None:
        skb1.shinfo.destructor_arg = uarg.get()  # skb_zerocopy_clone


def skb_unclone(skb: SkBuff) -> None:
    """pskb_expand_head(skb, 0, 0) on a cloned skb: a private head and shared-info (frags
    re-referenced), leaving the old ones to the clone still in the host queue."""
    if not skb.skb_cloned():
        return
    old = skb.shinfo
    new = SkbSharedInfo(frags=[SkbFrag(f.page, f.offset, f.size) for f in old.frags],
                        gso_size=old.gso_size, gso_segs=old.gso_segs, gso_type=old.gso_type)
    for f in new.frags:
        f.page.get_page()
    if old.destructor_arg is not None:
        new.destructor_arg = old.destructor_arg.get()
    linear = skb.read_at(0, skb.tail) if skb.tail else b""
    data, tail, end, truesize = skb.data, skb.tail, skb.end, skb.truesize
    _release_data(skb)  # drops our reference; the clone keeps old head and shinfo alive
    _attach_head(skb, end)
    skb.data, skb.tail, skb.truesize = data, tail, truesize
    if linear:
        skb.write_at(0, linear)
    skb.shinfo = new
    skb.nohdr = False
    skb.cloned = False


@traced
def tso_fragment(sk: TcpSock, skb: SkBuff, len_: int, mss_now: int) -> int:
    """Split an unsent skb at `len_`: the tail moves to a new skb after it in the write queue."""
    nlen = skb.len - len_
    buff = tcp_stream_alloc_skb(sk)
    sk.sk_wmem_queued += buff.truesize
    buff.truesize += nlen
    skb.truesize -= nlen
    cb, bcb = skb.cb, buff.cb
    bcb["seq"] = (cb["seq"] + len_) & U32
    bcb["end_seq"] = cb["end_seq"]
    cb["end_seq"] = bcb["seq"]
    flags = cb["tcp_flags"]
    cb["tcp_flags"] = flags & ~(TCPHDR_FIN | TCPHDR_PSH)  # PSH/FIN belong to the second part
    bcb["tcp_flags"] = flags
    bcb["eor"], cb["eor"] = cb["eor"], 0
    skb_split(skb, buff, len_)
    tcp_set_skb_tso_segs(skb, mss_now)
    tcp_set_skb_tso_segs(buff, mss_now)
    __skb_header_release(buff)
    _insert_after(sk, skb, buff, TCP_FRAG_IN_WRITE_QUEUE)
    return 0


def tcp_adjust_pcount(sk: TcpSock, skb: SkBuff, decr: int) -> None:
    sk.packets_out -= decr
    sacked = skb.cb["sacked"]
    if sacked & TCPCB_SACKED_ACKED:
        sk.sacked_out -= decr
    if sacked & TCPCB_SACKED_RETRANS:
        sk.retrans_out -= decr
    if sacked & TCPCB_LOST:
        sk.lost_out -= decr
    if tcp_is_reno(sk) and decr > 0:  # dupacks counted in sacked_out shrink with the pcount
        sk.sacked_out -= min(sk.sacked_out, decr)


@traced
def tcp_fragment(sk: TcpSock, tcp_queue: int, skb: SkBuff, len_: int, mss_now: int) -> int:
    """Split a queued skb (possibly already sent) at `len_`, fixing packet counts."""
    if len_ > skb.len:
        return -errno.EINVAL
    skb_unclone(skb)
    buff = tcp_stream_alloc_skb(sk)
    sk.sk_wmem_queued += buff.truesize
    nlen = skb.len - len_
    buff.truesize += nlen
    skb.truesize -= nlen
    cb, bcb = skb.cb, buff.cb
    bcb["seq"] = (cb["seq"] + len_) & U32
    bcb["end_seq"] = cb["end_seq"]
    cb["end_seq"] = bcb["seq"]
    flags = cb["tcp_flags"]
    cb["tcp_flags"] = flags & ~(TCPHDR_FIN | TCPHDR_PSH)
    bcb["tcp_flags"] = flags
    bcb["sacked"] = cb["sacked"]
    bcb["eor"], cb["eor"] = cb["eor"], 0
    skb_split(skb, buff, len_)
    buff.tstamp = skb.tstamp
    old_factor = cb["pcount"]
    tcp_set_skb_tso_segs(skb, mss_now)
    tcp_set_skb_tso_segs(buff, mss_now)
    if "tx" in cb:
        bcb["tx"] = cb["tx"]  # update delivered info for the new segment
    if not before(sk.snd_nxt, bcb["end_seq"]):
        diff = old_factor - cb["pcount"] - bcb["pcount"]
        if diff:
            tcp_adjust_pcount(sk, skb, diff)
    __skb_header_release(buff)
    _insert_after(sk, skb, buff, tcp_queue)
    return 0


def __pskb_trim_head(skb: SkBuff, len_: int) -> int:
    """Eat `len_` bytes from the front of the paged data; returns the truesize released."""
    eat = len_
    frags = skb.shinfo.frags
    k = 0
    for f in frags:
        if f.size <= eat:
            f.page.put_page()
            eat -= f.size
            k += 1
        else:
            f.offset += eat
            f.size -= eat
            eat = 0
            break
    del frags[:k]
    skb.data_len -= len_
    skb.len -= len_
    return len_


@traced
def tcp_trim_head(sk: TcpSock, skb: SkBuff, len_: int) -> int:
    """Drop the acked head of a partly acked TSO skb (unclone first if its clone is queued)."""
    skb_unclone(skb)
    delta_truesize = __pskb_trim_head(skb, len_)
    skb.cb["seq"] = (skb.cb["seq"] + len_) & U32
    skb.truesize -= delta_truesize
    sk.sk_wmem_queued -= delta_truesize
    if skb.cb["pcount"] > 1:
        tcp_set_skb_tso_segs(skb, skb.cb["tcp_gso_size"])
    return 0


# -- tcp_write_xmit -----------------------------------------------------------------------------


def tcp_event_new_data_sent(sk: TcpSock, skb: SkBuff) -> None:
    """Advance snd_nxt, move the skb to the rtx queue, count it, arm the RTO if idle."""
    prior_packets = sk.packets_out
    sk.snd_nxt = skb.cb["end_seq"]
    sk.sk_write_queue.popleft() if sk.sk_write_queue[0] is skb else sk.sk_write_queue.remove(skb)
    sk.tcp_rtx_queue.append(skb)  # seq order: new data always goes to the tail
    pcount = skb.cb["pcount"]
    sk.packets_out += pcount
    if not prior_packets or sk.icsk_pending == ICSK_TIME_LOSS_PROBE:
        tcp_rearm_rto(sk)
    sk.host.mib["TcpExt"]["TCPOrigDataSent"] += pcount
    tcp_check_space(sk)


def tcp_minshall_update(tp: TcpSock, mss_now: int, skb: SkBuff) -> None:
    if skb.len < skb.cb["pcount"] * mss_now:
        tp.snd_sml = skb.cb["end_seq"]


def tcp_cwnd_validate(sk: TcpSock, is_cwnd_limited: bool) -> None:
    tp = sk
    if not before(tp.snd_una, tp.cwnd_usage_seq) or is_cwnd_limited or (
        not tp.is_cwnd_limited and tp.packets_out > tp.max_packets_out
    ):
        tp.is_cwnd_limited = is_cwnd_limited
        tp.max_packets_out = tp.packets_out
        tp.cwnd_usage_seq = tp.snd_nxt


@traced
def tcp_write_xmit(sk: TcpSock, mss_now: int, nonagle: int, push_one: int) -> bool:
    """Send what cwnd, rwnd, Nagle, TSO deferral and TSQ allow. Returns True when nothing
    is in flight but data is queued (the caller then arms the zero-window probe)."""
    tp = sk
    sent_pkts = 0
    tcp_mstamp_refresh(tp)
    max_segs = tcp_tso_segs(sk, mss_now)
    state = [False, False]  # is_cwnd_limited, is_rwnd_limited
    wq = sk.sk_write_queue
    while wq:
        skb = wq[0]
        if tcp_pacing_check(sk):
            break
        tso_segs = tcp_init_tso_segs(skb, mss_now)
        cwnd_quota = tcp_cwnd_test(tp, skb)
        if not cwnd_quota:
            if push_one == 2:
                cwnd_quota = 1  # force out a loss probe
            else:
                break
        if not tcp_snd_wnd_test(tp, skb, mss_now):
            state[1] = True
            break
        if tso_segs == 1:
            if not tcp_nagle_test(tp, skb, mss_now, nonagle if skb is wq[-1] else TCP_NAGLE_PUSH):
                break
        elif not push_one and tcp_tso_should_defer(sk, skb, state, max_segs):
            break
        limit = mss_now
        if tso_segs > 1:
            limit = tcp_mss_split_point(sk, skb, mss_now, min(cwnd_quota, max_segs), nonagle)
        if skb.len > limit and tso_fragment(sk, skb, limit, mss_now):
            break
        if tcp_small_queue_check(sk, skb, 0):
            break
        if skb.cb["end_seq"] == skb.cb["seq"]:
            break  # an empty skb left by a sleeping sendmsg: never send a pure ACK from here
        if tcp_transmit_skb(sk, skb, 1):
            break
        tcp_event_new_data_sent(sk, skb)
        tcp_minshall_update(tp, mss_now, skb)
        sent_pkts += skb.cb["pcount"]
        if push_one:
            break
    is_cwnd_limited = state[0] or tcp_packets_in_flight(tp) >= tp.snd_cwnd
    if sent_pkts or is_cwnd_limited:
        tcp_cwnd_validate(sk, is_cwnd_limited)
    if sent_pkts:
        if tcp_in_cwnd_reduction(sk):
            tp.prr_out += sent_pkts
        if push_one != 2:  # one loss probe per tail loss episode
            tcp_schedule_loss_probe(sk, False)
        return False
    return not tp.packets_out and bool(wq)


@traced
def __tcp_push_pending_frames(sk: TcpSock, cur_mss: int, nonagle: int) -> None:
    if sk.sk_state == TCP_CLOSE:
        return
    if tcp_write_xmit(sk, cur_mss, nonagle, 0):
        tcp_check_probe_timer(sk)


def tcp_push_pending_frames(sk: TcpSock) -> None:
    if sk.sk_write_queue:
        __tcp_push_pending_frames(sk, tcp_current_mss(sk), sk.nonagle)


@traced
def tcp_push_one(sk: TcpSock, mss_now: int) -> None:
    tcp_write_xmit(sk, mss_now, TCP_NAGLE_PUSH, 1)


# -- from tcp_input.c: cwnd reduction on local congestion, the RTO rearm, send-buffer growth ------


def tcp_init_cwnd_reduction(sk: TcpSock) -> None:
    sk.high_seq = sk.snd_nxt
    sk.tlp_high_seq = 0
    sk.snd_cwnd_cnt = 0
    sk.prior_cwnd = sk.snd_cwnd
    sk.prr_delivered = 0
    sk.prr_out = 0
    sk.snd_ssthresh = sk.icsk_ca_ops.ssthresh(sk)


def tcp_enter_cwr(sk: TcpSock) -> None:
    """A local drop (qdisc) or ECN: reduce cwnd once per window."""
    sk.prior_ssthresh = 0
    if sk.icsk_ca_state < TCP_CA_CWR:
        sk.undo_marker = 0
        tcp_init_cwnd_reduction(sk)
        tcp_set_ca_state(sk, TCP_CA_CWR)


def tcp_rto_delta_us(sk: TcpSock) -> int:
    """Time left (us, may be negative) until the RTO of the head skb, counted from its send."""
    head = tcp_rtx_queue_head(sk)
    assert head is not None  # only asked while packets are out
    return tcp_skb_timestamp_us(head) + sk.icsk_rto * (1_000_000 // HZ) - sk.tcp_mstamp


@traced
def tcp_rearm_rto(sk: TcpSock) -> None:
    """Stop the RTO timer when nothing is in flight, else restart it for a full RTO (what is
    left of it, counted from the head's send, when a RACK or TLP timer held its place)."""
    if not sk.packets_out:
        inet_csk_clear_xmit_timer(sk, ICSK_TIME_RETRANS)
    else:
        rto = sk.icsk_rto
        if sk.icsk_pending in (ICSK_TIME_REO_TIMEOUT, ICSK_TIME_LOSS_PROBE):
            rto = usecs_to_jiffies(max(tcp_rto_delta_us(sk), 1))
        tcp_reset_xmit_timer(sk, ICSK_TIME_RETRANS, rto, TCP_RTO_MAX)


def tcp_sndbuf_expand(sk: TcpSock) -> None:
    """sk_sndbuf = 2 · max(cwnd, 10, reordering+1) · per-MSS truesize, at most tcp_wmem[2]
    (the algorithm's sndbuf_expand replaces the 2: BBR's is 3).

    The per-MSS truesize is the non-GSO worst case, one skb per segment with a kmalloc'd,
    power-of-two head: with MSS 1460 and MAX_TCP_HEADER 192, roundup_pow_of_two(1460 + 192 +
    320) + 256 = 2304, so 46080 (69120 for BBR), the figures Linux 6.18 reports in SO_SNDBUF
    after connect on the reference machine."""
    per_mss = max(sk.rx_opt.mss_clamp, sk.mss_cache) + MAX_TCP_HEADER + SKB_DATA_ALIGN(SIZEOF_SKB_SHARED_INFO)
    per_mss = (1 << (per_mss - 1).bit_length()) + SKB_DATA_ALIGN(SIZEOF_SK_BUFF)  # roundup_pow_of_two
    nr_segs = max(TCP_INIT_CWND, sk.snd_cwnd, sk.reordering + 1)
    expand = sk.icsk_ca_ops.sndbuf_expand
    sndmem = (expand(sk) if expand is not None else 2) * nr_segs * per_mss
    if sk.sk_sndbuf < sndmem:
        sk.sk_sndbuf = min(sndmem, sk.host.sysctl.tcp_wmem[2])


def tcp_should_expand_sndbuf(sk: TcpSock) -> bool:
    if sk.sk_userlocks & SOCK_SNDBUF_LOCK:
        return False
    return tcp_packets_in_flight(sk) < sk.snd_cwnd


def tcp_new_space(sk: TcpSock) -> None:
    if tcp_should_expand_sndbuf(sk):
        tcp_sndbuf_expand(sk)
        sk.snd_cwnd_stamp = sk.kernel.jiffies
    sk_stream_write_space(sk)


def tcp_check_space(sk: TcpSock) -> None:
    if sk.sk_socket is not None and SOCK_NOSPACE in sk.sk_flags:
        tcp_new_space(sk)


# -- from tcp.c: state changes (tcp_minisocks' tcp_time_wait ends in tcp_done) -------------------


def tcp_set_state(sk: TcpSock, state: int) -> None:
    old = sk.sk_state
    if state == TCP_ESTABLISHED and old != TCP_ESTABLISHED:
        sk.host.mib["Tcp"]["CurrEstab"] += 1
    elif old in (TCP_ESTABLISHED, TCP_CLOSE_WAIT) and state not in (TCP_ESTABLISHED, TCP_CLOSE_WAIT):
        sk.host.mib["Tcp"]["CurrEstab"] -= 1
    sk.sk_state = state


@traced
def tcp_done(sk: TcpSock) -> None:
    """The connection is gone: CLOSE, timers stopped, unhashed, waiters woken."""
    if sk.sk_state in (TCP_SYN_SENT,):
        sk.host.mib["Tcp"]["AttemptFails"] += 1
    tcp_set_state(sk, TCP_CLOSE)
    sk.sk_shutdown = 3
    sk.icsk_retransmit_timer.del_timer()  # tcp_clear_xmit_timers
    sk.icsk_pending = 0
    if sk.pacing_timer is not None:
        sk.pacing_timer.hrtimer_cancel()
    inet_csk_clear_xmit_timer(sk, ICSK_TIME_DACK)
    inet_unhash(sk)
    sk.sk_wake()


# -- control segments -----------------------------------------------------------------------------


def tcp_send_delayed_ack(sk: TcpSock) -> None:
    """Arm the delayed-ACK timer ato jiffies out (bounded by the RTT, 200 ms in pingpong
    mode), keeping an earlier deadline; ACK at once if the timer is about to fire anyway."""
    ack = sk.icsk_ack
    ato = ack.ato
    k = sk.kernel
    if ato > TCP_DELACK_MIN:
        max_ato = HZ // 2
        if ack.pingpong or ack.pending & ICSK_ACK_PUSHED:
            max_ato = TCP_DELACK_MAX
        if sk.srtt_us:
            rtt = max(usecs_to_jiffies(sk.srtt_us >> 3), TCP_DELACK_MIN)
            if rtt < max_ato:
                max_ato = rtt
        ato = min(ato, max_ato)
    timeout = k.jiffies + ato
    if ack.pending & ICSK_ACK_TIMER:
        # The timer was blocked or is about to expire: send now.
        if ack.timeout - (k.jiffies + (ato >> 2)) <= 0:  # time_before_eq
            tcp_send_ack(sk)
            return
        if not timeout < ack.timeout:  # !time_before
            timeout = ack.timeout
    ack.pending |= ICSK_ACK_SCHED | ICSK_ACK_TIMER
    ack.timeout = timeout
    sk.icsk_delack_timer.mod_timer(timeout)  # sk_reset_timer


@traced
def tcp_send_ack(sk: TcpSock) -> None:
    """A pure ACK: not queued, not cloned; charged with truesize 2 (skb_set_tcp_pure_ack)."""
    if sk.sk_state == TCP_CLOSE:
        return
    buff = alloc_skb(MAX_TCP_HEADER)
    buff.skb_reserve(MAX_TCP_HEADER)
    tcp_init_nondata_skb(buff, tcp_acceptable_seq(sk), TCPHDR_ACK)
    buff.truesize = 2
    tcp_mstamp_refresh(sk)
    __tcp_transmit_skb(sk, buff, 0, sk.rcv_nxt)


def tcp_acceptable_seq(sk: TcpSock) -> int:
    if not before(tcp_wnd_end(sk), sk.snd_nxt):
        return sk.snd_nxt
    return tcp_wnd_end(sk)


@traced
def tcp_send_fin(sk: TcpSock) -> None:
    """Put FIN on the unsent tail skb if there is one, else queue a new FIN skb; push."""
    tskb = tcp_write_queue_tail(sk)
    if tskb is not None:
        tskb.cb["tcp_flags"] |= TCPHDR_FIN
        tskb.cb["end_seq"] = (tskb.cb["end_seq"] + 1) & U32
        sk.write_seq = (sk.write_seq + 1) & U32
    else:
        skb = tcp_stream_alloc_skb(sk)
        tcp_init_nondata_skb(skb, sk.write_seq, TCPHDR_ACK | TCPHDR_FIN)
        __skb_header_release(skb)
        sk.sk_write_queue.append(skb)
        sk.sk_wmem_queued += skb.truesize
        sk.write_seq = (sk.write_seq + 1) & U32
    __tcp_push_pending_frames(sk, tcp_current_mss(sk), TCP_NAGLE_OFF)


# -- retransmission -----------------------------------------------------------------------------


def skb_still_in_host_queue(sk: TcpSock, skb: SkBuff) -> bool:
    """The previous clone of `skb` is still in the qdisc or driver: resending is pointless."""
    if skb_fclone_busy(skb):
        sk.sk_tsq_flags |= TSQ_THROTTLED  # tcp_wfree will retry through the TSQ tasklet
        if skb_fclone_busy(skb):
            sk.host.mib["TcpExt"]["TCPSpuriousRtxHostQueues"] += 1
            return True
    return False


@traced
def __tcp_retransmit_skb(sk: TcpSock, skb: SkBuff, segs: int) -> int:
    """Re-send the kept original, unless its previous clone is still in qdisc/driver."""
    tp = sk
    if skb_still_in_host_queue(sk, skb):
        return -errno.EBUSY
    cb = skb.cb
    while before(cb["seq"], tp.snd_una):
        if cb["tcp_flags"] & TCPHDR_SYN:
            cb["tcp_flags"] &= ~TCPHDR_SYN
            cb["seq"] = (cb["seq"] + 1) & U32
            continue
        if before(cb["end_seq"], tp.snd_una):
            return -errno.EINVAL
        if tcp_trim_head(sk, skb, (tp.snd_una - cb["seq"]) & U32):
            return -errno.ENOMEM
        break
    cur_mss = tcp_current_mss(sk)
    avail_wnd = (tcp_wnd_end(tp) - cb["seq"]) & U32
    if avail_wnd > 0x7FFFFFFF:
        avail_wnd -= 1 << 32
    if avail_wnd <= 0:
        if cb["seq"] != tp.snd_una:
            return -errno.EAGAIN
        avail_wnd = cur_mss  # a zero window: this retransmit is the window probe
    len_ = cur_mss * segs
    if len_ > avail_wnd:
        len_ = avail_wnd // cur_mss * cur_mss or avail_wnd
    if skb.len > len_:
        if tcp_fragment(sk, TCP_FRAG_IN_RTX_QUEUE, skb, len_, cur_mss):
            return -errno.ENOMEM
    else:
        skb_unclone(skb)
        diff = cb["pcount"]
        tcp_set_skb_tso_segs(skb, cur_mss)
        diff -= cb["pcount"]
        if diff:
            tcp_adjust_pcount(sk, skb, diff)
    segs = cb["pcount"]
    sk.host.mib["Tcp"]["RetransSegs"] += segs
    tp.total_retrans += segs
    tp.bytes_retrans += skb.len
    err = tcp_transmit_skb(sk, skb, 1)
    cb["sacked"] |= TCPCB_EVER_RETRANS
    if err and err != -errno.EBUSY:
        sk.host.mib["TcpExt"]["TCPRetransFail"] += segs
    return err


def tcp_retransmit_skb(sk: TcpSock, skb: SkBuff, segs: int) -> int:
    err = __tcp_retransmit_skb(sk, skb, segs)
    if err == 0:
        skb.cb["sacked"] |= TCPCB_RETRANS
        sk.retrans_out += skb.cb["pcount"]
    if not sk.retrans_stamp:
        sk.retrans_stamp = skb.tstamp // 1_000_000 or tcp_time_stamp_ts(sk)  # ms
    if sk.undo_retrans < 0:
        sk.undo_retrans = 0
    sk.undo_retrans += skb.cb["pcount"]  # each must be D-SACKed before an undo
    return err


@traced
def tcp_xmit_retransmit_queue(sk: TcpSock) -> None:
    """Retransmit the skbs marked lost while cwnd allows, skipping SACKed and already
    retransmitted ones; the RTO restarts when the head was resent."""
    tp = sk
    if not tp.packets_out:
        return
    rtx_head = tcp_rtx_queue_head(sk)
    max_segs = tcp_tso_segs(sk, tcp_current_mss(sk))
    rearm_timer = False
    for skb in list(sk.tcp_rtx_queue):
        if tcp_pacing_check(sk):
            break
        segs = tp.snd_cwnd - tcp_packets_in_flight(tp)
        if segs <= 0:
            break
        sacked = skb.cb["sacked"]
        segs = min(segs, max_segs)
        if tp.retrans_out >= tp.lost_out:
            break
        if not sacked & TCPCB_LOST:
            continue
        mib = "TCPFastRetrans" if sk.icsk_ca_state != TCP_CA_Loss else "TCPSlowStartRetrans"
        if sacked & (TCPCB_SACKED_ACKED | TCPCB_SACKED_RETRANS):
            continue
        if tcp_small_queue_check(sk, skb, 1):
            break
        if tcp_retransmit_skb(sk, skb, segs):
            break
        sk.host.mib["TcpExt"][mib] += skb.cb["pcount"]
        if tcp_in_cwnd_reduction(sk):
            tp.prr_out += skb.cb["pcount"]
        if skb is rtx_head and sk.icsk_pending != ICSK_TIME_REO_TIMEOUT:
            rearm_timer = True
    if rearm_timer:
        tcp_reset_xmit_timer(sk, ICSK_TIME_RETRANS, sk.icsk_rto, TCP_RTO_MAX)


# -- tail loss probe (TLP, RFC 8985) -------------------------------------------------------------


def tcp_schedule_loss_probe(sk: TcpSock, advancing_rto: bool) -> bool:
    """Arm the loss probe timer 2·srtt out (plus 200 ms when one packet is out, for its
    delayed ACK), never later than the RTO would fire. Only with SACK, in Open or CWR."""
    tp = sk
    early_retrans = sk.host.sysctl.tcp_early_retrans
    if (early_retrans not in (3, 4) or not tp.packets_out or not tcp_is_sack(tp)
            or sk.icsk_ca_state not in (TCP_CA_Open, TCP_CA_CWR)):
        return False
    if tp.srtt_us:
        timeout = usecs_to_jiffies(tp.srtt_us >> 2)
        timeout += TCP_RTO_MIN if tp.packets_out == 1 else TCP_TIMEOUT_MIN
    else:
        timeout = TCP_TIMEOUT_INIT
    rto_delta_us = sk.icsk_rto * (1_000_000 // HZ) if advancing_rto else tcp_rto_delta_us(sk)
    if rto_delta_us > 0:
        timeout = min(timeout, usecs_to_jiffies(rto_delta_us))
    tcp_reset_xmit_timer(sk, ICSK_TIME_LOSS_PROBE, timeout, TCP_RTO_MAX)
    return True


@traced
def tcp_send_loss_probe(sk: TcpSock) -> None:
    """The loss probe timer fired: send new data if the window allows, else retransmit the
    last segment; then the RTO is rearmed. At most one probe is outstanding (tlp_high_seq)."""
    tp = sk
    mss = tcp_current_mss(sk)
    if not tp.tlp_high_seq:
        tp.tlp_retrans = False
        skb = tcp_send_head(sk)
        sent = False
        if skb is not None and tcp_snd_wnd_test(tp, skb, mss):
            pcount = tp.packets_out
            tcp_write_xmit(sk, mss, TCP_NAGLE_OFF, 2)
            sent = tp.packets_out > pcount
        elif sk.tcp_rtx_queue:
            skb = sk.tcp_rtx_queue[-1]
            if not skb_still_in_host_queue(sk, skb):
                pcount = skb.cb["pcount"]
                if pcount > 1 and skb.len > (pcount - 1) * mss:
                    # probe with the last MSS only
                    if not tcp_fragment(sk, TCP_FRAG_IN_RTX_QUEUE, skb, (pcount - 1) * mss, mss):
                        skb = sk.tcp_rtx_queue[-1]
                    else:
                        skb = None
                if skb is not None and not __tcp_retransmit_skb(sk, skb, 1):
                    tp.tlp_retrans = True
                    sent = True
        else:
            sk.icsk_pending = 0  # invalid inflight: nothing to probe with
            return
        if sent:
            tp.tlp_high_seq = tp.snd_nxt  # recorded for loss detection
            sk.host.mib["TcpExt"]["TCPLossProbes"] += 1
            sk.icsk_pending = 0  # so tcp_rearm_rto restarts the timer from now
    tcp_rearm_rto(sk)


# -- zero-window probes ---------------------------------------------------------------------------


def tcp_xmit_probe_skb(sk: TcpSock, urgent: int, mib: str) -> int:
    skb = alloc_skb(MAX_TCP_HEADER)
    skb.skb_reserve(MAX_TCP_HEADER)
    tcp_init_nondata_skb(skb, (sk.snd_una - (0 if urgent else 1)) & U32, TCPHDR_ACK)
    sk.host.mib["TcpExt"][mib] += 1
    return tcp_transmit_skb(sk, skb, 0)


@traced
def tcp_write_wakeup(sk: TcpSock, mib: str) -> int:
    if sk.sk_state == TCP_CLOSE:
        return -1
    skb = tcp_send_head(sk)
    if skb is not None and before(skb.cb["seq"], tcp_wnd_end(sk)):
        mss = tcp_current_mss(sk)
        cb = skb.cb
        seg_size = (tcp_wnd_end(sk) - cb["seq"]) & U32
        if before(sk.pushed_seq, cb["end_seq"]):
            sk.pushed_seq = cb["end_seq"]
        if seg_size < ((cb["end_seq"] - cb["seq"]) & U32) or skb.len > mss:
            seg_size = min(seg_size, mss)
            cb["tcp_flags"] |= TCPHDR_PSH
            if tcp_fragment(sk, TCP_FRAG_IN_WRITE_QUEUE, skb, seg_size, mss):
                return -1
        elif not cb["pcount"]:
            tcp_set_skb_tso_segs(skb, mss)
        cb["tcp_flags"] |= TCPHDR_PSH
        err = tcp_transmit_skb(sk, skb, 1)
        if not err:
            tcp_event_new_data_sent(sk, skb)
        return err
    return tcp_xmit_probe_skb(sk, 0, mib)


@traced
def tcp_send_probe0(sk: TcpSock) -> None:
    err = tcp_write_wakeup(sk, "TCPWinProbe")
    if sk.packets_out or not sk.sk_write_queue:
        sk.icsk_probes_out = 0
        sk.icsk_backoff = 0
        return
    sk.icsk_probes_out += 1
    if err <= 0:
        if sk.icsk_backoff < sk.host.sysctl.tcp_retries2:
            sk.icsk_backoff += 1
        timeout = tcp_probe0_when(sk, TCP_RTO_MAX)
    else:
        timeout = TCP_RESOURCE_PROBE_INTERVAL
    tcp_reset_xmit_timer(sk, ICSK_TIME_PROBE0, timeout, TCP_RTO_MAX)
