"""A host: one kernel (CPU), its memory, sysctls, SNMP counters and network objects.

Every socket, device and table hangs off one `Host`, like a network namespace. The
defaults are Linux 6.9's (LINUX_TX_SPEC.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from hilnic.kernel.core import Kernel
from hilnic.kernel.env import Env
from hilnic.mm.hostmem import HostMemory
from hilnic.net.core.skbuff import skb_init


@dataclass
class Sysctl:
    """The sysctls the transmit path reads (net.core.*, net.ipv4.*), with Linux defaults."""

    tcp_wmem: tuple[int, int, int] = (4096, 16384, 4 << 20)
    tcp_rmem: tuple[int, int, int] = (4096, 131072, 6 << 20)
    tcp_autocorking: int = 1
    tcp_limit_output_bytes: int = 1 << 20
    tcp_min_tso_segs: int = 2
    tcp_tso_win_divisor: int = 3
    tcp_retries2: int = 15
    tcp_early_retrans: int = 3
    tcp_sack: int = 0  # the peer model does not do SACK; TLP therefore stays off
    tcp_timestamps: int = 1
    tcp_window_scaling: int = 1
    tcp_max_skb_frags: int = 17  # net.core.max_skb_frags
    ip_default_ttl: int = 64
    dev_weight: int = 64
    dev_weight_tx_bias: int = 1
    netdev_budget: int = 300
    netdev_budget_usecs: int = 2000
    netdev_max_backlog: int = 1000
    default_qdisc: str = "pfifo_fast"
    unres_qlen_bytes: int = 212992  # net.ipv4.neigh.default.unres_qlen_bytes
    arp_retrans_time_ms: int = 1000
    arp_mcast_solicit: int = 3
    arp_ucast_solicit: int = 3
    arp_reachable_time_ms: int = 30000
    arp_delay_first_probe_time_ms: int = 5000

    @property
    def dev_tx_weight(self) -> int:
        return self.dev_weight * self.dev_weight_tx_bias


class Mib(defaultdict):
    """One SNMP group: name → counter, missing names read 0."""

    def __init__(self) -> None:
        super().__init__(int)


@dataclass
class Host:
    """The simulated machine: kernel, RAM, sysctls, counters and the net objects."""

    env: Env
    mem: HostMemory = field(default_factory=HostMemory)
    sysctl: Sysctl = field(default_factory=Sysctl)
    kernel: Kernel = field(init=False)
    mib: dict[str, Mib] = field(default_factory=lambda: defaultdict(Mib))  # "Ip", "Tcp", "Udp", "TcpExt", ...
    devices: dict[str, Any] = field(default_factory=dict)  # name → NetDevice
    ext: dict[str, Any] = field(default_factory=dict)  # per-subsystem state (routes, arp_tbl, ...)
    # net->loopback_dev: set by drivers/net/loopback.py's loopback_net_init (a driver, above net: Any)
    loopback_dev: Any = None

    def __post_init__(self) -> None:
        self.mem.clock = self.env
        self.kernel = Kernel(self.env)
        skb_init(self.mem)

    def snmp_inc(self, group: str, name: str, n: int = 1) -> None:
        self.mib[group][name] += n
