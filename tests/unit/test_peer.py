"""PeerHost: frames built by scapy go in, frames the peer sends are parsed by scapy.

Every rig runs the peer in strict mode, so each frame is also re-checked by scapy against
the struct fast path.
"""

from __future__ import annotations

import random
import zlib

import pytest
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, raw

from hilnic.hw.backend import WireFrame
from hilnic.kernel.env import MS, NS, SEC, VirtualEnv
from hilnic.wire import PeerHost, TcpState, tcp_data_only
from hilnic.wire.strict import StrictCheckError

HOST_MAC = "02:00:00:00:00:01"
PEER_MAC = "02:00:00:00:00:02"
HOST_IP = "10.0.0.1"
PEER_IP = "10.0.0.2"
DELAY = 500 * NS


def to_wire(pkt: Packet | bytes, t: int = 0, index: int = 0, corrupt_fcs: bool = False) -> WireFrame:
    """A frame as the MAC would send it: padded to 60 bytes, FCS appended."""
    b = raw(pkt) if isinstance(pkt, Packet) else bytes(pkt)
    if len(b) < 60:
        b += bytes(60 - len(b))
    crc = zlib.crc32(b) ^ (0xFF if corrupt_fcs else 0)
    return WireFrame(b + crc.to_bytes(4, "little"), t, t + len(b) * 800, not corrupt_fcs, index)


class Rig:
    """A VirtualEnv, a strict PeerHost and the frames it sent to the host (time, scapy packet)."""

    def __init__(self, **opts) -> None:
        self.env = VirtualEnv()
        self.sent: list[tuple[int, Ether]] = []
        opts.setdefault("strict", True)
        self.peer = PeerHost(self.env, PEER_MAC, PEER_IP, HOST_MAC, HOST_IP, self._to_host, DELAY, **opts)
        self.index = 0

    def _to_host(self, frame: bytes) -> None:
        self.sent.append((self.env.now(), Ether(frame)))

    def feed(self, pkt: Packet | bytes, corrupt_fcs: bool = False) -> None:
        self.peer.receive_frame(to_wire(pkt, self.env.now(), self.index, corrupt_fcs))
        self.index += 1

    def at(self, t: int, pkt: Packet) -> None:
        self.env.call_at(t, self.feed, pkt)

    def run(self, until: int | None = None) -> None:
        self.env.run(until=until)

    def take(self) -> list[tuple[int, Ether]]:
        out, self.sent = self.sent, []
        return out


def tcp(sport=40000, dport=5001, flags="A", seq=0, ack=0, payload=b"", window=502, options=None) -> Packet:
    """A host → peer TCP segment; scapy fills the checksums."""
    if options is None:
        options = [("NOP", None), ("NOP", None), ("Timestamp", (1000, 0))]
    return (Ether(dst=PEER_MAC, src=HOST_MAC) / IP(src=HOST_IP, dst=PEER_IP, flags="DF", id=1)
            / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=window, options=options) / payload)


def checksums_valid(pkt: Ether) -> bool:
    """Recompute IP and TCP/UDP checksums with scapy and compare with what was sent."""
    ip = pkt[IP]
    again = IP(raw(ip)[: ip.len])
    sent_ip, sent_l4 = again.chksum, again.payload.chksum
    del again.chksum
    del again.payload.chksum
    rebuilt = IP(raw(again))
    return rebuilt.chksum == sent_ip and rebuilt.payload.chksum == sent_l4


MSS = 1448  # payload per full segment with timestamps (MTU 1500)


def opt(pkt: Ether, name: str):
    for k, v in pkt[TCP].options:
        if k == name:
            return v
    return None


def handshake(rig: Rig, sport=40000, dport=5001, isn=1000, syn_opts=None) -> Ether:
    """SYN → SYN-ACK → ACK; returns the SYN-ACK."""
    if syn_opts is None:
        syn_opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (777, 0)), ("NOP", None), ("WScale", 7)]
    rig.feed(tcp(sport, dport, "S", seq=isn, options=syn_opts, window=64240))
    rig.run()
    (_, synack), = rig.take()
    rig.feed(tcp(sport, dport, "A", seq=isn + 1, ack=synack[TCP].seq + 1))
    rig.run()
    assert rig.take() == []  # the handshake's ACK is not answered
    return synack


# -- ARP -----------------------------------------------------------------------------------


