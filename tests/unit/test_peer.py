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
from hilnic.kernel.env import MS, NS, SEC, US, VirtualEnv
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
    assert [k for k, _ in t.options] == ["MSS", "SAckOK", "Timestamp", "NOP", "WScale"]  # Linux's order
    assert opt(synack, "MSS") == 1460
    assert opt(synack, "WScale") == 10  # ilog2(max(tcp_rmem[2] 32 MiB, rmem_max)) - 15
    assert opt(synack, "Timestamp")[1] == 777  # echoes the SYN's TSval
    assert t.window == 65160  # tcp_rmem[1]/2 rounded down to 45 MSS of 1448: never scaled
    assert synack[IP].flags.DF and synack[IP].ttl == 64
    assert checksums_valid(synack)
    assert rig.peer.connection().state is TcpState.ESTABLISHED


def test_no_window_scaling_sack_or_timestamps_unless_offered():
    rig = Rig()
    synack = handshake(rig, syn_opts=[("MSS", 1460)])
    assert [k for k, _ in synack[TCP].options] == ["MSS"]
    assert synack[TCP].window == 64240  # 44 MSS of 1460 (no timestamps)
    rig.feed(tcp(seq=1001, ack=synack[TCP].seq + 1, flags="PA", payload=b"x" * 100, options=[]))
    rig.run()
    (_, ack), = rig.take()
    # unscaled; the right edge never moves left (tcp_select_window): 64240 - 100
    assert ack[TCP].options == [] and ack[TCP].window == 64140


def _quick_acks_done(rig: Rig, una: int, seq: int = 1001, n: int = 16) -> int:
    """Spend the receiver's quickack credit with n small segments; the next seq."""
    for _ in range(n):
        rig.feed(tcp(seq=seq, ack=una, payload=b"q" * 100))
        seq += 100
    rig.run(until=rig.env.now() + DELAY)
    assert len(rig.take()) == n
    return seq


def test_quickack_acks_the_first_16_segments_at_once():
    """tcp_incr_quickack(TCP_MAX_QUICKACKS): the first data arms 16 quick ACKs (rcv_wnd is
    ample); each ACK spends one, then a lone small segment waits for the delayed-ACK timer
    (segments under 128 bytes do not grow the window, which would set quick again)."""
    rig = Rig(autoread=False)
    una = handshake(rig)[TCP].seq + 1
    acks = []
    for i in range(17):
        rig.feed(tcp(seq=1001 + 100 * i, ack=una, payload=b"q" * 100))
        rig.run(until=rig.env.now() + DELAY)
        acks.append(len(rig.take()))
    assert acks == [1] * 16 + [0]
    assert rig.peer.connection().quick == 0


