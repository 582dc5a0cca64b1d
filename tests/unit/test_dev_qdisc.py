"""Device layer and qdisc: dev_queue_xmit, pfifo_fast, __qdisc_run, requeue, BQL, xmit_more.

Behaviours 8, 9, 12, 13, 14, 15 and the device half of 22, driven through a
fake driver (test_gso.FakeDriver) in virtual time.
"""

from __future__ import annotations

import errno

import pytest
from scapy.layers.inet import IP, TCP, in4_pseudoheader
from scapy.layers.l2 import Ether
from scapy.utils import checksum
from test_gso import HDR, device_complete_checksum, make_dev, make_tcp_skb, scapy_checksums_ok

from hilnic.include.net.sch_generic import TCQ_F_CAN_BYPASS, TCQ_F_ONETXQUEUE
from hilnic.kernel.env import MS, SEC
from hilnic.kernel.softirq import NET_TX_SOFTIRQ
from hilnic.net.core.dev import dev_kfree_skb_any, dev_queue_xmit
from hilnic.net.core.netdevice import (
    NET_XMIT_CN,
    NET_XMIT_DROP,
    NET_XMIT_SUCCESS,
    NETIF_F_HW_CSUM,
    NETIF_F_IP_CSUM,
    NETIF_F_SG,
    NETIF_F_TSO,
    QUEUE_STATE_FROZEN,
    dev_close,
    dev_get_stats,
    dev_open,
    ethtool_set_features,
    netdev_tx_completed_queue,
    netif_carrier_off,
    netif_carrier_on,
    netif_tx_queue_stopped,
    netif_tx_stop_queue,
    netif_tx_wake_queue,
    netif_xmit_stopped,
    register_netdev,
)
from hilnic.net.core.skbuff import CHECKSUM_NONE, CHECKSUM_PARTIAL, consume_skb, live_skbs, skb_stats
from hilnic.net.ethernet.eth import alloc_etherdev
from hilnic.net.sched.sch_generic import PfifoFast

SMALL = 100  # payload of a non-GSO test skb
L = HDR + SMALL  # its length on the wire (no FCS)
NO_TSO = NETIF_F_SG | NETIF_F_IP_CSUM


def small(dev, seq=0, priority=0):
    return make_tcp_skb(dev, bytes([seq & 0xFF]) * SMALL, seq=seq, priority=priority)


def seqs(drv):
    return [Ether(b)[TCP].seq for b, *_ in drv.log]


def spy_net_tx(host, drv):
    """Record how many skbs the driver holds after each NET_TX_SOFTIRQ run."""
    k = host.kernel
    orig = k.softirq_vec[NET_TX_SOFTIRQ]
    per_run = []

    def spy():
        orig()
        per_run.append(len(drv.ring))

    k.softirq_vec[NET_TX_SOFTIRQ] = spy
    return per_run


def finish(host, drv):
    """Free what the driver holds and what is still queued; nothing may leak."""
    drv.free_all()
    dev_close(drv.dev)
    host.env.run(until=host.env.now() + 1)
    assert not live_skbs()
    host.kernel.check_quiescent()


# -- registration, qdisc attachment ---------------------------------------------------------------


def test_register_open_attach_default_qdisc():
    host, dev, drv = make_dev(open_=False)
    assert dev.name == "eth0" and dev.tx_queue_len == 1000 and dev.mtu == 1500
    assert host.devices["eth0"] is dev
    assert host.kernel.softirq_vec[NET_TX_SOFTIRQ] is not None
    txq = dev._tx[0]
    # Down: noop qdisc drops with NET_XMIT_CN, the driver sees nothing.
    assert txq.qdisc.id == "noop"
    assert dev_queue_xmit(small(dev)) == NET_XMIT_CN
    assert drv.log == [] and not live_skbs()
    assert dev_open(dev) == 0
    q = txq.qdisc
    assert isinstance(q, PfifoFast) and dev.qdisc is q
    assert q.flags & TCQ_F_ONETXQUEUE and q.flags & TCQ_F_CAN_BYPASS
    # Carrier loss detaches (and empties) the qdisc; carrier back reattaches the same one.
    netif_tx_stop_queue(txq)
    dev_queue_xmit(small(dev))
    dev_queue_xmit(small(dev))
    assert q.qstats.qlen == 2
    netif_carrier_off(dev)
    assert txq.qdisc.id == "noop" and q.qstats.qlen == 0
    netif_carrier_on(dev)
    assert txq.qdisc is q
    dev2 = alloc_etherdev(host)
    register_netdev(dev2)
    assert dev2.name == "eth1"
    dev3 = alloc_etherdev(host, "eth1")
    with pytest.raises(OSError) as e:
        register_netdev(dev3)
    assert e.value.errno == errno.EEXIST
    finish(host, drv)