def test_arp_request_answered_after_wire_delay():
    rig = Rig()
    rig.env.run(until=3 * NS)
    rig.feed(Ether(dst="ff:ff:ff:ff:ff:ff", src=HOST_MAC) / ARP(op=1, hwsrc=HOST_MAC, psrc=HOST_IP, pdst=PEER_IP))
    rig.run()
    (t, rep), = rig.take()
    assert t == 3 * NS + DELAY
    assert len(raw(rep)) == 60  # padded to the Ethernet minimum
    assert rep.dst == HOST_MAC and rep.src == PEER_MAC and rep.type == 0x0806
    a = rep[ARP]
    assert (a.op, a.hwsrc, a.psrc, a.hwdst, a.pdst) == (2, PEER_MAC, PEER_IP, HOST_MAC, HOST_IP)
    assert rig.peer.arp_replies == 1


def test_arp_for_other_address_not_answered():
    rig = Rig()
    rig.feed(Ether(dst="ff:ff:ff:ff:ff:ff", src=HOST_MAC) / ARP(op=1, hwsrc=HOST_MAC, psrc=HOST_IP, pdst="10.0.0.9"))
    rig.run()
    assert rig.take() == []
    assert (rig.peer.arp_requests, rig.peer.arp_replies) == (1, 0)


# -- TCP handshake and data -------------------------------------------------------------------


def test_syn_ack_options_and_checksums():
    rig = Rig()
    synack = handshake(rig)
    t = synack[TCP]
    assert t.flags == "SA" and t.ack == 1001 and (t.sport, t.dport) == (5001, 40000)
    assert opt(synack, "MSS") == 1460
    assert opt(synack, "WScale") == 7
    assert opt(synack, "Timestamp")[1] == 777  # echoes the SYN's TSval
    assert opt(synack, "SAckOK") is None  # SACK not offered
    assert t.window == 65535  # a SYN-ACK window is never scaled
    assert synack[IP].flags.DF and synack[IP].ttl == 64
    assert checksums_valid(synack)
    assert rig.peer.connection().state is TcpState.ESTABLISHED


def test_no_window_scaling_or_timestamps_unless_offered():
    rig = Rig()
    synack = handshake(rig, syn_opts=[("MSS", 1460)])
    assert opt(synack, "WScale") is None and opt(synack, "Timestamp") is None
    rig.feed(tcp(seq=1001, ack=synack[TCP].seq + 1, flags="PA", payload=b"x" * 100, options=[]))
    rig.run()
    (_, ack), = rig.take()
    assert ack[TCP].options == [] and ack[TCP].window == 65535  # unscaled, capped


def test_in_order_data_second_full_segment_acked_at_once():
    rig = Rig()
    synack = handshake(rig)
    payload = bytes(random.Random(1).randbytes(3 * MSS))
    una = synack[TCP].seq + 1
    rig.feed(tcp(seq=1001, ack=una, payload=payload[:MSS]))
    assert rig.take() == []
    t1 = rig.env.now()
    rig.feed(tcp(seq=1001 + MSS, ack=una, payload=payload[MSS:2 * MSS]))
    rig.run(until=t1 + DELAY)
    (t, ack), = rig.take()
    assert t == t1 + DELAY  # not delayed: two full segments unacked
    assert ack[TCP].flags == "A" and ack[TCP].ack == 1001 + 2 * MSS
    assert ack[TCP].window == (6 << 20) >> 7
    assert checksums_valid(ack)
    rig.feed(tcp(seq=1001 + 2 * MSS, ack=una, payload=payload[2 * MSS:]))
    rig.run()
    assert rig.peer.stream() == payload


def test_delayed_ack_fires_after_40ms_virtual():
    rig = Rig()
    synack = handshake(rig)
    t0 = rig.env.now()
    rig.feed(tcp(seq=1001, ack=synack[TCP].seq + 1, flags="PA", payload=b"a" * 1000,
                 options=[("NOP", None), ("NOP", None), ("Timestamp", (4242, 0))]))
    rig.run(until=t0 + 40 * MS - 1)
    assert rig.take() == []
    rig.run()
    (t, ack), = rig.take()
    assert t == t0 + 40 * MS + DELAY
    assert ack[TCP].ack == 2001
    assert opt(ack, "Timestamp")[1] == 4242  # echoes the segment it acknowledges
    assert rig.peer.delayed_acks == 1


