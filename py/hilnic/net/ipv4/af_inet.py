"""AF_INET glue (net/ipv4/af_inet.c, protocol.c): the protocol table and inet_init.

The IPv4 constants and header helpers live in hilnic/include (uapi/linux/in.h, net/ip.h,
linux/inet.h, ...): lower files include those instead of importing this top-of-IPv4 file.
inet_init wires the layers together the way Linux does: ip_rcv and arp_rcv into the
packet-type table (dev_add_pack), the L4 handlers into inet_protos (inet_add_protocol),
and ICMP's sender into the hooks of route/ip_output/arp (icmp_init).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hilnic.include.uapi.linux.in_ import IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP
from hilnic.kernel.ftrace import traced
from hilnic.net.core.dev import dev_add_pack, netif_receive_skb
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.skbuff import SkBuff
from hilnic.net.ipv4.arp import arp_init, arp_packet_type
from hilnic.net.ipv4.icmp import icmp_init, icmp_rcv
from hilnic.net.ipv4.ip_input import ip_packet_type
from hilnic.net.ipv4.route import ip_rt_init
from hilnic.net.ipv4.tcp_ipv4 import tcp_v4_err, tcp_v4_rcv
from hilnic.net.ipv4.udp import udp_err, udp_init, udp_rcv

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
    host.ext["ip_ident"] = 0  # __ip_select_ident state (one bucket)
    inet_add_protocol(host, NetProtocol(tcp_v4_rcv, tcp_v4_err), IPPROTO_TCP)
    inet_add_protocol(host, NetProtocol(udp_rcv, udp_err), IPPROTO_UDP)
    inet_add_protocol(host, NetProtocol(icmp_rcv, None), IPPROTO_ICMP)
    dev_add_pack(arp_packet_type)
    dev_add_pack(ip_packet_type)
    host.kernel.rx_handler = netif_receive_skb
    host.ext["inet_ready"] = True
