"""IPv4 routing: interface addresses, the FIB, output route lookup, PMTU (net/ipv4/route.c).

One table per host (`host.ext["routes"]`), longest-prefix match. A lookup returns an
`Rtable` (the dst): device, gateway, type and MTU metrics. Rtables are cached per destination
like Linux's nexthop/exception caches; a table change bumps `rt_genid` and a PMTU update
kills the cached entry, so sockets holding one in `sk_dst_cache` re-route on their next
`__sk_dst_check`.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hilnic.include.linux.in_ import ipv4_is_lbcast, ipv4_is_multicast
from hilnic.include.linux.inet import inet_addr
from hilnic.include.net.ip import IP_MAX_MTU
from hilnic.include.uapi.linux.icmp import ICMP_DEST_UNREACH, ICMP_HOST_UNREACH
from hilnic.kernel.core import HZ
from hilnic.kernel.ftrace import traced
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.skbuff import SkBuff
from hilnic.net.core.sock import Sock

RTN_UNICAST = 1
RTN_LOCAL = 2
RTN_BROADCAST = 3
RTN_MULTICAST = 5

IP_RT_MIN_PMTU = 512 + 20 + 20  # net.ipv4.route.min_pmtu = 552
IP_RT_MTU_EXPIRES = 10 * 60 * HZ  # net.ipv4.route.mtu_expires = 600 s


@dataclass(slots=True)
class InIfaddr:
    """struct in_ifaddr: an address configured on a device."""

    dev: Any  # a NetDevice, or the loopback device for RTN_LOCAL
    local: int
    prefixlen: int

    @property
    def mask(self) -> int:
        return (0xFFFFFFFF << (32 - self.prefixlen)) & 0xFFFFFFFF if self.prefixlen else 0

    @property
    def broadcast(self) -> int:
        return (self.local & self.mask) | (~self.mask & 0xFFFFFFFF)


@dataclass(slots=True)
class FibRoute:
    """One route: prefix/plen via dev (and gateway), optional MTU metric (locked or not)."""

    prefix: int
    plen: int
    dev: Any  # a NetDevice, or the loopback device for RTN_LOCAL
    gateway: int = 0
    mtu: int = 0  # RTAX_MTU, 0 = none
    mtu_locked: bool = False  # RTAX_LOCK for MTU ("mtu lock N")

    @property
    def mask(self) -> int:
        return (0xFFFFFFFF << (32 - self.plen)) & 0xFFFFFFFF if self.plen else 0


@dataclass(eq=False)
class Rtable:
    """struct rtable / dst_entry for output routes."""

    host: Host
    dev: Any  # a NetDevice, or the loopback device for RTN_LOCAL
    rt_type: int
    rt_dst: int
    rt_src: int  # preferred source (fl4->saddr when the socket has none)
    rt_gw4: int = 0
    metric_mtu: int = 0
    mtu_locked: bool = False
    rt_pmtu: int = 0  # learned path MTU (exception), valid until `expires`
    expires: int = 0  # jiffies
    genid: int = 0
    obsolete: bool = False  # DST_OBSOLETE_KILL
    neigh: Any = field(default=None, repr=False)  # cached neighbour (dst->neighbour, older kernels)

    @property
    def rt_uses_gateway(self) -> bool:
        return self.rt_gw4 != 0

    @property
    def mtu(self) -> int:
        return dst_mtu(self)


def _icmp_send_unset(host: Host, skb_in: SkBuff, icmp_type: int, code: int, info: int) -> None:
    raise RuntimeError("icmp_send called before icmp_init (inet_init)")


@dataclass(slots=True)
class IcmpSender:
    """icmp_send as route.c, ip_output.c and (through dst_link_failure) arp.c reach it.

    Linux calls net/ipv4/icmp.c directly from those files while icmp.c calls back into
    route and ip_output; here icmp sits above them and registers its sender (icmp_init).
    """

    icmp_send: Callable[[Host, SkBuff, int, int, int], None] = _icmp_send_unset


ip_icmp = IcmpSender()


def ipv4_link_failure(host: Host, skb: SkBuff) -> None:
    """dst_ops.link_failure (arp_error_report → dst_link_failure): tell the sender the host is unreachable."""
    ip_icmp.icmp_send(host, skb, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0)


def ip_mtu_locked(dst: Rtable) -> bool:
    return dst.mtu_locked


def dst_mtu(dst: Rtable) -> int:
    """ipv4_mtu(): a live learned PMTU, else the route metric, else the device MTU."""
    mtu = dst.rt_pmtu
    if not mtu or (dst.expires and dst.host.kernel.jiffies >= dst.expires):  # expires 0: no expiry
        mtu = dst.metric_mtu
    if not mtu:
        mtu = dst.dev.mtu
        if dst.mtu_locked and dst.rt_uses_gateway and mtu > 576:
            mtu = 576
    return min(mtu, IP_MAX_MTU)


def _tables(host: Host) -> dict[str, Any]:
    if "routes" not in host.ext:
        ip_rt_init(host)
    return host.ext


def ip_rt_init(host: Host) -> None:
    host.ext.setdefault("routes", [])
    host.ext.setdefault("ifaddrs", [])
    host.ext.setdefault("rt_cache", {})
    host.ext.setdefault("fnhe", {})  # daddr -> (pmtu, locked, expires): PMTU exceptions
    host.ext.setdefault("rt_genid", 0)


def rt_cache_flush(host: Host) -> None:
    """rt_genid_bump_ipv4: every cached route (and socket dst) becomes stale."""
    ext = _tables(host)
    ext["rt_genid"] += 1
    for rt in ext["rt_cache"].values():
        rt.obsolete = True
    ext["rt_cache"].clear()


def ip_route_add(host: Host, prefix: int | str, plen: int, dev: Any, gateway: int | str | None = None,
                 mtu: int | None = None, mtu_lock: bool = False) -> FibRoute:
    """`ip route add prefix/plen [via gateway] dev dev [mtu [lock] N]`."""
    if not 0 <= plen <= 32:
        raise OSError(errno.EINVAL, f"prefix length {plen} out of range")
    if mtu is not None and not 68 <= mtu <= IP_MAX_MTU:
        raise OSError(errno.EINVAL, f"route mtu {mtu} out of range")
    r = FibRoute(inet_addr(prefix), plen, dev, inet_addr(gateway) if gateway else 0, mtu or 0, mtu_lock)
    if r.prefix & ~r.mask & 0xFFFFFFFF:
        raise OSError(errno.EINVAL, "prefix has host bits set")
    routes = _tables(host)["routes"]
    for old in routes:
        if old.prefix == r.prefix and old.plen == r.plen:
            raise OSError(errno.EEXIST, "route exists")
    routes.append(r)
    routes.sort(key=lambda x: -x.plen)
    rt_cache_flush(host)
    return r


def inet_ifaddr_add(host: Host, dev: Any, local: int | str, prefixlen: int) -> InIfaddr:
    """`ip addr add local/prefixlen dev dev`: the address plus its prefix route (fib_add_ifaddr)."""
    ifa = InIfaddr(dev, inet_addr(local), prefixlen)
    _tables(host)["ifaddrs"].append(ifa)
    if prefixlen < 32:
        ip_route_add(host, ifa.local & ifa.mask, prefixlen, dev)
    else:
        rt_cache_flush(host)
    return ifa


def inet_addr_type_local(host: Host, addr: int) -> bool:
    return any(ifa.local == addr for ifa in _tables(host)["ifaddrs"])


def inet_select_addr(host: Host, dev: Any, dst: int = 0) -> int:
    """Preferred source on `dev`: an address in dst's subnet, else the first one, else any."""
    ifaddrs = _tables(host)["ifaddrs"]
    first = 0
    for ifa in ifaddrs:
        if ifa.dev is dev:
            if dst and (dst & ifa.mask) == (ifa.local & ifa.mask):
                return ifa.local
            first = first or ifa.local
    if first:
        return first
    return ifaddrs[0].local if ifaddrs else 0


