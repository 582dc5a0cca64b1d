"""struct sock / inet_sock / tcp_sock and the generic stream-memory helpers (net/core/sock.c,
net/core/stream.c, include/net/sock.h).

One `Sock` object carries the fields of struct sock and inet_sock; `TcpSock` adds
inet_connection_sock and tcp_sock. Memory accounting follows Linux: `sk_wmem_alloc` starts at
1 (the socket's own reference) and grows by the truesize of every clone handed to the IP
layer; `sk_wmem_queued` counts the truesize of the skbs TCP keeps (write + rtx queues).
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hilnic.include.linux.socket import SOL_SOCKET
from hilnic.include.net.tcp import MAX_TCP_HEADER
from hilnic.kernel.ftrace import traced
from hilnic.net.core.netdev_features import (
    NETIF_F_GSO,
    NETIF_F_GSO_SOFTWARE,
    NETIF_F_HW_CSUM,
    NETIF_F_SG,
)
from hilnic.net.core.skbuff import SIZEOF_SK_BUFF, SKB_DATA_ALIGN, Page, SkBuff

if TYPE_CHECKING:
    from hilnic.kernel.core import TimerList
    from hilnic.net.core.net_namespace import Host

# -- constants (include/uapi/linux/in.h, socket.h, include/net/sock.h) -----------------------

AF_INET = 2
SOCK_STREAM = 1
SOCK_DGRAM = 2

from hilnic.include.uapi.linux.in_ import (  # noqa: E402  (re-exported)
    IP_PMTUDISC_WANT,
    IPPROTO_TCP,
    IPPROTO_UDP,
)

# SOL_SOCKET options (include/uapi/asm-generic/socket.h)
SO_SNDBUF = 7
SO_PRIORITY = 12
SO_ZEROCOPY = 60
WMEM_MAX = 212992  # net.core.wmem_max

SOCK_SNDBUF_LOCK = 1
TCP_SKB_MIN_TRUESIZE = 2048 + SKB_DATA_ALIGN(SIZEOF_SK_BUFF)
SOCK_MIN_SNDBUF = 2 * TCP_SKB_MIN_TRUESIZE  # 4608

SEND_SHUTDOWN = 2

# sk_pacing_status (enum sk_pacing): NEEDED is TCP's internal pacing (a congestion control
# that paces, BBR, without fq below it); FQ once the fq qdisc has seen the socket's packets.
SK_PACING_NONE = 0
SK_PACING_NEEDED = 1
SK_PACING_FQ = 2

SKB_FRAG_PAGE_ORDER = 3  # get_order(32768): sk_page_frag is a 32 KiB compound page
SKB_FRAG_PAGE_SIZE = 4096 << SKB_FRAG_PAGE_ORDER

GSO_LEGACY_MAX_SIZE = 65536
GSO_MAX_SEGS = 65535

# TCP states (include/net/tcp_states.h)
TCP_ESTABLISHED = 1
TCP_SYN_SENT = 2
TCP_SYN_RECV = 3
TCP_FIN_WAIT1 = 4
TCP_FIN_WAIT2 = 5
TCP_TIME_WAIT = 6
TCP_CLOSE = 7
TCP_CLOSE_WAIT = 8
TCP_LAST_ACK = 9
TCP_LISTEN = 10
TCP_CLOSING = 11
TCP_STATE_NAMES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
    7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
}

# sk_tsq_flags (enum tsq_enum, include/linux/tcp.h), as the TCPF_* masks: bit n of the enum
TSQ_THROTTLED = 1 << 0
TSQ_QUEUED = 1 << 1
TCP_TSQ_DEFERRED = 1 << 2  # tcp_tasklet_func found the socket owned by user
TCP_WRITE_TIMER_DEFERRED = 1 << 3  # tcp_write_timer found the socket owned by user
TCP_DELACK_TIMER_DEFERRED = 1 << 4  # tcp_delack_timer found the socket owned by user
TCP_MTU_REDUCED_DEFERRED = 1 << 5  # tcp_v4_err could not call tcp_v4_mtu_reduced
TCP_DEFERRED_ALL = TCP_TSQ_DEFERRED | TCP_WRITE_TIMER_DEFERRED | TCP_DELACK_TIMER_DEFERRED | TCP_MTU_REDUCED_DEFERRED

# sock flags
SOCK_ZEROCOPY = "SOCK_ZEROCOPY"
SOCK_NOSPACE = "SOCK_NOSPACE"
SOCK_DEAD = "SOCK_DEAD"  # sock_orphan: close() let go of it


class PageFrag:
    """struct page_frag: the socket's current 32 KiB copy target."""

    __slots__ = ("offset", "page", "size")

    def __init__(self) -> None:
        self.page: Page | None = None
        self.offset = 0
        self.size = 0