def test_ack_every_second_full_segment_after_the_quickacks():
    """Full segments back to back: one ACK each while quickack mode (16, and while
    tcp_grow_window raises rcv_ssthresh) lasts, then each second segment is ACKed on arrival
    (__tcp_ack_snd_check: more than one rcv_mss unacknowledged and the window's right edge
    advances), as the receiver in tests/linux_ref's bulk capture does for its first 22."""
    rig = Rig(app_delay_ps=0)
    una = handshake(rig)[TCP].seq + 1
    arrivals = []
    for i in range(40):
        rig.env.run(until=rig.env.now() + 1200 * NS)  # 10GbE spacing
        arrivals.append(rig.env.now())
        rig.feed(tcp(seq=1001 + i * MSS, ack=una, payload=b"f" * MSS))
    rig.run(until=rig.env.now() + DELAY)
    acks = [(t - DELAY, (p[TCP].ack - 1001) // MSS) for t, p in rig.take()]
    covered = [n for _, n in acks]
    assert covered[:22] == list(range(1, 23))  # the bulk capture's 22 single ACKs
    assert covered[22:] == list(range(24, 41, 2))  # then every second segment
    assert all(t == arrivals[n - 1] for t, n in acks)  # each sent as its segment arrives


def test_delayed_ack_fires_after_ato_40ms_on_the_jiffy():
    """Quickacks spent, a lone segment waits for the delayed-ACK timer: ato TCP_ATO_MIN (40
    jiffies of 1 ms), due at jiffies + ato (tcp_send_delayed_ack), sent by
    tcp_delack_timer_handler; it echoes the TSval of the segment it acknowledges."""
    rig = Rig(autoread=False)
    una = handshake(rig)[TCP].seq + 1
    seq = _quick_acks_done(rig, una)
    rig.run(until=3 * MS + 250 * NS)
    t0 = rig.env.now()
    rig.feed(tcp(seq=seq, ack=una, flags="A", payload=b"a" * 100,
                 options=[("NOP", None), ("NOP", None), ("Timestamp", (4242, 0))]))
    due = (t0 // MS + 40) * MS
    rig.run(until=due + DELAY - 1)
    assert rig.take() == []
    rig.run()
    (t, ack), = rig.take()
    assert t == due + DELAY
    assert ack[TCP].ack == seq + 100
    assert opt(ack, "Timestamp")[1] == 4242
    assert rig.peer.delayed_acks == 1


def test_ato_doubles_after_each_missed_delayed_ack_up_to_delack_max():
    """Lone segments 500 ms apart on a path with a 300 ms RTT: each waits for the delayed-ACK
    timer, which inflates ato (tcp_delack_timer_handler: ato·2, at most the RTO); the timeout
    is ato bounded by the RTT and by TCP_DELACK_MAX, 200 ms: 40, 80, 160, 200, 200 ms."""
    rig = Rig(autoread=False)
    syn_opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (777, 0)), ("NOP", None), ("WScale", 7)]
    rig.feed(tcp(flags="S", seq=1000, options=syn_opts, window=64240))
    rig.run()
    (_, synack), = rig.take()
    una = synack[TCP].seq + 1
    rig.env.run(until=300 * MS)  # the SYN-ACK's RTT: srtt 300 ms, RTO 900 ms
    rig.feed(tcp(seq=1001, ack=una))
    seq = _quick_acks_done(rig, una)
    delays = []
    for k in range(5):
        t = (1 + k) * 500 * MS
        rig.env.run(until=t)
        rig.feed(tcp(seq=seq, ack=una, payload=b"s" * 100))
        seq += 100
        rig.run(until=t + 300 * MS)
        (t_ack, ack), = rig.take()
        assert ack[TCP].ack == seq
        delays.append((t_ack - DELAY - t) // MS)
    assert delays == [40, 80, 160, 200, 200]


def test_out_of_order_sack_blocks_then_hole_filled():
    """Beyond a hole: an immediate dupack carrying SACK blocks (tcp_sack_new_ofo_skb: the block
    grows with each segment); filling the hole ACKs everything at once (ICSK_ACK_NOW), with
    no SACK block left (tcp_sack_remove)."""
    rig = Rig()
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    data = bytes(random.Random(2).randbytes(4 * MSS))
    segs = [data[i * MSS:(i + 1) * MSS] for i in range(4)]
    rig.feed(tcp(seq=1001, ack=una, payload=segs[0]))
    for i in (2, 3):  # segment 1 is missing
        rig.feed(tcp(seq=1001 + i * MSS, ack=una, payload=segs[i]))
    rig.run(until=rig.env.now() + DELAY)
    acks = [p for _, p in rig.take()]
    assert [p[TCP].ack for p in acks] == [1001 + MSS] * 3
    assert [opt(p, "SAck") for p in acks] == [None, (1001 + 2 * MSS, 1001 + 3 * MSS),
                                              (1001 + 2 * MSS, 1001 + 4 * MSS)]
    assert [k for k, _ in acks[1][TCP].options] == ["NOP", "NOP", "Timestamp", "NOP", "NOP", "SAck"]
    assert rig.peer.counters()["sack_acks"] == 2 and rig.peer.counters()["ofo_segments"] == 2
    rig.feed(tcp(seq=1001 + MSS, ack=una, payload=segs[1]))
    rig.run(until=rig.env.now() + DELAY)
    (_, ack), = rig.take()
    assert ack[TCP].ack == 1001 + 4 * MSS and opt(ack, "SAck") is None
    assert rig.peer.stream() == data


def test_retransmission_of_delivered_data_gets_immediate_dsack():
    """A duplicate of data already received: an immediate ACK whose first SACK block is the
    duplicate, below the cumulative ACK (RFC 2883 D-SACK, tcp_dsack_set)."""
    rig = Rig()
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    rig.feed(tcp(seq=1001, ack=una, payload=b"z" * 500))
    rig.run()
    rig.take()
    rig.feed(tcp(seq=1001, ack=una, payload=b"z" * 500))
    rig.run(until=rig.env.now() + DELAY)
    (_, ack), = rig.take()
    assert ack[TCP].ack == 1501 and opt(ack, "SAck") == (1001, 1501)
    assert rig.peer.stream() == b"z" * 500 and rig.peer.counters()["dsacks_sent"] == 1


def test_duplicate_acks_beyond_three_are_compressed():
    """tcp_comp_sack: with a hole, the first three dupacks for the same rcv_nxt leave at once
    (TCP_FASTRETRANS_THRESH), later ones wait 5 % of the RTT (at most tcp_comp_sack_delay_ns,
    1 ms) and leave as one. The RTT is the receiver's own estimate from the echoed TSval: 10 ms."""
    rig = Rig()
    rig.env.run(until=5 * MS)
    syn_opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (777, 0)), ("NOP", None), ("WScale", 7)]
    rig.feed(tcp(flags="S", seq=1000, options=syn_opts, window=64240))
    rig.run()
    (_, synack), = rig.take()  # its TSval is 5 (ms)
    una = synack[TCP].seq + 1
    rig.env.run(until=15 * MS)  # the handshake's RTT: 10 ms (srtt)
    ts = [("NOP", None), ("NOP", None), ("Timestamp", (1010, 5))]
    rig.feed(tcp(seq=1001, ack=una, options=ts))
    for i in range(1, 8):  # segment 0 missing
        rig.feed(tcp(seq=1001 + i * MSS, ack=una, payload=b"c" * MSS, options=ts))
    t = rig.env.now()
    rig.run(until=t + DELAY)
    assert len(rig.take()) == 3
    rig.run(until=t + 2 * MS)
    (t_ack, ack), = rig.take()
    assert t_ack == t + 500 * US + DELAY  # 5 % of 10 ms
    assert ack[TCP].ack == 1001 and opt(ack, "SAck") == (1001 + MSS, 1001 + 8 * MSS)
    assert rig.peer.counters()["acks_compressed"] == 3  # four dupacks became this one


