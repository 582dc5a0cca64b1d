"""What the userspace tools print: `tc -s qdisc`, `ethtool -S`, BQL's sysfs files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hilnic.trace._access import dql_of, get, num, root_qdisc, txqs

PFIFO_FAST_PRIOMAP = [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
_KIND_BY_CLASS = {"PfifoFast": "pfifo_fast", "Noqueue": "noqueue", "FqCodel": "fq_codel", "Pfifo": "pfifo", "Mq": "mq"}


def sprint_size(sz: int) -> str:
    """iproute2's sprint_size: bytes, or Kb/Mb when that is (nearly) exact."""
    kilo, mega = 1024, 1024 * 1024
    if sz >= mega and abs(mega * round(sz / mega) - sz) < 1024:
        return f"{round(sz / mega)}Mb"
    if sz >= kilo and abs(kilo * round(sz / kilo) - sz) < 16:
        return f"{round(sz / kilo)}Kb"
    return f"{sz}b"


def qdisc_kind(q: Any) -> str:
    for name in ("kind", "id", "KIND", "ID"):
        v = getattr(q, name, None)
        if isinstance(v, str):
            return v
    cls = type(q).__name__
    return _KIND_BY_CLASS.get(cls, cls.lower())


def _stats(q: Any) -> tuple[Any, Any]:
    """(bstats, qstats); a root that sums its children (mq) exposes them through dump()."""
    dump = getattr(q, "dump", None)
    if callable(dump):
        try:
            return dump()
        except TypeError:
            pass
    return getattr(q, "bstats", None), getattr(q, "qstats", None)


def _qdisc_text(q: Any, where: str) -> str:
    kind = qdisc_kind(q)
    head = f"qdisc {kind} 0: {where}"
    if kind == "pfifo_fast":
        prio = get(q, "prio2band") or get(q, "priomap") or PFIFO_FAST_PRIOMAP
        head += f" bands {num(q, 'bands', default=3)} priomap " + " ".join(str(b) for b in prio)
    elif callable(getattr(q, "tc_params", None)):
        head += " " + q.tc_params()
    b, qs = _stats(q)
    drops, overlimits, requeues = num(qs, "drops"), num(qs, "overlimits"), num(qs, "requeues")
    qlen = num(qs, "qlen") if qs is not None and getattr(qs, "qlen", None) is not None else num(q, "q.qlen", "qlen")
    return (f"{head}\n"
            f" Sent {num(b, 'bytes')} bytes {num(b, 'packets')} pkt "
            f"(dropped {drops}, overlimits {overlimits} requeues {requeues})\n"
            f" backlog {sprint_size(num(qs, 'backlog'))} {qlen}p requeues {requeues}\n")


def tc_s_qdisc(dev: Any, qdisc: Any = None) -> str:
    """`tc -s qdisc show dev <dev>`: the root, then an mq root's per-queue children.

    Layout of iproute2's print_tcstats2_attr; a child of mq shows as `parent :N`.
    """
    q = qdisc if qdisc is not None else root_qdisc(dev)
    if q is None:
        return ""
    out = [_qdisc_text(q, f"root refcnt {num(q, 'refcnt', default=2)}")]
    for i, child in enumerate(getattr(q, "children", None) or []):
        out.append(_qdisc_text(child, f"parent :{i + 1:x}"))
    return "".join(out)


def ethtool_S(stats: Mapping[str, int]) -> str:
    """`ethtool -S <dev>`: the driver's strings and u64 values in the driver's order."""
    return "NIC statistics:\n" + "".join(f"     {k}: {int(v)}\n" for k, v in stats.items())


def bql(dev: Any, sysfs: bool = True) -> str:
    """The byte_queue_limits files of each TX queue, as `grep . .../byte_queue_limits/*` prints them.

    limit_max defaults to DQL_MAX_LIMIT; the 6.9 stall-detector files read 0 (disabled).
    """
    name = get(dev, "name") or "eth0"
    out = []
    for i, txq in enumerate(txqs(dev)):
        d = dql_of(txq)
        if d is None:
            continue
        files = {
            "hold_time": num(d, "hold_time", "slack_hold_time", default=1000),
            "inflight": num(d, "inflight"),
            "limit": num(d, "limit"),
            "limit_max": num(d, "limit_max", "max_limit", default=1879048192),
            "limit_min": num(d, "limit_min", "min_limit"),
            "stall_cnt": num(d, "stall_cnt"),
            "stall_max": num(d, "stall_max"),
            "stall_thrs": num(d, "stall_thrs"),
        }
        prefix = f"/sys/class/net/{name}/queues/tx-{i}/byte_queue_limits/" if sysfs else ""
        out += [f"{prefix}{k}:{v}\n" for k, v in files.items()]
    return "".join(out)


__all__ = ["bql", "ethtool_S", "sprint_size", "tc_s_qdisc"]