def skb_page_frag_refill(sz: int, pfrag: PageFrag) -> bool:
    """Reuse the page when only we hold it, keep it while `sz` fits, else take a fresh one."""
    page = pfrag.page
    if page is not None:
        if page.refcount == 1:
            pfrag.offset = 0
            return True
        if pfrag.offset + sz <= pfrag.size:
            return True
        page.put_page()
    pfrag.offset = 0
    pfrag.page = Page(SKB_FRAG_PAGE_SIZE)
    pfrag.size = SKB_FRAG_PAGE_SIZE
    return True


def sk_page_frag_refill(sk: Sock, pfrag: PageFrag) -> bool:
    return skb_page_frag_refill(32, pfrag)


@dataclass(slots=True, eq=False)
class Proto:
    """struct proto (include/net/sock.h): a transport protocol's socket-layer entry points.
    They take the protocol's own sock type (Linux passes struct sock * and casts, tcp_sk()).

    `obj_type` stands for the slab of obj_size bytes sk_alloc takes the sock from."""

    name: str
    obj_type: type[Sock]
    close: Callable[[Any], None]
    sendmsg: Callable[..., Any]  # async (sk, bufs, flags, addr) -> bytes sent
    setsockopt: Callable[[Any, int, int, int | str | bytes], None]
    getsockopt: Callable[[Any, int, int], Any]
    init: Callable[[Any], None] | None = None
    connect: Callable[[Any, int, int], None] | None = None
    get_port: Callable[[Any, int], int] | None = None  # bind a port (0: an ephemeral one)
    backlog_rcv: Callable[[Any, SkBuff], int] | None = None
    release_cb: Callable[[Any], None] | None = None


class SkBacklog:
    """sk->sk_backlog: the skbs softirq input left while the user owned the socket, in arrival
    order (`head[-1]` is the tail), and `len`, the truesize they charge (sk_add_backlog)."""

    __slots__ = ("head", "len")

    def __init__(self) -> None:
        self.head: list[SkBuff] = []
        self.len = 0

    @property
    def tail(self) -> SkBuff | None:
        return self.head[-1] if self.head else None

    def __len__(self) -> int:
        return len(self.head)

    def __bool__(self) -> bool:
        return bool(self.head)


class Sock:
    """struct sock + struct inet_sock."""

    def __init__(self, host: Host, family: int, sk_type: int, protocol: int) -> None:
        self.host = host
        self.kernel = host.kernel
        self.sk_family = family
        self.sk_type = sk_type
        self.sk_protocol = protocol
        self.sk_state = TCP_CLOSE
        self.sk_prot: Proto | None = None
        self.sk_socket: Any = None  # the user-facing Socket (net/socket.py, a layer above)
        self.sk_flags: set[str] = set()
        self.sk_userlocks = 0
        self.sk_err = 0
        self.sk_shutdown = 0
        sysctl = host.sysctl
        # sock_init_data + tcp_init_sock: the buffers start from tcp_wmem[1] / tcp_rmem[1].
        self.sk_sndbuf = sysctl.tcp_wmem[1] if protocol == IPPROTO_TCP else getattr(sysctl, "wmem_default", 212992)
        self.sk_rcvbuf = sysctl.tcp_rmem[1] if protocol == IPPROTO_TCP else getattr(sysctl, "rmem_default", 212992)
        self.sk_wmem_alloc = 1  # refcount: 1 is the socket itself (sk_wmem_alloc_get subtracts it)
        self.sk_wmem_queued = 0
        self.sk_priority = 0
        self.sk_mark = 0
        self.sk_route_caps = 0
        self.sk_gso_type = 0
        self.sk_gso_max_size = 0
        self.sk_gso_max_segs = 0
        self.sk_pacing_rate = (1 << 64) - 1  # ~0UL until the first RTT sample
        self.sk_max_pacing_rate = (1 << 64) - 1
        self.sk_pacing_shift = 10
        self.sk_pacing_status = SK_PACING_NONE
        self.sk_page_frag = PageFrag()
        self.sk_write_queue: deque[SkBuff] = deque()
        self.sk_error_queue: deque[SockExtendedErr] = deque()
        # skbs (UDP); TCP, which frees its skbs after input, queues the in-order payload bytes
        self.sk_receive_queue: deque[Any] = deque()
        self.sk_tsq_flags = 0
        self.sk_dst_cache: Any = None
        self.sk_zckey = 0
        # lock_sock: while the process owns the socket (sk_lock.owned), softirq input goes to
        # the backlog, processed by release_sock.
        self.owned = False
        self.sk_backlog = SkBacklog()
        self.sk_backlog_rcv: Callable[[Any, SkBuff], int] | None = None  # sk_prot->backlog_rcv
        self.sk_write_space: Callable[[Sock], None] | None = None
        self.sk_wq = host.env.event("sk_wq")  # wait queue: write space / state change
        # inet_sock
        self.inet_saddr = 0
        self.inet_daddr = 0
        self.inet_sport = 0
        self.inet_dport = 0
        self.inet_id = 0
        self.pmtudisc = IP_PMTUDISC_WANT
        self.uc_ttl = -1
        self.tos = 0

    # -- helpers -------------------------------------------------------------------------

    def sk_wmem_alloc_get(self) -> int:
        return self.sk_wmem_alloc - 1

    def sock_flag(self, flag: str) -> bool:
        return flag in self.sk_flags

    def sk_wake(self) -> None:
        """wake_up_interruptible on sk_wq: a blocked process re-checks its condition."""
        wq = self.sk_wq
        wq.set()
        self.sk_wq = self.host.env.event("sk_wq")

    def __repr__(self) -> str:
        return (
            f"<sock {type(self).__name__} {_ip(self.inet_saddr)}:{self.inet_sport} -> "
            f"{_ip(self.inet_daddr)}:{self.inet_dport} {TCP_STATE_NAMES.get(self.sk_state, self.sk_state)}>"
        )


