"""TCP CUBIC (net/ipv4/tcp_cubic.c, v2.3 as in Linux 6.x) with HyStart, Linux's default
congestion control.

After a loss cwnd follows W(t) = C·(t − K)³ + W_max, with C = bic_scale/1024 = 41/1024 per
(1024ths of a second)³, K the time to regain W_max, and ssthresh = cwnd × beta (717/1024);
fast convergence lowers W_max when a flow loses below its previous W_max; TCP friendliness
keeps it at least as fast as Reno would be. HyStart (hystart_update) leaves slow start
before the first loss, when the ACKs of a round keep arriving for more than half the minimum
RTT (HYSTART_ACK_TRAIN) or the round's RTT grows by an eighth of the minimum, clamped to
4..16 ms (HYSTART_DELAY).

The arithmetic is the kernel's, in its integer widths (u32 wraps, u64 products): times in
jiffies (HZ = 1000) for the cubic epoch and in us (tp->tcp_mstamp) for HyStart.
"""

from __future__ import annotations

from hilnic.include.net.tcp import after
from hilnic.net.core.sock import (
    CA_EVENT_TX_START,
    SK_PACING_NONE,
    AckSample,
    TCP_CA_Loss,
    TcpCongestionOps,
    TcpSock,
)
from hilnic.net.ipv4.tcp_cong import (
    tcp_cong_avoid_ai,
    tcp_register_congestion_control,
    tcp_reno_undo_cwnd,
    tcp_slow_start,
)
from hilnic.net.ipv4.tcp_output import HZ, tcp_in_slow_start, tcp_is_cwnd_limited, usecs_to_jiffies

U32 = 0xFFFFFFFF
U64 = (1 << 64) - 1

BICTCP_BETA_SCALE = 1024  # scale factor beta calculation: max_cwnd = snd_cwnd * beta
BICTCP_HZ = 10  # BIC HZ 2^10 = 1024

# Two methods of hybrid slow start
HYSTART_ACK_TRAIN = 0x1
HYSTART_DELAY = 0x2

HYSTART_MIN_SAMPLES = 8  # number of delay samples for detecting the increase of delay
HYSTART_DELAY_MIN = 4000  # us
HYSTART_DELAY_MAX = 16000  # us

# module parameters (/sys/module/tcp_cubic/parameters/*), at their defaults
fast_convergence = 1
beta = 717  # = 717/1024 (BICTCP_BETA_SCALE)
initial_ssthresh = 0
bic_scale = 41
tcp_friendliness = 1
hystart = 1
hystart_detect = HYSTART_ACK_TRAIN | HYSTART_DELAY
hystart_low_window = 16
hystart_ack_delta_us = 2000

# cubictcp_register: scaling factors precomputed for an SRTT of 100 ms
beta_scale = 8 * (BICTCP_BETA_SCALE + beta) // 3 // (BICTCP_BETA_SCALE - beta)  # 15
cube_rtt_scale = bic_scale * 10  # 1024*c/rtt = 410
cube_factor = (1 << (10 + 3 * BICTCP_HZ)) // (bic_scale * 10)  # 2^40 / 410: K's unit is 1/1024 s


def HYSTART_DELAY_THRESH(x: int) -> int:
    return min(max(x, HYSTART_DELAY_MIN), HYSTART_DELAY_MAX)


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x & 0x80000000 else x


class Bictcp:
    """struct bictcp: CUBIC's state in icsk_ca_priv."""

    __slots__ = ("ack_cnt", "bic_K", "bic_origin_point", "cnt", "curr_rtt", "delay_min", "end_seq",
                 "epoch_start", "found", "last_ack", "last_cwnd", "last_max_cwnd", "last_time", "round_start",
                 "sample_cnt", "tcp_cwnd")

    def __init__(self) -> None:
        # icsk_ca_priv is zeroed when the algorithm is assigned (tcp_assign_congestion_control)
        self.cnt = 0  # increase cwnd by 1 after ACKs
        self.last_max_cwnd = 0  # last maximum snd_cwnd
        self.last_cwnd = 0  # the last snd_cwnd
        self.last_time = 0  # time when updated last_cwnd
        self.bic_origin_point = 0  # origin point of bic function
        self.bic_K = 0  # time to origin point from the beginning of the current epoch
        self.delay_min = 0  # min delay (usec)
        self.epoch_start = 0  # beginning of an epoch
        self.ack_cnt = 0  # number of acks
        self.tcp_cwnd = 0  # estimated tcp cwnd
        self.sample_cnt = 0  # number of samples to decide curr_rtt
        self.found = 0  # the exit point is found?
        self.round_start = 0  # beginning of each round
        self.end_seq = 0  # end_seq of the round
        self.last_ack = 0  # last time when the ACK spacing is close
        self.curr_rtt = 0  # the minimum rtt of current round


