"""TCP timers (net/ipv4/tcp_timer.c): the retransmit timer, RACK's reordering timer, the tail
loss probe, the zero-window probe timer, and the delayed-ACK timer.

One timer per socket (icsk_retransmit_timer) serves the first four, dispatched on
icsk_pending, as in the kernel; icsk_delack_timer is the delayed ACK's. They fire in
TIMER_SOFTIRQ; if the process owns the socket the work is deferred to release_sock
(TCP_WRITE_TIMER_DEFERRED, TCP_DELACK_TIMER_DEFERRED: tcp_release_cb runs the handlers).
"""

from __future__ import annotations

import errno

from hilnic.kernel.core import TimerList
from hilnic.kernel.ftrace import traced
from hilnic.net.core.sock import (
    ICSK_ACK_TIMER,
    ICSK_TIME_LOSS_PROBE,
    ICSK_TIME_PROBE0,
    ICSK_TIME_REO_TIMEOUT,
    ICSK_TIME_RETRANS,
    TCP_CLOSE,
    TCP_DELACK_TIMER_DEFERRED,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_WRITE_TIMER_DEFERRED,
    TCP_CA_Disorder,
    TCP_CA_Loss,
    TCP_CA_Recovery,
    TcpSock,
)
from hilnic.net.ipv4.tcp import tcp_write_queue_purge
from hilnic.net.ipv4.tcp_input import tcp_enter_loss
from hilnic.net.ipv4.tcp_output import (
    TCP_ATO_MIN,
    TCP_RESOURCE_PROBE_INTERVAL,
    TCP_RTO_MAX,
    TCP_RTO_MIN,
    TCP_TIMEOUT_INIT,
    U32,
    TcpPacingTimer,
    inet_csk_ack_scheduled,
    inet_csk_in_pingpong_mode,
    inet_csk_reset_xmit_timer,
    tcp_done,
    tcp_is_sack,
    tcp_mstamp_refresh,
    tcp_retransmit_skb,
    tcp_rtx_queue_head,
    tcp_send_ack,
    tcp_send_loss_probe,
    tcp_send_probe0,
    tcp_time_stamp_ts,
)
from hilnic.net.ipv4.tcp_recovery import tcp_rack_reo_timeout

TCP_SYN_RETRIES = 6


class IcskTimer(TimerList):
    """icsk_retransmit_timer: knows its sock, as from_timer() finds the embedding struct."""

    def __init__(self, sk: TcpSock) -> None:
        super().__init__(sk.kernel, tcp_write_timer, "tcp_write_timer")
        self.sk = sk


def tcp_write_timer(timer: TimerList) -> None:
    """The timer callback (softirq): run now, or defer to release_sock if the socket is owned."""
    assert isinstance(timer, IcskTimer)
    sk = timer.sk
    if sk.owned:
        sk.sk_tsq_flags |= TCP_WRITE_TIMER_DEFERRED
        return
    tcp_write_timer_handler(sk)


class DelackTimer(TimerList):
    """icsk_delack_timer."""

    def __init__(self, sk: TcpSock) -> None:
        super().__init__(sk.kernel, tcp_delack_timer, "tcp_delack_timer")
        self.sk = sk


def tcp_delack_timer(timer: TimerList) -> None:
    """The delayed ACK is due (softirq): send it, or leave it to release_sock."""
    assert isinstance(timer, DelackTimer)
    sk = timer.sk
    if sk.owned:
        sk.host.mib["TcpExt"]["DelayedACKLocked"] += 1
        sk.sk_tsq_flags |= TCP_DELACK_TIMER_DEFERRED  # delegate our work to tcp_release_cb()
        return
    tcp_delack_timer_handler(sk)


@traced
def tcp_delack_timer_handler(sk: TcpSock) -> None:
    ack = sk.icsk_ack
    if sk.sk_state == TCP_CLOSE:
        return
    if not ack.pending & ICSK_ACK_TIMER:
        return
    if ack.timeout > sk.kernel.jiffies:  # time_after: re-armed for later
        sk.icsk_delack_timer.mod_timer(ack.timeout)
        return
    ack.pending &= ~ICSK_ACK_TIMER
    if inet_csk_ack_scheduled(sk):
        if not inet_csk_in_pingpong_mode(sk):
            ack.ato = min(ack.ato << 1, sk.icsk_rto)  # delayed ACK missed: inflate ATO
        else:
            ack.pingpong = 0  # delayed ACK missed: leave pingpong mode, deflate ATO
            ack.ato = TCP_ATO_MIN
        tcp_mstamp_refresh(sk)
        tcp_send_ack(sk)
        sk.host.mib["TcpExt"]["DelayedACKs"] += 1


@traced
def tcp_write_timer_handler(sk: TcpSock) -> None:
    if sk.sk_state == TCP_CLOSE or not sk.icsk_pending:
        return
    if sk.icsk_timeout > sk.kernel.jiffies:  # re-armed meanwhile: wait for the new expiry
        sk.icsk_retransmit_timer.mod_timer(sk.icsk_timeout)
        return
    tcp_mstamp_refresh(sk)
    event = sk.icsk_pending
    if event == ICSK_TIME_REO_TIMEOUT:
        tcp_rack_reo_timeout(sk)  # these two leave icsk_pending to tcp_rearm_rto
    elif event == ICSK_TIME_LOSS_PROBE:
        tcp_send_loss_probe(sk)
    elif event == ICSK_TIME_RETRANS:
        sk.icsk_pending = 0
        tcp_retransmit_timer(sk)
    elif event == ICSK_TIME_PROBE0:
        sk.icsk_pending = 0
        tcp_probe_timer(sk)


