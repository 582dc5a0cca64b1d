"""The user API and the generic socket layer (net/socket.c): socket(2), connect, send/sendmsg/
sendto, setsockopt/getsockopt, close, recvmsg(MSG_ERRQUEUE).

Nothing here knows TCP or UDP. An address family registers a `NetProtoFamily` (sock_register;
af_inet does for AF_INET), whose create() gives the socket its `ProtoOps`; calls then follow
the kernel's chain, each step traced: __sys_sendto → sock_sendmsg → sock->ops->sendmsg
(inet_sendmsg) → sk->sk_prot->sendmsg (tcp_sendmsg, udp_sendmsg). Methods that can block are
coroutines and must run in a process (`host.kernel.spawn`).
"""

from __future__ import annotations

import errno
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hilnic.include.linux.socket import (
    MSG_DONTWAIT,
    MSG_EOR,
    MSG_ERRQUEUE,
    MSG_MORE,
    MSG_NOSIGNAL,
    MSG_OOB,
    MSG_ZEROCOPY,
    SOL_IP,
    SOL_SOCKET,
    SOL_TCP,
)
from hilnic.include.uapi.linux.in_ import IP_MTU_DISCOVER, IP_PMTUDISC_PROBE
from hilnic.include.uapi.linux.tcp import (
    TCP_CONGESTION,
    TCP_CORK,
    TCP_INFO,
    TCP_NODELAY,
)
from hilnic.kernel.ftrace import traced
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.sock import (
    AF_INET,
    SO_PRIORITY,
    SO_SNDBUF,
    SO_ZEROCOPY,
    SOCK_DGRAM,
    SOCK_STREAM,
    Sock,
    SockExtendedErr,
    sock_setsockopt,
)

O_NONBLOCK = 0o4000

_SUPPORTED_FLAGS = MSG_DONTWAIT | MSG_MORE | MSG_ZEROCOPY | MSG_EOR | MSG_NOSIGNAL | MSG_OOB

OptVal = int | str | bytes


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


def move_addr_to_kernel(address: object) -> tuple[int, int]:
    """The user's (ip, port) as the stack keeps it; EINVAL when malformed."""
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


@dataclass(slots=True, eq=False)
class ProtoOps:
    """struct proto_ops (include/linux/net.h): a socket type's entry points (inet_stream_ops, ...)."""

    family: int
    release: Callable[[Socket], None]
    connect: Callable[[Socket, tuple[int, int], int], Awaitable[None]]
    sendmsg: Callable[[Socket, list[memoryview], int, object], Awaitable[int]]
    setsockopt: Callable[[Socket, int, int, OptVal], None]
    getsockopt: Callable[[Socket, int, int], Any]


@dataclass(slots=True, eq=False)
class NetProtoFamily:
    """struct net_proto_family: create() attaches a sock and the ops to a new socket."""

    family: int
    create: Callable[[Socket, int], None]


net_families: dict[int, NetProtoFamily] = {}

# request_module("net-pf-%d"): where a family not yet registered comes from
_NET_PF_MODULES = {AF_INET: "hilnic.net.ipv4.af_inet"}


def sock_register(ops: NetProtoFamily) -> int:
    if ops.family in net_families:
        return -errno.EEXIST
    net_families[ops.family] = ops
    return 0


class Socket:
    """struct socket: the user's handle on a sock; `ops` and `sk` come from the family's create()."""

    ops: ProtoOps
    sk: Sock

    def __init__(self, host: Host, sock_type: int) -> None:
        self.host = host
        self.type = sock_type
        self.file_flags = 0

    # -- connect / close --------------------------------------------------------------------------

    async def connect(self, address: tuple[Any, int]) -> None:
        await self.ops.connect(self, move_addr_to_kernel(address), self.file_flags)

    async def close(self) -> None:
        """close(2) → sock_release → ops->release."""
        self.ops.release(self)
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

    def setsockopt(self, level: int, optname: int, value: OptVal) -> None:
        """__sys_setsockopt: SOL_SOCKET is the generic layer's, the rest the protocol's."""
        if level == SOL_SOCKET:
            sock_setsockopt(self.sk, optname, value)
        else:
            self.ops.setsockopt(self, level, optname, value)

    def getsockopt(self, level: int, optname: int) -> Any:
        return self.ops.getsockopt(self, level, optname)

    # -- receive ----------------------------------------------------------------------------------

    def recvmsg(self, flags: int = 0) -> SockExtendedErr:
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
        """getsockopt(SOL_TCP, TCP_INFO)."""
        if self.type != SOCK_STREAM:
            raise OSError(errno.EOPNOTSUPP, "tcp_info on a non-TCP socket")
        info: dict[str, Any] = self.getsockopt(SOL_TCP, TCP_INFO)
        return info


def socket(host: Host, family: int = AF_INET, sock_type: int = SOCK_STREAM, protocol: int = 0) -> Socket:
    """socket(2) → __sock_create: the family's create() picks the protocol (AF_INET: TCP, UDP)."""
    pf = net_families.get(family)
    if pf is None and family in _NET_PF_MODULES:
        importlib.import_module(_NET_PF_MODULES[family])  # request_module: it registers on load
        pf = net_families.get(family)
    if pf is None:
        raise OSError(errno.EAFNOSUPPORT, f"address family {family} not supported")
    sock = Socket(host, sock_type)
    pf.create(sock, protocol)
    return sock


# -- the syscall chain --------------------------------------------------------------------------


@traced
async def __sys_sendto(sock: Socket, bufs: list[memoryview], flags: int, address: object) -> int:
    if flags & ~_SUPPORTED_FLAGS:
        raise OSError(errno.EOPNOTSUPP, f"unsupported send flags {flags & ~_SUPPORTED_FLAGS:#x}")
    if sock.file_flags & O_NONBLOCK:
        flags |= MSG_DONTWAIT
    return await sock_sendmsg(sock, bufs, flags, address)


@traced
async def sock_sendmsg(sock: Socket, bufs: list[memoryview], flags: int, address: object) -> int:
    return await sock.ops.sendmsg(sock, bufs, flags, address)


# Socket's methods name the syscall; inside a class body `__sys_sendto` would be name-mangled.
_Socket__sys_sendto = __sys_sendto


__all__ = [
    "AF_INET",
    "IP_MTU_DISCOVER",
    "IP_PMTUDISC_PROBE",
    "MSG_DONTWAIT",
    "MSG_EOR",
    "MSG_ERRQUEUE",
    "MSG_MORE",
    "MSG_NOSIGNAL",
    "MSG_ZEROCOPY",
    "O_NONBLOCK",
    "SOCK_DGRAM",
    "SOCK_STREAM",
    "SOL_IP",
    "SOL_SOCKET",
    "SOL_TCP",
    "SO_PRIORITY",
    "SO_SNDBUF",
    "SO_ZEROCOPY",
    "TCP_CONGESTION",
    "TCP_CORK",
    "TCP_INFO",
    "TCP_NODELAY",
    "Socket",
    "socket",
]