# -- windows ---------------------------------------------------------------------------------


def test_window_closes_as_unread_data_fills_the_buffer_and_reopens_on_read():
    """A reader that does not read, a sender that fills every window offered: the free space
    shrinks and the window with it, never moving the right edge left, down to zero
    (__tcp_select_window: less free than an MSS); a zero-window probe is answered with the
    zero window; the read opens it again with an update (tcp_cleanup_rbuf: doubled at least)."""
    rig = Rig(rcvbuf=8 * 2304, autoread=False)  # SO_RCVBUF: fixed, no autotuning
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    conn = rig.peer.connection()
    seq, ack, win = 1001, 1001, synack[TCP].window
    edges = [ack + win]
    for _ in range(40):
        while seq + MSS <= ack + win:
            rig.feed(tcp(seq=seq, ack=una, payload=b"w" * MSS))
            seq += MSS
        rig.run(until=rig.env.now() + 50 * MS)  # a delayed ACK has come by now
        for _, p in rig.take():
            ack, win = p[TCP].ack, p[TCP].window << conn.rcv_wscale
            edges.append(ack + win)
        if win == 0:
            break
    assert win == 0 and ack == seq and edges == sorted(edges)
    rig.feed(tcp(seq=seq - 1, ack=una))  # zero-window probe: seq = rcv_nxt - 1, no data
    rig.run(until=rig.env.now() + DELAY)
    (_, probe_ack), = rig.take()
    assert probe_ack[TCP].ack == seq and probe_ack[TCP].window == 0
    assert rig.peer.read(conn) == seq - 1001
    rig.run(until=rig.env.now() + DELAY)
    (_, upd), = rig.take()
    assert (upd[TCP].window << conn.rcv_wscale) >= 4 * MSS and conn.window_updates == 1


# -- close and reset -----------------------------------------------------------------------


