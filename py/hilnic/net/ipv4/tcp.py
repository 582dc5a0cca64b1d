"""TCP socket layer (net/ipv4/tcp.c): tcp_sendmsg_locked, tcp_push and autocorking, the
state changes (tcp_set_state, tcp_done), close, socket options and the tcp_info snapshot.
"""

from __future__ import annotations

import errno
from typing import Any

import numpy as np

from hilnic.include.linux.socket import (
    MSG_DONTWAIT,
    MSG_EOR,
    MSG_MORE,
    MSG_OOB,
    MSG_ZEROCOPY,
    SOL_TCP,
)
from hilnic.include.uapi.linux.tcp import (
    TCP_CA_NAME_MAX,
    TCP_CONGESTION,
    TCP_CORK,
    TCP_INFO,
    TCP_NODELAY,
)
from hilnic.kernel.ftrace import traced
from hilnic.net.core.netdev_features import NETIF_F_SG
from hilnic.net.core.skbuff import (
    MAX_SKB_FRAGS,
    PAGE_SIZE,
    Page,
    SkbFrag,
    SkBuff,
    host_mem,
    kfree_skb,
    skb_stats,
)
from hilnic.net.core.sock import (
    SEND_SHUTDOWN,
    SOCK_NOSPACE,
    SOCK_ZEROCOPY,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_LAST_ACK,
    TCP_STATE_NAMES,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TSQ_THROTTLED,
    TCP_CA_Open,
    TcpSock,
    UbufInfo,
    __release_sock,
    lock_sock,
    msg_zerocopy_realloc,
    release_sock,
    sk_flush_backlog,
    sk_page_frag_refill,
    sk_stream_memory_free,
    sk_stream_wait_memory,
    sk_stream_write_space,
    sock_orphan,
)
from hilnic.net.ipv4.ip_sockglue import ip_getsockopt, ip_setsockopt
from hilnic.net.ipv4.tcp_cong import (
    tcp_assign_congestion_control,
    tcp_set_congestion_control,
)
from hilnic.net.ipv4.tcp_minisocks import tcp_time_wait
from hilnic.net.ipv4.tcp_output import (
    TCP_FIN_TIMEOUT,
    TCP_INFINITE_SSTHRESH,
    TCP_INIT_CWND,
    TCP_MSS_DEFAULT,
    TCP_NAGLE_CORK,
    TCP_NAGLE_OFF,
    TCP_NAGLE_PUSH,
    TCP_TIMEOUT_INIT,
    TCP_TIMEWAIT_LEN,
    TCPHDR_ACK,
    TCPHDR_PSH,
    U32,
    __skb_header_release,
    __tcp_push_pending_frames,
    after,
    tcp_bound_to_half_wnd,
    tcp_current_mss,
    tcp_done,
    tcp_push_one,
    tcp_push_pending_frames,
    tcp_rtx_queue_unlink_and_free,
    tcp_send_fin,
    tcp_set_state,
    tcp_stream_alloc_skb,
)
from hilnic.net.ipv4.tcp_rate import tcp_rate_check_app_limited


class MsgIter:
    """iov_iter over the user's buffers (ITER_UBUF for send, ITER_IOVEC for sendmsg)."""

    __slots__ = ("bufs", "idx", "left", "off", "pos")

    def __init__(self, bufs: list[memoryview]) -> None:
        self.bufs = bufs
        self.idx = 0
        self.off = 0
        self.left = sum(len(b) for b in bufs)
        self.pos = 0  # bytes consumed (the user address offset, for zerocopy pages)

    def take(self, n: int) -> list[memoryview]:
        """Advance by n bytes; the pieces, as views of the user's memory."""
        out = []
        self.left -= n
        self.pos += n
        while n:
            b = self.bufs[self.idx]
            k = min(n, len(b) - self.off)
            out.append(b[self.off:self.off + k])
            self.off += k
            n -= k
            if self.off == len(b):
                self.idx += 1
                self.off = 0
        return out


def _copy_to_host(addr: int, pieces: list[memoryview]) -> None:
    """copy_from_iter into host RAM: the user → kernel copy, one numpy slice per piece."""
    mem = host_mem()
    arr = mem.mem
    off = addr - mem.base
    for p in pieces:
        n = len(p)
        arr[off:off + n] = np.frombuffer(p, dtype=np.uint8)
        off += n