def test_quickack_option_acks_first_segments_at_once():
    rig = Rig(quickack=2)
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    for i in range(3):
        rig.feed(tcp(seq=1001 + 100 * i, ack=una, payload=b"q" * 100))
    rig.run(until=rig.env.now() + DELAY)
    assert [p[TCP].ack for _, p in rig.take()] == [1101, 1201]  # third waits for the timer


def test_out_of_order_dupack_then_hole_filled():
    rig = Rig()
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    data = bytes(random.Random(2).randbytes(4 * MSS))
    segs = [data[i * MSS:(i + 1) * MSS] for i in range(4)]
    rig.feed(tcp(seq=1001, ack=una, payload=segs[0]))
    for i in (2, 3):  # segment 1 is missing
        rig.feed(tcp(seq=1001 + i * MSS, ack=una, payload=segs[i]))
    rig.run(until=rig.env.now() + DELAY)
    acks = [p[TCP].ack for _, p in rig.take()]
    assert acks == [1001 + MSS, 1001 + MSS]  # one immediate duplicate ACK per out-of-order segment
    assert rig.peer.dupacks_sent == 2
    rig.feed(tcp(seq=1001 + MSS, ack=una, payload=segs[1]))
    rig.run(until=rig.env.now() + DELAY)
    (_, ack), = rig.take()
    assert ack[TCP].ack == 1001 + 4 * MSS  # the filled hole is ACKed at once, up to the end
    assert rig.peer.stream() == data


def test_retransmission_of_delivered_data_gets_immediate_ack():
    rig = Rig()
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    rig.feed(tcp(seq=1001, ack=una, payload=b"z" * 500))
    rig.run()
    rig.take()
    rig.feed(tcp(seq=1001, ack=una, payload=b"z" * 500))
    rig.run(until=rig.env.now() + DELAY)
    (_, ack), = rig.take()
    assert ack[TCP].ack == 1501
    assert rig.peer.stream() == b"z" * 500


# -- windows ---------------------------------------------------------------------------------


def test_zero_window_then_update():
    rig = Rig(rcvbuf=0)
    synack = handshake(rig)
    assert synack[TCP].window == 0
    una = synack[TCP].seq + 1
    rig.feed(tcp(seq=1001, ack=una, payload=b"p" * 100))  # data into a zero window
    rig.run()
    (_, ack), = rig.take()
    assert ack[TCP].ack == 1001 and ack[TCP].window == 0
    conn = rig.peer.connection()
    assert conn.zero_window_drops == 1 and rig.peer.stream() == b""
    rig.feed(tcp(seq=1000, ack=una))  # zero-window probe: seq = snd_una - 1, no data
    rig.run()
    (_, ack), = rig.take()
    assert ack[TCP].ack == 1001 and ack[TCP].window == 0
    rig.peer.set_rcvbuf(conn, 65536)
    rig.run()
    (_, upd), = rig.take()
    assert upd[TCP].ack == 1001 and upd[TCP].window == 65536 >> 7
    assert conn.window_updates == 1


def test_window_closes_as_unread_data_fills_buffer_and_reopens_on_read():
    rig = Rig(rcvbuf=4 * MSS, autoread=False, wscale=0)
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    for i in range(4):
        rig.feed(tcp(seq=1001 + i * MSS, ack=una, payload=b"w" * MSS))
    rig.run()
    wins = [(p[TCP].ack, p[TCP].window) for _, p in rig.take()]
    assert wins == [(1001 + 2 * MSS, 2 * MSS), (1001 + 4 * MSS, 0)]  # right edge stays put
    rig.feed(tcp(seq=1001 + 4 * MSS, ack=una, payload=b"x" * 10))  # beyond the window
    rig.run()
    assert rig.take()[0][1][TCP].window == 0
    rig.peer.read(rig.peer.connection())
    rig.run()
    (_, upd), = rig.take()
    assert upd[TCP].window == 4 * MSS and len(rig.peer.stream()) == 4 * MSS


# -- close and reset -----------------------------------------------------------------------


def test_fin_is_acked_with_own_fin_then_closed():
    rig = Rig()
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    rig.feed(tcp(seq=1001, ack=una, flags="FPA", payload=b"bye"))
    rig.run()
    (_, fin), = rig.take()
    assert fin[TCP].flags == "FA" and fin[TCP].ack == 1001 + 3 + 1 and fin[TCP].seq == una
    conn = rig.peer.connection()
    assert conn.state is TcpState.LAST_ACK and rig.peer.stream() == b"bye"
    rig.feed(tcp(seq=1005, ack=una + 1))
    assert conn.state is TcpState.CLOSED