def test_default_qdisc_by_name_and_mq_for_multiqueue():
    host, dev, drv = make_dev(qdisc="noqueue")
    assert dev._tx[0].qdisc.id == "noqueue"
    host, dev, drv = make_dev(txqs=4)
    assert dev.qdisc.id == "mq"
    children = [t.qdisc for t in dev._tx]
    assert len({id(c) for c in children}) == 4
    assert all(c.id == "pfifo_fast" and c.flags & TCQ_F_ONETXQUEUE for c in children)
    for t in dev._tx:
        netif_tx_stop_queue(t)
    for i in range(40):
        skb = small(dev, seq=i)
        skb.write_at(skb.data + 34, (40000 + i).to_bytes(2, "big"))  # 40 flows
        dev_queue_xmit(skb)
    used = {c for c in range(4) if children[c].qstats.qlen}
    assert len(used) > 1  # flows spread over the queues
    _b, q = dev.qdisc.dump()
    assert q.qlen == 40 and q.requeues == sum(c.qstats.requeues for c in children)
    dev_close(dev)
    finish(host, drv)
    host, dev, drv = make_dev(qdisc="fq_nonexistent", open_=False)
    with pytest.raises(OSError) as e:
        dev_open(dev)
    assert e.value.errno == errno.ENOENT


def test_bypass_sends_directly_and_counts_gso_segments_in_bstats():
    host, dev, drv = make_dev(NO_TSO | NETIF_F_TSO)  # device segments: no software GSO
    txq, q = dev._tx[0], dev._tx[0].qdisc
    skb = make_tcp_skb(dev, bytes(45 * 1448))
    glen = skb.len
    host.env.run(until=7 * MS)
    assert dev_queue_xmit(skb) == NET_XMIT_SUCCESS
    assert len(drv.log) == 1 and len(drv.log[0][0]) == glen
    assert drv.more_flags == [False]
    assert txq.trans_start == 7
    assert q.bstats.packets == 45
    assert q.bstats.bytes == glen + 44 * HDR  # qdisc_pkt_len: headers of every segment
    assert q.qstats.qlen == 0 and q.qstats.requeues == 0
    finish(host, drv)


# -- behaviour 8: quota ------------------------------------------------------------------------------


def test_quota_64_per_run_then_net_tx_four_runs_for_200():
    host, dev, drv = make_dev()
    k, txq, q = host.kernel, dev._tx[0], dev._tx[0].qdisc
    netif_tx_stop_queue(txq)
    for i in range(200):
        assert dev_queue_xmit(small(dev, seq=i)) == NET_XMIT_SUCCESS
    # The first met the stopped queue on the bypass path and was requeued.
    assert q.qstats.qlen == 200 and q.qstats.requeues == 1 and len(q.gso_skb) == 1
    per_run = spy_net_tx(host, drv)
    runs0, raised0 = k.softirq_count[NET_TX_SOFTIRQ], k.softirq_raised[NET_TX_SOFTIRQ]
    netif_tx_wake_queue(txq)
    host.env.run()
    assert per_run == [64, 128, 192, 200]
    assert k.softirq_count[NET_TX_SOFTIRQ] - runs0 == 4
    assert k.softirq_raised[NET_TX_SOFTIRQ] - raised0 == 4  # the wake + 3 quota reschedules
    assert seqs(drv) == list(range(200))
    assert q.qstats.qlen == 0 and q.qstats.backlog == 0
    assert q.bstats.packets == 200
    finish(host, drv)


