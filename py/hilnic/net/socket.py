"""The user API: socket(2), connect, send/sendmsg/sendto, setsockopt, close, recvmsg(MSG_ERRQUEUE).

Calls follow the kernel's chain with each step traced: __sys_sendto / __sys_sendmsg →
sock_sendmsg → inet_sendmsg → tcp_sendmsg (or udp_sendmsg). Methods that can block are
coroutines and must run in a process (`host.kernel.spawn`).
"""

from __future__ import annotations

import errno
from typing import Any

from hilnic.kernel.ftrace import traced
from hilnic.net.core.sock import (
    AF_INET,
    IP_PMTUDISC_DONT,
    IP_PMTUDISC_PROBE,
    IPPROTO_UDP,
    SOCK_DGRAM,
    SOCK_MIN_SNDBUF,
    SOCK_SNDBUF_LOCK,
    SOCK_STREAM,
    SOCK_ZEROCOPY,
    TCP_CLOSE,
    TCP_ESTABLISHED,
    TCP_SYN_SENT,
    Sock,
    SockExtendedErr,
    TcpSock,
    lock_sock,
    release_sock,
    sock_def_write_space,
)
from hilnic.net.ipv4.tcp import (
    MSG_DONTWAIT,
    MSG_EOR,
    MSG_ERRQUEUE,
    MSG_MORE,
    MSG_NOSIGNAL,
    MSG_OOB,
    MSG_ZEROCOPY,
    tcp_close,
    tcp_get_info,
    tcp_init_sock,
    tcp_sendmsg,
    tcp_sock_set_cork,
    tcp_sock_set_nodelay,
)

SOL_SOCKET = 1
SOL_IP = 0
SOL_TCP = 6
SO_SNDBUF = 7
SO_PRIORITY = 12
SO_ZEROCOPY = 60
IP_MTU_DISCOVER = 10
TCP_NODELAY = 1
TCP_CORK = 3
O_NONBLOCK = 0o4000
WMEM_MAX = 212992  # net.core.wmem_max

_SUPPORTED_FLAGS = MSG_DONTWAIT | MSG_MORE | MSG_ZEROCOPY | MSG_EOR | MSG_NOSIGNAL | MSG_OOB


def _ip(addr: Any) -> int:
    if isinstance(addr, int):
        if not 0 <= addr <= 0xFFFFFFFF:
            raise OSError(errno.EINVAL, f"bad IPv4 address {addr!r}")
        return addr
    try:
        parts = [int(p) for p in str(addr).split(".")]
    except ValueError:
        raise OSError(errno.EINVAL, f"bad IPv4 address {addr!r}") from None
    if len(parts) != 4 or any(not 0 <= p <= 255 for p in parts):
        raise OSError(errno.EINVAL, f"bad IPv4 address {addr!r}")
    return parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]


def _addr(address: Any) -> tuple[int, int]:
    if not isinstance(address, tuple) or len(address) != 2:
        raise OSError(errno.EINVAL, f"address must be (ip, port), not {address!r}")
    ip, port = address
    if not isinstance(port, int) or not 0 < port <= 0xFFFF:
        raise OSError(errno.EINVAL, f"bad port {port!r}")
    return _ip(ip), port


def _buffers(data: Any) -> list[memoryview]:
    try:
        mv = memoryview(data)
    except TypeError:
        raise OSError(errno.EFAULT, f"send buffer must be bytes-like, not {type(data).__name__}") from None
    return [mv.cast("B")] if mv.ndim == 1 and mv.format != "B" else [mv]


