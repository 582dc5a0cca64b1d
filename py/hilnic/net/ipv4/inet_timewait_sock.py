"""TIME_WAIT sockets (net/ipv4/inet_timewait_sock.c, include/net/inet_timewait_sock.h,
include/linux/tcp.h's tcp_timewait_sock).

When a TCP connection ends on this side's close, the full sock is destroyed and a small
timewait sock takes its place in the established hash for TCP_TIMEWAIT_LEN (60 s): it keeps
what is needed to ACK a retransmitted FIN (rcv_nxt, snd_nxt, the window, timestamps) and to
refuse old duplicates. An orphaned FIN_WAIT2 connection becomes one too (substate
FIN_WAIT2), waiting tcp_fin_timeout for the peer's FIN. Its timer kills it (tw_timer_handler).
"""

from __future__ import annotations

from hilnic.kernel.core import HZ, TimerList
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.sock import AF_INET, TCP_TIME_WAIT, TcpSock
from hilnic.net.ipv4.inet_hashtables import inet_ehash_remove, inet_ehash_replace


class InetTimewaitSock:
    """struct inet_timewait_sock + struct tcp_timewait_sock. sk_state is TCP_TIME_WAIT (what
    __inet_lookup_established's callers test); tw_substate is TIME_WAIT or FIN_WAIT2."""

    sk_state = TCP_TIME_WAIT

    def __init__(self, sk: TcpSock, state: int) -> None:
        self.host: Host = sk.host
        self.kernel = sk.kernel
        self.tw_family = AF_INET
        self.tw_substate = state
        # sock_common: the 4-tuple, as the full sock had it
        self.inet_saddr = sk.inet_saddr
        self.inet_daddr = sk.inet_daddr
        self.inet_sport = sk.inet_sport
        self.inet_dport = sk.inet_dport
        self.tw_tos = sk.tos
        self.tw_priority = sk.sk_priority
        self.tw_rcv_wscale = sk.rx_opt.rcv_wscale
        # tcp_timewait_sock
        self.tw_rcv_nxt = 0
        self.tw_snd_nxt = 0
        self.tw_rcv_wnd = 0
        self.tw_ts_recent = 0
        self.tw_ts_recent_stamp = 0
        self.tw_ts_offset = 0
        self.tw_last_oow_ack_time = 0
        self.tw_kill = False  # killed early (timeout ≤ 4 s): counted as TWKilled
        self.tw_dead = False  # unhashed: the timer or a RST ended it
        self.tw_timer = TimerList(sk.kernel, tw_timer_handler, "tw_timer")
        self.tw_timer.tw = self  # type: ignore[attr-defined]  # from_timer(tw, t, tw_timer)

    def __repr__(self) -> str:
        def ip(a: int) -> str:
            return ".".join(str(a >> s & 0xFF) for s in (24, 16, 8, 0))

        sub = "FIN_WAIT2" if self.tw_substate != TCP_TIME_WAIT else "TIME_WAIT"
        return (f"<timewait {ip(self.inet_saddr)}:{self.inet_sport} -> {ip(self.inet_daddr)}:{self.inet_dport} "
                f"{sub}{' dead' if self.tw_dead else ''}>")


def inet_twsk_alloc(sk: TcpSock, state: int) -> InetTimewaitSock:
    return InetTimewaitSock(sk, state)


def inet_twsk_schedule(tw: InetTimewaitSock, timeo: int) -> None:
    """Arm (or re-arm) the death timer `timeo` jiffies out. A timeout of 4 s or less means
    the socket is killed early, which the counters tell apart (TWKilled vs TW)."""
    tw.tw_kill = timeo <= 4 * HZ
    tw.tw_timer.mod_timer(tw.kernel.jiffies + timeo)


def inet_twsk_reschedule(tw: InetTimewaitSock, timeo: int) -> None:
    inet_twsk_schedule(tw, timeo)


def inet_twsk_hashdance_schedule(tw: InetTimewaitSock, sk: TcpSock, timeo: int) -> None:
    """Put tw in sk's place in the established hash, then start its timer."""
    inet_ehash_replace(sk, tw)
    inet_twsk_schedule(tw, timeo)


def inet_twsk_kill(tw: InetTimewaitSock) -> None:
    if not tw.tw_dead:
        tw.tw_dead = True
        inet_ehash_remove(tw)


def inet_twsk_deschedule_put(tw: InetTimewaitSock) -> None:
    """Stop the timer and unhash at once (a RST, a reused 4-tuple)."""
    if tw.tw_timer.del_timer():
        inet_twsk_kill(tw)


def tw_timer_handler(timer: TimerList) -> None:
    """The TIME_WAIT period is over (TIMER_SOFTIRQ)."""
    tw: InetTimewaitSock = timer.tw  # type: ignore[attr-defined]
    tw.host.mib["TcpExt"]["TWKilled" if tw.tw_kill else "TW"] += 1
    inet_twsk_kill(tw)


__all__ = [
    "InetTimewaitSock",
    "inet_twsk_alloc",
    "inet_twsk_deschedule_put",
    "inet_twsk_hashdance_schedule",
    "inet_twsk_kill",
    "inet_twsk_reschedule",
    "inet_twsk_schedule",
    "tw_timer_handler",
]
