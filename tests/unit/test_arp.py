"""Neighbour resolution over ARP (behaviour 23): queueing, flush, failure, NUD timers."""

from __future__ import annotations

from ip_testlib import HOST_IP, make_rig, make_sock
from scapy.layers.inet import UDP
from scapy.layers.l2 import ARP, Ether

from hilnic.drivers.net.rx import host_receive_frame
from hilnic.net.core.neighbour import NUD_DELAY, NUD_FAILED, NUD_INCOMPLETE, NUD_PROBE, NUD_REACHABLE, NUD_STALE
from hilnic.net.core.skbuff import live_skbs
from hilnic.net.ipv4.arp import arp_tbl, neigh_lookup_state
from hilnic.net.ipv4.udp import udp_sendmsg

NEW_IP = "10.0.0.3"
NEW_MAC = "02:00:00:00:00:03"


def arp_reply(
    op: int = 2, psrc: str = NEW_IP, hwsrc: str = NEW_MAC, pdst: str = HOST_IP, dst: str = "02:00:00:00:00:01"
) -> bytes:
    return bytes(
        Ether(src=hwsrc, dst=dst)
        / ARP(op=op, hwsrc=hwsrc, psrc=psrc, hwdst="02:00:00:00:00:01" if op == 2 else "00:00:00:00:00:00", pdst=pdst)
    )


def arps(rig) -> list[Ether]:
    return [Ether(f) for f in rig.frames() if Ether(f).type == 0x0806]


def udps(rig) -> list[Ether]:
    return [Ether(f) for f in rig.frames() if Ether(f).type == 0x0800]


def test_unresolved_queue_caps_at_unres_qlen_bytes_and_flushes_in_order():
    rig = make_rig(resolve_peer=False)
    sk = make_sock(rig.host)
    sk.sk_sndbuf = 1 << 20  # SO_SNDBUF: the default (212992) would block the sender first
    tbl = arp_tbl(rig.host)
    n_sent = 120
    for i in range(n_sent):
        udp_sendmsg(sk, i.to_bytes(2, "big") * 700, 0, (NEW_IP, 9))
    n = tbl.hash[(0x0A000003, "eth0")]
    truesize = n.arp_queue[0].truesize
    cap = 212992 // truesize
    assert n.nud_state == NUD_INCOMPLETE
    assert len(n.arp_queue) == cap and n.arp_queue_len_bytes == cap * truesize <= 212992
    assert tbl.stats.unres_discards == n_sent - cap
    (req,) = arps(rig)  # one immediate broadcast probe, nothing else on the wire yet
    assert req.dst == "ff:ff:ff:ff:ff:ff" and req[ARP].op == 1
    assert (req[ARP].psrc, req[ARP].pdst, req[ARP].hwsrc) == (HOST_IP, NEW_IP, "02:00:00:00:00:01")
    assert udps(rig) == []
    assert len(live_skbs()) == cap  # the dropped ones were freed

    host_receive_frame(rig.host, rig.dev, arp_reply())
    rig.run(1)
    assert n.nud_state == NUD_REACHABLE and n.ha == bytes.fromhex("020000000003")
    out = udps(rig)
    assert len(out) == cap
    markers = [int.from_bytes(bytes(p[UDP].payload)[:2], "big") for p in out]
    assert markers == list(range(n_sent - cap, n_sent))  # oldest dropped, rest in order
    assert all(p.dst == NEW_MAC for p in out)
    assert n.arp_queue_len_bytes == 0 and live_skbs() == []
    # Resolved: the next datagram goes out at once through the cached header.
    udp_sendmsg(sk, b"after", 0, (NEW_IP, 9))
    assert bytes(udps(rig)[-1][UDP].payload) == b"after"


