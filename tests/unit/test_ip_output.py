"""IP output: __ip_queue_xmit (behaviour 20), MTU checks, ip_fragment fast/slow paths, FRAG_NEEDED."""

from __future__ import annotations

import errno
import struct

import pytest
from ip_testlib import GW_MAC, HOST_IP, PEER_IP, make_rig, resolve
from scapy.layers.inet import IP, TCP, defragment
from scapy.layers.l2 import Ether

from hilnic.include.linux.inet import in_aton
from hilnic.include.uapi.linux.in_ import IPPROTO_TCP
from hilnic.lib.checksum import csum_tcpudp_nofold
from hilnic.net.core.netdevice import NETIF_F_HW_CSUM, NETIF_F_SG, NETIF_F_TSO
from hilnic.net.core.skbuff import CHECKSUM_PARTIAL, SKB_GSO_TCPV4, alloc_skb, live_skbs, skb_stats
from hilnic.net.core.sock import SOCK_STREAM, Sock
from hilnic.net.ipv4.af_inet import NetProtocol, inet_add_protocol
from hilnic.net.ipv4.ip_output import ip_local_out, ip_queue_xmit
from hilnic.net.ipv4.route import ip_route_add, ip_route_output

MSS = 1448
TSO_FEATURES = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_TSO


def tcp_sock(host) -> Sock:
    sk = Sock(host, 2, SOCK_STREAM, IPPROTO_TCP)
    sk.sk_gso_type = SKB_GSO_TCPV4
    sk.inet_saddr = in_aton(HOST_IP)
    sk.inet_daddr = in_aton(PEER_IP)
    sk.inet_sport, sk.inet_dport = 40000, 5001
    sk.inet_id = 100
    return sk


