"""tcp_sendmsg / tcp_write_xmit behaviours 1–7 (docs/linux-behaviours.md), checked on the segments the
stack hands to ip_queue_xmit, parsed with scapy."""

from scapy.layers.inet import IP, TCP
from tcp_rig import Rig

from hilnic.net.core.skbuff import CHECKSUM_PARTIAL, SKB_GSO_TCPV4, skb_stats
from hilnic.net.core.sock import ICSK_TIME_PROBE0, TSQ_THROTTLED
from hilnic.net.ipv4.tcp import tcp_send_mss
from hilnic.net.socket import MSG_MORE, SOL_TCP, TCP_CORK, TCP_NODELAY

MSS = 1448


def test_handshake_syn_options_and_established_state(monkeypatch):
    rig = Rig(monkeypatch)
    task = rig.spawn(rig.sock.connect(("10.0.0.2", 5001)))
    rig.run(0.1)
    syn = rig.ip.sent[0].tcp
    opts = dict(syn.options)
    assert syn.flags == "S" and opts["MSS"] == 1460 and opts["WScale"] == 7 and "Timestamp" in opts
    assert syn.window == 64240  # tcp_select_initial_window with tcp_rmem[1] = 131072
    assert len(bytes(syn)) == 40 and rig.ip.sent[0].pkt.chksum is not None
    assert rig.host.mib["Tcp"]["ActiveOpens"] == 1 and not task.done
    rig.inject("SA", ack=syn.seq + 1, options=[("MSS", 1460), ("WScale", 7), ("Timestamp", (5, opts["Timestamp"][0]))])
    rig.env.run_until_complete(task, 1_000_000_000)
    ack = rig.ip.sent[1].tcp
    assert ack.flags == "A" and ack.seq == syn.seq + 1 and ack.ack == rig.peer_seq + 1
    assert dict(ack.options)["Timestamp"][1] == 5  # TSecr echoes the peer's TSval
    # __tcp_select_window aligns the window UP to the scale unit: 64240 → 64256 >> 7 = 502,
    # what Linux 6.18 sends with wscale 7 (captured; the old 501 rounded down)
    assert ack.window == 502
    sk = rig.sk
    assert sk.mss_cache == MSS and sk.snd_cwnd == 10 and rig.host.mib["Tcp"]["CurrEstab"] == 1
    # tcp_init_buffer_space → tcp_sndbuf_expand with MAX_TCP_HEADER 192: 2·10·2304, Linux's
    # SO_SNDBUF after connect (was 87040 with a distribution kernel's 320)
    assert sk.sk_sndbuf == 46080
    assert sk.sk_gso_max_size == 65536 - (192 + 1)


def test_checksum_partial_and_headers(monkeypatch):
    rig = Rig(monkeypatch, auto_complete=False)
    rig.connect(window_update=1024)
    rig.do(rig.sock.send(bytes(range(256)) * 4))
    s = rig.ip.sent[0]
    skb = s.skb
    assert skb.ip_summed == CHECKSUM_PARTIAL and skb.csum_offset == 16 and skb.csum_start == skb.transport_header
    # The device finished the sum in the rig; scapy recomputes it independently.
    pkt = s.pkt.copy()
    sent_sum = pkt[TCP].chksum
    del pkt[TCP].chksum
    assert IP(bytes(pkt))[TCP].chksum == sent_sum
    assert s.payload == bytes(range(256)) * 4
    assert skb.shinfo.gso_type == SKB_GSO_TCPV4 and skb.shinfo.gso_segs == 1 and skb.shinfo.gso_size == 0
    assert skb.headlen == 32  # only the TCP header is linear: payload sits in page frags
    assert skb_stats.user_copy_bytes == 1024


