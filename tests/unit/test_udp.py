"""UDP send (behaviour 21), checksums, limits and the minimal receive side."""

from __future__ import annotations

import errno

import pytest
from ip_testlib import HOST_IP, PEER_IP, PEER_MAC, make_rig, make_sock
from scapy.layers.inet import ICMP, IP, UDP, defragment
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from hilnic.drivers.net.rx import host_receive_frame
from hilnic.include.uapi.linux.in_ import IP_PMTUDISC_DO
from hilnic.net.core import neighbour
from hilnic.net.core.netdevice import NETIF_F_SG
from hilnic.net.core.skbuff import CHECKSUM_NONE, CHECKSUM_PARTIAL, live_skbs, skb_stats
from hilnic.net.ipv4 import arp
from hilnic.net.ipv4.udp import udp_recvmsg, udp_sendmsg, udp_v4_get_port


def payload(n: int) -> bytes:
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


@pytest.fixture
def xmit_calls(monkeypatch):
    """Count dev_queue_xmit calls made by the neighbour layer (and ARP)."""
    from hilnic.net.core.dev import dev_queue_xmit as real

    calls = []

    def counting(skb):
        calls.append(skb.len)
        return real(skb)

    monkeypatch.setattr(neighbour, "dev_queue_xmit", counting)
    monkeypatch.setattr(arp, "dev_queue_xmit", counting)
    return calls


def ip_checksum_ok(ip: IP) -> bool:
    fresh = IP(bytes(ip))
    want = fresh.chksum
    del fresh.chksum
    return IP(bytes(fresh)).chksum == want


def udp_checksum_ok(dgram: IP) -> bool:
    want = dgram[UDP].chksum
    d = IP(bytes(dgram))
    del d[UDP].chksum
    return IP(bytes(d))[UDP].chksum == want


def test_3000_byte_datagram_leaves_as_three_fragments(xmit_calls):
    rig = make_rig()
    sk = make_sock(rig.host)
    ip = rig.host.mib["Ip"]
    data = payload(3000)
    assert udp_sendmsg(sk, data, 0, (PEER_IP, 9000)) == 3000
    assert len(xmit_calls) == 3
    assert len(rig.sent) == 3
    frags = [Ether(f) for f in rig.frames()]
    for f in frags:
        assert f.dst == "02:00:00:00:00:02" and f.type == 0x0800
        assert f[IP].flags.DF == 0
        assert ip_checksum_ok(f[IP])
    assert [f[IP].len - 20 for f in frags] == [1480, 1480, 48]
    assert [f[IP].frag for f in frags] == [0, 185, 370]
    assert [bool(f[IP].flags.MF) for f in frags] == [True, True, False]
    assert len({f[IP].id for f in frags}) == 1
    assert (ip["FragOKs"], ip["FragCreates"], ip["OutRequests"], ip["FragFails"]) == (1, 3, 1, 0)
    assert rig.host.mib["Udp"]["OutDatagrams"] == 1
    whole = defragment([f[IP] for f in frags])
    assert len(whole) == 1
    dgram = IP(bytes(whole[0]))
    assert dgram[UDP].dport == 9000 and dgram[UDP].len == 3008
    assert bytes(dgram[UDP].payload) == data
    assert udp_checksum_ok(dgram)


def test_fragment_fast_path_copies_only_from_user():
    rig = make_rig()
    sk = make_sock(rig.host)
    skb_stats.reset()
    udp_sendmsg(sk, payload(3000), 0, (PEER_IP, 9000))
    assert skb_stats.frag_skbs == 0  # the frag_list pieces are reused, no extra skbs
    assert skb_stats.copy_bytes == 0
    assert skb_stats.user_copy_bytes == 3000
    # Too big for offload: summed during the copy (+ the 8-byte UDP header).
    assert skb_stats.csum_bytes == 3008
    assert all(s.ip_summed == CHECKSUM_NONE for s in rig.sent)


def test_8000_byte_datagram_layout():
    rig = make_rig()
    sk = make_sock(rig.host)
    data = payload(8000)
    udp_sendmsg(sk, [data[:100], data[100:]], 0, (PEER_IP, 7))
    frags = [Ether(f)[IP] for f in rig.frames()]
    # 8008 bytes of UDP: 5 × 1480 + 608
    assert [f.len - 20 for f in frags] == [1480] * 5 + [608]
    assert [f.frag for f in frags] == [0, 185, 370, 555, 740, 925]
    assert [bool(f.flags.MF) for f in frags] == [True] * 5 + [False]
    assert all((f.len - 20) % 8 == 0 for f in frags[:-1])
    assert rig.host.mib["Ip"]["FragCreates"] == 6
    assert bytes(IP(bytes(defragment(frags)[0]))[UDP].payload) == data


