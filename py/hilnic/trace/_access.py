"""Duck-typed access to the stack's objects, so reports do not import `net` or `drivers`.

The names follow docs/internals.md and Linux (bstats/qstats, net_device_stats, struct
dql); a few alternative spellings are accepted because the objects are plain Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def get(obj: Any, name: str) -> Any:
    """`obj.a.b` for name "a.b"; mappings are indexed; None if any step is missing."""
    cur = obj
    for part in name.split("."):
        if cur is None:
            return None
        cur = cur.get(part) if isinstance(cur, Mapping) else getattr(cur, part, None)
    return cur


def num(obj: Any, *names: str, default: int = 0) -> int:
    """The first of `names` that `obj` has, as an int (a method is called, a queue is len()ed)."""
    for name in names:
        v = get(obj, name)
        if v is None:
            continue
        if callable(v):
            try:
                v = v()
            except TypeError:
                continue
        if isinstance(v, (int, float)):
            return int(v)
        try:
            return len(v)
        except TypeError:
            continue
    return default


def txqs(dev: Any) -> list[Any]:
    """The device's TX queues (netdev_queue objects), or [dev] if it keeps them inline."""
    for name in ("_tx", "tx_queues", "txqs", "txq"):
        q = getattr(dev, name, None)
        if q is None:
            continue
        if isinstance(q, (list, tuple)):
            return list(q)
        return [q]
    return [dev]


def root_qdisc(dev: Any) -> Any:
    for owner in (dev, *txqs(dev)):
        for name in ("qdisc", "root_qdisc"):
            q = getattr(owner, name, None)
            if q is not None:
                return q
    return None


def dql_of(txq: Any) -> Any:
    for name in ("dql", "bql"):
        d = getattr(txq, name, None)
        if d is not None:
            return d
    return None