def _ip(a: int) -> str:
    return ".".join(str(a >> s & 0xFF) for s in (24, 16, 8, 0))


def dst_mtu(dst: Any) -> int:
    """ipv4_mtu via the route (route.Rtable.mtu: live learnt PMTU, metric, device MTU)."""
    return dst.mtu


@traced
def sk_setup_caps(sk: Sock, dst: Any) -> None:
    """Cache the route and derive the GSO/checksum caps (net/core/sock.c).

    TCP (sk_gso_type set) always gets GSO|GSO_SOFTWARE|SG|HW_CSUM, so it builds GSO skbs
    even on a device without TSO; software GSO in the device layer splits them.
    """
    dev = dst.dev
    sk.sk_dst_cache = dst
    sk.sk_route_caps = getattr(dev, "features", 0)
    if sk.sk_route_caps & NETIF_F_GSO:
        sk.sk_route_caps |= NETIF_F_GSO_SOFTWARE
    if sk.sk_gso_type:  # sk_is_tcp (skb_gso_type set by tcp_v4_connect)
        sk.sk_route_caps |= NETIF_F_GSO | NETIF_F_GSO_SOFTWARE | NETIF_F_SG | NETIF_F_HW_CSUM
    sk.sk_gso_max_size = 0
    sk.sk_gso_max_segs = 1
    if sk.sk_route_caps & (NETIF_F_GSO | NETIF_F_GSO_SOFTWARE):
        sk.sk_route_caps |= NETIF_F_SG | NETIF_F_HW_CSUM
        sk.sk_gso_max_size = getattr(dev, "gso_max_size", GSO_LEGACY_MAX_SIZE) - (MAX_TCP_HEADER + 1)
        sk.sk_gso_max_segs = getattr(dev, "gso_max_segs", GSO_MAX_SEGS)


def sk_alloc(host: Host, family: int, sk_type: int, protocol: int, prot: Proto) -> Sock:
    """A sock of the protocol's type, bound to its struct proto (sk_alloc + sock_init_data)."""
    sk = prot.obj_type(host, family, sk_type, protocol)
    sk.sk_prot = prot
    sk.sk_backlog_rcv = prot.backlog_rcv
    sk.sk_write_space = sock_def_write_space
    return sk


def _optval_int(value: int | str | bytes) -> int:
    if not isinstance(value, int):
        raise OSError(errno.EINVAL, "option value must be an int")
    return value


def sock_setsockopt(sk: Sock, optname: int, value: int | str | bytes) -> None:
    """SOL_SOCKET options (net/core/sock.c)."""
    val = _optval_int(value)
    if optname == SO_SNDBUF:
        # Doubled for bookkeeping overhead, as sock_setsockopt does; locks autotuning.
        val = min(max(val, 0), getattr(sk.host.sysctl, "wmem_max", WMEM_MAX))
        sk.sk_userlocks |= SOCK_SNDBUF_LOCK
        sk.sk_sndbuf = max(val * 2, SOCK_MIN_SNDBUF)
        if sk.sk_write_space is not None:
            sk.sk_write_space(sk)
        return
    if optname == SO_PRIORITY:
        if not 0 <= val <= 6:  # above 6 needs CAP_NET_ADMIN
            raise OSError(errno.EPERM, "SO_PRIORITY above 6 needs CAP_NET_ADMIN")
        sk.sk_priority = val
        return
    if optname == SO_ZEROCOPY:
        if sk.sk_type != SOCK_STREAM and sk.sk_protocol != IPPROTO_UDP:
            raise OSError(errno.EOPNOTSUPP, "SO_ZEROCOPY")
        if val not in (0, 1):
            raise OSError(errno.EINVAL, "SO_ZEROCOPY takes 0 or 1")
        if val:
            sk.sk_flags.add(SOCK_ZEROCOPY)
        else:
            sk.sk_flags.discard(SOCK_ZEROCOPY)
        return
    raise OSError(errno.ENOPROTOOPT, f"option {SOL_SOCKET}/{optname} not supported")


