"""CoDel, the Controlled-Delay AQM (include/net/codel.h and codel_impl.h, Nichols and Jacobson):
the parameters, per-queue state and codel_dequeue that fq_codel runs on each of its flows.

A packet whose sojourn time (now - enqueue time) stays above `target` (5 ms) for a whole
`interval` (100 ms) while more than one MTU is queued starts the dropping state: one packet
dropped (or ECN-marked, when the packet is ECN-capable and ecn is on), the next drops
following the control law t + interval/sqrt(count). Time is codel_time_t: ns >> CODEL_SHIFT
(about us), u32 with wrap-around comparisons, as in the kernel.

Generic over the queue as the kernel's is (callbacks for the skb's length, enqueue time, drop
and dequeue), so it imports nothing of net/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CODEL_SHIFT = 10
U32 = 0xFFFFFFFF
REC_INV_SQRT_BITS = 16  # 8 * sizeof(u16)
REC_INV_SQRT_SHIFT = 32 - REC_INV_SQRT_BITS
CODEL_DISABLED_THRESHOLD = 0x7FFFFFFF  # INT_MAX


def MS2TIME(a: int) -> int:
    return (a * 1_000_000) >> CODEL_SHIFT


def codel_time_to_us(val: int) -> int:
    return (val << CODEL_SHIFT) // 1000


def codel_get_time(now_ns: int) -> int:
    """ktime_get_ns() >> CODEL_SHIFT, as a u32."""
    return (now_ns >> CODEL_SHIFT) & U32


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x & 0x80000000 else x


def codel_time_after(a: int, b: int) -> bool:
    return _s32(a - b) > 0


def codel_time_after_eq(a: int, b: int) -> bool:
    return _s32(a - b) >= 0


def codel_time_before(a: int, b: int) -> bool:
    return _s32(a - b) < 0


class CodelParams:
    """struct codel_params: target and interval in codel time, mtu in bytes."""

    __slots__ = ("ce_threshold", "ecn", "interval", "mtu", "target")

    def __init__(self) -> None:  # codel_params_init
        self.target = MS2TIME(5)
        self.ce_threshold = CODEL_DISABLED_THRESHOLD
        self.interval = MS2TIME(100)
        self.mtu = 1514
        self.ecn = False


class CodelVars:
    """struct codel_vars: one queue's control state (zeroed by codel_vars_init)."""

    __slots__ = ("count", "drop_next", "dropping", "first_above_time", "lastcount", "ldelay", "rec_inv_sqrt")

    def __init__(self) -> None:
        self.count = 0  # how many drops we've done since the last time we entered dropping state
        self.lastcount = 0  # count at entry to dropping state
        self.dropping = False  # set to true if in dropping state
        self.rec_inv_sqrt = 0  # reciprocal value of sqrt(count) >> 1
        self.first_above_time = 0  # when we went (or will go) continuously above target
        self.drop_next = 0  # time to drop next packet, or when we dropped last
        self.ldelay = 0  # sojourn time of last dequeued packet


class CodelStats:
    """struct codel_stats."""

    __slots__ = ("ce_mark", "drop_count", "drop_len", "ecn_mark", "maxpacket")

    def __init__(self) -> None:
        self.maxpacket = 0  # largest packet we've seen so far
        self.drop_count = 0  # temp count of dropped packets in dequeue()
        self.drop_len = 0  # bytes of dropped packets in dequeue()
        self.ecn_mark = 0  # number of packets we ECN marked instead of dropping
        self.ce_mark = 0  # number of CE marked packets because of ce_threshold


def codel_Newton_step(vars: CodelVars) -> None:
    """new_invsqrt = (invsqrt / 2) * (3 - count * invsqrt^2), invsqrt in Q0.32."""
    invsqrt = (vars.rec_inv_sqrt << REC_INV_SQRT_SHIFT) & U32
    invsqrt2 = (invsqrt * invsqrt) >> 32
    val = ((3 << 32) - vars.count * invsqrt2) & ((1 << 64) - 1)
    val >>= 2  # avoid overflow in following multiply
    val = ((val * invsqrt) & ((1 << 64) - 1)) >> (32 - 2 + 1)
    vars.rec_inv_sqrt = (val >> REC_INV_SQRT_SHIFT) & 0xFFFF


def reciprocal_scale(val: int, ep_ro: int) -> int:
    return (val * ep_ro) >> 32


def codel_control_law(t: int, interval: int, rec_inv_sqrt: int) -> int:
    """t + interval/sqrt(count), with the reciprocal square root kept in rec_inv_sqrt."""
    return (t + reciprocal_scale(interval, (rec_inv_sqrt << REC_INV_SQRT_SHIFT) & U32)) & U32