def test_quota_counts_a_gso_skb_as_one():
    host, dev, drv = make_dev(NO_TSO)  # software GSO: each skb becomes 2 segments
    txq = dev._tx[0]
    netif_tx_stop_queue(txq)
    for i in range(200):
        dev_queue_xmit(make_tcp_skb(dev, bytes(2 * 1448), seq=i * 10_000))
    per_run = spy_net_tx(host, drv)
    netif_tx_wake_queue(txq)
    host.env.run()
    # The first skb met the stopped queue on the bypass path: it was segmented before the
    # requeue, so its 2 segments wait in gso_skb and count 1 each. Every queued GSO skb
    # counts 1: 2 + 62*2 = 126, then 64 GSO skbs (128 segments) per run.
    assert per_run == [126, 254, 382, 400]
    finish(host, drv)


def test_bulk_dequeue_overshoots_quota_by_one_list():
    host, dev, drv = make_dev(bql=True)
    _k, txq = host.kernel, dev._tx[0]
    txq.dql.limit = 100 * L  # sysfs byte_queue_limits/limit ...
    txq.dql.dql_completed(0)  # ... applied at the next completion
    netif_tx_stop_queue(txq)
    for i in range(150):
        dev_queue_xmit(small(dev, seq=i))
    per_run = spy_net_tx(host, drv)
    netif_tx_wake_queue(txq)
    host.env.run()
    # Run 1: the requeued skb, then one bulk list while BQL had room (99 more): 100 > 64.
    # Run 2 (quota spent → NET_TX): one skb puts BQL over the limit (STACK_XOFF), run ends.
    assert per_run == [100, 101]
    assert drv.more_flags[:100] == [False] + [True] * 98 + [False]
    assert netif_xmit_stopped(txq) and not netif_tx_queue_stopped(txq)
    assert txq.dql.inflight == 101 * L
    finish(host, drv)


# -- behaviour 9: stopped queue ----------------------------------------------------------------------


def test_stopped_txq_ends_run_with_backlog_and_no_net_tx_until_wake():
    host, dev, drv = make_dev(stop_after=5)
    k, txq, q = host.kernel, dev._tx[0], dev._tx[0].qdisc
    netif_tx_stop_queue(txq)
    for i in range(20):
        dev_queue_xmit(small(dev, seq=i))
    raised0 = k.softirq_raised[NET_TX_SOFTIRQ]
    netif_tx_wake_queue(txq)
    host.env.run()
    assert len(drv.ring) == 5  # the driver stopped the queue after its 5th
    assert k.softirq_raised[NET_TX_SOFTIRQ] == raised0 + 1  # only the wake raised NET_TX
    assert q.qstats.qlen == 15 and q.qstats.backlog == 15 * L
    assert not k.softirq_pending
    dev_queue_xmit(small(dev, seq=20))  # arrivals while stopped are just queued
    host.env.run()
    assert k.softirq_raised[NET_TX_SOFTIRQ] == raised0 + 1 and q.qstats.qlen == 16
    drv.free_all()  # the ring drains; the driver's clean path wakes the queue
    netif_tx_wake_queue(txq)
    host.env.run()
    assert k.softirq_raised[NET_TX_SOFTIRQ] == raised0 + 2
    assert seqs(drv) == list(range(10))
    assert q.qstats.qlen == 11
    dev_close(dev)
    finish(host, drv)


# -- behaviour 12: requeue of GSO segments -------------------------------------------------------------


def test_software_gso_requeues_35_segments_and_sends_them_first():
    host, dev, drv = make_dev(NO_TSO, stop_after=10)
    txq, q = dev._tx[0], dev._tx[0].qdisc
    seq0 = 5_000_000
    assert dev_queue_xmit(make_tcp_skb(dev, bytes(45 * 1448), seq=seq0)) == NET_XMIT_SUCCESS
    assert len(drv.ring) == 10
    assert q.qstats.requeues == 35 and q.qstats.qlen == 35 and len(q.gso_skb) == 35
    assert drv.doorbells == 1  # the list went out with xmit_more until the queue stopped
    # A later high-priority skb cannot pass the requeued segments.
    assert dev_queue_xmit(small(dev, seq=42, priority=6)) == NET_XMIT_SUCCESS
    drv.free_all()
    drv.stop_after = None  # the ring has room for everything now
    netif_tx_wake_queue(txq)
    host.env.run(until=host.env.now() + 1)
    sent = seqs(drv)[10:]
    assert sent[:35] == [seq0 + i * 1448 for i in range(10, 45)]
    assert sent[35] == 42
    # Requeued skbs leave one at a time (no bulk from gso_skb): one doorbell each.
    assert drv.more_flags[10:45] == [False] * 35
    assert q.qstats.qlen == 0 and q.qstats.backlog == 0
    assert q.bstats.packets == 45 + 1  # counted once, at the bypass
    finish(host, drv)


