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
import random
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from hilnic.drivers.net.ethernet.intel.e1000.e1000 import MTU
from hilnic.drivers.net.ethernet.intel.e1000.e1000_main import e1000_probe, netdev_priv
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
from hilnic.net.socket import AF_INET, SOCK_DGRAM, SOCK_STREAM, socket
from hilnic.wire.peer import PeerHost, PeerOptions

E1000_IRQ = 16


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
    wire_delay_ps: int = 10 * US  # the peer's answers take this long to come back
    loss_rate: float = 0.0
    seed: int = 1
    peer: dict[str, Any] = field(default_factory=dict)  # PeerOptions overrides
    strict_peer: bool = False  # the peer also checks every frame with scapy

    def __post_init__(self) -> None:
        if not MTU.valid(self.mtu):
            raise ValueError(f"mtu must be {MTU.min}..{MTU.max}, got {self.mtu}")
        if not 0.0 <= self.loss_rate < 1.0:
            raise ValueError(f"loss rate must be in [0, 1), got {self.loss_rate}")


class Testbed:
    """Host + NIC backend + driver + peer, built by `await setup()`."""

    __test__ = False

    def __init__(self, env: Env, nic: NicBackend, cfg: TestbedConfig | None = None) -> None:
        self.env = env
        self.nic = nic
        self.cfg = cfg or TestbedConfig()
        self.host = Host(env, mem=nic.mem)
        self.dev: Any = None
        self.peer: PeerHost | None = None
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
        """Probe and open the NIC, configure IP, attach the peer (process context)."""
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
        await nd.dev_open_async(self.dev)
        inet_ifaddr_add(host, self.dev, cfg.host_ip, cfg.prefix_len)
        opts = dataclasses.replace(PeerOptions(), loss_rate=cfg.loss_rate, seed=cfg.seed, strict=cfg.strict_peer, **cfg.peer)
        self.peer = PeerHost(
            self.env, cfg.peer_mac, cfg.peer_ip, cfg.host_mac, cfg.host_ip,
            send_to_host=self._to_host, wire_delay_ps=cfg.wire_delay_ps, options=opts,
        )
        self.nic.on_frame(self.peer.receive_frame)

    def _to_host(self, frame: bytes) -> None:
        host_receive_frame(self.host, self.dev, frame)

    async def teardown(self) -> None:
        """Close the device: the driver frees its ring and every pending buffer."""
        await nd.dev_close_async(self.dev)

    def socket(self, kind: int = SOCK_STREAM) -> Any:
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


def model_testbed(cfg: TestbedConfig | None = None, **nic_args: Any) -> Testbed:
    """A testbed on the behavioral NIC in virtual time."""

    env = VirtualEnv()
    mem = HostMemory()
    return Testbed(env, ModelNic(env, mem, **nic_args), cfg)


# -- scenarios (process context) ---------------------------------------------------------


def pattern(n: int, seed: int = 0) -> bytes:
    """n bytes that make misordering or corruption visible (not a repeating short cycle)."""

    return random.Random(seed).randbytes(n)


async def tcp_bulk(
    tb: Testbed, nbytes: int, port: int = 5001, chunk: int = 64 << 10, data: bytes | None = None
) -> dict[str, Any]:
    """Connect, send `nbytes` in `chunk`-sized send() calls, close, wait until the peer has all."""
    payload = data if data is not None else pattern(nbytes)
    s = tb.socket(SOCK_STREAM)
    await s.connect((tb.cfg.peer_ip, port))
    t0 = tb.env.now()
    sent = 0
    mv = memoryview(payload)
    while sent < len(payload):
        sent += await s.send(mv[sent : sent + chunk])
    info = s.tcp_info()
    await s.close()
    conn_done = tb.host.kernel.env.event("peer_done")

    def poll() -> None:
        if tb.peer.delivered_bytes(peer_port=port) >= len(payload) and s.sk.sk_state in (TCP_CLOSE, TCP_TIME_WAIT):
            conn_done.set()
        else:
            tb.env.call_later(100 * US, poll)

    poll()
    if not await tb.host.kernel.wait_event(conn_done, timeout=120 * SEC):
        raise TimeoutError(
            f"tcp_bulk: after 120 s simulated the peer has {tb.peer.delivered_bytes(peer_port=port)} of "
            f"{len(payload)} bytes and the socket is in state {s.sk.sk_state}"
        )
    return {"bytes": sent, "elapsed_ps": tb.env.now() - t0, "payload": payload, "tcp_info": info}


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


__all__ = ["MS", "SEC", "US", "Testbed", "TestbedConfig", "model_testbed", "pattern", "tcp_bulk", "udp_send"]
