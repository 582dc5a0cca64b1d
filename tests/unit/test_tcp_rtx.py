"""Clone lifetime (18), RTO backoff (19), fast retransmit, qdisc drop → CWR, PMTU (FRAG_NEEDED)."""

from tcp_rig import Rig

from hilnic.kernel.env import MS
from hilnic.net.core.skbuff import alloc_skb
from hilnic.net.core.sock import ICSK_TIME_PROBE0, TCP_CA_CWR, TCP_CA_Loss, TCP_CA_Recovery
from hilnic.net.ipv4.tcp_ipv4 import tcp_v4_err
from hilnic.net.socket import SOL_TCP, TCP_CONGESTION

MSS = 1448


def test_18_clone_lifetime_original_stays_until_ack(monkeypatch):
    rig = Rig(monkeypatch, auto_complete=False)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.do(rig.sock.send(b"d" * 1000))
    orig = sk.tcp_rtx_queue[0]
    clone = rig.ip.queued[0]
    assert clone.shinfo is orig.shinfo and sk.sk_wmem_alloc_get() == clone.truesize
    queued = sk.sk_wmem_queued
    rig.ip.complete()  # NIC completion frees the clone only
    assert list(sk.tcp_rtx_queue) == [orig] and sk.packets_out == 1
    assert sk.sk_wmem_alloc_get() == 0 and sk.sk_wmem_queued == queued
    assert orig.to_bytes() == b"d" * 1000  # the pages survive in the original
    rig.ack_all(window=1024)
    assert not sk.tcp_rtx_queue and sk.packets_out == 0 and sk.sk_wmem_queued == 0 and orig.freed


def test_18_retransmit_while_clone_queued_is_suppressed(monkeypatch):
    rig = Rig(monkeypatch, auto_complete=False)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.do(rig.sock.send(b"r" * 1000))
    rig.run(sk.icsk_rto + 1)  # RTO fires while the first clone sits in the driver
    mib = rig.host.mib
    assert mib["TcpExt"]["TCPSpuriousRtxHostQueues"] == 1 and mib["Tcp"]["RetransSegs"] == 0
    assert len(rig.ip.sent) == 1 and mib["TcpExt"]["TCPTimeouts"] == 1
    # Completion: tcp_wfree sees TSQ_THROTTLED, the tasklet retransmits the lost head.
    rig.ip.complete()
    rig.run(0.01)
    assert len(rig.ip.sent) == 2 and rig.ip.sent[1].tcp.seq == rig.ip.sent[0].tcp.seq
    assert rig.ip.sent[1].payload == b"r" * 1000 and mib["Tcp"]["RetransSegs"] == 1
    assert mib["Tcp"]["OutSegs"] == 3  # retransmissions are not OutSegs (RFC 2012)


def test_19_rto_backoff_doubles_with_cwnd_one(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024, rtt_ms=10)  # SYN-ACK after 10 ms: srtt 10 ms, RTO 210 ms
    sk = rig.sk
    assert sk.icsk_rto == 210
    t0 = rig.env.now()
    rig.do(rig.sock.send(bytes(3000)))
    n0 = len(rig.ip.sent)
    rig.run(6000)
    rtx = rig.ip.sent[n0:]
    gaps = [round((b.t - a.t) / MS) for a, b in zip([rig.ip.sent[0]] + rtx, rtx, strict=False)]
    assert gaps == [210, 420, 840, 1680]
    assert all(s.tcp.seq == rig.ip.sent[0].tcp.seq and len(s.payload) == MSS for s in rtx)
    mib = rig.host.mib
    assert mib["TcpExt"]["TCPTimeouts"] == len(rtx) == mib["Tcp"]["RetransSegs"]
    # ssthresh is cut once (cubic, the default: 10·717/1024 → 7); repeated timeouts in Loss leave it.
    assert sk.snd_cwnd == 1 and sk.icsk_ca_state == TCP_CA_Loss and sk.snd_ssthresh == 7
    assert (rtx[0].t - t0) // MS == 210


