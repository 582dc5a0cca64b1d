"""AF_INET glue: constants, address and header helpers, the protocol tables, inet_init.

The socket side (net/ipv4/af_inet.c): inetsw (socket type → struct proto + proto_ops),
inet_stream_ops / inet_dgram_ops, and inet_create, which net/socket.py reaches through the
AF_INET family registered here (sock_register) — net/socket.py knows no protocol.

Addresses are ints in host byte order inside the stack (what `struct.pack("!I")` writes);
the API edges also take dotted strings (`inet_addr`). Constants are the Linux uapi values
(include/uapi/linux/{in,ip,if_ether,icmp}.h).
"""

from __future__ import annotations

import errno
import socket as _pysocket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hilnic.kernel.ftrace import traced
from hilnic.lib.checksum import csum_tcpudp_nofold, ip_fast_csum  # noqa: F401  (importers move to lib.checksum)
from hilnic.net.core.sock import AF_INET as _AF_INET
from hilnic.net.core.sock import SOCK_DGRAM as _SOCK_DGRAM
from hilnic.net.core.sock import SOCK_STREAM as _SOCK_STREAM
from hilnic.net.core.sock import TCP_SYN_SENT as _TCP_SYN_SENT
from hilnic.net.core.sock import Proto, lock_sock, release_sock, sk_alloc
from hilnic.net.socket import O_NONBLOCK as _O_NONBLOCK
from hilnic.net.socket import NetProtoFamily, ProtoOps, Socket, sock_register

# include/uapi/linux/in.h
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17

IP_PMTUDISC_DONT = 0
IP_PMTUDISC_WANT = 1
IP_PMTUDISC_DO = 2
IP_PMTUDISC_PROBE = 3
IP_PMTUDISC_INTERFACE = 4
IP_PMTUDISC_OMIT = 5

# include/uapi/linux/if_ether.h
ETH_ALEN = 6
ETH_HLEN = 14
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806

# include/net/ip.h
IP_CE = 0x8000
IP_DF = 0x4000
IP_MF = 0x2000
IP_OFFSET = 0x1FFF
IP_MAX_MTU = 0xFFFF
IPHDR_LEN = 20
UDPHDR_LEN = 8
IPDEFTTL = 64

# include/linux/netdevice.h: LL_RESERVED_SPACE with HH_DATA_MOD alignment
HH_DATA_MOD = 16

# include/linux/netdevice.h: dev_queue_xmit return codes
NET_XMIT_SUCCESS = 0x00
NET_XMIT_DROP = 0x01
NET_XMIT_CN = 0x02

# sk_state values used by datagram sockets (include/net/tcp_states.h)
TCP_ESTABLISHED = 1
TCP_CLOSE = 7

# Flags (include/linux/socket.h)
MSG_OOB = 0x1
MSG_PROBE = 0x10
MSG_DONTWAIT = 0x40
MSG_MORE = 0x8000

_IPHDR = struct.Struct("!BBHHHBBHII")


def LL_RESERVED_SPACE(dev: Any) -> int:
    """Link-layer headroom rounded to HH_DATA_MOD, plus one more HH_DATA_MOD (16 for Ethernet)."""
    return ((dev.hard_header_len + getattr(dev, "needed_headroom", 0)) & ~(HH_DATA_MOD - 1)) + HH_DATA_MOD


@lru_cache(maxsize=4096)
def in_aton(text: str) -> int:
    try:
        return struct.unpack("!I", _pysocket.inet_aton(text))[0]
    except OSError:
        raise OSError(errno.EINVAL, f"invalid IPv4 address {text!r}") from None


@lru_cache(maxsize=4096)
def in_ntoa(addr: int) -> str:
    return _pysocket.inet_ntoa(struct.pack("!I", addr))


def inet_addr(addr: int | str) -> int:
    """An address as the stack keeps it (int); dotted strings are converted."""
    if type(addr) is int:
        return addr
    if isinstance(addr, str):
        return in_aton(addr)
    raise TypeError(f"IPv4 address must be int or str, not {type(addr).__name__}")


def ipv4_is_multicast(addr: int) -> bool:
    return (addr & 0xF0000000) == 0xE0000000


def ipv4_is_lbcast(addr: int) -> bool:
    return addr == 0xFFFFFFFF


def ipv4_is_loopback(addr: int) -> bool:
    return (addr & 0xFF000000) == 0x7F000000