# -- socket lock (lock_sock / release_sock, net/core/sock.c) --------------------------------------


def sock_owned_by_user(sk: Sock) -> bool:
    return sk.owned


def lock_sock(sk: Sock) -> None:
    """The process owns the socket: softirq input is queued on sk_backlog meanwhile.

    One process per socket here: a second owner would sleep in __lock_sock in Linux; the
    model's callers never contend, so that is an error."""
    if sk.owned:
        raise RuntimeError(f"lock_sock: {sk!r} already owned (recursive lock)")
    sk.owned = True


def sk_rcvqueues_full(sk: Sock, limit: int) -> bool:
    # sk_rmem_alloc is 0: TCP's receive queue holds payload bytes, not charged skbs
    return sk.sk_backlog.len > limit


def sk_add_backlog(sk: Sock, skb: SkBuff, limit: int) -> int:
    """Queue softirq input behind the socket's owner; -ENOBUFS past `limit` bytes of truesize."""
    if sk_rcvqueues_full(sk, limit):
        return -errno.ENOBUFS
    sk.sk_backlog.head.append(skb)  # __sk_add_backlog
    sk.sk_backlog.len += skb.truesize
    return 0


def sk_backlog_rcv(sk: Sock, skb: SkBuff) -> int:
    backlog_rcv = sk.sk_backlog_rcv
    assert backlog_rcv is not None  # only a protocol with backlog_rcv queues input
    return backlog_rcv(sk, skb)


def __release_sock(sk: Sock) -> None:
    """Process the backlog, batch by batch, in process context with BH enabled (softirqs
    pending run first, and what they bring while the socket is still owned joins the next
    batch). Entered and left with BH disabled (spin_lock_bh on sk_lock.slock)."""
    k = sk.kernel
    backlog = sk.sk_backlog
    while backlog.head:
        batch, backlog.head = backlog.head, []
        k.local_bh_enable()  # spin_unlock_bh
        try:
            for skb in batch:
                sk_backlog_rcv(sk, skb)
        finally:
            k.local_bh_disable()  # spin_lock_bh
    # Zeroed only here, so a flood of input cannot keep us looping forever.
    backlog.len = 0


def release_sock(sk: Sock) -> None:
    """The owner lets go: __release_sock runs the backlog (tcp_v4_do_rcv for TCP), then the
    protocol's deferred work (sk_prot->release_cb: tcp_release_cb), then the ownership ends.
    Softirqs raised meanwhile run at the final spin_unlock_bh."""
    k = sk.kernel
    k.local_bh_disable()  # spin_lock_bh(&sk->sk_lock.slock)
    try:
        if sk.sk_backlog.tail is not None:
            __release_sock(sk)
        prot = sk.sk_prot
        if prot is not None and prot.release_cb is not None:
            prot.release_cb(sk)
    finally:
        sk.owned = False  # sock_release_ownership
        k.local_bh_enable()


def __sk_flush_backlog(sk: Sock) -> None:
    k = sk.kernel
    k.local_bh_disable()
    try:
        __release_sock(sk)
        prot = sk.sk_prot
        if prot is not None and prot.release_cb is not None:
            prot.release_cb(sk)
    finally:
        k.local_bh_enable()


def sk_flush_backlog(sk: Sock) -> bool:
    """Process the backlog without giving up ownership (tcp_sendmsg_locked every 16 skbs);
    True when there was something to process."""
    if sk.sk_backlog.tail is not None:
        __sk_flush_backlog(sk)
        return True
    return False


def sock_orphan(sk: Sock) -> None:
    """close() is done with it: the sock lives on for the protocol (FIN states, TIME_WAIT)."""
    sk.sk_flags.add(SOCK_DEAD)
    sk.sk_socket = None


# -- stream memory (net/core/stream.c) ---------------------------------------------------------


def sk_stream_memory_free(sk: Sock) -> bool:
    # tcp_stream_memory_free adds nothing: tcp_notsent_lowat defaults to UINT_MAX
    return sk.sk_wmem_queued < sk.sk_sndbuf


def sk_stream_wspace(sk: Sock) -> int:
    return sk.sk_sndbuf - sk.sk_wmem_queued


def sk_stream_min_wspace(sk: Sock) -> int:
    return sk.sk_wmem_queued >> 1


