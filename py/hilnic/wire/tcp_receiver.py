"""One passive TCP connection at the peer: the receiving half of Linux 6.x's TCP, function by
function (net/ipv4/tcp_input.c, tcp_output.c, tcp_timer.c, tcp.c), and the application on
top of it, which reads with recv(65536) until EOF and then closes.

Sans-I/O: `on_segment(seg, now)` and `on_timer(now)` take input and the time (ps);
replies are appended to `outbox` as `TcpReply` tuples, and `ack_deadline` is when
`on_timer` is due next (the delayed-ACK timer, the SACK-compression timer or the
application's wake-up). `PeerHost` turns replies into frames and arms the timer.
Jiffies are milliseconds (HZ = 1000, as the host model's).

What it models:
- passive open as tcp_conn_request does it: the SYN-ACK's window and scale from
  tcp_select_initial_window (tcp_rmem[1] as buffer, so 65160 with MSS 1460 and timestamps;
  the scale from max(tcp_rmem[2], rmem_max): 10 with the defaults), options MSS, SACK_PERM,
  TS, WS in Linux's order (each only if the SYN offered it); the third ACK makes the
  connection (tcp_init_buffer_space: window_clamp, rcv_ssthresh; the SYN-ACK RTT);
- the delayed-ACK engine: quickack mode for the first TCP_MAX_QUICKACKS (16) ACKs and
  while the window grows (tcp_grow_window sets quick), ato from TCP_ATO_MIN (40 ms) up to
  TCP_DELACK_MAX (200 ms) bounded by the RTT, an ACK at once when more than one rcv_mss is
  unacknowledged and the window's right edge advances (__tcp_ack_snd_check), pingpong after
  a FIN;
- the receive buffer: truesize charged per segment (a software-GSO segment's small head
  plus its payload; payload only when coalesced into the queue's tail), the window from the
  free space (scaling_ratio measured as tcp_measure_rcv_mss does), rcv_ssthresh growth,
  receive-buffer autotuning as the application copies (tcp_rcv_space_adjust), the window
  never shrinking, silly-window avoidance (__tcp_select_window, tcp_select_window),
  window updates on read (tcp_cleanup_rbuf);
- out-of-order data queued with SACK blocks (tcp_data_queue_ofo, tcp_sack_new_ofo_skb,
  at most 3 with timestamps), D-SACK for duplicates (tcp_dsack_set), the first three
  dupacks at once and the rest compressed (tcp_comp_sack_nr 44, 5 % of the RTT up to 1 ms);
- old or out-of-window segments (zero-window probes included) answered by tcp_send_dupack;
- FIN: the ACK is delayed (pingpong); the application reads what is left, gets EOF and
  closes, so its FIN carries that ACK (or follows the ACK its read sent); RST closes.
Not modelled: PAWS, urgent data, memory pressure, receive-queue pruning (data beyond the
buffer is dropped instead).
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple, Protocol

from hilnic.wire.packets import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TcpOptions

TCP_MSS_DEFAULT = 536  # initial rcv_mss estimate (tcp_initialize_rcv_mss)
TCP_MIN_MSS = 88
TCP_MAX_QUICKACKS = 16
TCP_FASTRETRANS_THRESH = 3
TCP_NUM_SACKS = 4
TCPOLEN_TSTAMP_ALIGNED = 12
TCP_MAX_WSCALE = 14
TCP_RMEM_TO_WIN_SCALE = 8
TCP_DEFAULT_SCALING_RATIO = 1 << (TCP_RMEM_TO_WIN_SCALE - 1)
TCP_INIT_CWND = 10
TCP_APP_WIN = 31  # net.ipv4.tcp_app_win
HZ = 1000
JIFFY = 10**9  # ps per jiffy
TCP_ATO_MIN = HZ // 25  # jiffies
TCP_DELACK_MIN = HZ // 25
TCP_DELACK_MAX = HZ // 5
TCP_RTO_MIN_US = 200_000
TCP_RTO_MAX = 120 * HZ
MAX_TCP_OPTION_SPACE = 40

# icsk_ack.pending
ICSK_ACK_SCHED = 1
ICSK_ACK_TIMER = 2
ICSK_ACK_PUSHED = 4
ICSK_ACK_PUSHED2 = 8
ICSK_ACK_NOW = 16

U32 = 0xFFFFFFFF
_HALF = 0x80000000
RECV_SIZE = 65536  # the application's recv() buffer


def seq_lt(a: int, b: int) -> bool:
    """a before b in 32-bit sequence space."""
    return ((a - b) & U32) >= _HALF


def seq_le(a: int, b: int) -> bool:
    return a == b or seq_lt(a, b)


before = seq_lt


def after(a: int, b: int) -> bool:
    return ((b - a) & U32) >= _HALF


class TcpState(Enum):
    SYN_RCVD = "SYN_RECV"
    ESTABLISHED = "ESTABLISHED"
    CLOSE_WAIT = "CLOSE_WAIT"
    LAST_ACK = "LAST_ACK"
    CLOSED = "CLOSE"

# Enum members bound once: class-attribute lookup on an Enum is slow in hot paths.
_ST_CLOSED = TcpState.CLOSED
_ST_CLOSE_WAIT = TcpState.CLOSE_WAIT
_ST_ESTABLISHED = TcpState.ESTABLISHED
_ST_LAST_ACK = TcpState.LAST_ACK
_ST_SYN_RCVD = TcpState.SYN_RCVD


class ReceiverOptions(Protocol):
    """What a receiver reads of its host's settings (peer.PeerOptions has them all)."""

    mss: int
    rmem: tuple[int, int, int]
    rmem_max: int
    rcvbuf: int | None
    moderate_rcvbuf: bool
    window_scaling: bool
    timestamps: bool
    sack: bool
    dsack: bool
    comp_sack_nr: int
    comp_sack_delay_ns: int
    rx_head_truesize: int
    autoread: bool
    app_delay_ps: int


class TcpSegment(NamedTuple):
    """An incoming segment, checksum already verified."""

    seq: int
    ack: int
    flags: int
    window: int
    payload: bytes
    opts: TcpOptions | None