class Socket:
    """struct socket: the user's handle on a sock."""

    def __init__(self, host: Any, family: int, sock_type: int) -> None:
        self.host = host
        self.type = sock_type
        self.file_flags = 0
        if sock_type == SOCK_STREAM:
            sk: Sock = TcpSock(host)
            tcp_init_sock(sk)
        else:
            sk = Sock(host, family, SOCK_DGRAM, IPPROTO_UDP)
            sk.sk_write_space = sock_def_write_space  # sock_init_data
        sk.sk_socket = self
        self.sk = sk

    # -- connect / close --------------------------------------------------------------------------

    async def connect(self, address: tuple[Any, int]) -> None:
        """inet_stream_connect: send the SYN and sleep until ESTABLISHED (or the error)."""
        daddr, dport = _addr(address)
        sk = self.sk
        if self.type == SOCK_DGRAM:
            sk.inet_daddr, sk.inet_dport = daddr, dport
            sk.sk_state = TCP_ESTABLISHED
            return
        from hilnic.net.ipv4.tcp_ipv4 import tcp_v4_connect

        lock_sock(sk)
        try:
            tcp_v4_connect(sk, daddr, dport)
        finally:
            release_sock(sk)
        if self.file_flags & O_NONBLOCK:
            raise OSError(errno.EINPROGRESS, "Operation now in progress")
        while sk.sk_state == TCP_SYN_SENT:
            await sk.kernel.wait_event(sk.sk_wq)
        if sk.sk_state == TCP_CLOSE:
            err, sk.sk_err = sk.sk_err or errno.ECONNREFUSED, 0
            raise OSError(err, errno.errorcode.get(err, "connect failed"))

    async def close(self) -> None:
        """close(2): TCP queues a FIN behind the data and returns; the rest runs in softirq."""
        if self.type == SOCK_STREAM:
            tcp_close(self.sk)
        else:
            from hilnic.net.ipv4.udp import udp_lib_unhash

            udp_lib_unhash(self.sk)
            self.sk.sk_state = TCP_CLOSE
        self.sk.sk_socket = None

    # -- send -------------------------------------------------------------------------------------

    async def send(self, data: Any, flags: int = 0) -> int:
        return await __sys_sendto(self, _buffers(data), flags, None)

    async def sendmsg(self, buffers: list[Any], flags: int = 0) -> int:
        if not isinstance(buffers, (list, tuple)):
            raise OSError(errno.EINVAL, "sendmsg takes a list of buffers")
        if len(buffers) > 1024:  # UIO_MAXIOV
            raise OSError(errno.EMSGSIZE, "too many iovecs")
        bufs: list[memoryview] = []
        for b in buffers:
            bufs.extend(_buffers(b))
        return await __sys_sendto(self, bufs, flags, None)

    async def sendto(self, data: Any, address: tuple[Any, int] | None = None, flags: int = 0) -> int:
        return await __sys_sendto(self, _buffers(data), flags, address)

    # -- options ----------------------------------------------------------------------------------

    def setblocking(self, flag: bool) -> None:
        self.file_flags = self.file_flags & ~O_NONBLOCK if flag else self.file_flags | O_NONBLOCK

    def setsockopt(self, level: int, optname: int, value: int) -> None:
        sk = self.sk
        if not isinstance(value, int):
            raise OSError(errno.EINVAL, "option value must be an int")
        if level == SOL_SOCKET:
            if optname == SO_SNDBUF:
                # Doubled for bookkeeping overhead, as sock_setsockopt does; locks autotuning.
                val = min(max(value, 0), getattr(self.host.sysctl, "wmem_max", WMEM_MAX))
                sk.sk_userlocks |= SOCK_SNDBUF_LOCK
                sk.sk_sndbuf = max(val * 2, SOCK_MIN_SNDBUF)
                if sk.sk_write_space is not None:
                    sk.sk_write_space(sk)
                return
            if optname == SO_PRIORITY:
                if not 0 <= value <= 6:  # above 6 needs CAP_NET_ADMIN
                    raise OSError(errno.EPERM, "SO_PRIORITY above 6 needs CAP_NET_ADMIN")
                sk.sk_priority = value
                return
            if optname == SO_ZEROCOPY:
                if sk.sk_type != SOCK_STREAM and sk.sk_protocol != IPPROTO_UDP:
                    raise OSError(errno.EOPNOTSUPP, "SO_ZEROCOPY")
                if value not in (0, 1):
                    raise OSError(errno.EINVAL, "SO_ZEROCOPY takes 0 or 1")
                if value:
                    sk.sk_flags.add(SOCK_ZEROCOPY)
                else:
                    sk.sk_flags.discard(SOCK_ZEROCOPY)
                return
        elif level == SOL_IP:
            if optname == IP_MTU_DISCOVER:
                if not IP_PMTUDISC_DONT <= value <= 5:  # ... IP_PMTUDISC_OMIT
                    raise OSError(errno.EINVAL, "IP_MTU_DISCOVER out of range")
                sk.pmtudisc = value
                return
        elif level == SOL_TCP:
            if self.type != SOCK_STREAM:
                raise OSError(errno.EOPNOTSUPP, "TCP option on a non-TCP socket")
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
        raise OSError(errno.ENOPROTOOPT, f"option {level}/{optname} not supported")

    # -- receive ----------------------------------------------------------------------------------

    def recvmsg(self, flags: int = 0) -> Any:
        """Only MSG_ERRQUEUE is modelled: the oldest extended error (zerocopy notification);
        EAGAIN when the error queue is empty, as in Linux."""
        if not flags & MSG_ERRQUEUE:
            raise OSError(errno.EOPNOTSUPP, "only recvmsg(MSG_ERRQUEUE) is modelled")
        q = self.sk.sk_error_queue
        if not q:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        ee: SockExtendedErr = q.popleft()
        return ee

    def tcp_info(self) -> dict[str, Any]:
        if self.type != SOCK_STREAM:
            raise OSError(errno.EOPNOTSUPP, "tcp_info on a non-TCP socket")
        return tcp_get_info(self.sk)