# -- sock setup -------------------------------------------------------------------------------


def tcp_init_sock(sk: TcpSock) -> None:
    """Linux's initial values (tcp_v4_init_sock calls this, then sets the af_ops)."""
    tp = sk
    sk.icsk_rto = TCP_TIMEOUT_INIT
    sk.icsk_rto_min = 200
    tp.mdev_us = 1_000_000  # jiffies_to_usecs(TCP_TIMEOUT_INIT)
    tp.snd_cwnd = TCP_INIT_CWND
    tp.snd_ssthresh = TCP_INFINITE_SSTHRESH
    tp.snd_cwnd_clamp = 0xFFFFFFFF
    tp.mss_cache = TCP_MSS_DEFAULT
    tp.reordering = 3
    tcp_assign_congestion_control(sk)
    tp.autocorking = 1
    sk.tcp_rtx_queue = []
    sk.sk_write_space = sk_stream_write_space


def tcp_write_queue_purge(sk: TcpSock) -> None:
    while sk.sk_write_queue:
        skb = sk.sk_write_queue.popleft()
        sk.sk_wmem_queued -= skb.truesize
        kfree_skb(skb)
    while sk.tcp_rtx_queue:
        tcp_rtx_queue_unlink_and_free(sk.tcp_rtx_queue[0], sk)
    sk.packets_out = sk.retrans_out = sk.lost_out = sk.sacked_out = 0


# -- size goal and push -----------------------------------------------------------------------------