class TcpReply(NamedTuple):
    """A segment for the peer to send: header fields; options are built by the peer."""

    flags: int
    seq: int
    ack: int
    window: int  # the 16-bit header field (already scaled down)
    syn_options: bool  # SYN-ACK option block instead of the timestamp block
    tsecr: int
    sacks: tuple[tuple[int, int], ...] = ()  # SACK blocks (a D-SACK first), after the TS option


def tcp_select_initial_window(space: int, mss: int, window_clamp: int, wscale_ok: bool, rmem_max2: int,
                              init_rcv_wnd: int = 0) -> tuple[int, int, int]:
    """rcv_wnd, window_clamp and rcv_wscale for a SYN or SYN-ACK (tcp_output.c); rmem_max2 is
    max(tcp_rmem[2], net.core.rmem_max), the largest buffer the window may ever need."""
    space = max(space, 0)
    if window_clamp == 0:
        window_clamp = 0xFFFF << TCP_MAX_WSCALE
    space = min(window_clamp, space)
    if space > mss:
        space = space // mss * mss  # a multiple of the MSS
    rcv_wnd = min(space, 0xFFFF)
    if init_rcv_wnd:
        rcv_wnd = min(rcv_wnd, init_rcv_wnd * mss)
    rcv_wscale = 0
    if wscale_ok:
        space = min(max(space, rmem_max2), window_clamp)
        rcv_wscale = max(0, min(space.bit_length() - 1 - 15, TCP_MAX_WSCALE))
    return rcv_wnd, min(0xFFFF << rcv_wscale, window_clamp), rcv_wscale


