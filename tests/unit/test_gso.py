"""Software GSO (skb_gso_segment for TCPv4) checked against scapy.

Also holds the helpers the device-layer tests use: a host with a registered device and a
fake driver, and a TCP skb built the way tcp_sendmsg/__tcp_transmit_skb/ip_queue_xmit/
neigh_hh_output leave it (headers in the linear area, payload in page frags,
CHECKSUM_PARTIAL with the pseudo-header sum), with the header bytes made by scapy.
"""

from __future__ import annotations

import errno

import pytest
from scapy.layers.inet import IP, TCP, in4_pseudoheader
from scapy.layers.l2 import Ether
from scapy.utils import checksum

from hilnic.kernel.env import VirtualEnv
from hilnic.net.core.gso import skb_gso_segment
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdevice import (
    NETDEV_TX_OK,
    NETIF_F_HW_CSUM,
    NETIF_F_IP_CSUM,
    NETIF_F_SG,
    NETIF_F_TSO,
    dev_open,
    netdev_tx_sent_queue,
    netdev_xmit_more,
    netif_tx_stop_queue,
    netif_xmit_stopped,
    register_netdev,
)
from hilnic.net.core.skbuff import (
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    SKB_GSO_TCPV4,
    Page,
    alloc_skb_fclone,
    consume_skb,
    kfree_skb,
    live_skbs,
    skb_add_data_frag,
    skb_stats,
)
from hilnic.net.ethernet.eth import alloc_etherdev, alloc_etherdev_mqs

MAX_TCP_HEADER = 320
HDR = 14 + 20 + 32  # Ethernet + IPv4 + TCP with timestamps
TS_OPTS = [("NOP", None), ("NOP", None), ("Timestamp", (123456, 654321))]


# -- helpers shared with test_dev_qdisc.py ---------------------------------------------------------


class FakeDriver:
    """A driver that takes every skb into a ring; optionally stops after `stop_after` skbs,
    does BQL accounting, and counts doorbells the way e1000/igb ring them."""

    def __init__(self, dev, stop_after: int | None = None, bql: bool = False) -> None:
        self.dev = dev
        self.stop_after = stop_after
        self.bql = bql
        self.ring = []  # skbs not yet completed
        self.log = []  # (bytes, ip_summed, csum_start - data, csum_offset, xmit_more)
        self.doorbells = 0
        self.more_flags = []
        dev.netdev_ops.ndo_start_xmit = self.xmit

    def xmit(self, skb, dev) -> int:
        txq = dev._tx[skb.queue_mapping]
        more = netdev_xmit_more()
        self.more_flags.append(more)
        self.log.append((skb.to_bytes(), skb.ip_summed, skb.csum_start - skb.data, skb.csum_offset, more))
        self.ring.append(skb)
        if self.bql:
            netdev_tx_sent_queue(txq, skb.len)
        if self.stop_after is not None and len(self.ring) >= self.stop_after:
            netif_tx_stop_queue(txq)
        if netif_xmit_stopped(txq) or not more:
            self.doorbells += 1  # writel(tail)
        return NETDEV_TX_OK

    def free_all(self) -> None:
        for skb in self.ring:
            consume_skb(skb)
        self.ring.clear()


def make_dev(features: int = NETIF_F_SG | NETIF_F_IP_CSUM, *, stop_after=None, bql=False, txqs=1, qdisc=None, open_=True):
    host = Host(VirtualEnv())
    host.env.run(until=0)  # start the kernel's CPU tasks
    if qdisc is not None:
        host.sysctl.default_qdisc = qdisc

    dev = alloc_etherdev_mqs(host, "eth%d", txqs) if txqs > 1 else alloc_etherdev(host)
    dev.dev_addr = bytes.fromhex("020000000001")
    dev.hw_features = dev.features = features
    drv = FakeDriver(dev, stop_after=stop_after, bql=bql)
    assert register_netdev(dev) == 0
    if open_:
        assert dev_open(dev) == 0
    return host, dev, drv