def test_fin_is_acked_with_own_fin_after_the_read_then_closed():
    """The peer's FIN: its ACK is delayed (pingpong); the reader, woken app_delay_ps later,
    reads the rest, gets EOF and closes, so our FIN carries the ACK; the host's ACK of it
    closes the connection."""
    rig = Rig()
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    t0 = rig.env.now()
    rig.feed(tcp(seq=1001, ack=una, flags="FPA", payload=b"bye"))
    rig.run()
    (t, fin), = rig.take()
    assert fin[TCP].flags == "FA" and fin[TCP].ack == 1001 + 3 + 1 and fin[TCP].seq == una
    assert t == t0 + rig.peer.options.app_delay_ps + DELAY
    conn = rig.peer.connection()
    assert conn.state is TcpState.LAST_ACK and rig.peer.stream() == b"bye"
    rig.feed(tcp(seq=1005, ack=una + 1))
    assert conn.state is TcpState.CLOSED


def test_fin_after_unacked_data_the_read_acks_then_close_sends_fin():
    """More than one rcv_mss unacknowledged when the FIN comes (its ACK waits: pingpong): the
    reader's recv() sends the ACK (tcp_cleanup_rbuf), its close() the FIN, as in the
    captures of tests/linux_ref."""
    rig = Rig()
    una = handshake(rig)[TCP].seq + 1
    seq = _quick_acks_done(rig, una)
    rig.run(until=rig.env.now() + MS)
    rig.take()
    rig.feed(tcp(seq=seq, ack=una, payload=b"d" * 100))
    rig.feed(tcp(seq=seq + 100, ack=una, flags="FPA", payload=b"e" * 100))
    rig.run()
    flags = [(str(p[TCP].flags), p[TCP].ack) for _, p in rig.take()]
    assert flags == [("A", seq + 201), ("FA", seq + 201)]


def test_rst_closes_and_unread_data_stays_readable():
    rig = Rig(autoread=False)
    una = handshake(rig)[TCP].seq + 1
    rig.feed(tcp(seq=1001, ack=una, payload=b"r" * 300))
    rig.run()
    rig.take()
    rig.feed(tcp(seq=1301, ack=una, flags="R"))
    conn = rig.peer.connection()
    assert conn.state is TcpState.CLOSED and conn.reset
    assert rig.peer.read(conn) == 300 and conn.unread == 0
    rig.run()
    assert rig.take() == []  # nothing is sent on a reset connection


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
    acks = [p for _, p in rig.take()]
    # segment 0 quick-ACKed; segment 2 arrives after the hole: a dupack SACKing it
    assert [(p[TCP].ack, opt(p, "SAck")) for p in acks] == [(1101, None), (1101, (1201, 1301))]
    assert rig.peer.stream() == bytes([0]) * 100


# -- speed ---------------------------------------------------------------------------------


def test_fast_path_takes_full_size_frames_in_order_and_acks_every_second():
    """The fast path (strict=False) loses nothing; its speed is hilnic.bench.peer_speed's figure.
    After the quickack phase every ACK covers two full segments (__tcp_ack_snd_check)."""
    n = 4000
    rig = Rig(strict=False, app_delay_ps=0)  # frames arrive back to back: the reader keeps up
    synack = handshake(rig)
    una = synack[TCP].seq + 1
    frames = [to_wire(tcp(seq=1001 + i * MSS, ack=una, payload=bytes([i & 0xFF]) * MSS), i, i) for i in range(n)]
    assert len(frames[0].data) == 1518
    for f in frames:
        rig.peer.receive_frame(f)
    rig.run()
    stream = rig.peer.stream()
    assert len(stream) == n * MSS
    assert all(stream[i * MSS] == i & 0xFF for i in range(n))
    acked = [p[TCP].ack for _, p in rig.take() if p[TCP].flags == "A"]
    covers = [(b - a) // MSS for a, b in zip([1001, *acked[:-1]], acked, strict=True)]
    quick = covers.index(2)  # one ACK per segment while quickack mode lasts
    assert 16 <= quick <= 24 and set(covers[:quick]) == {1}
    assert set(covers[quick:]) == {2} and acked[-1] == 1001 + n * MSS