class TcpReceiver:
    """The peer's side of one connection, keyed by (host ip, host port, peer port).

    Field names are Linux's (tcp_sock, inet_connection_sock.icsk_ack, rx_opt)."""

    def __init__(self, syn: TcpSegment, now: int, iss: int, opts: ReceiverOptions) -> None:
        o = syn.opts or TcpOptions()
        self.opts = opts
        self.state = _ST_SYN_RCVD
        self.irs = syn.seq
        self.iss = iss & U32
        self.snd_nxt = (self.iss + 1) & U32  # after our SYN
        self.snd_una = self.iss
        self.rcv_nxt = (syn.seq + 1) & U32
        self.rcv_wup = self.rcv_nxt  # rcv_nxt when the window was last announced
        self.copied_seq = self.rcv_nxt  # what the application has read up to
        # tcp_conn_request: what the SYN offered, with the sysctls that allow it
        self.wscale_ok = o.wscale is not None and opts.window_scaling
        self.snd_wscale = (o.wscale or 0) if self.wscale_ok else 0
        self.ts_ok = opts.timestamps and o.tsval is not None
        self.sack_ok = opts.sack and o.sack_ok
        self.ts_recent = o.tsval or 0
        self.mss_clamp = o.mss or TCP_MSS_DEFAULT
        self.advmss = opts.mss  # the route's advmss, announced in the SYN-ACK
        # the buffer: SO_RCVBUF (locked, no autotuning) or tcp_rmem[1]
        self.rcvbuf_locked = opts.rcvbuf is not None
        self.sk_rcvbuf = opts.rcvbuf if opts.rcvbuf is not None else opts.rmem[1]
        self.scaling_ratio = TCP_DEFAULT_SCALING_RATIO
        self.rmem_alloc = 0  # truesize of what the receive and out-of-order queues hold
        # tcp_openreq_init_rwin
        full_space = self.tcp_full_space()
        window_clamp = full_space if self.rcvbuf_locked else 0
        self.rcv_wnd, self.window_clamp, self.rcv_wscale = tcp_select_initial_window(
            full_space, self.advmss - (TCPOLEN_TSTAMP_ALIGNED if self.ts_ok else 0), window_clamp,
            self.wscale_ok, max(opts.rmem[2], opts.rmem_max))
        self.rcv_ssthresh = self.rcv_wnd
        self.tcp_header_len = 20 + (TCPOLEN_TSTAMP_ALIGNED if self.ts_ok else 0)
        # delayed-ACK engine (icsk_ack)
        self.ack_pending = 0
        self.quick = 0
        self.pingpong = False
        self.ato = 0  # jiffies; 0 until the first data
        self.ack_timeout = 0  # jiffies
        self.lrcvtime = 0  # jiffies
        self.rcv_mss = TCP_MSS_DEFAULT
        self.last_seg_size = 0
        # RTT: our SYN-ACK's (tcp_synack_rtt_meas), and the receiver's estimate (rcv_rtt_est)
        self.snt_synack = now
        self.synack_retrans = 0
        self.srtt_us = 0  # ×8
        self.rto = 1 * HZ  # jiffies (TCP_TIMEOUT_INIT until the SYN-ACK RTT is known)
        self.rcv_rtt_us = 0  # ×8
        self.rcv_rtt_seq = 0
        self.rcv_rtt_time = 0  # us
        self.rcv_rtt_last_tsecr = 0
        self.rcvq_space = 0
        self.rcvq_seq = 0
        self.rcvq_time = 0  # us
        # queues: in-order bytes (delivered to `stream` as the application reads) and ofo
        self._rq: list[list[int]] = []  # receive queue skbs: [bytes unread, truesize]
        self._chunks: list[bytes] = []  # in-order bytes, joined into `stream` on demand
        self.delivered_bytes = 0  # in-order bytes received (read or not)
        self.read_bytes = 0  # bytes the application has read
        self.ooo: list[list] = []  # [seq, end_seq, data, fin, truesize], sorted by seq
        self.selective_acks: list[list[int]] = []  # [start, end], the most recent first
        self.dsack = False
        self.duplicate_sack = (0, 0)
        self.compressed_ack = 0
        self.compressed_ack_rcv_nxt = 0
        self.dup_ack_counter = 0
        self.comp_deadline: int | None = None  # SACK-compression hrtimer (ps)
        self.fin_seq: int | None = None
        self.fin_received = False  # RCV_SHUTDOWN
        self.app_closed = False
        self.app_wake: int | None = None  # when the sleeping application runs (ps)
        self.reset = False
        self.outbox: list[TcpReply] = []
        self.now = now
        # counters
        self.acks_sent = 0
        self.dupacks_sent = 0
        self.delayed_acks = 0
        self.zero_window_drops = 0
        self.window_updates = 0
        self.ofo_segments = 0
        self.dsacks_sent = 0
        self.sack_acks = 0
        self.acks_compressed = 0
        self._send_synack()

    # -- buffer and window (tcp.h, tcp_output.c) ------------------------------------------------

    def tcp_win_from_space(self, space: int) -> int:
        return (space * self.scaling_ratio) >> TCP_RMEM_TO_WIN_SCALE

    def tcp_space_from_win(self, win: int) -> int:
        return (win << TCP_RMEM_TO_WIN_SCALE) // self.scaling_ratio

    def tcp_space(self) -> int:
        return self.tcp_win_from_space(self.sk_rcvbuf - self.rmem_alloc)

    def tcp_full_space(self) -> int:
        return self.tcp_win_from_space(self.sk_rcvbuf)

    def tcp_receive_window(self) -> int:
        """What is left of the last advertisement."""
        win = (self.rcv_wup + self.rcv_wnd - self.rcv_nxt) & U32
        return 0 if win >= _HALF else win

    @property
    def window(self) -> int:
        """Bytes the host may send beyond rcv_nxt, as last advertised."""
        return self.tcp_receive_window()

    def __tcp_select_window(self) -> int:
        mss = self.rcv_mss
        free_space = self.tcp_space()
        allowed_space = self.tcp_full_space()
        full_space = min(self.window_clamp, allowed_space)
        wscale = self.rcv_wscale
        if mss > full_space:
            mss = full_space
            if mss <= 0:
                return 0
        if free_space < (full_space >> 1):
            self.quick = 0
            free_space &= ~((1 << wscale) - 1)  # never grown by the scale's rounding
            if free_space < (allowed_space >> 4) or free_space < mss:
                return 0
        free_space = min(free_space, self.rcv_ssthresh)
        if wscale:
            unit = 1 << wscale
            return (free_space + unit - 1) & ~(unit - 1)  # ALIGN: not scaled away
        window = self.rcv_wnd
        if window <= free_space - mss or window > free_space:
            window = free_space // mss * mss
        elif mss == full_space and free_space > window + (full_space >> 1):
            window = free_space
        return window

    def tcp_select_window(self) -> int:
        """The window field: never shrink what was offered; remember it; scale it."""
        cur_win = self.tcp_receive_window()
        new_win = self.__tcp_select_window()
        if new_win < cur_win:
            unit = 1 << self.rcv_wscale
            new_win = (cur_win + unit - 1) & ~(unit - 1)
        self.rcv_wnd = new_win
        self.rcv_wup = self.rcv_nxt
        return min(new_win, 0xFFFF << self.rcv_wscale) >> self.rcv_wscale

    def tcp_set_window_clamp(self, val: int) -> None:
        new_clamp = max(2304 // 2, val)  # SOCK_MIN_RCVBUF / 2
        old = self.window_clamp
        if new_clamp == old:
            return
        self.window_clamp = new_clamp
        if new_clamp < old:
            self.rcv_ssthresh = min(self.rcv_ssthresh, new_clamp)  # __tcp_adjust_rcv_ssthresh
        else:
            self.rcv_ssthresh = max(min(self.rcv_wnd, new_clamp), self.rcv_ssthresh)

    def tcp_init_buffer_space(self) -> None:
        """At ESTABLISHED: window_clamp leaves the 'application' part of the buffer (one
        advmss reserved), rcv_ssthresh starts at most there."""
        maxwin = self.tcp_full_space()
        if self.window_clamp >= maxwin:
            self.window_clamp = maxwin
            if maxwin > 4 * self.advmss:
                self.window_clamp = max(maxwin - (maxwin >> TCP_APP_WIN), 4 * self.advmss)
        if self.window_clamp > 2 * self.advmss and self.window_clamp + self.advmss > maxwin:
            self.window_clamp = max(2 * self.advmss, maxwin - self.advmss)
        self.rcv_ssthresh = min(self.rcv_ssthresh, self.window_clamp)
        self.rcvq_time = self.now // 10**6
        self.rcvq_seq = self.copied_seq
        self.rcvq_space = min(self.rcv_ssthresh, self.rcv_wnd, TCP_INIT_CWND * self.advmss)

    def tcp_grow_window(self, length: int, truesize: int, adjust: bool) -> None:
        """Raise rcv_ssthresh while the skbs' overhead leaves room; ACK quickly meanwhile."""
        room = min(self.window_clamp, self.tcp_space()) - self.rcv_ssthresh
        if room <= 0:
            return
        if adjust:
            truesize -= self.opts.rx_head_truesize  # truesize_adjust: a paged skb's head may go
        if self.tcp_win_from_space(truesize) <= length:
            incr = 2 * self.advmss
        else:
            incr = 0  # __tcp_grow_window
            t = self.tcp_win_from_space(truesize) >> 1
            window = self.tcp_win_from_space(self.opts.rmem[2]) >> 1
            while self.rcv_ssthresh <= window:
                if t <= length:
                    incr = 2 * self.rcv_mss
                    break
                t >>= 1
                window >>= 1
        if incr:
            incr = max(incr, 2 * length)
            self.rcv_ssthresh += min(room, incr)
            self.quick |= 1

    def tcp_rcvbuf_grow(self, newval: int) -> None:
        """DRS (tcp_moderate_rcvbuf): a buffer for twice what was copied in the last RTT, more
        while that grows (slow start), plus what the out-of-order queue reaches."""
        oldval = self.rcvq_space
        self.rcvq_space = newval
        if not self.opts.moderate_rcvbuf or self.rcvbuf_locked:
            return
        rcvwin = newval << 1  # DRS is always one RTT late
        rcvwin += (rcvwin * (newval - oldval) // oldval) << 1  # let the sender double its rate
        if self.ooo:
            rcvwin += (self.ooo[-1][1] - self.rcv_nxt) & U32
        rcvbuf = min(self.tcp_space_from_win(rcvwin), self.opts.rmem[2])
        if rcvbuf > self.sk_rcvbuf:
            self.sk_rcvbuf = rcvbuf
            self.window_clamp = self.tcp_win_from_space(rcvbuf)  # the clamp follows

    def tcp_rcv_space_adjust(self) -> None:
        """Once an RTT: what the application copied (less what still waits in the queue)
        beyond the last measure grows the buffer."""
        if not self.rcv_rtt_us:
            return
        now_us = self.now // 10**6
        time = now_us - self.rcvq_time
        if time < (self.rcv_rtt_us >> 3):
            return
        copied = ((self.copied_seq - self.rcvq_seq) & U32) - ((self.rcv_nxt - self.copied_seq) & U32)
        if copied > self.rcvq_space:
            self.tcp_rcvbuf_grow(copied)
        self.rcvq_seq = self.copied_seq
        self.rcvq_time = now_us

    # -- RTT ----------------------------------------------------------------------------------

    def tcp_synack_rtt_meas(self) -> None:
        if self.synack_retrans:
            return
        m = max((self.now - self.snt_synack) // 10**6, 1)
        self.srtt_us = m << 3
        rttvar = max(m << 1, TCP_RTO_MIN_US)
        self.rto = min(-(-((self.srtt_us >> 3) + rttvar) // 1000), TCP_RTO_MAX)

    def tcp_rcv_rtt_update(self, sample: int, win_dep: int) -> None:
        """Latch a lower sample at once (so autotuning does not overshoot); smooth a higher one
        only with timestamps, and only while the receive queue is empty."""
        old_sample = self.rcv_rtt_us
        m = sample << 3
        if old_sample == 0 or m < old_sample:
            self.rcv_rtt_us = m
            return
        if win_dep or self.rcv_nxt != self.copied_seq:
            return
        self.rcv_rtt_us = old_sample - (old_sample >> 3) + sample

    def tcp_rcv_rtt_measure(self) -> None:
        """Without timestamps: one window's worth of data per RTT."""
        now_us = self.now // 10**6
        if self.rcv_rtt_time:
            if before(self.rcv_nxt, self.rcv_rtt_seq):
                return
            self.tcp_rcv_rtt_update(max(now_us - self.rcv_rtt_time, 1), 1)
        self.rcv_rtt_seq = (self.rcv_nxt + self.rcv_wnd) & U32
        self.rcv_rtt_time = now_us

    def tcp_rcv_rtt_measure_ts(self, seg_len: int, tsecr: int) -> None:
        """With timestamps: our TSval echoed back on a full segment."""
        if tsecr == self.rcv_rtt_last_tsecr:
            return
        self.rcv_rtt_last_tsecr = tsecr
        if seg_len >= self.rcv_mss:
            delta = ((self.now // JIFFY) - tsecr) & U32
            if 0 < delta < 0x7FFFFFFF // 1000:  # zero samples tell nothing (ms clock)
                self.tcp_rcv_rtt_update(delta * 1000, 0)

    # -- the delayed-ACK engine ----------------------------------------------------------------

    def tcp_incr_quickack(self, max_quickacks: int) -> None:
        quickacks = self.rcv_wnd // (2 * self.rcv_mss) or 2
        quickacks = min(quickacks, max_quickacks)
        if quickacks > self.quick:
            self.quick = quickacks

    def tcp_enter_quickack_mode(self, max_quickacks: int) -> None:
        self.tcp_incr_quickack(max_quickacks)
        self.pingpong = False
        self.ato = TCP_ATO_MIN

    def tcp_in_quickack_mode(self) -> bool:
        return bool(self.quick) and not self.pingpong

    def tcp_measure_rcv_mss(self, length: int, truesize: int, flags: int) -> None:
        """Guess the sender's MSS from what arrives; a full segment with PSH asks the reader
        to ACK (ICSK_ACK_PUSHED); the payload/truesize ratio sets scaling_ratio."""
        lss = self.last_seg_size
        self.last_seg_size = 0
        if length >= self.rcv_mss:
            if length != self.rcv_mss:
                self.scaling_ratio = max((length << TCP_RMEM_TO_WIN_SCALE) // truesize, 1)
                self.tcp_set_window_clamp(self.tcp_win_from_space(self.sk_rcvbuf))
            self.rcv_mss = min(length, self.advmss)
            if flags & TCP_PSH:
                self.ack_pending |= ICSK_ACK_PUSHED
        else:
            hlen = length + self.tcp_header_len
            if hlen >= TCP_MSS_DEFAULT + 20 or (hlen >= TCP_MIN_MSS + 20 and not flags & (TCP_FIN | TCP_SYN | TCP_PSH)):
                length = hlen - self.tcp_header_len
                self.last_seg_size = length
                if length == lss:
                    self.rcv_mss = length
                    return
            if self.ack_pending & ICSK_ACK_PUSHED:
                self.ack_pending |= ICSK_ACK_PUSHED2
            self.ack_pending |= ICSK_ACK_PUSHED

    def tcp_event_data_recv(self, length: int, truesize: int, flags: int) -> None:
        self.ack_pending |= ICSK_ACK_SCHED
        if length == self.rcv_mss and not flags & TCP_PSH:
            self.last_seg_size = 0  # tcp_measure_rcv_mss with nothing to learn (the common case)
        else:
            self.tcp_measure_rcv_mss(length, truesize, flags)
        if not self.rcv_rtt_time or not before(self.rcv_nxt, self.rcv_rtt_seq):
            self.tcp_rcv_rtt_measure()
        now = self.now // JIFFY
        if not self.ato:
            # The first data: start the delayed-ACK engine in quickack mode.
            self.tcp_incr_quickack(TCP_MAX_QUICKACKS)
            self.ato = TCP_ATO_MIN
        else:
            m = now - self.lrcvtime
            if m <= TCP_ATO_MIN // 2:
                self.ato = (self.ato >> 1) + TCP_ATO_MIN // 2
            elif m < self.ato:
                self.ato = min((self.ato >> 1) + m, self.rto)
            elif m > self.rto:
                self.tcp_incr_quickack(TCP_MAX_QUICKACKS)  # the sender idled: ACK quickly
        self.lrcvtime = now
        if length >= 128 and self.rcv_ssthresh < self.window_clamp:  # else no room to grow
            self.tcp_grow_window(length, truesize, True)

    def tcp_send_delayed_ack(self) -> None:
        ato = self.ato
        now = self.now // JIFFY
        if ato > TCP_DELACK_MIN:
            max_ato = HZ // 2
            if self.pingpong or self.ack_pending & ICSK_ACK_PUSHED:
                max_ato = TCP_DELACK_MAX
            if self.srtt_us:
                rtt = max(-(-(self.srtt_us >> 3) // 1000), TCP_DELACK_MIN)
                if rtt < max_ato:
                    max_ato = rtt
            ato = min(ato, max_ato)
        ato = min(ato, TCP_DELACK_MAX)  # icsk_delack_max
        timeout = now + ato
        if self.ack_pending & ICSK_ACK_TIMER:
            if self.ack_timeout <= now + (ato >> 2):  # about to fire anyway: send now
                self.tcp_send_ack()
                return
            if not timeout < self.ack_timeout:
                timeout = self.ack_timeout
        self.ack_pending |= ICSK_ACK_SCHED | ICSK_ACK_TIMER
        self.ack_timeout = timeout

    def tcp_delack_timer_handler(self) -> None:
        if self.state is _ST_CLOSED:
            return
        if not self.ack_pending & ICSK_ACK_TIMER:
            return
        if self.ack_timeout > self.now // JIFFY:
            return  # re-armed for later
        self.ack_pending &= ~ICSK_ACK_TIMER
        if self.ack_pending & ICSK_ACK_SCHED:
            if not self.pingpong:
                self.ato = min(self.ato << 1, self.rto)  # delayed ACK missed: inflate ATO
            else:
                self.pingpong = False  # leave pingpong mode, deflate ATO
                self.ato = TCP_ATO_MIN
            self.delayed_acks += 1
            self.tcp_send_ack()

    def __tcp_ack_snd_check(self, ofo_possible: bool) -> None:
        if ((((self.rcv_nxt - self.rcv_wup) & U32) > self.rcv_mss and self.__tcp_select_window() >= self.rcv_wnd)
                or self.tcp_in_quickack_mode() or self.ack_pending & ICSK_ACK_NOW):
            self.tcp_send_ack()
            return
        if not ofo_possible or not self.ooo:
            self.tcp_send_delayed_ack()
            return
        if not self.sack_ok or self.compressed_ack >= self.opts.comp_sack_nr:
            self.tcp_send_ack()
            return
        if self.compressed_ack_rcv_nxt != self.rcv_nxt:
            self.compressed_ack_rcv_nxt = self.rcv_nxt
            self.dup_ack_counter = 0
        if self.dup_ack_counter < TCP_FASTRETRANS_THRESH:
            self.dup_ack_counter += 1
            self.tcp_send_ack()
            return
        self.compressed_ack += 1
        if self.comp_deadline is not None:
            return
        # compress the ACK for 5 % of the RTT, at most tcp_comp_sack_delay_ns
        rtt = self.rcv_rtt_us
        if self.srtt_us and self.srtt_us < rtt:
            rtt = self.srtt_us
        delay_ns = min(self.opts.comp_sack_delay_ns, rtt * (1000 >> 3) // 20)
        self.comp_deadline = self.now + delay_ns * 1000

    def tcp_ack_snd_check(self) -> None:
        if not self.ack_pending & ICSK_ACK_SCHED:
            return  # we sent a segment already
        self.__tcp_ack_snd_check(True)

    # -- output -------------------------------------------------------------------------------

    def _send_synack(self) -> None:
        self.outbox.append(TcpReply(TCP_SYN | TCP_ACK, self.iss, self.rcv_nxt, min(self.rcv_wnd, 0xFFFF), True,
                                    self.ts_recent))

    def _sack_blocks(self) -> tuple[tuple[int, int], ...]:
        """tcp_established_options: a D-SACK, then the SACK blocks, as many as fit (3 with
        timestamps, 4 without)."""
        blocks = [tuple(b) for b in self.selective_acks]
        if self.dsack:
            blocks.insert(0, self.duplicate_sack)
        if not blocks:
            return ()
        remaining = MAX_TCP_OPTION_SPACE - (TCPOLEN_TSTAMP_ALIGNED if self.ts_ok else 0)
        return tuple(blocks[:(remaining - 4) // 8])  # type: ignore[arg-type]

    def tcp_send_ack(self, flags: int = TCP_ACK) -> None:
        """A segment carrying an ACK (FIN with it when the application closes); what any ACK
        does to the delayed-ACK and compression state (tcp_event_ack_sent)."""
        sacks = self._sack_blocks() if self.sack_ok and (self.selective_acks or self.dsack) else ()
        if sacks:
            self.sack_acks += 1
            if self.dsack:
                self.dsacks_sent += 1
        self.dsack = False
        win = self.tcp_select_window()
        seq = self.snd_nxt
        if flags & TCP_FIN:
            seq = (self.snd_nxt - 1) & U32  # snd_nxt already counts our FIN
        self.outbox.append(TcpReply(flags, seq, self.rcv_nxt, win, False, self.ts_recent, sacks))
        self.acks_sent += 1
        # tcp_event_ack_sent
        if self.compressed_ack:
            self.acks_compressed += self.compressed_ack
            self.compressed_ack = 0
            self.comp_deadline = None
        if self.quick:  # tcp_dec_quickack_mode
            if self.ack_pending & ICSK_ACK_SCHED:
                if self.quick <= 1:
                    self.quick = 0
                    self.ato = TCP_ATO_MIN
                else:
                    self.quick -= 1
        self.ack_pending = 0  # inet_csk_clear_xmit_timer(ICSK_TIME_DACK)

    def tcp_send_dupack(self, seq: int, end_seq: int) -> None:
        """An unacceptable segment: data already received is D-SACKed, quickack mode."""
        if end_seq != seq and before(seq, self.rcv_nxt):
            self.tcp_enter_quickack_mode(TCP_MAX_QUICKACKS)
            if self.sack_ok and self.opts.dsack:
                self.tcp_dsack_set(seq, self.rcv_nxt if after(end_seq, self.rcv_nxt) else end_seq)
        self.dupacks_sent += 1
        self.tcp_send_ack()

    # -- SACK blocks (tcp_input.c) --------------------------------------------------------------

    def tcp_dsack_set(self, seq: int, end_seq: int) -> None:
        if self.sack_ok and self.opts.dsack:
            self.dsack = True
            self.duplicate_sack = (seq, end_seq)

    def tcp_dsack_extend(self, seq: int, end_seq: int) -> None:
        if not self.dsack:
            self.tcp_dsack_set(seq, end_seq)
        else:
            s, e = self.duplicate_sack
            if not after(seq, e) and not after(s, end_seq):
                self.duplicate_sack = (seq if before(seq, s) else s, end_seq if after(end_seq, e) else e)

    @staticmethod
    def _sack_extend(sp: list[int], seq: int, end_seq: int) -> bool:
        if not after(seq, sp[1]) and not after(sp[0], end_seq):
            if before(seq, sp[0]):
                sp[0] = seq
            if after(end_seq, sp[1]):
                sp[1] = end_seq
            return True
        return False

    def tcp_sack_new_ofo_skb(self, seq: int, end_seq: int) -> None:
        """Extend the block the segment touches and move it first, or start a new first block
        (the oldest is forgotten beyond four)."""
        sacks = self.selective_acks
        for i, sp in enumerate(sacks):
            if self._sack_extend(sp, seq, end_seq):
                sacks.insert(0, sacks.pop(i))
                # tcp_sack_maybe_coalesce: the grown first block may swallow others
                first = sacks[0]
                sacks[1:] = [b for b in sacks[1:] if not self._sack_extend(first, b[0], b[1])]
                return
        sacks.insert(0, [seq, end_seq])
        del sacks[TCP_NUM_SACKS:]

    def tcp_sack_remove(self) -> None:
        """rcv_nxt advanced: drop the blocks it covers."""
        if not self.ooo:
            self.selective_acks.clear()
            return
        self.selective_acks = [sp for sp in self.selective_acks if before(self.rcv_nxt, sp[0])]

    # -- input --------------------------------------------------------------------------------

    def on_segment(self, seg: TcpSegment, now: int) -> None:
        self.now = now
        flags = seg.flags
        if flags & TCP_RST:
            self._close()
            self.reset = True
            return
        if self.state is _ST_CLOSED:
            return
        if flags & TCP_SYN:
            if self.state is _ST_SYN_RCVD and seg.seq == self.irs:
                self.synack_retrans += 1
                self._send_synack()  # our SYN-ACK was lost or slow: answer again
            else:
                self.dupacks_sent += 1
                self.tcp_send_ack()  # challenge ACK (tcp_send_challenge_ack)
            return
        if not flags & TCP_ACK:
            return  # every segment after the SYN carries ACK (tcp_validate_incoming)
        if self.state is _ST_SYN_RCVD:
            if seg.ack != self.snd_nxt:
                return
            self.state = _ST_ESTABLISHED
            self.tcp_synack_rtt_meas()
            if self.ts_ok:
                self.advmss -= TCPOLEN_TSTAMP_ALIGNED  # before tcp_init_transfer since 6.16
            self.tcp_init_buffer_space()  # tcp_init_transfer
            hint = min(self.advmss + (TCPOLEN_TSTAMP_ALIGNED if self.ts_ok else 0),
                       self.mss_clamp - (TCPOLEN_TSTAMP_ALIGNED if self.ts_ok else 0),
                       self.rcv_wnd // 2, TCP_MSS_DEFAULT)
            self.rcv_mss = max(hint, TCP_MIN_MSS)  # tcp_initialize_rcv_mss (at the child's birth)
        ack = seg.ack
        if after(ack, self.snd_una) and not after(ack, self.snd_nxt):
            self.snd_una = ack
            if self.state is _ST_LAST_ACK and ack == self.snd_nxt:
                self._close()  # our FIN is acked
                return
        data = seg.payload
        fin = 1 if flags & TCP_FIN else 0
        seq = seg.seq
        end_seq = (seq + len(data) + fin) & U32
        opts = seg.opts
        tsval = opts.tsval if opts is not None and self.ts_ok else None
        if tsval is not None and not after(seq, self.rcv_wup):
            self.ts_recent = tsval  # tcp_replace_ts_recent: echo the oldest unacked
        # tcp_sequence: old (below rcv_wup) or beyond the window: tcp_send_dupack
        rcv_nxt = self.rcv_nxt
        if seq != rcv_nxt and (before(end_seq, self.rcv_wup)
                               or after(seq, (rcv_nxt + self.tcp_receive_window()) & U32)):
            self.tcp_send_dupack(seq, end_seq)
            return
        if not data and not fin:
            return  # a pure ACK
        if tsval is not None and opts is not None and opts.tsecr:
            self.tcp_rcv_rtt_measure_ts(len(data), opts.tsecr)
        self.tcp_data_queue(seq, end_seq, data, fin, flags)
        if self.state is not _ST_CLOSED:
            self.tcp_ack_snd_check()
        self._app_after_input()

    def tcp_data_queue(self, seq: int, end_seq: int, data: bytes, fin: int, flags: int) -> None:
        self.dsack = False
        rcv_nxt = self.rcv_nxt
        if seq == rcv_nxt:
            win = self.tcp_receive_window()
            if win == 0 and (data or not fin):
                self.zero_window_drops += 1  # TCPZeroWindowDrop
                self.tcp_enter_quickack_mode(TCP_MAX_QUICKACKS)
                self.ack_pending |= ICSK_ACK_SCHED
                return
            self._queue_and_out(data, fin, flags, win)
            return
        if not after(end_seq, rcv_nxt):
            # A retransmission of what we have: D-SACK it, ACK at once.
            self.tcp_dsack_set(seq, end_seq)
            self.tcp_enter_quickack_mode(TCP_MAX_QUICKACKS)
            self.ack_pending |= ICSK_ACK_SCHED
            self.dupacks_sent += 1
            return
        if not before(seq, (rcv_nxt + self.tcp_receive_window()) & U32):
            self.tcp_enter_quickack_mode(TCP_MAX_QUICKACKS)  # out of window, a zero-window probe
            self.ack_pending |= ICSK_ACK_SCHED
            return
        if before(seq, rcv_nxt):
            # Partial: D-SACK the old head, queue the rest.
            self.tcp_dsack_set(seq, rcv_nxt)
            if not self.tcp_receive_window():
                self.zero_window_drops += 1
                self.tcp_enter_quickack_mode(TCP_MAX_QUICKACKS)
                self.ack_pending |= ICSK_ACK_SCHED
                return
            self._queue_and_out(data[(rcv_nxt - seq) & U32:], fin, flags, self.tcp_receive_window())
            return
        self.tcp_data_queue_ofo(seq, end_seq, data, fin)

    def _charge(self, length: int, coalesce: bool) -> int:
        """truesize charged to the receive buffer: the skb's, or only its payload when
        tcp_try_coalesce merges its page frags into the queue's tail skb."""
        return length if coalesce else length + self.opts.rx_head_truesize

    def _queue_and_out(self, data: bytes, fin: int, flags: int, room: int) -> None:
        if len(data) > room:
            data, fin = data[:room], 0  # beyond the window: not accepted
        n = len(data)
        truesize = n + self.opts.rx_head_truesize
        coalesced = bool(self._rq) and self._rq[-1][0] > 0
        if n:
            if self.rmem_alloc > self.sk_rcvbuf:  # tcp_try_rmem_schedule (no pruning modelled)
                self.ack_pending |= ICSK_ACK_NOW | ICSK_ACK_SCHED
                self.zero_window_drops += 1
                return
            if coalesced:  # _charge: tcp_try_coalesce keeps only the payload
                tail = self._rq[-1]
                tail[0] += n
                tail[1] += n
                self.rmem_alloc += n
            else:
                self._rq.append([n, truesize])
                self.rmem_alloc += truesize
            self._deliver(data)
            self.tcp_event_data_recv(n, truesize, flags)
        if fin:
            self.tcp_fin()
        if self.ooo:
            self.tcp_ofo_queue()
            if not self.ooo:
                self.ack_pending |= ICSK_ACK_NOW  # RFC 5681 4.2: the hole is filled, ACK now
        if self.selective_acks:
            self.tcp_sack_remove()

    def _deliver(self, data: bytes) -> None:
        self._chunks.append(data if type(data) is bytes else bytes(data))
        self.delivered_bytes += len(data)
        self.rcv_nxt = (self.rcv_nxt + len(data)) & U32

    def tcp_data_queue_ofo(self, seq: int, end_seq: int, data: bytes, fin: int) -> None:
        """Queue a segment beyond a hole (merging overlaps, D-SACKing duplicates) and SACK it."""
        self.ack_pending |= ICSK_ACK_SCHED
        self.ofo_segments += 1
        n = len(data)
        q = self.ooo
        truesize = n + self.opts.rx_head_truesize
        if self.rmem_alloc > self.sk_rcvbuf:
            return  # tcp_try_rmem_schedule fails: TCPOFODrop
        coalesced = bool(q) and q[-1][1] == seq and not q[-1][3]
        if coalesced:
            last = q[-1]
            last[1], last[2], last[3] = end_seq, last[2] + data, fin
            last[4] += n
            self.rmem_alloc += n
        else:
            i = 0
            while i < len(q) and not before(seq, q[i][0]):
                i += 1
            prev = q[i - 1] if i else None
            if prev is not None and before(seq, prev[1]):
                if not after(end_seq, prev[1]):
                    self.tcp_dsack_set(seq, end_seq)  # all of it is here already
                    if self.sack_ok:
                        self.tcp_sack_new_ofo_skb(seq, end_seq)
                    return
                self.tcp_dsack_set(seq, prev[1])  # partial overlap
            # drop the queued segments this one covers
            while i < len(q) and after(end_seq, q[i][0]):
                nxt = q[i]
                if before(end_seq, nxt[1]):
                    self.tcp_dsack_extend(nxt[0], end_seq)
                    break
                self.tcp_dsack_extend(nxt[0], nxt[1])
                self.rmem_alloc -= nxt[4]
                del q[i]
            q.insert(i, [seq, end_seq, data, fin, truesize])
            self.rmem_alloc += truesize
        if self.sack_ok:
            self.tcp_sack_new_ofo_skb(seq, end_seq)
            self.tcp_grow_window(n, truesize, coalesced)
        self.tcp_rcvbuf_grow(self.rcvq_space)  # room for what the queue reaches

    def tcp_ofo_queue(self) -> None:
        """Move what the hole's filling made in order to the receive queue."""
        q = self.ooo
        dsack_high = self.rcv_nxt
        while q and not after(q[0][0], self.rcv_nxt):
            seq, end_seq, data, fin, truesize = q.pop(0)
            if before(seq, dsack_high):
                dsack = dsack_high
                if before(end_seq, dsack_high):
                    dsack_high = end_seq
                self.tcp_dsack_extend(seq, dsack)
            self.rmem_alloc -= truesize
            if not after(end_seq, self.rcv_nxt):
                continue  # wholly old
            payload = data[(self.rcv_nxt - seq) & U32:]
            coalesced = bool(self._rq) and self._rq[-1][0] > 0
            charge = self._charge(len(payload), coalesced)
            self.rmem_alloc += charge
            if coalesced:
                self._rq[-1][0] += len(payload)
                self._rq[-1][1] += charge
            else:
                self._rq.append([len(payload), charge])
            self._deliver(payload)
            if fin:
                self.tcp_fin()
                break

    def tcp_fin(self) -> None:
        """The peer's FIN in order: CLOSE_WAIT, the ACK delayed (pingpong: our FIN may soon
        carry it); out-of-order data after it is dropped."""
        self.ack_pending |= ICSK_ACK_SCHED
        self.rcv_nxt = (self.rcv_nxt + 1) & U32
        self.fin_received = True
        if self.state is _ST_ESTABLISHED:
            self.state = _ST_CLOSE_WAIT
            self.pingpong = True  # inet_csk_enter_pingpong_mode
        self.ooo.clear()
        self.selective_acks.clear()

    # -- timers ---------------------------------------------------------------------------------

    @property
    def ack_deadline(self) -> int | None:
        """When on_timer is due next (ps), None if no timer runs."""
        t = self.app_wake
        if self.ack_pending & ICSK_ACK_TIMER:
            d = self.ack_timeout * JIFFY
            t = d if t is None or d < t else t
        if self.comp_deadline is not None and (t is None or self.comp_deadline < t):
            t = self.comp_deadline
        return t

    def on_timer(self, now: int) -> None:
        """Run what is due: the application's wake-up, the SACK-compression timer
        (tcp_compressed_ack_kick), the delayed-ACK timer."""
        self.now = now
        if self.app_wake is not None and now >= self.app_wake:
            self.app_wake = None
            self._app_run()
        if self.comp_deadline is not None and now >= self.comp_deadline:
            self.comp_deadline = None
            if self.compressed_ack and self.state is not _ST_CLOSED:
                self.compressed_ack -= 1  # the ACK sent now is not a compressed one
                self.tcp_send_ack()
        if self.ack_pending & ICSK_ACK_TIMER and now >= self.ack_timeout * JIFFY:
            self.tcp_delack_timer_handler()

    on_delack_timer = on_timer

    # -- the application: recv(65536) until EOF, then close() --------------------------------------

    def _app_after_input(self) -> None:
        """sk_data_ready: wake the reader (after opts.app_delay_ps), unless it reads by hand."""
        if self.app_wake is not None or self.app_closed or not self.opts.autoread:
            return
        if self.rcv_nxt == self.copied_seq:
            return  # nothing to read (a FIN makes rcv_nxt one beyond)
        if self.opts.app_delay_ps:
            self.app_wake = self.now + self.opts.app_delay_ps
        else:
            self._app_run()

    def _unread(self) -> int:
        return (self.rcv_nxt - self.copied_seq - (1 if self.fin_received else 0)) & U32

    def _app_run(self) -> None:
        """The woken reader: recv() until the queue is empty; EOF makes it close()."""
        while self._rq:
            self.tcp_recvmsg(RECV_SIZE)
        if self.fin_received and not self.app_closed and self.state is not _ST_CLOSED:
            self.tcp_cleanup_rbuf(0)  # the recv() that returns 0
            self.tcp_close()

    def tcp_recvmsg(self, size: int) -> int:
        """Copy up to `size` bytes to the application (tcp_recvmsg_locked), freeing the skbs
        read, then tcp_rcv_space_adjust and tcp_cleanup_rbuf (no ACK once the connection is gone)."""
        copied = 0
        rq = self._rq
        while rq and copied < size:
            skb = rq[0]
            take = min(skb[0], size - copied)
            copied += take
            skb[0] -= take
            if skb[0] == 0:
                self.rmem_alloc -= skb[1]
                rq.pop(0)
        self.copied_seq = (self.copied_seq + copied) & U32
        self.read_bytes += copied
        if copied:
            self.tcp_rcv_space_adjust()
        if self.state is not _ST_CLOSED:
            self.tcp_cleanup_rbuf(copied)
        return copied

    def tcp_cleanup_rbuf(self, copied: int) -> None:
        """After a read: the ACK tcp_input left for the reader (more than one rcv_mss, or a
        pushed segment drained), or a window update when the window doubled."""
        time_to_ack = False
        if self.ack_pending & ICSK_ACK_SCHED:
            if (((self.rcv_nxt - self.rcv_wup) & U32) > self.rcv_mss
                    or (copied > 0 and (self.ack_pending & ICSK_ACK_PUSHED2
                                        or (self.ack_pending & ICSK_ACK_PUSHED and not self.pingpong))
                        and not self.rmem_alloc)):
                time_to_ack = True
        if copied > 0 and not time_to_ack and not self.fin_received:
            rcv_window_now = self.tcp_receive_window()
            if 2 * rcv_window_now <= self.window_clamp:
                new_window = self.__tcp_select_window()
                if new_window and new_window >= 2 * rcv_window_now:
                    time_to_ack = True
                    self.window_updates += 1
        if time_to_ack:
            self.tcp_send_ack()

    def tcp_close(self) -> None:
        """close() after EOF: CLOSE_WAIT → LAST_ACK, our FIN (carrying the ACK)."""
        self.app_closed = True
        if self.state is not _ST_CLOSE_WAIT:
            return
        self.state = _ST_LAST_ACK
        self.snd_nxt = (self.snd_nxt + 1) & U32
        self.tcp_send_ack(TCP_FIN | TCP_ACK)

    def _close(self) -> None:
        self.state = _ST_CLOSED
        self.ack_pending = 0
        self.comp_deadline = None
        self.app_wake = None

    # -- the application's view ------------------------------------------------------------------

    @property
    def unread(self) -> int:
        """Bytes received in order that the application has not read."""
        return self._unread()

    def read(self, n: int | None = None) -> int:
        """The application reads `n` bytes (default: all) with recv(); at EOF it closes."""
        got = 0
        want = self._unread() if n is None else n
        while got < want and self._rq:
            got += self.tcp_recvmsg(min(RECV_SIZE, want - got))
        if self.fin_received and not self._unread() and not self.app_closed:
            self.tcp_close()
        return got

    def set_rcvbuf(self, nbytes: int) -> None:
        """SO_RCVBUF: the buffer is fixed (no autotuning); a window that opens is announced."""
        self.rcvbuf_locked = True
        self.sk_rcvbuf = max(0, nbytes)
        self.window_clamp = self.tcp_win_from_space(self.sk_rcvbuf)
        self.rcv_ssthresh = max(self.rcv_ssthresh, min(self.window_clamp, self.tcp_space()))
        if self.state in (_ST_ESTABLISHED, _ST_SYN_RCVD) and not self.fin_received:
            rcv_window_now = self.tcp_receive_window()
            new_window = self.__tcp_select_window()
            if new_window and new_window >= 2 * rcv_window_now:
                self.window_updates += 1
                self.tcp_send_ack()

    @property
    def stream(self) -> bytearray:
        """In-order bytes received so far (read by the application or not)."""
        chunks = self._chunks
        if len(chunks) != 1 or type(chunks[0]) is not bytearray:
            joined = bytearray().join(chunks)
            chunks[:] = [joined]
        return chunks[0]

    @property
    def delivered(self) -> bytes:
        return bytes(self.stream)


__all__ = ["ReceiverOptions", "TcpReceiver", "TcpReply", "TcpSegment", "TcpState", "seq_le", "seq_lt",
           "tcp_select_initial_window"]