def test_1_nagle_first_write_leaves_at_once_with_psh(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    assert rig.do(rig.sock.send(b"a" * 1000)) == 1000
    assert len(rig.ip.sent) == 1
    seg = rig.ip.sent[0].tcp
    assert seg.flags == "PA" and len(rig.ip.sent[0].payload) == 1000
    assert rig.host.mib["Tcp"]["OutSegs"] == 3 and rig.host.mib["TcpExt"]["TCPOrigDataSent"] == 1


def test_2_second_small_write_held_by_minshall_until_ack(monkeypatch):
    rig = Rig(monkeypatch)  # clones complete at once: no autocork, only Nagle
    rig.connect(window_update=1024)
    rig.do(rig.sock.send(b"a" * 1000))
    rig.do(rig.sock.send(b"b" * 1000))
    assert len(rig.ip.sent) == 1 and len(rig.sk.sk_write_queue) == 1
    assert rig.host.mib["TcpExt"]["TCPAutoCorking"] == 0
    rig.ack_all(window=1024)
    assert len(rig.ip.sent) == 2 and rig.ip.sent[1].payload == b"b" * 1000 and rig.ip.sent[1].tcp.flags == "PA"


def test_2_second_write_autocorked_while_first_clone_queued(monkeypatch):
    rig = Rig(monkeypatch, auto_complete=False)
    rig.connect(window_update=1024)
    rig.do(rig.sock.send(b"a" * 1000))
    rig.do(rig.sock.send(b"b" * 1000))
    assert len(rig.ip.sent) == 1
    assert rig.host.mib["TcpExt"]["TCPAutoCorking"] == 1 and rig.sk.sk_tsq_flags & TSQ_THROTTLED


def test_3_nagle_split_sends_full_mss_and_holds_tail(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    rig.do(rig.sock.send(b"a" * 1000))
    rig.do(rig.sock.send(b"b" * 2000))
    sent = rig.ip.sent
    assert [len(s.payload) for s in sent] == [1000, MSS]
    assert sent[1].tcp.seq == sent[0].tcp.seq + 1000
    held = rig.sk.sk_write_queue
    assert len(held) == 1 and held[0].len == 2000 - MSS
    rig.ack_all(window=1024)
    assert [len(s.payload) for s in rig.ip.sent] == [1000, MSS, 552]


def test_4_autocork_with_nodelay_coalesces_until_clone_completes(monkeypatch):
    rig = Rig(monkeypatch, auto_complete=False)
    rig.connect(window_update=1024)
    rig.sock.setsockopt(SOL_TCP, TCP_NODELAY, 1)
    rig.do(rig.sock.send(b"1" * 100))
    rig.do(rig.sock.send(b"2" * 100))
    assert [len(s.payload) for s in rig.ip.sent] == [100]
    assert rig.host.mib["TcpExt"]["TCPAutoCorking"] == 1
    # TX completion of the first clone: tcp_wfree → TSQ tasklet → tcp_write_xmit.
    raised = rig.host.kernel.softirq_raised[6]
    rig.ip.complete()
    rig.run(0.01)
    assert rig.host.kernel.softirq_raised[6] == raised + 1  # TASKLET_SOFTIRQ
    assert [s.payload for s in rig.ip.sent] == [b"1" * 100, b"2" * 100]


def test_4_autocork_coalesces_back_to_back_writes(monkeypatch):
    rig = Rig(monkeypatch, auto_complete=False)
    rig.connect(window_update=1024)
    rig.sock.setsockopt(SOL_TCP, TCP_NODELAY, 1)
    rig.do(rig.sock.send(b"1" * 100))
    rig.do(rig.sock.send(b"2" * 100))
    rig.do(rig.sock.send(b"3" * 50))
    # The held skb grew past the queued clone's truesize: it leaves with both writes.
    assert [s.payload for s in rig.ip.sent] == [b"1" * 100, b"2" * 100 + b"3" * 50]


def test_4_no_autocorking_sends_each_write(monkeypatch):
    rig = Rig(monkeypatch, auto_complete=False)
    rig.host.sysctl.tcp_autocorking = 0
    rig.connect(window_update=1024)
    rig.sock.setsockopt(SOL_TCP, TCP_NODELAY, 1)
    for c in b"123":
        rig.do(rig.sock.send(bytes([c]) * 100))
    assert [len(s.payload) for s in rig.ip.sent] == [100, 100, 100]
    assert rig.host.mib["TcpExt"]["TCPAutoCorking"] == 0


def test_msg_more_and_cork_hold_partial_segments(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    rig.do(rig.sock.send(b"x" * 500, MSG_MORE))
    assert rig.ip.sent == []  # TCP_NAGLE_CORK
    rig.do(rig.sock.send(b"y" * 500))
    assert len(rig.ip.sent) == 1 and len(rig.ip.sent[0].payload) == 1000
    rig.sock.setsockopt(SOL_TCP, TCP_CORK, 1)
    rig.ack_all(window=1024)
    rig.do(rig.sock.send(b"z" * 300))
    assert len(rig.ip.sent) == 1
    rig.sock.setsockopt(SOL_TCP, TCP_CORK, 0)
    assert len(rig.ip.sent) == 2 and len(rig.ip.sent[1].payload) == 300


def test_5_initial_window_two_gso_skbs_of_five(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)  # 1024 << 7 = 128 KiB: a large rwnd
    assert rig.do(rig.sock.send(bytes(65536))) == 65536
    sent = rig.ip.sent
    assert [(s.gso_segs, s.gso_size, len(s.payload)) for s in sent] == [(5, MSS, 5 * MSS)] * 2
    assert all(s.tcp.flags == "PA" for s in sent)  # PSH forced on GSO packets
    assert sent[1].tcp.seq == sent[0].tcp.seq + 5 * MSS
    sk = rig.sk
    assert sk.packets_out == 10 and rig.host.mib["Tcp"]["OutSegs"] == 2 + 10
    assert sum(s.len for s in sk.sk_write_queue) == 65536 - 10 * MSS
    # Then it waits for ACKs: each ACK of 2 segments opens room (slow start +2 each).
    rig.inject("A", ack=sent[0].tcp.seq + 2 * MSS, window=1024)
    assert sk.snd_cwnd == 12 and sum(s.gso_segs or 1 for s in rig.ip.sent[2:]) == 4


def test_6_size_goal_65160_and_half_window_18824(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    assert tcp_send_mss(rig.sk, 0) == (MSS, 65160)
    rig2 = Rig(monkeypatch)
    rig2.connect(window=40000, wscale=None)
    assert rig2.sk.max_window == 40000
    assert tcp_send_mss(rig2.sk, 0) == (MSS, 18824)
    rig2.sk.snd_cwnd = 0  # hold everything in the write queue to see the skb sizes
    rig2.do(rig2.sock.send(bytes(50000)))
    assert [s.len for s in rig2.sk.sk_write_queue] == [18824, 18824, 50000 - 2 * 18824]


def test_7_receive_window_limits_and_zero_window_arms_probe(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window=10000, wscale=None)
    sk = rig.sk
    una = sk.snd_una
    rig.do(rig.sock.send(bytes(30000)))
    end = max(s.tcp.seq + len(s.payload) for s in rig.ip.sent)
    # Never past snd_una + snd_wnd, and a segment goes out only if a full MSS of it fits
    # (tcp_snd_wnd_test): 6 × 1448 = 8688, the next 1448 would end at 10136.
    assert end == una + 6 * MSS == sk.snd_nxt and end + MSS > una + 10000
    # Peer acks everything but closes the window: nothing in flight, data queued → probe timer.
    rig.inject("A", ack=sk.snd_nxt, window=0)
    assert sk.packets_out == 0 and sk.sk_write_queue and sk.snd_wnd == 0
    assert sk.icsk_pending == ICSK_TIME_PROBE0 and sk.icsk_retransmit_timer.pending()
    n = len(rig.ip.sent)
    t0 = rig.env.now()
    rig.run(sk.icsk_rto + 1)
    probe = rig.ip.sent[n]
    assert probe.tcp.seq == sk.snd_una - 1 and probe.payload == b"" and probe.tcp.flags == "A"
    assert round((probe.t - t0) / 1e9) == sk.icsk_rto  # first probe after max(rto, 200 ms)
    rig.run(2 * sk.icsk_rto + 1)
    assert round((rig.ip.sent[n + 1].t - probe.t) / 1e9) == 2 * sk.icsk_rto  # backoff doubles
    rig.inject("A", ack=sk.snd_nxt, window=20000)  # window opens: data flows again
    assert rig.ip.sent[-1].payload and sk.icsk_pending != ICSK_TIME_PROBE0
