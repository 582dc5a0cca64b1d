"""Shared set-up for the IP/ARP/UDP/rx unit tests: a host with a real NetDevice whose
driver records every frame it is handed (bytes, skb metadata) and frees the skb."""

from __future__ import annotations

from dataclasses import dataclass, field

from hilnic.drivers.net.loopback import loopback_net_init
from hilnic.kernel.env import VirtualEnv
from hilnic.net.core.neighbour import NEIGH_UPDATE_F_OVERRIDE, NUD_REACHABLE, __neigh_lookup, neigh_update
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdevice import (
    NETDEV_TX_OK,
    NETIF_F_HW_CSUM,
    NETIF_F_SG,
    dev_open,
    register_netdev,
)
from hilnic.net.core.skbuff import CHECKSUM_PARTIAL, consume_skb, skb_checksum_help
from hilnic.net.core.sock import IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, Sock
from hilnic.net.ethernet.eth import alloc_etherdev
from hilnic.net.ipv4.af_inet import inet_init
from hilnic.net.ipv4.arp import ARPOP_REPLY, arp_tbl
from hilnic.net.ipv4.route import inet_ifaddr_add, ip_route_add

HOST_MAC = bytes.fromhex("020000000001")
PEER_MAC = bytes.fromhex("020000000002")
GW_MAC = bytes.fromhex("0200000000fe")
HOST_IP = "10.0.0.1"
PEER_IP = "10.0.0.2"


@dataclass
class Sent:
    frame: bytes  # what the wire would carry (checksum offload finished like the NIC would)
    ip_summed: int
    csum_offset: int
    gso_segs: int
    gso_size: int
    priority: int


@dataclass
class Rig:
    env: VirtualEnv
    host: Host
    dev: object
    sent: list[Sent] = field(default_factory=list)

    def frames(self) -> list[bytes]:
        return [s.frame for s in self.sent]

    def run(self, ms: float) -> None:
        self.env.run(until=self.env.now() + int(ms * 1_000_000_000))


def make_rig(mtu: int = 1500, features: int = NETIF_F_SG | NETIF_F_HW_CSUM, resolve_peer: bool = True) -> Rig:
    env = VirtualEnv()
    host = Host(env)
    env.run(until=0)  # start the CPU's own tasks (irq loop, ksoftirqd)
    loopback_net_init(host)
    inet_init(host)
    dev = alloc_etherdev(host, "eth0")
    dev.dev_addr = HOST_MAC
    dev.max_mtu = 9216
    dev.mtu = mtu
    dev.features = features
    dev.hw_features = features
    rig = Rig(env, host, dev)

    def ndo_start_xmit(skb, d):
        meta = (skb.ip_summed, skb.csum_offset, skb.shinfo.gso_segs, skb.shinfo.gso_size, skb.priority)
        if skb.ip_summed == CHECKSUM_PARTIAL and not skb.shinfo.gso_size:
            skb_checksum_help(skb)  # what the NIC's checksum engine would insert
        rig.sent.append(Sent(skb.to_bytes(), *meta))
        consume_skb(skb)
        return NETDEV_TX_OK

    dev.netdev_ops.ndo_start_xmit = ndo_start_xmit
    register_netdev(dev)
    dev_open(dev)
    inet_ifaddr_add(host, dev, HOST_IP, 24)
    if resolve_peer:
        resolve(host, dev, PEER_IP, PEER_MAC)
    return rig


def resolve(host, dev, ip, mac) -> None:
    """Install a REACHABLE neighbour as an ARP reply would."""
    from hilnic.include.linux.inet import in_aton

    n = __neigh_lookup(arp_tbl(host), in_aton(ip), dev, True)
    neigh_update(n, mac, NUD_REACHABLE, NEIGH_UPDATE_F_OVERRIDE)


def make_sock(host, proto: int = IPPROTO_UDP, sk_type: int = SOCK_DGRAM) -> Sock:
    return Sock(host, 2, sk_type, proto)


__all__ = ["ARPOP_REPLY", "GW_MAC", "HOST_IP", "HOST_MAC", "IPPROTO_TCP", "PEER_IP", "PEER_MAC", "Rig",
           "ip_route_add", "make_rig", "make_sock", "resolve"]
