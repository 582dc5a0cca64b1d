"""Details made Linux's, each checked against the kernel source (6.x mainline / 6.6 trees via
the code search) and a real capture on the reference machine: Linux 6.18 (Firecracker guest,
HZ 250), two network namespaces over veth, tcp_rmem max 32 MiB, cubic (values quoted below
are from those captures unless said otherwise).

- __tcp_select_window aligns the window up to the scale unit: win 502 (wscale 7), 63 (wscale 10)
- TIME_WAIT: tcp_time_wait / inet_timewait_sock; the last ACK from a timewait sock has IP ID 0
- secure_tcp_ts_off: a random TSval offset per address pair, seeded by the host's seed
- MAX_TCP_HEADER 192 and tcp_sndbuf_expand: SO_SNDBUF 46080 (cubic), 69120 (bbr); `ss -tm` w932
- __ip_select_ident / ip_idents_reserve: UDP IP IDs random, consecutive within a jiffy
- ip4_datagram_connect: connected UDP routes once, numbers from a random inet_id (+1 first)
- the initial BQL limit: 0 (dql_init/dql_reset), so a new queue stops after its first packet
"""

from __future__ import annotations

import struct

from ip_testlib import HOST_IP, PEER_IP, make_rig
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from tcp_rig import Rig

from hilnic.include.linux.inet import in_aton
from hilnic.kernel.env import MS, SEC, VirtualEnv
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdevice import QUEUE_STATE_STACK_XOFF, netdev_tx_completed_queue, netdev_tx_sent_queue
from hilnic.net.core.secure_seq import secure_tcp_ts_off
from hilnic.net.core.skbuff import alloc_skb
from hilnic.net.core.sock import TCP_CLOSE, TCP_ESTABLISHED, TCP_FIN_WAIT2, TCP_TIME_WAIT, TcpCongestionOps
from hilnic.net.ipv4.inet_hashtables import __inet_lookup_established
from hilnic.net.ipv4.tcp_cong import tcp_reno
from hilnic.net.ipv4.tcp_ipv4 import tcp_v4_rcv
from hilnic.net.ipv4.tcp_output import MAX_TCP_HEADER, tcp_sndbuf_expand, tcp_stream_alloc_skb
from hilnic.net.socket import SOCK_DGRAM, SOL_TCP, TCP_CORK, socket

# -- window rounding (__tcp_select_window) ----------------------------------------------------


def test_tcp_select_window_aligns_up_to_the_scale_unit(monkeypatch):
    """64240 bytes offered: Linux advertises ALIGN(64240, 1 << wscale) >> wscale."""
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    assert rig.sk.rx_opt.rcv_wscale == 7
    rig.do(rig.sock.send(b"x"))
    assert rig.ip.sent[-1].tcp.window == 502  # 64256 >> 7 (capture with tcp_rmem max 6 MiB)

    rig = Rig(monkeypatch)
    rig.host.sysctl.tcp_rmem = (4096, 131072, 32 << 20)  # the reference machine's
    rig.connect(window_update=1024)
    assert rig.sk.rx_opt.rcv_wscale == 10
    rig.do(rig.sock.send(b"x"))
    assert rig.ip.sent[-1].tcp.window == 63  # 64512 >> 10, where rounding down gave 62


# -- TIME_WAIT (tcp_time_wait, tcp_timewait_state_process) ---------------------------------------