# -- behaviour 13: pfifo_fast drop and bands ---------------------------------------------------------


def test_band_full_drops_1001st_and_priority_6_goes_first():
    host, dev, drv = make_dev()
    txq, q = dev._tx[0], dev._tx[0].qdisc
    netif_tx_stop_queue(txq)
    assert dev_queue_xmit(small(dev, seq=0)) == NET_XMIT_SUCCESS  # → gso_skb (requeue)
    for i in range(1, 1001):
        assert dev_queue_xmit(small(dev, seq=i)) == NET_XMIT_SUCCESS
    assert len(q.bands[1]) == 1000
    drops0 = q.qstats.drops
    dropped = small(dev, seq=99_999)
    assert dev_queue_xmit(dropped) == NET_XMIT_DROP
    assert q.qstats.drops == drops0 + 1 and dropped.freed
    assert dev_queue_xmit(small(dev, seq=7777, priority=6)) == NET_XMIT_SUCCESS
    assert len(q.bands[0]) == 1 and len(q.bands[1]) == 1000
    assert dev_queue_xmit(small(dev, seq=8888, priority=2)) == NET_XMIT_SUCCESS  # band 2
    netif_tx_wake_queue(txq)
    host.env.run()
    sent = seqs(drv)
    assert sent[0] == 0  # the requeued skb is always first
    assert sent[1] == 7777  # band 0 before band 1
    assert sent[2:1002] == list(range(1, 1001))
    assert sent[1002] == 8888
    assert dev_get_stats(dev).tx_dropped == 0  # qdisc drops are not device drops
    finish(host, drv)


# -- behaviour 14: doorbells -----------------------------------------------------------------------------


def test_one_doorbell_per_gso_list_unless_stopped_part_way():
    host, dev, drv = make_dev(NO_TSO)
    dev_queue_xmit(make_tcp_skb(dev, bytes(45 * 1448)))
    assert drv.more_flags == [True] * 44 + [False]
    assert drv.doorbells == 1
    finish(host, drv)
    host, dev, drv = make_dev(NO_TSO, stop_after=10)
    dev_queue_xmit(make_tcp_skb(dev, bytes(45 * 1448)))
    assert drv.more_flags == [True] * 10 and drv.doorbells == 1  # rung at the stop
    drv.free_all()
    netif_tx_wake_queue(dev._tx[0])
    host.env.run()
    finish(host, drv)


def test_one_doorbell_per_bulk_list():
    host, dev, drv = make_dev(bql=True)
    txq = dev._tx[0]
    txq.dql.limit = 10**6
    txq.dql.dql_completed(0)
    netif_tx_stop_queue(txq)
    for i in range(30):
        dev_queue_xmit(small(dev, seq=i))
    netif_tx_wake_queue(txq)
    host.env.run()
    # The requeued skb alone, then the other 29 as one bulk list.
    assert drv.more_flags == [False] + [True] * 28 + [False]
    assert drv.doorbells == 2
    finish(host, drv)


# -- behaviour 15: BQL ---------------------------------------------------------------------------------


def complete(host, drv, txq, n):
    """What the driver's clean path does (in softirq context)."""
    k = host.kernel
    k.local_bh_disable()
    done, drv.ring[:n] = drv.ring[:n], []
    nbytes = sum(s.len for s in done)
    for s in done:
        consume_skb(s)
    netdev_tx_completed_queue(txq, len(done), nbytes)
    k.local_bh_enable()


