"""TCP over IPv4 (net/ipv4/tcp_ipv4.c): connect, the receive entry point, ICMP errors (PMTU),
tcp_prot (the struct proto af_inet registers) and the af_ops that bind TCP to the IP layer.

`ipv4_specific.queue_xmit` is ip_queue_xmit (net/ipv4/ip_output.py), reached through the
af_ops indirection exactly as __tcp_transmit_skb does in Linux, so a test can give a socket
another af_ops (a recording IP layer) without touching module globals.
"""

from __future__ import annotations

import errno
import random
import struct
from typing import Any

from hilnic.include.uapi.linux.in_ import IP_PMTUDISC_DONT
from hilnic.kernel.ftrace import traced
from hilnic.lib.checksum import csum_fold, csum_partial, csum_tcpudp_nofold
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.secure_seq import secure_tcp_ts_off
from hilnic.net.core.skbuff import SKB_GSO_TCPV4, SkBuff, kfree_skb
from hilnic.net.core.sock import (
    ICSK_TIME_RETRANS,
    IPPROTO_TCP,
    TCP_CLOSE,
    TCP_ESTABLISHED,
    TCP_MTU_REDUCED_DEFERRED,
    TCP_SYN_SENT,
    TCP_TIME_WAIT,
    InetConnectionSockAfOps,
    Proto,
    TcpSock,
    dst_mtu,
    sk_add_backlog,
    sk_setup_caps,
)
from hilnic.net.ipv4.inet_hashtables import (
    __inet_hash_connect,
    __inet_lookup_established,
)
from hilnic.net.ipv4.inet_timewait_sock import InetTimewaitSock, inet_twsk_deschedule_put
from hilnic.net.ipv4.ip_output import ip_queue_xmit, ip_send_unicast_reply
from hilnic.net.ipv4.route import Rtable, ip_route_output, ipv4_sk_update_pmtu
from hilnic.net.ipv4.tcp import (
    tcp_close,
    tcp_getsockopt,
    tcp_init_sock,
    tcp_sendmsg,
    tcp_setsockopt,
)
from hilnic.net.ipv4.tcp_input import (
    tcp_rcv_established,
    tcp_rcv_state_process,
    tcp_simple_retransmit,
)
from hilnic.net.ipv4.tcp_minisocks import (
    TCP_TW_ACK,
    TCP_TW_ACK_OOW,
    TCP_TW_RST,
    TCP_TW_SYN,
    tcp_timewait_state_process,
)
from hilnic.net.ipv4.tcp_output import (
    TCP_RTO_MAX,
    TCPHDR_ACK,
    TCPHDR_CWR,
    TCPHDR_ECE,
    TCPHDR_FIN,
    TCPHDR_RST,
    TCPHDR_SYN,
    TCPHDR_URG,
    U32,
    __skb_header_release,
    before,
    inet_csk_reset_xmit_timer,
    tcp_init_nondata_skb,
    tcp_mstamp_refresh,
    tcp_release_cb,
    tcp_stream_alloc_skb,
    tcp_sync_mss,
    tcp_time_stamp_ts,
    tcp_transmit_skb,
)
from hilnic.net.ipv4.tcp_timer import tcp_init_xmit_timers

ICMP_DEST_UNREACH = 3
ICMP_FRAG_NEEDED = 4

_TH = struct.Struct("!HHIIHHHH")
_SACK_BLOCK = struct.Struct("!II")


def tcp_v4_send_check(sk: TcpSock, skb: SkBuff) -> int:
    """~tcp_v4_check(len, saddr, daddr, 0): the folded pseudo-header sum, left for the device."""
    skb.csum_start = skb.transport_header
    skb.csum_offset = 16
    return csum_tcpudp_nofold(sk.inet_saddr, sk.inet_daddr, skb.len, IPPROTO_TCP)


# -- connect ----------------------------------------------------------------------------------------


def ip_route_connect(sk: TcpSock, daddr: int) -> Rtable:
    """Route lookup for connect: ip_route_output(host, daddr)."""
    return ip_route_output(sk.host, daddr)


def _route_saddr(dst: Rtable) -> int:
    """fl4->saddr: the source address the route selected."""
    for name in ("rt_src", "saddr", "src"):
        v = getattr(dst, name, None)
        if v:
            return int(v)
    return int(dst.dev.ip)


