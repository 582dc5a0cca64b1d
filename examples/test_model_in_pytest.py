"""The behavioral NIC inside ordinary pytest tests: no simulator, virtual time, well under a
second each.

    pytest examples/test_model_in_pytest.py

`model_testbed` builds the machine (stack, e1000 driver, behavioral NIC, peer); `tb.run`
sets it up, runs a process-context coroutine to the end in virtual time and tears it down.
"""

from __future__ import annotations

import pytest

from hilnic.drivers.net.ethernet.intel.e1000.e1000_main import ethtool_stats
from hilnic.kernel.env import SEC
from hilnic.testbed import TestbedConfig, model_testbed, tcp_bulk, udp_send


@pytest.mark.parametrize("mtu", [576, 1500, 9000])
def test_tcp_arrives_byte_exact(mtu):
    tb = model_testbed(TestbedConfig(mtu=mtu, peer={"mss": mtu - 40}))  # the peer's SYN-ACK announces it
    sizes = []
    tb.nic.on_frame(lambda f: sizes.append(len(f.data)))  # every frame the NIC puts on the wire
    r = tb.run(tcp_bulk(tb, 256 << 10), timeout=10 * SEC)
    assert tb.peer.stream(peer_port=5001) == r["payload"]
    assert max(sizes) == mtu + 14 + 4  # full-size segments: MTU + Ethernet header + FCS
    tb.check_clean()  # no skb, no DMA mapping left


def test_losses_are_repaired_by_retransmission():
    tb = model_testbed(TestbedConfig(loss_rate=0.02, seed=3))
    r = tb.run(tcp_bulk(tb, 512 << 10), timeout=30 * SEC)
    assert tb.peer.stream(peer_port=5001) == r["payload"]
    assert tb.peer.counters()["dropped_by_loss"] > 0 and r["tcp_info"]["total_retrans"] > 0


def test_a_small_ring_stops_the_queue():
    # TSO off: one MSS per skb, so a 1 MiB bulk needs ~725 descriptors and outruns 64 slots
    # (with TSO a 64 KiB skb takes a handful and the ring never fills).
    tb = model_testbed(TestbedConfig(ring_size=64, itr=0, tso=False))
    stats = {}

    async def main():
        await tcp_bulk(tb, 1 << 20)
        stats.update(await ethtool_stats(tb.dev))

    tb.run(main(), timeout=10 * SEC)
    assert stats["tx_queue_0_restart"] > 0  # the driver stopped the queue when the ring filled, then woke it


def test_udp_datagrams_are_fragmented_at_the_mtu():
    tb = model_testbed(TestbedConfig(mtu=1500))
    sent = tb.run(udp_send(tb, [100, 4000]), timeout=1 * SEC)
    got = [d.data for d in tb.peer.datagrams]
    assert got == sent  # the 4000-byte one went as three IP fragments and was reassembled