def test_bql_after_reset_first_packet_xoffs_then_limit_grows():
    host, dev, drv = make_dev(bql=True)
    txq, q, dql = dev._tx[0], dev._tx[0].qdisc, dev._tx[0].dql
    assert dql.limit == 0
    for i in range(5):
        dev_queue_xmit(small(dev, seq=i))
    assert len(drv.ring) == 1  # limit 0: the first packet sets STACK_XOFF
    assert netif_xmit_stopped(txq) and not netif_tx_queue_stopped(txq)
    assert q.qstats.qlen == 4 and dql.inflight == L
    complete(host, drv, txq, 1)
    # Starved (over the limit, then empty): limit += completed; room for one more.
    assert dql.limit == L
    assert seqs(drv) == [0, 1, 2]
    assert dql.inflight == 2 * L and netif_xmit_stopped(txq)
    complete(host, drv, txq, 2)
    assert dql.limit == 3 * L  # += completed - prev_num_queued (2L) + prev_ovlimit (0)
    assert dql.inflight == 2 * L and q.qstats.qlen == 0
    complete(host, drv, txq, 2)
    assert dql.inflight == 0 and not netif_xmit_stopped(txq)
    finish(host, drv)


def test_bql_limit_shrinks_after_one_second_of_slack():
    host, dev, drv = make_dev(bql=True)
    txq, dql, env = dev._tx[0], dev._tx[0].dql, host.env
    dql.limit = 50_000
    dql.dql_completed(0)
    for i in range(10):
        dev_queue_xmit(small(dev, seq=i))
    history = []
    for step in range(1, 12):
        env.run(until=step * 100 * MS)
        for _ in range(5):
            dev_queue_xmit(small(dev))
        complete(host, drv, txq, 5)  # always 10 left in flight: busy the whole interval
        history.append((host.kernel.jiffies, dql.limit))
    assert all(limit == 50_000 for j, limit in history if j <= 1000)
    assert history[-1] == (1100, 10 * L)  # 50000 - lowest slack (50000 - 2*5L)
    assert dql.inflight == 10 * L
    finish(host, drv)


# -- behaviour 22 (device half): checksums, and validate ----------------------------------------------------


def test_tx_csum_offload_on_driver_gets_partial_with_pseudo_sum():
    host, dev, drv = make_dev(NO_TSO)
    dev_queue_xmit(make_tcp_skb(dev, bytes(range(256)) * 4))
    frame, ip_summed, cstart, coff, _ = drv.log[0]
    assert (ip_summed, cstart, coff) == (CHECKSUM_PARTIAL, 34, 16)
    p = Ether(frame)
    assert p[TCP].chksum == (~checksum(in4_pseudoheader(6, p[IP], 32 + 1024))) & 0xFFFF
    assert scapy_checksums_ok(device_complete_checksum(frame, cstart, coff))
    finish(host, drv)


def test_tx_csum_offload_off_skb_checksum_help_fills_real_checksum():
    host, dev, drv = make_dev(NETIF_F_SG | NETIF_F_IP_CSUM)
    dev.hw_features |= NETIF_F_IP_CSUM
    ethtool_set_features(dev, off=NETIF_F_IP_CSUM)  # ethtool -K eth0 tx off
    assert not dev.features & NETIF_F_IP_CSUM
    skb_stats.csum_bytes = 0
    dev_queue_xmit(make_tcp_skb(dev, bytes(range(256)) * 4 + b"\x01"))  # odd length
    frame, ip_summed, *_ = drv.log[0]
    assert ip_summed == CHECKSUM_NONE
    assert scapy_checksums_ok(frame)
    assert skb_stats.csum_bytes == 32 + 1025
    # A GSO skb on the same device: segmented in software, every segment summed.
    dev_queue_xmit(make_tcp_skb(dev, bytes(3 * 1448 + 7)))
    assert [e[1] for e in drv.log[1:]] == [CHECKSUM_NONE] * 4
    assert all(scapy_checksums_ok(e[0]) for e in drv.log[1:])
    finish(host, drv)