def scapy_headers(payload_len: int, *, seq: int = 1_000_000, flags: str = "PA", ip_id: int = 0x1234):
    """Ethernet/IPv4/TCP header bytes for a TCP skb with `payload_len` bytes, plus the
    pseudo-header sum (not complemented) that CHECKSUM_PARTIAL leaves in tcph->check."""
    pkt = (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="10.0.0.1", dst="10.0.0.2", id=ip_id, flags="DF", ttl=64)
        / TCP(sport=40000, dport=5001, seq=seq, ack=777, flags=flags, window=502, options=TS_OPTS)
    )
    raw = bytearray(bytes(pkt / (b"\0" * payload_len))[:HDR])
    ph = in4_pseudoheader(6, pkt[IP], 32 + payload_len)
    pseudo = (~checksum(ph)) & 0xFFFF
    raw[HDR - 32 + 16:HDR - 32 + 18] = pseudo.to_bytes(2, "big")
    return bytes(raw)


def make_tcp_skb(dev, payload: bytes, *, mss: int = 1448, seq: int = 1_000_000, flags: str = "PA",
                 priority: int = 0, page_size: int = 4096, ip_id: int = 0x1234):
    """A TCP data skb at the device layer: data at the Ethernet header, payload in frags."""
    skb = alloc_skb_fclone(MAX_TCP_HEADER)
    skb.skb_reserve(MAX_TCP_HEADER)
    for off in range(0, len(payload), page_size):
        chunk = payload[off:off + page_size]
        page = Page(page_size)
        page.write(0, chunk)
        skb_add_data_frag(skb, page, 0, len(chunk), len(chunk))
    skb.skb_push(HDR)
    skb.write_at(skb.data, scapy_headers(len(payload), seq=seq, flags=flags, ip_id=ip_id))
    skb.mac_header = skb.data
    skb.network_header = skb.data + 14
    skb.transport_header = skb.data + 34
    skb.ip_summed = CHECKSUM_PARTIAL
    skb.csum_start = skb.transport_header
    skb.csum_offset = 16
    skb.protocol = 0x0800
    skb.priority = priority
    skb.dev = dev
    if len(payload) > mss:
        skb.shinfo.gso_size = mss
        skb.shinfo.gso_segs = -(-len(payload) // mss)
        skb.shinfo.gso_type = SKB_GSO_TCPV4
    return skb


def device_complete_checksum(frame: bytes, csum_start: int, csum_offset: int) -> bytes:
    """What a NIC does for CHECKSUM_PARTIAL, summed by scapy (independent of hilnic's csum code)."""
    c = checksum(frame[csum_start:])
    pos = csum_start + csum_offset
    return frame[:pos] + c.to_bytes(2, "big") + frame[pos + 2:]


def scapy_checksums_ok(frame: bytes) -> bool:
    p = Ether(frame)
    q = Ether(frame)
    del q[IP].chksum
    del q[TCP].chksum
    q = Ether(bytes(q))
    ip_ok = p[IP].chksum == q[IP].chksum
    return ip_ok and p[TCP].chksum == q[TCP].chksum


def segments(head):
    out = []
    while head is not None:
        out.append(head)
        head = head.next
    return out


def free_list(segs):
    for s in segs:
        s.next = None
        kfree_skb(s)


# -- tests ---------------------------------------------------------------------------------------


def _payload(n: int) -> bytes:
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


@pytest.mark.parametrize("flags", ["PA", "FPA", "CPA"])
def test_tcp4_segments_match_scapy(flags):
    _host, dev, _ = make_dev(NETIF_F_SG | NETIF_F_IP_CSUM)
    payload = _payload(45 * 1448)
    skb = make_tcp_skb(dev, payload, flags=flags)
    skb_stats.copy_bytes = 0
    segs = segments(skb_gso_segment(skb, dev.features))
    assert len(segs) == 45
    seq0 = 1_000_000
    for i, s in enumerate(segs):
        frame = s.to_bytes()
        assert s.ip_summed == CHECKSUM_PARTIAL and s.csum_offset == 16
        assert s.csum_start - s.data == 34
        p = Ether(frame)
        assert p[IP].len == 20 + 32 + 1448 and len(frame) == HDR + 1448
        assert p[IP].id == 0x1234 + i
        assert p[IP].flags.DF
        assert p[TCP].seq == seq0 + i * 1448
        assert bytes(p[TCP].payload) == payload[i * 1448:(i + 1) * 1448]
        tcp_flags = str(p[TCP].flags)
        last, first = i == 44, i == 0
        assert ("P" in tcp_flags) == ("P" in flags and last)
        assert ("F" in tcp_flags) == ("F" in flags and last)
        assert ("C" in tcp_flags) == ("C" in flags and first)
        assert "A" in tcp_flags
        # The check field holds the pseudo-header sum for this segment's length...
        ph = in4_pseudoheader(6, p[IP], 32 + 1448)
        assert p[TCP].chksum == (~checksum(ph)) & 0xFFFF
        # ...so the device's completion yields the checksum scapy computes.
        assert scapy_checksums_ok(device_complete_checksum(frame, 34, 16))
    # Headers copied once per segment, payload shared by reference.
    assert skb_stats.copy_bytes == 45 * HDR
    consume_skb(skb)
    free_list(segs)
    assert not live_skbs()


def test_frags_are_shared_not_copied_and_pages_released():
    _host, dev, _ = make_dev()
    payload = _payload(10 * 1448 + 500)  # last segment shorter than MSS
    skb = make_tcp_skb(dev, payload, page_size=3000)
    pages = {id(f.page): f.page for f in skb.shinfo.frags}
    before = {k: p.refcount for k, p in pages.items()}
    segs = segments(skb_gso_segment(skb, dev.features))
    assert len(segs) == 11 and segs[-1].len == HDR + 500
    assert all(s.headlen == HDR for s in segs)  # payload only in frags
    refs = sum(p.refcount - before[k] for k, p in pages.items())
    assert refs == sum(len(s.shinfo.frags) for s in segs)  # one page ref per segment frag
    assert sum(s.data_len for s in segs) == len(payload)
    assert b"".join(s.to_bytes()[HDR:] for s in segs) == payload
    consume_skb(skb)
    free_list(segs)
    assert all(p.refcount == 0 for p in pages.values())
    assert not live_skbs()


def test_no_checksum_offload_finishes_each_segment_in_software():
    _host, dev, _ = make_dev(NETIF_F_SG)  # SG but no checksum feature
    payload = _payload(5 * 1448 + 1)  # odd-length tail
    skb = make_tcp_skb(dev, payload, flags="FPA")
    skb_stats.csum_bytes = 0
    segs = segments(skb_gso_segment(skb, dev.features))
    assert len(segs) == 6
    for s in segs:
        assert s.ip_summed == CHECKSUM_NONE
        assert scapy_checksums_ok(s.to_bytes())
    assert skb_stats.csum_bytes == 6 * 32 + len(payload)
    consume_skb(skb)
    free_list(segs)


def test_no_sg_copies_payload_into_linear_segments():
    _host, dev, _ = make_dev(NETIF_F_IP_CSUM)  # no SG
    payload = _payload(3 * 1448)
    skb = make_tcp_skb(dev, payload)
    skb_stats.copy_bytes = 0
    segs = segments(skb_gso_segment(skb, dev.features))
    assert [s.data_len for s in segs] == [0, 0, 0]
    assert skb_stats.copy_bytes == 3 * (HDR + 1448)
    for i, s in enumerate(segs):
        f = device_complete_checksum(s.to_bytes(), 34, 16)
        assert scapy_checksums_ok(f) and f[HDR:] == payload[i * 1448:(i + 1) * 1448]
    consume_skb(skb)
    free_list(segs)


def test_tcp_wfree_charge_moves_to_segments():
    class Sock:
        sk_wmem_alloc = 0

    def tcp_wfree(skb):  # the name is what tcp_gso_segment compares
        skb.sk.sk_wmem_alloc -= skb.truesize

    _host, dev, _ = make_dev()
    sk = Sock()
    skb = make_tcp_skb(dev, _payload(45 * 1448))
    skb.sk, skb.destructor = sk, tcp_wfree
    sk.sk_wmem_alloc = skb.truesize  # skb_set_owner_w
    segs = segments(skb_gso_segment(skb, dev.features))
    assert all(s.sk is sk and s.destructor is tcp_wfree for s in segs)
    assert skb.destructor is None and skb.sk is None
    consume_skb(skb)  # the GSO skb no longer uncharges anything
    assert sk.sk_wmem_alloc == sum(s.truesize for s in segs)
    for s in segs[:-1]:
        s.next = None
        kfree_skb(s)
    assert sk.sk_wmem_alloc == segs[-1].truesize  # TSQ still sees the last segment
    kfree_skb(segs[-1])
    assert sk.sk_wmem_alloc == 0


def test_ip_id_wraps_and_seq_wraps():
    _host, dev, _ = make_dev()
    skb = make_tcp_skb(dev, _payload(3 * 1448), seq=0xFFFFFFFF - 1000, ip_id=0xFFFF)
    segs = segments(skb_gso_segment(skb, dev.features))
    ids = [Ether(s.to_bytes())[IP].id for s in segs]
    seqs = [Ether(s.to_bytes())[TCP].seq for s in segs]
    assert ids == [0xFFFF, 0, 1]
    assert seqs == [0xFFFFFFFF - 1000, (0xFFFFFFFF - 1000 + 1448) & 0xFFFFFFFF, (0xFFFFFFFF - 1000 + 2 * 1448) & 0xFFFFFFFF]
    consume_skb(skb)
    free_list(segs)


def test_robust_device_gets_skb_unsegmented_and_bad_skbs_raise():
    _host, dev, _ = make_dev(NETIF_F_SG | NETIF_F_IP_CSUM | NETIF_F_TSO)

    from hilnic.net.core.netdev_features import NETIF_F_GSO_ROBUST

    skb = make_tcp_skb(dev, _payload(3 * 1448))
    skb.shinfo.gso_segs = 99
    assert skb_gso_segment(skb, dev.features | NETIF_F_GSO_ROBUST) is None
    assert skb.shinfo.gso_segs == 3
    skb.shinfo.gso_size = 5000  # payload does not exceed gso_size
    with pytest.raises(OSError) as e:
        skb_gso_segment(skb, dev.features)
    assert e.value.errno == errno.EINVAL
    skb.shinfo.gso_size = 1448
    skb.write_at(skb.network_header + 9, b"\x11")  # UDP
    with pytest.raises(OSError) as e:
        skb_gso_segment(skb, dev.features)
    assert e.value.errno == errno.EPROTONOSUPPORT
    consume_skb(skb)
    assert not live_skbs()


def test_hw_csum_device_keeps_partial():
    _host, dev, _ = make_dev(NETIF_F_SG | NETIF_F_HW_CSUM)
    skb = make_tcp_skb(dev, _payload(2 * 1448))
    segs = segments(skb_gso_segment(skb, dev.features))
    assert [s.ip_summed for s in segs] == [CHECKSUM_PARTIAL] * 2
    consume_skb(skb)
    free_list(segs)


def test_segmenting_at_the_ip_layer_without_mac_header():
    """ip_finish_output_gso segments before the Ethernet header exists (mac_len 0)."""
    _host, dev, _ = make_dev()
    payload = _payload(3 * 1448)
    skb = make_tcp_skb(dev, payload)
    skb.skb_pull(14)  # as ip_output leaves it: data at the IPv4 header
    segs = segments(skb_gso_segment(skb, dev.features))
    assert len(segs) == 3
    for i, s in enumerate(segs):
        raw = s.to_bytes()
        assert s.mac_len == 0 and s.network_header == s.data and s.csum_start - s.data == 20
        p = IP(device_complete_checksum(raw, 20, 16))
        assert p.len == len(raw) == 20 + 32 + 1448 and p[TCP].seq == 1_000_000 + i * 1448
        q = IP(bytes(p))
        del q.chksum
        del q[TCP].chksum
        q = IP(bytes(q))
        assert (p.chksum, p[TCP].chksum) == (q.chksum, q[TCP].chksum)
    consume_skb(skb)
    free_list(segs)
