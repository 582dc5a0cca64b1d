"""Frames into the host, and the loopback device (drivers/net/loopback.c).

Frames from the wire reach the host through `host_receive_frame` (what a driver's RX clean
does: allocate, copy, eth_type_trans, netif_rx). The backlog NAPI then calls the kernel's
rx_handler, which inet_init sets to net/core/dev.c's `netif_receive_skb`. The loopback
device carries the host's packets to itself (ICMP errors about its own packets among them).
"""

from __future__ import annotations

from typing import Any

from hilnic.include.uapi.linux.if_ether import ETH_HLEN, ETH_P_IP
from hilnic.kernel.ftrace import traced
from hilnic.net.ethernet.eth import ETH_ZERO, eth_header, eth_type_trans
from hilnic.net.core.skbuff import netdev_alloc_skb, skb_orphan

IFF_LOOPBACK = 1 << 3


class LoopbackDevice:
    """`lo`: mtu 64 KiB, no ARP, no queue; transmit is a receive (loopback_xmit)."""

    def __init__(self, host: Any) -> None:
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

    def __repr__(self) -> str:
        return "<netdev lo>"


def loopback_dev(host: Any) -> LoopbackDevice:
    lo = host.ext.get("loopback")
    if lo is None:
        lo = host.ext["loopback"] = LoopbackDevice(host)
    return lo


@traced
def loopback_xmit(skb: Any, dev: LoopbackDevice) -> int:
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


@traced
def host_receive_frame(host: Any, dev: Any, frame: bytes) -> int:
    """A frame arrives on `dev` (driver RX): copy into an skb, classify, queue to the backlog."""
    # The NIC's receive side is outside the model (v1 NIC transmits only); count what a driver would.
    dev.stats.rx_packets += 1
    dev.stats.rx_bytes += len(frame)
    skb = netdev_alloc_skb(len(frame))
    skb.skb_put_data(frame)
    skb.protocol = eth_type_trans(skb, dev)
    return host.kernel.netif_rx(skb)
