"""BBR congestion control, version 1 as in mainline Linux 6.x (net/ipv4/tcp_bbr.c).

On each ACK BBR updates its model of the path from the delivery-rate sample (tcp_rate.py):

    bottleneck_bandwidth = windowed_max(delivered / elapsed, 10 round trips)
    min_rtt = windowed_min(rtt, 10 seconds)
    pacing_rate = pacing_gain * bottleneck_bandwidth
    cwnd = max(cwnd_gain * bottleneck_bandwidth * min_rtt, 4)

and moves through STARTUP (gain 2/ln2 until the bandwidth stops growing by 25% for three
rounds), DRAIN (the inverse gain until the queue it built is gone), PROBE_BW (the gain cycle
5/4, 3/4, 1 ×6) and PROBE_RTT (cwnd 4 for 200 ms when min_rtt is 10 s old). It paces: bbr_init
asks for pacing (SK_PACING_NEEDED), which fq does (EDT), or else TCP's own pacing hrtimer.
Long-term bandwidth sampling detects token-bucket policers.

Bandwidth is in packets/us << BW_SCALE (24), gains in 1/256 (BBR_UNIT), times in us and
jiffies as in the kernel.
"""

from __future__ import annotations

from hilnic.include.net.tcp import after, before, tcp_packets_in_flight, tcp_stamp_us_delta
from hilnic.lib.win_minmax import Minmax, minmax_get, minmax_reset, minmax_running_max
from hilnic.net.core.net_namespace import get_random_u32_below
from hilnic.net.core.sock import (
    CA_EVENT_TX_START,
    SK_PACING_NEEDED,
    SK_PACING_NONE,
    TCP_CONG_NON_RESTRICTED,
    RateSample,
    TCP_CA_Loss,
    TCP_CA_Open,
    TCP_CA_Recovery,
    TcpCongestionOps,
    TcpSock,
)
from hilnic.net.ipv4.tcp_cong import tcp_register_congestion_control
from hilnic.net.ipv4.tcp_output import HZ, MAX_TCP_HEADER, TCP_INFINITE_SSTHRESH, TCP_INIT_CWND
from hilnic.net.ipv4.tcp_rate import tcp_min_rtt

U32 = 0xFFFFFFFF

BW_SCALE = 24  # rate in pkts/us << 24: ~715 bps per unit, 0.06 pps .. 256 Mpps in a u32
BW_UNIT = 1 << BW_SCALE
BBR_SCALE = 8  # scaling factor for fractions in BBR (e.g. gains)
BBR_UNIT = 1 << BBR_SCALE
USEC_PER_SEC = 1_000_000
USEC_PER_MSEC = 1000
GSO_LEGACY_MAX_SIZE = 65536

# enum bbr_mode
BBR_STARTUP = 0  # ramp up sending rate rapidly to fill pipe
BBR_DRAIN = 1  # drain any queue created during startup
BBR_PROBE_BW = 2  # discover, share bw: pace around estimated bw
BBR_PROBE_RTT = 3  # cut inflight to min to probe min_rtt
BBR_MODE_NAMES = ("STARTUP", "DRAIN", "PROBE_BW", "PROBE_RTT")