def __sk_stream_is_writeable(sk: Sock) -> bool:
    return sk_stream_wspace(sk) >= sk_stream_min_wspace(sk) and sk_stream_memory_free(sk)


@traced
def sk_stream_write_space(sk: Sock) -> None:
    """Wake a writer once a third of the buffer is free again (sk->sk_write_space)."""
    if __sk_stream_is_writeable(sk) and sk.sk_socket is not None:
        sk.sk_flags.discard(SOCK_NOSPACE)
        sk.sk_wake()


@traced
async def sk_stream_wait_memory(sk: Sock, nonblock: bool) -> None:
    """Block until the send buffer has room; EAGAIN when non-blocking, EPIPE on shutdown.

    The socket lock is released while sleeping (sk_wait_event), so ACKs queued on the
    backlog are processed and can free memory.
    """
    while True:
        if sk.sk_err or sk.sk_shutdown & SEND_SHUTDOWN:
            raise OSError(errno.EPIPE, "Broken pipe")
        if nonblock:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        if sk_stream_memory_free(sk):
            return
        sk.sk_flags.add(SOCK_NOSPACE)
        wq = sk.sk_wq
        release_sock(sk)
        if sk_stream_memory_free(sk) or sk.sk_err:  # backlog freed memory while releasing
            lock_sock(sk)
            continue
        await sk.kernel.wait_event(wq)
        lock_sock(sk)


def sock_writeable(sk: Sock) -> bool:
    return sk.sk_wmem_alloc < sk.sk_sndbuf // 2


def sock_def_write_space(sk: Sock) -> None:
    """sk->sk_write_space of datagram sockets: wake writers once half the buffer is free."""
    if sock_writeable(sk) and sk.sk_socket is not None:
        sk.sk_flags.discard(SOCK_NOSPACE)
        sk.sk_wake()


@traced
async def sock_wait_for_wmem(sk: Sock) -> None:
    """Sleep until sk_wmem_alloc < sk_sndbuf (sock_alloc_send_pskb's wait)."""
    while sk.sk_wmem_alloc >= sk.sk_sndbuf and not sk.sk_err:
        sk.sk_flags.add(SOCK_NOSPACE)
        await sk.kernel.wait_event(sk.sk_wq)


def sock_wfree(skb: SkBuff) -> None:
    """Destructor of a plain (UDP, pure-ACK) skb: give back sk_wmem_alloc, wake writers."""
    sk = skb.sk
    sk.sk_wmem_alloc -= skb.truesize
    if sk.sk_write_space is not None:
        sk.sk_write_space(sk)


def skb_set_owner_w(skb: SkBuff, sk: Sock) -> None:
    skb.sk = sk
    skb.destructor = sock_wfree
    sk.sk_wmem_alloc += skb.truesize


# -- MSG_ZEROCOPY (net/core/skbuff.c: msg_zerocopy_*) ------------------------------------------

SO_EE_ORIGIN_ZEROCOPY = 5
SO_EE_CODE_ZEROCOPY_COPIED = 1


class SockExtendedErr:
    """struct sock_extended_err as read by recvmsg(MSG_ERRQUEUE)."""

    __slots__ = ("ee_code", "ee_data", "ee_errno", "ee_info", "ee_origin", "ee_type")

    def __init__(self, ee_info: int, ee_data: int, ee_code: int) -> None:
        self.ee_errno = 0
        self.ee_origin = SO_EE_ORIGIN_ZEROCOPY
        self.ee_type = 0
        self.ee_code = ee_code
        self.ee_info = ee_info
        self.ee_data = ee_data

    def __repr__(self) -> str:
        return f"<zerocopy {self.ee_info}..{self.ee_data}{' COPIED' if self.ee_code else ''}>"


class UbufInfo:
    """struct ubuf_info_msgzc: pinned user pages covering notification ids [id, id+len).

    Each skb_shared_info that references the pages holds one reference (skbuff calls the
    object with `success` when that data is released); the send call holds one while it runs.
    """

    __slots__ = ("bytelen", "id", "len", "refcnt", "sk", "zerocopy")

    def __init__(self, sk: Sock, size: int) -> None:
        self.sk = sk
        self.id = sk.sk_zckey
        sk.sk_zckey += 1
        self.len = 1
        self.bytelen = size
        self.zerocopy = True
        self.refcnt = 1

    def get(self) -> UbufInfo:
        self.refcnt += 1
        return self

    def __call__(self, success: bool) -> None:
        """skb_zcopy_clear → net_zcopy_put: called as skbuff's destructor_arg."""
        self.zerocopy = self.zerocopy and success
        self.put()

    def put(self) -> None:
        self.refcnt -= 1
        if self.refcnt == 0:
            msg_zerocopy_callback(self)
        elif self.refcnt < 0:
            raise RuntimeError("ubuf_info refcount underflow")