@traced
def tcp_v4_connect(sk: TcpSock, daddr: int, dport: int) -> None:
    """Route, pick the source port, set caps and MSS, choose the ISN, send the SYN."""
    if sk.sk_state != TCP_CLOSE:
        raise OSError(errno.EISCONN if sk.sk_state == TCP_ESTABLISHED else errno.EALREADY, "connect")
    dst = ip_route_connect(sk, daddr)
    if dst is None:
        raise OSError(errno.ENETUNREACH, "Network is unreachable")
    if not sk.inet_saddr:
        sk.inet_saddr = _route_saddr(dst)
    sk.inet_daddr = daddr
    sk.inet_dport = dport
    sk.icsk_ext_hdr_len = 0
    sk.rx_opt.mss_clamp = 536  # TCP_MSS_DEFAULT until the SYN-ACK tells us the peer's MSS
    sk.sk_state = TCP_SYN_SENT
    try:
        __inet_hash_connect(sk)
    except OSError:
        sk.sk_state = TCP_CLOSE
        raise
    sk.sk_gso_type = SKB_GSO_TCPV4
    sk_setup_caps(sk, dst)
    rng: random.Random = sk.host.ext.setdefault("tcp_isn_rng", random.Random(0x15A))
    sk.write_seq = rng.getrandbits(32)  # secure_tcp_seq
    # TSval = the ms clock + a random offset per address pair (a fresh TSval says nothing of
    # the host's uptime), as the peer sees on the wire.
    sk.tsoffset = secure_tcp_ts_off(sk.host, sk.inet_saddr, sk.inet_daddr)
    sk.inet_id = rng.getrandbits(16)
    tcp_connect(sk)


def tcp_select_initial_window(sk: TcpSock, space: int, mss: int) -> tuple[int, int, int]:
    """rcv_wnd, window_clamp and rcv_wscale for the SYN (64240 and 7 with the defaults)."""
    window_clamp = 65535 << 14
    space = min(window_clamp, space)
    if space > mss:
        space = space // mss * mss
    rcv_wnd = min(space, 65535)
    rcv_wscale = 0
    if sk.host.sysctl.tcp_window_scaling:
        space = max(space, sk.host.sysctl.tcp_rmem[2], getattr(sk.host.sysctl, "rmem_max", 212992))
        space = min(space, window_clamp)
        rcv_wscale = max(0, min(space.bit_length() - 1 - 15, 14))
    window_clamp = min(65535 << rcv_wscale, window_clamp)
    return rcv_wnd, window_clamp, rcv_wscale


def tcp_connect_init(sk: TcpSock) -> None:
    tp = sk
    dst = sk.sk_dst_cache
    tp.tcp_header_len = 20 + (12 if sk.host.sysctl.tcp_timestamps else 0)
    tcp_sync_mss(sk, dst_mtu(dst))
    tp.advmss = min(dst_mtu(dst) - 40, 65535 - 40)  # ipv4_default_advmss
    if tp.rx_opt.user_mss and tp.rx_opt.user_mss < tp.advmss:
        tp.advmss = tp.rx_opt.user_mss
    # tcp_full_space(rcvbuf): half of sk_rcvbuf with the default scaling ratio.
    space = sk.sk_rcvbuf >> 1
    tp.rcv_wnd, tp.window_clamp, tp.rx_opt.rcv_wscale = tcp_select_initial_window(sk, space, tp.advmss)
    tp.rcv_ssthresh = tp.rcv_wnd
    tp.rx_opt.wscale_ok = bool(sk.host.sysctl.tcp_window_scaling)
    tp.snd_una = tp.write_seq
    tp.snd_sml = tp.write_seq
    tp.snd_up = tp.write_seq
    tp.snd_nxt = tp.write_seq
    tp.rcv_nxt = 0
    tp.rcv_wup = 0
    tp.copied_seq = 0
    sk.icsk_rto = 1000  # TCP_TIMEOUT_INIT
    sk.icsk_retransmits = 0


@traced
def tcp_connect(sk: TcpSock) -> int:
    """Build the SYN, keep it on the rtx queue and send a clone; arm the RTO (1 s)."""
    tcp_connect_init(sk)
    buff = tcp_stream_alloc_skb(sk)
    tcp_init_nondata_skb(buff, sk.write_seq, TCPHDR_SYN)
    sk.write_seq = (sk.write_seq + 1) & U32
    tcp_mstamp_refresh(sk)
    sk.retrans_stamp = sk.kernel.env.now() // 1_000_000_000  # ms
    # tcp_connect_queue_skb
    __skb_header_release(buff)
    sk.sk_wmem_queued += buff.truesize
    sk.packets_out += 1
    sk.tcp_rtx_queue.append(buff)
    err = tcp_transmit_skb(sk, buff, 1)
    if err == -errno.ECONNREFUSED:
        return err
    sk.snd_nxt = sk.write_seq
    sk.pushed_seq = sk.write_seq
    sk.host.mib["Tcp"]["ActiveOpens"] += 1
    inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, sk.icsk_rto, TCP_RTO_MAX)
    return 0


