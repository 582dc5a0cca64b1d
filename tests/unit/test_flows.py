"""Whole flows through stack + driver + behavioral NIC + peer, in virtual time.

Each flow ends with the machine clean: no skb leaked, no DMA mapping live, no IOMMU
violation, BQL inflight back to 0 before the device is closed.
"""

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from hilnic.drivers.net.ethernet.intel.e1000.e1000_main import e1000_get_ethtool_stats
from hilnic.hw.backend import WireFrame
from hilnic.kernel.env import SEC
from hilnic.kernel.softirq import NET_RX_SOFTIRQ, NET_TX_SOFTIRQ
from hilnic.net.core.skbuff import skb_stats
from hilnic.testbed import TestbedConfig, model_testbed, tcp_bulk, udp_send
from hilnic.trace.procfs import netstat_TcpExt


def run_tcp(cfg: TestbedConfig, nbytes: int, timeout=30 * SEC):
    tb = model_testbed(cfg)
    wire: list[WireFrame] = []
    tb.nic.on_frame(wire.append)
    inflight_at_end = []

    async def main():
        r = await tcp_bulk(tb, nbytes)
        await tb.quiesce()
        inflight_at_end.append(tb.bql_inflight())
        return r

    result = tb.run(main(), timeout=timeout)
    tb.check_clean()
    assert inflight_at_end == [0]
    return tb, result, wire


def test_1mib_tcp_delivered_byte_exact():
    tb, r, wire = run_tcp(TestbedConfig(), 1 << 20)
    assert tb.peer.stream(peer_port=5001) == r["payload"]
    data_frames = [f for f in wire if len(f.data) > 1000]
    assert all(len(f.data) <= 1514 + 4 for f in wire)  # never above the MTU
    assert len(data_frames) >= (1 << 20) // 1448 - 2  # a sub-MSS tail may go out mid-send
    assert all(f.fcs_ok for f in wire)
    assert tb.peer.counters()["bad_l4_csum"] == 0 and tb.peer.counters()["bad_ip_csum"] == 0
    assert tb.host.mib["Tcp"]["RetransSegs"] == 0
    # the copies of docs/linux-tx-path.md ("Copies"): user data copied once; clones, not copies, to the IP layer
    assert skb_stats.user_copy_bytes == 1 << 20
    assert skb_stats.clones >= 1 and skb_stats.skb_copies == 0


def test_1mib_tcp_with_one_percent_loss_is_recovered():
    cfg = TestbedConfig(loss_rate=0.01, seed=7)
    tb, r, _ = run_tcp(cfg, 1 << 20, timeout=120 * SEC)
    assert tb.peer.stream(peer_port=5001) == r["payload"]
    lost = tb.peer.counters()["dropped_by_loss"]
    assert lost > 0
    assert tb.host.mib["Tcp"]["RetransSegs"] >= lost
    # SACK (both ends offer it, as Linux's defaults do): every loss repaired by a fast
    # retransmission after SACKed dupacks, none by an RTO
    ext = tb.host.mib["TcpExt"]
    assert ext["TCPSackRecovery"] >= 1 and ext["TCPFastRetrans"] == lost and ext["TCPTimeouts"] == 0
    assert ext["TCPRenoRecovery"] == 0 and tb.peer.counters()["sack_acks"] > 0
    names, values = (line.split()[1:] for line in netstat_TcpExt(tb.host.mib).splitlines())
    assert dict(zip(names, map(int, values), strict=True))["TCPSackRecovery"] == ext["TCPSackRecovery"]


@pytest.mark.parametrize(
    "size, payloads, offsets",
    [(3000, [1480, 1480, 48], [0, 185, 370]), (8000, [1480] * 5 + [608], [0, 185, 370, 555, 740, 925])],
)
def test_udp_datagram_fragmented_as_linux_does(size, payloads, offsets):
    tb = model_testbed(TestbedConfig())
    wire: list[WireFrame] = []
    tb.nic.on_frame(wire.append)
    sent = tb.run(udp_send(tb, [size]), timeout=1 * SEC)
    tb.check_clean()
    frags = [Ether(f.data[:-4]) for f in wire if Ether(f.data[:-4]).haslayer(IP)]
    assert [len(p[IP].payload) for p in frags] == payloads
    assert [p[IP].frag for p in frags] == offsets
    assert [bool(p[IP].flags.MF) for p in frags] == [True] * (len(payloads) - 1) + [False]
    assert all(not p[IP].flags.DF for p in frags)
    assert len({p[IP].id for p in frags}) == 1
    assert tb.peer.datagrams[0].data == sent[0]
    assert tb.host.mib["Ip"]["FragOKs"] == 1 and tb.host.mib["Ip"]["FragCreates"] == len(payloads)
    first = frags[0]
    assert first.haslayer(UDP) and first[UDP].dport == 9000


def test_small_ring_forces_stop_and_wake():
    # TSO off: one or two descriptors per segment fill the ring; a TSO packet takes one per
    # page of payload, so the peer's window keeps the 64-entry ring from filling
    tb, r, _ = run_tcp(TestbedConfig(ring_size=64, tso=False), 2 << 20)
    assert tb.peer.stream(peer_port=5001) == r["payload"]
    st = e1000_get_ethtool_stats(tb.dev)
    assert st["tx_queue_0_restart"] > 0  # the queue stopped and was woken
    assert tb.host.kernel.softirq_count[NET_TX_SOFTIRQ] > 0