def test_syn_to_closed_port_gets_rst():
    rig = Rig(listen_ports={5001})
    rig.feed(tcp(dport=6000, flags="S", seq=50, options=[]))
    rig.run()
    (_, rst), = rig.take()
    assert rst[TCP].flags == "RA" and rst[TCP].ack == 51 and checksums_valid(rst)


# -- bad frames ----------------------------------------------------------------------------


def test_bad_fcs_ip_and_tcp_checksums_dropped_and_counted():
    rig = Rig()
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    rig.feed(tcp(seq=1001, ack=una, payload=b"F" * 200), corrupt_fcs=True)
    bad_ip = tcp(seq=1001, ack=una, payload=b"I" * 200)
    bad_ip[IP].chksum = 0x1234
    rig.feed(bad_ip)
    bad_tcp = tcp(seq=1001, ack=una, payload=b"T" * 200)
    bad_tcp[TCP].chksum = 0x4321
    rig.feed(bad_tcp)
    good = raw(tcp(seq=1001, ack=una, payload=b"G" * 200))
    flipped = bytearray(good)
    flipped[-1] ^= 0x01  # payload bit flip: only the TCP checksum can catch it
    rig.feed(bytes(flipped))
    rig.run()
    p = rig.peer
    assert (p.bad_fcs, p.bad_ip_csum, p.bad_l4_csum) == (1, 1, 2)
    assert rig.take() == [] and p.stream() == b""  # silently dropped, nothing acknowledged
    rig.feed(good)
    rig.run()
    assert p.stream() == b"G" * 200


def test_bad_udp_checksum_dropped_zero_checksum_accepted():
    rig = Rig()
    base = Ether(dst=PEER_MAC, src=HOST_MAC) / IP(src=HOST_IP, dst=PEER_IP) / UDP(sport=1, dport=2)
    bad = base / b"hello"
    bad[UDP].chksum = 0xBEEF
    rig.feed(bad)
    none = base / b"nocsum"
    none[UDP].chksum = 0
    rig.feed(none)
    rig.feed(base / b"good")
    assert rig.peer.bad_l4_csum == 1
    assert [d.data for d in rig.peer.datagrams] == [b"nocsum", b"good"]


def test_runt_and_foreign_frames():
    rig = Rig()
    short = raw(Ether(dst=PEER_MAC, src=HOST_MAC) / ARP(op=1, hwsrc=HOST_MAC, psrc=HOST_IP, pdst=PEER_IP))
    rig.peer.receive_frame(WireFrame(short + zlib.crc32(short).to_bytes(4, "little"), 0, 1, True, 0))
    rig.feed(Ether(dst="02:00:00:00:00:99", src=HOST_MAC) / IP(src=HOST_IP, dst=PEER_IP) / UDP() / b"x")
    assert (rig.peer.runts, rig.peer.not_for_us, rig.peer.arp_replies) == (1, 1, 0)


def test_strict_mode_catches_nic_fcs_claim_mismatch():
    rig = Rig()
    f = to_wire(tcp(flags="S", options=[]))
    with pytest.raises(StrictCheckError):
        rig.peer.receive_frame(WireFrame(f.data, 0, 1, False, 0))  # NIC claims bad, CRC is good


# -- fragments --------------------------------------------------------------------------------


def udp_datagram(payload: bytes, ident: int = 77) -> Packet:
    return IP(src=HOST_IP, dst=PEER_IP, id=ident, flags=0) / UDP(sport=5353, dport=9) / payload


@pytest.mark.parametrize("order", ["forward", "reverse", "shuffled"])
def test_fragment_reassembly_byte_exact(order):
    rig = Rig()
    payload = bytes(random.Random(3).randbytes(3000))
    frags = fragment(udp_datagram(payload), fragsize=1480)
    assert len(frags) == 3
    if order == "reverse":
        frags = frags[::-1]
    elif order == "shuffled":
        frags = [frags[1], frags[2], frags[0]]
    for f in frags:
        rig.feed(Ether(dst=PEER_MAC, src=HOST_MAC) / f)
    assert rig.peer.reassembled == 1
    (d,) = rig.peer.datagrams
    assert (d.src, d.sport, d.dport, d.data) == (HOST_IP, 5353, 9, payload)