def tcp_model_timeout(boundary: int, rto_base: int) -> int:
    """The time (jiffies) `boundary` exponentially backed-off retransmissions take."""
    linear_backoff_thresh = (TCP_RTO_MAX // rto_base).bit_length() - 1
    if boundary <= linear_backoff_thresh:
        return ((2 << boundary) - 1) * rto_base
    return ((2 << linear_backoff_thresh) - 1) * rto_base + (boundary - linear_backoff_thresh) * TCP_RTO_MAX


def retransmits_timed_out(sk: TcpSock, boundary: int) -> bool:
    if not sk.icsk_retransmits:
        return False
    start_ts = sk.retrans_stamp
    if not start_ts:
        return False
    rto_base = TCP_TIMEOUT_INIT if sk.sk_state in (TCP_SYN_SENT, TCP_SYN_RECV) else TCP_RTO_MIN
    timeout = tcp_model_timeout(boundary, rto_base)  # jiffies == ms at HZ=1000
    return ((tcp_time_stamp_ts(sk) - start_ts) & U32) >= timeout


def tcp_write_err(sk: TcpSock) -> None:
    sk.sk_err = errno.ETIMEDOUT
    tcp_write_queue_purge(sk)
    tcp_done(sk)
    sk.host.mib["TcpExt"]["TCPAbortOnTimeout"] += 1


def tcp_write_timeout(sk: TcpSock) -> bool:
    """Give up after tcp_syn_retries (connecting) or tcp_retries2 worth of backed-off time."""
    if sk.sk_state in (TCP_SYN_SENT, TCP_SYN_RECV):
        retry_until = getattr(sk.host.sysctl, "tcp_syn_retries", TCP_SYN_RETRIES)
        expired = sk.icsk_retransmits >= retry_until
    else:
        retry_until = sk.host.sysctl.tcp_retries2
        expired = retransmits_timed_out(sk, retry_until)
    if expired:
        tcp_write_err(sk)
        return True
    return False


@traced
def tcp_retransmit_timer(sk: TcpSock) -> None:
    """RTO: enter Loss (cwnd 1), retransmit the head original, double the RTO (cap 120 s)."""
    tp = sk
    if not tp.packets_out:
        return
    skb = tcp_rtx_queue_head(sk)
    if skb is None:
        return
    if not tp.snd_wnd and sk.sk_state not in (TCP_SYN_SENT, TCP_SYN_RECV):
        # The receiver shrank its window: retransmits become zero-window probes.
        tcp_enter_loss(sk)
        tcp_retransmit_skb(sk, skb, 1)
    else:
        sk.host.mib["TcpExt"]["TCPTimeouts"] += 1
        if tcp_write_timeout(sk):
            return
        if sk.icsk_retransmits == 0:
            state = sk.icsk_ca_state
            sack = tcp_is_sack(tp)
            if state == TCP_CA_Recovery:
                sk.host.mib["TcpExt"]["TCPSackRecoveryFail" if sack else "TCPRenoRecoveryFail"] += 1
            elif state == TCP_CA_Loss:
                sk.host.mib["TcpExt"]["TCPLossFailures"] += 1
            elif state == TCP_CA_Disorder or tp.sacked_out:
                sk.host.mib["TcpExt"]["TCPSackFailures" if sack else "TCPRenoFailures"] += 1
        tcp_enter_loss(sk)
        sk.icsk_retransmits += 1
        head = tcp_rtx_queue_head(sk)
        assert head is not None  # tcp_enter_loss keeps the queue
        if tcp_retransmit_skb(sk, head, 1) > 0:
            inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, TCP_RESOURCE_PROBE_INTERVAL, TCP_RTO_MAX)
            return
    # out_reset_timer: exponential backoff
    sk.icsk_backoff += 1
    sk.icsk_rto = min(sk.icsk_rto << 1, TCP_RTO_MAX)
    inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, sk.icsk_rto, TCP_RTO_MAX)


@traced
def tcp_probe_timer(sk: TcpSock) -> None:
    """Zero-window probe: nothing in flight, data queued, the peer's window closed."""
    if sk.packets_out or not sk.sk_write_queue:
        sk.icsk_probes_out = 0
        return
    if sk.icsk_probes_out >= sk.host.sysctl.tcp_retries2:
        tcp_write_err(sk)
    else:
        tcp_send_probe0(sk)


def tcp_init_xmit_timers(sk: TcpSock) -> None:
    """inet_csk_init_xmit_timers: the timers and their handlers, which tcp_release_cb also
    runs for an expiry deferred while the socket was owned."""
    sk.icsk_retransmit_timer = IcskTimer(sk)
    sk.icsk_retransmit_handler = tcp_write_timer_handler
    sk.icsk_delack_timer = DelackTimer(sk)
    sk.icsk_delack_handler = tcp_delack_timer_handler
    sk.pacing_timer = TcpPacingTimer(sk)  # tcp_init_xmit_timers: tcp_pace_kick, soft hrtimer


__all__ = [
    "tcp_delack_timer",
    "tcp_delack_timer_handler",
    "tcp_init_xmit_timers",
    "tcp_probe_timer",
    "tcp_retransmit_timer",
    "tcp_write_timer",
    "tcp_write_timer_handler",
]
