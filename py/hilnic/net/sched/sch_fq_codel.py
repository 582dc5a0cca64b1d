"""Fair Queue CoDel (net/sched/sch_fq_codel.c), the default qdisc of most distributions
(systemd sets net.core.default_qdisc = fq_codel).

Packets are hashed into 1024 flows (skb_get_hash); each flow is a FIFO run by CoDel
(include/net/codel.py: target 5 ms, interval 100 ms, ECN marking on); flows are served by
deficit round robin with a quantum of one MTU (1514), new flows before old ones. Past the
limit (10240 packets) or the memory limit (32 MiB of truesize), the fattest flow loses half
its backlog, up to 64 packets at once (fq_codel_drop). Can bypass: an empty fq_codel hands
the packet straight to the driver, as pfifo_fast does.
"""

from __future__ import annotations

from collections import deque

from hilnic.include.net.codel import (
    CODEL_DISABLED_THRESHOLD,
    CodelParams,
    CodelStats,
    CodelVars,
    codel_dequeue,
    codel_get_time,
    codel_time_to_us,
)
from hilnic.include.net.inet_ecn import INET_ECN_set_ce
from hilnic.include.net.sch_generic import TC_H_ROOT, TCQ_F_CAN_BYPASS
from hilnic.kernel.hrtimer import ktime_get_ns
from hilnic.net.core.flow_dissector import skb_get_hash
from hilnic.net.core.netdevice import NET_XMIT_CN, NET_XMIT_SUCCESS, NetdevQueue
from hilnic.net.core.skbuff import SkBuff, kfree_skb
from hilnic.net.sched.sch_api import psched_mtu
from hilnic.net.sched.sch_generic import Qdisc, qdisc_bstats_update, qdisc_pkt_len, register_qdisc


class FqCodelFlow:
    """struct fq_codel_flow: a FIFO with its CoDel state and DRR deficit."""

    __slots__ = ("cvars", "deficit", "index", "q")

    def __init__(self, index: int) -> None:
        self.q: deque[SkBuff] = deque()
        self.deficit = 0
        self.cvars = CodelVars()
        self.index = index


def reciprocal_scale(val: int, ep_ro: int) -> int:
    return (val * ep_ro) >> 32