def fib_lookup(host: Host, daddr: int) -> FibRoute | None:
    for r in _tables(host)["routes"]:  # sorted longest prefix first
        if (daddr & r.mask) == r.prefix:
            return r
    return None


@traced
def ip_route_output(host: Host, daddr: int | str, saddr: int | str = 0) -> Rtable:
    """ip_route_output_key: the output route to `daddr`; OSError(ENETUNREACH) if there is none."""
    daddr = inet_addr(daddr)
    ext = _tables(host)
    rt = ext["rt_cache"].get(daddr)
    if rt is not None and not rt.obsolete and (not rt.expires or host.kernel.jiffies < rt.expires):
        return rt
    rt = _ip_route_output_slow(host, daddr)
    ext["rt_cache"][daddr] = rt
    return rt


def _ip_route_output_slow(host: Host, daddr: int) -> Rtable:
    ext = host.ext
    genid = ext["rt_genid"]
    if inet_addr_type_local(host, daddr) or (daddr >> 24) == 127:
        lo = host.loopback_dev
        if lo is None:
            raise OSError(errno.ENETUNREACH, "no loopback device (loopback_net_init)")
        return Rtable(host, lo, RTN_LOCAL, daddr, daddr, genid=genid)
    if ipv4_is_lbcast(daddr):
        ifaddrs = ext["ifaddrs"]
        if not ifaddrs:
            raise OSError(errno.ENETUNREACH, "Network is unreachable")
        dev = ifaddrs[0].dev
        return Rtable(host, dev, RTN_BROADCAST, daddr, ifaddrs[0].local, genid=genid)
    r = fib_lookup(host, daddr)
    if r is None:
        raise OSError(errno.ENETUNREACH, "Network is unreachable")
    rt_type = RTN_UNICAST
    if ipv4_is_multicast(daddr):
        rt_type = RTN_MULTICAST
    else:
        for ifa in ext["ifaddrs"]:
            if ifa.dev is r.dev and ifa.prefixlen < 31 and daddr == ifa.broadcast:
                rt_type = RTN_BROADCAST
    rt = Rtable(host, r.dev, rt_type, daddr, inet_select_addr(host, r.dev, r.gateway or daddr),
                rt_gw4=r.gateway, metric_mtu=r.mtu, mtu_locked=r.mtu_locked, genid=genid)
    exc = ext["fnhe"].get(daddr)
    if exc is not None:
        pmtu, locked, expires = exc
        if host.kernel.jiffies < expires:
            rt.rt_pmtu, rt.expires = pmtu, expires
            rt.mtu_locked = rt.mtu_locked or locked
        else:
            del ext["fnhe"][daddr]
    return rt