class WireTcp:
    """A TCP connection from a host with the real IP layer and a recording device (ip_testlib),
    to a peer played with scapy segments fed to tcp_v4_rcv."""

    def __init__(self) -> None:
        self.rig = make_rig()
        self.host = self.rig.host
        self.sock = socket(self.host)
        self.peer_seq = 5_000_000
        self.peer_ts = 777
        task = self.host.kernel.spawn(self.sock.connect((PEER_IP, 5001)))
        self.rig.run(0.01)
        syn = self.last()
        assert syn[TCP].flags == "S"
        self.inject("SA", ack=syn[TCP].seq + 1, opts=[("MSS", 1460), ("WScale", 7)], window=65535)
        self.peer_seq += 1
        self.rig.env.run_until_complete(task, 10 * MS)
        self.sk = self.sock.sk

    def frames(self) -> list:
        return [Ether(f) for f in self.rig.frames()]

    def last(self):
        return self.frames()[-1]

    def inject(self, flags: str, ack: int, seq: int | None = None, opts: list | None = None, payload: bytes = b"",
               window: int = 512) -> None:
        tsecr = dict(self.last()[TCP].options).get("Timestamp", (0, 0))[0]
        seg = TCP(sport=5001, dport=self.last()[TCP].sport, seq=self.peer_seq if seq is None else seq, ack=ack,
                  flags=flags, window=window, options=(opts or []) + [("Timestamp", (self.peer_ts, tsecr))])
        raw = bytes(IP(src=PEER_IP, dst=HOST_IP) / seg / Raw(payload)) if payload else bytes(IP(src=PEER_IP, dst=HOST_IP) / seg)
        skb = alloc_skb(len(raw) + 64)
        skb.skb_reserve(64)
        skb.skb_put_data(raw)
        skb.network_header = skb.data
        skb.skb_pull(20)
        skb.transport_header = skb.data
        tcp_v4_rcv(self.host, skb)

    def lookup(self):
        return ehash_lookup(self.sk)


def ehash_lookup(sk):
    return __inet_lookup_established(sk.host, sk.inet_daddr, sk.inet_dport, sk.inet_saddr, sk.inet_sport)


