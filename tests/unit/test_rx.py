"""The receive path: frames in → eth_type_trans → backlog → netif_receive_skb → handlers."""

from __future__ import annotations

from ip_testlib import HOST_IP, PEER_IP, PEER_MAC, make_rig
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from hilnic.drivers.net.rx import host_receive_frame
from hilnic.include.uapi.linux.in_ import IPPROTO_TCP
from hilnic.net.core.neighbour import NUD_REACHABLE
from hilnic.net.core.skbuff import live_skbs
from hilnic.net.ipv4.af_inet import NetProtocol, inet_add_protocol
from hilnic.net.ipv4.arp import neigh_lookup_state

HOST_MAC_S = "02:00:00:00:00:01"


def eth(payload, dst=HOST_MAC_S) -> Ether:
    return Ether(src=PEER_MAC, dst=dst) / payload


def tcp_recorder(rig):
    got = []

    def handler(host, skb):
        got.append((skb.read_at(skb.data, skb.len), skb.transport_header == skb.data))
        from hilnic.net.core.skbuff import consume_skb

        consume_skb(skb)
        return 0

    inet_add_protocol(rig.host, NetProtocol(handler, None), IPPROTO_TCP)
    return got


def test_tcp_segment_reaches_tcp_handler():
    rig = make_rig()
    got = tcp_recorder(rig)
    seg = IP(src=PEER_IP, dst=HOST_IP) / TCP(sport=5001, dport=40000, flags="A", seq=7, ack=9) / Raw(b"data!")
    host_receive_frame(rig.host, rig.dev, bytes(eth(seg)))
    assert got == []  # queued on the backlog; delivered by NET_RX
    rig.run(1)
    assert len(got) == 1
    data, at_transport = got[0]
    assert at_transport and data == bytes(seg[TCP])
    ip = rig.host.mib["Ip"]
    assert (ip["InReceives"], ip["InDelivers"]) == (1, 1)
    assert rig.host.kernel.softnet.processed == 1
    assert live_skbs() == []


def test_arp_reply_reaches_arp():
    rig = make_rig(resolve_peer=False)
    from ip_testlib import make_sock

    from hilnic.net.core.skbuff import live_skbs as _live
    from hilnic.net.ipv4.udp import udp_sendmsg

    udp_sendmsg(make_sock(rig.host), b"q", 0, (PEER_IP, 1))  # creates the INCOMPLETE entry
    reply = eth(ARP(op=2, hwsrc=PEER_MAC, psrc=PEER_IP, hwdst=HOST_MAC_S, pdst=HOST_IP))
    host_receive_frame(rig.host, rig.dev, bytes(reply))
    rig.run(1)
    assert neigh_lookup_state(rig.host, PEER_IP, rig.dev) == NUD_REACHABLE
    assert Ether(rig.frames()[-1])[UDP].payload.load == b"q"
    assert rig.host.mib["Ip"]["InReceives"] == 0  # ARP is not IP
    assert _live() == []


def test_ethernet_padding_is_trimmed():
    rig = make_rig()
    got = tcp_recorder(rig)
    seg = IP(src=PEER_IP, dst=HOST_IP) / TCP(sport=1, dport=2, flags="A")
    frame = bytes(eth(seg)) + b"\0" * 6  # 54 bytes padded to the 60-byte minimum
    host_receive_frame(rig.host, rig.dev, frame)
    rig.run(1)
    assert got[0][0] == bytes(seg[TCP])


def test_bad_headers_are_counted_and_dropped():
    rig = make_rig()
    got = tcp_recorder(rig)
    good = bytes(eth(IP(src=PEER_IP, dst=HOST_IP) / TCP(sport=1, dport=2)))
    bad_csum = bytearray(good)
    bad_csum[14 + 10] ^= 0x55
    truncated = good[:-4]
    not_ours = bytes(eth(IP(src=PEER_IP, dst="10.0.0.50") / TCP(sport=1, dport=2)))
    other_host = bytes(eth(IP(src=PEER_IP, dst=HOST_IP) / TCP(sport=1, dport=2), dst="02:00:00:00:00:99"))
    for f in (bytes(bad_csum), truncated, not_ours, other_host):
        host_receive_frame(rig.host, rig.dev, f)
    rig.run(1)
    ip = rig.host.mib["Ip"]
    assert got == []
    assert (ip["InReceives"], ip["InCsumErrors"], ip["InHdrErrors"], ip["InTruncatedPkts"], ip["InAddrErrors"]) == (3, 1, 1, 1, 1)
    assert live_skbs() == []


def test_unknown_protocol_and_echo_get_icmp_answers():
    rig = make_rig()
    host_receive_frame(rig.host, rig.dev, bytes(eth(IP(src=PEER_IP, dst=HOST_IP, proto=99) / Raw(b"zz"))))
    host_receive_frame(rig.host, rig.dev, bytes(eth(IP(src=PEER_IP, dst=HOST_IP) / ICMP(type=8, id=7, seq=3) / Raw(b"ping"))))
    rig.run(1)
    unreach, echo = (Ether(f) for f in rig.frames())
    assert (unreach[ICMP].type, unreach[ICMP].code, unreach[IP].src, unreach[IP].dst) == (3, 2, HOST_IP, PEER_IP)
    assert (echo[ICMP].type, echo[ICMP].id, echo[ICMP].seq, bytes(echo[ICMP].payload)) == (0, 7, 3, b"ping")
    for p in (unreach, echo):  # scapy recomputes and compares the checksums
        fresh = IP(bytes(p[IP]))
        del fresh.chksum, fresh[ICMP].chksum
        again = IP(bytes(fresh))
        assert (again.chksum, again[ICMP].chksum) == (p[IP].chksum, p[ICMP].chksum)
    ip = rig.host.mib["Ip"]
    assert ip["InUnknownProtos"] == 1 and rig.host.mib["Icmp"]["InEchos"] == 1