def test_fragment_duplicate_ignored_overlap_discards():
    rig = Rig()
    payload = bytes(range(256)) * 8
    f0, f1 = fragment(udp_datagram(payload, 1), fragsize=1480)
    for f in (f0, f0, f1):
        rig.feed(Ether(dst=PEER_MAC, src=HOST_MAC) / f)
    assert [d.data for d in rig.peer.datagrams] == [payload]
    g0, g1 = fragment(udp_datagram(payload, 2), fragsize=1480)
    overlap = g1.copy()
    overlap.frag -= 1  # starts 8 bytes inside the first fragment
    for f in (g0, overlap, g1):
        rig.feed(Ether(dst=PEER_MAC, src=HOST_MAC) / f)
    assert len(rig.peer.datagrams) == 1 and rig.peer.reasm.overlaps == 1


def test_fragment_timeout_discards_incomplete_datagram():
    rig = Rig()
    f0, _f1, f2 = fragment(udp_datagram(bytes(3000)), fragsize=1480)
    rig.feed(Ether(dst=PEER_MAC, src=HOST_MAC) / f0)
    rig.feed(Ether(dst=PEER_MAC, src=HOST_MAC) / f2)
    rig.run(until=30 * SEC - 1)
    assert rig.peer.reasm.timeouts == 0 and rig.peer.reasm.queues
    rig.run()
    assert rig.peer.reasm.timeouts == 1 and not rig.peer.reasm.queues and rig.peer.datagrams == []


# -- loss ----------------------------------------------------------------------------------


def _udp_frames(n: int) -> list[Packet]:
    return [Ether(dst=PEER_MAC, src=HOST_MAC) / IP(src=HOST_IP, dst=PEER_IP) / UDP(sport=1, dport=2) / i.to_bytes(4, "big")
            for i in range(n)]


def _delivered(**opts) -> list[int]:
    rig = Rig(**opts)
    for p in _udp_frames(200):
        rig.feed(p)
    return [int.from_bytes(d.data, "big") for d in rig.peer.datagrams]


def test_loss_rate_is_seeded_and_matches_reference_rng():
    got = _delivered(loss_rate=0.1, seed=7)
    rng = random.Random(7)
    expect = [i for i in range(200) if not rng.random() < 0.1]
    assert got == expect and len(got) < 200
    assert _delivered(loss_rate=0.1, seed=7) == got
    assert _delivered(loss_rate=0.1, seed=8) != got


def test_drop_every_nth_and_predicate():
    assert _delivered(drop_every_nth=50) == [i for i in range(200) if (i + 1) % 50]
    assert _delivered(drop_predicate=lambda frame, n: n == 5) == [i for i in range(200) if i != 4]
    rig = Rig(drop_every_nth=1)
    rig.feed(_udp_frames(1)[0])
    assert rig.peer.dropped_by_loss == 1 and rig.peer.frames_rx == 0


def test_loss_of_tcp_data_only_triggers_dupacks():
    rig = Rig(drop_every_nth=2, loss_eligible=tcp_data_only)
    synack = handshake(rig)  # SYN and ACK are not eligible, so never lost
    una = synack[TCP].seq + 1
    for i in range(4):
        rig.feed(tcp(seq=1001 + i * 100, ack=una, payload=bytes([i]) * 100))
    rig.run(until=rig.env.now() + DELAY)
    assert rig.peer.dropped_by_loss == 2
    assert [p[TCP].ack for _, p in rig.take()] == [1101]  # segment 3 arrives after the hole
    assert rig.peer.stream() == bytes([0]) * 100


# -- speed ---------------------------------------------------------------------------------


def test_fast_path_takes_full_size_frames_in_order_and_acks_every_second():
    """The fast path (strict=False) loses nothing; its speed is hilnic.bench.peer_speed's figure."""
    n = 4000
    rig = Rig(strict=False)
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    frames = [to_wire(tcp(seq=1001 + i * MSS, ack=una, payload=bytes([i & 0xFF]) * MSS), i, i) for i in range(n)]
    assert len(frames[0].data) == 1518
    for f in frames:
        rig.peer.receive_frame(f)
    stream = rig.peer.stream()
    assert len(stream) == n * MSS and rig.peer.acks_sent == n // 2
    assert all(stream[i * MSS] == i & 0xFF for i in range(n))