def inet_csk_ca(sk: TcpSock) -> Bictcp:
    ca = sk.icsk_ca_priv
    if not isinstance(ca, Bictcp):
        ca = sk.icsk_ca_priv = Bictcp()
    return ca


def bictcp_reset(ca: Bictcp) -> None:
    """memset(ca, 0, offsetof(struct bictcp, unused)): the cubic fields, not HyStart's round."""
    ca.cnt = ca.last_max_cwnd = ca.last_cwnd = ca.last_time = 0
    ca.bic_origin_point = ca.bic_K = ca.delay_min = ca.epoch_start = 0
    ca.ack_cnt = ca.tcp_cwnd = 0
    ca.found = 0


def bictcp_clock_us(sk: TcpSock) -> int:
    return sk.tcp_mstamp & U32


def tcp_jiffies32(sk: TcpSock) -> int:
    return sk.kernel.jiffies & U32


def bictcp_hystart_reset(sk: TcpSock) -> None:
    tp = sk
    ca = inet_csk_ca(sk)
    ca.round_start = ca.last_ack = bictcp_clock_us(sk)
    ca.end_seq = tp.snd_nxt
    ca.curr_rtt = U32
    ca.sample_cnt = 0


def cubictcp_init(sk: TcpSock) -> None:
    ca = inet_csk_ca(sk)
    bictcp_reset(ca)
    if hystart:
        bictcp_hystart_reset(sk)
    if not hystart and initial_ssthresh:
        sk.snd_ssthresh = initial_ssthresh


def cubictcp_cwnd_event(sk: TcpSock, event: int) -> None:
    if event == CA_EVENT_TX_START:
        ca = inet_csk_ca(sk)
        now = tcp_jiffies32(sk)
        delta = _s32(now - sk.lsndtime)
        # Application limited (idle) for a while: shift epoch_start to keep cwnd growth on the curve.
        if ca.epoch_start and delta > 0:
            ca.epoch_start = (ca.epoch_start + delta) & U32
            if after(ca.epoch_start, now):
                ca.epoch_start = now


# cbrt(x) MSB values for x MSB values in [0..63]: v = cbrt(x << 18) - 1, cbrt(x) = (v[x] + 10) >> 6
_CBRT_V = (
    0, 54, 54, 54, 118, 118, 118, 118,
    123, 129, 134, 138, 143, 147, 151, 156,
    157, 161, 164, 168, 170, 173, 176, 179,
    181, 185, 187, 190, 192, 194, 197, 199,
    200, 202, 204, 206, 209, 211, 213, 215,
    217, 219, 221, 222, 224, 225, 227, 229,
    231, 232, 234, 236, 237, 239, 240, 242,
    244, 245, 246, 248, 250, 251, 252, 254,
)