def build_iphdr(tot_len: int, ident: int, frag_off: int, ttl: int, protocol: int, saddr: int, daddr: int, tos: int = 0) -> bytes:
    """A 20-byte IPv4 header with a valid checksum (ip_send_check)."""
    raw = _IPHDR.pack(0x45, tos, tot_len, ident & 0xFFFF, frag_off, ttl, protocol, 0, saddr, daddr)
    check = ip_fast_csum(raw)
    return raw[:10] + check.to_bytes(2, "big") + raw[12:]


@dataclass(slots=True)
class IpHdr:
    """A parsed IPv4 header (ip_hdr(skb) read-only view)."""

    ihl: int
    tos: int
    tot_len: int
    id: int
    frag_off: int
    ttl: int
    protocol: int
    check: int
    saddr: int
    daddr: int


def parse_iphdr(raw: bytes) -> IpHdr:
    vihl, tos, tot_len, ident, frag_off, ttl, proto, check, saddr, daddr = _IPHDR.unpack_from(raw)
    return IpHdr(vihl & 0xF, tos, tot_len, ident, frag_off, ttl, proto, check, saddr, daddr)


def ip_hdr(skb: Any) -> IpHdr:
    return parse_iphdr(skb.read_at(skb.network_header, IPHDR_LEN))


def ip_send_check(skb: Any) -> None:
    """Recompute the header checksum of the IP header at skb.network_header."""
    off = skb.network_header
    raw = skb.read_at(off, IPHDR_LEN)
    raw = raw[:10] + b"\0\0" + raw[12:]
    skb.write_at(off + 10, ip_fast_csum(raw).to_bytes(2, "big"))


# -- protocol table (net/ipv4/protocol.c) and inet_init (net/ipv4/af_inet.c) ------------


@dataclass(slots=True)
class NetProtocol:
    """struct net_protocol: the receive handler and the ICMP error handler of an L4 protocol."""

    handler: Callable[[Any, Any], int]  # (host, skb)
    err_handler: Callable[[Any, Any, int], int] | None  # (host, skb at the quoted IP header, info)


def inet_add_protocol(host: Any, prot: NetProtocol, protocol: int) -> None:
    host.ext.setdefault("inet_protos", {})[protocol] = prot


_tcp_ipv4: Any = None  # .tcp_ipv4: the TCP layer imports this package; bind late


def _tcp_v4_rcv(host: Any, skb: Any) -> int:
    global _tcp_ipv4
    m = _tcp_ipv4
    if m is None:
        from hilnic.net.ipv4 import tcp_ipv4 as m

        _tcp_ipv4 = m
    return m.tcp_v4_rcv(host, skb)


def _tcp_v4_err(host: Any, skb: Any, info: int) -> int:
    """skb.data at the quoted IP header, the ICMP header 8 bytes before it (transport_header)."""
    from hilnic.net.ipv4.tcp_ipv4 import tcp_v4_err

    return tcp_v4_err(host, skb, info)


@traced
def inet_init(host: Any) -> None:
    """Create the per-host IPv4 state (routes, ARP table, protocols) and hook the receive path."""
    from hilnic.net.ipv4.arp import arp_init
    from hilnic.net.ipv4.icmp import icmp_rcv
    from hilnic.net.ipv4.route import ip_rt_init
    from hilnic.net.core.rx import netif_receive_skb
    from hilnic.net.ipv4.udp import udp_err, udp_init, udp_rcv

    if "inet_protos" in host.ext and host.ext.get("inet_ready"):
        return
    ip_rt_init(host)
    arp_init(host)
    udp_init(host)
    host.ext["ip_ident"] = 0  # __ip_select_ident state (one bucket)
    inet_add_protocol(host, NetProtocol(_tcp_v4_rcv, _tcp_v4_err), IPPROTO_TCP)
    inet_add_protocol(host, NetProtocol(udp_rcv, udp_err), IPPROTO_UDP)
    inet_add_protocol(host, NetProtocol(icmp_rcv, None), IPPROTO_ICMP)
    host.kernel.rx_handler = netif_receive_skb
    host.ext["inet_ready"] = True


# -- the socket side: inetsw, proto_ops, inet_create (net/ipv4/af_inet.c) ----------------------


@dataclass(slots=True, eq=False)
class InetProtosw:
    """struct inet_protosw: which proto and proto_ops a (type, protocol) socket gets."""

    type: int
    protocol: int
    prot: Proto
    ops: ProtoOps


inetsw: dict[int, InetProtosw] = {}


