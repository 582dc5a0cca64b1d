"""Delivery-rate sampling (net/ipv4/tcp_rate.c): for each ACK, the rate at which the network
delivered this flow's packets, over the interval between sending a packet and its ACK.

    send_rate = #pkts_delivered / (last_snd_time - first_snd_time)
    ack_rate  = #pkts_delivered / (last_ack_time - first_ack_time)
    bw = min(send_rate, ack_rate)

tcp_rate_skb_sent snapshots the connection's delivery state into the skb as it leaves
(`skb.cb["tx"]`, TCP_SKB_CB(skb)->tx: first_tx_mstamp, delivered_mstamp, delivered,
is_app_limited); tcp_rate_skb_delivered picks, among the skbs an ACK (s)acks, the most
recently sent one; tcp_rate_gen turns that into the sample; tcp_rate_check_app_limited marks
the gaps the application leaves. BBR's bandwidth filter reads the samples.
"""

from __future__ import annotations

from hilnic.include.net.tcp import (
    TCPCB_RETRANS,
    TCPCB_SACKED_ACKED,
    after,
    tcp_packets_in_flight,
    tcp_skb_sent_after,
    tcp_skb_timestamp_us,
    tcp_stamp_us_delta,
)
from hilnic.net.core.skbuff import SKB_TRUESIZE, SkBuff
from hilnic.net.core.sock import RateSample, TcpSock

# TCP_SKB_CB(skb)->tx, as the tuple skb.cb["tx"]:
TX_FIRST_TX_MSTAMP = 0  # start of send pipeline phase
TX_DELIVERED_MSTAMP = 1  # when we reached the "delivered" count
TX_DELIVERED = 2  # tp->delivered when the skb was sent
TX_IS_APP_LIMITED = 3  # cwnd not fully used?


def tcp_min_rtt(tp: TcpSock) -> int:
    """minmax_get(&tp->rtt_min): ~0U before the first sample."""
    return tp.min_rtt_us or 0xFFFFFFFF


def tcp_rate_skb_sent(sk: TcpSock, skb: SkBuff) -> None:
    """Snapshot the current delivery information in the skb, to generate a rate sample later
    when the skb is (s)acked in tcp_rate_skb_delivered()."""
    tp = sk
    # Start the sampling interval at the most recent ACK, or now if nothing is in flight:
    # packets_out, not tcp_packets_in_flight, so spurious loss marks cannot shrink it.
    if not tp.packets_out:
        tstamp_us = tcp_skb_timestamp_us(skb)
        tp.first_tx_mstamp = tstamp_us
        tp.delivered_mstamp = tstamp_us
    skb.cb["tx"] = (tp.first_tx_mstamp, tp.delivered_mstamp, tp.delivered, 1 if tp.app_limited else 0)


def tcp_rate_skb_delivered(sk: TcpSock, skb: SkBuff, rs: RateSample) -> None:
    """When an skb is sacked or acked, fill the rate sample with the (prior) delivery
    information of its last transmission. Of several skbs (s)acked by one ACK, the one sent
    last (highest prior delivered count) wins."""
    tp = sk
    scb = skb.cb
    tx = scb.get("tx")
    if tx is None or not tx[TX_DELIVERED_MSTAMP]:
        return
    tx_tstamp = tcp_skb_timestamp_us(skb)
    if not rs.prior_delivered or tcp_skb_sent_after(tx_tstamp, tp.first_tx_mstamp, scb["end_seq"], rs.last_end_seq):
        rs.prior_delivered = tx[TX_DELIVERED]
        rs.prior_mstamp = tx[TX_DELIVERED_MSTAMP]
        rs.is_app_limited = bool(tx[TX_IS_APP_LIMITED])
        rs.is_retrans = bool(scb["sacked"] & TCPCB_RETRANS)
        rs.last_end_seq = scb["end_seq"]
        # Record send time of most recently ACKed packet, and the "send phase" of this window.
        tp.first_tx_mstamp = tx_tstamp
        rs.interval_us = tcp_stamp_us_delta(tp.first_tx_mstamp, tx[TX_FIRST_TX_MSTAMP])
    # Mark off an skb sacked so it is not used again when cumulatively acked.
    if scb["sacked"] & TCPCB_SACKED_ACKED:
        scb["tx"] = (tx[0], 0, tx[2], tx[3])


def tcp_rate_gen(sk: TcpSock, delivered: int, lost: int, is_sack_reneg: bool, rs: RateSample) -> None:
    """Update the connection delivery information and generate a rate sample."""
    tp = sk
    # Clear app limited if bubble is acked and gone.
    if tp.app_limited and after(tp.delivered, tp.app_limited):
        tp.app_limited = 0
    if delivered:
        tp.delivered_mstamp = tp.tcp_mstamp
    rs.acked_sacked = delivered  # freshly ACKed or SACKed
    rs.losses = lost  # freshly marked lost
    # No timing information, or recovering from a SACK reneg: no valid sample.
    if not rs.prior_mstamp or is_sack_reneg:
        rs.delivered = -1
        rs.interval_us = -1
        return
    rs.delivered = tp.delivered - rs.prior_delivered
    # Sending and ACKing are two pipeline phases of a window; with ACK compression the send
    # phase can be the longer one: take the longer.
    snd_us = rs.interval_us
    ack_us = tcp_stamp_us_delta(tp.tcp_mstamp, rs.prior_mstamp)
    rs.interval_us = max(snd_us, ack_us)
    rs.snd_interval_us = snd_us
    rs.rcv_interval_us = ack_us
    # An interval below min_rtt would over-estimate the rate.
    if rs.interval_us < tcp_min_rtt(tp):
        rs.interval_us = -1
        return
    # Record the last non-app-limited or the highest app-limited bw.
    if not rs.is_app_limited or rs.delivered * tp.rate_interval_us >= tp.rate_delivered * rs.interval_us:
        tp.rate_delivered = rs.delivered
        tp.rate_interval_us = rs.interval_us
        tp.rate_app_limited = rs.is_app_limited


def tcp_rate_check_app_limited(sk: TcpSock) -> None:
    """If a gap is detected between sends, mark the socket application-limited."""
    tp = sk
    if (((tp.write_seq - tp.snd_nxt) & 0xFFFFFFFF) < tp.mss_cache  # less than one packet to send
            and tp.sk_wmem_alloc_get() < SKB_TRUESIZE(1)  # nothing in the host's qdisc or NIC queue
            and tcp_packets_in_flight(tp) < tp.snd_cwnd  # not limited by cwnd
            and tp.lost_out <= tp.retrans_out):  # every lost packet retransmitted
        tp.app_limited = (tp.delivered + tcp_packets_in_flight(tp)) or 1


__all__ = [
    "tcp_min_rtt",
    "tcp_rate_check_app_limited",
    "tcp_rate_gen",
    "tcp_rate_skb_delivered",
    "tcp_rate_skb_sent",
]
