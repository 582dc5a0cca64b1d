"""The fq and fq_codel qdiscs (net/sched/sch_fq.c, sch_fq_codel.c with include/net/codel_impl.h)
at the device layer, a fake driver taking what they release, in virtual time: fq releases each
packet at its skb->tstamp (time_next_packet, the qdisc watchdog), fq_codel's CoDel drops once
the sojourn time stays above target (5 ms) for an interval (100 ms), then at interval/√count,
and ECN-marks instead when the packet is ECN-capable; `tc -s qdisc` prints both as iproute2."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import checksum
from test_gso import make_dev, make_tcp_skb

from hilnic.kernel.env import MS, US
from hilnic.kernel.softirq import NET_TX_SOFTIRQ
from hilnic.net.core.dev import dev_queue_xmit
from hilnic.net.core.netdevice import netif_tx_stop_queue, netif_tx_wake_queue
from hilnic.net.core.skbuff import consume_skb
from hilnic.net.core.sock import SK_PACING_FQ, SK_PACING_NONE
from hilnic.net.sched.sch_fq import Fq
from hilnic.net.sched.sch_fq_codel import FqCodel
from hilnic.trace.tools import tc_s_qdisc


def timed_driver(host, drv, one_at_a_time: bool = False):
    """Record the simulated time of each skb the driver takes; optionally stop the queue after
    each one (a NIC that takes one packet per wake)."""
    times = []
    orig = drv.xmit

    def xmit(skb, dev):
        times.append(host.env.now())
        rc = orig(skb, dev)
        if one_at_a_time:
            netif_tx_stop_queue(dev._tx[skb.queue_mapping])
        return rc

    drv.dev.netdev_ops.ndo_start_xmit = xmit
    return times


def test_fq_releases_each_packet_at_its_tstamp():
    """EDT: a packet stamped in the future waits in its flow (throttled on the delayed tree)
    until that time; the qdisc watchdog (an hrtimer) reschedules NET_TX then."""
    host, dev, drv = make_dev(qdisc="fq")
    q = dev.qdisc
    assert isinstance(q, Fq)
    times = timed_driver(host, drv)
    t0 = host.env.now()
    due = [t0 + 1 * MS, t0 + 1 * MS + 250 * US, t0 + 3 * MS]
    for i, t in enumerate(due):
        skb = make_tcp_skb(dev, bytes(100), seq=i)
        skb.tstamp = t // 1000  # ns, CLOCK_MONOTONIC
        dev_queue_xmit(skb)
    assert times == [] and q.qstats.qlen == 3
    host.env.run(until=t0 + 5 * MS)
    assert times == due
    assert q.stat_throttled == 3 and q.flows == 1 and q.throttled_flows == 0 and q.qstats.qlen == 0
    for skb in drv.ring:
        consume_skb(skb)
    drv.ring.clear()


def test_fq_sends_a_due_packet_through_the_fast_path_and_marks_the_socket():
    host, dev, drv = make_dev(qdisc="fq")
    q = dev.qdisc
    times = timed_driver(host, drv)
    sk = SimpleNamespace(sk_state=1, sk_pacing_status=SK_PACING_NONE, sk_pacing_rate=1 << 30,
                         sk_max_pacing_rate=(1 << 64) - 1, sk_type=1, sk_protocol=6)
    skb = make_tcp_skb(dev, bytes(100))
    skb.sk = sk
    skb.tstamp = host.env.now() // 1000  # due now
    dev_queue_xmit(skb)
    assert times == [host.env.now()]  # idle fq: straight through the internal queue
    assert q.internal.stat_fastpath_packets == 1 and sk.sk_pacing_status == SK_PACING_FQ
    consume_skb(drv.ring.pop())


def test_fq_round_robin_between_flows():
    """Two orphan flows (no socket; different source ports), 20 packets each queued behind a
    stopped queue: the first 8 take the fast path (an fq with no eligible flow, fewer than 8
    there), the rest deficit round robin, a new flow starting with initial_quantum (10 MTU =
    15140), then 2 MTU (3028) a turn; each packet costs its qdisc_pkt_len (1466 here)."""
    host, dev, drv = make_dev(qdisc="fq")
    q = dev.qdisc
    timed_driver(host, drv)
    netif_tx_stop_queue(dev._tx[0])
    for i in range(20):
        for flow in (1, 2):
            skb = make_tcp_skb(dev, bytes(1400), seq=flow * 1000 + i)
            if flow == 2:
                skb.write_at(skb.network_header + 20, (40001).to_bytes(2, "big"))  # another source port
            dev_queue_xmit(skb)
    assert q.flows == 2 and q.qstats.qlen == 40
    netif_tx_wake_queue(dev._tx[0])
    host.env.run(until=host.env.now() + 1 * MS)
    order = [Ether(b)[TCP].seq // 1000 for b, *_ in drv.log]
    # DRR by hand: (flow, credit, packets left), new flows first
    plen, expected = 1466, [1, 2] * 4
    new, old = [[1, 15140, 16], [2, 15140, 16]], []
    while new or old:
        head = new if new else old
        f = head[0]
        if f[1] <= 0:
            f[1] += 3028
            old.append(head.pop(0))
            continue
        if not f[2]:
            head.pop(0)
            if head is new:
                old.append(f)
            continue
        expected.append(f[0])
        f[1] -= plen
        f[2] -= 1
    assert order == expected
    assert order[8:19] == [1] * 11 and order[19:30] == [2] * 11  # the initial quantum, then turns
    assert q.internal.stat_fastpath_packets == 8
    for skb in drv.ring:
        consume_skb(skb)
    drv.ring.clear()


def _ect0(skb) -> None:
    """Make the packet ECT(0) (IP TOS ECN bits 10), fixing the header checksum with scapy."""
    nh = skb.network_header
    hdr = bytearray(skb.read_at(nh, 20))
    hdr[1] = (hdr[1] & ~3) | 2
    hdr[10:12] = b"\0\0"
    hdr[10:12] = checksum(bytes(hdr)).to_bytes(2, "big")
    skb.write_at(nh, bytes(hdr))


@pytest.mark.parametrize("ecn", [False, True])
def test_fq_codel_drops_after_target_for_an_interval(ecn):
    """50 packets queued at t=0 behind a NIC that takes one every 10 ms. The first two never
    meet CoDel (one bypasses the empty qdisc, the next is requeued by the stopped queue), the
    third is dequeued at 20 ms, 20 ms old: above target (5 ms), so first_above_time = 120 ms.
    The first dequeue after it (130 ms) drops (or ECN-marks), and the next drop is due
    interval·rec_inv_sqrt later, rec_inv_sqrt ≈ 1/√count kept by one Newton step per drop
    (codel_Newton_step: 1, 0.5, 0.5625, ...): 230, 280, 340, 390 ms (RFC 8289, Linux's
    codel_impl.h)."""
    host, dev, drv = make_dev(qdisc="fq_codel")
    q = dev.qdisc
    assert isinstance(q, FqCodel)
    times = timed_driver(host, drv, one_at_a_time=True)
    t0 = host.env.now()
    for i in range(50):
        skb = make_tcp_skb(dev, bytes(1400), seq=i)
        if ecn:
            _ect0(skb)
        dev_queue_xmit(skb)
    assert len(times) == 1 and len(q.gso_skb) == 1
    # The control law in floating point, on the 10 ms dequeue grid
    expected: list[int] = []
    first_above, nxt, count, inv = 20 + 100, None, 0, 1.0
    for t in range(30, 401, 10):
        if nxt is None and t > first_above:
            count, inv = 1, 1.0
            expected.append(t)
            nxt = t + 100 * inv
        elif nxt is not None and t >= nxt:
            count += 1
            inv = inv / 2 * (3 - count * inv * inv)
            expected.append(t)
            nxt = nxt + 100 * inv
    assert expected == [130, 230, 280, 340, 390]
    events = []
    for step in range(1, 41):
        host.env.run(until=t0 + step * 10 * MS)
        before = (q.qstats.drops, q.cstats.ecn_mark)
        netif_tx_wake_queue(dev._tx[0])
        host.env.run(until=t0 + step * 10 * MS + 1 * US)
        if (q.qstats.drops, q.cstats.ecn_mark) != before:
            events.append(step * 10)
    assert events == expected
    assert (q.qstats.drops, q.cstats.ecn_mark) == ((0, len(expected)) if ecn else (len(expected), 0))
    if ecn:
        marked = [Ether(b)[IP] for b, *_ in drv.log if Ether(b)[IP].tos & 3 == 3]
        assert len(marked) == len(expected)
        assert all(checksum(bytes(ip)[:20]) == 0 for ip in marked)  # header checksum still valid
    for skb in drv.ring:
        consume_skb(skb)
    drv.ring.clear()


def test_tc_s_qdisc_prints_fq_codel_and_fq_as_iproute2():
    """iproute2 (tc/q_fq_codel.c, tc/q_fq.c) lines for the Linux 6.18 defaults."""
    host, dev, drv = make_dev(qdisc="fq_codel")
    assert tc_s_qdisc(dev).splitlines() == [
        "qdisc fq_codel 0: root refcnt 2 limit 10240p flows 1024 quantum 1514 target 5ms interval 100ms "
        "memory_limit 32Mb ecn drop_batch 64",
        " Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0)",
        " backlog 0b 0p requeues 0",
        "  maxpacket 0 drop_overlimit 0 new_flow_count 0 ecn_mark 0",
        "  new_flows_len 0 old_flows_len 0",
    ]
    host, dev, drv = make_dev(qdisc="fq")
    host.env.run(until=host.env.now() + 1 * MS)  # (next_packet_delay wraps negative once past the slack)
    assert tc_s_qdisc(dev).splitlines() == [
        "qdisc fq 0: root refcnt 2 limit 10000p flow_limit 100p buckets 1024 orphan_mask 1023 bands 3 "
        "priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1 weights 589824 196608 65536 quantum 3028b "
        "initial_quantum 15140b low_rate_threshold 550Kbit refill_delay 40ms timer_slack 10us horizon 10s "
        "horizon_drop offload_horizon 0us",
        " Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0)",
        " backlog 0b 0p requeues 0",
        "  flows 0 (inactive 0 throttled 0) band0_pkts 0 band1_pkts 0 band2_pkts 0",
        "  gc 0 highprio 0 throttled 0",
    ]
    skb = make_tcp_skb(dev, bytes(100))
    skb.tstamp = (host.env.now() + 2 * MS) // 1000
    dev_queue_xmit(skb)
    host.env.run(until=host.env.now() + 1 * MS)
    lines = tc_s_qdisc(dev).splitlines()
    assert lines[3] == "  flows 1 (inactive 0 throttled 1) band0_pkts 0 band1_pkts 1 band2_pkts 0 next_packet_delay 1.01ms"
    assert lines[4] == "  gc 0 highprio 0 throttled 1"
    host.env.run(until=host.env.now() + 2 * MS)
    assert host.kernel.softirq_count[NET_TX_SOFTIRQ] >= 1 and len(drv.ring) == 1
    consume_skb(drv.ring.pop())