CYCLE_LEN = 8  # number of phases in a pacing gain cycle
bbr_bw_rtts = CYCLE_LEN + 2  # window length of bw filter (in rounds)
bbr_min_rtt_win_sec = 10  # window length of min_rtt filter (in sec)
bbr_probe_rtt_mode_ms = 200  # minimum time (in ms) spent at bbr_cwnd_min_target in BBR_PROBE_RTT mode
bbr_min_tso_rate = 1200000  # skip TSO below the following bandwidth (bits/sec)
bbr_pacing_margin_percent = 1  # pace at ~1% below estimated bw, on average
bbr_high_gain = BBR_UNIT * 2885 // 1000 + 1  # 2/ln(2): doubles the rate each RTT, like slow start
bbr_drain_gain = BBR_UNIT * 1000 // 2885  # drains STARTUP's queue in about one round
bbr_cwnd_gain = BBR_UNIT * 2  # tolerates delayed/stretched ACKs
bbr_pacing_gain = (BBR_UNIT * 5 // 4, BBR_UNIT * 3 // 4, BBR_UNIT, BBR_UNIT, BBR_UNIT, BBR_UNIT, BBR_UNIT, BBR_UNIT)
bbr_cycle_rand = 7  # randomize the starting gain cycling phase over N phases
bbr_cwnd_min_target = 4  # at least this many packets in flight
bbr_full_bw_thresh = BBR_UNIT * 5 // 4  # bw up by 1.25x: more bw may be available
bbr_full_bw_cnt = 3  # rounds without such growth: the pipe is full
bbr_lt_intvl_min_rtts = 4  # minimum rounds in a long-term bw sampling interval
bbr_lt_loss_thresh = 50  # lost/delivered above 50/256 (20%): lossy, maybe policed
bbr_lt_bw_ratio = BBR_UNIT // 8  # intervals within 1/8 ...
bbr_lt_bw_diff = 4000 // 8  # ... or 4 Kbit/s of each other are consistent
bbr_lt_bw_max_rtts = 48  # use lt_bw for this many rounds when policed
bbr_extra_acked_gain = BBR_UNIT  # gain for adding extra_acked to target cwnd
bbr_extra_acked_win_rtts = 5  # window length of extra_acked window
bbr_ack_epoch_acked_reset_thresh = 1 << 20  # reset the sampling epoch past this many acked
bbr_extra_acked_max_us = 100 * 1000  # cwnd increment for ack aggregation covers at most 100 ms


class Bbr:
    """struct bbr: BBR's state in icsk_ca_priv (bit fields as plain ints)."""

    __slots__ = ("ack_epoch_acked", "ack_epoch_mstamp", "bw", "cwnd_gain", "cycle_idx", "cycle_mstamp",
                 "extra_acked", "extra_acked_win_idx", "extra_acked_win_rtts", "full_bw", "full_bw_cnt",
                 "full_bw_reached", "has_seen_rtt", "idle_restart", "lt_bw", "lt_is_sampling", "lt_last_delivered",
                 "lt_last_lost", "lt_last_stamp", "lt_rtt_cnt", "lt_use_bw", "min_rtt_stamp", "min_rtt_us", "mode",
                 "next_rtt_delivered", "pacing_gain", "packet_conservation", "prev_ca_state", "prior_cwnd",
                 "probe_rtt_done_stamp", "probe_rtt_round_done", "round_start", "rtt_cnt")

    def __init__(self) -> None:
        # icsk_ca_priv is zeroed when the algorithm is assigned (tcp_assign_congestion_control)
        self.min_rtt_us = 0  # min RTT in min_rtt_win_sec window
        self.min_rtt_stamp = 0  # timestamp of min_rtt_us
        self.probe_rtt_done_stamp = 0  # end time for BBR_PROBE_RTT mode
        self.bw = Minmax()  # max recent delivery rate in pkts/uS << 24
        self.rtt_cnt = 0  # count of packet-timed rounds elapsed
        self.next_rtt_delivered = 0  # scb->tx.delivered at end of round
        self.cycle_mstamp = 0  # time of this cycle phase start
        self.mode = BBR_STARTUP  # current bbr_mode in state machine
        self.prev_ca_state = 0  # CA state on previous ACK
        self.packet_conservation = 0  # use packet conservation?
        self.round_start = 0  # start of packet-timed tx->ack round?
        self.idle_restart = 0  # restarting after idle?
        self.probe_rtt_round_done = 0  # a BBR_PROBE_RTT round at 4 pkts?
        self.lt_is_sampling = 0  # taking long-term ("LT") samples now?
        self.lt_rtt_cnt = 0  # round trips in long-term interval
        self.lt_use_bw = 0  # use lt_bw as our bw estimate?
        self.lt_bw = 0  # LT est delivery rate in pkts/uS << 24
        self.lt_last_delivered = 0  # LT intvl start: tp->delivered
        self.lt_last_stamp = 0  # LT intvl start: tp->delivered_mstamp
        self.lt_last_lost = 0  # LT intvl start: tp->lost
        self.pacing_gain = 0  # current gain for setting pacing rate
        self.cwnd_gain = 0  # current gain for setting cwnd
        self.full_bw_reached = 0  # reached full bw in Startup?
        self.full_bw_cnt = 0  # number of rounds without large bw gains
        self.cycle_idx = 0  # current index in pacing_gain cycle array
        self.has_seen_rtt = 0  # have we seen an RTT sample yet?
        self.prior_cwnd = 0  # prior cwnd upon entering loss recovery
        self.full_bw = 0  # recent bw, to estimate if pipe is full
        # For tracking ACK aggregation:
        self.ack_epoch_mstamp = 0  # start of ACK sampling epoch
        self.extra_acked = [0, 0]  # max excess data ACKed in epoch
        self.ack_epoch_acked = 0  # packets (S)ACKed in sampling epoch
        self.extra_acked_win_rtts = 0  # age of extra_acked, in round trips
        self.extra_acked_win_idx = 0  # current index in extra_acked array


def inet_csk_ca(sk: TcpSock) -> Bbr:
    bbr = sk.icsk_ca_priv
    if not isinstance(bbr, Bbr):
        bbr = sk.icsk_ca_priv = Bbr()
    return bbr


def tcp_jiffies32(sk: TcpSock) -> int:
    return sk.kernel.jiffies & U32


def bbr_full_bw_reached(sk: TcpSock) -> bool:
    """Do we estimate that STARTUP filled the pipe?"""
    return bool(inet_csk_ca(sk).full_bw_reached)


def bbr_max_bw(sk: TcpSock) -> int:
    """The windowed max recent bandwidth sample, in pkts/uS << BW_SCALE."""
    return minmax_get(inet_csk_ca(sk).bw)


def bbr_bw(sk: TcpSock) -> int:
    """The estimated bandwidth of the path, in pkts/uS << BW_SCALE."""
    bbr = inet_csk_ca(sk)
    return bbr.lt_bw if bbr.lt_use_bw else bbr_max_bw(sk)


def bbr_extra_acked(sk: TcpSock) -> int:
    """Maximum extra acked in past k-2k round trips, where k = bbr_extra_acked_win_rtts."""
    bbr = inet_csk_ca(sk)
    return max(bbr.extra_acked[0], bbr.extra_acked[1])


def bbr_rate_bytes_per_sec(sk: TcpSock, rate: int, gain: int) -> int:
    """Rate in bytes per second, with a gain, in the kernel's order (no u64 overflow up to
    2.9 Tbit/s and gain 2.89)."""
    rate *= sk.mss_cache
    rate *= gain
    rate >>= BBR_SCALE
    rate *= USEC_PER_SEC // 100 * (100 - bbr_pacing_margin_percent)
    return rate >> BW_SCALE


def bbr_bw_to_pacing_rate(sk: TcpSock, bw: int, gain: int) -> int:
    """A BBR bw and gain factor as a pacing rate in bytes per second."""
    return min(bbr_rate_bytes_per_sec(sk, bw, gain), sk.sk_max_pacing_rate)


def bbr_init_pacing_rate_from_rtt(sk: TcpSock) -> None:
    """Initialize pacing rate to: high_gain * init_cwnd / RTT."""
    tp = sk
    bbr = inet_csk_ca(sk)
    if tp.srtt_us:  # any RTT sample yet?
        rtt_us = max(tp.srtt_us >> 3, 1)
        bbr.has_seen_rtt = 1
    else:  # no RTT sample yet: nominal default RTT
        rtt_us = USEC_PER_MSEC
    bw = tp.snd_cwnd * BW_UNIT // rtt_us
    sk.sk_pacing_rate = bbr_bw_to_pacing_rate(sk, bw, bbr_high_gain)


def bbr_set_pacing_rate(sk: TcpSock, bw: int, gain: int) -> None:
    """Pace using current bw estimate and a gain factor."""
    tp = sk
    bbr = inet_csk_ca(sk)
    rate = bbr_bw_to_pacing_rate(sk, bw, gain)
    if not bbr.has_seen_rtt and tp.srtt_us:
        bbr_init_pacing_rate_from_rtt(sk)
    if bbr_full_bw_reached(sk) or rate > sk.sk_pacing_rate:
        sk.sk_pacing_rate = rate


def bbr_min_tso_segs(sk: TcpSock) -> int:
    """Override sysctl_tcp_min_tso_segs: no TSO below bbr_min_tso_rate."""
    return 1 if sk.sk_pacing_rate < (bbr_min_tso_rate >> 3) else 2


def bbr_tso_segs_goal(sk: TcpSock) -> int:
    """tcp_tso_autosize, ignoring the driver's sk_gso_max_size."""
    tp = sk
    byts = min(sk.sk_pacing_rate >> sk.sk_pacing_shift, GSO_LEGACY_MAX_SIZE - 1 - MAX_TCP_HEADER)
    segs = max(byts // tp.mss_cache, bbr_min_tso_segs(sk))
    return min(segs, 0x7F)


def bbr_save_cwnd(sk: TcpSock) -> None:
    """Save "last known good" cwnd so we can restore it after losses or PROBE_RTT."""
    tp = sk
    bbr = inet_csk_ca(sk)
    if bbr.prev_ca_state < TCP_CA_Recovery and bbr.mode != BBR_PROBE_RTT:
        bbr.prior_cwnd = tp.snd_cwnd  # this cwnd is good enough
    else:  # loss recovery or BBR_PROBE_RTT have temporarily cut cwnd
        bbr.prior_cwnd = max(bbr.prior_cwnd, tp.snd_cwnd)


def bbr_cwnd_event(sk: TcpSock, event: int) -> None:
    tp = sk
    bbr = inet_csk_ca(sk)
    if event == CA_EVENT_TX_START and tp.app_limited:
        bbr.idle_restart = 1
        bbr.ack_epoch_mstamp = tp.tcp_mstamp
        bbr.ack_epoch_acked = 0
        # Restarting from idle and app-limited: pace at est. bw, no more speed needed.
        if bbr.mode == BBR_PROBE_BW:
            bbr_set_pacing_rate(sk, bbr_bw(sk), BBR_UNIT)
        elif bbr.mode == BBR_PROBE_RTT:
            bbr_check_probe_rtt_done(sk)


def bbr_bdp(sk: TcpSock, bw: int, gain: int) -> int:
    """bdp = ceil(bw * min_rtt * gain); the initial cwnd before any valid RTT sample."""
    bbr = inet_csk_ca(sk)
    if bbr.min_rtt_us == U32:  # no valid RTT samples yet?
        return TCP_INIT_CWND  # be safe: cap at default initial cwnd
    w = bw * bbr.min_rtt_us
    # Apply the gain, remove the BW_SCALE shift, round up to avoid a negative feedback loop.
    return ((((w * gain) >> BBR_SCALE) + BW_UNIT - 1) // BW_UNIT) & U32


def bbr_quantization_budget(sk: TcpSock, cwnd: int) -> int:
    """Budget for full-sized skbs in the sending host's qdisc and TSO engine and in the
    receiver's GRO/delayed-ACK engine; an even cwnd against delayed ACKs."""
    bbr = inet_csk_ca(sk)
    cwnd += 3 * bbr_tso_segs_goal(sk)  # allow enough full-sized skbs in flight to utilize end systems
    cwnd = (cwnd + 1) & ~1  # reduce delayed ACKs by rounding up cwnd to the next even number
    if bbr.mode == BBR_PROBE_BW and bbr.cycle_idx == 0:  # gain cycling gets inflight above BDP
        cwnd += 2
    return cwnd


def bbr_inflight(sk: TcpSock, bw: int, gain: int) -> int:
    """Find inflight based on min RTT and the estimated bottleneck bandwidth."""
    return bbr_quantization_budget(sk, bbr_bdp(sk, bw, gain))


def bbr_packets_in_net_at_edt(sk: TcpSock, inflight_now: int) -> int:
    """Packets still in the network at the earliest departure time of the next skb:
    inflight_at_edt - (EDT - now) * bw, the EDT skb included when increasing inflight."""
    tp = sk
    bbr = inet_csk_ca(sk)
    now_ns = tp.tcp_clock_cache
    edt_ns = max(tp.tcp_wstamp_ns, now_ns)
    interval_us = (edt_ns - now_ns) // 1000
    interval_delivered = (bbr_bw(sk) * interval_us) >> BW_SCALE
    inflight_at_edt = inflight_now
    if bbr.pacing_gain > BBR_UNIT:  # increasing inflight
        inflight_at_edt += bbr_tso_segs_goal(sk)  # include EDT skb
    if interval_delivered >= inflight_at_edt:
        return 0
    return inflight_at_edt - interval_delivered


def bbr_ack_aggregation_cwnd(sk: TcpSock) -> int:
    """The cwnd increment from the estimated ACK aggregation."""
    aggr_cwnd = 0
    if bbr_extra_acked_gain and bbr_full_bw_reached(sk):
        max_aggr_cwnd = bbr_bw(sk) * bbr_extra_acked_max_us // BW_UNIT
        aggr_cwnd = (bbr_extra_acked_gain * bbr_extra_acked(sk)) >> BBR_SCALE
        aggr_cwnd = min(aggr_cwnd, max_aggr_cwnd)
    return aggr_cwnd


def bbr_set_cwnd_to_recover_or_restore(sk: TcpSock, rs: RateSample, acked: int) -> tuple[bool, int]:
    """First round of recovery: packet conservation (send P per P acked); then slow start up
    to 2P per P; after recovery (or undo), back to the cwnd recovery started with. Returns
    (packet conservation in use, new cwnd)."""
    tp = sk
    bbr = inet_csk_ca(sk)
    prev_state = bbr.prev_ca_state
    state = sk.icsk_ca_state
    cwnd = tp.snd_cwnd
    # An ACK for P pkts releases at most 2*P packets: first deduct the lost packets here,
    # then bbr_set_cwnd slow-starts towards the target.
    if rs.losses > 0:
        cwnd = max(cwnd - rs.losses, 1)
    if state == TCP_CA_Recovery and prev_state != TCP_CA_Recovery:
        # Starting 1st round of Recovery, so do packet conservation.
        bbr.packet_conservation = 1
        bbr.next_rtt_delivered = tp.delivered  # start round now
        # Cut unused cwnd from app behavior, TSQ, or TSO deferral:
        cwnd = tcp_packets_in_flight(tp) + acked
    elif prev_state >= TCP_CA_Recovery and state < TCP_CA_Recovery:
        # Exiting loss recovery; restore cwnd saved before recovery.
        cwnd = max(cwnd, bbr.prior_cwnd)
        bbr.packet_conservation = 0
    bbr.prev_ca_state = state
    if bbr.packet_conservation:
        return True, max(cwnd, tcp_packets_in_flight(tp) + acked)  # yes, using packet conservation
    return False, cwnd


def bbr_set_cwnd(sk: TcpSock, rs: RateSample, acked: int, bw: int, gain: int) -> None:
    """Slow-start up toward target cwnd (if bw estimate is growing, or packet loss has drawn
    us down below target), or snap down to target if we're above it."""
    tp = sk
    bbr = inet_csk_ca(sk)
    cwnd = tp.snd_cwnd
    if acked:  # else no packet fully ACKed; just apply caps
        conserving, cwnd = bbr_set_cwnd_to_recover_or_restore(sk, rs, acked)
        if not conserving:
            target_cwnd = bbr_bdp(sk, bw, gain)
            # Increment the cwnd for excess ACKed data that seems due to aggregation.
            target_cwnd += bbr_ack_aggregation_cwnd(sk)
            target_cwnd = bbr_quantization_budget(sk, target_cwnd)
            # If we're below target cwnd, slow start cwnd toward target cwnd.
            if bbr_full_bw_reached(sk):  # only cut cwnd if we filled the pipe
                cwnd = min(cwnd + acked, target_cwnd)
            elif cwnd < target_cwnd or tp.delivered < TCP_INIT_CWND:
                cwnd = cwnd + acked
            cwnd = max(cwnd, bbr_cwnd_min_target)
    tp.snd_cwnd = min(cwnd, tp.snd_cwnd_clamp)  # apply global cap
    if bbr.mode == BBR_PROBE_RTT:  # drain queue, refresh min_rtt
        tp.snd_cwnd = min(tp.snd_cwnd, bbr_cwnd_min_target)


def bbr_is_next_cycle_phase(sk: TcpSock, rs: RateSample) -> bool:
    """End cycle phase if it's time and/or we hit the phase's in-flight target."""
    tp = sk
    bbr = inet_csk_ca(sk)
    is_full_length = tcp_stamp_us_delta(tp.delivered_mstamp, bbr.cycle_mstamp) > bbr.min_rtt_us
    # The pacing_gain of 1.0 paces at the estimated bw to try to fully use the pipe without
    # increasing the queue.
    if bbr.pacing_gain == BBR_UNIT:
        return is_full_length  # just use wall clock time
    inflight = bbr_packets_in_net_at_edt(sk, rs.prior_in_flight)
    bw = bbr_max_bw(sk)
    # A pacing_gain > 1.0 probes for bw by trying to raise inflight to at least
    # pacing_gain*BDP (may take more than min_rtt on a LAN); not if packets are lost.
    if bbr.pacing_gain > BBR_UNIT:
        return is_full_length and (bool(rs.losses) or inflight >= bbr_inflight(sk, bw, bbr.pacing_gain))
    # A pacing_gain < 1.0 drains the queue probing added: done once inflight is down to BDP.
    return is_full_length or inflight <= bbr_inflight(sk, bw, BBR_UNIT)


def bbr_advance_cycle_phase(sk: TcpSock) -> None:
    tp = sk
    bbr = inet_csk_ca(sk)
    bbr.cycle_idx = (bbr.cycle_idx + 1) & (CYCLE_LEN - 1)
    bbr.cycle_mstamp = tp.delivered_mstamp


def bbr_update_cycle_phase(sk: TcpSock, rs: RateSample) -> None:
    """Gain cycling: cycle pacing gain to converge to fair share of available bw."""
    bbr = inet_csk_ca(sk)
    if bbr.mode == BBR_PROBE_BW and bbr_is_next_cycle_phase(sk, rs):
        bbr_advance_cycle_phase(sk)


def bbr_reset_startup_mode(sk: TcpSock) -> None:
    inet_csk_ca(sk).mode = BBR_STARTUP


def bbr_reset_probe_bw_mode(sk: TcpSock) -> None:
    bbr = inet_csk_ca(sk)
    bbr.mode = BBR_PROBE_BW
    bbr.cycle_idx = CYCLE_LEN - 1 - get_random_u32_below(sk.host, bbr_cycle_rand)
    bbr_advance_cycle_phase(sk)  # flip to next phase of gain cycle


def bbr_reset_mode(sk: TcpSock) -> None:
    if not bbr_full_bw_reached(sk):
        bbr_reset_startup_mode(sk)
    else:
        bbr_reset_probe_bw_mode(sk)


def bbr_reset_lt_bw_sampling_interval(sk: TcpSock) -> None:
    """Start a new long-term sampling interval."""
    tp = sk
    bbr = inet_csk_ca(sk)
    bbr.lt_last_stamp = (tp.delivered_mstamp // USEC_PER_MSEC) & U32
    bbr.lt_last_delivered = tp.delivered
    bbr.lt_last_lost = tp.lost
    bbr.lt_rtt_cnt = 0


def bbr_reset_lt_bw_sampling(sk: TcpSock) -> None:
    """Completely reset long-term bandwidth sampling."""
    bbr = inet_csk_ca(sk)
    bbr.lt_bw = 0
    bbr.lt_use_bw = 0
    bbr.lt_is_sampling = 0
    bbr_reset_lt_bw_sampling_interval(sk)


def bbr_lt_bw_interval_done(sk: TcpSock, bw: int) -> None:
    """Long-term bw sampling interval is done. Estimate whether we're policed."""
    bbr = inet_csk_ca(sk)
    if bbr.lt_bw:  # do we have bw from a previous interval?
        # Is new bw close to the lt_bw from the previous interval?
        diff = abs(bw - bbr.lt_bw)
        if (diff * BBR_UNIT <= bbr_lt_bw_ratio * bbr.lt_bw
                or bbr_rate_bytes_per_sec(sk, diff, BBR_UNIT) <= bbr_lt_bw_diff):
            # All criteria are met; estimate we're policed.
            bbr.lt_bw = (bw + bbr.lt_bw) >> 1  # avg 2 intvls
            bbr.lt_use_bw = 1
            bbr.pacing_gain = BBR_UNIT  # try to avoid drops
            bbr.lt_rtt_cnt = 0
            return
    bbr.lt_bw = bw
    bbr_reset_lt_bw_sampling_interval(sk)


def bbr_lt_bw_sampling(sk: TcpSock, rs: RateSample) -> None:
    """Token-bucket policer detection: two consecutive sampling intervals with consistent
    throughput and high loss set lt_bw, the policed rate, for bbr_lt_bw_max_rtts rounds."""
    tp = sk
    bbr = inet_csk_ca(sk)
    if bbr.lt_use_bw:  # already using long-term rate, lt_bw?
        if bbr.mode == BBR_PROBE_BW and bbr.round_start:
            bbr.lt_rtt_cnt += 1
            if bbr.lt_rtt_cnt >= bbr_lt_bw_max_rtts:
                bbr_reset_lt_bw_sampling(sk)  # stop using lt_bw
                bbr_reset_probe_bw_mode(sk)  # restart gain cycling
        return
    # Wait for the first loss before sampling, to let the policer exhaust its tokens.
    if not bbr.lt_is_sampling:
        if not rs.losses:
            return
        bbr_reset_lt_bw_sampling_interval(sk)
        bbr.lt_is_sampling = 1
    # To avoid underestimates, reset sampling if we run out of data.
    if rs.is_app_limited:
        bbr_reset_lt_bw_sampling(sk)
        return
    if bbr.round_start:
        bbr.lt_rtt_cnt += 1  # count round trips in this interval
    if bbr.lt_rtt_cnt < bbr_lt_intvl_min_rtts:
        return  # sampling interval needs to be longer
    if bbr.lt_rtt_cnt > 4 * bbr_lt_intvl_min_rtts:
        bbr_reset_lt_bw_sampling(sk)  # interval is too long
        return
    # End sampling interval when a packet is lost (the policer tokens are exhausted).
    if not rs.losses:
        return
    # Calculate packets lost and delivered in sampling interval.
    lost = (tp.lost - bbr.lt_last_lost) & U32
    delivered = (tp.delivered - bbr.lt_last_delivered) & U32
    # Is loss rate (lost/delivered) >= lt_loss_thresh? If not, wait.
    if not delivered or (lost << BBR_SCALE) < bbr_lt_loss_thresh * delivered:
        return
    # Find average delivery rate in this sampling interval.
    t = ((tp.delivered_mstamp // USEC_PER_MSEC) - bbr.lt_last_stamp) & U32
    if _s32(t) < 1:
        return  # interval is less than one ms, so wait
    if t >= U32 // USEC_PER_MSEC:  # check if can multiply without overflow
        bbr_reset_lt_bw_sampling(sk)  # interval too long; reset
        return
    t *= USEC_PER_MSEC
    bw = delivered * BW_UNIT // t
    bbr_lt_bw_interval_done(sk, bw)


def bbr_update_bw(sk: TcpSock, rs: RateSample) -> None:
    """Estimate the bandwidth based on how fast packets are delivered."""
    tp = sk
    bbr = inet_csk_ca(sk)
    bbr.round_start = 0
    if rs.delivered < 0 or rs.interval_us <= 0:
        return  # not a valid observation
    # See if we've reached the next RTT
    if not before(rs.prior_delivered, bbr.next_rtt_delivered):
        bbr.next_rtt_delivered = tp.delivered
        bbr.rtt_cnt = (bbr.rtt_cnt + 1) & U32
        bbr.round_start = 1
        bbr.packet_conservation = 0
    bbr_lt_bw_sampling(sk, rs)
    # delivered / interval: a (lower bound) bottleneck bandwidth sample, scaled first.
    bw = (rs.delivered * BW_UNIT // rs.interval_us) & U32
    # An app-limited sample only counts if it describes the path at least as well as the
    # model, so app-limited phases keep sending at the last measured network rate.
    if not rs.is_app_limited or bw >= bbr_max_bw(sk):
        minmax_running_max(bbr.bw, bbr_bw_rtts, bbr.rtt_cnt, bw)  # incorporate new sample


def bbr_update_ack_aggregation(sk: TcpSock, rs: RateSample) -> None:
    """Windowed max of the data acked beyond max_bw * interval (ACK aggregation), which cwnd
    provisions to keep sending through inter-ACK silences."""
    tp = sk
    bbr = inet_csk_ca(sk)
    if not bbr_extra_acked_gain or rs.acked_sacked <= 0 or rs.delivered < 0 or rs.interval_us <= 0:
        return
    if bbr.round_start:
        bbr.extra_acked_win_rtts = min(0x1F, bbr.extra_acked_win_rtts + 1)
        if bbr.extra_acked_win_rtts >= bbr_extra_acked_win_rtts:
            bbr.extra_acked_win_rtts = 0
            bbr.extra_acked_win_idx = 0 if bbr.extra_acked_win_idx else 1
            bbr.extra_acked[bbr.extra_acked_win_idx] = 0
    # Compute how many packets we expected to be delivered over epoch.
    epoch_us = tcp_stamp_us_delta(tp.delivered_mstamp, bbr.ack_epoch_mstamp) & U32
    expected_acked = (bbr_bw(sk) * epoch_us // BW_UNIT) & U32
    # Reset the aggregation epoch if ACK rate is below expected rate or significantly large
    # no. of ack received since epoch (potentially quite old epoch).
    if (bbr.ack_epoch_acked <= expected_acked
            or bbr.ack_epoch_acked + rs.acked_sacked >= bbr_ack_epoch_acked_reset_thresh):
        bbr.ack_epoch_acked = 0
        bbr.ack_epoch_mstamp = tp.delivered_mstamp
        expected_acked = 0
    # Compute excess data delivered, beyond what was expected.
    bbr.ack_epoch_acked = min(0xFFFFF, bbr.ack_epoch_acked + rs.acked_sacked)
    extra_acked = (bbr.ack_epoch_acked - expected_acked) & U32
    extra_acked = min(extra_acked, tp.snd_cwnd)
    if extra_acked > bbr.extra_acked[bbr.extra_acked_win_idx]:
        bbr.extra_acked[bbr.extra_acked_win_idx] = extra_acked & 0xFFFF


def bbr_check_full_bw_reached(sk: TcpSock, rs: RateSample) -> None:
    """STARTUP filled the pipe once the bw estimate has not grown by 25% for three
    non-app-limited rounds."""
    bbr = inet_csk_ca(sk)
    if bbr_full_bw_reached(sk) or not bbr.round_start or rs.is_app_limited:
        return
    bw_thresh = (bbr.full_bw * bbr_full_bw_thresh) >> BBR_SCALE
    if bbr_max_bw(sk) >= bw_thresh:
        bbr.full_bw = bbr_max_bw(sk)
        bbr.full_bw_cnt = 0
        return
    bbr.full_bw_cnt = (bbr.full_bw_cnt + 1) & 3  # a 2-bit field
    bbr.full_bw_reached = int(bbr.full_bw_cnt >= bbr_full_bw_cnt)


def bbr_check_drain(sk: TcpSock, rs: RateSample) -> None:
    """If pipe is probably full, drain the queue and then enter steady-state."""
    bbr = inet_csk_ca(sk)
    if bbr.mode == BBR_STARTUP and bbr_full_bw_reached(sk):
        bbr.mode = BBR_DRAIN  # drain queue we created
        sk.snd_ssthresh = bbr_inflight(sk, bbr_max_bw(sk), BBR_UNIT)
    # fall through to check if in-flight is already small:
    if (bbr.mode == BBR_DRAIN
            and bbr_packets_in_net_at_edt(sk, tcp_packets_in_flight(sk)) <= bbr_inflight(sk, bbr_max_bw(sk), BBR_UNIT)):
        bbr_reset_probe_bw_mode(sk)  # we estimate queue is drained


def bbr_check_probe_rtt_done(sk: TcpSock) -> None:
    tp = sk
    bbr = inet_csk_ca(sk)
    if not (bbr.probe_rtt_done_stamp and after(tcp_jiffies32(sk), bbr.probe_rtt_done_stamp)):
        return
    bbr.min_rtt_stamp = tcp_jiffies32(sk)  # wait a while until PROBE_RTT
    tp.snd_cwnd = max(tp.snd_cwnd, bbr.prior_cwnd)
    bbr_reset_mode(sk)


def bbr_update_min_rtt(sk: TcpSock, rs: RateSample) -> None:
    """Track min RTT over 10 s; when it expires, PROBE_RTT: cwnd 4 for max(200 ms, one round)
    to drain the bottleneck queue and measure the propagation delay again."""
    tp = sk
    bbr = inet_csk_ca(sk)
    now = tcp_jiffies32(sk)
    filter_expired = after(now, (bbr.min_rtt_stamp + bbr_min_rtt_win_sec * HZ) & U32)
    if rs.rtt_us >= 0 and (rs.rtt_us <= bbr.min_rtt_us or (filter_expired and not rs.is_ack_delayed)):
        bbr.min_rtt_us = rs.rtt_us
        bbr.min_rtt_stamp = now
    if bbr_probe_rtt_mode_ms > 0 and filter_expired and not bbr.idle_restart and bbr.mode != BBR_PROBE_RTT:
        bbr.mode = BBR_PROBE_RTT  # dip, drain queue
        bbr_save_cwnd(sk)  # note cwnd so we can restore it
        bbr.probe_rtt_done_stamp = 0
    if bbr.mode == BBR_PROBE_RTT:
        # Ignore low rate samples during this mode.
        tp.app_limited = (tp.delivered + tcp_packets_in_flight(tp)) or 1
        # Maintain min packets in flight for max(200 ms, 1 round).
        if not bbr.probe_rtt_done_stamp and tcp_packets_in_flight(tp) <= bbr_cwnd_min_target:
            bbr.probe_rtt_done_stamp = (now + bbr_probe_rtt_mode_ms * HZ // 1000) & U32
            bbr.probe_rtt_round_done = 0
            bbr.next_rtt_delivered = tp.delivered
        elif bbr.probe_rtt_done_stamp:
            if bbr.round_start:
                bbr.probe_rtt_round_done = 1
            if bbr.probe_rtt_round_done:
                bbr_check_probe_rtt_done(sk)
    # Restart after idle ends only once we process a new S/ACK for data
    if rs.delivered > 0:
        bbr.idle_restart = 0


def bbr_update_gains(sk: TcpSock) -> None:
    bbr = inet_csk_ca(sk)
    mode = bbr.mode
    if mode == BBR_STARTUP:
        bbr.pacing_gain = bbr_high_gain
        bbr.cwnd_gain = bbr_high_gain
    elif mode == BBR_DRAIN:
        bbr.pacing_gain = bbr_drain_gain  # slow, to drain
        bbr.cwnd_gain = bbr_high_gain  # keep cwnd
    elif mode == BBR_PROBE_BW:
        bbr.pacing_gain = BBR_UNIT if bbr.lt_use_bw else bbr_pacing_gain[bbr.cycle_idx]
        bbr.cwnd_gain = bbr_cwnd_gain
    elif mode == BBR_PROBE_RTT:
        bbr.pacing_gain = BBR_UNIT
        bbr.cwnd_gain = BBR_UNIT


def bbr_update_model(sk: TcpSock, rs: RateSample) -> None:
    bbr_update_bw(sk, rs)
    bbr_update_ack_aggregation(sk, rs)
    bbr_update_cycle_phase(sk, rs)
    bbr_check_full_bw_reached(sk, rs)
    bbr_check_drain(sk, rs)
    bbr_update_min_rtt(sk, rs)
    bbr_update_gains(sk)


def bbr_main(sk: TcpSock, ack: int, flag: int, rs: RateSample) -> None:
    """cong_control: update the model, then set the pacing rate and cwnd from it."""
    bbr = inet_csk_ca(sk)
    bbr_update_model(sk, rs)
    bw = bbr_bw(sk)
    bbr_set_pacing_rate(sk, bw, bbr.pacing_gain)
    bbr_set_cwnd(sk, rs, rs.acked_sacked, bw, bbr.cwnd_gain)


def bbr_init(sk: TcpSock) -> None:
    tp = sk
    bbr = inet_csk_ca(sk)
    bbr.prior_cwnd = 0
    tp.snd_ssthresh = TCP_INFINITE_SSTHRESH
    bbr.rtt_cnt = 0
    bbr.next_rtt_delivered = 0
    bbr.prev_ca_state = TCP_CA_Open
    bbr.packet_conservation = 0
    bbr.probe_rtt_done_stamp = 0
    bbr.probe_rtt_round_done = 0
    bbr.min_rtt_us = tcp_min_rtt(tp)
    bbr.min_rtt_stamp = tcp_jiffies32(sk)
    minmax_reset(bbr.bw, bbr.rtt_cnt, 0)  # init max bw to 0
    bbr.has_seen_rtt = 0
    bbr_init_pacing_rate_from_rtt(sk)
    bbr.round_start = 0
    bbr.idle_restart = 0
    bbr.full_bw_reached = 0
    bbr.full_bw = 0
    bbr.full_bw_cnt = 0
    bbr.cycle_mstamp = 0
    bbr.cycle_idx = 0
    bbr_reset_lt_bw_sampling(sk)
    bbr_reset_startup_mode(sk)
    bbr.ack_epoch_mstamp = tp.tcp_mstamp
    bbr.ack_epoch_acked = 0
    bbr.extra_acked_win_rtts = 0
    bbr.extra_acked_win_idx = 0
    bbr.extra_acked = [0, 0]
    if sk.sk_pacing_status == SK_PACING_NONE:  # cmpxchg: ask for pacing unless fq already does it
        sk.sk_pacing_status = SK_PACING_NEEDED


def bbr_sndbuf_expand(sk: TcpSock) -> int:
    """Provision 3 * cwnd since BBR may slow-start even during recovery."""
    return 3


def bbr_undo_cwnd(sk: TcpSock) -> int:
    """A spurious slow-down: reset full pipe detection; cwnd stays (BBR does not cut it on loss)."""
    bbr = inet_csk_ca(sk)
    bbr.full_bw = 0
    bbr.full_bw_cnt = 0
    bbr_reset_lt_bw_sampling(sk)
    return sk.snd_cwnd


def bbr_ssthresh(sk: TcpSock) -> int:
    """Entering loss recovery, so save cwnd for when we exit or undo recovery."""
    bbr_save_cwnd(sk)
    return sk.snd_ssthresh


def bbr_set_state(sk: TcpSock, new_state: int) -> None:
    bbr = inet_csk_ca(sk)
    if new_state == TCP_CA_Loss:
        rs = RateSample(losses=1)
        bbr.prev_ca_state = TCP_CA_Loss
        bbr.full_bw = 0
        bbr.round_start = 1  # treat RTO like end of a round
        bbr_lt_bw_sampling(sk, rs)


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x & 0x80000000 else x


tcp_bbr_cong_ops = TcpCongestionOps(
    name="bbr",
    flags=TCP_CONG_NON_RESTRICTED,
    init=bbr_init,
    cong_control=bbr_main,
    sndbuf_expand=bbr_sndbuf_expand,
    undo_cwnd=bbr_undo_cwnd,
    cwnd_event=bbr_cwnd_event,
    ssthresh=bbr_ssthresh,
    min_tso_segs=bbr_min_tso_segs,
    set_state=bbr_set_state,
)

tcp_register_congestion_control(tcp_bbr_cong_ops)  # module_init(bbr_register)

__all__ = [
    "BBR_DRAIN",
    "BBR_MODE_NAMES",
    "BBR_PROBE_BW",
    "BBR_PROBE_RTT",
    "BBR_STARTUP",
    "BBR_UNIT",
    "BW_SCALE",
    "Bbr",
    "bbr_bdp",
    "bbr_high_gain",
    "bbr_init",
    "bbr_main",
    "tcp_bbr_cong_ops",
]
