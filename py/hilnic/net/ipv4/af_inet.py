"""AF_INET glue: constants, address and header helpers, the protocol table, inet_init.

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
