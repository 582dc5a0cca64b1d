"""One stats.txt with every report, for a run's output directory."""

from __future__ import annotations

import inspect
import sys
from typing import Any

from hilnic.trace.accounting import copy_accounting
from hilnic.trace.graph import function_graph
from hilnic.trace.procfs import (
    netstat_TcpExt,
    proc_interrupts,
    proc_net_dev,
    proc_net_snmp,
    proc_softirqs,
    proc_stat,
    softnet_stat,
)
from hilnic.trace.tools import bql, ethtool_S, tc_s_qdisc


def driver_stats(driver: Any, dev: Any = None) -> dict[str, int] | None:
    """`ethtool -S` counters: a dict, or a driver's synchronous stats getter.

    Accepted: a dict; an object with `ethtool_stats()`; a driver module with
    `e1000_get_ethtool_stats(dev)` (the e1000 `ethtool_stats` is async because it reads
    the NIC's registers first: await it and pass the dict to include the MMIO counters).
    """
    if isinstance(driver, dict):
        return driver
    candidates = []
    for owner in (driver, dev, getattr(dev, "priv", None)):
        if owner is None:
            continue
        for name in ("e1000_get_ethtool_stats", "get_ethtool_stats", "ethtool_stats"):
            fn = getattr(owner, name, None)
            if callable(fn):
                candidates.append(fn)
    for fn in candidates:
        for args in ((), (dev,)):
            try:
                res = fn(*args)
            except TypeError:
                continue
            if inspect.iscoroutine(res):
                res.close()  # needs the CPU to await MMIO; not callable from a report
                break
            return dict(res)
    return None


def _section(title: str, body: str) -> str:
    return f"== {title} ==\n{body.rstrip()}\n\n"


def collect_stats(host: Any, dev: Any = None, driver: Any = None, *, skb_stats: Any = None,
                  tracer: Any = None, peer: Any = None) -> str:
    """Every report in one text: /proc files, tc, ethtool, BQL, copy accounting, peer.

    `skb_stats` defaults to hilnic.net.core.skbuff's global if that module is loaded (looked up,
    not imported: trace does not depend on net). The function graph is appended only when
    a tracer is given, since it can be long.
    """
    k = host.kernel
    name = getattr(dev, "name", "eth0") if dev is not None else "eth0"
    parts = [
        _section("/proc/net/softnet_stat", softnet_stat(k)),
        _section("/proc/stat (CPU time in ns)", proc_stat(k)),
        _section("/proc/softirqs", proc_softirqs(k)),
        _section("/proc/interrupts", proc_interrupts(k)),
    ]
    if dev is not None:
        parts.append(_section(f"tc -s qdisc show dev {name}", tc_s_qdisc(dev)))
        limits = bql(dev)
        if limits:
            parts.append(_section(f"grep . /sys/class/net/{name}/queues/tx-*/byte_queue_limits/*", limits))
    ds = driver_stats(driver, dev)
    if ds is not None:
        parts.append(_section(f"ethtool -S {name}", ethtool_S(ds)))
    if dev is not None:
        parts.append(_section("/proc/net/dev", proc_net_dev(list(getattr(host, "devices", {}).values()) or [dev])))
    parts.append(
        _section(
            "/proc/net/snmp", proc_net_snmp(host.mib, default_ttl=getattr(getattr(host, "sysctl", None), "ip_default_ttl", 64))
        )
    )
    parts.append(_section("/proc/net/netstat (TcpExt)", netstat_TcpExt(host.mib)))
    if skb_stats is None:
        mod = sys.modules.get("hilnic.net.core.skbuff")
        skb_stats = getattr(mod, "skb_stats", None)
    if skb_stats is not None:
        parts.append(_section("copy accounting", copy_accounting(skb_stats)))
    if peer is not None and callable(getattr(peer, "counters", None)):
        body = "".join(f"  {k2}: {v}\n" for k2, v in peer.counters().items())
        parts.append(_section("peer (beyond the wire)", body))
    if tracer is not None:

        parts.append(_section("function_graph", function_graph(tracer)))
    return "".join(parts)


__all__ = ["collect_stats", "driver_stats"]
