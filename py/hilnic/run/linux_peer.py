"""`hilnic run --peer linux`: the run's side of the Linux peer.

The namespace (hilnic.wire.netns) belongs to the process that handles the run's signals —
`hilnic run` itself — so it is deleted however the run ends: `peer_namespace(rc)` is a
context manager around the whole run. On the model the scenario runs in that process and
uses the namespace's fds directly; on an RTL simulator they cross into the simulator's
process (inherited, numbers in HILNIC_LINUX_PEER, `to_env`/`from_env`), which needs no
privileges of its own.

`peer_factory(rc, fds, info)` builds the LinuxPeer (hilnic.wire.linux_peer) in place of the
model peer; `check_delivery` and `kernel_errors` judge the receiver's report: byte-exact
delivery to the socket, and none of the kernel's error counters moved.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from hilnic.kernel.env import Env
from hilnic.run.config import RunConfig
from hilnic.run.knobs import write_sizes
from hilnic.wire.linux_peer import LinuxPeer, LinuxPeerOptions
from hilnic.wire.netns import HOST_IP, PEER_IP, PREFIX_LEN, NamespaceConfig, PeerFds, PeerNamespace

ENV_VAR = "HILNIC_LINUX_PEER"
TCP_PORT = 5001  # the scenario's ports (scenario.py)
UDP_PORT = 9000

# what the kernel counts when a frame is bad or cannot be delivered: all must stay 0
KERNEL_ERROR_COUNTERS = (
    ("Ip", "InHdrErrors"), ("Ip", "InAddrErrors"), ("Ip", "InUnknownProtos"), ("Ip", "InDiscards"),
    ("Ip", "ReasmFails"), ("IpExt", "InCsumErrors"), ("IpExt", "InTruncatedPkts"),
    ("Tcp", "InErrs"), ("Tcp", "InCsumErrors"), ("Udp", "InErrors"), ("Udp", "InCsumErrors"),
    ("Udp", "NoPorts"), ("Udp", "RcvbufErrors"), ("Icmp", "InCsumErrors"), ("Icmp", "InErrors"),
)


def namespace_config(rc: RunConfig) -> NamespaceConfig:
    """The peer's machine for `rc`: addresses, MTU, advmss, and what its receiver expects."""
    sizes = write_sizes(rc)
    return NamespaceConfig(
        proto=rc.proto, port=TCP_PORT if rc.proto == "tcp" else UDP_PORT, nbytes=rc.nbytes, seed=rc.seed,
        datagram=sizes[0] if rc.proto == "udp" else 0, mtu=rc.mtu,
        advmss=rc.effective_mss if rc.proto == "tcp" and (rc.mss is not None or rc.peer_mss is not None) else None,
        peer_ip=PEER_IP, host_ip=HOST_IP, prefix_len=PREFIX_LEN, wall_limit_s=rc.wall_limit_s + 60.0,
    )


@contextlib.contextmanager
def peer_namespace(rc: RunConfig) -> Iterator[PeerNamespace | None]:
    """The run's namespace (None for --peer model), deleted on the way out whatever happens."""
    if rc.peer != "linux":
        yield None
        return
    with PeerNamespace(namespace_config(rc)) as ns:
        yield ns


def peer_factory(rc: RunConfig, fds: PeerFds, info: dict[str, Any]) -> Any:
    """The testbed's `make_peer` for a LinuxPeer on these fds."""

    def make(env: Env, cfg: Any, send_to_host: Any) -> LinuxPeer:
        opts = LinuxPeerOptions(loss_rate=rc.loss_rate, seed=rc.seed)
        return LinuxPeer(env, fds.tap, send_to_host, mac=cfg.peer_mac, ip=cfg.peer_ip, host_ip=cfg.host_ip,
                         wire_delay_ps=cfg.wire_delay_ps, ctl_fd=fds.ctl, report_fd=fds.report, options=opts,
                         info=info)

    return make


def to_env(ns: PeerNamespace) -> dict[str, str]:
    assert ns.fds is not None
    return {ENV_VAR: json.dumps({"fds": list(ns.fds), "info": ns.info()})}


def from_env() -> tuple[PeerFds, dict[str, Any]]:
    raw = json.loads(os.environ[ENV_VAR])
    return PeerFds(*raw["fds"]), raw["info"]


def kernel_errors(counters: dict[str, dict[str, int]]) -> list[str]:
    """'Group Name value' for every error counter of KERNEL_ERROR_COUNTERS that is not 0."""
    return [f"{g} {n} {counters[g][n]}" for g, n in KERNEL_ERROR_COUNTERS if counters.get(g, {}).get(n, 0)]


def check_delivery(rc: RunConfig, report: dict[str, Any]) -> str:
    """'' if the receiver got the payload byte for byte (UDP: the datagrams that arrived are
    the sent ones, in order, none missing without loss), else why not (one line)."""
    if report.get("error") and not report.get("match"):
        return f"the Linux peer's receiver: {report['error']}"
    got = int(report.get("bytes", 0))
    if rc.proto == "tcp":
        if not report.get("match"):
            where = report.get("first_difference")
            return (f"the Linux peer's socket received {got:,} of {rc.nbytes:,} bytes"
                    + (f", first difference at byte {where:,}" if where is not None else "")
                    + ("" if report.get("eof") else ", without the end of the stream"))
        return ""
    n, want = int(report.get("datagrams", 0)), int(report.get("datagrams_expected", 0))
    if report.get("unmatched"):
        return (f"{report['unmatched']} of the {n} datagrams the Linux peer's socket received match none sent, "
                f"in order (the first is datagram {report.get('first_difference')})")
    if n < want and rc.loss_rate == 0.0:
        return f"the Linux peer's socket received {n} of {want} datagrams (no loss configured)"
    return ""


def counter_text(counters: dict[str, dict[str, int]]) -> str:
    """The namespace's counters as `nstat -az` prints them (name, value), non-zero ones."""
    rows = []
    for group, vals in counters.items():
        rows += [f"{group}{name:<28} {v}" for name, v in vals.items() if v and not name.endswith(("Min", "Max"))
                 and name not in ("RtoAlgorithm", "Forwarding", "DefaultTTL", "MaxConn")]
    return "\n".join(rows) + "\n"


__all__ = ["ENV_VAR", "KERNEL_ERROR_COUNTERS", "check_delivery", "counter_text", "from_env", "kernel_errors",
           "namespace_config", "peer_factory", "peer_namespace", "to_env"]
