"""Fair Queue packet scheduler with per-flow pacing (net/sched/sch_fq.c, Linux 6.18).

Every socket is a flow (packets without a full socket are hashed into orphan flows); flows are
served round robin with a credit of one quantum (2 MTU) per turn, new flows first, in three
priority bands (weights 9:3:1 of 64 KiB). fq honours each packet's earliest departure time:
TCP stamps skb->tstamp with tcp_wstamp_ns, which it moves on by len/sk_pacing_rate once fq
has marked the socket SK_PACING_FQ (tcp_update_skb_after_send). A flow whose next packet is
not due is throttled (the `delayed` tree, ordered by time_next_packet) and the qdisc watchdog
(an hrtimer) reschedules the qdisc when the first one is. An idle fq (or one whose flows are
all throttled) sends a packet already due through its internal fast-path queue.

Not modelled: the per-flow rate limit `maxrate` (flow_max_rate stays ~0UL), packets without
tstamp paced at sk_pacing_rate (every TCP packet has one), CE marking, and fq_gc walks every
detached flow instead of one rb-tree bucket's search path.
"""

from __future__ import annotations

import bisect
from collections import deque
from typing import Any

from hilnic.include.net.sch_generic import TC_H_ROOT, TC_PRIO_MAX
from hilnic.include.net.tcp_states import TCP_CLOSE
from hilnic.kernel.core import HZ
from hilnic.kernel.hrtimer import ktime_get_ns
from hilnic.net.core.flow_dissector import skb_get_hash
from hilnic.net.core.netdevice import NET_XMIT_SUCCESS, NetdevQueue
from hilnic.net.core.skbuff import SkBuff, kfree_skb, skb_orphan
from hilnic.net.core.sock import (
    IPPROTO_TCP,
    SK_PACING_FQ,
    SOCK_STREAM,
    TCP_LISTEN,
    TCP_TIME_WAIT,
)
from hilnic.net.sched.sch_api import (
    psched_mtu,
    qdisc_watchdog_cancel,
    qdisc_watchdog_init,
    qdisc_watchdog_schedule_range_ns,
)
from hilnic.net.sched.sch_generic import PRIO2BAND, Qdisc, qdisc_bstats_update, qdisc_drop, qdisc_pkt_len, register_qdisc

FQ_BANDS = 3
FQ_GC_AGE = 3 * HZ
NSEC_PER_SEC = 1_000_000_000
U64 = (1 << 64) - 1
UL_MAX = U64  # ~0UL: no flow rate limit
NEW_FLOW, OLD_FLOW = 0, 1


class FqFlow:
    """struct fq_flow: a flow's packets in time_to_send order (a FIFO `head` for increasing
    times, `t_root` sorted for the rest), its credit, band and next departure time."""

    __slots__ = ("age", "band", "credit", "detached", "head", "key", "qlen", "socket_hash", "stat_fastpath_packets",
                 "t_root", "throttled", "time_next_packet")

    def __init__(self, key: Any) -> None:
        self.key = key  # the socket, or an odd number for an orphan hash
        self.head: deque[SkBuff] = deque()
        self.t_root: list[tuple[int, int, SkBuff]] = []  # (time_to_send, seq, skb), sorted
        self.qlen = 0
        self.credit = 0
        self.band = 0
        self.detached = True  # fq_flow_set_detached: on no list
        self.age = 0  # jiffies when the flow was emptied (detached), for gc
        self.throttled = False  # on the delayed tree instead of a list
        self.time_next_packet = 0
        self.socket_hash = 0
        self.stat_fastpath_packets = 0


class FqPerbandFlows:
    __slots__ = ("credit", "new_flows", "old_flows", "quantum")

    def __init__(self, quantum: int) -> None:
        self.new_flows: deque[FqFlow] = deque()
        self.old_flows: deque[FqFlow] = deque()
        self.credit = 0
        self.quantum = quantum  # based on band nr: 576KB, 192KB, 64KB


def _tts(skb: SkBuff) -> int:
    return skb.cb["fq_time_to_send"]  # fq_skb_cb(skb)->time_to_send