def socket(host: Any, family: int = AF_INET, sock_type: int = SOCK_STREAM) -> Socket:
    """socket(2) for AF_INET stream (TCP) and datagram (UDP) sockets."""
    if family != AF_INET:
        raise OSError(errno.EAFNOSUPPORT, "only AF_INET is modelled")
    if sock_type not in (SOCK_STREAM, SOCK_DGRAM):
        raise OSError(errno.ESOCKTNOSUPPORT, f"socket type {sock_type} not supported")
    return Socket(host, family, sock_type)


# -- the syscall chain --------------------------------------------------------------------------


@traced
async def __sys_sendto(sock: Socket, bufs: list[memoryview], flags: int, address: Any) -> int:
    if flags & ~_SUPPORTED_FLAGS:
        raise OSError(errno.EOPNOTSUPP, f"unsupported send flags {flags & ~_SUPPORTED_FLAGS:#x}")
    if sock.file_flags & O_NONBLOCK:
        flags |= MSG_DONTWAIT
    return await sock_sendmsg(sock, bufs, flags, address)


@traced
async def sock_sendmsg(sock: Socket, bufs: list[memoryview], flags: int, address: Any) -> int:
    return await inet_sendmsg(sock, bufs, flags, address)


@traced
async def inet_sendmsg(sock: Socket, bufs: list[memoryview], flags: int, address: Any) -> int:
    sk = sock.sk
    if sock.type == SOCK_STREAM:
        if flags & MSG_OOB:
            raise OSError(errno.EOPNOTSUPP, "urgent data is not modelled")
        return await tcp_sendmsg(sk, bufs, flags)
    from hilnic.net.core.sock import sock_wait_for_wmem
    from hilnic.net.ipv4.udp import SndbufWait, udp_sendmsg

    addr = _addr(address) if address is not None else None
    while True:
        try:
            return udp_sendmsg(sk, bufs, flags, addr)
        except SndbufWait:
            await sock_wait_for_wmem(sk)


# Socket's methods name the syscall; inside a class body `__sys_sendto` would be name-mangled.
_Socket__sys_sendto = __sys_sendto


__all__ = [
    "socket", "Socket", "AF_INET", "SOCK_STREAM", "SOCK_DGRAM", "MSG_MORE", "MSG_DONTWAIT", "MSG_ZEROCOPY",
    "MSG_ERRQUEUE", "MSG_EOR", "MSG_NOSIGNAL", "TCP_NODELAY", "TCP_CORK", "SO_SNDBUF", "SO_PRIORITY",
    "SO_ZEROCOPY", "IP_MTU_DISCOVER", "SOL_SOCKET", "SOL_IP", "SOL_TCP", "O_NONBLOCK", "IP_PMTUDISC_PROBE",
]
