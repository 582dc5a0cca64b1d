"""The neighbour layer (net/core/neighbour.c): NUD state machine, arp_queue, hh cache.

A `Neighbour` maps a next-hop IPv4 address on a device to a MAC address. Output goes
through `neigh_output`: a connected entry with a cached hardware header takes
`neigh_hh_output`; anything else `neigh_resolve_output`, which may queue the skb on
`arp_queue` (bounded by unres_qlen_bytes of truesize, oldest dropped) while the protocol's
`solicit` (arp_solicit) probes. Timers are kernel timers in jiffies.

The protocol comes in through neigh_ops (ARP's solicit/error_report), the link layer
through dev->header_ops (eth_header, eth_header_cache): neighbour imports neither.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, overload

from hilnic.include.linux.inet import in_ntoa
from hilnic.include.uapi.linux.if_ether import ETH_HLEN, ETH_P_IP
from hilnic.kernel.core import HZ, TimerList
from hilnic.kernel.ftrace import traced
from hilnic.net.core.dev import dev_queue_xmit
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdevice import NetDevice, dev_hard_header
from hilnic.net.core.skbuff import SkBuff, kfree_skb

# include/uapi/linux/neighbour.h
NUD_NONE = 0x00
NUD_INCOMPLETE = 0x01
NUD_REACHABLE = 0x02
NUD_STALE = 0x04
NUD_DELAY = 0x08
NUD_PROBE = 0x10
NUD_FAILED = 0x20
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
NUD_IN_TIMER = NUD_INCOMPLETE | NUD_REACHABLE | NUD_DELAY | NUD_PROBE
NUD_VALID = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY
NUD_CONNECTED = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE

NEIGH_UPDATE_F_OVERRIDE = 1 << 0
NEIGH_UPDATE_F_WEAK_OVERRIDE = 1 << 1
NEIGH_UPDATE_F_ADMIN = 1 << 31

NUD_NAMES = {
    NUD_NONE: "NONE", NUD_INCOMPLETE: "INCOMPLETE", NUD_REACHABLE: "REACHABLE", NUD_STALE: "STALE",
    NUD_DELAY: "DELAY", NUD_PROBE: "PROBE", NUD_FAILED: "FAILED", NUD_NOARP: "NOARP", NUD_PERMANENT: "PERMANENT",
}

@dataclass
class NeighParms:
    """struct neigh_parms, from the host's sysctls (times in jiffies, HZ=1000)."""

    base_reachable_time: int = 30 * HZ
    retrans_time: int = 1 * HZ
    delay_probe_time: int = 5 * HZ
    locktime: int = 1 * HZ
    mcast_probes: int = 3
    ucast_probes: int = 3
    app_probes: int = 0
    mcast_reprobes: int = 0
    queue_len_bytes: int = 212992

    @property
    def reachable_time(self) -> int:
        # Linux draws neigh_rand_reach_time() uniformly in [base/2, 3·base/2); the model
        # uses the mean so runs are reproducible.
        return self.base_reachable_time


@dataclass
class NeighStatistics:
    """struct neigh_statistics (/proc/net/stat/arp_cache)."""

    allocs: int = 0
    destroys: int = 0
    lookups: int = 0
    hits: int = 0
    res_failed: int = 0
    rcv_probes_mcast: int = 0
    rcv_probes_ucast: int = 0
    unres_discards: int = 0
    table_fulls: int = 0


class NeighOps:
    """struct neigh_ops: what the protocol (ARP) provides."""

    def solicit(self, n: Neighbour, skb: SkBuff | None) -> None:
        raise RuntimeError("neigh_ops.solicit not set by the protocol")

    def error_report(self, n: Neighbour, skb: SkBuff) -> None:
        kfree_skb(skb, "neigh_failed")


class NeighTable:
    """struct neigh_table (arp_tbl)."""

    def __init__(self, host: Host, ops: NeighOps, parms: NeighParms, protocol: int = ETH_P_IP) -> None:
        self.host = host
        self.ops = ops
        self.parms = parms
        self.protocol = protocol
        self.stats = NeighStatistics()
        self.hash: dict[tuple[int, str], Neighbour] = {}