def msg_zerocopy_realloc(sk: Sock, size: int, uarg: UbufInfo | None) -> UbufInfo:
    """Extend the tail skb's notification range when ids are contiguous, else start one."""
    if uarg is not None and uarg.id + uarg.len == sk.sk_zckey and uarg.bytelen + size < (1 << 31):
        uarg.len += 1
        uarg.bytelen += size
        sk.sk_zckey += 1
        return uarg.get()
    return UbufInfo(sk, size)


def msg_zerocopy_callback(uarg: UbufInfo) -> None:
    """Queue (or extend) the lo..hi notification on the error queue."""
    sk = uarg.sk
    lo, hi = uarg.id, (uarg.id + uarg.len - 1) & 0xFFFFFFFF
    code = 0 if uarg.zerocopy else SO_EE_CODE_ZEROCOPY_COPIED
    q = sk.sk_error_queue
    # skb_zerocopy_notify_extend: merge with the queued tail notification when contiguous.
    if q:
        tail = q[-1]
        if isinstance(tail, SockExtendedErr) and tail.ee_data + 1 == lo and tail.ee_code == code:
            tail.ee_data = hi
            return
    q.append(SockExtendedErr(lo, hi, code))
    sk.sk_wake()




# -- struct inet_connection_sock + struct tcp_sock --------------------------------------------

# icsk_pending (include/net/inet_connection_sock.h)
ICSK_TIME_RETRANS = 1
ICSK_TIME_DACK = 2
ICSK_TIME_PROBE0 = 3
ICSK_TIME_LOSS_PROBE = 5
ICSK_TIME_REO_TIMEOUT = 6

# icsk_ca_state (enum tcp_ca_state)
TCP_CA_Open = 0
TCP_CA_Disorder = 1
TCP_CA_CWR = 2
TCP_CA_Recovery = 3
TCP_CA_Loss = 4


# tcp_congestion_ops.flags and enum tcp_ca_event (include/net/tcp.h)
TCP_CONG_NON_RESTRICTED = 0x1
CA_EVENT_TX_START = 0
CA_EVENT_COMPLETE_CWR = 2
CA_EVENT_LOSS = 3


@dataclass(slots=True, eq=False)
class InetConnectionSockAfOps:
    """struct inet_connection_sock_af_ops: how TCP reaches its network layer (IPv4 here).

    send_check returns the th->check value (the pseudo-header sum left for the device) and
    sets csum_start/csum_offset; __tcp_transmit_skb writes it with the rest of the header."""

    queue_xmit: Callable[[TcpSock, SkBuff], int]
    send_check: Callable[[TcpSock, SkBuff], int]
    mtu_reduced: Callable[[TcpSock], None]
    net_header_len: int = 20


@dataclass(slots=True)
class AckSample:
    """struct ack_sample: what tcp_clean_rtx_queue hands to ca_ops->pkts_acked."""

    pkts_acked: int
    rtt_us: int
    in_flight: int


@dataclass(slots=True)
class RateSample:
    """struct rate_sample (include/net/tcp.h): one delivery-rate sample, filled by tcp_ack
    through tcp_rate_skb_delivered and tcp_rate_gen (net/ipv4/tcp_rate.py), read by a
    congestion control's cong_control (BBR). Times in us; -1 = no valid value."""

    prior_mstamp: int = 0  # starting timestamp for interval
    prior_delivered: int = 0  # tp->delivered at "prior_mstamp"
    prior_delivered_ce: int = 0
    delivered: int = 0  # number of packets delivered over interval
    delivered_ce: int = 0
    interval_us: int = 0  # time for tp->delivered to incr "delivered"
    snd_interval_us: int = 0
    rcv_interval_us: int = 0
    rtt_us: int = -1  # RTT of last (S)ACKed packet (or -1)
    losses: int = 0  # number of packets marked lost upon ACK
    acked_sacked: int = 0  # number of packets newly (S)ACKed upon ACK
    prior_in_flight: int = 0  # in flight before this ACK
    last_end_seq: int = 0  # end_seq of most recently ACKed packet
    is_app_limited: bool = False
    is_retrans: bool = False
    is_ack_delayed: bool = False


@dataclass(slots=True, eq=False)
class TcpCongestionOps:
    """struct tcp_congestion_ops: one congestion control algorithm (net/ipv4/tcp_cong.c
    keeps the registry). ssthresh and undo_cwnd are required, and cong_avoid or cong_control."""

    name: str
    ssthresh: Callable[[TcpSock], int]
    undo_cwnd: Callable[[TcpSock], int]
    cong_avoid: Callable[[TcpSock, int, int], None] | None = None
    set_state: Callable[[TcpSock, int], None] | None = None
    cwnd_event: Callable[[TcpSock, int], None] | None = None
    pkts_acked: Callable[[TcpSock, AckSample], None] | None = None
    cong_control: Callable[[TcpSock, int, int, RateSample], None] | None = None  # (sk, ack, flag, rs)
    init: Callable[[TcpSock], None] | None = None
    release: Callable[[TcpSock], None] | None = None
    sndbuf_expand: Callable[[TcpSock], int] | None = None  # send-buffer multiplier (default 2)
    min_tso_segs: Callable[[TcpSock], int] | None = None  # overrides sysctl tcp_min_tso_segs
    flags: int = 0