def test_itr_moderation_reduces_interrupts_while_throughput_holds():
    nbytes = 2 << 20
    # TSO off: a write-back per segment (with TSO one per GSO packet leaves ITR little to merge)
    tb_off, r_off, _ = run_tcp(TestbedConfig(itr=0, tso=False), nbytes)
    tb_on, r_on, _ = run_tcp(TestbedConfig(itr=20000, tso=False), nbytes)  # at most 20000 interrupts/s (igb's "20K")
    irq_off = tb_off.nic.stats()["irq_asserts"]
    irq_on = tb_on.nic.stats()["irq_asserts"]
    # unmoderated, the CPU time of each NAPI poll already merges some completions
    assert irq_on < irq_off / 5
    secs = r_on["elapsed_ps"] / SEC
    assert irq_on <= 20000 * secs * 1.05 + 2
    # throughput within 15% of the unmoderated run
    assert r_on["elapsed_ps"] <= r_off["elapsed_ps"] * 1.15
    assert tb_on.host.kernel.softirq_count[NET_RX_SOFTIRQ] < tb_off.host.kernel.softirq_count[NET_RX_SOFTIRQ]


def test_segment_with_bad_tcp_checksum_is_dropped_and_counted():
    """tcp_v4_rcv verifies the checksum (no receive offload): a corrupted ACK changes nothing."""
    from scapy.layers.inet import TCP

    from hilnic.drivers.net.rx import host_receive_frame
    from hilnic.net.core.skbuff import skb_stats as stats

    tb = model_testbed(TestbedConfig())
    seen = {}

    async def main():
        s = tb.socket()
        await s.connect((tb.cfg.peer_ip, 5001))
        info = s.tcp_info()
        # An ACK from the peer acknowledging 1000 bytes never sent, with a broken checksum.
        pkt = (Ether(src=tb.cfg.peer_mac, dst=tb.cfg.host_mac) / IP(src=tb.cfg.peer_ip, dst=tb.cfg.host_ip)
               / TCP(sport=5001, dport=s.sk.inet_sport, flags="A", seq=1, ack=(info["snd_una"] + 1000) & 0xFFFFFFFF))
        raw = bytearray(bytes(pkt))
        raw[14 + 20 + 16] ^= 0xFF  # flip checksum bits
        host_receive_frame(tb.host, tb.dev, bytes(raw))
        await tb.host.kernel.msleep(1)
        seen["snd_una"] = (info["snd_una"], s.tcp_info()["snd_una"])
        await s.close()
        await tb.host.kernel.msleep(50)

    tb.run(main(), timeout=1 * SEC)
    tb.check_clean()
    before, after = seen["snd_una"]
    assert after == before
    assert tb.host.mib["Tcp"]["InCsumErrors"] == 1 and tb.host.mib["Tcp"]["InErrs"] == 1
    assert stats.live == 0


def test_linux_format_reports_agree_with_the_run():
    """stats.txt-style reports after a real flow: the numbers are the objects' numbers."""
    import re

    from hilnic.drivers.net.ethernet.intel.e1000.e1000_main import ethtool_stats
    from hilnic.trace import collect_stats

    tb = model_testbed(TestbedConfig())
    out = {}

    async def main():
        await tcp_bulk(tb, 256 << 10)
        await tb.quiesce()
        out["eth"] = await ethtool_stats(tb.dev)
        out["text"] = collect_stats(tb.host, tb.dev, out["eth"], peer=tb.peer)
        out["qdisc"] = tb.dev._tx[0].qdisc  # the device's qdisc is replaced when it closes

    tb.run(main(), timeout=5 * SEC)
    text = out["text"]
    q = out["qdisc"]
    sent = re.search(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits \d+ requeues (\d+)\)", text)
    assert sent and (int(sent[1]), int(sent[2]), int(sent[4])) == (q.bstats.bytes, q.bstats.packets, q.qstats.requeues)
    assert int(re.search(r"tx_queue_0_packets: (\d+)", text)[1]) == tb.frames  # ARP, SYN, data, FIN: all via the driver
    assert int(re.search(r"gptc: (\d+)", text)[1]) == tb.frames  # the NIC counts every frame it sent
    assert int(re.search(r"gotc: (\d+)", text)[1]) == tb.wire_bytes
    softnet = re.search(r"== /proc/net/softnet_stat ==\n(.+)\n", text)[1].split()
    assert len(softnet) == 15 and int(softnet[0], 16) == tb.host.kernel.softnet.processed > 0
    snmp = dict(zip(*[ln.split()[1:] for ln in re.findall(r"^Tcp: .+$", text, re.M)], strict=False))
    assert int(snmp["OutSegs"]) == tb.host.mib["Tcp"]["OutSegs"] and int(snmp["InSegs"]) > 0
    assert re.search(r"user -> kernel copy\s+262144 bytes", text)
    dev_line = re.search(r"eth0:\s+(\d+)\s+(\d+)", text)
    assert int(dev_line[2]) == tb.peer.counters()["frames_tx"]  # frames the peer sent us