SkbLen = Callable[[Any], int]
SkbTime = Callable[[Any], int]


def codel_should_drop(skb: Any, vars: CodelVars, params: CodelParams, stats: CodelStats,
                      skb_len_func: SkbLen, skb_time_func: SkbTime, backlog: int, now: int) -> bool:
    if skb is None:
        vars.first_above_time = 0
        return False
    skb_len = skb_len_func(skb)
    vars.ldelay = (now - skb_time_func(skb)) & U32
    if skb_len > stats.maxpacket:
        stats.maxpacket = skb_len
    if codel_time_before(vars.ldelay, params.target) or backlog <= params.mtu:
        # went below - stay below for at least interval
        vars.first_above_time = 0
        return False
    ok_to_drop = False
    if vars.first_above_time == 0:
        # just went above from below: if we stay above for at least interval, ok to drop
        vars.first_above_time = (now + params.interval) & U32
    elif codel_time_after(now, vars.first_above_time):
        ok_to_drop = True
    return ok_to_drop


def codel_dequeue(ctx: Any, backlog: Callable[[], int], params: CodelParams, vars: CodelVars, stats: CodelStats,
                  skb_len_func: SkbLen, skb_time_func: SkbTime, drop_func: Callable[[Any, Any], None],
                  dequeue_func: Callable[[CodelVars, Any], Any], set_ce: Callable[[Any], bool], now: int) -> Any:
    """The next packet of the queue after CoDel's drops; `backlog()` reads the queue's byte
    backlog (the kernel passes a pointer), `set_ce` is INET_ECN_set_ce, `now` codel_get_time()."""
    skb = dequeue_func(vars, ctx)
    if skb is None:
        vars.dropping = False
        return skb
    drop = codel_should_drop(skb, vars, params, stats, skb_len_func, skb_time_func, backlog(), now)
    if vars.dropping:
        if not drop:
            # sojourn time below target - leave dropping state
            vars.dropping = False
        elif codel_time_after_eq(now, vars.drop_next):
            # Time for the next drop: drop the current packet and dequeue the next, which may
            # take us out of dropping state; with a large backlog several drops may be due now.
            while vars.dropping and codel_time_after_eq(now, vars.drop_next):
                vars.count = (vars.count + 1) & U32  # don't care of possible wrap
                codel_Newton_step(vars)
                if params.ecn and set_ce(skb):
                    stats.ecn_mark += 1
                    vars.drop_next = codel_control_law(vars.drop_next, params.interval, vars.rec_inv_sqrt)
                    break  # goto end
                stats.drop_len += skb_len_func(skb)
                drop_func(skb, ctx)
                stats.drop_count += 1
                skb = dequeue_func(vars, ctx)
                if not codel_should_drop(skb, vars, params, stats, skb_len_func, skb_time_func, backlog(), now):
                    vars.dropping = False  # leave dropping state
                else:
                    # and schedule the next drop
                    vars.drop_next = codel_control_law(vars.drop_next, params.interval, vars.rec_inv_sqrt)
    elif drop:
        if params.ecn and set_ce(skb):
            stats.ecn_mark += 1
        else:
            stats.drop_len += skb_len_func(skb)
            drop_func(skb, ctx)
            stats.drop_count += 1
            skb = dequeue_func(vars, ctx)
            drop = codel_should_drop(skb, vars, params, stats, skb_len_func, skb_time_func, backlog(), now)
        vars.dropping = True
        # If min went above target close to when we last went below it, the drop rate that
        # controlled the queue on the last cycle is a good starting point.
        delta = (vars.count - vars.lastcount) & U32
        if delta > 1 and codel_time_before((now - vars.drop_next) & U32, 16 * params.interval):
            vars.count = delta
            codel_Newton_step(vars)  # next Newton steps correct the approximation quadratically
        else:
            vars.count = 1
            vars.rec_inv_sqrt = U32 >> REC_INV_SQRT_SHIFT
        vars.lastcount = vars.count
        vars.drop_next = codel_control_law(now, params.interval, vars.rec_inv_sqrt)
    # end:
    if skb is not None and codel_time_after(vars.ldelay, params.ce_threshold) and set_ce(skb):
        stats.ce_mark += 1
    return skb


__all__ = [
    "CODEL_DISABLED_THRESHOLD",
    "CODEL_SHIFT",
    "MS2TIME",
    "CodelParams",
    "CodelStats",
    "CodelVars",
    "codel_control_law",
    "codel_dequeue",
    "codel_get_time",
    "codel_should_drop",
    "codel_time_to_us",
]
