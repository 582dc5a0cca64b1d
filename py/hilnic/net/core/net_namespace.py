"""A host: one kernel (CPU), its memory, sysctls, SNMP counters and network objects.

Every socket, device and table hangs off one `Host`, like a network namespace. The
defaults are Linux 6.9's (docs/linux-tx-path.md).
"""

from __future__ import annotations

import random
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
    tcp_sack: int = 1
    tcp_dsack: int = 1
    tcp_recovery: int = 1  # TCP_RACK_LOSS_DETECTION
    tcp_frto: int = 2
    tcp_reordering: int = 3
    tcp_max_reordering: int = 300
    tcp_timestamps: int = 1
    tcp_window_scaling: int = 1
    tcp_pacing_ss_ratio: int = 200  # % of cwnd·mss/srtt paced in slow start
    tcp_pacing_ca_ratio: int = 120  # ... and in congestion avoidance
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
    # Seeds every random choice the kernel makes (get_random_*, the boot-time secrets behind
    # secure_tcp_ts_off and __ip_select_ident), so a run is reproducible: the run's --seed.
    seed: int = 1
    ncpus: int = 1  # CPUs of the host (--cpus)
    prandom: random.Random = field(init=False)  # the host's entropy pool, seeded from `seed`

    def __post_init__(self) -> None:
        self.mem.clock = self.env
        self.kernel = Kernel(self.env, self.ncpus)
        self.prandom = random.Random(f"hilnic-host-{self.seed}")
        skb_init(self.mem)

    def snmp_inc(self, group: str, name: str, n: int = 1) -> None:
        self.mib[group][name] += n


# -- randomness (drivers/char/random.c's interface), reproducible per host ------------------------


def get_random_u32(host: Host) -> int:
    return host.prandom.getrandbits(32)


def get_random_u16(host: Host) -> int:
    return host.prandom.getrandbits(16)


def get_random_u32_below(host: Host, ceil: int) -> int:
    """A uniform value in [0, ceil); ceil 0 gives 0 (as the kernel's callers never pass)."""
    return host.prandom.randrange(ceil) if ceil > 0 else 0


def get_random_bytes(host: Host, n: int) -> bytes:
    return host.prandom.randbytes(n)