def test_probes_exhausted_fail_and_drop_the_queue():
    rig = make_rig(resolve_peer=False)
    sk = make_sock(rig.host)
    tbl = arp_tbl(rig.host)
    udp_sendmsg(sk, b"a" * 100, 0, (NEW_IP, 9))
    udp_sendmsg(sk, b"b" * 100, 0, (NEW_IP, 9))
    t0 = rig.env.now()
    times = []
    for _step in range(40):  # 4 s in 100 ms steps
        rig.run(100)
        times.append((len(arps(rig)), neigh_lookup_state(rig.host, NEW_IP, rig.dev)))
    reqs = arps(rig)
    assert len(reqs) == 3  # mcast_solicit = 3 broadcast requests, 1 s apart
    assert all(r.dst == "ff:ff:ff:ff:ff:ff" for r in reqs)
    assert times[9] == (2, NUD_INCOMPLETE) and times[19] == (3, NUD_INCOMPLETE)
    assert times[29][1] == NUD_FAILED and times[28][1] == NUD_INCOMPLETE  # failed at t0 + 3 s
    n = tbl.hash[(0x0A000003, "eth0")]
    assert not n.arp_queue and n.arp_queue_len_bytes == 0
    assert tbl.stats.res_failed == 1
    assert live_skbs() == []
    # Each queued skb was reported with ICMP host unreachable, delivered to ourselves.
    assert rig.host.mib["Icmp"]["InDestUnreachs"] == 2
    assert udps(rig) == []
    assert rig.env.now() - t0 >= 3 * 10**12
    # A new packet restarts resolution from FAILED.
    udp_sendmsg(sk, b"c", 0, (NEW_IP, 9))
    assert n.nud_state == NUD_INCOMPLETE and len(arps(rig)) == 4


def test_request_for_our_address_is_answered():
    rig = make_rig(resolve_peer=False)
    host_receive_frame(rig.host, rig.dev, arp_reply(op=1, dst="ff:ff:ff:ff:ff:ff"))
    rig.run(1)
    (rep,) = arps(rig)
    assert rep.dst == NEW_MAC and rep[ARP].op == 2
    assert (rep[ARP].hwsrc, rep[ARP].psrc, rep[ARP].hwdst, rep[ARP].pdst) == ("02:00:00:00:00:01", HOST_IP, NEW_MAC, NEW_IP)
    assert neigh_lookup_state(rig.host, NEW_IP, rig.dev) == NUD_STALE
    # A request for someone else's address is not answered.
    host_receive_frame(rig.host, rig.dev, arp_reply(op=1, pdst="10.0.0.77", dst="ff:ff:ff:ff:ff:ff"))
    rig.run(1)
    assert len(arps(rig)) == 1


def test_reachable_goes_stale_then_delay_probe_and_failed():
    rig = make_rig(resolve_peer=False)
    sk = make_sock(rig.host)
    udp_sendmsg(sk, b"x", 0, (NEW_IP, 9))
    host_receive_frame(rig.host, rig.dev, arp_reply())
    rig.run(1)
    assert neigh_lookup_state(rig.host, NEW_IP, rig.dev) == NUD_REACHABLE
    rig.run(31_000)  # reachable_time 30 s, unused since → STALE
    assert neigh_lookup_state(rig.host, NEW_IP, rig.dev) == NUD_STALE
    udp_sendmsg(sk, b"y", 0, (NEW_IP, 9))  # STALE still sends, and moves to DELAY
    assert bytes(udps(rig)[-1][UDP].payload) == b"y"
    assert neigh_lookup_state(rig.host, NEW_IP, rig.dev) == NUD_DELAY
    rig.run(5_001)  # delay_first_probe_time 5 s without confirmation → PROBE, unicast
    assert neigh_lookup_state(rig.host, NEW_IP, rig.dev) == NUD_PROBE
    probes = arps(rig)[1:]
    assert len(probes) == 1 and probes[0].dst == NEW_MAC
    rig.run(3_100)
    probes = arps(rig)[1:]
    assert len(probes) == 3 and all(p.dst == NEW_MAC for p in probes)  # ucast_solicit = 3
    assert neigh_lookup_state(rig.host, NEW_IP, rig.dev) == NUD_FAILED


def test_probe_answered_returns_to_reachable():
    rig = make_rig(resolve_peer=False)
    sk = make_sock(rig.host)
    udp_sendmsg(sk, b"x", 0, (NEW_IP, 9))
    host_receive_frame(rig.host, rig.dev, arp_reply())
    rig.run(31_000)
    udp_sendmsg(sk, b"y", 0, (NEW_IP, 9))
    rig.run(5_001)
    assert neigh_lookup_state(rig.host, NEW_IP, rig.dev) == NUD_PROBE
    host_receive_frame(rig.host, rig.dev, arp_reply())
    rig.run(1)
    assert neigh_lookup_state(rig.host, NEW_IP, rig.dev) == NUD_REACHABLE
