"""Pluggable congestion control (net/ipv4/tcp_cong.c): the tcp_congestion_ops registry, the
per-netns default (sysctl net.ipv4.tcp_congestion_control; cubic, as Linux's), the per-socket
choice (setsockopt TCP_CONGESTION) and Reno, the algorithm every kernel has built in. CUBIC
(tcp_cubic.py) and BBR (tcp_bbr.py) register themselves when hilnic.net.ipv4 is loaded.

The stack reaches the algorithm only through sk.icsk_ca_ops (ssthresh, cong_avoid,
undo_cwnd, set_state, cwnd_event, pkts_acked), so another algorithm registers here and
nothing else changes.
"""

from __future__ import annotations

import errno

from hilnic.net.core.net_namespace import Host
from hilnic.net.core.sock import (
    TCP_CLOSE,
    TCP_CONG_NON_RESTRICTED,
    TCP_LISTEN,
    TcpCongestionOps,
    TcpSock,
)
from hilnic.net.ipv4.tcp_output import tcp_in_slow_start, tcp_is_cwnd_limited

CONFIG_DEFAULT_TCP_CONG = "cubic"  # what tcp_congestion_default sets at boot on Linux 6.x

# tcp_cong_list: every registered algorithm, by name (the kernel keeps a list; names are unique)
_tcp_cong_list: dict[str, TcpCongestionOps] = {}


def tcp_ca_find(name: str) -> TcpCongestionOps | None:
    return _tcp_cong_list.get(name)


def tcp_validate_congestion_control(ca: TcpCongestionOps) -> int:
    if ca.ssthresh is None or ca.undo_cwnd is None or not (ca.cong_avoid or ca.cong_control):
        return -errno.EINVAL
    return 0


def tcp_register_congestion_control(ca: TcpCongestionOps) -> int:
    """Add an algorithm; -EEXIST if its name is taken, -EINVAL if required ops are missing."""
    ret = tcp_validate_congestion_control(ca)
    if ret:
        return ret
    if ca.name in _tcp_cong_list:
        return -errno.EEXIST
    _tcp_cong_list[ca.name] = ca
    return 0


def tcp_unregister_congestion_control(ca: TcpCongestionOps) -> None:
    """Sockets using it keep their pointer, as in the kernel (the module refcount holds it)."""
    if _tcp_cong_list.get(ca.name) is ca:
        del _tcp_cong_list[ca.name]


def tcp_get_default_congestion_control(net: Host) -> str:
    return _default_ca(net).name


def _default_ca(net: Host) -> TcpCongestionOps:
    """net->ipv4.tcp_congestion_control: the kernel's built-in default (CONFIG_DEFAULT_TCP_CONG,
    cubic) until the sysctl sets another; reno if the default is not registered."""
    ca: TcpCongestionOps | None = net.ext.get("tcp_congestion_control")
    if ca is None:
        ca = tcp_ca_find(CONFIG_DEFAULT_TCP_CONG) or tcp_reno
    return ca


def tcp_set_default_congestion_control(net: Host, name: str) -> int:
    """The sysctl net.ipv4.tcp_congestion_control: new sockets of this netns start with it."""
    ca = tcp_ca_find(name)
    if ca is None:
        return -errno.ENOENT
    net.ext["tcp_congestion_control"] = ca
    return 0


def tcp_assign_congestion_control(sk: TcpSock) -> None:
    """tcp_init_sock: the netns default."""
    sk.icsk_ca_ops = _default_ca(sk.host)


def tcp_init_congestion_control(sk: TcpSock) -> None:
    """At the end of the handshake (tcp_init_transfer), or when the algorithm changes later."""
    sk.prior_ssthresh = 0
    init = sk.icsk_ca_ops.init
    if init is not None:
        init(sk)
    sk.icsk_ca_initialized = True


def tcp_cleanup_congestion_control(sk: TcpSock) -> None:
    release = sk.icsk_ca_ops.release
    if release is not None:
        release(sk)


def tcp_reinit_congestion_control(sk: TcpSock, ca: TcpCongestionOps) -> None:
    tcp_cleanup_congestion_control(sk)
    sk.icsk_ca_ops = ca
    sk.icsk_ca_priv = None
    if sk.sk_state not in (TCP_CLOSE, TCP_LISTEN):
        tcp_init_congestion_control(sk)


def tcp_set_congestion_control(sk: TcpSock, name: str, cap_net_admin: bool) -> int:
    """setsockopt(TCP_CONGESTION): -ENOENT for an unknown name, -EPERM for a restricted one
    without CAP_NET_ADMIN (no module autoload: every algorithm is built in)."""
    ca = tcp_ca_find(name)
    if ca is sk.icsk_ca_ops:
        return 0
    if ca is None:
        return -errno.ENOENT
    if not (ca.flags & TCP_CONG_NON_RESTRICTED or cap_net_admin):
        return -errno.EPERM
    tcp_reinit_congestion_control(sk, ca)
    return 0


# -- the AIMD building blocks and Reno ------------------------------------------------------------


def tcp_slow_start(tp: TcpSock, acked: int) -> int:
    cwnd = min(tp.snd_cwnd + acked, tp.snd_ssthresh)
    acked -= cwnd - tp.snd_cwnd
    tp.snd_cwnd = min(cwnd, tp.snd_cwnd_clamp)
    return acked


def tcp_cong_avoid_ai(tp: TcpSock, w: int, acked: int) -> None:
    if tp.snd_cwnd_cnt >= w:
        tp.snd_cwnd_cnt = 0
        tp.snd_cwnd += 1
    tp.snd_cwnd_cnt += acked
    if tp.snd_cwnd_cnt >= w:
        delta = tp.snd_cwnd_cnt // w
        tp.snd_cwnd_cnt -= delta * w
        tp.snd_cwnd += delta
    tp.snd_cwnd = min(tp.snd_cwnd, tp.snd_cwnd_clamp)


def tcp_reno_cong_avoid(sk: TcpSock, ack: int, acked: int) -> None:
    if not tcp_is_cwnd_limited(sk):
        return
    if tcp_in_slow_start(sk):
        acked = tcp_slow_start(sk, acked)
        if not acked:
            return
    tcp_cong_avoid_ai(sk, sk.snd_cwnd, acked)


def tcp_reno_ssthresh(sk: TcpSock) -> int:
    return max(sk.snd_cwnd >> 1, 2)


def tcp_reno_undo_cwnd(sk: TcpSock) -> int:
    return max(sk.snd_cwnd, sk.prior_cwnd)


tcp_reno = TcpCongestionOps(
    name="reno",
    flags=TCP_CONG_NON_RESTRICTED,
    ssthresh=tcp_reno_ssthresh,
    cong_avoid=tcp_reno_cong_avoid,
    undo_cwnd=tcp_reno_undo_cwnd,
)

tcp_register_congestion_control(tcp_reno)  # tcp_init (net/ipv4/tcp.c) does this at boot