class Neighbour:
    """struct neighbour."""

    def __init__(self, tbl: NeighTable, key: int, dev: NetDevice) -> None:
        self.tbl = tbl
        self.primary_key = key
        self.dev = dev
        self.parms = tbl.parms
        self.nud_state = NUD_NONE
        self.ha = b"\0" * 6
        self.hh: bytes | None = None  # hh_cache: the 14-byte Ethernet header, once built
        self.arp_queue: deque[SkBuff] = deque()
        self.arp_queue_len_bytes = 0
        self.probes = 0
        now = tbl.host.kernel.jiffies
        self.updated = now
        self.used = now
        self.confirmed = now - (tbl.parms.base_reachable_time << 1)
        self.dead = False
        self.timer = tbl.host.kernel.timer(self._timer_fn, "neigh_timer_handler")
        self.output: Callable[[Neighbour, SkBuff], int] = neigh_resolve_output

    def _timer_fn(self, timer: TimerList) -> None:
        neigh_timer_handler(self)

    @property
    def state_name(self) -> str:
        return NUD_NAMES.get(self.nud_state, hex(self.nud_state))

    def __repr__(self) -> str:
        return f"<neigh {in_ntoa(self.primary_key)} dev {self.dev.name} {self.state_name} ha {self.ha.hex(':')}>"


def neigh_max_probes(n: Neighbour) -> int:
    p = n.parms
    return p.ucast_probes + p.app_probes + (p.mcast_reprobes if n.nud_state & NUD_PROBE else p.mcast_probes)


def neigh_add_timer(n: Neighbour, when: int) -> None:
    n.timer.mod_timer(when)


def neigh_del_timer(n: Neighbour) -> None:
    n.timer.del_timer()


def neigh_lookup(tbl: NeighTable, key: int, dev: NetDevice) -> Neighbour | None:
    tbl.stats.lookups += 1
    n = tbl.hash.get((key, dev.name))
    if n is not None:
        tbl.stats.hits += 1
    return n


def __neigh_create(tbl: NeighTable, key: int, dev: NetDevice) -> Neighbour:
    n = Neighbour(tbl, key, dev)
    tbl.stats.allocs += 1
    constructor = getattr(tbl.ops, "constructor", None)
    if constructor is not None:
        constructor(n)
    tbl.hash[(key, dev.name)] = n
    return n


@overload
def __neigh_lookup(tbl: NeighTable, key: int, dev: NetDevice, creat: Literal[True]) -> Neighbour: ...
@overload
def __neigh_lookup(tbl: NeighTable, key: int, dev: NetDevice, creat: bool) -> Neighbour | None: ...
def __neigh_lookup(tbl: NeighTable, key: int, dev: NetDevice, creat: bool) -> Neighbour | None:
    n = neigh_lookup(tbl, key, dev)
    if n is not None or not creat:
        return n
    return __neigh_create(tbl, key, dev)


def neigh_hh_init(n: Neighbour) -> None:
    """The cached header comes from the device's header_ops (eth_header_cache)."""
    ops = n.dev.header_ops
    if ops is not None and ops.cache is not None:
        n.hh = ops.cache(n.ha, n.dev, n.tbl.protocol)


def neigh_update_hhs(n: Neighbour) -> None:
    if n.hh is not None:
        neigh_hh_init(n)


def neigh_connect(n: Neighbour) -> None:
    n.output = neigh_resolve_output  # arp_hh_ops.connected_output is neigh_resolve_output too


def neigh_suspect(n: Neighbour) -> None:
    n.output = neigh_resolve_output


# -- output -------------------------------------------------------------------------------


@traced
def neigh_output(n: Neighbour, skb: SkBuff, skip_cache: bool = False) -> int:
    if not skip_cache and n.nud_state & NUD_CONNECTED and n.hh is not None:
        return neigh_hh_output(n, skb)
    return n.output(n, skb)


@traced
def neigh_hh_output(n: Neighbour, skb: SkBuff) -> int:
    """Push the cached Ethernet header and hand the frame to the device layer."""
    off = skb.skb_push(ETH_HLEN)
    skb.write_at(off, n.hh)  # type: ignore[arg-type]  # neigh_output checked it
    skb.mac_header = off
    return dev_queue_xmit(skb)


