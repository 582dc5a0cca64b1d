"""Test rig for the TCP unit tests: a host, a recording IP layer (af_ops.queue_xmit) that
holds clones like a qdisc/driver until the test completes them, and a scapy-driven peer
that answers by injecting segments into tcp_v4_rcv."""

from __future__ import annotations

from dataclasses import dataclass, field

from scapy.layers.inet import IP, TCP
from scapy.packet import Raw

from hilnic.kernel.env import MS, VirtualEnv
from hilnic.lib.checksum import csum_fold, csum_partial
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdev_features import NETIF_F_IP_CSUM, NETIF_F_SG
from hilnic.net.core.skbuff import alloc_skb, kfree_skb
from hilnic.net.ipv4 import tcp_ipv4
from hilnic.net.ipv4.tcp_ipv4 import tcp_v4_rcv
from hilnic.net.socket import socket

LOCAL = "10.0.0.1"
PEER = "10.0.0.2"
PEER_PORT = 5001


def ip2int(a: str) -> int:
    p = [int(x) for x in a.split(".")]
    return p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]


@dataclass
class FakeDev:
    mtu: int = 1500
    features: int = NETIF_F_SG | NETIF_F_IP_CSUM
    gso_max_size: int = 65536
    gso_max_segs: int = 65535


@dataclass(eq=False)
class FakeDst:
    dev: FakeDev = field(default_factory=FakeDev)
    rt_src: int = ip2int(LOCAL)
    rt_pmtu: int = 0

    @property
    def mtu(self) -> int:
        return self.rt_pmtu or self.dev.mtu


@dataclass
class Sent:
    """One skb handed to ip_queue_xmit, parsed with scapy after finishing its checksum."""

    skb: object
    pkt: IP
    t: int
    gso_segs: int
    gso_size: int

    @property
    def tcp(self) -> TCP:
        return self.pkt[TCP]

    @property
    def payload(self) -> bytes:
        return bytes(self.pkt[TCP].payload)


class FakeIpLayer:
    """af_ops for TCP: records what __tcp_transmit_skb hands to ip_queue_xmit."""

    net_header_len = 20

    def __init__(self, host: Host, auto_complete: bool = True, ret: int = 0) -> None:
        self.host = host
        self.sent: list[Sent] = []
        self.queued: list = []  # clones "in the qdisc/driver"
        self.auto_complete = auto_complete
        self.ret = ret

    def queue_xmit(self, sk, skb) -> int:
        data = skb.to_bytes()
        tcp = bytearray(data)
        # Finish CHECKSUM_PARTIAL as the device would: sum from csum_start, store at +16.
        start = skb.csum_start - skb.data
        assert start == 0 and skb.csum_offset == 16
        tcp[16:18] = csum_fold(csum_partial(bytes(tcp))).to_bytes(2, "big")
        pkt = IP(bytes(IP(src=int_to_ip(sk.inet_saddr), dst=int_to_ip(sk.inet_daddr), proto=6) / Raw(bytes(tcp))))
        self.sent.append(Sent(skb, pkt, self.host.env.now(), skb.shinfo.gso_segs, skb.shinfo.gso_size))
        if self.ret:
            kfree_skb(skb)
            return self.ret
        if self.auto_complete:
            kfree_skb(skb)
        else:
            self.queued.append(skb)
        return 0

    def complete(self, n: int | None = None) -> None:
        """NIC completion: free the oldest n clones (tcp_wfree runs)."""
        n = len(self.queued) if n is None else n
        for _ in range(n):
            kfree_skb(self.queued.pop(0))

    def send_check(self, sk, skb) -> int:
        return tcp_ipv4.tcp_v4_send_check(sk, skb)

    def mtu_reduced(self, sk) -> None:
        tcp_ipv4.tcp_v4_mtu_reduced(sk)


def int_to_ip(a: int) -> str:
    return ".".join(str(a >> s & 0xFF) for s in (24, 16, 8, 0))