def test_odd_mtu_rounds_fragments_to_8_bytes():
    rig = make_rig(mtu=1006)  # maxfraglen = ((1006-20) & ~7) + 20 = 1004
    sk = make_sock(rig.host)
    data = payload(2500)
    udp_sendmsg(sk, data, 0, (PEER_IP, 7))
    frags = [Ether(f)[IP] for f in rig.frames()]
    assert [f.len for f in frags] == [1004, 1004, 560]  # 2508 = 984 + 984 + 540
    assert bytes(IP(bytes(defragment(frags)[0]))[UDP].payload) == data


def test_small_datagram_has_df_and_offload_checksum():
    rig = make_rig()
    sk = make_sock(rig.host)
    skb_stats.reset()
    udp_sendmsg(sk, b"hello", 0, (PEER_IP, 53))
    (sent,) = rig.sent
    assert sent.ip_summed == CHECKSUM_PARTIAL and sent.csum_offset == 6
    assert skb_stats.csum_bytes == 13  # only the recording driver's NIC-checksum emulation
    pkt = Ether(sent.frame)
    assert pkt[IP].flags.DF == 1 and pkt[IP].frag == 0
    assert ip_checksum_ok(pkt[IP]) and udp_checksum_ok(pkt[IP])
    assert bytes(pkt[UDP].payload) == b"hello"
    assert pkt[IP].src == HOST_IP and pkt[IP].ttl == 64


def test_exactly_mtu_sized_datagram_is_not_fragmented():
    rig = make_rig()
    sk = make_sock(rig.host)
    udp_sendmsg(sk, payload(1472), 0, (PEER_IP, 53))
    (sent,) = rig.sent
    pkt = Ether(sent.frame)
    assert pkt[IP].len == 1500 and pkt[IP].flags.DF == 1
    udp_sendmsg(sk, payload(1473), 0, (PEER_IP, 53))
    assert len(rig.sent) == 3  # 1501 bytes → two fragments, DF clear
    assert Ether(rig.sent[1].frame)[IP].flags.DF == 0


def test_no_checksum_offload_sums_in_software():
    rig = make_rig(features=NETIF_F_SG)
    sk = make_sock(rig.host)
    skb_stats.reset()
    udp_sendmsg(sk, payload(100), 0, (PEER_IP, 53))
    (sent,) = rig.sent
    assert sent.ip_summed == CHECKSUM_NONE
    assert skb_stats.csum_bytes == 108
    assert udp_checksum_ok(Ether(sent.frame)[IP])


def test_pmtudisc_do_refuses_oversized_datagram():
    rig = make_rig()
    sk = make_sock(rig.host)
    sk.pmtudisc = IP_PMTUDISC_DO
    with pytest.raises(OSError) as ei:
        udp_sendmsg(sk, payload(3000), 0, (PEER_IP, 9))
    assert ei.value.errno == errno.EMSGSIZE
    assert rig.sent == [] and rig.host.mib["Ip"]["FragCreates"] == 0
    assert sk.sk_wmem_alloc == 1
    udp_sendmsg(sk, payload(1472), 0, (PEER_IP, 9))  # 1500 bytes still fit
    assert Ether(rig.sent[0].frame)[IP].flags.DF == 1


def test_maximum_payload_is_65507():
    rig = make_rig(mtu=9000)
    sk = make_sock(rig.host)
    data = payload(65507)
    assert udp_sendmsg(sk, data, 0, (PEER_IP, 9)) == 65507
    frags = [Ether(f)[IP] for f in rig.frames()]
    assert bytes(IP(bytes(defragment(frags)[0]))[UDP].payload) == data
    with pytest.raises(OSError) as ei:
        udp_sendmsg(sk, payload(65508), 0, (PEER_IP, 9))
    assert ei.value.errno == errno.EMSGSIZE


def test_bad_arguments_raise_errno():
    rig = make_rig()
    sk = make_sock(rig.host)
    for addr, code in (((PEER_IP, 0), errno.EINVAL), (("10.0.0.999", 1), errno.EINVAL)):
        with pytest.raises(OSError) as ei:
            udp_sendmsg(sk, b"x", 0, addr)
        assert ei.value.errno == code
    with pytest.raises(OSError) as ei:
        udp_sendmsg(sk, b"x", 0, None)
    assert ei.value.errno == errno.EDESTADDRREQ
    with pytest.raises(OSError) as ei:
        udp_sendmsg(sk, b"x", 0, ("192.168.9.9", 1))
    assert ei.value.errno == errno.ENETUNREACH
    assert rig.host.mib["Ip"]["OutNoRoutes"] == 1