@traced
def neigh_resolve_output(n: Neighbour, skb: SkBuff) -> int:
    """Queue the skb while unresolved; otherwise build the header from n.ha and transmit."""
    if neigh_event_send(n, skb):
        return 0
    dev = n.dev
    if n.hh is None:
        neigh_hh_init(n)
    if skb.data != skb.network_header:  # __skb_pull(skb, skb_network_offset(skb))
        skb.skb_pull(skb.network_header - skb.data)
    dev_hard_header(skb, dev, n.tbl.protocol if skb.protocol == 0 else skb.protocol, n.ha, None, skb.len)
    return dev_queue_xmit(skb)


def neigh_event_send(n: Neighbour, skb: SkBuff | None, immediate_ok: bool = True) -> int:
    """Nonzero when the skb was queued or dropped rather than being sendable now."""
    now = n.tbl.host.kernel.jiffies
    if n.used != now:
        n.used = now
    if not n.nud_state & (NUD_CONNECTED | NUD_DELAY | NUD_PROBE):
        return __neigh_event_send(n, skb, immediate_ok)
    return 0


@traced
def __neigh_event_send(n: Neighbour, skb: SkBuff | None, immediate_ok: bool = True) -> int:
    kernel = n.tbl.host.kernel
    parms = n.parms
    immediate_probe = False
    rc = 0
    if n.nud_state & (NUD_CONNECTED | NUD_DELAY | NUD_PROBE):
        return 0
    if n.dead:
        if n.nud_state & NUD_STALE:
            return 0
        kfree_skb(skb, "neigh_dead")
        return 1
    if not n.nud_state & (NUD_STALE | NUD_INCOMPLETE):
        if parms.mcast_probes + parms.app_probes:
            now = kernel.jiffies
            n.probes = parms.ucast_probes
            neigh_del_timer(n)
            n.nud_state = NUD_INCOMPLETE
            n.updated = now
            if not immediate_ok:
                nxt = now + 1
            else:
                immediate_probe = True
                nxt = now + max(parms.retrans_time, HZ // 100)
            neigh_add_timer(n, nxt)
        else:
            n.nud_state = NUD_FAILED
            n.updated = kernel.jiffies
            kfree_skb(skb, "neigh_failed")
            return 1
    elif n.nud_state & NUD_STALE:
        neigh_del_timer(n)
        n.nud_state = NUD_DELAY
        n.updated = kernel.jiffies
        neigh_add_timer(n, kernel.jiffies + parms.delay_probe_time)

    if n.nud_state == NUD_INCOMPLETE:
        if skb is not None:
            limit = parms.queue_len_bytes
            while n.arp_queue_len_bytes + skb.truesize > limit and n.arp_queue:
                buff = n.arp_queue.popleft()  # the oldest goes first
                n.arp_queue_len_bytes -= buff.truesize
                kfree_skb(buff, "neigh_queuefull")
                n.tbl.stats.unres_discards += 1
            n.arp_queue.append(skb)
            n.arp_queue_len_bytes += skb.truesize
        rc = 1
    if immediate_probe:
        neigh_probe(n)
    return rc


def neigh_probe(n: Neighbour) -> None:
    """Send one solicitation; the newest queued skb tells ARP which source address to use."""
    skb = n.arp_queue[-1] if n.arp_queue else None
    n.tbl.ops.solicit(n, skb)
    n.probes += 1


def neigh_invalidate(n: Neighbour) -> None:
    """Resolution failed: report every queued skb (arp_error_report) and empty the queue."""
    n.tbl.stats.res_failed += 1
    n.updated = n.tbl.host.kernel.jiffies
    while n.nud_state == NUD_FAILED and n.arp_queue:
        skb = n.arp_queue.popleft()
        n.arp_queue_len_bytes -= skb.truesize
        n.tbl.ops.error_report(n, skb)
    while n.arp_queue:
        kfree_skb(n.arp_queue.popleft(), "neigh_failed")
    n.arp_queue_len_bytes = 0


@traced
def neigh_timer_handler(n: Neighbour) -> None:
    kernel = n.tbl.host.kernel
    parms = n.parms
    state = n.nud_state
    now = kernel.jiffies
    nxt = now + HZ
    if not state & NUD_IN_TIMER:
        return
    if state & NUD_REACHABLE:
        if now <= n.confirmed + parms.reachable_time:
            nxt = n.confirmed + parms.reachable_time
        elif now <= n.used + parms.delay_probe_time:
            n.nud_state = NUD_DELAY
            n.updated = now
            neigh_suspect(n)
            nxt = now + parms.delay_probe_time
        else:
            n.nud_state = NUD_STALE
            n.updated = now
            neigh_suspect(n)
    elif state & NUD_DELAY:
        if now <= n.confirmed + parms.delay_probe_time:
            n.nud_state = NUD_REACHABLE
            n.updated = now
            neigh_connect(n)
            nxt = n.confirmed + parms.reachable_time
        else:
            n.nud_state = NUD_PROBE
            n.updated = now
            n.probes = 0
            nxt = now + max(parms.retrans_time, HZ // 100)
    else:  # NUD_PROBE | NUD_INCOMPLETE
        nxt = now + max(parms.retrans_time, HZ // 100)

    if n.nud_state & (NUD_INCOMPLETE | NUD_PROBE) and n.probes >= neigh_max_probes(n):
        n.nud_state = NUD_FAILED
        neigh_invalidate(n)
        return
    if n.nud_state & NUD_IN_TIMER:
        if nxt < now + HZ // 100:
            nxt = now + HZ // 100
        n.timer.mod_timer(nxt)
    if n.nud_state & (NUD_INCOMPLETE | NUD_PROBE):
        neigh_probe(n)


@traced
def neigh_update(n: Neighbour, lladdr: bytes | None, new: int, flags: int) -> int:
    """__neigh_update: apply a state/address change; on becoming valid, flush arp_queue in order."""
    kernel = n.tbl.host.kernel
    old = n.nud_state
    if not flags & NEIGH_UPDATE_F_ADMIN and old & (NUD_NOARP | NUD_PERMANENT):
        return -1
    if n.dead:
        return -1
    if not new & NUD_VALID:
        neigh_del_timer(n)
        if old & NUD_CONNECTED:
            neigh_suspect(n)
        n.nud_state = new
        if old & (NUD_INCOMPLETE | NUD_PROBE) and new & NUD_FAILED:
            neigh_invalidate(n)
        return 0

    if lladdr is not None:
        if old & NUD_VALID and lladdr == n.ha:
            lladdr = n.ha
    else:
        if not old & NUD_VALID:
            return -22  # -EINVAL: no link-layer address given
        lladdr = n.ha

    if new & NUD_CONNECTED:
        n.confirmed = kernel.jiffies

    changed_ha = lladdr != n.ha
    if old & NUD_VALID:
        if changed_ha and not flags & NEIGH_UPDATE_F_OVERRIDE:
            if flags & NEIGH_UPDATE_F_WEAK_OVERRIDE and old & NUD_CONNECTED:
                lladdr = n.ha
                changed_ha = False
                new = NUD_STALE
            else:
                return 0
        elif not changed_ha and new == NUD_STALE and not flags & NEIGH_UPDATE_F_ADMIN:
            new = old

    if new != old or changed_ha:
        n.updated = kernel.jiffies
    if new != old:
        neigh_del_timer(n)
        if new & NUD_PROBE:
            n.probes = 0
        if new & NUD_IN_TIMER:
            neigh_add_timer(n, kernel.jiffies + (n.parms.reachable_time if new & NUD_REACHABLE else 0))
        n.nud_state = new
    if changed_ha:
        n.ha = bytes(lladdr)
        neigh_update_hhs(n)
        if not new & NUD_CONNECTED:
            n.confirmed = kernel.jiffies - (n.parms.base_reachable_time << 1)
    if new == old:
        return 0
    if new & NUD_CONNECTED:
        neigh_connect(n)
    else:
        neigh_suspect(n)
    if not old & NUD_VALID:
        while n.nud_state & NUD_VALID and n.arp_queue:
            skb = n.arp_queue.popleft()
            n.arp_queue_len_bytes -= skb.truesize
            n.output(n, skb)
        while n.arp_queue:
            kfree_skb(n.arp_queue.popleft(), "neigh_purge")
        n.arp_queue_len_bytes = 0
    return 0


def neigh_event_ns(tbl: NeighTable, lladdr: bytes, saddr: int, dev: NetDevice) -> Neighbour | None:
    """A solicitation from `saddr` tells us its address: create/refresh it as STALE."""
    n = __neigh_lookup(tbl, saddr, dev, True)
    if n is not None:
        neigh_update(n, lladdr, NUD_STALE, NEIGH_UPDATE_F_OVERRIDE)
    return n
