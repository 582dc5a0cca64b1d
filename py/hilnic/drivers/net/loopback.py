"""The loopback device (drivers/net/loopback.c): `lo`, the host's packets to itself.

ICMP errors about the host's own packets travel this way (routed RTN_LOCAL to lo). As in
Linux the device is per network namespace (net->loopback_dev, set by loopback_net_init);
route.c finds it there, and ip_output hands it packets through its ndo_start_xmit, so the
stack never imports this driver.
"""

from __future__ import annotations

from hilnic.include.uapi.linux.if_ether import ETH_HLEN, ETH_P_IP
from hilnic.kernel.ftrace import traced
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdevice import IFF_LOOPBACK, NetdevOps
from hilnic.net.core.skbuff import SkBuff, skb_orphan
from hilnic.net.ethernet.eth import ETH_ZERO, eth_header, eth_type_trans


class LoopbackDevice:
    """`lo`: mtu 64 KiB, no ARP, no queue; transmit is a receive (loopback_xmit)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.kernel = host.kernel
        self.name = "lo"
        self.mtu = 65536
        self.flags = IFF_LOOPBACK
        self.dev_addr = ETH_ZERO
        self.hard_header_len = ETH_HLEN
        self.needed_headroom = 0
        self.features = 0
        self.tx_packets = 0
        self.tx_bytes = 0
        self.rx_nohandler = 0
        self.netdev_ops = NetdevOps(ndo_start_xmit=loopback_xmit)  # loopback_ops

    def __repr__(self) -> str:
        return "<netdev lo>"


@traced
def loopback_xmit(skb: SkBuff, dev: LoopbackDevice) -> int:
    """Give the packet an Ethernet header, turn it around (eth_type_trans) and netif_rx it."""
    if skb.data < ETH_HLEN:
        raise RuntimeError("loopback_xmit: no room for the link header")
    eth_header(skb, dev, ETH_P_IP, ETH_ZERO, ETH_ZERO, skb.len)
    skb_orphan(skb)  # the sender's memory is released here, not when the receiver is done
    n = skb.len
    skb.protocol = eth_type_trans(skb, dev)
    dev.tx_packets += 1
    dev.tx_bytes += n
    dev.kernel.netif_rx(skb)
    return 0


def loopback_net_init(host: Host) -> LoopbackDevice:
    """Give the namespace its `lo` (once)."""
    lo = host.loopback_dev
    if lo is None:
        lo = host.loopback_dev = LoopbackDevice(host)
    return lo