class Fq(Qdisc):
    """struct fq_sched_data + fq_qdisc_ops."""

    id = "fq"

    def __init__(self, dev_queue: NetdevQueue, parent: int = TC_H_ROOT) -> None:
        super().__init__(dev_queue, parent)
        mtu = psched_mtu(self.dev)
        # fq_init
        self.limit = 10000
        self.flow_plimit = 100
        self.quantum = 2 * mtu
        self.initial_quantum = 10 * mtu
        self.flow_refill_delay = 40 * HZ // 1000  # msecs_to_jiffies(40)
        self.flow_max_rate = UL_MAX
        self.time_next_delayed_flow = U64
        self.rate_enable = 1
        self.band_flows = [FqPerbandFlows(q) for q in (9 << 16, 3 << 16, 1 << 16)]
        self.band_nr = 0
        self.fq_trees_log = 10  # ilog2(1024)
        self.orphan_mask = 1024 - 1
        self.low_rate_threshold = 550000 // 8
        self.timer_slack = 10 * 1000  # 10 usec of hrtimer slack
        self.horizon = 10 * NSEC_PER_SEC
        self.horizon_drop = 1  # by default, drop packets beyond horizon
        self.ce_threshold = 1000 * 0xFFFFFFFF  # (u64)NSEC_PER_USEC * ~0U
        self.offload_horizon = 0
        self.prio2band = list(PRIO2BAND)  # sch_default_prio2band
        self.watchdog = qdisc_watchdog_init(self)
        self.fq_root: dict[Any, FqFlow] = {}
        self.internal = FqFlow(None)  # fastpath queue
        self.delayed: list[tuple[int, int, FqFlow]] = []  # rate limited flows by time_next_packet
        self._seq = 0  # tie-breaker: equal times keep insertion order (rb-tree's "go right")
        self.unthrottle_latency_ns = 0
        self.band_pkt_count = [0] * FQ_BANDS
        self.flows = 0
        self.inactive_flows = 0  # flows with no packet to send
        self.throttled_flows = 0
        self.stat_throttled = 0
        self.stat_gc_flows = 0
        self.stat_band_drops = [0] * FQ_BANDS
        self.stat_ce_mark = 0
        self.stat_horizon_drops = 0
        self.stat_horizon_caps = 0
        self.stat_flows_plimit = 0
        self.stat_pkts_too_long = 0
        self.stat_allocation_errors = 0

    # -- flow lists ----------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def fq_flow_add_tail(self, flow: FqFlow, list_sel: int) -> None:
        pband = self.band_flows[flow.band]
        (pband.new_flows if list_sel == NEW_FLOW else pband.old_flows).append(flow)
        flow.detached = False

    def fq_flow_unset_throttled(self, f: FqFlow) -> None:
        self.throttled_flows -= 1
        f.throttled = False
        self.fq_flow_add_tail(f, OLD_FLOW)

    def fq_flow_set_throttled(self, f: FqFlow) -> None:
        bisect.insort(self.delayed, (f.time_next_packet, self._next_seq(), f))
        self.throttled_flows += 1
        self.stat_throttled += 1
        f.throttled = True
        if self.time_next_delayed_flow > f.time_next_packet:
            self.time_next_delayed_flow = f.time_next_packet

    def fq_flow_set_detached(self, f: FqFlow) -> None:
        f.detached = True
        f.age = self.kernel.jiffies

    def fq_gc_candidate(self, f: FqFlow) -> bool:
        return f.detached and self.kernel.jiffies > f.age + FQ_GC_AGE  # time_after

    def fq_gc(self, key: Any) -> None:
        tofree = [k for k, f in self.fq_root.items() if k is not key and self.fq_gc_candidate(f)]
        for k in tofree:
            del self.fq_root[k]
        fcnt = len(tofree)
        self.flows -= fcnt
        self.inactive_flows -= fcnt
        self.stat_gc_flows += fcnt

    # -- enqueue -------------------------------------------------------------------------------

    def fq_fastpath_check(self, skb: SkBuff, now: int) -> bool:
        """An idle fq (or one whose flows are all throttled or empty, with fewer than 8 packets
        in the fast path) sends a packet that is due through `internal`."""
        if _tts(skb) > now + self.offload_horizon:
            return False
        if self.qstats.qlen != 0:
            if self.flows != self.inactive_flows + self.throttled_flows:
                return False
            if self.internal.qlen >= 8:
                return False
            if self.time_next_delayed_flow <= now + self.offload_horizon:
                return False
        sk = skb.sk
        if sk is not None and not sk_is_tcp(sk) and sk.sk_max_pacing_rate != UL_MAX:  # SO_MAX_PACING_RATE
            return False
        return self.flow_max_rate == UL_MAX

    def fq_classify(self, skb: SkBuff, now: int) -> FqFlow:
        sk: Any = skb.sk
        if sk is None or sk_listener_or_tw(sk):  # not part of a flow: pretend it is orphaned
            key: Any = ((skb_get_hash(skb) & self.orphan_mask) << 1) | 1
            if sk is not None:
                skb_orphan(skb)
            sk = key
        elif sk.sk_state == TCP_CLOSE:
            # Non-connected sockets (UDP's sendto) may send to many destinations: hash them.
            key = sk = ((skb_get_hash(skb) & self.orphan_mask) << 1) | 1
        else:
            key = sk
        if self.fq_fastpath_check(skb, now):
            self.internal.stat_fastpath_packets += 1
            if skb.sk is sk and self.rate_enable and sk.sk_pacing_status != SK_PACING_FQ:
                sk.sk_pacing_status = SK_PACING_FQ
            return self.internal
        self.fq_gc(key)
        f = self.fq_root.get(key)
        if f is not None:
            return f
        f = FqFlow(key)
        self.fq_flow_set_detached(f)
        if skb.sk is sk and self.rate_enable:
            sk.sk_pacing_status = SK_PACING_FQ
        f.credit = self.initial_quantum
        self.fq_root[key] = f
        self.flows += 1
        self.inactive_flows += 1
        return f

    def enqueue(self, skb: SkBuff, to_free: list[SkBuff]) -> int:
        band = self.prio2band[skb.priority & TC_PRIO_MAX]
        if self.band_pkt_count[band] >= self.limit:
            self.stat_band_drops[band] += 1
            return qdisc_drop(skb, self, to_free)
        now = ktime_get_ns(self.kernel)
        if not skb.tstamp:
            skb.cb["fq_time_to_send"] = now
        else:
            if skb.tstamp > now + self.horizon:  # packet timestamp too far in the future
                if self.horizon_drop:
                    self.stat_horizon_drops += 1
                    return qdisc_drop(skb, self, to_free)
                self.stat_horizon_caps += 1
                skb.tstamp = now + self.horizon
            skb.cb["fq_time_to_send"] = skb.tstamp
        f = self.fq_classify(skb, now)
        if f is not self.internal:
            if f.qlen >= self.flow_plimit:
                self.stat_flows_plimit += 1
                return qdisc_drop(skb, self, to_free)
            if f.detached:
                self.fq_flow_add_tail(f, NEW_FLOW)
                if self.kernel.jiffies > f.age + self.flow_refill_delay:  # time_after
                    f.credit = max(f.credit, self.quantum)
            f.band = band
            self.band_pkt_count[band] += 1
            skb.cb["fq_band"] = band
            if f.qlen == 0:
                self.inactive_flows -= 1
        f.qlen += 1
        self.flow_queue_add(f, skb)  # (this overwrites f->age: the flow is no longer detached)
        self.qstats.backlog += qdisc_pkt_len(skb)
        self.qstats.qlen += 1
        return NET_XMIT_SUCCESS

    def flow_queue_add(self, flow: FqFlow, skb: SkBuff) -> None:
        flow.detached = False
        tts = _tts(skb)
        if not flow.head or tts >= _tts(flow.head[-1]):
            flow.head.append(skb)
            return
        bisect.insort(flow.t_root, (tts, self._next_seq(), skb))

    # -- dequeue -------------------------------------------------------------------------------

    @staticmethod
    def fq_peek(flow: FqFlow) -> SkBuff | None:
        head = flow.head[0] if flow.head else None
        if not flow.t_root:
            return head
        skb = flow.t_root[0][2]
        if head is None or _tts(skb) < _tts(head):
            return skb
        return head

    def fq_dequeue_skb(self, flow: FqFlow, skb: SkBuff) -> None:
        if flow.head and flow.head[0] is skb:  # fq_erase_head
            flow.head.popleft()
        else:
            flow.t_root.pop(0)
        self.qstats.backlog -= qdisc_pkt_len(skb)
        self.qstats.qlen -= 1
        qdisc_bstats_update(self, skb)

    def fq_check_throttled(self, now: int) -> None:
        if self.time_next_delayed_flow > now + self.offload_horizon:
            return
        sample = now - self.time_next_delayed_flow  # unthrottle latency EWMA
        if sample > 0:
            self.unthrottle_latency_ns -= self.unthrottle_latency_ns >> 3
            self.unthrottle_latency_ns += sample >> 3
        now += self.offload_horizon
        self.time_next_delayed_flow = U64
        while self.delayed:
            t, _, f = self.delayed[0]
            if t > now:
                self.time_next_delayed_flow = t
                break
            self.delayed.pop(0)
            self.fq_flow_unset_throttled(f)

    @staticmethod
    def fq_pband_head_select(pband: FqPerbandFlows) -> deque[FqFlow] | None:
        if pband.credit <= 0:
            return None
        if pband.new_flows:
            return pband.new_flows
        return pband.old_flows if pband.old_flows else None

    def dequeue(self) -> SkBuff | None:
        if not self.qstats.qlen:
            return None
        internal = self.internal
        skb = self.fq_peek(internal)
        if skb is not None:
            internal.qlen -= 1
            self.fq_dequeue_skb(internal, skb)
            return skb
        now = ktime_get_ns(self.kernel)
        self.fq_check_throttled(now)
        retry = 0
        pband = self.band_flows[self.band_nr]
        while True:  # begin:
            head = self.fq_pband_head_select(pband)
            if head is None:
                found = False
                while True:  # while (++retry <= FQ_BANDS): the next band with credit
                    retry += 1
                    if retry > FQ_BANDS:
                        break
                    self.band_nr += 1
                    if self.band_nr == FQ_BANDS:
                        self.band_nr = 0
                    pband = self.band_flows[self.band_nr]
                    pband.credit = min(pband.credit + pband.quantum, pband.quantum)
                    if pband.credit > 0:
                        found = True
                        break
                    retry = 0
                if found:
                    continue  # goto begin
                if self.time_next_delayed_flow != U64:
                    qdisc_watchdog_schedule_range_ns(self.watchdog, self.time_next_delayed_flow, self.timer_slack)
                return None
            f = head[0]
            retry = 0
            if f.credit <= 0:
                f.credit += self.quantum
                head.popleft()
                self.fq_flow_add_tail(f, OLD_FLOW)
                continue
            skb = self.fq_peek(f)
            if skb is not None:
                time_next_packet = max(_tts(skb), f.time_next_packet)
                if now + self.offload_horizon < time_next_packet:
                    head.popleft()
                    f.time_next_packet = time_next_packet
                    self.fq_flow_set_throttled(f)
                    continue
                self.fq_dequeue_skb(f, skb)
                f.qlen -= 1
                if f.qlen == 0:
                    self.inactive_flows += 1
                self.band_pkt_count[skb.cb["fq_band"]] -= 1
            else:
                head.popleft()
                # force a pass through old_flows to prevent starvation
                if head is pband.new_flows:
                    self.fq_flow_add_tail(f, OLD_FLOW)
                else:
                    self.fq_flow_set_detached(f)
                continue
            plen = qdisc_pkt_len(skb)
            f.credit -= plen
            pband.credit -= plen
            if not self.rate_enable:
                return skb
            rate = self.flow_max_rate
            # With an EDT time in the skb, time_next_packet moves only under a flow max rate.
            if not skb.tstamp:
                if skb.sk is not None:
                    rate = min(skb.sk.sk_pacing_rate, rate)
                if rate <= self.low_rate_threshold:
                    f.credit = 0
                else:
                    plen = max(plen, self.quantum)
                    if f.credit > 0:
                        return skb
            if rate != UL_MAX:
                length = plen * NSEC_PER_SEC
                if rate:
                    length //= rate
                if length > NSEC_PER_SEC:  # the socket rate can change later: clamp to 1 s
                    length = NSEC_PER_SEC
                    self.stat_pkts_too_long += 1
                if f.time_next_packet:  # account for schedule/timer drifts
                    length -= min(length // 2, now - f.time_next_packet)
                f.time_next_packet = now + length
            return skb

    def reset(self) -> None:
        for f in [self.internal, *self.fq_root.values()]:
            for _, _, skb in f.t_root:
                kfree_skb(skb)
            while f.head:
                kfree_skb(f.head.popleft())
            f.t_root = []
            f.qlen = 0
        self.fq_root.clear()
        for pband in self.band_flows:
            pband.new_flows.clear()
            pband.old_flows.clear()
        self.delayed = []
        self.flows = self.inactive_flows = self.throttled_flows = 0
        self.band_pkt_count = [0] * FQ_BANDS
        qdisc_watchdog_cancel(self.watchdog)  # (fq_destroy's; the device is going down)
        super().reset()

    # -- fq_dump / fq_dump_stats: the netlink attributes `tc -s qdisc` prints -------------------

    def dump_opts(self) -> dict[str, Any]:
        """TCA_FQ_* (times in us; timer_slack in ns)."""
        return {
            "plimit": self.limit, "flow_plimit": self.flow_plimit, "quantum": self.quantum,
            "initial_quantum": self.initial_quantum, "rate_enable": self.rate_enable,
            "flow_max_rate": min(self.flow_max_rate, 0xFFFFFFFF),
            "flow_refill_delay": self.flow_refill_delay * 1_000_000 // HZ, "orphan_mask": self.orphan_mask,
            "low_rate_threshold": self.low_rate_threshold, "ce_threshold": self.ce_threshold // 1000,
            "buckets_log": self.fq_trees_log, "timer_slack": self.timer_slack, "horizon": self.horizon // 1000,
            "offload_horizon": self.offload_horizon // 1000, "horizon_drop": self.horizon_drop,
            "priomap": (FQ_BANDS, list(self.prio2band)), "weights": [b.quantum for b in self.band_flows],
        }

    def dump_xstats(self) -> dict[str, Any]:
        """struct tc_fq_qd_stats."""
        return {
            "gc_flows": self.stat_gc_flows, "highprio_packets": 0,
            "fastpath_packets": self.internal.stat_fastpath_packets, "tcp_retrans": 0,
            "throttled": self.stat_throttled, "flows_plimit": self.stat_flows_plimit,
            "pkts_too_long": self.stat_pkts_too_long, "allocation_errors": self.stat_allocation_errors,
            # s64 in the struct: no delayed flow (~0ULL) wraps negative
            "time_next_delayed_flow": _s64(self.time_next_delayed_flow + self.timer_slack - ktime_get_ns(self.kernel)),
            "flows": self.flows, "inactive_flows": self.inactive_flows, "throttled_flows": self.throttled_flows,
            "unthrottle_latency_ns": min(self.unthrottle_latency_ns, 0xFFFFFFFF), "ce_mark": self.stat_ce_mark,
            "horizon_drops": self.stat_horizon_drops, "horizon_caps": self.stat_horizon_caps,
            "band_drops": list(self.stat_band_drops), "band_pkt_count": list(self.band_pkt_count),
        }


def sk_listener_or_tw(sk: Any) -> bool:
    """A listener or a TIME_WAIT sock: not a full socket with a pacing rate."""
    return getattr(sk, "sk_state", TCP_LISTEN) in (TCP_LISTEN, TCP_TIME_WAIT) or not hasattr(sk, "sk_pacing_rate")


def sk_is_tcp(sk: Any) -> bool:
    return sk.sk_type == SOCK_STREAM and sk.sk_protocol == IPPROTO_TCP


def _s64(x: int) -> int:
    x &= U64
    return x - (1 << 64) if x >> 63 else x


register_qdisc(Fq)

__all__ = ["FQ_BANDS", "Fq", "FqFlow"]