class FqCodel(Qdisc):
    """struct fq_codel_sched_data + fq_codel_qdisc_ops."""

    id = "fq_codel"

    def __init__(self, dev_queue: NetdevQueue, parent: int = TC_H_ROOT) -> None:
        super().__init__(dev_queue, parent)
        # fq_codel_init
        self.limit = 10 * 1024
        self.flows_cnt = 1024
        self.memory_limit = 32 << 20  # 32 MBytes
        self.drop_batch_size = 64
        self.quantum = psched_mtu(self.dev)
        self.cparams = CodelParams()
        self.cparams.ecn = True
        self.cparams.mtu = psched_mtu(self.dev)
        self.cstats = CodelStats()
        self.flows = [FqCodelFlow(i) for i in range(self.flows_cnt)]
        self.backlogs = [0] * self.flows_cnt
        self.memory_usage = 0
        self.drop_overmemory = 0
        self.drop_overlimit = 0
        self.new_flow_count = 0
        self.new_flows: deque[FqCodelFlow] = deque()
        self.old_flows: deque[FqCodelFlow] = deque()
        self._on_list: set[int] = set()  # flows on new_flows or old_flows (!list_empty(&flow->flowchain))
        if self.limit >= 1:
            self.flags |= TCQ_F_CAN_BYPASS

    def fq_codel_classify(self, skb: SkBuff) -> int:
        """1-based flow index (no tc filter attached: the flow hash)."""
        return reciprocal_scale(skb_get_hash(skb), self.flows_cnt) + 1

    def enqueue(self, skb: SkBuff, to_free: list[SkBuff]) -> int:
        idx = self.fq_codel_classify(skb) - 1
        now = codel_get_time(ktime_get_ns(self.kernel))
        skb.cb["codel_enqueue_time"] = now  # codel_set_enqueue_time
        flow = self.flows[idx]
        flow.q.append(skb)
        plen = qdisc_pkt_len(skb)
        self.backlogs[idx] += plen
        qs = self.qstats
        qs.backlog += plen
        if idx not in self._on_list:
            self.new_flows.append(flow)
            self._on_list.add(idx)
            self.new_flow_count += 1
            flow.deficit = self.quantum
        skb.cb["codel_mem_usage"] = skb.truesize
        self.memory_usage += skb.truesize
        memory_limited = self.memory_usage > self.memory_limit
        qs.qlen += 1
        if qs.qlen <= self.limit and not memory_limited:
            return NET_XMIT_SUCCESS
        prev_qlen = qs.qlen
        # fq_codel_drop is a linear search for the fat flow: drop half its backlog (at most
        # drop_batch_size packets) rather than a single packet.
        ret = self.fq_codel_drop(self.drop_batch_size, to_free)
        prev_qlen -= qs.qlen
        self.drop_overlimit += prev_qlen
        if memory_limited:
            self.drop_overmemory += prev_qlen
        # If we dropped a packet of this flow, tell the stack (NET_XMIT_CN).
        return NET_XMIT_CN if ret == idx else NET_XMIT_SUCCESS

    def fq_codel_drop(self, max_packets: int, to_free: list[SkBuff]) -> int:
        maxbacklog = 0
        idx = 0
        for i, b in enumerate(self.backlogs):
            if b > maxbacklog:
                maxbacklog = b
                idx = i
        threshold = maxbacklog >> 1  # our goal is to drop half of this fat flow's backlog
        flow = self.flows[idx]
        length = mem = i = 0
        while True:
            skb = flow.q.popleft()
            length += qdisc_pkt_len(skb)
            mem += skb.cb["codel_mem_usage"]
            to_free.append(skb)  # __qdisc_drop
            i += 1
            if not (i < max_packets and length < threshold):
                break
        flow.cvars.count += i  # tell codel to increase its signal strength also
        self.backlogs[idx] -= length
        self.memory_usage -= mem
        qs = self.qstats
        qs.drops += i
        qs.backlog -= length
        qs.qlen -= i
        return idx

    # codel_dequeue's callbacks
    def _dequeue_func(self, vars: CodelVars, flow: FqCodelFlow) -> SkBuff | None:
        if not flow.q:
            return None
        skb = flow.q.popleft()
        plen = qdisc_pkt_len(skb)
        self.backlogs[flow.index] -= plen
        self.memory_usage -= skb.cb["codel_mem_usage"]
        self.qstats.qlen -= 1
        self.qstats.backlog -= plen
        return skb

    def _drop_func(self, skb: SkBuff, flow: FqCodelFlow) -> None:
        kfree_skb(skb, "QDISC_CONGESTED")
        self.qstats.drops += 1  # qdisc_qstats_drop

    def dequeue(self) -> SkBuff | None:
        while True:
            head = self.new_flows
            if not head:
                head = self.old_flows
                if not head:
                    return None
            flow = head[0]
            if flow.deficit <= 0:
                flow.deficit += self.quantum
                head.popleft()
                self.old_flows.append(flow)  # list_move_tail
                continue
            skb = codel_dequeue(flow, lambda: self.qstats.backlog, self.cparams, flow.cvars, self.cstats,
                                qdisc_pkt_len, _enqueue_time, self._drop_func, self._dequeue_func,
                                INET_ECN_set_ce, codel_get_time(ktime_get_ns(self.kernel)))
            if skb is None:
                # force a pass through old_flows to prevent starvation
                head.popleft()
                if head is self.new_flows and self.old_flows:
                    self.old_flows.append(flow)
                else:
                    self._on_list.discard(flow.index)  # list_del_init
                continue
            qdisc_bstats_update(self, skb)
            flow.deficit -= qdisc_pkt_len(skb)
            # qdisc_tree_reduce_backlog of CoDel's drops: no parent qdisc to tell here
            if self.cstats.drop_count and self.qstats.qlen:
                self.cstats.drop_count = 0
                self.cstats.drop_len = 0
            return skb

    def peek(self) -> SkBuff | None:
        return self.gso_skb[0] if self.gso_skb else None  # qdisc_peek_dequeued

    def reset(self) -> None:
        self.new_flows.clear()
        self.old_flows.clear()
        self._on_list.clear()
        for flow in self.flows:
            while flow.q:
                kfree_skb(flow.q.popleft())
            flow.cvars = CodelVars()
        self.backlogs = [0] * self.flows_cnt
        self.memory_usage = 0
        super().reset()

    # -- fq_codel_dump / fq_codel_dump_stats: the netlink attributes `tc -s qdisc` prints ------

    def dump_opts(self) -> dict[str, int]:
        """TCA_FQ_CODEL_* (times in us, as codel_time_to_us)."""
        p = self.cparams
        opts = {"target": codel_time_to_us(p.target), "limit": self.limit,
                "interval": codel_time_to_us(p.interval), "ecn": int(p.ecn), "quantum": self.quantum,
                "drop_batch_size": self.drop_batch_size, "memory_limit": self.memory_limit,
                "flows": self.flows_cnt}
        if p.ce_threshold != CODEL_DISABLED_THRESHOLD:
            opts["ce_threshold"] = codel_time_to_us(p.ce_threshold)
        return opts

    def dump_xstats(self) -> dict[str, int]:
        """struct tc_fq_codel_qd_stats."""
        st = self.cstats
        return {"maxpacket": st.maxpacket, "drop_overlimit": self.drop_overlimit, "ecn_mark": st.ecn_mark,
                "new_flow_count": self.new_flow_count, "new_flows_len": len(self.new_flows),
                "old_flows_len": len(self.old_flows), "ce_mark": st.ce_mark, "memory_usage": self.memory_usage,
                "drop_overmemory": self.drop_overmemory}


def _enqueue_time(skb: SkBuff) -> int:
    return skb.cb["codel_enqueue_time"]  # codel_get_enqueue_time


register_qdisc(FqCodel)

__all__ = ["FqCodel", "FqCodelFlow"]