def tcp_gso_skb(sk, segs: int, mss: int = MSS, seq: int = 1000):
    """What __tcp_transmit_skb hands to ip_queue_xmit: TCP header (with timestamps) pushed,
    checksum field = pseudo-header sum, CHECKSUM_PARTIAL, gso fields set."""
    payload = bytes((i * 13) & 0xFF for i in range(segs * mss))
    thlen = 32
    skb = alloc_skb(320 + thlen + len(payload))
    skb.skb_reserve(320 + thlen)
    skb.skb_put_data(payload)
    off = skb.skb_push(thlen)
    skb.transport_header = off
    tlen = thlen + len(payload)
    s, d = sk.inet_saddr, sk.inet_daddr
    psum = csum_tcpudp_nofold(s, d, tlen, IPPROTO_TCP)
    opts = b"\x01\x01\x08\x0a" + struct.pack("!II", 1, 0)
    hdr = struct.pack("!HHIIBBHHH", sk.inet_sport, sk.inet_dport, seq, 1, thlen // 4 << 4, 0x18, 65535, psum, 0) + opts
    skb.write_at(off, hdr)
    skb.ip_summed = CHECKSUM_PARTIAL
    skb.csum_start = off
    skb.csum_offset = 16
    if segs > 1:
        skb.shinfo.gso_size = mss
        skb.shinfo.gso_segs = segs
        skb.shinfo.gso_type = SKB_GSO_TCPV4
    return skb, payload


def ip_ok(ip: IP) -> bool:
    want = ip.chksum
    fresh = IP(bytes(ip))
    del fresh.chksum
    return IP(bytes(fresh)).chksum == want


def tcp_ok(ip: IP) -> bool:
    want = ip[TCP].chksum
    fresh = IP(bytes(ip))
    del fresh[TCP].chksum
    return IP(bytes(fresh))[TCP].chksum == want


def test_tcp_gso_skb_with_tso_leaves_whole_with_df_and_id_block():
    rig = make_rig(features=TSO_FEATURES)
    sk = tcp_sock(rig.host)
    skb, _ = tcp_gso_skb(sk, 5)
    assert ip_queue_xmit(sk, skb) == 0
    (sent,) = rig.sent
    assert (sent.gso_segs, sent.gso_size) == (5, MSS)
    pkt = Ether(sent.frame)
    assert pkt.dst == "02:00:00:00:00:02"
    assert pkt[IP].flags.DF == 1 and pkt[IP].id == 100 and pkt[IP].ttl == 64
    assert pkt[IP].len == 20 + 32 + 5 * MSS and ip_ok(pkt[IP])
    assert sk.inet_id == 105  # inet_id += gso_segs
    assert sk.sk_dst_cache is not None and sk.sk_route_caps & NETIF_F_TSO  # sk_setup_caps ran
    assert rig.host.mib["Ip"]["OutRequests"] == 1


def test_tcp_segments_never_exceed_mtu_with_software_gso():
    rig = make_rig(features=NETIF_F_SG | NETIF_F_HW_CSUM)
    sk = tcp_sock(rig.host)
    skb, payload = tcp_gso_skb(sk, 5)
    assert ip_queue_xmit(sk, skb) == 0
    frames = [Ether(f) for f in rig.frames()]
    assert len(frames) == 5
    assert all(len(f) <= 1514 and f[IP].len <= 1500 for f in frames)
    assert all(f[IP].flags.DF == 1 and ip_ok(f[IP]) and tcp_ok(f[IP]) for f in frames)
    assert [f[IP].id for f in frames] == [100, 101, 102, 103, 104]
    assert b"".join(bytes(f[TCP].payload) for f in frames) == payload
    assert rig.host.mib["Ip"]["FragCreates"] == 0


def test_small_tcp_segment_df_and_plain_id():
    rig = make_rig()
    sk = tcp_sock(rig.host)
    skb, _ = tcp_gso_skb(sk, 1, mss=100)
    ip_queue_xmit(sk, skb)
    pkt = Ether(rig.frames()[0])
    assert pkt[IP].flags.DF == 1 and pkt[IP].id == 100 and sk.inet_id == 101
    assert tcp_ok(pkt[IP])


def test_ignore_df_and_pmtudisc_dont_clear_df():
    rig = make_rig()
    sk = tcp_sock(rig.host)
    sk.pmtudisc = 0  # IP_PMTUDISC_DONT
    skb, _ = tcp_gso_skb(sk, 1, mss=100)
    ip_queue_xmit(sk, skb)
    assert Ether(rig.frames()[0])[IP].flags.DF == 0


def test_locked_route_mtu_clears_df_and_fragments_segments():
    rig = make_rig(features=NETIF_F_SG | NETIF_F_HW_CSUM)
    ip_route_add(rig.host, PEER_IP, 32, rig.dev, mtu=1200, mtu_lock=True)
    sk = tcp_sock(rig.host)
    skb, payload = tcp_gso_skb(sk, 2)
    assert ip_queue_xmit(sk, skb) == 0
    frames = [Ether(f)[IP] for f in rig.frames()]
    assert all(f.flags.DF == 0 and f.len <= 1200 and ip_ok(f) for f in frames)
    assert len(frames) == 4  # two 1500-byte segments, two fragments each
    ip = rig.host.mib["Ip"]
    assert (ip["FragOKs"], ip["FragCreates"], ip["FragFails"]) == (2, 4, 0)
    segs = defragment(frames)
    assert b"".join(bytes(IP(bytes(s))[TCP].payload) for s in segs) == payload
    assert all(tcp_ok(IP(bytes(s))) for s in segs)


def test_df_segment_too_big_fails_with_icmp_to_the_socket():
    rig = make_rig(features=NETIF_F_SG | NETIF_F_HW_CSUM)
    ip_route_add(rig.host, PEER_IP, 32, rig.dev, mtu=1200)
    errs = []
    inet_add_protocol(
        rig.host, NetProtocol(lambda h, skb: 0, lambda h, skb, info: errs.append((info, skb.read_at(skb.data, 40)))), IPPROTO_TCP
    )
    sk = tcp_sock(rig.host)
    skb, _ = tcp_gso_skb(sk, 2)
    assert ip_queue_xmit(sk, skb) == -errno.EMSGSIZE
    assert rig.sent == []
    ip = rig.host.mib["Ip"]
    assert ip["FragFails"] == 2 and ip["FragCreates"] == 0
    rig.run(1)  # the ICMP errors travel over loopback to icmp_rcv → err_handler
    assert [e[0] for e in errs] == [1200, 1200]
    quoted = IP(errs[0][1])
    assert quoted.src == HOST_IP and quoted.dst == PEER_IP and quoted.flags.DF == 1
    icmp = rig.host.mib["Icmp"]
    assert (icmp["OutDestUnreachs"], icmp["InDestUnreachs"]) == (2, 2)
    assert live_skbs() == []


def test_slow_path_fragments_a_linear_datagram():
    rig = make_rig()
    host = rig.host
    rt = ip_route_output(host, PEER_IP)
    body = bytes((i * 5) & 0xFF for i in range(4000))
    skb = alloc_skb(64 + 20 + len(body))
    skb.skb_reserve(64 + 20)
    skb.skb_put_data(body)
    off = skb.skb_push(20)
    skb.network_header = off
    skb.write_at(off, struct.pack("!BBHHHBBHII", 0x45, 0, 0, 4242, 0, 64, 253, 0, in_aton(HOST_IP), in_aton(PEER_IP)))
    skb.dst = rt
    skb_stats.reset()
    assert ip_local_out(host, None, skb) == 0
    frames = [Ether(f)[IP] for f in rig.frames()]
    assert [f.len - 20 for f in frames] == [1480, 1480, 1040]
    assert [f.frag for f in frames] == [0, 185, 370]
    assert all(ip_ok(f) and f.id == 4242 and f.flags.DF == 0 for f in frames)
    assert skb_stats.frag_skbs == 3 and skb_stats.copy_bytes == 4000 + 3 * 20
    ip = host.mib["Ip"]
    assert (ip["FragOKs"], ip["FragCreates"]) == (1, 3)
    assert bytes(IP(bytes(defragment(frames)[0])).payload) == body
    assert live_skbs() == []


def test_gateway_route_resolves_the_gateway():
    rig = make_rig()
    ip_route_add(rig.host, "0.0.0.0", 0, rig.dev, gateway="10.0.0.254")
    resolve(rig.host, rig.dev, "10.0.0.254", GW_MAC)
    sk = tcp_sock(rig.host)
    sk.inet_daddr = in_aton("192.0.2.7")
    skb, _ = tcp_gso_skb(sk, 1, mss=10)
    ip_queue_xmit(sk, skb)
    pkt = Ether(rig.frames()[0])
    assert pkt.dst == "02:00:00:00:00:fe" and pkt[IP].dst == "192.0.2.7"


def test_no_route_is_ehostunreach():
    rig = make_rig()
    sk = tcp_sock(rig.host)
    sk.inet_daddr = in_aton("192.0.2.7")
    skb, _ = tcp_gso_skb(sk, 1, mss=10)
    assert ip_queue_xmit(sk, skb) == -errno.EHOSTUNREACH
    assert rig.host.mib["Ip"]["OutNoRoutes"] == 1
    assert live_skbs() == []


def test_route_change_invalidates_cached_dst():
    rig = make_rig()
    sk = tcp_sock(rig.host)
    skb, _ = tcp_gso_skb(sk, 1, mss=10)
    ip_queue_xmit(sk, skb)
    first = sk.sk_dst_cache
    ip_route_add(rig.host, PEER_IP, 32, rig.dev, mtu=1400)
    skb, _ = tcp_gso_skb(sk, 1, mss=10)
    ip_queue_xmit(sk, skb)
    assert sk.sk_dst_cache is not first and sk.sk_dst_cache.mtu == 1400


def test_bad_route_arguments():
    rig = make_rig()
    with pytest.raises(OSError) as ei:
        ip_route_add(rig.host, "10.1.0.1", 16, rig.dev)
    assert ei.value.errno == errno.EINVAL
    with pytest.raises(OSError) as ei:
        ip_route_add(rig.host, "10.0.0.0", 24, rig.dev)
    assert ei.value.errno == errno.EEXIST


def test_frag_needed_reaches_tcp_v4_err_with_the_quoted_header():
    calls = []
    def record(host, skb, info):
        t, c = skb.read_at(skb.data - 8, 2)
        calls.append((t, c, info, skb.read_at(skb.data, skb.len)))
        return 0

    rig = make_rig(features=NETIF_F_SG | NETIF_F_HW_CSUM)
    rig.host.ext["inet_protos"][IPPROTO_TCP].err_handler = record  # icmp_unreach → ipprot->err_handler
    ip_route_add(rig.host, PEER_IP, 32, rig.dev, mtu=1000)
    sk = tcp_sock(rig.host)
    skb, _ = tcp_gso_skb(sk, 1)  # one 1500-byte segment, DF, route MTU 1000
    assert ip_queue_xmit(sk, skb) == -errno.EMSGSIZE
    rig.run(1)
    ((t, c, info, quoted),) = calls
    assert (t, c, info) == (3, 4, 1000)
    q = IP(quoted)
    assert q.src == HOST_IP and q.dst == PEER_IP and q.id == 100
    assert len(quoted) == 576 - 20 - 8  # icmp_send quotes up to 576 bytes of datagram


def test_inet_csk_update_pmtu_lowers_the_socket_route():
    from hilnic.net.ipv4.route import dst_mtu
    from hilnic.net.ipv4.tcp_ipv4 import inet_csk_update_pmtu

    rig = make_rig()
    sk = tcp_sock(rig.host)
    skb, _ = tcp_gso_skb(sk, 1, mss=10)
    ip_queue_xmit(sk, skb)
    dst = inet_csk_update_pmtu(sk, 1280)
    assert dst is sk.sk_dst_cache and dst_mtu(dst) == 1280
    assert inet_csk_update_pmtu(sk, 300).mtu == 552  # below min_pmtu: clamped and locked
