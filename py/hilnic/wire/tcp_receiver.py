"""One passive TCP connection at the peer: the receiving half of Linux's tcp_input.c.

Sans-I/O: `on_segment(seg, now)` and `on_delack_timer(now)` take input and the time;
replies are appended to `outbox` as `TcpReply` tuples and the delayed-ACK deadline is
exposed as `ack_deadline`. `PeerHost` turns replies into frames and arms the timer.

What it models (Linux 6.9 receive side, without SACK):
- passive open: SYN → SYN-ACK (MSS, timestamps echoing TSval, window scale; SACK not
  offered), SYN-RCVD → ESTABLISHED on the ACK; a retransmitted SYN gets the SYN-ACK again;
- in-order data appended to `stream`; out-of-order data buffered and an immediate duplicate
  ACK sent (what drives the sender's fast retransmit); a segment that fills the hole is
  ACKed at once;
- delayed ACK (__tcp_ack_snd_check): ACK at once when more than one receive-MSS is unacked
  (every second full-size segment), else after `delack_ps` (TCP_ATO_MIN, 40 ms);
  optional quickack for the first `quickack` segments (Linux uses up to 16);
- old/duplicate or out-of-window segments (zero-window probes included) get an immediate
  ACK (tcp_send_dupack); data into a zero window is dropped (TCPZeroWindowDrop);
- advertised window from the receive buffer, scaled by `rcv_wscale`, never shrinking the
  right edge (tcp_select_window), with receiver silly-window avoidance; window updates when
  the application reads (tcp_cleanup_rbuf's "window doubled" rule) or `set_rcvbuf`;
- FIN: ACKed together with the peer's own FIN (CLOSE_WAIT → LAST_ACK → CLOSED);
- RST: the connection is closed and marked `reset`.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from hilnic.wire.packets import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TcpOptions

TCP_MSS_DEFAULT = 536  # initial rcv_mss estimate (tcp_initialize_rcv_mss)


def seq_lt(a: int, b: int) -> bool:
    """a before b in 32-bit sequence space."""
    return ((a - b) & 0xFFFFFFFF) >= 0x80000000


def seq_le(a: int, b: int) -> bool:
    return a == b or seq_lt(a, b)


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


class TcpReceiver:
    """The peer's side of one connection, keyed by (host ip, host port, peer port)."""

    def __init__(self, syn: TcpSegment, now: int, iss: int, *, mss: int, rcvbuf: int, wscale: int,
                 delack_ps: int, quickack: int, autoread: bool, timestamps: bool = True) -> None:
        o = syn.opts or TcpOptions()
        self.state = _ST_SYN_RCVD
        self.irs = syn.seq
        self.iss = iss & 0xFFFFFFFF
        self.snd_nxt = (self.iss + 1) & 0xFFFFFFFF  # after our SYN
        self.snd_una = self.iss
        self.rcv_nxt = (syn.seq + 1) & 0xFFFFFFFF
        self.rcv_wup = self.rcv_nxt  # ack number last sent
        self.adv_mss = mss
        # RFC 7323: scaling and timestamps only if the SYN offered them.
        self.wscale_ok = o.wscale is not None
        self.rcv_wscale = wscale if self.wscale_ok else 0
        self.snd_wscale = o.wscale or 0
        self.ts_ok = timestamps and o.tsval is not None
        self.ts_recent = o.tsval or 0
        self.rcvbuf = rcvbuf
        self.autoread = autoread
        self.delack_ps = delack_ps
        self.quick = quickack
        self.rcv_mss = min(mss, TCP_MSS_DEFAULT)
        self.rcv_wnd = 0  # window (bytes) advertised with the last ACK, from rcv_wup
        self._chunks: list[bytes] = []  # in-order bytes delivered, joined into `stream` on demand
        self.delivered_bytes = 0  # len(stream), kept as a counter for cheap polling
        self.unread = 0  # bytes in `stream` the application has not read (autoread=False)
        self.ooo: dict[int, bytes] = {}  # out-of-order segments by sequence number
        self.fin_seq: int | None = None
        self.fin_received = False
        self.reset = False
        self.ack_deadline: int | None = None  # delayed-ACK timer (ps), None when idle
        self.outbox: list[TcpReply] = []
        # counters
        self.acks_sent = 0
        self.dupacks_sent = 0
        self.delayed_acks = 0
        self.zero_window_drops = 0
        self.window_updates = 0
        self._send_synack()

    # -- window -----------------------------------------------------------------------

    def _free_space(self) -> int:
        return max(0, self.rcvbuf - self.unread)

    def _select_window(self) -> int:
        """tcp_select_window: the window to advertise now, in bytes (a multiple of the scale)."""
        free = self._free_space()
        if free < self.rcvbuf // 2 and free < self.rcv_mss:
            free = 0  # receiver SWS avoidance (__tcp_select_window)
        new = min(free, 0xFFFF << self.rcv_wscale)
        new &= ~((1 << self.rcv_wscale) - 1)
        cur = self._receive_window()
        if new < cur:  # never move the right edge left
            unit = 1 << self.rcv_wscale
            new = -(-cur // unit) * unit
        return new

    def _receive_window(self) -> int:
        """tcp_receive_window: what is left of the last advertisement."""
        win = (self.rcv_wup + self.rcv_wnd - self.rcv_nxt) & 0xFFFFFFFF
        return 0 if win >= 0x80000000 else win

    @property
    def window(self) -> int:
        """Bytes the host may send beyond rcv_nxt, as last advertised."""
        return self._receive_window()

    # -- output -----------------------------------------------------------------------

    def _send_synack(self) -> None:
        win = min(self._free_space(), 0xFFFF)  # the SYN-ACK window is never scaled
        self.rcv_wnd = win
        self.outbox.append(TcpReply(TCP_SYN | TCP_ACK, self.iss, self.rcv_nxt, win, True, self.ts_recent))

    def _send_ack(self, flags: int = TCP_ACK, dup: bool = False) -> None:
        win = self._select_window()
        self.rcv_wnd = win
        self.rcv_wup = self.rcv_nxt
        seq = self.snd_nxt
        if flags & TCP_FIN:
            seq = (self.snd_nxt - 1) & 0xFFFFFFFF  # snd_nxt already counts our FIN
        self.outbox.append(TcpReply(flags, seq, self.rcv_nxt, win >> self.rcv_wscale, False, self.ts_recent))
        self.ack_deadline = None
        self.acks_sent += 1
        if dup:
            self.dupacks_sent += 1

    def on_delack_timer(self, now: int) -> None:
        """The delayed-ACK timer fired (tcp_delack_timer_handler)."""
        if self.ack_deadline is None or now < self.ack_deadline:
            return
        self.ack_deadline = None
        if self.state is not _ST_CLOSED and self.rcv_nxt != self.rcv_wup:
            self.delayed_acks += 1
            self._send_ack()

    # -- input ------------------------------------------------------------------------

    def on_segment(self, seg: TcpSegment, now: int) -> None:
        flags = seg.flags
        if flags & TCP_RST:
            self.state = _ST_CLOSED
            self.reset = True
            self.ack_deadline = None
            return
        if self.state is _ST_CLOSED:
            return
        if flags & TCP_SYN:
            if self.state is _ST_SYN_RCVD and seg.seq == self.irs:
                self._send_synack()  # our SYN-ACK was lost or slow: answer again
            else:
                self._send_ack(dup=True)  # challenge ACK (tcp_send_challenge_ack)
            return
        if not flags & TCP_ACK:
            return  # every segment after the SYN carries ACK (tcp_validate_incoming)
        if self.state is _ST_SYN_RCVD:
            if seg.ack != self.snd_nxt:
                return
            self.state = _ST_ESTABLISHED
        ack = seg.ack
        # seq_lt(snd_una, ack) and seq_le(ack, snd_nxt), inlined (per segment)
        if ((self.snd_una - ack) & 0xFFFFFFFF) >= 0x80000000 and (
            ack == self.snd_nxt or ((ack - self.snd_nxt) & 0xFFFFFFFF) >= 0x80000000
        ):
            self.snd_una = ack
            if self.state is _ST_LAST_ACK and ack == self.snd_nxt:
                self.state = _ST_CLOSED  # our FIN is acked
                self.ack_deadline = None
                return

        data = seg.payload
        fin = 1 if flags & TCP_FIN else 0
        seq = seg.seq
        end_seq = (seq + len(data) + fin) & 0xFFFFFFFF
        opts = seg.opts
        if (self.ts_ok and opts is not None and opts.tsval is not None
                and (seq == self.rcv_wup or ((seq - self.rcv_wup) & 0xFFFFFFFF) >= 0x80000000)):  # seq_le
            self.ts_recent = opts.tsval  # tcp_replace_ts_recent: echo the oldest unacked
        if not data and not fin:
            # A pure ACK. One below rcv_wup is a zero-window probe (tcp_xmit_probe_skb):
            # tcp_sequence rejects it and tcp_send_dupack answers with the current window.
            if ((end_seq - self.rcv_wup) & 0xFFFFFFFF) >= 0x80000000:  # seq_lt
                self._send_ack(dup=True)
            return

        rcv_nxt = self.rcv_nxt
        if end_seq == rcv_nxt or ((end_seq - rcv_nxt) & 0xFFFFFFFF) >= 0x80000000:  # seq_le
            self._send_ack(dup=True)  # a retransmission of what we have: ACK at once
            return
        right_edge = (rcv_nxt + self._receive_window()) & 0xFFFFFFFF
        if ((seq - right_edge) & 0xFFFFFFFF) < 0x80000000 and not (seq == rcv_nxt and not data):  # !seq_lt
            if self._receive_window() == 0 and seq == rcv_nxt:
                self.zero_window_drops += 1
            self._send_ack(dup=True)  # beyond the window: drop, tell the sender where we are
            return

        if ((rcv_nxt - seq) & 0xFFFFFFFF) >= 0x80000000:  # seq_lt(rcv_nxt, seq)
            self._queue_ofo(seq, data, fin, right_edge)
            return

        # In sequence (possibly overlapping what we have): trim both ends.
        skip = (self.rcv_nxt - seq) & 0xFFFFFFFF
        room = (right_edge - self.rcv_nxt) & 0xFFFFFFFF
        if skip:
            data = data[skip:]
        if len(data) > room:
            data, fin = data[:room], 0
        had_ofo = bool(self.ooo)
        self._deliver(data)
        if len(data) >= self.rcv_mss:
            self.rcv_mss = min(len(data), self.adv_mss)  # tcp_measure_rcv_mss
        if fin:
            self.fin_seq = (self.rcv_nxt) & 0xFFFFFFFF
        if had_ofo:
            self._drain_ofo()
        if self.fin_seq is not None and self.rcv_nxt == self.fin_seq and not self.fin_received:
            self._receive_fin()
            return
        if had_ofo:
            self._send_ack()  # the hole is (partly) filled: ACK now
        elif self.quick > 0:
            self.quick -= 1
            self._send_ack()
        elif ((self.rcv_nxt - self.rcv_wup) & 0xFFFFFFFF) > self.rcv_mss:
            self._send_ack()  # more than one full segment unacked
        elif self.ack_deadline is None:
            self.ack_deadline = now + self.delack_ps

    def _deliver(self, data: bytes) -> None:
        if data:
            n = len(data)
            self._chunks.append(data if type(data) is bytes else bytes(data))
            self.delivered_bytes += n
            self.rcv_nxt = (self.rcv_nxt + n) & 0xFFFFFFFF
            if not self.autoread:
                self.unread += n

    def _queue_ofo(self, seq: int, data: bytes, fin: int, right_edge: int) -> None:
        room = (right_edge - seq) & 0xFFFFFFFF
        if len(data) > room:
            data, fin = data[:room], 0
        if fin:
            self.fin_seq = (seq + len(data)) & 0xFFFFFFFF
        if data and len(data) > len(self.ooo.get(seq, b"")):
            self.ooo[seq] = data
        self._send_ack(dup=True)  # immediate duplicate ACK: the sender counts these

    def _drain_ofo(self) -> None:
        while self.ooo:
            progressed = False
            for s in list(self.ooo):
                d = self.ooo[s]
                end = (s + len(d)) & 0xFFFFFFFF
                if seq_le(end, self.rcv_nxt):
                    del self.ooo[s]  # wholly covered already
                    progressed = True
                elif seq_le(s, self.rcv_nxt):
                    del self.ooo[s]
                    self._deliver(d[(self.rcv_nxt - s) & 0xFFFFFFFF:])
                    progressed = True
            if not progressed:
                break

    def _receive_fin(self) -> None:
        """tcp_fin: ACK it; the application closes at once, so our FIN rides on the ACK."""
        self.fin_received = True
        self.rcv_nxt = (self.rcv_nxt + 1) & 0xFFFFFFFF
        self.state = _ST_CLOSE_WAIT
        self.snd_nxt = (self.snd_nxt + 1) & 0xFFFFFFFF
        self.state = _ST_LAST_ACK
        self._send_ack(TCP_FIN | TCP_ACK)

    # -- application side -------------------------------------------------------------

    def read(self, n: int | None = None) -> int:
        """The application reads `n` (default all) unread bytes; may send a window update."""
        take = self.unread if n is None else min(n, self.unread)
        self.unread -= take
        if take:
            self._maybe_window_update()
        return take

    def set_rcvbuf(self, nbytes: int) -> None:
        """Change the receive buffer (SO_RCVBUF); a window that opens is announced at once."""
        self.rcvbuf = max(0, nbytes)
        self._maybe_window_update()

    def _maybe_window_update(self) -> None:
        """tcp_cleanup_rbuf: ACK when the window we could offer is twice what is left."""
        if self.state not in (_ST_ESTABLISHED, _ST_SYN_RCVD) or self.fin_received:
            return
        now_win = self._receive_window()
        if 2 * now_win <= self.rcvbuf:
            new = self._select_window()
            if new and new >= 2 * now_win:
                self.window_updates += 1
                self._send_ack()

    @property
    def stream(self) -> bytearray:
        """In-order bytes delivered to the application so far."""
        chunks = self._chunks
        if len(chunks) != 1 or type(chunks[0]) is not bytearray:
            joined = bytearray().join(chunks)
            chunks[:] = [joined]
        return chunks[0]

    @property
    def delivered(self) -> bytes:
        return bytes(self.stream)


__all__ = ["TcpReceiver", "TcpReply", "TcpSegment", "TcpState", "seq_le", "seq_lt"]