def inet_register_protosw(p: InetProtosw) -> None:
    inetsw[p.type] = p


def inet_init_protosw() -> None:
    """inet_init's proto_register + inet_register_protosw over inetsw_array (once).

    Run on the first socket, not at import: the IPv4 files below still import this module
    for its constants, so importing tcp_ipv4/udp from here at load time would re-enter them."""
    if inetsw:
        return
    from hilnic.net.ipv4.tcp_ipv4 import tcp_prot
    from hilnic.net.ipv4.udp import udp_prot

    inet_register_protosw(InetProtosw(_SOCK_STREAM, IPPROTO_TCP, tcp_prot, inet_stream_ops))
    inet_register_protosw(InetProtosw(_SOCK_DGRAM, IPPROTO_UDP, udp_prot, inet_dgram_ops))


def inet_create(sock: Socket, protocol: int) -> None:
    inet_init_protosw()
    answer = inetsw.get(sock.type)
    if answer is None:
        raise OSError(errno.ESOCKTNOSUPPORT, f"socket type {sock.type} not supported")
    if protocol and protocol != answer.protocol:
        raise OSError(errno.EPROTONOSUPPORT, f"protocol {protocol} not supported")
    sock.ops = answer.ops
    sk = sk_alloc(sock.host, _AF_INET, sock.type, answer.protocol, answer.prot)
    sk.sk_socket = sock
    sock.sk = sk
    if answer.prot.init is not None:
        answer.prot.init(sk)


def inet_release(sock: Socket) -> None:
    sock.sk.sk_prot.close(sock.sk)  # type: ignore[union-attr]  # inet_create set it


async def inet_stream_connect(sock: Socket, addr: tuple[int, int], file_flags: int) -> None:
    """Send the SYN (sk_prot->connect) and sleep until ESTABLISHED (or the error)."""
    sk = sock.sk
    connect = sk.sk_prot.connect  # type: ignore[union-attr]
    assert connect is not None
    lock_sock(sk)
    try:
        connect(sk, addr[0], addr[1])
    finally:
        release_sock(sk)
    if file_flags & _O_NONBLOCK:
        raise OSError(errno.EINPROGRESS, "Operation now in progress")
    while sk.sk_state == _TCP_SYN_SENT:
        await sk.kernel.wait_event(sk.sk_wq)
    if sk.sk_state == TCP_CLOSE:
        err, sk.sk_err = sk.sk_err or errno.ECONNREFUSED, 0
        raise OSError(err, errno.errorcode.get(err, "connect failed"))


async def inet_dgram_connect(sock: Socket, addr: tuple[int, int], file_flags: int) -> None:
    """Fix the peer; the model routes each datagram at send time (no ip4_datagram_connect)."""
    sk = sock.sk
    sk.inet_daddr, sk.inet_dport = addr
    sk.sk_state = TCP_ESTABLISHED


@traced
async def inet_sendmsg(sock: Socket, bufs: list[memoryview], flags: int, address: object) -> int:
    sk = sock.sk
    if sock.type == _SOCK_STREAM and flags & MSG_OOB:
        raise OSError(errno.EOPNOTSUPP, "urgent data is not modelled")
    sent: int = await sk.sk_prot.sendmsg(sk, bufs, flags, address)  # type: ignore[union-attr]
    return sent


def sock_common_setsockopt(sock: Socket, level: int, optname: int, value: int | str | bytes) -> None:
    sock.sk.sk_prot.setsockopt(sock.sk, level, optname, value)  # type: ignore[union-attr]


def sock_common_getsockopt(sock: Socket, level: int, optname: int) -> object:
    return sock.sk.sk_prot.getsockopt(sock.sk, level, optname)  # type: ignore[union-attr]


inet_stream_ops = ProtoOps(
    family=_AF_INET,
    release=inet_release,
    connect=inet_stream_connect,
    sendmsg=inet_sendmsg,
    setsockopt=sock_common_setsockopt,
    getsockopt=sock_common_getsockopt,
)

inet_dgram_ops = ProtoOps(
    family=_AF_INET,
    release=inet_release,
    connect=inet_dgram_connect,
    sendmsg=inet_sendmsg,
    setsockopt=sock_common_setsockopt,
    getsockopt=sock_common_getsockopt,
)

inet_family_ops = NetProtoFamily(family=_AF_INET, create=inet_create)

sock_register(inet_family_ops)  # inet_init at boot: AF_INET sockets can be created from now on
