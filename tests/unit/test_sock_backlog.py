"""Socket ownership (net/core/sock.c, net/ipv4/tcp_ipv4.c, tcp_output.c's tcp_release_cb):
while the user holds the socket (lock_sock, for the time tcp_sendmsg takes, kernel/cost.py),
segments go to the backlog (tcp_add_backlog → sk_add_backlog), and release_sock processes
them (__release_sock → sk_backlog_rcv = tcp_v4_do_rcv), then the work softirq context
deferred with the TSQ and delayed-work flags (tcp_release_cb)."""

from tcp_rig import Rig

from hilnic.kernel import cost
from hilnic.kernel.env import NS, US
from hilnic.net.core.skbuff import alloc_skb
from hilnic.net.core.sock import (
    TCP_DELACK_TIMER_DEFERRED,
    TCP_MTU_REDUCED_DEFERRED,
    TCP_TSQ_DEFERRED,
    TCP_WRITE_TIMER_DEFERRED,
    lock_sock,
    release_sock,
)
from hilnic.net.ipv4 import tcp_ipv4
from hilnic.net.ipv4.tcp_ipv4 import tcp_v4_err

MSS = 1448


def record_backlog_rcv(sk) -> list:
    """Wrap sk_backlog_rcv (tcp_v4_do_rcv) to see when and with what ownership it runs."""
    calls = []
    inner = sk.sk_backlog_rcv

    def backlog_rcv(sk_, skb):
        calls.append((sk_.owned, skb.cb["ack_seq"]))
        return inner(sk_, skb)

    sk.sk_backlog_rcv = backlog_rcv
    return calls


def test_tcp_sendmsg_holds_the_socket_for_its_cost():
    """kernel/cost.py: a send() owns the socket 1 µs + 0.43 ns per byte copied (Linux 6.18,
    measured with scripts/measure_tcp_sendmsg_cost.py)."""
    assert cost.TCP_SENDMSG_CALL_NS == 1000 and cost.TCP_SENDMSG_BYTE_PS == 430
    assert cost.tcp_sendmsg_call_ps() + cost.tcp_sendmsg_copy_ps(10_000) == 1000 * NS + 4300 * NS


def test_ack_during_tcp_sendmsg_waits_in_backlog_until_release_sock(monkeypatch):
    rig = Rig(monkeypatch, cpu_scale=1.0)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.do(rig.sock.send(b"a" * 1000))  # in flight, to be ACKed during the next send
    first_end = sk.snd_nxt
    calls = record_backlog_rcv(sk)
    t0 = rig.env.now()
    task = rig.spawn(rig.sock.send(b"b" * 20_000))  # holds the socket 1 + 8.6 µs
    rig.env.run(until=t0 + 2 * US)
    assert sk.owned and not task.done
    rig.ack_all(window=1024)  # the peer's ACK of the first 1000 bytes arrives (softirq)
    # tcp_v4_rcv: the user owns the socket → tcp_add_backlog, nothing processed yet
    assert len(sk.sk_backlog) == 1 and sk.sk_backlog.len == sk.sk_backlog.tail.truesize
    assert sk.snd_una != first_end and not calls
    rig.finish(task)
    # release_sock → __release_sock → sk_backlog_rcv (tcp_v4_do_rcv), still owned meanwhile
    assert calls == [(True, first_end)]
    assert sk.snd_una == first_end and not sk.sk_backlog and sk.sk_backlog.len == 0 and not sk.owned
    assert rig.env.now() - t0 >= cost.tcp_sendmsg_call_ps() + cost.tcp_sendmsg_copy_ps(20_000)


def test_tcp_add_backlog_coalesces_pure_acks(monkeypatch):
    rig = Rig(monkeypatch, cpu_scale=1.0)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.do(rig.sock.send(b"a" * 3000))
    sent = list(rig.ip.sent)
    calls = record_backlog_rcv(sk)
    lock_sock(sk)
    una = sk.snd_una
    rig.inject("A", ack=(una + 1000) & 0xFFFFFFFF, window=1024)
    rig.inject("A", ack=(una + 2000) & 0xFFFFFFFF, window=2048)
    # same flags and options, continuing sequence: one skb carrying the later ack and window
    assert len(sk.sk_backlog) == 1 and rig.host.mib["TcpExt"]["TCPBacklogCoalesce"] == 1
    assert sk.sk_backlog.tail.cb["ack_seq"] == (una + 2000) & 0xFFFFFFFF
    assert sk.sk_backlog.tail.cb["window"] == 2048
    release_sock(sk)
    assert calls == [(True, (una + 2000) & 0xFFFFFFFF)] and sk.snd_una == (una + 2000) & 0xFFFFFFFF
    assert len(rig.ip.sent) >= len(sent)


def test_sk_add_backlog_drops_past_the_limit(monkeypatch):
    rig = Rig(monkeypatch, cpu_scale=1.0)
    rig.connect(window_update=1024)
    sk = rig.sk
    sk.sk_rcvbuf = sk.sk_sndbuf = 0  # limit = 2·rcvbuf + sndbuf/2 + 64 KiB = 65536 bytes
    lock_sock(sk)
    for i in range(100):  # distinct timestamps: no coalescing
        rig.inject("A", window=1024, options=[("Timestamp", (1000 + i, 0))])
    kept = len(sk.sk_backlog)
    assert kept == 65536 // sk.sk_backlog.tail.truesize + 1  # sk_rcvqueues_full tests before adding
    assert rig.host.mib["TcpExt"]["TCPBacklogDrop"] == 100 - kept
    release_sock(sk)
    assert not sk.sk_backlog and sk.sk_backlog.len == 0


