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
    elif callable(getattr(q, "dump_opts", None)) and kind in _PRINT_QOPT:
        head += " " + _PRINT_QOPT[kind](q.dump_opts()).rstrip()
    b, qs = _stats(q)
    drops, overlimits, requeues = num(qs, "drops"), num(qs, "overlimits"), num(qs, "requeues")
    qlen = num(qs, "qlen") if qs is not None and getattr(qs, "qlen", None) is not None else num(q, "q.qlen", "qlen")
    xstats = ""
    if callable(getattr(q, "dump_xstats", None)) and kind in _PRINT_XSTATS:
        xstats = _PRINT_XSTATS[kind](q.dump_xstats()) + "\n"
    return (f"{head}\n"
            f" Sent {num(b, 'bytes')} bytes {num(b, 'packets')} pkt "
            f"(dropped {drops}, overlimits {overlimits} requeues {requeues})\n"
            f" backlog {sprint_size(num(qs, 'backlog'))} {qlen}p requeues {requeues}\n"
            f"{xstats}")


# -- iproute2's qdisc modules (tc/q_fq_codel.c, tc/q_fq.c) and unit printers (lib/utils.c) ----------


def sprint_time(us: int) -> str:
    """print_time: a time in us (%.3gs, %.3gms, %uus)."""
    if us >= 1_000_000:
        return f"{us / 1_000_000:.3g}s"
    if us >= 1000:
        return f"{us / 1000:.3g}ms"
    return f"{us}us"


def sprint_time64(ns: int) -> str:
    """print_time64: a time in ns."""
    if ns >= 1_000_000_000:
        return f"{ns / 1_000_000_000:.3g}s"
    if ns >= 1_000_000:
        return f"{ns / 1_000_000:.3g}ms"
    if ns >= 1000:
        return f"{ns / 1000:.3g}us"
    return f"{ns}ns"


def sprint_rate(rate: int) -> str:
    """print_rate: bytes/s shown in bit/s with SI prefixes, divided while exact (or >= 1000 k)."""
    rate <<= 3
    units = ("", "K", "M", "G", "T")
    i = 0
    while i < len(units) - 1:
        if rate < 1000 or (rate % 1000 and rate < 1000 * 1000):
            break
        rate //= 1000
        i += 1
    return f"{rate}{units[i]}bit"


def fq_codel_print_opt(o: Mapping[str, int]) -> str:
    out = f"limit {o['limit']}p flows {o['flows']} quantum {o['quantum']} target {sprint_time(o['target'])} "
    if "ce_threshold" in o:
        out += f"ce_threshold {sprint_time(o['ce_threshold'])} "
    out += f"interval {sprint_time(o['interval'])} memory_limit {sprint_size(o['memory_limit'])} "
    if o["ecn"]:
        out += "ecn "
    if o["drop_batch_size"]:
        out += f"drop_batch {o['drop_batch_size']} "
    return out


def fq_codel_print_xstats(st: Mapping[str, int]) -> str:
    out = (f"  maxpacket {st['maxpacket']} drop_overlimit {st['drop_overlimit']} "
           f"new_flow_count {st['new_flow_count']} ecn_mark {st['ecn_mark']}")
    if st["ce_mark"]:
        out += f" ce_mark {st['ce_mark']}"
    if st["memory_usage"]:
        out += f" memory_used {st['memory_usage']}"
    if st["drop_overmemory"]:
        out += f" drop_overmemory {st['drop_overmemory']}"
    return out + f"\n  new_flows_len {st['new_flows_len']} old_flows_len {st['old_flows_len']}"


def fq_print_opt(o: Mapping[str, Any]) -> str:
    out = (f"limit {o['plimit']}p flow_limit {o['flow_plimit']}p buckets {1 << o['buckets_log']} "
           f"orphan_mask {o['orphan_mask']} ")
    if not o["rate_enable"]:
        out += "nopacing "
    bands, priomap = o["priomap"]
    out += f"bands {bands} priomap " + "".join(f"{b} " for b in priomap)
    out += "weights " + "".join(f"{w} " for w in o["weights"])
    out += f"quantum {sprint_size(o['quantum'])} initial_quantum {sprint_size(o['initial_quantum'])} "
    if o["flow_max_rate"] != 0xFFFFFFFF:
        out += f"maxrate {sprint_rate(o['flow_max_rate'])} "
    if o["low_rate_threshold"]:
        out += f"low_rate_threshold {sprint_rate(o['low_rate_threshold'])} "
    out += f"refill_delay {sprint_time(o['flow_refill_delay'])} "
    if o["ce_threshold"] != 0xFFFFFFFF:
        out += f"ce_threshold {sprint_time(o['ce_threshold'])} "
    out += f"timer_slack {sprint_time64(o['timer_slack'])} horizon {sprint_time(o['horizon'])} "
    out += "horizon_drop " if o["horizon_drop"] else "horizon_cap "
    out += f"offload_horizon {sprint_time(o['offload_horizon'])} "
    return out


def fq_print_xstats(st: Mapping[str, Any]) -> str:
    out = f"  flows {st['flows']} (inactive {st['inactive_flows']} throttled {st['throttled_flows']})"
    out += "".join(f" band{i}_pkts {n}" for i, n in enumerate(st["band_pkt_count"]))
    if st["time_next_delayed_flow"] > 0:
        out += f" next_packet_delay {sprint_time64(st['time_next_delayed_flow'])}"
    out += f"\n  gc {st['gc_flows']} highprio {st['highprio_packets']}"
    if st["fastpath_packets"]:
        out += f" fastpath {st['fastpath_packets']}"
    if st["tcp_retrans"]:
        out += f" retrans {st['tcp_retrans']}"
    out += f" throttled {st['throttled']}"
    if st["unthrottle_latency_ns"]:
        out += f" latency {sprint_time64(st['unthrottle_latency_ns'])}"
    if st["ce_mark"]:
        out += f" ce_mark {st['ce_mark']}"
    if st["flows_plimit"]:
        out += f" flows_plimit {st['flows_plimit']}"
    if (st["pkts_too_long"] or st["allocation_errors"] or st["horizon_drops"] or st["horizon_caps"]
            or any(st["band_drops"])):
        out += "\n"
        if st["pkts_too_long"]:
            out += f" pkts_too_long {st['pkts_too_long']}"
        if st["allocation_errors"]:
            out += f" alloc_errors {st['allocation_errors']}"
        if st["horizon_drops"]:
            out += f" horizon_drops {st['horizon_drops']}"
        if st["horizon_caps"]:
            out += f"  horizon_caps {st['horizon_caps']}"
        out += "".join(f" band{i}_drops {n}" for i, n in enumerate(st["band_drops"]) if n)
    return out


_PRINT_QOPT = {"fq_codel": fq_codel_print_opt, "fq": fq_print_opt}
_PRINT_XSTATS = {"fq_codel": fq_codel_print_xstats, "fq": fq_print_xstats}


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


__all__ = ["bql", "ethtool_S", "sprint_rate", "sprint_size", "sprint_time", "sprint_time64", "tc_s_qdisc"]