# icsk_ack.pending (enum inet_csk_ack_state_t)
ICSK_ACK_SCHED = 1
ICSK_ACK_TIMER = 2
ICSK_ACK_PUSHED = 4
ICSK_ACK_PUSHED2 = 8
ICSK_ACK_NOW = 16  # send the next ACK immediately (once)
ICSK_ACK_NOMEM = 32


class IcskAck:
    """inet_connection_sock.icsk_ack: the delayed-ACK engine's state."""

    __slots__ = ("ato", "lrcvtime", "pending", "pingpong", "quick", "rcv_mss", "retry", "timeout")

    def __init__(self) -> None:
        self.pending = 0  # ICSK_ACK_* bits
        self.quick = 0  # scheduled number of quick acks
        self.pingpong = 0  # interactive session: delay ACKs to piggyback them
        self.retry = 0
        self.ato = 0  # predicted tick of the soft clock (jiffies); 0 until data arrives
        self.timeout = 0  # jiffies the delack timer is due
        self.lrcvtime = 0
        self.rcv_mss = 0  # MSS guessed for the peer's data (tcp_initialize_rcv_mss)


# rx_opt.sack_ok bits (include/net/tcp.h)
TCP_SACK_SEEN = 1 << 0  # the peer is SACK capable
TCP_DSACK_SEEN = 1 << 2  # the peer has sent a D-SACK


class TcpRack:
    """tcp_sock.rack: RACK's state (net/ipv4/tcp_recovery.py). mstamp is in us."""

    __slots__ = ("advanced", "dsack_seen", "end_seq", "last_delivered", "mstamp", "reo_wnd_persist",
                 "reo_wnd_steps", "rtt_us")

    def __init__(self) -> None:
        self.mstamp = 0  # (re)sent time of the most recently (s)acked skb
        self.rtt_us = 0  # its RTT
        self.end_seq = 0  # its end_seq
        self.last_delivered = 0  # tp->delivered when reo_wnd was last adjusted
        self.reo_wnd_steps = 1  # allowed reordering window, in min_rtt/4 steps
        self.reo_wnd_persist = 0  # recoveries left before reo_wnd resets to one step
        self.dsack_seen = False  # a D-SACK asks reo_wnd to grow
        self.advanced = False  # mstamp advanced since the last loss detection


class TcpRxOpt:
    """struct tcp_options_received."""

    __slots__ = (
        "dsack",
        "mss_clamp",
        "rcv_tsecr",
        "rcv_tsval",
        "rcv_wscale",
        "sack_ok",
        "saw_tstamp",
        "snd_wscale",
        "ts_recent",
        "ts_recent_stamp",
        "tstamp_ok",
        "user_mss",
        "wscale_ok",
    )

    def __init__(self) -> None:
        self.saw_tstamp = False
        self.tstamp_ok = False
        self.wscale_ok = False
        self.sack_ok = 0  # TCP_SACK_SEEN | TCP_DSACK_SEEN
        self.dsack = 0  # a D-SACK block is to be sent
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.mss_clamp = 0
        self.user_mss = 0
        self.rcv_tsval = 0
        self.rcv_tsecr = 0
        self.ts_recent = 0
        self.ts_recent_stamp = 0