class Rig:
    def __init__(self, monkeypatch, auto_complete: bool = True, dst: FakeDst | None = None,
                 cpu_scale: float = 0.0) -> None:
        self.env = VirtualEnv()
        self.host = Host(self.env)
        # TCP's own timing, exactly: by default the kernel's work takes no CPU time here (the
        # CPU model is tested in test_kernel.py; the socket backlog tests give it time).
        self.host.kernel.set_cpu_scale(cpu_scale)
        self.dst = dst or FakeDst()
        monkeypatch.setattr(tcp_ipv4, "ip_route_connect", lambda sk, daddr: self.dst)
        self.ip = FakeIpLayer(self.host, auto_complete)
        self.sock = socket(self.host)
        self.sk = self.sock.sk
        self.sk.icsk_af_ops = self.ip
        self.peer_seq = 7_000_000
        self.peer_ts = 100

    # -- running ----------------------------------------------------------------------------

    def run(self, ms: float) -> None:
        self.env.run(until=self.env.now() + int(ms * MS))

    def spawn(self, coro):
        return self.host.kernel.spawn(coro)

    def do(self, coro, ms: float = 1):
        """Run a process call to completion (within `ms` of virtual time); its OSError re-raised."""
        return self.finish(self.spawn(coro), ms)

    def finish(self, task, ms: float = 1):
        try:
            self.env.run_until_complete(task, int(ms * MS))
        except RuntimeError as e:
            if isinstance(e.__cause__, OSError):
                raise e.__cause__ from None
            raise
        return task.result()

    # -- the peer ---------------------------------------------------------------------------

    def inject(self, flags: str = "A", ack: int | None = None, window: int = 65535, seq: int | None = None,
               payload: bytes = b"", options: list | None = None) -> None:
        sk = self.sk
        if options is None:
            options = [("Timestamp", (self.peer_ts, self._last_tsval()))] if getattr(self, "ts", True) else []
        seg = TCP(sport=PEER_PORT, dport=sk.inet_sport, seq=self.peer_seq if seq is None else seq,
                  ack=sk.snd_nxt if ack is None else ack, flags=flags, window=window, options=options)
        raw = bytes(IP(src=PEER, dst=LOCAL) / seg / Raw(payload)) if payload else bytes(IP(src=PEER, dst=LOCAL) / seg)
        skb = alloc_skb(len(raw) + 64)
        skb.skb_reserve(64)
        skb.skb_put_data(raw)
        skb.network_header = skb.data
        skb.skb_pull(20)
        skb.transport_header = skb.data
        tcp_v4_rcv(self.host, skb)

    def _last_tsval(self) -> int:
        for s in reversed(self.ip.sent):
            for name, val in s.tcp.options:
                if name == "Timestamp":
                    return val[0]
        return 0

    def connect(self, window: int = 65535, wscale: int | None = 7, mss: int = 1460, rtt_ms: float = 0.0,
                window_update: int | None = None, sack: bool = False, ts: bool = True) -> None:
        """The handshake; the SYN-ACK offers SACK only when asked (sack=True), so the default
        connection recovers with NewReno."""
        task = self.spawn(self.sock.connect((PEER, PEER_PORT)))
        self.run(rtt_ms)
        syn = self.ip.sent[-1]
        assert syn.tcp.flags == "S"
        self.ts = ts
        opts = [("MSS", mss)] + ([("WScale", wscale)] if wscale is not None else [])
        if ts:
            opts.append(("Timestamp", (self.peer_ts, dict(syn.tcp.options)["Timestamp"][0])))
        if sack:
            opts.append(("SAckOK", b""))
        self.inject("SA", ack=syn.tcp.seq + 1, window=window, options=opts)
        self.peer_seq += 1
        self.env.run_until_complete(task, 10 * MS)
        task.result()
        if window_update is not None:
            self.inject("A", window=window_update)
        self.ip.complete()  # the handshake's SYN and ACK clones have left the NIC
        self.ip.sent.clear()

    def ack_all(self, window: int = 65535) -> None:
        self.inject("A", ack=self.sk.snd_nxt, window=window)

    def sack(self, ack: int, blocks: list[tuple[int, int]], window: int = 65535) -> None:
        """An ACK with SACK blocks (a D-SACK first when it lies below `ack`)."""
        opts = [("Timestamp", (self.peer_ts, self._last_tsval()))] if getattr(self, "ts", True) else []
        flat: tuple[int, ...] = tuple(x & 0xFFFFFFFF for b in blocks for x in b)
        self.inject("A", ack=ack, window=window, options=opts + [("SAck", flat)])