def test_sk_flush_backlog_every_16_skbs_inside_one_send(monkeypatch):
    """tcp_sendmsg_locked lets the backlog in every 16 new skbs (sk_flush_backlog), without
    giving up ownership."""
    rig = Rig(monkeypatch, cpu_scale=1.0)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.do(rig.sock.send(b"a" * 1000))
    first_end = sk.snd_nxt
    sk.sk_sndbuf = 8 << 20  # room for 2 MB queued: the send never waits for memory
    calls = record_backlog_rcv(sk)
    t0 = rig.env.now()
    task = rig.spawn(rig.sock.send(bytes(2 << 20)))  # 33 skbs of 45 × 1448 bytes
    rig.env.run(until=t0 + 5 * US)
    rig.ack_all(window=1024)
    assert len(sk.sk_backlog) == 1
    goal = 45 * MSS
    rig.env.run(until=t0 + cost.tcp_sendmsg_call_ps() + cost.tcp_sendmsg_copy_ps(17 * goal))
    assert not task.done and sk.owned  # in the middle of the send...
    assert calls == [(True, first_end)] and sk.snd_una == first_end  # ...the ACK was processed
    rig.finish(task, ms=5)


def test_tsq_work_deferred_while_owned_runs_in_tcp_release_cb(monkeypatch):
    """tcp_wfree → TSQ tasklet (tcp_tasklet_func) finds the socket owned: TCP_TSQ_DEFERRED."""
    rig = Rig(monkeypatch, auto_complete=False, cpu_scale=1.0)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.sock.setsockopt(6, 1, 1)  # TCP_NODELAY
    rig.do(rig.sock.send(b"1" * 100))
    rig.do(rig.sock.send(b"2" * 100))  # autocorked behind the queued clone (TSQ_THROTTLED)
    assert len(rig.ip.sent) == 1
    lock_sock(sk)
    rig.ip.complete()  # NIC completion: tcp_wfree queues the socket to the TSQ tasklet
    rig.run(0.01)
    assert sk.sk_tsq_flags & TCP_TSQ_DEFERRED and len(rig.ip.sent) == 1
    release_sock(sk)  # tcp_release_cb → tcp_tsq_write
    assert not sk.sk_tsq_flags & TCP_TSQ_DEFERRED and [s.payload for s in rig.ip.sent][-1] == b"2" * 100


def test_write_timer_deferred_while_owned_runs_in_tcp_release_cb(monkeypatch):
    rig = Rig(monkeypatch, cpu_scale=1.0)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.do(rig.sock.send(b"x" * 1000))
    lock_sock(sk)
    rig.run(1100)  # the RTO (1 s) expires: tcp_write_timer defers
    assert sk.sk_tsq_flags & TCP_WRITE_TIMER_DEFERRED and len(rig.ip.sent) == 1
    release_sock(sk)  # tcp_release_cb → tcp_write_timer_handler → retransmit
    assert not sk.sk_tsq_flags & TCP_WRITE_TIMER_DEFERRED
    assert len(rig.ip.sent) == 2 and rig.ip.sent[1].tcp.seq == rig.ip.sent[0].tcp.seq


def test_delack_timer_deferred_while_owned_runs_in_tcp_release_cb(monkeypatch):
    """The ACK of the peer's FIN is delayed in CLOSE_WAIT (pingpong); its timer finds the
    socket owned: TCP_DELACK_TIMER_DEFERRED, DelayedACKLocked, and release_sock sends it."""
    rig = Rig(monkeypatch, cpu_scale=1.0)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.inject("FA", window=1024)
    assert not rig.ip.sent
    lock_sock(sk)
    rig.run(5)
    assert sk.sk_tsq_flags & TCP_DELACK_TIMER_DEFERRED and not rig.ip.sent
    assert rig.host.mib["TcpExt"]["DelayedACKLocked"] == 1
    release_sock(sk)  # tcp_release_cb → tcp_delack_timer_handler → tcp_send_ack
    assert len(rig.ip.sent) == 1 and rig.ip.sent[0].tcp.ack == rig.peer_seq + 1
    assert rig.host.mib["TcpExt"]["DelayedACKs"] == 1


def test_mtu_reduced_deferred_while_owned_runs_in_tcp_release_cb(monkeypatch):
    rig = Rig(monkeypatch, cpu_scale=1.0)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.do(rig.sock.send(bytes(2 * MSS)))
    seg = rig.ip.sent[0]

    def fake_update(sk_, daddr, mtu):
        rig.dst.rt_pmtu = mtu
        return rig.dst

    monkeypatch.setattr(tcp_ipv4, "ipv4_sk_update_pmtu", fake_update)
    skb = alloc_skb(128)
    skb.skb_put_data(bytes([3, 4, 0, 0, 0, 0]) + (1400).to_bytes(2, "big") + bytes(seg.pkt)[:28])
    skb.skb_pull(8)
    lock_sock(sk)
    tcp_v4_err(rig.host, skb, 1400)  # ICMP FRAG_NEEDED while owned
    assert sk.sk_tsq_flags & TCP_MTU_REDUCED_DEFERRED and sk.mss_cache == MSS
    release_sock(sk)  # tcp_release_cb → tcp_v4_mtu_reduced
    assert sk.mss_cache == 1400 - 40 - 12 and not sk.sk_tsq_flags & TCP_MTU_REDUCED_DEFERRED