def tcp_xmit_size_goal(sk: TcpSock, mss_now: int, large_allowed: bool) -> int:
    """gso_segs·mss with gso_segs = min(half-window-bounded gso_max_size/mss, gso_max_segs)."""
    tp = sk
    if not large_allowed:
        return mss_now
    new_size_goal = tcp_bound_to_half_wnd(tp, sk.sk_gso_max_size)
    size_goal = tp.gso_segs * mss_now
    if new_size_goal < size_goal or new_size_goal >= size_goal + mss_now:
        tp.gso_segs = min(new_size_goal // mss_now, sk.sk_gso_max_segs)
        size_goal = tp.gso_segs * mss_now
    return max(size_goal, mss_now)


def tcp_send_mss(sk: TcpSock, flags: int) -> tuple[int, int]:
    mss_now = tcp_current_mss(sk)
    return mss_now, tcp_xmit_size_goal(sk, mss_now, not flags & MSG_OOB)


def forced_push(tp: TcpSock) -> bool:
    return after(tp.write_seq, (tp.pushed_seq + (tp.max_window >> 1)) & U32)


def tcp_mark_push(tp: TcpSock, skb: SkBuff) -> None:
    skb.cb["tcp_flags"] |= TCPHDR_PSH
    tp.pushed_seq = tp.write_seq


def tcp_skb_entail(sk: TcpSock, skb: SkBuff) -> None:
    """Queue a fresh skb at the write-queue tail; the original gives up its header area."""
    cb = skb.cb
    cb["seq"] = cb["end_seq"] = sk.write_seq
    cb["tcp_flags"] = TCPHDR_ACK
    __skb_header_release(skb)
    sk.sk_write_queue.append(skb)
    sk.sk_wmem_queued += skb.truesize
    if sk.nonagle & TCP_NAGLE_PUSH:
        sk.nonagle &= ~TCP_NAGLE_PUSH


def tcp_should_autocork(sk: TcpSock, skb: SkBuff, size_goal: int) -> bool:
    """Hold a small write while an earlier clone is still below TCP (qdisc or driver)."""
    return (
        skb.len < size_goal
        and bool(sk.host.sysctl.tcp_autocorking)
        and bool(sk.tcp_rtx_queue)
        and sk.sk_wmem_alloc > skb.truesize
        and not skb.cb["eor"]
    )


@traced
def tcp_push(sk: TcpSock, flags: int, mss_now: int, nonagle: int, size_goal: int) -> None:
    q = sk.sk_write_queue
    if not q:
        return
    skb = q[-1]
    if not flags & MSG_MORE or forced_push(sk):
        tcp_mark_push(sk, skb)
    if tcp_should_autocork(sk, skb, size_goal):
        if not sk.sk_tsq_flags & TSQ_THROTTLED:
            sk.host.mib["TcpExt"]["TCPAutoCorking"] += 1
            sk.sk_tsq_flags |= TSQ_THROTTLED
        if sk.sk_wmem_alloc > skb.truesize:  # TX completion may have happened meanwhile
            return
    if flags & MSG_MORE:
        nonagle = TCP_NAGLE_CORK
    __tcp_push_pending_frames(sk, mss_now, nonagle)


def tcp_remove_empty_skb(sk: TcpSock) -> None:
    q = sk.sk_write_queue
    if q and q[-1].len == 0:
        skb = q.pop()
        sk.sk_wmem_queued -= skb.truesize
        kfree_skb(skb)


# -- sendmsg --------------------------------------------------------------------------------------


async def sk_stream_wait_connect(sk: TcpSock, nonblock: bool) -> None:
    while True:
        if sk.sk_err:
            err, sk.sk_err = sk.sk_err, 0
            raise OSError(err, errno.errorcode.get(err, "error"))
        if sk.sk_state not in (TCP_SYN_SENT, TCP_SYN_RECV):
            raise OSError(errno.EPIPE, "Broken pipe")
        if nonblock:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        wq = sk.sk_wq
        release_sock(sk)
        await sk.kernel.wait_event(wq)
        lock_sock(sk)
        if sk.sk_state in (TCP_ESTABLISHED, TCP_CLOSE_WAIT):
            return


class _UserPages:
    """The user's buffer as 4 KiB pages for MSG_ZEROCOPY (what get_user_pages would pin)."""

    __slots__ = ("base", "it", "pages")

    def __init__(self, it: MsgIter) -> None:
        self.it = it
        self.pages: dict[int, Page] = {}
        self.base = it.pos

    def page_for(self, upos: int) -> tuple[Page, int]:
        idx, off = divmod(upos - self.base, PAGE_SIZE)
        page = self.pages.get(idx)
        if page is None:
            page = self.pages[idx] = Page(PAGE_SIZE)
            page.refcount = 0  # only the frags hold it (pinned while an skb references it)
        return page, off


def skb_zerocopy_iter_stream(sk: TcpSock, skb: SkBuff, it: MsgIter, copy: int, uarg: UbufInfo,
                             upages: _UserPages) -> int:
    """Attach the user's pages as frags (no copy by the kernel); -EMSGSIZE when frags are
    full, -EEXIST when the skb already belongs to another notification range."""
    sh = skb.shinfo
    orig = sh.destructor_arg
    if orig is not None and orig is not uarg:
        return -errno.EEXIST
    done = 0
    frags = sh.frags
    truesize = 0
    while done < copy:
        page, off = upages.page_for(it.pos)
        n = min(copy - done, PAGE_SIZE - off)
        last = frags[-1] if frags else None
        if last is not None and last.page is page and last.offset + last.size == off:
            last.size += n
        else:
            if len(frags) >= MAX_SKB_FRAGS:
                break
            page.get_page()
            frags.append(SkbFrag(page, off, n))
            truesize += PAGE_SIZE
        _copy_to_host(page.addr + off, it.take(n))  # the bytes are the user's page contents
        done += n
    if not done:
        return -errno.EMSGSIZE
    if orig is None:
        sh.destructor_arg = uarg.get()  # skb_zcopy_set
    skb.len += done
    skb.data_len += done
    skb.truesize += truesize
    sk.sk_wmem_queued += truesize
    return done


@traced
async def tcp_sendmsg_locked(sk: TcpSock, bufs: list[memoryview], flags: int) -> int:
    """Copy user data into the write queue's page frags and push (docs/linux-tx-path.md §2)."""
    tp = sk
    it = MsgIter(bufs)
    size = it.left
    nonblock = bool(flags & MSG_DONTWAIT)
    uarg: UbufInfo | None = None
    zc = 0
    upages = None
    if flags & MSG_ZEROCOPY and size and sk.sock_flag(SOCK_ZEROCOPY):
        tail = sk.sk_write_queue[-1] if sk.sk_write_queue else None
        uarg = msg_zerocopy_realloc(sk, size, tail.shinfo.destructor_arg if tail is not None else None)
        if sk.sk_route_caps & NETIF_F_SG:
            zc = MSG_ZEROCOPY
            upages = _UserPages(it)
        else:
            uarg.zerocopy = False
    copied = 0
    tcp_rate_check_app_limited(sk)  # is sending application-limited?
    try:
        if sk.sk_state not in (TCP_ESTABLISHED, TCP_CLOSE_WAIT):
            await sk_stream_wait_connect(sk, nonblock)
        mss_now, size_goal = tcp_send_mss(sk, flags)
        if sk.sk_err or sk.sk_shutdown & SEND_SHUTDOWN:
            raise OSError(errno.EPIPE, "Broken pipe")
        pfrag = sk.sk_page_frag
        max_frags = sk.host.sysctl.tcp_max_skb_frags
        wq = sk.sk_write_queue
        process_backlog = 0
        while it.left:
            skb = wq[-1] if wq else None
            copy = size_goal - skb.len if skb is not None else 0
            new_segment = skb is None or copy <= 0 or bool(skb.cb["eor"])  # tcp_skb_can_collapse_to
            restart = False
            while True:
                if new_segment:
                    if not sk_stream_memory_free(sk):
                        break  # wait_for_space
                    if process_backlog >= 16:
                        # Every 16 new skbs, let the ACKs that queued up meanwhile in.
                        process_backlog = 0
                        if sk_flush_backlog(sk):
                            restart = True
                            break
                    skb = tcp_stream_alloc_skb(sk)
                    process_backlog += 1
                    tcp_skb_entail(sk, skb)
                    copy = size_goal
                    new_segment = False
                assert skb is not None
                copy = min(copy, it.left)
                if zc == 0:
                    sk_page_frag_refill(sk, pfrag)
                    page = pfrag.page
                    assert page is not None
                    frags = skb.shinfo.frags
                    i = len(frags)
                    last = frags[-1] if i else None
                    merge = last is not None and last.page is page and last.offset + last.size == pfrag.offset
                    if not merge and i >= max_frags:
                        tcp_mark_push(tp, skb)
                        new_segment = True
                        continue
                    copy = min(copy, pfrag.size - pfrag.offset)
                    _copy_to_host(page.addr + pfrag.offset, it.take(copy))  # skb_copy_to_page_nocache
                    skb_stats.user_copy_bytes += copy
                    skb.len += copy
                    skb.data_len += copy
                    skb.truesize += copy
                    sk.sk_wmem_queued += copy
                    if merge and last is not None:
                        last.size += copy
                    else:
                        frags.append(SkbFrag(page, pfrag.offset, copy))
                        page.get_page()
                    pfrag.offset += copy
                else:
                    assert uarg is not None and upages is not None  # zc is set with them
                    err = skb_zerocopy_iter_stream(sk, skb, it, copy, uarg, upages)
                    if err in (-errno.EMSGSIZE, -errno.EEXIST):
                        tcp_mark_push(tp, skb)
                        new_segment = True
                        continue
                    copy = err
                break
            if restart:
                mss_now, size_goal = tcp_send_mss(sk, flags)
                if sk.sk_err or sk.sk_shutdown & SEND_SHUTDOWN:
                    raise OSError(errno.EPIPE, "Broken pipe")
                continue
            if new_segment:
                # wait_for_space: push what we have, then block (or EAGAIN)
                sk.sk_flags.add(SOCK_NOSPACE)
                tcp_remove_empty_skb(sk)
                if copied:
                    tcp_push(sk, flags & ~MSG_MORE, mss_now, TCP_NAGLE_PUSH, size_goal)
                await sk_stream_wait_memory(sk, nonblock)
                mss_now, size_goal = tcp_send_mss(sk, flags)
                continue
            assert skb is not None  # the inner loop left with a segment to fill
            cb = skb.cb
            if not copied:
                cb["tcp_flags"] &= ~TCPHDR_PSH
            tp.write_seq = (tp.write_seq + copy) & U32
            cb["end_seq"] = (cb["end_seq"] + copy) & U32
            cb["pcount"] = 0
            copied += copy
            if zc == 0:
                # The copy takes CPU time with the socket owned: what arrives meanwhile
                # waits on the backlog (kernel/cost.py).
                k = sk.kernel
                k.charge(k.cost.copy(copy))
                await k.cpu_pay()
            if not it.left:
                if flags & MSG_EOR:
                    cb["eor"] = 1
                break
            if skb.len < size_goal or flags & MSG_OOB:
                continue
            if forced_push(tp):
                tcp_mark_push(tp, skb)
                __tcp_push_pending_frames(sk, mss_now, TCP_NAGLE_PUSH)
            elif wq and skb is wq[0]:
                tcp_push_one(sk, mss_now)
    except OSError:
        tcp_remove_empty_skb(sk)
        if not copied:
            if uarg is not None:
                uarg.zerocopy = False
                uarg.put()
            raise
        mss_now, size_goal = tcp_send_mss(sk, flags)
    if copied:
        tcp_push(sk, flags, mss_now, tp.nonagle, size_goal)
    if uarg is not None:
        uarg.put()  # net_zcopy_put: the call's own reference
    return copied


@traced
async def tcp_sendmsg(sk: TcpSock, bufs: list[memoryview], flags: int, _msg_name: object = None) -> int:
    """sk_prot->sendmsg; msg_name (a sendto address) is ignored on a stream, as in Linux.

    The socket is owned for the whole call (lock_sock .. release_sock), which takes the
    time kernel/cost.py gives a send(): per call, plus per byte copied, plus the push down to
    the driver. ACKs arriving in that time are queued on the backlog (tcp_add_backlog) and
    processed by release_sock."""
    k = sk.kernel
    lock_sock(sk)
    try:
        k.charge(k.cost.sendmsg_call)
        await k.cpu_pay()
        ret = await tcp_sendmsg_locked(sk, bufs, flags)
        await k.cpu_pay()  # the push, still owning the socket
        return ret
    finally:
        release_sock(sk)


# -- close ------------------------------------------------------------------------------------------


def tcp_close_state(sk: TcpSock) -> bool:
    """Move to the next close state; True when a FIN must be sent."""
    nxt = {TCP_ESTABLISHED: (TCP_FIN_WAIT1, True), TCP_CLOSE_WAIT: (TCP_LAST_ACK, True),
           TCP_SYN_SENT: (TCP_CLOSE, False), TCP_SYN_RECV: (TCP_FIN_WAIT1, True)}.get(sk.sk_state)
    if nxt is None:
        return False
    tcp_set_state(sk, nxt[0])
    return nxt[1]


def tcp_fin_time(sk: TcpSock) -> int:
    """How long an orphaned FIN_WAIT2 waits for the peer's FIN (jiffies): tcp_fin_timeout,
    at least 3.5 RTOs."""
    fin_timeout = getattr(sk.host.sysctl, "tcp_fin_timeout", TCP_FIN_TIMEOUT)
    rto = sk.icsk_rto
    return max(fin_timeout, (rto << 2) - (rto >> 1))


@traced
def tcp_close(sk: TcpSock) -> None:
    """close(): shut both directions, send FIN behind the queued data; returns at once.

    The sock is orphaned (SOCK_DEAD) and lives on for the protocol: FIN_WAIT1 until the FIN
    is ACKed, then (FIN_WAIT2, or TIME_WAIT once the peer's FIN came) a timewait sock
    (tcp_time_wait) replaces it, as in __tcp_close."""
    lock_sock(sk)
    try:
        sk.sk_shutdown = 3
        sk.sk_receive_queue.clear()
        state = sk.sk_state
        if state != TCP_CLOSE:
            if tcp_close_state(sk):
                tcp_send_fin(sk)
            elif state == TCP_SYN_SENT:
                tcp_write_queue_purge(sk)
                tcp_done(sk)
        # adjudge_to_death
        sock_orphan(sk)
        k = sk.kernel
        k.local_bh_disable()
        try:
            __release_sock(sk)  # the backlog, without releasing ownership
            if sk.sk_state == TCP_FIN_WAIT2:
                tmo = tcp_fin_time(sk)
                if tmo <= TCP_TIMEWAIT_LEN:
                    tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)
                # else inet_csk_reset_keepalive_timer(tmo - TCP_TIMEWAIT_LEN): not modelled
        finally:
            k.local_bh_enable()
    finally:
        release_sock(sk)