def test_fin_wait2_orphan_becomes_a_timewait_sock_that_acks_the_fin_with_ip_id_0():
    """close(), the peer ACKs our FIN, its FIN comes 300 ms later: Linux's last ACK comes from
    the timewait sock (tcp_v4_timewait_ack through the control socket): IP ID 0, DF, the
    connection's window and timestamps (capture: `id 0, flags [DF] ... ack 2, win 63`)."""
    w = WireTcp()
    sk = w.sk
    w.host.kernel.spawn(w.sock.send(b"d" * 1000))
    w.rig.run(0.01)
    w.host.kernel.spawn(w.sock.close())
    w.rig.run(0.01)
    fin = w.last()
    assert "F" in fin[TCP].flags
    w.inject("A", ack=fin[TCP].seq + 1)
    tw = w.lookup()
    assert sk.sk_state == TCP_CLOSE and tw is not None and tw.sk_state == TCP_TIME_WAIT
    assert tw.tw_substate == TCP_FIN_WAIT2
    n = len(w.frames())
    w.rig.run(300)
    w.peer_ts += 300
    w.inject("FA", ack=fin[TCP].seq + 1)
    ack = w.frames()[n]
    assert ack[TCP].flags == "A" and ack[TCP].ack == w.peer_seq + 1 and ack[TCP].seq == fin[TCP].seq + 1
    assert ack[IP].id == 0 and ack[IP].flags.DF and ack[IP].ttl == 64
    assert ack[TCP].window == 502
    tsval, tsecr = dict(ack[TCP].options)["Timestamp"]
    assert tsecr == w.peer_ts and tsval == (w.host.env.now() // MS + sk.tsoffset) & 0xFFFFFFFF
    assert tw.tw_substate == TCP_TIME_WAIT
    # The peer did not get our ACK and sends its FIN again: ACKed again, 60 s restart.
    w.rig.run(1000)
    w.inject("FA", ack=fin[TCP].seq + 1)
    assert len(w.frames()) == n + 2 and w.frames()[-1][TCP].ack == w.peer_seq + 1
    w.rig.run(59_000)
    assert w.lookup() is tw
    w.rig.run(1_100)  # TCP_TIMEWAIT_LEN after the last FIN: the timer kills it
    assert w.lookup() is None and tw.tw_dead and w.host.mib["TcpExt"]["TW"] == 1


def test_fin_with_the_ack_of_ours_is_acked_by_the_full_sock_then_time_wait():
    """FIN+ACK in one segment (the capture's first close): FIN_WAIT1 → FIN_WAIT2 keeps the full
    sock (the FIN is in this segment), tcp_fin sends the ACK from it (IP ID from inet_id,
    `id 30756` after the FIN's 30755), then tcp_time_wait(TCP_TIME_WAIT)."""
    w = WireTcp()
    w.host.kernel.spawn(w.sock.close())
    w.rig.run(0.01)
    fin = w.last()
    w.inject("FA", ack=fin[TCP].seq + 1)
    ack = w.last()
    assert ack[TCP].flags == "A" and ack[IP].id == (fin[IP].id + 1) & 0xFFFF
    tw = w.lookup()
    assert tw is not None and tw.tw_substate == TCP_TIME_WAIT and w.sk.sk_state == TCP_CLOSE
    w.rig.run(61_000)
    assert w.lookup() is None


# -- TSval offset (secure_tcp_ts_off) -------------------------------------------------------------


def test_ts_offset_is_random_per_address_pair_and_follows_the_seed(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    sk = rig.sk
    assert sk.tsoffset == secure_tcp_ts_off(rig.host, sk.inet_saddr, sk.inet_daddr) != 0
    rig.do(rig.sock.send(b"x"))
    tsval = dict(rig.ip.sent[-1].tcp.options)["Timestamp"][0]
    assert tsval == (rig.env.now() // MS + sk.tsoffset) & 0xFFFFFFFF  # tcp_time_stamp_ts + tsoffset
    a, b = in_aton("10.0.0.1"), in_aton("10.0.0.2")
    h1, h1b, h2 = Host(VirtualEnv(), seed=1), Host(VirtualEnv(), seed=1), Host(VirtualEnv(), seed=2)
    for h in (h1, h1b, h2):
        h.env.run(until=0)  # start their CPUs' tasks
    assert secure_tcp_ts_off(h1, a, b) == secure_tcp_ts_off(h1, a, b) == secure_tcp_ts_off(h1b, a, b)
    assert secure_tcp_ts_off(h1, a, b) != secure_tcp_ts_off(h2, a, b)
    assert secure_tcp_ts_off(h1, a, b) != secure_tcp_ts_off(h1, a, in_aton("10.0.0.3"))
    h1.sysctl.tcp_timestamps = 2  # timestamps without the offset
    assert secure_tcp_ts_off(h1, a, b) == 0


# -- MAX_TCP_HEADER and tcp_sndbuf_expand ----------------------------------------------------------


def test_max_tcp_header_and_tcp_sndbuf_expand_give_linux_sndbuf(monkeypatch):
    """SO_SNDBUF right after connect on 6.18: 46080 with cubic or reno, 69120 with bbr, for MSS
    1448 and for a peer MSS of 536 alike; a 100-byte write queued shows `ss -tm` w932."""
    assert MAX_TCP_HEADER == 192  # L1_CACHE_ALIGN(128 + MAX_HEADER 32): no Hyper-V, WLAN, tunnels
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    sk = rig.sk
    assert sk.sk_sndbuf == 46080
    three = TcpCongestionOps("bbr-like", tcp_reno.ssthresh, tcp_reno.undo_cwnd, tcp_reno.cong_avoid,
                             sndbuf_expand=lambda sk_: 3)
    sk.icsk_ca_ops = three
    tcp_sndbuf_expand(sk)
    assert sk.sk_sndbuf == 69120
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024, mss=536)
    assert rig.sk.sk_sndbuf == 46080
    # truesize of a TCP skb: SKB_TRUESIZE(skb_end_offset) with the 576-byte small-head cache
    assert tcp_stream_alloc_skb(rig.sk).truesize == 832
    rig.sock.setsockopt(SOL_TCP, TCP_CORK, 1)
    rig.do(rig.sock.send(b"x" * 100))
    assert rig.sk.sk_wmem_queued == 932


# -- UDP IP IDs (__ip_select_ident) and ip4_datagram_connect -------------------------------------


def udp_ids(rig, sends) -> list[int]:
    frames = rig.sent
    n = len(frames)
    host = rig.host

    async def go():
        for s, data, addr, gap_ms in sends:
            if gap_ms:
                await host.kernel.msleep(gap_ms)
            if addr is None:
                await s.send(data)
            else:
                await s.sendto(data, addr)

    task = host.kernel.spawn(go())
    rig.env.run_until_complete(task, 10 * SEC)
    return [Ether(f.frame)[IP].id for f in frames[n:]]


def test_udp_ip_ids_are_random_and_skip_after_idle():
    """Unconnected sendto: DF set but ignore_df (pmtudisc WANT), so a hashed ID per (daddr,
    saddr, protocol): a random start, +1 within a jiffy, a random skip below the idle jiffies
    (capture: 50405 50406 50407 50408, then 50420 after 50 ms, 50426 after 20 ms...)."""
    rig = make_rig()
    s = socket(rig.host, sock_type=SOCK_DGRAM)
    addr = (PEER_IP, 9000)
    ids = udp_ids(rig, [(s, b"a" * 100, addr, 0)] * 4 + [(s, b"b" * 100, addr, 50)])
    first = ids[0]
    assert ids[:4] == [first, first + 1, first + 2, first + 3]
    assert 0 <= ids[4] - (first + 4) < 50
    assert all(Ether(f.frame)[IP].flags.DF for f in rig.sent)
    other = make_rig()
    other.host.prandom.seed("another run")
    o = socket(other.host, sock_type=SOCK_DGRAM)
    assert udp_ids(other, [(o, b"a", addr, 0)]) != [first]


def test_ip4_datagram_connect_routes_once_and_numbers_from_a_random_inet_id():
    """connect() on UDP (ip4_datagram_connect): source address, cached route, ESTABLISHED, a
    random inet_id; datagrams then carry inet_id + 1, + 2, ... (atomic_add_return; capture:
    43185 43186 43187 for a fresh connected socket)."""
    rig = make_rig()
    s = socket(rig.host, sock_type=SOCK_DGRAM)
    task = rig.host.kernel.spawn(s.connect((PEER_IP, 9001)))
    rig.env.run_until_complete(task, 1 * MS)
    sk = s.sk
    assert sk.inet_saddr == in_aton(HOST_IP) and sk.inet_daddr == in_aton(PEER_IP) and sk.inet_dport == 9001
    assert sk.inet_sport and sk.sk_dst_cache is not None and sk.sk_state == TCP_ESTABLISHED
    start = sk.inet_id
    ids = udp_ids(rig, [(s, b"d" * 100, None, 0)] * 3)
    assert ids == [(start + 1) & 0xFFFF, (start + 2) & 0xFFFF, (start + 3) & 0xFFFF]
    sport = struct.unpack("!H", Ether(rig.sent[-1].frame)[IP].payload.build()[:2])[0]
    assert sport == sk.inet_sport


# -- the initial BQL limit (dql_init, dql_reset) ----------------------------------------------------


def test_initial_bql_limit_is_zero_so_the_first_packet_stops_the_queue():
    """/sys/class/net/<unused dev>/queues/tx-0/byte_queue_limits/limit reads 0 on 6.18, as
    dql_init → dql_reset leave it (limit = limit_min = 0, adj_limit 0): the first
    netdev_tx_sent_queue stops the queue until the first completion lifts the limit."""
    rig = make_rig()
    txq = rig.dev._tx[0]
    dql = txq.dql
    assert (dql.limit, dql.min_limit, dql.adj_limit, dql.slack_hold_time) == (0, 0, 0, 1000)  # hold_time HZ
    netdev_tx_sent_queue(txq, 1514)
    assert txq.state & QUEUE_STATE_STACK_XOFF
    netdev_tx_completed_queue(txq, 1, 1514)
    assert dql.limit == 1514 and not txq.state & QUEUE_STATE_STACK_XOFF