def cubic_root(a: int) -> int:
    """The cube root of a u64: a table lookup, then one Newton-Raphson step (avg error ~0.195%)."""
    b = a.bit_length()  # fls64
    if b < 7:
        return (_CBRT_V[a] + 35) >> 6  # a in [0..63]
    b = ((b * 84) >> 8) - 1
    shift = a >> (b * 3)
    x = (((_CBRT_V[shift] + 10) << b) & U32) >> 6
    # x_{k+1} = (2 * x_k + a / x_k^2) / 3
    x = (2 * x + ((a // (x * (x - 1))) & U32)) & U32
    return ((x * 341) & U32) >> 10


def bictcp_update(ca: Bictcp, cwnd: int, acked: int, now: int) -> None:
    """Compute ca.cnt, the number of ACKed packets per cwnd increment (now: tcp_jiffies32)."""
    ca.ack_cnt = (ca.ack_cnt + acked) & U32  # count the number of ACKed packets
    if ca.last_cwnd == cwnd and _s32(now - ca.last_time) <= HZ // 32:
        return
    # The CUBIC function can update ca.cnt at most once per jiffy; every cwnd reduction sets
    # epoch_start to 0, which forces a recalculation.
    if not (ca.epoch_start and now == ca.last_time):
        ca.last_cwnd = cwnd
        ca.last_time = now
        if ca.epoch_start == 0:
            ca.epoch_start = now  # record beginning
            ca.ack_cnt = acked  # start counting
            ca.tcp_cwnd = cwnd  # syn with cubic
            if ca.last_max_cwnd <= cwnd:
                ca.bic_K = 0
                ca.bic_origin_point = cwnd
            else:
                # K = cubic_root((wmax - cwnd) * (srtt>>3 / HZ) / c * 2^(3*bictcp_HZ))
                ca.bic_K = cubic_root((cube_factor * (ca.last_max_cwnd - cwnd)) & U64)
                ca.bic_origin_point = ca.last_max_cwnd
        # time = (t - K) / 2^bictcp_HZ, c = bic_scale >> 10, rtt = 100 ms: no overflow while
        # cwnd < 1 million packets
        t = _s32(now - ca.epoch_start) & U64
        t = (t + usecs_to_jiffies(ca.delay_min)) & U64
        t = (t << BICTCP_HZ) & U64  # change the unit from HZ to bictcp_HZ
        t //= HZ
        offs = ca.bic_K - t if t < ca.bic_K else t - ca.bic_K
        delta = ((((cube_rtt_scale * offs) & U64) * offs * offs & U64) >> (10 + 3 * BICTCP_HZ)) & U32  # c/rtt·(t-K)³
        if t < ca.bic_K:
            bic_target = (ca.bic_origin_point - delta) & U32  # below origin
        else:
            bic_target = (ca.bic_origin_point + delta) & U32  # above origin
        # cubic function - calc bictcp_cnt
        if bic_target > cwnd:
            ca.cnt = cwnd // (bic_target - cwnd)
        else:
            ca.cnt = (100 * cwnd) & U32  # very small increment
        # The initial growth of the cubic function may be too conservative while the available
        # bandwidth is still unknown: increase cwnd 5% per RTT.
        if ca.last_max_cwnd == 0 and ca.cnt > 20:
            ca.cnt = 20
    # tcp_friendliness:
    if tcp_friendliness:
        delta = ((cwnd * beta_scale) & U32) >> 3
        while ca.ack_cnt > delta:  # update tcp cwnd
            ca.ack_cnt -= delta
            ca.tcp_cwnd = (ca.tcp_cwnd + 1) & U32
        if ca.tcp_cwnd > cwnd:  # if bic is slower than tcp
            delta = ca.tcp_cwnd - cwnd
            max_cnt = cwnd // delta
            if ca.cnt > max_cnt:
                ca.cnt = max_cnt
    # The fastest CUBIC allows is 1 packet per 2 packets ACKed: cwnd × 1.5 per RTT.
    ca.cnt = max(ca.cnt, 2)


def cubictcp_cong_avoid(sk: TcpSock, ack: int, acked: int) -> None:
    tp = sk
    ca = inet_csk_ca(sk)
    if not tcp_is_cwnd_limited(sk):
        return
    if tcp_in_slow_start(tp):
        acked = tcp_slow_start(tp, acked)
        if not acked:
            return
    bictcp_update(ca, tp.snd_cwnd, acked, tcp_jiffies32(sk))
    tcp_cong_avoid_ai(tp, ca.cnt, acked)


def cubictcp_recalc_ssthresh(sk: TcpSock) -> int:
    tp = sk
    ca = inet_csk_ca(sk)
    ca.epoch_start = 0  # end of epoch
    # Wmax and fast convergence: a flow losing below its previous Wmax releases bandwidth.
    if tp.snd_cwnd < ca.last_max_cwnd and fast_convergence:
        ca.last_max_cwnd = (tp.snd_cwnd * (BICTCP_BETA_SCALE + beta)) // (2 * BICTCP_BETA_SCALE)
    else:
        ca.last_max_cwnd = tp.snd_cwnd
    return max((tp.snd_cwnd * beta) // BICTCP_BETA_SCALE, 2)


def cubictcp_state(sk: TcpSock, new_state: int) -> None:
    if new_state == TCP_CA_Loss:
        bictcp_reset(inet_csk_ca(sk))
        bictcp_hystart_reset(sk)


def hystart_ack_delay(sk: TcpSock) -> int:
    """Cushion for TSO/GRO delays (us): time to send 4 GSO packets at the pacing rate (which
    is twice the current rate in slow start), at most 1 ms."""
    rate = sk.sk_pacing_rate
    if not rate:
        return 0
    return min(1000, sk.sk_gso_max_size * 4 * 1_000_000 // rate)


def hystart_update(sk: TcpSock, delay: int) -> None:
    tp = sk
    ca = inet_csk_ca(sk)
    mib = sk.host.mib["TcpExt"]
    if after(tp.snd_una, ca.end_seq):
        bictcp_hystart_reset(sk)
    if hystart_detect & HYSTART_ACK_TRAIN:
        now = bictcp_clock_us(sk)
        # first detection parameter - ack-train detection
        if _s32(now - ca.last_ack) <= hystart_ack_delta_us:
            ca.last_ack = now
            threshold = ca.delay_min + hystart_ack_delay(sk)
            # The train triggers past delay_min/2; pacing may have delayed packets up to RTT/2
            # in slow start, hence the whole delay_min when paced.
            if sk.sk_pacing_status == SK_PACING_NONE:
                threshold >>= 1
            if _s32(now - ca.round_start) > threshold:
                ca.found = 1
                mib["TCPHystartTrainDetect"] += 1
                mib["TCPHystartTrainCwnd"] += tp.snd_cwnd
                tp.snd_ssthresh = tp.snd_cwnd
    if hystart_detect & HYSTART_DELAY:
        # obtain the minimum delay of more than sampling packets
        if ca.curr_rtt > delay:
            ca.curr_rtt = delay
        if ca.sample_cnt < HYSTART_MIN_SAMPLES:
            ca.sample_cnt += 1
        elif ca.curr_rtt > ca.delay_min + HYSTART_DELAY_THRESH(ca.delay_min >> 3):
            ca.found = 1
            mib["TCPHystartDelayDetect"] += 1
            mib["TCPHystartDelayCwnd"] += tp.snd_cwnd
            tp.snd_ssthresh = tp.snd_cwnd


def cubictcp_acked(sk: TcpSock, sample: AckSample) -> None:
    tp = sk
    ca = inet_csk_ca(sk)
    if sample.rtt_us < 0:  # some calls are for duplicates without timestamps
        return
    # Discard delay samples right after fast recovery
    if ca.epoch_start and _s32(tcp_jiffies32(sk) - ca.epoch_start) < HZ:
        return
    delay = sample.rtt_us or 1
    # first time call or link delay decreases
    if ca.delay_min == 0 or ca.delay_min > delay:
        ca.delay_min = delay
    # hystart triggers when cwnd is larger than some threshold
    if not ca.found and tcp_in_slow_start(tp) and hystart and tp.snd_cwnd >= hystart_low_window:
        hystart_update(sk, delay)


cubictcp = TcpCongestionOps(
    name="cubic",
    init=cubictcp_init,
    ssthresh=cubictcp_recalc_ssthresh,
    cong_avoid=cubictcp_cong_avoid,
    set_state=cubictcp_state,
    undo_cwnd=tcp_reno_undo_cwnd,
    cwnd_event=cubictcp_cwnd_event,
    pkts_acked=cubictcp_acked,
)

tcp_register_congestion_control(cubictcp)  # module_init(cubictcp_register)

__all__ = [
    "Bictcp",
    "bictcp_hystart_reset",
    "bictcp_update",
    "cubic_root",
    "cubictcp",
    "cubictcp_acked",
    "cubictcp_cong_avoid",
    "cubictcp_cwnd_event",
    "cubictcp_init",
    "cubictcp_recalc_ssthresh",
    "cubictcp_state",
    "hystart_update",
]
