"""The host at the other end of the wire: checks, answers and records what the NIC sent.

`PeerHost` is sans-I/O in the h11/aioquic sense: it never reads a clock or touches a
transport of its own. Frames come in through `receive_frame(WireFrame)` (subscribe it with
`nic.on_frame(peer.receive_frame)`); time and timers come from the `Env`; every answer is a
complete Ethernet frame handed to `send_to_host(bytes)` `wire_delay_ps` after the peer
decided to send it (the one-way delay back to the host; the NIC reports a frame when it
has left the MAC, so the forward delay is folded into this one).

What a real receiver does, it does: a frame with a bad FCS, IPv4 header checksum or
TCP/UDP checksum (pseudo-header included) is dropped and counted by reason; ARP requests
for its address are answered; TCP runs a receiver per connection (tcp_receiver.py); UDP
datagrams are delivered; IPv4 fragments are reassembled (reasm.py). Frames can be lost on
the way in, deterministically (loss.py).

Speed: the fast path (Ethernet/IPv4/TCP) is `struct` plus one big-integer reduction per
checksum and zlib's CRC-32, well above 20,000 full-size frames per wall second. scapy is
not used per frame. With `strict=True` every frame is additionally dissected by scapy and
its verdicts (FCS as reported by the NIC, IPv4 header checksum, TCP/UDP checksum computed
by scapy's own `checksum`/`in4_chksum`) must agree with the fast path, or strict.py raises
`StrictCheckError`: tests run strict, so the fast path is checked against an independent parser.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from zlib import crc32 as zlib_crc32

from hilnic.kernel.env import MS, SEC, US, Env, TimerHandle
from hilnic.lib.checksum import csum_ok, csum_words, pseudo_sum
from hilnic.wire.loss import LossConfig, LossModel
from hilnic.wire.packets import (
    _ARP,
    _IP,
    _TCP,
    _UDP,
    ARPOP_REPLY,
    ARPOP_REQUEST,
    BROADCAST,
    ETH_P_ARP,
    ETH_P_IP,
    IP_DF,
    IP_MF,
    IP_OFFMASK,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TCP_ACK,
    TCP_RST,
    TCP_SYN,
    TcpOptions,
    build_arp,
    build_eth,
    build_ipv4,
    build_tcp,
    fcs,
    ip_bytes,
    ip_str,
    mac_bytes,
    parse_tcp_options,
    tcp_sack_option,
    tcp_synack_options,
    tcp_ts_option,
)
from hilnic.wire.reasm import Reassembler
from hilnic.wire.tcp_receiver import TcpReceiver, TcpSegment, TcpState

if TYPE_CHECKING:
    from hilnic.hw.backend import WireFrame

_ST_CLOSED = TcpState.CLOSED
_tuple_new = tuple.__new__  # TcpSegment(...) without the namedtuple's Python-level __new__
_NOP_NOP_TS = bytes((1, 1, 8, 10))  # NOP, NOP, TIMESTAMP kind, length 10
_II = struct.Struct("!II")
ETH_MIN_FRAME = 64  # with FCS; shorter is a runt, which a MAC discards


@dataclass
class PeerOptions:
    """How the peer behaves. Defaults: a Linux 6.18 receiver with its default sysctls (those
    of tests/linux_ref's captures), whose application reads with recv(65536) until EOF and
    then closes."""

    mss: int = 1460  # the route's advmss, advertised in the SYN-ACK
    rmem: tuple[int, int, int] = (4096, 131072, 33554432)  # net.ipv4.tcp_rmem
    rmem_max: int = 4194304  # net.core.rmem_max (with tcp_rmem[2], it sets the window scale)
    rcvbuf: int | None = None  # SO_RCVBUF's sk_rcvbuf (locked: no autotuning); None: tcp_rmem[1]
    moderate_rcvbuf: bool = True  # net.ipv4.tcp_moderate_rcvbuf (receive-buffer autotuning)
    window_scaling: bool = True  # net.ipv4.tcp_window_scaling
    timestamps: bool = True  # net.ipv4.tcp_timestamps: answer TS when the SYN offers it
    sack: bool = True  # net.ipv4.tcp_sack: SACK when the SYN offers it
    dsack: bool = True  # net.ipv4.tcp_dsack
    comp_sack_nr: int = 44  # net.ipv4.tcp_comp_sack_nr
    comp_sack_delay_ns: int = 1_000_000  # net.ipv4.tcp_comp_sack_delay_ns
    # truesize of a received segment beyond its payload: the small head (skb_small_head_cache)
    # of a segment the sender's software GSO built, as veth hands it over
    rx_head_truesize: int = 832
    autoread: bool = True  # the application reads (recv(65536) until EOF, then close); False: `read()`
    app_delay_ps: int = 30 * US  # from the data's arrival until the woken reader runs (the captures' receiver)
    listen_ports: Collection[int] | None = None  # None: accept a SYN to any port
    iss: int = 0x5EED0000  # first connection's initial sequence number (+0x01000000 per connection)
    ttl: int = 64
    reasm_timeout_ps: int = 30 * SEC  # ipfrag_time
    # loss on the way in (see loss.py)
    drop_every_nth: int = 0
    loss_rate: float = 0.0
    seed: int = 0
    drop_predicate: Callable[[bytes, int], bool] | None = None
    loss_eligible: Callable[[bytes], bool] | None = None
    # checking and output
    strict: bool = False  # validate every frame with scapy as well (tests)
    accept_runts: bool = False  # frames under 64 bytes are dropped (TCTL.PSP must pad)
    host_fcs: bool = False  # append an FCS to frames sent to the host
    record_datagrams: bool = True


class UdpDatagram(NamedTuple):
    src: str
    sport: int
    dport: int
    data: bytes
    time: int  # ps, when the (last fragment of the) datagram arrived


ConnKey = tuple[bytes, int, int]  # host ip, host port, peer port


class PeerHost:
    """A host beyond the MAC: ARP, TCP receiver, UDP sink, reassembly, loss, counters."""

    def __init__(self, env: Env, mac: str | bytes, ip: str | bytes, host_mac: str | bytes, host_ip: str | bytes,
                 send_to_host: Callable[[bytes], None], wire_delay_ps: int = 0,
                 options: PeerOptions | None = None, **overrides: Any) -> None:
        self.env = env
        self.mac = mac_bytes(mac)
        self.ip = ip_bytes(ip)
        self.host_mac = mac_bytes(host_mac)
        self.host_ip = ip_bytes(host_ip)
        self.send_to_host = send_to_host
        self.wire_delay_ps = wire_delay_ps
        self.options = dataclasses.replace(options or PeerOptions(), **overrides)
        o = self.options
        lc = LossConfig(o.drop_every_nth, o.loss_rate, o.seed, o.drop_predicate, o.loss_eligible)
        self.loss: LossModel | None = LossModel(lc) if lc.active else None
        self.reasm = Reassembler(o.reasm_timeout_ps)
        self.connections: dict[ConnKey, TcpReceiver] = {}
        self.closed: list[tuple[ConnKey, TcpReceiver]] = []  # connections replaced by a new SYN
        self.datagrams: list[UdpDatagram] = []
        self.tx_listeners: list[Callable[[bytes, int], None]] = []  # (frame, time it reaches the host)
        self._delack: dict[ConnKey, TimerHandle] = {}
        self._ip_id = 0
        self._tcp_pseudo: dict[tuple[bytes, bytes], int] = {}  # (src, dst) → pseudo-header sum without the length
        self._nconn = 0
        self._min_len = 18 if o.accept_runts else ETH_MIN_FRAME
        if o.strict:
            from hilnic.wire import strict as _strict  # noqa: PLC0415  (scapy loads only when asked for)

            self._strict = _strict
        else:
            self._strict = None
        self._v_ip: bool | None = None  # fast-path verdicts of the current frame (strict mode)
        self._v_l4: bool | None = None
        # counters
        self.frames_rx = 0  # frames that reached the peer's port (after wire loss)
        self.bytes_rx = 0  # their bytes, FCS included
        self.dropped_by_loss = 0
        self.bad_fcs = 0
        self.runts = 0
        self.bad_ip_csum = 0
        self.bad_l4_csum = 0
        self.malformed = 0
        self.not_for_us = 0
        self.other_rx = 0  # well-formed but nothing to do (other ethertypes/protocols)
        self.arp_requests = 0
        self.arp_replies = 0
        self.reassembled = 0
        self.udp_rx = 0
        self.synacks_sent = 0
        self.rsts_sent = 0
        self.frames_tx = 0

    # -- counters over connections --------------------------------------------------------

    def _all_conns(self) -> list[TcpReceiver]:
        return [c for _, c in self.closed] + list(self.connections.values())

    @property
    def acks_sent(self) -> int:
        """ACK segments sent after the SYN-ACKs (pure, duplicate, window updates, FIN-ACKs)."""
        return sum(c.acks_sent for c in self._all_conns())

    @property
    def dupacks_sent(self) -> int:
        """Immediate ACKs that did not advance: out-of-order, old or out-of-window data."""
        return sum(c.dupacks_sent for c in self._all_conns())

    @property
    def delayed_acks(self) -> int:
        return sum(c.delayed_acks for c in self._all_conns())

    def counters(self) -> dict[str, int]:
        names = ["frames_rx", "bytes_rx", "dropped_by_loss", "bad_fcs", "runts", "bad_ip_csum", "bad_l4_csum",
                 "malformed", "not_for_us", "other_rx", "arp_requests", "arp_replies", "reassembled", "udp_rx",
                 "acks_sent", "dupacks_sent", "delayed_acks", "synacks_sent", "rsts_sent", "frames_tx"]
        out = {n: getattr(self, n) for n in names}
        # the TCP receivers' SACK side: out-of-order segments queued, ACKs carrying SACK blocks
        # (D-SACKs among them), ACKs not sent because tcp_comp_sack compressed them
        conns = self._all_conns()
        for n in ("ofo_segments", "sack_acks", "dsacks_sent", "acks_compressed"):
            out[n] = sum(getattr(c, n) for c in conns)
        out["reasm_fails"] = self.reasm.fails
        out["reasm_timeouts"] = self.reasm.timeouts
        return out

    # -- the application's view -------------------------------------------------------------

    def connection(self, host_port: int | None = None, peer_port: int | None = None) -> TcpReceiver:
        """The one live connection matching the ports given (error if none or several)."""
        found = [c for (ip, hp, pp), c in self.connections.items()
                 if (host_port is None or hp == host_port) and (peer_port is None or pp == peer_port)]
        if len(found) != 1:
            raise LookupError(f"{len(found)} connections match host_port={host_port} peer_port={peer_port}")
        return found[0]

    def stream(self, host_port: int | None = None, peer_port: int | None = None) -> bytes:
        """The bytes delivered in order on that connection so far."""
        return bytes(self.connection(host_port, peer_port).stream)

    def delivered_bytes(self, host_port: int | None = None, peer_port: int | None = None) -> int:
        """How many bytes `stream()` would return now, without copying them."""
        return self.connection(host_port, peer_port).delivered_bytes

    def read(self, conn: TcpReceiver, n: int | None = None) -> int:
        """The application reads from `conn` (options.autoread=False); may send a window update."""
        got = conn.read(n)
        self._flush(self._key_of(conn), conn)
        return got

    def set_rcvbuf(self, conn: TcpReceiver, nbytes: int) -> None:
        """Resize `conn`'s receive buffer; opening a (zero) window sends a window update."""
        conn.set_rcvbuf(nbytes)
        self._flush(self._key_of(conn), conn)

    def _key_of(self, conn: TcpReceiver) -> ConnKey:
        for k, c in self.connections.items():
            if c is conn:
                return k
        raise LookupError("not a live connection of this peer")

    # -- input --------------------------------------------------------------------------

    def receive_frame(self, frame: WireFrame) -> None:
        """One frame from the NIC's MAC (destination MAC .. FCS)."""
        data = frame.data
        if self.loss is not None and self.loss.should_drop(data[:-4]):
            self.dropped_by_loss += 1
            return
        n = len(data)
        self.frames_rx += 1
        self.bytes_rx += n
        strict = self._strict
        if strict is not None:
            self._v_ip = self._v_l4 = None
        if n < self._min_len:
            self.runts += 1
            return
        good_fcs = zlib_crc32(memoryview(data)[:-4]) == int.from_bytes(data[-4:], "little")
        if strict is not None:
            strict.check_fcs(frame, good_fcs)
        if not good_fcs:
            self.bad_fcs += 1
            return
        dst = data[0:6]
        if dst != self.mac and dst != BROADCAST:
            self.not_for_us += 1
            return
        ethertype = (data[12] << 8) | data[13]
        end = n - 4
        if ethertype == ETH_P_IP:
            self._rx_ipv4(data, end)
        elif ethertype == ETH_P_ARP:
            self._rx_arp(data, end)
        else:
            self.other_rx += 1
        if strict is not None:
            strict.check_frame(data[:end], self._v_ip, self._v_l4)

    def _rx_arp(self, data: bytes, end: int) -> None:
        if end - 14 < 28:
            self.malformed += 1
            return
        htype, ptype, hlen, plen, op, sha, spa, _tha, tpa = _ARP.unpack_from(data, 14)
        if htype != 1 or ptype != ETH_P_IP or hlen != 6 or plen != 4:
            self.other_rx += 1
            return
        if op != ARPOP_REQUEST:
            self.other_rx += 1
            return
        self.arp_requests += 1
        if tpa != self.ip:
            return
        self.arp_replies += 1
        self._send(build_eth(sha, self.mac, ETH_P_ARP, build_arp(ARPOP_REPLY, self.mac, self.ip, sha, spa)))

    def _rx_ipv4(self, data: bytes, end: int) -> None:
        if end < 34:
            self.malformed += 1
            return
        vihl, _tos, tot_len, ident, frag, _ttl, proto, _c, src, dst = _IP.unpack_from(data, 14)
        ihl = (vihl & 15) << 2
        if vihl >> 4 != 4 or ihl < 20 or tot_len < ihl or 14 + tot_len > end:
            self.malformed += 1
            return
        # csum_ok on the header, inlined: a header is short, so its big-endian value
        # (ihl is a multiple of 4: whole words) is the word sum's residue mod 0xFFFF.
        n = int.from_bytes(data[14:14 + ihl], "big")
        ok = n != 0 and n % 0xFFFF == 0
        self._v_ip = ok
        if not ok:
            self.bad_ip_csum += 1
            return
        if dst != self.ip:
            self.not_for_us += 1
            return
        payload = data[14 + ihl:14 + tot_len]
        if frag & (IP_MF | IP_OFFMASK):
            key = (src, dst, proto, ident)
            fresh = key not in self.reasm.queues
            done = self.reasm.add(key, data[14:14 + ihl], frag, payload, self.env.now())
            if done is None:
                if fresh and key in self.reasm.queues:
                    self.env.call_at(self.reasm.queues[key].deadline, self._reasm_expire, key)
                return
            self.reassembled += 1
            hdr, payload = done
            if self._strict is not None:
                self._strict.check_reassembled(hdr, payload, proto)
            self._rx_l4(proto, src, payload, reassembled=True)
            return
        if proto == IPPROTO_TCP:  # _rx_l4, inlined for the common case
            self._rx_tcp(src, payload)
        else:
            self._rx_l4(proto, src, payload)

    def _rx_l4(self, proto: int, src: bytes, payload: bytes, reassembled: bool = False) -> None:
        if proto == IPPROTO_TCP:
            self._rx_tcp(src, payload, reassembled)
        elif proto == IPPROTO_UDP:
            self._rx_udp(src, payload, reassembled)
        else:
            self.other_rx += 1

    def _reasm_expire(self, key: tuple) -> None:
        self.reasm.expire(key, self.env.now())

    def _rx_udp(self, src: bytes, seg: bytes, reassembled: bool) -> None:
        if len(seg) < 8:
            self.malformed += 1
            return
        sport, dport, ulen, check = _UDP.unpack_from(seg)
        if ulen < 8 or ulen > len(seg):
            self.malformed += 1
            return
        if ulen < len(seg):
            seg = seg[:ulen]
        if check:
            ok = csum_ok(seg, pseudo_sum(src, self.ip, IPPROTO_UDP, ulen))
            if not reassembled:
                self._v_l4 = ok
            if not ok:
                self.bad_l4_csum += 1
                return
        self.udp_rx += 1
        if self.options.record_datagrams:
            self.datagrams.append(UdpDatagram(ip_str(src), sport, dport, bytes(seg[8:]), self.env.now()))

    def _rx_tcp(self, src: bytes, seg: bytes, reassembled: bool = False) -> None:
        ln = len(seg)
        if ln < 20:
            self.malformed += 1
            return
        key = (src, self.ip)
        base = self._tcp_pseudo.get(key)
        if base is None:
            base = self._tcp_pseudo[key] = pseudo_sum(src, self.ip, IPPROTO_TCP, 0)
        n = csum_words(seg) + base + ln  # csum_ok(seg, base + ln), inlined
        ok = n != 0 and n % 0xFFFF == 0
        if not reassembled:
            self._v_l4 = ok
        if not ok:
            self.bad_l4_csum += 1
            return
        sport, dport, seq, ack, doff, flags, window, _c, _u = _TCP.unpack_from(seg)
        doff = (doff >> 4) << 2
        if doff < 20 or doff > ln:
            self.malformed += 1
            return
        opts = None
        if doff == 32 and seg[20:24] == _NOP_NOP_TS:
            # parse_tcp_options' fast path (the NOP NOP TS block on every data segment)
            opts = TcpOptions()
            opts.tsval, opts.tsecr = _II.unpack_from(seg, 24)
        elif doff > 20:
            opts = parse_tcp_options(seg[20:doff])
            if opts is None:
                self.malformed += 1
                return
        key = (src, sport, dport)
        conn = self.connections.get(key)
        now = self.env.now()
        if conn is None or conn.state is _ST_CLOSED:
            if flags & (TCP_SYN | TCP_ACK | TCP_RST) == TCP_SYN:
                lp = self.options.listen_ports
                if lp is not None and dport not in lp:
                    self._send_rst(src, sport, dport, seq, ack, flags, ln - doff)
                    return
                if conn is not None:
                    self.closed.append((key, conn))
                o = self.options
                iss = o.iss + 0x01000000 * self._nconn
                self._nconn += 1
                conn = TcpReceiver(TcpSegment(seq, ack, flags, window, b"", opts), now, iss, o)
                self.connections[key] = conn
                self._flush(key, conn)
            elif not flags & TCP_RST and conn is None:
                self._send_rst(src, sport, dport, seq, ack, flags, ln - doff)
            return
        conn.on_segment(_tuple_new(TcpSegment, (seq, ack, flags, window, seg[doff:], opts)), now)
        if conn.outbox or conn.ack_deadline is not None or key in self._delack:
            self._flush(key, conn)

    # -- output -------------------------------------------------------------------------

    def _flush(self, key: ConnKey, conn: TcpReceiver) -> None:
        """Send what `conn` queued and (re)arm or cancel its delayed-ACK timer."""
        if conn.outbox:
            host_ip, hport, pport = key
            o = self.options
            tsval = (self.env.now() // MS) & 0xFFFFFFFF  # tcp_time_stamp: 1 ms clock
            for r in conn.outbox:
                if r.syn_options:
                    self.synacks_sent += 1
                    opts = tcp_synack_options(o.mss, conn.rcv_wscale if conn.wscale_ok else None,
                                              (tsval, r.tsecr) if conn.ts_ok else None, conn.sack_ok)
                else:
                    opts = tcp_ts_option(tsval, r.tsecr) if conn.ts_ok else b""
                    if r.sacks:
                        opts += tcp_sack_option(r.sacks)
                tcp = build_tcp(self.ip, host_ip, pport, hport, r.seq, r.ack, r.flags, r.window, opts)
                self._send_ip(host_ip, IPPROTO_TCP, tcp)
            conn.outbox.clear()
        h = self._delack.get(key)
        want = conn.ack_deadline
        if h is not None and (want is None or h.when != want):
            h.cancel()
            del self._delack[key]
            h = None
        if want is not None and h is None:
            self._delack[key] = self.env.call_at(want, self._delack_fire, key)

    def _delack_fire(self, key: ConnKey) -> None:
        self._delack.pop(key, None)
        conn = self.connections.get(key)
        if conn is not None:
            conn.on_timer(self.env.now())
            self._flush(key, conn)

    def _send_rst(self, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, dlen: int) -> None:
        """tcp_v4_send_reset: answer a segment no connection wants."""
        if flags & TCP_ACK:
            rseq, rack, rflags = ack, 0, TCP_RST
        else:
            rseq, rack, rflags = 0, seq + dlen + (1 if flags & TCP_SYN else 0) + (flags & 1), TCP_RST | TCP_ACK
        self.rsts_sent += 1
        self._send_ip(dst, IPPROTO_TCP, build_tcp(self.ip, dst, dport, sport, rseq, rack, rflags, 0))

    def _send_ip(self, dst: bytes, proto: int, payload: bytes) -> None:
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        ip = build_ipv4(self.ip, dst, proto, payload, self._ip_id, self.options.ttl, IP_DF)
        self._send(build_eth(self.host_mac, self.mac, ETH_P_IP, ip))

    def _send(self, frame: bytes) -> None:
        if self.options.host_fcs:
            frame += fcs(frame)
        self.frames_tx += 1
        self.env.call_later(self.wire_delay_ps, self.send_to_host, frame)
        if self.tx_listeners:
            t = self.env.now() + self.wire_delay_ps
            for fn in self.tx_listeners:
                fn(frame, t)


__all__ = ["PeerHost", "PeerOptions", "UdpDatagram"]