def ip_route_output_ports(host: Host, sk: Sock, daddr: int | str, saddr: int | str, dport: int, sport: int, proto: int) -> Rtable:
    """The socket's flow (addresses, ports, protocol) → route. Ports/protocol do not select here."""
    return ip_route_output(host, daddr, saddr)


def dst_check(dst: Rtable | None) -> Rtable | None:
    """ipv4_dst_check: None once the route was killed or the table generation moved on."""
    if dst is None or dst.obsolete or dst.genid != dst.host.ext["rt_genid"]:
        return None
    if dst.expires and dst.host.kernel.jiffies >= dst.expires:
        return None
    return dst


def __sk_dst_check(sk: Sock, cookie: int = 0) -> Rtable | None:
    """The socket's cached route if still valid; a stale one is dropped from sk_dst_cache."""
    dst = sk.sk_dst_cache
    if dst is not None and dst_check(dst) is None:
        sk.sk_dst_cache = None
        return None
    return dst


sk_dst_check = __sk_dst_check


def __ip_rt_update_pmtu(dst: Rtable, mtu: int) -> None:
    """Learn a smaller path MTU toward dst.rt_dst (an fnhe exception, 10 min)."""
    host = dst.host
    if dst.mtu_locked:
        return
    if dst_mtu(dst) < mtu:
        return
    lock = False
    if mtu < IP_RT_MIN_PMTU:
        lock = True
        mtu = min(dst_mtu(dst), IP_RT_MIN_PMTU)
    expires = host.kernel.jiffies + IP_RT_MTU_EXPIRES
    host.ext["fnhe"][dst.rt_dst] = (mtu, lock, expires)
    old = host.ext["rt_cache"].pop(dst.rt_dst, None)
    if old is not None:
        old.obsolete = True
    dst.obsolete = True


def ipv4_sk_update_pmtu(sk: Sock, daddr: int, mtu: int) -> Rtable | None:
    """ICMP FRAG_NEEDED for a socket's flow: update the PMTU and refresh sk_dst_cache."""
    host = sk.host
    try:
        rt = ip_route_output(host, daddr)
    except OSError:
        return None
    __ip_rt_update_pmtu(rt, mtu)
    if sk.sk_dst_cache is not None and dst_check(sk.sk_dst_cache) is None:
        try:
            sk.sk_dst_cache = ip_route_output(host, daddr)
        except OSError:
            sk.sk_dst_cache = None
    return sk.sk_dst_cache