# -- options and info -------------------------------------------------------------------------------


def tcp_sock_set_nodelay(sk: TcpSock, on: bool) -> None:
    if on:
        sk.nonagle |= TCP_NAGLE_OFF | TCP_NAGLE_PUSH
        tcp_push_pending_frames(sk)
    else:
        sk.nonagle &= ~TCP_NAGLE_OFF


def tcp_sock_set_cork(sk: TcpSock, on: bool) -> None:
    if on:
        sk.nonagle |= TCP_NAGLE_CORK
    else:
        sk.nonagle &= ~TCP_NAGLE_CORK
        if sk.nonagle & TCP_NAGLE_OFF:
            sk.nonagle |= TCP_NAGLE_PUSH
        tcp_push_pending_frames(sk)


def tcp_get_info(sk: TcpSock) -> dict[str, Any]:
    """A struct tcp_info-like snapshot (rtt/rto in µs like `ss -ti`)."""
    return {
        "state": TCP_STATE_NAMES.get(sk.sk_state, str(sk.sk_state)),
        "ca_state": sk.icsk_ca_state,
        "cwnd": sk.snd_cwnd,
        "ssthresh": sk.snd_ssthresh,
        "srtt_us": sk.srtt_us >> 3,
        "rttvar_us": sk.mdev_us >> 2,
        "rto_us": sk.icsk_rto * 1000,
        "backoff": sk.icsk_backoff,
        "mss": sk.mss_cache,
        "packets_out": sk.packets_out,
        "retrans_out": sk.retrans_out,
        "lost_out": sk.lost_out,
        "sacked_out": sk.sacked_out,
        "total_retrans": sk.total_retrans,
        "snd_una": sk.snd_una,
        "snd_nxt": sk.snd_nxt,
        "write_seq": sk.write_seq,
        "snd_wnd": sk.snd_wnd,
        "rcv_wnd": sk.rcv_wnd,
        "sndbuf": sk.sk_sndbuf,
        "wmem_queued": sk.sk_wmem_queued,
        "wmem_alloc": sk.sk_wmem_alloc_get(),
        "pacing_rate": sk.sk_pacing_rate,
        "segs_out": sk.segs_out,
        "data_segs_out": sk.data_segs_out,
        "bytes_sent": sk.bytes_sent,
        "bytes_acked": sk.bytes_acked,
        "bytes_retrans": sk.bytes_retrans,
        "open": sk.icsk_ca_state == TCP_CA_Open,
    }