class TcpSock(Sock):
    """struct tcp_sock (with inet_connection_sock). Field names are the kernel's."""

    def __init__(self, host: Host, family: int = AF_INET, sk_type: int = SOCK_STREAM,
                 protocol: int = IPPROTO_TCP) -> None:
        super().__init__(host, family, sk_type, protocol)
        # inet_connection_sock (icsk_af_ops and icsk_ca_ops are set by tcp_v4_init_sock)
        self.icsk_af_ops: InetConnectionSockAfOps
        self.icsk_ca_ops: TcpCongestionOps
        self.icsk_ca_initialized = False
        self.icsk_ca_priv: Any = None  # the algorithm's private state (icsk_ca_priv[])
        self.icsk_rto = 0  # jiffies
        self.icsk_rto_min = 0
        self.icsk_backoff = 0
        self.icsk_retransmits = 0
        self.icsk_probes_out = 0
        self.icsk_pending = 0
        self.icsk_timeout = 0  # jiffies
        self.icsk_ca_state = TCP_CA_Open
        self.icsk_pmtu_cookie = 0
        self.icsk_ext_hdr_len = 0
        self.icsk_ack = IcskAck()
        self.icsk_retransmit_timer: TimerList
        self.icsk_delack_timer: TimerList
        self.icsk_delack_handler: Callable[[TcpSock], None]  # tcp_delack_timer_handler
        self.icsk_retransmit_handler: Callable[[TcpSock], None]  # tcp_write_timer_handler
        self.mtu_info = 0  # ICMP FRAG_NEEDED's MTU, for tcp_v4_mtu_reduced
        self.tcp_rtx_queue: list[SkBuff] = []
        self.icsk_mtup_search_high = 0
        # tcp_sock: sequence space
        self.write_seq = 0
        self.pushed_seq = 0
        self.snd_una = 0
        self.snd_nxt = 0
        self.snd_sml = 0
        self.snd_up = 0
        self.snd_wl1 = 0
        self.snd_wnd = 0
        self.max_window = 0
        self.rcv_nxt = 0
        self.rcv_wnd = 0
        self.rcv_wup = 0
        self.rcv_ssthresh = 0  # current window clamp (tcp_connect_init: the initial rcv_wnd)
        self.copied_seq = 0
        self.window_clamp = 0
        self.rx_opt = TcpRxOpt()
        self.tsoffset = 0
        # MSS and segmentation
        self.mss_cache = 0
        self.advmss = 0
        self.tcp_header_len = 0
        self.gso_segs = 0
        self.nonagle = 0
        self.autocorking = 1
        # congestion control and in-flight accounting
        self.packets_out = 0
        self.retrans_out = 0
        self.lost_out = 0
        self.sacked_out = 0
        self.snd_cwnd = 0
        self.snd_cwnd_cnt = 0
        self.snd_cwnd_clamp = 0
        self.snd_ssthresh = 0
        self.prior_cwnd = 0
        self.prior_ssthresh = 0
        self.prr_delivered = 0
        self.prr_out = 0
        self.delivered = 0
        self.high_seq = 0
        self.undo_marker = 0
        self.undo_retrans = -1  # retransmits not yet D-SACKed since undo_marker (-1: none sent)
        self.reordering = 3
        self.reord_seen = 0  # reordering events seen
        self.lost = 0  # total data packets lost incl. rexmits (tcp_notify_skb_loss_event)
        # loss recovery: SACK scoreboard, RACK, TLP, F-RTO (net/ipv4/tcp_input.py, tcp_recovery.py)
        self.highest_sack: SkBuff | None = None  # skb after the highest SACKed one (None: snd_nxt)
        self.is_sack_reneg = False  # the receiver reneged on SACKs: recovering from it
        self.dsack_dups = 0  # segments D-SACKed
        self.rack = TcpRack()
        self.tlp_high_seq = 0  # snd_nxt when a loss probe was sent (0: none outstanding)
        self.tlp_retrans = False  # that probe was a retransmission
        self.frto = False  # F-RTO (RFC 5682) running after this RTO
        self.is_cwnd_limited = False
        self.max_packets_out = 0
        self.cwnd_usage_seq = 0
        self.snd_cwnd_used = 0
        self.snd_cwnd_stamp = 0
        # RTT (µs; srtt_us is ×8, mdev_us ×4 as in Linux)
        self.srtt_us = 0
        self.mdev_us = 0
        self.mdev_max_us = 0
        self.rttvar_us = 0
        self.rtt_seq = 0
        self.min_rtt_us = 0  # 0 = no sample yet (minmax_get of an empty filter is ~0U)
        # clocks: tcp_mstamp in us, the others in ns
        self.tcp_mstamp = 0
        self.tcp_clock_cache = 0
        self.tcp_wstamp_ns = 0  # earliest departure time of the next packet (EDT)
        self.pacing_timer: Any = None  # hrtimer running tcp_pace_kick (tcp_init_xmit_timers)
        # delivery-rate sampling (net/ipv4/tcp_rate.py); stamps in us
        self.delivered_mstamp = 0  # time we reached "delivered"
        self.first_tx_mstamp = 0  # start of window send phase
        self.app_limited = 0  # limited until "delivered" reaches this val
        self.rate_delivered = 0  # saved rate sample: packets delivered
        self.rate_interval_us = 0  # saved rate sample: time elapsed
        self.rate_app_limited = False
        self.retrans_stamp = 0
        self.lsndtime = 0
        # counters (tcp_info)
        self.total_retrans = 0
        self.segs_out = 0
        self.data_segs_out = 0
        self.bytes_sent = 0
        self.bytes_acked = 0
        self.bytes_retrans = 0
        # connect/close waiters
        self.connect_err = 0
        self.fin_seq = 0