def test_19_syn_rto_is_one_second_then_doubles(monkeypatch):
    rig = Rig(monkeypatch)
    rig.spawn(rig.sock.connect(("10.0.0.2", 5001)))
    rig.run(3500)
    times = [round(s.t / MS) for s in rig.ip.sent]
    assert times == [0, 1000, 3000]  # 1 s initial RTO before any RTT sample, then 2 s
    assert all(s.tcp.flags == "S" for s in rig.ip.sent)


def test_rto_cap_and_recovery_after_ack(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    sk = rig.sk
    sk.icsk_rto = 100_000
    rig.do(rig.sock.send(bytes(1000)))
    rig.run(100_001)
    assert sk.icsk_rto == 120_000  # min(rto·2, TCP_RTO_MAX)
    rig.ack_all(window=1024)
    assert sk.packets_out == 0 and sk.icsk_backoff == 0 and not sk.icsk_retransmit_timer.pending()


def test_fast_retransmit_after_three_dupacks_reno(monkeypatch):
    rig = Rig(monkeypatch)
    rig.sock.setsockopt(SOL_TCP, TCP_CONGESTION, "reno")  # ssthresh = cwnd/2
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.do(rig.sock.send(bytes(10 * MSS)))
    first = rig.ip.sent[0].tcp.seq
    n = len(rig.ip.sent)
    for _ in range(3):
        rig.inject("A", ack=first, window=1024)  # dupacks
    assert sk.icsk_ca_state == TCP_CA_Recovery and sk.snd_ssthresh == 5
    rtx = rig.ip.sent[n]
    assert rtx.tcp.seq == first and len(rtx.payload) == MSS and rig.host.mib["Tcp"]["RetransSegs"] == 1
    rig.ack_all(window=1024)  # everything acked: recovery ends with cwnd = ssthresh
    rig.inject("A", ack=sk.snd_nxt, window=1024)
    assert sk.snd_cwnd == 5


def test_qdisc_drop_enters_cwr(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    rig.ip.ret = 1  # NET_XMIT_DROP from the qdisc
    rig.do(rig.sock.send(bytes(500)))
    sk = rig.sk
    assert sk.icsk_ca_state == TCP_CA_CWR and sk.snd_ssthresh == 7  # cubic: 10·717/1024
    # The error stops tcp_write_xmit: the skb stays at the send head, nothing is in flight,
    # so __tcp_push_pending_frames arms the probe timer, which sends it later.
    assert sk.packets_out == 0 and len(sk.sk_write_queue) == 1 and sk.icsk_pending == ICSK_TIME_PROBE0
    rig.ip.ret = 0
    rig.run(sk.icsk_rto + 1)
    assert sk.packets_out == 1 and len(rig.ip.sent[-1].payload) == 500


def test_frag_needed_shrinks_mss_and_retransmits(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.do(rig.sock.send(bytes(2 * MSS)))
    seg = rig.ip.sent[0]

    def fake_update(sk_, daddr, mtu):
        rig.dst.rt_pmtu = mtu
        return rig.dst

    import hilnic.net.ipv4.tcp_ipv4 as tcp_ipv4

    monkeypatch.setattr(tcp_ipv4, "ipv4_sk_update_pmtu", fake_update)
    quoted = bytes(seg.pkt)[:28]
    icmp = bytes([3, 4, 0, 0, 0, 0]) + (1400).to_bytes(2, "big")
    skb = alloc_skb(128)
    skb.skb_put_data(icmp + quoted)
    skb.skb_pull(8)
    n = len(rig.ip.sent)
    tcp_v4_err(rig.host, skb, 1400)
    assert sk.mss_cache == 1400 - 40 - 12
    rtx = rig.ip.sent[n:]
    assert rtx and rtx[0].tcp.seq == seg.tcp.seq and rig.host.mib["Tcp"]["RetransSegs"] >= 2
    # every wire segment (after GSO) fits the new path MTU: 20 + 32 + 1348 = 1400
    assert all((s.gso_size or len(s.payload)) + 20 + 32 <= 1400 for s in rtx)
