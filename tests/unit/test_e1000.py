"""The e1000/igb-style driver (drivers/net/ethernet/intel/e1000/e1000_main.py) on the behavioral NIC and the real device layer.

Behaviours (docs/linux-behaviours.md) checked here: 10 ring stop, 11 ring wake
and restart counters, 14 (the doorbell half: one TDT write per xmit_more batch), 16 NAPI TX
cleaning limits, 17 driver stats with software GSO, 22 (driver half: CHECKSUM_PARTIAL → IC/CSS/CSO,
the NIC's checksum checked by scapy). Plus: DMA mappings and skbs all released after close, a
wrong DMA address caught by the IOMMU model and the NIC, mapping-error unwind, TX timeout reset.
"""

import struct
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

import hilnic.drivers.net.ethernet.intel.e1000.e1000_main as e1000
from hilnic.drivers.net.ethernet.intel.e1000.e1000 import E1000_DEFAULT_TXD
from hilnic.drivers.net.ethernet.intel.e1000.e1000_main import (
    DESC_NEEDED,
    E1000_MAX_DATA_PER_TXD,
    TX_WAKE_THRESHOLD,
    E1000ProbeError,
    e1000_clean_tx_irq,
    e1000_desc_unused,
    e1000_get_ethtool_stats,
    e1000_irq_enable,
    e1000_probe,
    e1000_tx_csum,
    ethtool_stats,
    netdev_priv,
)
from hilnic.hw.backend import NicBackend
from hilnic.hw.model import ModelNic
from hilnic.hw.regs import (
    E1000_ICR_TXDW,
    E1000_TCTL_EN,
    E1000_TXD_CMD_DEXT,
    E1000_TXD_CMD_EOP,
    E1000_TXD_CMD_IC,
    E1000_TXD_CMD_IFCS,
    E1000_TXD_CMD_IP,
    E1000_TXD_CMD_RS,
    E1000_TXD_CMD_TCP,
    E1000_TXD_CMD_TSE,
    E1000_TXD_POPTS_IXSM,
    E1000_TXD_POPTS_TXSM,
    E1000_TXD_STAT_DD,
    ERR_DMA_READ,
    TX_DESC_SIZE,
    Reg,
    TxContextDesc,
    TxDataDesc,
    TxDesc,
)
from hilnic.include.uapi.linux.if_ether import ETH_P_IP
from hilnic.kernel.env import MS, SEC, US, VirtualEnv
from hilnic.kernel.softirq import NET_TX_SOFTIRQ
from hilnic.lib.checksum import csum_partial
from hilnic.net.core import netdevice as nd
from hilnic.net.core.dev import dev_queue_xmit, xmit_one
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.skbuff import (
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    SKB_GSO_TCPV4,
    Page,
    alloc_skb,
    live_skbs,
    skb_add_data_frag,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rtl"))  # tso_ref: shared with the RTL bench
from tso_ref import scapy_segments

MAC_DST, MAC_SRC = "02:00:00:00:00:02", "02:00:00:00:00:01"
IP_SRC, IP_DST = "10.0.0.1", "10.0.0.2"
HDR_LEN = 14 + 20 + 32  # Ethernet + IPv4 + TCP with timestamps
MSS = 1448


class Rig:
    """Host + behavioral NIC + probed and opened eth0; frames seen on the wire."""

    def __init__(self, ring_size: int = 256, itr: int = 0, **probe_kw) -> None:
        self.env = VirtualEnv()
        self.host = Host(self.env)
        # The driver's register writes as it makes them (no CPU costs: the doorbell at the
        # CPU's time is tested in test_kernel.py)
        self.host.kernel.set_cpu_scale(0)
        self.nic = ModelNic(self.env, self.host.mem)
        self.wire = []
        self.nic.on_frame(self.wire.append)
        task = self.env.spawn(e1000_probe(self.host, self.nic, irq=11, ring_size=ring_size, itr=itr, **probe_kw))
        self.dev = self.env.run_until_complete(task, timeout=10 * MS)
        assert nd.dev_open(self.dev) == 0
        self.env.run(until=self.env.now() + 10 * US)  # the posted register writes land
        self.adapter = netdev_priv(self.dev)
        self.txq = nd.netdev_get_tx_queue(self.dev, 0)
        self.tdt_writes = []
        orig = self.nic.writel

        def spy(off, val):
            if off == Reg.TDT:
                self.tdt_writes.append(val)
            return orig(off, val)

        self.nic.writel = spy
        self.seq = 1000

    def run(self, duration: int = 1 * MS) -> None:
        self.env.run(until=self.env.now() + duration)

    def tcp_skb(self, payload_frags=(700, 748), csum_partial_tcp: bool = True, flags: str = "A") -> tuple:
        """A TCP skb shaped like the stack's: headers linear, payload in page frags."""
        payload = bytes((self.seq + i) & 0xFF for i in range(sum(payload_frags)))
        pkt = (
            Ether(dst=MAC_DST, src=MAC_SRC)
            / IP(src=IP_SRC, dst=IP_DST, flags="DF", id=self.seq & 0xFFFF)
            / TCP(
                sport=40000,
                dport=5001,
                seq=self.seq,
                ack=1,
                flags=flags,
                options=[("NOP", None), ("NOP", None), ("Timestamp", (1, 2))],
            )
            / payload
        )
        good = bytes(Ether(bytes(pkt)))
        self.seq += len(payload)
        assert len(good) == HDR_LEN + len(payload)
        skb = alloc_skb(320)
        skb.skb_reserve(320 - HDR_LEN)
        hdr = bytearray(good[:HDR_LEN])
        if csum_partial_tcp:
            pseudo = struct.pack(
                ">4s4sBBH", bytes(map(int, IP_SRC.split("."))), bytes(map(int, IP_DST.split("."))), 0, 6, len(good) - 34
            )
            hdr[34 + 16 : 34 + 18] = csum_partial(pseudo).to_bytes(2, "big")  # ~tcp_v4_check(): the folded pseudo sum
            skb.ip_summed = CHECKSUM_PARTIAL
            skb.csum_start = skb.data + 34
            skb.csum_offset = 16
        skb.skb_put_data(bytes(hdr))
        skb.network_header = skb.data + 14
        skb.transport_header = skb.data + 34
        off = 0
        for size in payload_frags:
            page = Page(max(4096, size))  # a compound page for a large frag
            page.write(0, payload[off : off + size])
            skb_add_data_frag(skb, page, 0, size, 4096)
            off += size
        skb.dev = self.dev
        return skb, good

    def xmit(self, skb, more: bool = False) -> int:
        return xmit_one(skb, self.dev, self.txq, more)


def test_probe_identifies_the_nic_and_registers_eth0():
    r = Rig()
    assert r.dev.name == "eth0" and r.host.devices["eth0"] is r.dev
    assert r.dev.features & nd.NETIF_F_SG and r.dev.features & nd.NETIF_F_HW_CSUM
    assert r.dev.features & nd.NETIF_F_TSO  # on by default, as e1000 (82544 and later)
    assert not nd.ethtool_set_features(r.dev, off=nd.NETIF_F_TSO) & nd.NETIF_F_TSO  # ethtool -K eth0 tso off
    assert nd.ethtool_set_features(r.dev, on=nd.NETIF_F_TSO) & nd.NETIF_F_TSO
    assert r.adapter.hid == 0x484E4943 and r.dev.watchdog_timeo == 5000
    assert nd.netif_carrier_ok(r.dev) and not nd.netif_xmit_stopped(r.txq)
    assert r.nic.peek(Reg.TCTL) & E1000_TCTL_EN
    assert r.nic.peek(Reg.TDLEN) == 256 * TX_DESC_SIZE
    assert r.nic.peek(Reg.IMS) & E1000_ICR_TXDW


def test_probe_rejects_a_device_with_the_wrong_id():
    class Other(NicBackend):
        def writel(self, offset, value):
            pass

        async def readl(self, offset):
            return 0x8086100E  # an Intel 82540EM, not a hilnic NIC

    env = VirtualEnv()
    host = Host(env)
    env.run(until=0)
    task = env.spawn(e1000_probe(host, Other()))
    with pytest.raises(RuntimeError) as ei:
        env.run_until_complete(task, timeout=1 * MS)
    assert isinstance(ei.value.__cause__ or ei.value, E1000ProbeError)
    assert "HID" in str(ei.value.__cause__ or ei.value)
    assert "eth0" not in host.devices


def test_probe_rejects_bad_parameters():
    env = VirtualEnv()
    host = Host(env)
    nic = ModelNic(env, host.mem)
    env.run(until=0)  # let the CPU's own tasks start
    for kw in ({"ring_size": 100}, {"ring_size": 32}, {"itr": 50}, {"wthresh": 64}):
        coro = e1000_probe(host, nic, **kw)
        with pytest.raises(ValueError):
            coro.send(None)
    # igb's constants (docs/linux-tx-path.md §8)
    assert (DESC_NEEDED, TX_WAKE_THRESHOLD, E1000_MAX_DATA_PER_TXD) == (21, 42, 32768)
    assert (e1000.E1000_DEFAULT_TX_WORK, e1000.E1000_NAPI_WEIGHT, E1000_DEFAULT_TXD) == (128, 64, 256)


def test_frames_leave_byte_exact_and_checksum_is_inserted_by_the_nic():
    r = Rig()
    sent = []
    for frags in ((1448,), (700, 748), (1, 2, 1445)):
        skb, good = r.tcp_skb(frags)
        sent.append(good)
        assert r.xmit(skb) == nd.NETDEV_TX_OK
    # The EOP descriptor carries IC with CSS/CSO counted from the frame start.
    head = TxDesc.unpack(r.host.mem.read(r.adapter.tx_ring.dma + 0 * TX_DESC_SIZE, TX_DESC_SIZE))
    assert head.length == HDR_LEN and head.cmd == E1000_TXD_CMD_IFCS  # not the last: no EOP/RS
    eop = TxDesc.unpack(r.host.mem.read(r.adapter.tx_ring.dma + 1 * TX_DESC_SIZE, TX_DESC_SIZE))
    assert eop.cmd == E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS | E1000_TXD_CMD_IC
    assert (eop.css, eop.cso, eop.length) == (34, 50, 1448)
    r.run()
    assert [f.data[:-4] for f in r.wire] == sent  # scapy computed these checksums
    for f in r.wire:
        p = Ether(f.data[:-4])
        assert p[TCP].chksum == Ether(bytes(p.__class__(bytes(p))))[TCP].chksum and f.fcs_ok


def test_udp_checksum_partial_and_software_fallback():
    r = Rig()
    payload = bytes(range(200))
    good = bytes(Ether(bytes(Ether(dst=MAC_DST, src=MAC_SRC) / IP(src=IP_SRC, dst=IP_DST) / UDP(sport=7, dport=9) / payload)))
    pseudo = struct.pack(">4s4sBBH", bytes(map(int, IP_SRC.split("."))), bytes(map(int, IP_DST.split("."))), 0, 17, 208)
    partial = bytearray(good)
    partial[40:42] = csum_partial(pseudo).to_bytes(2, "big")
    skb = alloc_skb(512)
    skb.skb_reserve(64)
    skb.skb_put_data(bytes(partial))
    skb.ip_summed, skb.csum_start, skb.csum_offset = CHECKSUM_PARTIAL, skb.data + 34, 6
    assert r.xmit(skb) == nd.NETDEV_TX_OK
    r.run()
    assert r.wire[-1].data[:-4] == good
    # A checksum start the 8-bit CSS cannot reach is finished in software (skb_checksum_help).
    far = alloc_skb(1024)
    far.skb_put_data(bytes(300) + bytes(partial[34:]))
    far.ip_summed, far.csum_start, far.csum_offset = CHECKSUM_PARTIAL, far.data + 300, 6
    assert e1000_tx_csum(far) == (-1, -1)
    assert far.ip_summed == CHECKSUM_NONE
    assert far.read_at(far.data + 306, 2) == good[40:42]
    e1000.kfree_skb(far)


def test_ring_stops_right_after_the_xmit_that_leaves_fewer_than_21(monkeypatch):
    """Behaviour 10: 256 ring, 3 descriptors per packet: stop after packet 79 (18 left)."""
    r = Rig()
    ring = r.adapter.tx_ring
    for n in range(1, 80):
        skb, _ = r.tcp_skb((700, 748))
        assert r.xmit(skb) == nd.NETDEV_TX_OK
        if n == 78:
            assert e1000_desc_unused(ring) == 21 and not nd.netif_tx_queue_stopped(r.txq)
    assert e1000_desc_unused(ring) == 255 - 3 * 79 == 18 < DESC_NEEDED
    assert nd.netif_tx_queue_stopped(r.txq) and nd.netif_xmit_stopped(r.txq)
    assert e1000_get_ethtool_stats(r.dev)["tx_queue_0_restart"] == 0
    assert r.tdt_writes[-1] == 3 * 79 % 256


def _fill_until_stopped(r: Rig) -> int:
    n = 0
    while not nd.netif_tx_queue_stopped(r.txq):
        skb, _ = r.tcp_skb((700, 748))
        assert r.xmit(skb) == nd.NETDEV_TX_OK
        n += 1
    return n


def _complete(r: Rig, packets: int) -> None:
    """Pretend the NIC finished the oldest `packets` packets: set DD on their EOP descriptors."""
    ring = r.adapter.tx_ring
    i = ring.next_to_clean
    for _ in range(packets):
        eop = ring.tx_buffer_info[i].next_to_watch
        r.host.mem.write(ring.dma + eop * TX_DESC_SIZE + 12, bytes([E1000_TXD_STAT_DD]))
        i = (eop + 1) % ring.count


def test_ring_wakes_only_after_a_clean_frees_packets_and_42_are_free():
    """Behaviour 11: wake when unused >= 42 after a clean that freed packets; restart += 1, NET_TX."""
    r = Rig()
    r.nic.writel(Reg.TCTL, 0)  # the NIC completes nothing by itself: the test sets DD
    r.run(10 * US)
    assert _fill_until_stopped(r) == 79
    k = r.host.kernel
    ring = r.adapter.tx_ring
    net_tx = k.softirq_raised[NET_TX_SOFTIRQ]
    assert e1000_clean_tx_irq(r.adapter, 64) is True  # nothing done: nothing freed
    assert nd.netif_tx_queue_stopped(r.txq)
    _complete(r, 7)
    e1000_clean_tx_irq(r.adapter, 64)
    assert e1000_desc_unused(ring) == 18 + 21 == 39 < TX_WAKE_THRESHOLD
    assert nd.netif_tx_queue_stopped(r.txq) and k.softirq_raised[NET_TX_SOFTIRQ] == net_tx
    _complete(r, 1)
    e1000_clean_tx_irq(r.adapter, 64)
    assert e1000_desc_unused(ring) == 42
    assert not nd.netif_tx_queue_stopped(r.txq)
    assert k.softirq_raised[NET_TX_SOFTIRQ] == net_tx + 1  # netif_wake_subqueue → __netif_schedule
    stats = e1000_get_ethtool_stats(r.dev)
    assert stats["tx_queue_0_restart"] == 1 and r.adapter.tx_ring.tx_stats.restart_queue == 1
    assert stats["tx_queue_0_packets"] == 8


def test_stop_undone_by_the_recheck_counts_restart_queue2(monkeypatch):
    """Behaviour 11, second half: another CPU cleans between the stop and the re-check."""
    r = Rig()
    r.nic.writel(Reg.TCTL, 0)
    r.run(10 * US)
    for _ in range(78):
        skb, _ = r.tcp_skb((700, 748))
        r.xmit(skb)
    _complete(r, 5)

    def other_cpu_cleans():
        monkeypatch.setattr(e1000, "smp_mb", lambda: None)
        e1000_clean_tx_irq(r.adapter, 64)

    monkeypatch.setattr(e1000, "smp_mb", other_cpu_cleans)
    skb, _ = r.tcp_skb((700, 748))
    assert r.xmit(skb) == nd.NETDEV_TX_OK  # packet 79: stop, barrier (clean), re-check: reprieve
    assert not nd.netif_tx_queue_stopped(r.txq)
    assert r.adapter.tx_ring.tx_stats.restart_queue2 == 1
    assert r.adapter.tx_ring.tx_stats.restart_queue == 0  # the queue was not stopped when it cleaned
    assert e1000_get_ethtool_stats(r.dev)["tx_queue_0_restart"] == 1


def test_doorbell_once_per_xmit_more_batch_and_when_stopped():
    """Behaviour 14, driver half: TDT written iff stopped or !xmit_more."""
    r = Rig()
    # Fresh BQL (limit 0): every skb sets STACK_XOFF, so every xmit rings the doorbell.
    for _ in range(3):
        skb, _ = r.tcp_skb((1448,))
        r.xmit(skb, more=True)
    assert r.tdt_writes == [2, 4, 6]
    r.run()
    r.tdt_writes.clear()
    dql = r.txq.dql
    dql.min_limit = dql.limit = 1 << 20  # byte_queue_limits/limit_min
    dql.adj_limit = dql.limit + dql.num_completed
    for i in range(10):
        skb, _ = r.tcp_skb((1448,))
        r.xmit(skb, more=i < 9)
    assert r.tdt_writes == [26]
    r.run()
    assert len(r.wire) == 13
    r.tdt_writes.clear()
    r.nic.writel(Reg.TCTL, 0)
    r.run(10 * US)
    r.tdt_writes.clear()
    n = 0
    while not nd.netif_tx_queue_stopped(r.txq):
        skb, _ = r.tcp_skb((700, 748))
        r.xmit(skb, more=True)  # more behind it, but the stop forces the doorbell
        n += 1
    assert r.tdt_writes == [r.adapter.tx_ring.next_to_use]


def test_napi_clean_is_bounded_and_unmasks_once():
    """Behaviour 16: ≤128 packets per clean; more pending → poll returns 64, IRQ stays masked."""
    r = Rig(ring_size=1024)
    k = r.host.kernel
    r.nic.writel(Reg.IMC, 0xFFFFFFFF)  # let the NIC finish everything first
    for i in range(200):
        skb, _ = r.tcp_skb((1448,))
        r.xmit(skb, more=i < 199)
    r.run(2 * MS)
    assert len(r.wire) == 200
    cleaned, polls, ims = [], [], []
    orig_clean, orig_poll, orig_w = e1000.e1000_clean_tx_irq, r.adapter.napi.poll, r.nic.writel

    def clean_spy(adapter, budget):
        before = adapter.tx_ring.tx_stats.packets
        done = orig_clean(adapter, budget)
        cleaned.append((adapter.tx_ring.tx_stats.packets - before, done, r.nic.irq_level, r.nic.peek(Reg.IMS)))
        return done

    def poll_spy(napi, budget):
        ret = orig_poll(napi, budget)
        polls.append(ret)
        return ret

    def w_spy(off, val):
        if off == Reg.IMS:
            ims.append(r.env.now())
        return orig_w(off, val)

    e1000.e1000_clean_tx_irq = clean_spy
    r.adapter.napi.poll = poll_spy
    r.nic.writel = w_spy
    try:
        irq_count = k.irqs[11].count
        e1000_irq_enable(r.adapter)  # TXDW is pending: the line goes up
        ims.clear()
        r.run(1 * MS)
    finally:
        e1000.e1000_clean_tx_irq = orig_clean
    assert k.irqs[11].count == irq_count + 1
    assert [c[0] for c in cleaned] == [128, 72]
    assert [c[1] for c in cleaned] == [False, True]
    assert cleaned[0][3] == 0  # masked (IMC) while the first poll ran
    assert polls == [64, 0]
    assert len(ims) == 1 and r.adapter.stats.eims_writes == 1
    assert e1000_get_ethtool_stats(r.dev)["tx_queue_0_packets"] == 200


def test_software_gso_segments_count_as_packets_and_bytes():
    """Behaviour 17 with TSO off: each GSO segment is its own skb (gso_segs 1), so
    tx_queue_0_packets counts segments and tx_queue_0_bytes = len + (segs-1)·hdr_len."""
    r = Rig()
    segs = 5
    skbs = [r.tcp_skb((MSS,))[0] for _ in range(segs)]
    for i, skb in enumerate(skbs):
        r.xmit(skb, more=i < segs - 1)
    r.run()
    st = e1000_get_ethtool_stats(r.dev)
    gso_len = HDR_LEN + segs * MSS  # the GSO skb these segments came from
    assert st["tx_queue_0_packets"] == segs
    assert st["tx_queue_0_bytes"] == gso_len + (segs - 1) * HDR_LEN
    assert r.dev.stats.tx_packets == segs


def _gso_skb(r: Rig, frags: tuple[int, ...], mss: int = MSS):
    """A GSO skb as TCP hands it down (headers linear, CHECKSUM_PARTIAL, gso_size/segs/type)."""
    skb, good = r.tcp_skb(frags, flags="PA")
    payload = sum(frags)
    skb.shinfo.gso_size, skb.shinfo.gso_segs, skb.shinfo.gso_type = mss, -(-payload // mss), SKB_GSO_TCPV4
    skb.protocol = ETH_P_IP
    return skb, good


def test_tso_context_descriptor_as_linux_e1000_tso_and_segments_on_the_wire():
    """A GSO skb with TSO on: one context descriptor with e1000_tso()'s fields, TSE data
    descriptors (IXSM|TXSM); the NIC's segments are the ones scapy builds from the packet;
    BQL and the ring counters count segments and their header bytes (igb_tso)."""
    r = Rig()
    skb, good = _gso_skb(r, (MSS, 20000, 3000))
    segs = -(-(len(good) - HDR_LEN) // MSS)
    assert r.xmit(skb) == nd.NETDEV_TX_OK
    ring = r.adapter.tx_ring
    ctx = TxContextDesc.unpack(r.host.mem.read(ring.dma, TX_DESC_SIZE))
    assert ctx == TxContextDesc(ipcss=14, ipcso=24, ipcse=33, tucss=34, tucso=50, tucse=0, paylen=len(good) - HDR_LEN,
                                tucmd=E1000_TXD_CMD_TCP | E1000_TXD_CMD_IP | E1000_TXD_CMD_TSE | E1000_TXD_CMD_DEXT,
                                hdrlen=HDR_LEN, mss=MSS)
    data = [TxDataDesc.unpack(r.host.mem.read(ring.dma + TX_DESC_SIZE * i, TX_DESC_SIZE)) for i in range(1, 5)]
    assert [d.length for d in data] == [HDR_LEN, MSS, 20000, 3000]
    assert all(d.dcmd & (E1000_TXD_CMD_DEXT | E1000_TXD_CMD_TSE | E1000_TXD_CMD_IFCS) == 0x26 for d in data)
    assert all(d.popts == E1000_TXD_POPTS_IXSM | E1000_TXD_POPTS_TXSM for d in data)
    assert data[-1].dcmd & E1000_TXD_CMD_EOP and not data[0].dcmd & E1000_TXD_CMD_EOP
    # the header the NIC got: IP total length and checksum 0, the pseudo-header sum without length
    hdr = skb.read_at(skb.data, HDR_LEN)
    assert hdr[16:18] == b"\0\0" and hdr[24:26] == b"\0\0"
    pseudo = struct.pack(">4s4sBBH", bytes(map(int, IP_SRC.split("."))), bytes(map(int, IP_DST.split("."))), 0, 6, 0)
    assert hdr[50:52] == csum_partial(pseudo).to_bytes(2, "big")
    r.run()
    assert [f.data[:-4] for f in r.wire] == scapy_segments(Ether(good), MSS)
    st = e1000_get_ethtool_stats(r.dev)
    assert st["tx_queue_0_packets"] == segs == r.dev.stats.tx_packets
    assert st["tx_queue_0_bytes"] == len(good) + (segs - 1) * HDR_LEN
    assert r.txq.dql.num_completed == len(good) + (segs - 1) * HDR_LEN


def test_tso_off_the_stack_segments_and_the_wire_is_the_same():
    """ethtool -K eth0 tso off: validate_xmit_skb segments the GSO skb in software and the
    driver sends legacy descriptors; the wire carries the same segments as with TSO."""
    wires = {}
    for tso in (True, False):
        r = Rig()
        if not tso:
            nd.ethtool_set_features(r.dev, off=nd.NETIF_F_TSO)
        r.seq = 1000
        skb, good = _gso_skb(r, (MSS, 7000, 100))
        assert dev_queue_xmit(skb) == nd.NET_XMIT_SUCCESS
        r.run()
        wires[tso] = [f.data for f in r.wire]
        descs = [TxDesc.unpack(r.host.mem.read(r.adapter.tx_ring.dma + TX_DESC_SIZE * i, TX_DESC_SIZE))
                 for i in range(r.adapter.tx_ring.next_to_use)]
        assert any(d.cmd & E1000_TXD_CMD_DEXT for d in descs) == tso
    assert wires[True] == wires[False] and len(wires[True]) == -(-(len(good) - HDR_LEN) // MSS)


def test_tso_mapping_error_puts_next_to_use_back_on_the_context_descriptor(monkeypatch):
    r = Rig()
    mem = r.host.mem
    orig = mem.dma_map
    calls = {"n": 0}

    def failing(addr, length, direction, owner=""):
        calls["n"] += 1
        if calls["n"] == 2:
            raise IndexError("IOMMU out of space")
        return orig(addr, length, direction, owner)

    monkeypatch.setattr(mem, "dma_map", failing)
    skb, _ = _gso_skb(r, (MSS, MSS))
    assert r.xmit(skb) == nd.NETDEV_TX_OK
    assert r.adapter.tx_ring.next_to_use == 0 and r.adapter.stats.tx_dma_failed == 1
    monkeypatch.setattr(mem, "dma_map", orig)
    skb, good = _gso_skb(r, (MSS, MSS))
    r.xmit(skb)
    r.run()
    assert [f.data[:-4] for f in r.wire] == scapy_segments(Ether(good), MSS)


def test_through_dev_queue_xmit_and_ethtool_reads_the_nic():
    r = Rig()
    sent = []
    for _ in range(30):
        skb, good = r.tcp_skb((1000, 448))
        sent.append(good)
        assert dev_queue_xmit(skb) == nd.NET_XMIT_SUCCESS
        r.run(5 * US)
    r.run(1 * MS)
    assert [f.data[:-4] for f in r.wire] == sent
    task = r.env.spawn(ethtool_stats(r.dev))
    st = r.env.run_until_complete(task, timeout=1 * MS)
    assert st["gptc"] == 30 and st["tpt"] == 30
    assert st["gotc"] == sum(len(g) + 4 for g in sent)
    assert st["tx_queue_0_packets"] == 30 and st["tx_queue_0_bytes"] == sum(len(g) for g in sent)
    assert st["txdrop"] == 0 and st["tx_timeout_count"] == 0


def test_close_unmaps_every_buffer_and_frees_every_skb():
    r = Rig()
    baseline_maps = {(m.addr, m.length) for m in r.host.mem.live_mappings} - {(r.adapter.tx_ring.dma, 256 * TX_DESC_SIZE)}
    for i in range(50):
        skb, _ = r.tcp_skb((700, 748))
        r.xmit(skb, more=i % 7 != 6)
    r.run(20 * US)  # part of it is still on the ring
    assert 0 < len(r.wire) < 50 and live_skbs()
    task = r.env.spawn(nd.dev_close_async(r.dev))
    r.env.run_until_complete(task, timeout=100 * MS)
    assert live_skbs() == []
    assert {(m.addr, m.length) for m in r.host.mem.live_mappings} == baseline_maps == set()
    assert r.host.mem.violations == []
    assert 11 not in r.host.kernel.irqs
    n = len(r.wire)
    r.run(1 * MS)
    assert len(r.wire) == n  # nothing leaves after close


def test_dma_mapping_error_unwinds_and_drops(monkeypatch):
    r = Rig()
    mem = r.host.mem
    calls = {"n": 0}
    orig = mem.dma_map

    def failing(addr, length, direction, owner=""):
        calls["n"] += 1
        if calls["n"] == 3:  # the second frag of the packet
            raise IndexError("IOMMU out of space")
        return orig(addr, length, direction, owner)

    before = len(mem.live_mappings)
    monkeypatch.setattr(mem, "dma_map", failing)
    skb, _ = r.tcp_skb((700, 748))
    assert r.xmit(skb) == nd.NETDEV_TX_OK  # consumed (dropped)
    assert skb.freed and len(mem.live_mappings) == before
    assert r.adapter.tx_ring.next_to_use == 0 and r.tdt_writes == []
    assert r.dev.stats.tx_dropped == 1 and e1000_get_ethtool_stats(r.dev)["tx_dma_failed"] == 1
    monkeypatch.setattr(mem, "dma_map", orig)
    skb, good = r.tcp_skb((700, 748))
    r.xmit(skb)
    r.run()
    assert [f.data[:-4] for f in r.wire] == [good]


def test_wrong_dma_address_is_caught_and_the_driver_resets_the_ring():
    r = Rig()
    mem = r.host.mem
    ring = r.adapter.tx_ring
    sent = []
    for i in range(6):
        skb, good = r.tcp_skb((700, 748))
        sent.append(good)
        r.xmit(skb, more=i < 5)
        if i == 3:
            # A driver bug: the second frag's descriptor points at memory nobody mapped.
            bad_idx = (ring.next_to_use - 1) % ring.count
            bogus = 0x1_0000_0000 + (40 << 20)
            raw = bytearray(mem.read(ring.dma + bad_idx * TX_DESC_SIZE, TX_DESC_SIZE))
            raw[0:8] = bogus.to_bytes(8, "little")
            mem.write(ring.dma + bad_idx * TX_DESC_SIZE, bytes(raw))
    r.run(50 * MS)
    assert [v.addr for v in mem.violations] == [bogus]
    assert r.adapter.stats.last_errcause & ERR_DMA_READ and r.adapter.stats.last_erraddr == bogus
    assert r.adapter.stats.tx_restart_hw == 1
    assert [f.data[:-4] for f in r.wire] == sent[:3]  # nothing from the bad packet onwards
    # The reset freed what was pending and the device works again.
    assert live_skbs() == [] and not r.adapter.reset_pending
    skb, good = r.tcp_skb((1448,))
    assert dev_queue_xmit(skb) == nd.NET_XMIT_SUCCESS
    r.run(1 * MS)
    assert r.wire[-1].data[:-4] == good and len(mem.violations) == 1


def test_tx_timeout_resets_a_hung_transmitter():
    r = Rig()
    r.nic.writel(Reg.TCTL, 0)  # the transmitter hangs behind the driver's back
    r.run(10 * US)
    n = _fill_until_stopped(r)
    assert n == 79
    r.run(4 * SEC)
    assert e1000_get_ethtool_stats(r.dev)["tx_timeout_count"] == 0
    r.run(4 * SEC)  # dev_watchdog: stopped for more than watchdog_timeo (5 s)
    st = e1000_get_ethtool_stats(r.dev)
    assert st["tx_timeout_count"] == 1
    assert live_skbs() == [] and not nd.netif_tx_queue_stopped(r.txq)
    assert r.nic.peek(Reg.TCTL) & E1000_TCTL_EN
    skb, good = r.tcp_skb((1448,))
    assert dev_queue_xmit(skb) == nd.NET_XMIT_SUCCESS
    r.run(1 * MS)
    assert r.wire[-1].data[:-4] == good


def test_large_buffers_split_at_32k_per_descriptor():
    r = Rig()
    big = 40000
    skb = alloc_skb(big + 64)
    skb.skb_put_data(bytes(Ether(dst=MAC_DST, src=MAC_SRC, type=0x88B5)) + bytes(i & 0xFF for i in range(big - 14)))
    r.nic.writel(Reg.TCTL, 0)
    r.run(10 * US)
    r.xmit(skb)
    ring = r.adapter.tx_ring
    d0 = TxDesc.unpack(r.host.mem.read(ring.dma, TX_DESC_SIZE))
    d1 = TxDesc.unpack(r.host.mem.read(ring.dma + TX_DESC_SIZE, TX_DESC_SIZE))
    assert (d0.length, d1.length) == (E1000_MAX_DATA_PER_TXD, big - E1000_MAX_DATA_PER_TXD)
    assert d1.addr == d0.addr + E1000_MAX_DATA_PER_TXD
    assert (
        not d0.cmd & E1000_TXD_CMD_EOP and d1.cmd & (E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS) == E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS
    )
    assert ring.next_to_use == 2


@pytest.mark.parametrize("head_wb", [False, True])
def test_completion_with_dd_or_head_write_back_and_adaptive_itr(head_wb):
    r = Rig(itr=3, head_wb=head_wb, wthresh=4)
    for i in range(100):
        skb, _ = r.tcp_skb((1448,))
        r.xmit(skb, more=i % 10 != 9)
    r.run(2 * MS)
    st = e1000_get_ethtool_stats(r.dev)
    assert len(r.wire) == 100 and st["tx_queue_0_packets"] == 100
    assert live_skbs() == [] and r.adapter.tx_ring.next_to_clean == r.adapter.tx_ring.next_to_use
    # igb_update_ring_itr on full-size frames: (1514 + 24) / 2 = 769 → ~192 us
    assert r.adapter.itr_val == (HDR_LEN + MSS + 24) // 2
    stats = r.nic.stats()
    assert (stats["head_writebacks"] > 0) == head_wb and (stats["writebacks"] > 0) != head_wb