# -- receive ----------------------------------------------------------------------------------------


_ADDRS = struct.Struct("!II")


def tcp_parse_segment(skb: SkBuff, th: bytes) -> dict[str, Any]:
    """Header and options into TCP_SKB_CB form (tcp_v4_fill_cb + tcp_parse_options)."""
    sport, dport, seq, ack_seq, off_flags, window, _check, _urg = _TH.unpack_from(th)
    doff = (off_flags >> 12) * 4
    flags = off_flags & 0xFF
    payload = th[doff:]
    cb = {
        "source": sport, "dest": dport, "seq": seq, "ack_seq": ack_seq, "tcp_flags": flags,
        "window": window, "saw_tstamp": False, "tsval": 0, "tsecr": 0, "payload": payload,
        "end_seq": (seq + len(payload) + (1 if flags & TCPHDR_SYN else 0) + (1 if flags & TCPHDR_FIN else 0)) & U32,
        "sacked": 0, "pcount": 1, "tcp_gso_size": 0, "eor": 0, "options": th[20:doff],
    }
    i, end = 20, doff
    while i < end:
        kind = th[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= end:
            break
        olen = th[i + 1]
        if olen < 2 or i + olen > end:
            break
        if kind == 2 and olen == 4 and flags & TCPHDR_SYN:
            cb["mss"] = int.from_bytes(th[i + 2:i + 4], "big")
        elif kind == 3 and olen == 3 and flags & TCPHDR_SYN:
            cb["wscale"] = th[i + 2]
        elif kind == 4 and olen == 2 and flags & TCPHDR_SYN:
            cb["sack_ok"] = True  # TCPOPT_SACK_PERM
        elif kind == 5 and olen >= 10 and not (olen - 2) % 8:
            # TCPOPT_SACK: the blocks, taken only on a SACK connection (tcp_ack checks sack_ok)
            cb["sack"] = [_SACK_BLOCK.unpack_from(th, j) for j in range(i + 2, i + olen, 8)]
        elif kind == 8 and olen == 10:
            cb["saw_tstamp"] = True
            cb["tsval"], cb["tsecr"] = struct.unpack_from("!II", th, i + 2)
        i += olen
    return cb


@traced
def tcp_v4_rcv(host: Host, skb: SkBuff) -> int:
    """Deliver a segment: skb.data at the TCP header, skb.network_header at the IP header.

    Looks the socket up by 4-tuple; a socket owned by the process gets it on its backlog.
    """
    k = host.kernel
    k.charge(k.cost.tcp_v4_rcv)
    nh = skb.network_header
    if not skb.data_len and skb.shinfo.frag_list is None and nh <= skb.data:
        # Linear skb (every received frame here): IP header through the end in one read.
        buf = skb.read_at(nh, skb.data - nh + skb.len)
        saddr, daddr = _ADDRS.unpack_from(buf, 12)
        th = buf[skb.data - nh:]
    else:
        saddr, daddr = _ADDRS.unpack_from(skb.read_at(nh, 20), 12)
        th = skb.to_bytes()
    if len(th) < 20:
        kfree_skb(skb)
        return 0
    # tcp_v4_checksum_init + tcp_checksum_complete: no receive offload here, so sum it all.
    if csum_partial(th, csum_tcpudp_nofold(saddr, daddr, len(th), IPPROTO_TCP)) != 0xFFFF:
        host.mib["Tcp"]["InCsumErrors"] += 1
        host.mib["Tcp"]["InErrs"] += 1
        kfree_skb(skb, "TCP_CSUM")
        return 0
    cb = tcp_parse_segment(skb, th)
    cb["saddr"], cb["daddr"] = saddr, daddr
    skb.cb = cb
    sk = __inet_lookup_established(host, saddr, cb["source"], daddr, cb["dest"])
    if sk is None:
        host.mib["TcpExt"]["TCPNoSocket"] += 1  # Linux answers with a RST (not modelled)
        kfree_skb(skb)
        return 0
    host.mib["Tcp"]["InSegs"] += 1
    if sk.sk_state == TCP_TIME_WAIT:
        assert isinstance(sk, InetTimewaitSock)
        return do_time_wait(host, sk, skb)
    assert isinstance(sk, TcpSock)
    if not sk.owned:
        tcp_v4_do_rcv(sk, skb)
    elif tcp_add_backlog(sk, skb):
        kfree_skb(skb, "SOCKET_BACKLOG")  # discard_and_relse
    return 0


def do_time_wait(host: Host, tw: InetTimewaitSock, skb: SkBuff) -> int:
    """tcp_v4_rcv's do_time_wait: act on tcp_timewait_state_process's verdict."""
    verdict = tcp_timewait_state_process(tw, skb)
    if verdict in (TCP_TW_ACK, TCP_TW_ACK_OOW, TCP_TW_SYN):  # no listener: a SYN is ACKed too
        tcp_v4_timewait_ack(tw, skb)
    elif verdict == TCP_TW_RST:
        host.mib["Tcp"]["OutRsts"] += 1  # tcp_v4_send_reset: the RST itself is not modelled
        inet_twsk_deschedule_put(tw)
    kfree_skb(skb)
    return 0


def tcp_add_backlog(sk: TcpSock, skb: SkBuff) -> bool:
    """The user owns the socket: queue the segment for release_sock, coalescing it into the
    backlog's tail when it continues it with the same flags and options (so a train of pure
    ACKs becomes one, carrying the latest ack_seq and window). True: drop it (backlog full)."""
    cb = skb.cb
    tail = sk.sk_backlog.tail
    if tail is not None:
        tcb = tail.cb
        if (tcb["end_seq"] == cb["seq"]
                and tcb.get("ip_dsfield", 0) == cb.get("ip_dsfield", 0)
                and not (tcb["tcp_flags"] | cb["tcp_flags"]) & (TCPHDR_SYN | TCPHDR_RST | TCPHDR_URG)
                and (tcb["tcp_flags"] & cb["tcp_flags"]) & TCPHDR_ACK
                and not (tcb["tcp_flags"] ^ cb["tcp_flags"]) & (TCPHDR_ECE | TCPHDR_CWR)
                and tcb["options"] == cb["options"]):
            # skb_try_coalesce: the payload joins the tail's (a pure ACK adds nothing)
            delta = 0
            if cb["payload"]:
                tcb["payload"] = tcb["payload"] + cb["payload"]
                delta = skb.truesize  # the head is stolen, its truesize moves to the tail
            tcb["end_seq"] = cb["end_seq"]
            if not before(cb["ack_seq"], tcb["ack_seq"]):
                tcb["ack_seq"] = cb["ack_seq"]
                tcb["window"] = cb["window"]
            tcb["tcp_flags"] |= cb["tcp_flags"]
            sk.sk_backlog.len += delta
            sk.host.mib["TcpExt"]["TCPBacklogCoalesce"] += 1
            kfree_skb(skb)
            return False
    # Linux 6.10+: twice the receive buffer (the backlog's len is only zeroed at the end of
    # __release_sock), half the send buffer, and some headroom.
    limit = min((sk.sk_rcvbuf << 1) + (sk.sk_sndbuf >> 1) + 64 * 1024, U32)
    if sk_add_backlog(sk, skb, limit):
        sk.host.mib["TcpExt"]["TCPBacklogDrop"] += 1
        return True
    return False


def tcp_v4_do_rcv(sk: TcpSock, skb: SkBuff) -> int:
    k = sk.kernel
    k.charge(k.cost.tcp_v4_do_rcv)  # in softirq, or in release_sock's process context (sy)
    try:
        if sk.sk_state == TCP_ESTABLISHED:
            tcp_rcv_established(sk, skb)
        else:
            tcp_rcv_state_process(sk, skb)
    finally:
        kfree_skb(skb)
    return 0


def tcp_v4_send_ack(host: Host, skb: SkBuff, seq: int, ack: int, win: int, tsval: int, tsecr: int,
                    tos: int, priority: int) -> None:
    """A bare ACK in answer to `skb`, from no full socket (TIME_WAIT): TCP header with the
    timestamp option when there is one to echo, checksummed here, sent by
    ip_send_unicast_reply (IP ID 0, as Linux's control socket sends it)."""
    cb = skb.cb
    opts = b""
    if tsecr:
        opts = struct.pack("!BBBBII", 1, 1, 8, 10, tsval & U32, tsecr & U32)
    doff = (20 + len(opts)) // 4
    saddr, daddr = cb["daddr"], cb["saddr"]
    th = _TH.pack(cb["dest"], cb["source"], seq & U32, ack & U32, (doff << 12) | TCPHDR_ACK, win, 0, 0) + opts
    check = csum_fold(csum_partial(th, csum_tcpudp_nofold(saddr, daddr, len(th), IPPROTO_TCP))) or 0xFFFF
    th = th[:16] + check.to_bytes(2, "big") + th[18:]
    host.mib["Tcp"]["OutSegs"] += 1
    ip_send_unicast_reply(host, saddr, daddr, tos, IPPROTO_TCP, th, priority)


def tcp_v4_timewait_ack(tw: InetTimewaitSock, skb: SkBuff) -> None:
    tsval = (tcp_time_stamp_ts(tw) + tw.tw_ts_offset) & U32  # tcp_tw_tsval
    tcp_v4_send_ack(tw.host, skb, tw.tw_snd_nxt, tw.tw_rcv_nxt, tw.tw_rcv_wnd >> tw.tw_rcv_wscale,
                    tsval, tw.tw_ts_recent, tw.tw_tos, tw.tw_priority)


# -- ICMP errors and PMTU -------------------------------------------------------------------------


@traced
def tcp_v4_err(host: Host, skb: SkBuff, info: int) -> int:
    """An ICMP error about one of our segments (icmp.py's err_handler): skb.data is at the
    quoted IP header, the ICMP header 8 bytes before it; `info` is the next-hop MTU."""
    icmp_type, icmp_code = skb.read_at(skb.data - 8, 2)
    quoted = skb.read_at(skb.data, min(skb.headlen, 60 + 8))
    if len(quoted) < 28:
        return -errno.EINVAL
    ihl = (quoted[0] & 0xF) * 4
    saddr, daddr = struct.unpack_from("!II", quoted, 12)
    sport, dport, _seq = struct.unpack_from("!HHI", quoted, ihl)
    sk = __inet_lookup_established(host, daddr, dport, saddr, sport)
    if sk is None:
        return -errno.ENOENT
    if sk.sk_state == TCP_TIME_WAIT:
        return 0  # inet_twsk_put: nothing left to adjust
    assert isinstance(sk, TcpSock)
    if icmp_type == ICMP_DEST_UNREACH and icmp_code == ICMP_FRAG_NEEDED:
        if sk.sk_state in (TCP_SYN_SENT, TCP_CLOSE):
            return 0
        sk.mtu_info = info
        if not sk.owned:
            tcp_v4_mtu_reduced(sk)
        else:
            sk.sk_tsq_flags |= TCP_MTU_REDUCED_DEFERRED
    return 0


def inet_csk_update_pmtu(sk: TcpSock, mtu: int) -> Rtable | None:
    """dst->ops->update_pmtu on the socket's route (route.ipv4_sk_update_pmtu)."""
    return ipv4_sk_update_pmtu(sk, sk.inet_daddr, mtu)


@traced
def tcp_v4_mtu_reduced(sk: TcpSock) -> None:
    """Shrink the MSS to the new path MTU and retransmit what no longer fits."""
    if sk.sk_state == TCP_CLOSE:
        return
    mtu = sk.mtu_info
    dst = inet_csk_update_pmtu(sk, mtu)
    if dst is None:
        return
    mtu = dst_mtu(dst)
    if sk.pmtudisc != IP_PMTUDISC_DONT and sk.icsk_pmtu_cookie > mtu:
        tcp_sync_mss(sk, mtu)
        tcp_simple_retransmit(sk)


# -- struct proto and af_ops ----------------------------------------------------------------------


ipv4_specific = InetConnectionSockAfOps(
    queue_xmit=ip_queue_xmit,
    send_check=tcp_v4_send_check,
    mtu_reduced=tcp_v4_mtu_reduced,
    net_header_len=20,
)


def tcp_v4_init_sock(sk: TcpSock) -> None:
    """sk_prot->init. The timers are set up here rather than in tcp_init_sock: tcp_timer.py
    sits above tcp.py (it calls tcp_done), so tcp.py cannot reach it."""
    tcp_init_xmit_timers(sk)
    tcp_init_sock(sk)
    sk.icsk_af_ops = ipv4_specific


tcp_prot = Proto(
    name="TCP",
    obj_type=TcpSock,
    init=tcp_v4_init_sock,
    close=tcp_close,
    connect=tcp_v4_connect,
    sendmsg=tcp_sendmsg,
    backlog_rcv=tcp_v4_do_rcv,
    release_cb=tcp_release_cb,
    setsockopt=tcp_setsockopt,
    getsockopt=tcp_getsockopt,
)