def do_tcp_setsockopt(sk: TcpSock, optname: int, value: int | str | bytes) -> None:
    if optname == TCP_CONGESTION:
        name = value.decode() if isinstance(value, bytes) else value
        if not isinstance(name, str):
            raise OSError(errno.EINVAL, "TCP_CONGESTION takes an algorithm name")
        lock_sock(sk)
        try:
            err = tcp_set_congestion_control(sk, name[:TCP_CA_NAME_MAX - 1], True)
        finally:
            release_sock(sk)
        if err:
            raise OSError(-err, f"TCP_CONGESTION {name!r}: {errno.errorcode.get(-err, err)}")
        return
    if not isinstance(value, int):
        raise OSError(errno.EINVAL, "option value must be an int")
    if optname == TCP_NODELAY:
        lock_sock(sk)
        try:
            tcp_sock_set_nodelay(sk, bool(value))
        finally:
            release_sock(sk)
        return
    if optname == TCP_CORK:
        lock_sock(sk)
        try:
            tcp_sock_set_cork(sk, bool(value))
        finally:
            release_sock(sk)
        return
    raise OSError(errno.ENOPROTOOPT, f"option {SOL_TCP}/{optname} not supported")


def tcp_setsockopt(sk: TcpSock, level: int, optname: int, value: int | str | bytes) -> None:
    """sk_prot->setsockopt: SOL_TCP here, the rest to the IP level."""
    if level != SOL_TCP:
        ip_setsockopt(sk, level, optname, value)
        return
    do_tcp_setsockopt(sk, optname, value)


def tcp_getsockopt(sk: TcpSock, level: int, optname: int) -> Any:
    if level != SOL_TCP:
        return ip_getsockopt(sk, level, optname)
    if optname == TCP_CONGESTION:
        return sk.icsk_ca_ops.name
    if optname == TCP_INFO:
        return tcp_get_info(sk)
    if optname == TCP_NODELAY:
        return int(bool(sk.nonagle & TCP_NAGLE_OFF))
    if optname == TCP_CORK:
        return int(bool(sk.nonagle & TCP_NAGLE_CORK))
    raise OSError(errno.ENOPROTOOPT, f"option {SOL_TCP}/{optname} not supported")
