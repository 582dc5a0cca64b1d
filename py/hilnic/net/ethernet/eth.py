"""Ethernet (net/ethernet/eth.c): eth_header_ops, eth_type_trans, ether_setup, alloc_etherdev.

The neighbour layer builds link headers through dev->header_ops, so it does not import this
file: alloc_etherdev (ether_setup) gives Ethernet devices eth_header_ops.
"""

from __future__ import annotations

import errno
from typing import Any

from hilnic.include.uapi.linux.if_ether import ETH_ALEN, ETH_HLEN
from hilnic.kernel.ftrace import traced
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdevice import IFF_BROADCAST, IFF_MULTICAST, HeaderOps, NetDevice
from hilnic.net.core.skbuff import SkBuff

PACKET_HOST = 0
PACKET_BROADCAST = 1
PACKET_MULTICAST = 2
PACKET_OTHERHOST = 3
PACKET_LOOPBACK = 5

ETH_BROADCAST = b"\xff" * ETH_ALEN
ETH_ZERO = b"\0" * ETH_ALEN


def mac_bytes(addr: bytes | bytearray | str) -> bytes:
    """A MAC address as 6 bytes; "02:00:00:00:00:01" is accepted too."""
    if isinstance(addr, str):
        parts = addr.replace("-", ":").split(":")
        if len(parts) != ETH_ALEN:
            raise OSError(errno.EINVAL, f"invalid MAC address {addr!r}")
        return bytes(int(p, 16) for p in parts)
    b = bytes(addr)
    if len(b) != ETH_ALEN:
        raise OSError(errno.EINVAL, f"MAC address must be {ETH_ALEN} bytes, got {len(b)}")
    return b


def dev_mac(dev: Any) -> bytes:  # dev: a NetDevice or the loopback device (drivers/net/loopback.py)
    a = dev.dev_addr
    return a if type(a) is bytes and len(a) == ETH_ALEN else mac_bytes(a)


@traced
def eth_header(skb: SkBuff, dev: Any, type_: int, daddr: bytes | None, saddr: bytes | None, length: int) -> int:
    """dev_hard_header: push a 14-byte Ethernet header (source defaults to the device address)."""
    off = skb.skb_push(ETH_HLEN)
    skb.write_at(off, (daddr or ETH_ZERO) + (saddr or dev_mac(dev)) + type_.to_bytes(2, "big"))
    skb.mac_header = off
    return ETH_HLEN


def eth_header_cache(ha: bytes, dev: Any, type_: int) -> bytes:
    """The hh_cache contents for a resolved neighbour: dst, src, ethertype."""
    return ha + dev_mac(dev) + type_.to_bytes(2, "big")


eth_header_ops = HeaderOps(create=eth_header, cache=eth_header_cache)


@traced
def eth_type_trans(skb: SkBuff, dev: Any) -> int:
    """Set the MAC header, classify the frame (pkt_type), pull the header, return the ethertype."""
    skb.dev = dev
    skb.skb_reset_mac_header()
    hdr = skb.read_at(skb.data, ETH_HLEN)
    skb.skb_pull(ETH_HLEN)
    dst = hdr[:6]
    if dst[0] & 1:
        skb.pkt_type = PACKET_BROADCAST if dst == ETH_BROADCAST else PACKET_MULTICAST
    elif dst != dev_mac(dev):
        skb.pkt_type = PACKET_OTHERHOST
    else:
        skb.pkt_type = PACKET_HOST
    return int.from_bytes(hdr[12:14], "big")


def ether_setup(dev: NetDevice) -> None:
    """The Ethernet defaults of a new device (the rest are NetDevice's own defaults)."""
    dev.header_ops = eth_header_ops
    dev.flags = IFF_BROADCAST | IFF_MULTICAST


def alloc_etherdev_mqs(host: Host, name: str = "eth%d", txqs: int = 1) -> NetDevice:
    """alloc_netdev_mqs + ether_setup."""
    dev = NetDevice(host, name, txqs)
    ether_setup(dev)
    return dev


def alloc_etherdev(host: Host, name: str = "eth%d") -> NetDevice:
    return alloc_etherdev_mqs(host, name, 1)
