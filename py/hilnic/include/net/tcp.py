"""include/net/tcp.h: the header room TCP reserves in front of every skb it builds, and the
inlines every TCP file uses (sequence comparison, in-flight count, the skb's send stamp), so
that tcp_rate.py, which tcp_output.py calls, needs nothing above it.

The sock arguments are duck-typed (a header does not import net/core's struct tcp_sock).
"""

from __future__ import annotations

from typing import Any

from hilnic.include.linux.netdevice import MAX_HEADER

L1_CACHE_BYTES = 64  # x86-64


def L1_CACHE_ALIGN(x: int) -> int:
    return (x + L1_CACHE_BYTES - 1) & ~(L1_CACHE_BYTES - 1)


# L1_CACHE_ALIGN(128 + MAX_HEADER): 192 on the reference kernel (320 on a distribution kernel
# with Hyper-V and IP tunnels). It sizes tcp_sndbuf_expand's per-segment estimate, hence the
# initial sk_sndbuf (46080 with 10 × 1448-byte segments, as Linux reports), the skb_small_head
# cache (net/core/skbuff.py) and so the truesize of every TCP skb (832), and sk_gso_max_size.
MAX_TCP_HEADER = L1_CACHE_ALIGN(128 + MAX_HEADER)

U32 = 0xFFFFFFFF

# TCP_SKB_CB(skb)->sacked
TCPCB_SACKED_ACKED = 0x01
TCPCB_SACKED_RETRANS = 0x02
TCPCB_LOST = 0x04
TCPCB_EVER_RETRANS = 0x80
TCPCB_RETRANS = TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS


def before(a: int, b: int) -> bool:
    """(s32)(a - b) < 0"""
    return ((a - b) & U32) > 0x7FFFFFFF


def after(a: int, b: int) -> bool:
    return ((b - a) & U32) > 0x7FFFFFFF


def tcp_packets_in_flight(tp: Any) -> int:
    return tp.packets_out - (tp.sacked_out + tp.lost_out) + tp.retrans_out


def tcp_stamp_us_delta(t1: int, t0: int) -> int:
    return max(t1 - t0, 0)


def tcp_skb_timestamp_us(skb: Any) -> int:
    """The skb's (last) send time in us: skb->skb_mstamp_ns / NSEC_PER_USEC."""
    return skb.tstamp // 1000


def tcp_skb_sent_after(t1: int, t2: int, seq1: int, seq2: int) -> bool:
    """Was the skb sent at t1 with end seq1 sent after the one at t2 ending at seq2?"""
    return t1 > t2 or (t1 == t2 and after(seq1, seq2))


__all__ = [
    "L1_CACHE_ALIGN",
    "L1_CACHE_BYTES",
    "MAX_TCP_HEADER",
    "TCPCB_EVER_RETRANS",
    "TCPCB_LOST",
    "TCPCB_RETRANS",
    "TCPCB_SACKED_ACKED",
    "TCPCB_SACKED_RETRANS",
    "U32",
    "after",
    "before",
    "tcp_packets_in_flight",
    "tcp_skb_sent_after",
    "tcp_skb_timestamp_us",
    "tcp_stamp_us_delta",
]
