"""AF_INET glue (net/ipv4/af_inet.c, protocol.c): the protocol tables and inet_init.

The socket side: inetsw (socket type → struct proto + proto_ops), inet_stream_ops /
inet_dgram_ops, and inet_create, which net/socket.py reaches through the AF_INET family
registered here (sock_register) — net/socket.py knows no protocol.

The IPv4 constants and header helpers live in hilnic/include (uapi/linux/in.h, net/ip.h,
linux/inet.h, ...): lower files include those instead of importing this top-of-IPv4 file.
inet_init wires the layers together the way Linux does: ip_rcv and arp_rcv into the
packet-type table (dev_add_pack), the L4 handlers into inet_protos (inet_add_protocol),
and ICMP's sender into the hooks of route/ip_output/arp (icmp_init).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from hilnic.include.linux.socket import MSG_OOB
from hilnic.include.net.tcp_states import TCP_CLOSE
from hilnic.include.uapi.linux.in_ import IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP
from hilnic.kernel.ftrace import traced
from hilnic.net.core.dev import dev_add_pack, netif_receive_skb
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.skbuff import SkBuff
from hilnic.net.core.sock import AF_INET, SOCK_DGRAM, SOCK_STREAM, TCP_SYN_SENT, Proto, lock_sock, release_sock, sk_alloc
from hilnic.net.ipv4.arp import arp_init, arp_packet_type
from hilnic.net.ipv4.icmp import icmp_init, icmp_rcv
from hilnic.net.ipv4.ip_input import ip_packet_type
from hilnic.net.ipv4.route import ip_rt_init
from hilnic.net.ipv4.tcp_ipv4 import tcp_prot, tcp_v4_err, tcp_v4_rcv
from hilnic.net.ipv4.udp import udp_err, udp_init, udp_prot, udp_rcv
from hilnic.net.socket import O_NONBLOCK, NetProtoFamily, ProtoOps, Socket, sock_register

# -- protocol table (net/ipv4/protocol.c) and inet_init (net/ipv4/af_inet.c) ------------


@dataclass(slots=True)
class NetProtocol:
    """struct net_protocol: the receive handler and the ICMP error handler of an L4 protocol."""

    handler: Callable[[Host, SkBuff], int]
    err_handler: Callable[[Host, SkBuff, int], int] | None  # skb at the quoted IP header


def inet_add_protocol(host: Host, prot: NetProtocol, protocol: int) -> None:
    host.ext.setdefault("inet_protos", {})[protocol] = prot


@traced
def inet_init(host: Host) -> None:
    """Create the per-host IPv4 state (routes, ARP table, protocols) and hook the receive path."""
    if "inet_protos" in host.ext and host.ext.get("inet_ready"):
        return
    ip_rt_init(host)
    arp_init(host)
    udp_init(host)
    icmp_init()
    inet_add_protocol(host, NetProtocol(tcp_v4_rcv, tcp_v4_err), IPPROTO_TCP)
    inet_add_protocol(host, NetProtocol(udp_rcv, udp_err), IPPROTO_UDP)
    inet_add_protocol(host, NetProtocol(icmp_rcv, None), IPPROTO_ICMP)
    dev_add_pack(arp_packet_type)
    dev_add_pack(ip_packet_type)
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


def inet_create(sock: Socket, protocol: int) -> None:
    answer = inetsw.get(sock.type)
    if answer is None:
        raise OSError(errno.ESOCKTNOSUPPORT, f"socket type {sock.type} not supported")
    if protocol and protocol != answer.protocol:
        raise OSError(errno.EPROTONOSUPPORT, f"protocol {protocol} not supported")
    sock.ops = answer.ops
    sk = sk_alloc(sock.host, AF_INET, sock.type, answer.protocol, answer.prot)
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
    if file_flags & O_NONBLOCK:
        raise OSError(errno.EINPROGRESS, "Operation now in progress")
    while sk.sk_state == TCP_SYN_SENT:
        await sk.kernel.wait_event(sk.sk_wq)
    if sk.sk_state == TCP_CLOSE:
        err, sk.sk_err = sk.sk_err or errno.ECONNREFUSED, 0
        raise OSError(err, errno.errorcode.get(err, "connect failed"))


async def inet_dgram_connect(sock: Socket, addr: tuple[int, int], file_flags: int) -> None:
    """Bind a port if the socket has none (inet_autobind), then sk_prot->connect
    (ip4_datagram_connect for UDP: route, source address, cached dst, random inet_id)."""
    sk = sock.sk
    prot = sk.sk_prot
    assert prot is not None and prot.connect is not None and prot.get_port is not None
    if not sk.inet_sport:
        prot.get_port(sk, 0)  # inet_autobind
    prot.connect(sk, addr[0], addr[1])


@traced
async def inet_sendmsg(sock: Socket, bufs: list[memoryview], flags: int, address: object) -> int:
    sk = sock.sk
    if sock.type == SOCK_STREAM and flags & MSG_OOB:
        raise OSError(errno.EOPNOTSUPP, "urgent data is not modelled")
    sent: int = await sk.sk_prot.sendmsg(sk, bufs, flags, address)  # type: ignore[union-attr]
    return sent


def sock_common_setsockopt(sock: Socket, level: int, optname: int, value: int | str | bytes) -> None:
    sock.sk.sk_prot.setsockopt(sock.sk, level, optname, value)  # type: ignore[union-attr]


def sock_common_getsockopt(sock: Socket, level: int, optname: int) -> object:
    return sock.sk.sk_prot.getsockopt(sock.sk, level, optname)  # type: ignore[union-attr]


inet_stream_ops = ProtoOps(
    family=AF_INET,
    release=inet_release,
    connect=inet_stream_connect,
    sendmsg=inet_sendmsg,
    setsockopt=sock_common_setsockopt,
    getsockopt=sock_common_getsockopt,
)

inet_dgram_ops = ProtoOps(
    family=AF_INET,
    release=inet_release,
    connect=inet_dgram_connect,
    sendmsg=inet_sendmsg,
    setsockopt=sock_common_setsockopt,
    getsockopt=sock_common_getsockopt,
)

inet_family_ops = NetProtoFamily(family=AF_INET, create=inet_create)

# inet_init's boot half (fs_initcall): the socket types and the family, registered once.
inet_register_protosw(InetProtosw(SOCK_STREAM, IPPROTO_TCP, tcp_prot, inet_stream_ops))
inet_register_protosw(InetProtosw(SOCK_DGRAM, IPPROTO_UDP, udp_prot, inet_dgram_ops))
sock_register(inet_family_ops)