def test_ethtool_rules_tso_needs_csum_and_sg():
    host, dev, drv = make_dev(NETIF_F_SG | NETIF_F_IP_CSUM | NETIF_F_TSO)
    assert dev.features & NETIF_F_TSO
    ethtool_set_features(dev, off=NETIF_F_IP_CSUM)
    assert not dev.features & NETIF_F_TSO  # "Dropping TSO features since no CSUM feature"
    ethtool_set_features(dev, on=NETIF_F_IP_CSUM)
    assert dev.features & NETIF_F_TSO
    with pytest.raises(OSError) as e:
        ethtool_set_features(dev, on=NETIF_F_HW_CSUM)  # not in hw_features
    assert e.value.errno == errno.EOPNOTSUPP
    finish(host, drv)


def test_no_sg_device_gets_linear_skbs():
    host, dev, drv = make_dev(NETIF_F_IP_CSUM)
    skb = make_tcp_skb(dev, bytes(1000))
    assert skb.data_len == 1000
    seen = []
    orig = drv.xmit
    drv.dev.netdev_ops.ndo_start_xmit = lambda s, d: (seen.append(s.data_len), orig(s, d))[1]
    skb_stats.copy_bytes = 0
    dev_queue_xmit(skb)
    assert seen == [0] and skb_stats.copy_bytes == L + 900
    assert scapy_checksums_ok(device_complete_checksum(drv.log[0][0], 34, 16))
    finish(host, drv)


def test_validate_failure_counts_tx_dropped():
    host, dev, drv = make_dev(NO_TSO)
    skb = make_tcp_skb(dev, bytes(3 * 1448))
    skb.write_at(skb.network_header + 9, b"\x11")  # claims UDP: no GSO handler
    assert dev_queue_xmit(skb) == NET_XMIT_SUCCESS  # as Linux: the bypass path reports success
    assert drv.log == [] and skb.freed
    assert dev_get_stats(dev).tx_dropped == 1 and dev.stats.tx_dropped == 0
    finish(host, drv)


# -- noqueue, completion queue, watchdog ------------------------------------------------------------------


def test_noqueue_calls_driver_directly_and_drops_when_stopped():
    host, dev, drv = make_dev(qdisc="noqueue")
    assert dev_queue_xmit(small(dev, seq=1)) == 0
    assert seqs(drv) == [1]
    netif_tx_stop_queue(dev._tx[0])
    skb = small(dev, seq=2)
    assert dev_queue_xmit(skb) == -errno.ENETDOWN
    assert skb.freed and dev_get_stats(dev).tx_dropped == 1
    finish(host, drv)


def test_dev_kfree_skb_irq_defers_to_net_tx_action():
    host, dev, drv = make_dev()
    k = host.kernel
    skb = small(dev)
    k.context = "hardirq"  # as inside a hard-IRQ handler
    dev_kfree_skb_any(skb)
    k.context = "process"
    assert not skb.freed and k.softirq_pending & (1 << NET_TX_SOFTIRQ)
    k.local_bh_disable()
    k.local_bh_enable()  # pending softirqs run here
    assert skb.freed
    finish(host, drv)


def test_dev_watchdog_calls_tx_timeout_for_a_queue_stopped_5s():
    host, dev, drv = make_dev(open_=False)
    k, txq = host.kernel, dev._tx[0]
    calls = []

    def tx_timeout(d, queue):
        calls.append((k.jiffies, queue, bool(txq.state & QUEUE_STATE_FROZEN)))
        netif_tx_wake_queue(txq)  # the driver's reset restarts the queue

    dev.netdev_ops.ndo_tx_timeout = tx_timeout
    dev_open(dev)
    dev_queue_xmit(small(dev))  # trans_start = 0
    netif_tx_stop_queue(txq)
    host.env.run(until=5 * SEC)
    assert calls == []  # 5 s have not passed *after* trans_start yet
    host.env.run(until=5 * SEC + 2 * MS)
    assert calls == [(5001, 0, True)]
    assert txq.trans_timeout == 1 and not txq.state & QUEUE_STATE_FROZEN
    host.env.run(until=30 * SEC)
    assert len(calls) == 1  # running queues never time out
    dev_close(dev)
    assert not dev.watchdog_timer.pending()
    finish(host, drv)
