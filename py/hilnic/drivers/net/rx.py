"""A NIC driver's receive half: frames from the wire into the host's stack.

The v1 NIC model transmits only, so frames the peer sends reach the host here, as a
driver's RX clean would deliver them: allocate, copy, eth_type_trans, netif_rx. The
backlog NAPI then calls the kernel's rx_handler (net/core/dev.c's netif_receive_skb).
"""

from __future__ import annotations

from hilnic.kernel.ftrace import traced
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdevice import NetDevice
from hilnic.net.core.skbuff import netdev_alloc_skb
from hilnic.net.ethernet.eth import eth_type_trans


@traced
def host_receive_frame(host: Host, dev: NetDevice, frame: bytes) -> int:
    """A frame arrives on `dev` (driver RX): copy into an skb, classify, queue to the backlog."""
    # Count what a driver would.
    dev.stats.rx_packets += 1
    dev.stats.rx_bytes += len(frame)
    skb = netdev_alloc_skb(len(frame))
    skb.skb_put_data(frame)
    skb.protocol = eth_type_trans(skb, dev)
    k = host.kernel
    return k.run_on(k.irq_cpu, k.netif_rx, skb)  # on the CPU the NIC interrupts