def test_socket_memory_is_returned_after_transmit():
    rig = make_rig()
    sk = make_sock(rig.host)
    udp_sendmsg(sk, payload(3000), 0, (PEER_IP, 9))
    assert sk.sk_wmem_alloc == 1  # every fragment's truesize was given back by sock_wfree
    assert live_skbs() == []


def test_full_sndbuf_gives_eagain_and_sndbuf_error():
    rig = make_rig()
    sk = make_sock(rig.host)
    sk.sk_wmem_alloc += sk.sk_sndbuf  # as if that much were still queued below us
    with pytest.raises(OSError) as ei:
        udp_sendmsg(sk, b"x", 0x40, (PEER_IP, 9))  # MSG_DONTWAIT
    assert ei.value.errno == errno.EAGAIN
    assert rig.host.mib["Udp"]["SndbufErrors"] == 1


def _udp_frame(src_port: int, dst_port: int, data: bytes, bad_csum: bool = False) -> bytes:
    pkt = (
        Ether(src=PEER_MAC, dst="02:00:00:00:00:01")
        / IP(src=PEER_IP, dst=HOST_IP)
        / UDP(sport=src_port, dport=dst_port)
        / Raw(data)
    )
    raw = bytearray(bytes(pkt))
    if bad_csum:
        raw[14 + 20 + 6] ^= 0xFF
    return bytes(raw)


def test_udp_receive_queues_and_port_unreachable():
    rig = make_rig()
    sk = make_sock(rig.host)
    udp_v4_get_port(sk, 5000)
    host_receive_frame(rig.host, rig.dev, _udp_frame(1234, 5000, b"ping"))
    host_receive_frame(rig.host, rig.dev, _udp_frame(1234, 5001, b"nobody"))
    host_receive_frame(rig.host, rig.dev, _udp_frame(1234, 5000, b"bad", bad_csum=True))
    rig.run(1)
    assert udp_recvmsg(sk) == (b"ping", (PEER_IP, 1234))
    udp = rig.host.mib["Udp"]
    assert (udp["InDatagrams"], udp["NoPorts"], udp["InCsumErrors"]) == (1, 1, 1)
    (icmp_frame,) = rig.frames()
    err = Ether(icmp_frame)
    assert err[ICMP].type == 3 and err[ICMP].code == 3 and err[IP].dst == PEER_IP
    quoted = IP(bytes(err[ICMP].payload))
    assert quoted.dst == HOST_IP and bytes(quoted.payload)[2:4] == (5001).to_bytes(2, "big")
    with pytest.raises(OSError) as ei:
        udp_recvmsg(sk)
    assert ei.value.errno == errno.EAGAIN


def test_blocking_sendto_sleeps_for_write_space_instead_of_failing():
    """sock_alloc_send_skb on a blocking socket sleeps in sock_wait_for_wmem until the driver's
    reclaim gives the memory back (sock_wfree → sock_def_write_space); nothing is lost and
    SndbufErrors stays 0. With MSG_DONTWAIT the same situation is EAGAIN."""
    from hilnic.kernel.env import MS, SEC
    from hilnic.net.socket import SO_SNDBUF, SOCK_DGRAM, SOL_SOCKET
    from hilnic.testbed import TestbedConfig, model_testbed, pattern

    tb = model_testbed(TestbedConfig(itr=0))
    n, size = 60, 1472
    state = {}

    async def main():
        s = tb.socket(SOCK_DGRAM)
        s.setsockopt(SOL_SOCKET, SO_SNDBUF, 4096)  # doubled: 8 KiB, a few datagrams' truesize
        t0 = tb.env.now()
        for i in range(n):
            assert await s.sendto(pattern(size, seed=i), (tb.cfg.peer_ip, 9000)) == size
        state["send_ps"] = tb.env.now() - t0
        await tb.host.kernel.msleep(2)
        await s.close()

    tb.run(main(), timeout=1 * SEC)
    got = [d.data for d in tb.peer.datagrams if d.dport == 9000]
    assert got == [pattern(size, seed=i) for i in range(n)], f"peer got {len(got)} of {n} datagrams"
    assert state["send_ps"] > 0  # the sender slept (time passed inside the loop of sendto calls)
    assert tb.host.mib["Udp"]["SndbufErrors"] == 0
    assert tb.host.mib["Udp"]["OutDatagrams"] == n
    assert state["send_ps"] < 100 * MS
    tb.check_clean()
