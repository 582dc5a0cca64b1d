"""A whole machine on a wire: host (kernel + stack), NIC, driver, and the peer beyond the MAC.

`Testbed` wires the pieces together the same way whichever NIC backend it is given: the
behavioral model in virtual time (`model_testbed`), or the RTL through the cocotb bridge
(simulator time, hilnic.testbed.rtl.rtl_testbed). Scenarios (`tcp_bulk`, `udp_send`) are process-context coroutines.

    tb = model_testbed(TestbedConfig(ring_size=64))
    result = tb.run(tcp_bulk(tb, 1 << 20), timeout=2 * SEC)
    tb.check_clean()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from hilnic.drivers.net.ethernet.intel.e1000.e1000 import (
    INTERRUPT_THROTTLE_RATE,
    MTU,
    TX_DESCRIPTORS,
    loss_problem,
    tcp_mss_problem,
    tcp_mtu_problem,
)
from hilnic.drivers.net.ethernet.intel.e1000.e1000_main import (
    E1000_DOWN_SLEEP_MS,
    E1000_RESET_POLL_MS,
    E1000_RESET_POLL_TRIES,
    e1000_probe,
    netdev_priv,
)
from hilnic.drivers.net.loopback import loopback_net_init
from hilnic.drivers.net.rx import host_receive_frame
from hilnic.hw.backend import NicBackend, WireFrame
from hilnic.hw.model import ModelNic
from hilnic.kernel.env import MS, SEC, US, Env, VirtualEnv
from hilnic.mm.hostmem import HostMemory
from hilnic.net.core import netdevice as nd
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.skbuff import live_skbs
from hilnic.net.core.sock import TCP_CLOSE, TCP_TIME_WAIT
from hilnic.net.ipv4.af_inet import inet_init
from hilnic.net.ipv4.route import inet_ifaddr_add
from hilnic.net.socket import AF_INET, SOCK_DGRAM, SOCK_STREAM, SOL_TCP, TCP_CORK, socket
from hilnic.wire.payload import PATTERN_CHUNK, pattern
from hilnic.wire.peer import PeerHost, PeerOptions

E1000_IRQ = 16

# Simulated-time bounds of the driver's own waits, for timeouts that must cover them: probe and
# open reset the NIC and poll STATUS.RST_BUSY every E1000_RESET_POLL_MS, up to
# E1000_RESET_POLL_TRIES times (a healthy NIC answers on the first poll: ~1 ms); close sleeps
# E1000_DOWN_SLEEP_MS in e1000_down. 1 ms of slack each for the MMIO around them.
SETUP_TIME_PS = (E1000_RESET_POLL_TRIES * E1000_RESET_POLL_MS + 1) * MS
TEARDOWN_TIME_PS = (E1000_DOWN_SLEEP_MS + 1) * MS


def _mac(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.split(":"))


@dataclass
class TestbedConfig:
    """How the machine and its wire are set up (defaults: a 1500-byte MTU LAN)."""

    __test__ = False  # not a pytest class

    host_ip: str = "10.0.0.1"
    peer_ip: str = "10.0.0.2"
    host_mac: str = "02:00:00:00:00:01"
    peer_mac: str = "02:00:00:00:00:02"
    prefix_len: int = 24
    mtu: int = 1500
    ring_size: int = 256
    itr: int = 3  # e1000 InterruptThrottleRate: 0 off, 1/3 dynamic, or interrupts/s
    wthresh: int = 0
    tidv: int = 0
    tadv: int = 0
    head_wb: bool = False
    tx_csum_offload: bool = True
    tso: bool = True  # NETIF_F_TSO on eth0 (the driver's default); False: `ethtool -K eth0 tso off`
    wire_delay_ps: int = 10 * US  # the peer's answers take this long to come back
    loss_rate: float = 0.0
    seed: int = 1
    peer: dict[str, Any] = field(default_factory=dict)  # PeerOptions overrides
    strict_peer: bool = False  # the peer also checks every frame with scapy

    def __post_init__(self) -> None:
        # the limits table's checks and messages, as `hilnic run` applies them (RunConfig)
        for name, problem in (("mtu", MTU.problem(self.mtu)), ("ring_size", TX_DESCRIPTORS.problem(self.ring_size)),
                              ("itr", INTERRUPT_THROTTLE_RATE.problem(self.itr)),
                              ("loss_rate", loss_problem(self.loss_rate))):
            if problem:
                raise ValueError(f"{name} {problem}")
        if "mss" in self.peer:
            problem = tcp_mss_problem(self.peer["mss"], self.mtu)
            if problem:
                raise ValueError(f"peer mss {problem}")


# builds the peer in place of PeerHost: (env, config, send_to_host) -> an object with PeerHost's
# receive_frame, tx_listeners, counters() and delivered_bytes() (hilnic.wire.linux_peer.LinuxPeer)
PeerFactory = Callable[[Env, "TestbedConfig", Callable[[bytes], None]], Any]


class Testbed:
    """Host + NIC backend + driver + peer, built by `await setup()`."""

    __test__ = False

    def __init__(self, env: Env, nic: NicBackend, cfg: TestbedConfig | None = None,
                 make_peer: PeerFactory | None = None) -> None:
        self.env = env
        self.nic = nic
        self.cfg = cfg or TestbedConfig()
        self.host = Host(env, mem=nic.mem, seed=self.cfg.seed)
        self.dev: Any = None
        self.peer: Any = None  # PeerHost, or what make_peer built
        self.make_peer = make_peer
        self.frames = 0
        self.wire_bytes = 0
        self.last_frame_end = 0
        self.first_frame_start: int | None = None
        nic.on_frame(self._count_frame)

    def _count_frame(self, f: WireFrame) -> None:
        self.frames += 1
        self.wire_bytes += len(f.data)
        self.last_frame_end = f.t_end
        if self.first_frame_start is None:
            self.first_frame_start = f.t_start

    @property
    def adapter(self) -> Any:
        return netdev_priv(self.dev)

    async def setup(self) -> None:
        """Probe and open the NIC, configure IP, attach the peer (process context). Once:
        a second call returns at once (rtl_testbed has usually done it)."""
        if self.dev is not None:
            return
        cfg, host = self.cfg, self.host
        loopback_net_init(host)
        inet_init(host)
        self.dev = await e1000_probe(
            host, self.nic, irq=E1000_IRQ, name="eth0", ring_size=cfg.ring_size, itr=cfg.itr,
            wthresh=cfg.wthresh, tidv=cfg.tidv, tadv=cfg.tadv, head_wb=cfg.head_wb,
        )
        self.dev.dev_addr = _mac(cfg.host_mac)
        if cfg.mtu != self.dev.mtu:
            nd.dev_set_mtu(self.dev, cfg.mtu)
        if not cfg.tx_csum_offload:
            nd.ethtool_set_features(self.dev, off=nd.NETIF_F_HW_CSUM | nd.NETIF_F_IP_CSUM)
        if not cfg.tso:
            nd.ethtool_set_features(self.dev, off=nd.NETIF_F_TSO)  # the stack segments GSO skbs in software
        await nd.dev_open_async(self.dev)
        inet_ifaddr_add(host, self.dev, cfg.host_ip, cfg.prefix_len)
        if self.make_peer is not None:
            self.peer = self.make_peer(self.env, cfg, self._to_host)
        else:
            opts = dataclasses.replace(PeerOptions(), loss_rate=cfg.loss_rate, seed=cfg.seed, strict=cfg.strict_peer,
                                       **cfg.peer)
            self.peer = PeerHost(
                self.env, cfg.peer_mac, cfg.peer_ip, cfg.host_mac, cfg.host_ip,
                send_to_host=self._to_host, wire_delay_ps=cfg.wire_delay_ps, options=opts,
            )
        self.nic.on_frame(self.peer.receive_frame)
        start = getattr(self.peer, "start", None)  # a peer with timers of its own (LinuxPeer's poll)
        if start is not None:
            start()

    def _to_host(self, frame: bytes) -> None:
        host_receive_frame(self.host, self.dev, frame)

    async def teardown(self) -> None:
        """Close the device: the driver frees its ring and every pending buffer."""
        await nd.dev_close_async(self.dev)

    def socket(self, kind: int = SOCK_STREAM) -> Any:
        """A socket on the host. TCP refuses an MTU too small for it (the limits table's
        tcp_mtu_problem): such a transfer would never finish."""
        if kind == SOCK_STREAM:
            problem = tcp_mtu_problem(self.cfg.mtu)
            if problem:
                raise ValueError(f"mtu {problem}")
        return socket(self.host, AF_INET, kind)

    def run(self, main: Coroutine, timeout: int = 10 * SEC) -> Any:
        """Virtual-time only: set up, run `main` in process context, tear down."""
        if not isinstance(self.env, VirtualEnv):
            raise TypeError("Testbed.run drives a VirtualEnv; under cocotb await the coroutines instead")

        async def whole() -> Any:
            await self.setup()
            result = await main  # on failure the run stops here; no teardown to await
            await self.teardown()
            return result

        task = self.host.kernel.spawn(whole(), "testbed")
        return self.env.run_until_complete(task, timeout)

    async def process(self, main: Coroutine, timeout: int = 1 * SEC) -> Any:
        """Simulator time (under cocotb): run `main` as a process-context task of this host,
        at most `timeout` ps of simulated time; return its result. SimulationTimeout past the
        bound; a failure of any kernel task is raised here."""
        run_process = getattr(self.env, "run_process", None)
        if run_process is None:
            raise TypeError("Testbed.process needs a simulator env (rtl_testbed); on the model use tb.run")
        return await run_process(self.host.kernel, main, timeout)

    async def quiesce(self, timeout: int = 1 * SEC) -> None:
        """Wait until the driver has reclaimed every descriptor and the qdisc is empty."""
        ring = self.adapter.tx_ring
        deadline = self.env.now() + timeout
        while ring.next_to_clean != ring.next_to_use or any(txq.qdisc.qstats.qlen for txq in self.dev._tx):
            if self.env.now() >= deadline:
                raise TimeoutError(
                    f"transmit path not idle after {timeout / MS:.0f} ms: ntu={ring.next_to_use} "
                    f"ntc={ring.next_to_clean} qlen={[txq.qdisc.qstats.qlen for txq in self.dev._tx]}"
                )
            await self.host.kernel.sleep_ps(10 * US)

    def bql_inflight(self) -> int:
        return sum(txq.dql.inflight for txq in self.dev._tx)

    def check_clean(self) -> None:
        """After teardown: no skb leaked, no DMA mapping live, no IOMMU violation."""
        leaked = live_skbs()
        assert not leaked, f"{len(leaked)} skbs leaked, e.g. {leaked[:3]}"
        maps = self.host.mem.live_mappings
        assert not maps, f"{len(maps)} DMA mappings still live, e.g. {maps[:3]}"
        assert not self.host.mem.violations, f"IOMMU violations: {self.host.mem.violations[:3]}"


def model_testbed(cfg: TestbedConfig | None = None, make_peer: PeerFactory | None = None, **nic_args: Any) -> Testbed:
    """A testbed on the behavioral NIC in virtual time."""

    env = VirtualEnv()
    mem = HostMemory()
    return Testbed(env, ModelNic(env, mem, **nic_args), cfg, make_peer)


# -- scenarios (process context) ---------------------------------------------------------




async def tcp_bulk(
    tb: Testbed, nbytes: int, port: int = 5001, chunk: int = 64 << 10, data: bytes | None = None,
    cork: bool = False,
) -> dict[str, Any]:
    """Connect, send `nbytes` in `chunk`-sized send() calls, close, wait until the peer has all.
    `cork`: TCP_CORK on the socket until close (only full segments leave before the FIN)."""
    payload = data if data is not None else pattern(nbytes)
    s = tb.socket(SOCK_STREAM)
    if cork:
        s.setsockopt(SOL_TCP, TCP_CORK, 1)
    await s.connect((tb.cfg.peer_ip, port))
    t0 = tb.env.now()
    sent = 0
    mv = memoryview(payload)
    while sent < len(payload):
        sent += await s.send(mv[sent : sent + chunk])
    info = s.tcp_info()
    await s.close()
    await tcp_finished(tb, s, len(payload), port)
    return {"bytes": sent, "elapsed_ps": tb.env.now() - t0, "payload": payload, "tcp_info": info}


async def tcp_finished(tb: Testbed, s: Any, nbytes: int, port: int = 5001, timeout: int = 120 * SEC) -> None:
    """After `s.close()`: wait until the peer has `nbytes` on `port` and the socket has closed
    (its FIN acknowledged), so nothing of the connection is left in flight for a teardown."""
    done = tb.host.kernel.env.event("peer_done")

    def poll() -> None:
        if tb.peer.delivered_bytes(peer_port=port) >= nbytes and s.sk.sk_state in (TCP_CLOSE, TCP_TIME_WAIT):
            done.set()
        else:
            tb.env.call_later(100 * US, poll)

    poll()
    if not await tb.host.kernel.wait_event(done, timeout=timeout):
        raise TimeoutError(
            f"after {timeout / SEC:g} s simulated the peer has {tb.peer.delivered_bytes(peer_port=port)} of "
            f"{nbytes} bytes on port {port} and the socket is in state {s.sk.sk_state}"
        )


async def udp_send(tb: Testbed, sizes: list[int], port: int = 9000) -> list[bytes]:
    """Send one datagram of each size; wait until the peer has them (or they are lost)."""
    s = tb.socket(SOCK_DGRAM)
    sent = []
    for i, n in enumerate(sizes):
        data = pattern(n, seed=i + 1)
        await s.sendto(data, (tb.cfg.peer_ip, port))
        sent.append(data)
    await tb.host.kernel.msleep(5)
    await s.close()
    return sent


__all__ = ["MS", "PATTERN_CHUNK", "SEC", "SETUP_TIME_PS", "TEARDOWN_TIME_PS", "US", "PeerFactory", "Testbed",
           "TestbedConfig", "model_testbed", "pattern", "tcp_bulk", "tcp_finished", "udp_send"]
