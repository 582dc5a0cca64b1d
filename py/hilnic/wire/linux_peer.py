"""The peer as the host machine's own Linux kernel, behind a TAP device (`hilnic run --peer linux`).

`LinuxPeer` takes the place of `PeerHost` on the wire: the NIC's frames come in through
`receive_frame(WireFrame)` (subscribed to the XGMII monitor, as the model peer is), go
through the same loss model, lose their FCS (checked here, as the model peer does: a bad one
is dropped and counted) and are written into the TAP of the peer's network namespace
(hilnic.wire.netns); what the kernel sends back is read from the TAP and handed to the host
like the model peer's answers: `send_to_host(frame)` `wire_delay_ps` later in simulated
time, and to every `tx_listeners` entry (the run's two-way pcap). A process in the
namespace (hilnic.wire.ns_receiver) receives the data with a real socket; `finish()` tells
it the run is over and returns its report (bytes, byte-exact or not, the kernel's counters).

Time. The kernel runs in wall time, the simulation in simulated time. They meet like this:

1. When the simulation hands the kernel a frame, simulated time stops until the kernel has
   answered what it owes (below), for at most `settle_s` of wall time (0.5 ms). Its
   answers are stamped `wire_delay_ps` (the testbed's 10 us wire, plus `--rtt`) after the
   frame left the MAC: the kernel's own processing counts as zero simulated time, as the
   model peer's does. A TAP write runs the kernel's receive path in the writer's context,
   so most answers (ARP replies, ACKs) are already there when write() returns.
2. What the kernel sends later on its own — a delayed ACK, the receiving application's FIN
   after its close(), a window update after a read, a retransmission — is read by a poll
   every `tick_ps` of simulated time (and before each frame) and stamped `wire_delay_ps`
   after the simulated time it was read at.
3. While the kernel owes the host an answer — in-order data, a SYN or a FIN it has been given
   and not acknowledged, the application's FIN after the host's, an ARP request — simulated
   time may not run ahead of wall time, counted from the last frame either way: each poll
   waits (select on the TAP) until wall time has caught up. So a delayed ACK that the kernel
   sends 40 ms (wall) after a segment reaches the host about 40 ms (simulated) later, and the
   host's retransmission timer does not fire early. While the kernel owes nothing (all it was
   given is acknowledged, or lost on the wire), the simulation runs freely: the host's own
   timers (retransmission after a loss, the interrupt throttle) pass in simulated time only.

The summary shows the cost: wall time spent in (1) and (3), the number of frames each way,
how many answers came at once and how many on a later poll, and the delay used.

Not sans-I/O (unlike PeerHost): it owns the TAP fd and reads the wall clock.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zlib import crc32 as zlib_crc32

from hilnic.kernel.env import US, Env, TimerHandle
from hilnic.wire.loss import LossConfig, LossModel
from hilnic.wire.packets import (
    _ARP,
    _IP,
    _TCP,
    _UDP,
    ARPOP_REPLY,
    ARPOP_REQUEST,
    ETH_P_ARP,
    ETH_P_IP,
    IP_MF,
    IP_OFFMASK,
    IPPROTO_ICMP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    TCPOPT_EOL,
    TCPOPT_NOP,
    TCPOPT_SACK_PERM,
    TCPOPT_TIMESTAMP,
    TCPOPT_WINDOW,
    ip_bytes,
    mac_bytes,
)
from hilnic.wire.peer import UdpDatagram
from hilnic.wire.reasm import Reassembler

if TYPE_CHECKING:
    from hilnic.hw.backend import WireFrame

TCPOPT_SACK = 5
ETH_MIN_FRAME = 64  # with FCS: a MAC discards a runt
REPORT_TIMEOUT_S = 15.0  # finish(): the receiver drains its socket and reads its counters
_U32 = 0xFFFFFFFF


@dataclass
class LinuxPeerOptions:
    """How the Linux peer meets the simulation (see the module docstring)."""

    settle_s: float = 0.0005  # (1): longest wall wait for what the kernel owes after a frame
    tick_ps: int = 50 * US  # (2), (3): poll period in simulated time
    pace: bool = True  # (3): no running ahead of wall time while the kernel owes an answer
    # loss on the way in, as PeerOptions
    loss_rate: float = 0.0
    seed: int = 0
    drop_every_nth: int = 0
    drop_predicate: Callable[[bytes, int], bool] | None = None
    host_fcs: bool = False  # frames to the host carry no FCS (the pcap is written without)


@dataclass
class _Flow:
    """One TCP connection as far as the kernel was given it (sequence numbers relative to the
    host's ISN) and answered."""

    isn: int
    rcv_nxt: int = 0  # first byte the kernel has not been given in order (the SYN is 0)
    ooo: dict[int, int] = field(default_factory=dict)  # out-of-order pieces given: start → end
    fin: int | None = None  # relative sequence number of the host's FIN
    acked: int = 0  # highest ACK from the kernel
    kernel_fin: bool = False
    reset: bool = False
    wscale: int = 0  # the kernel's window scale (its SYN-ACK)
    windows: list[int] = field(default_factory=list)  # every window the kernel advertised, in bytes

    def owes(self) -> bool:
        if self.reset:
            return False
        if self.rcv_nxt > self.acked:
            return True
        return self.fin is not None and self.rcv_nxt > self.fin and not self.kernel_fin

    def given(self, start: int, end: int) -> None:
        if start <= self.rcv_nxt:
            self.rcv_nxt = max(self.rcv_nxt, end)
            while True:  # absorb the pieces the new data has made contiguous
                nxt = [s for s in self.ooo if s <= self.rcv_nxt]
                if not nxt:
                    break
                for s in nxt:
                    self.rcv_nxt = max(self.rcv_nxt, self.ooo.pop(s))
        elif end > self.ooo.get(start, 0):
            self.ooo[start] = end

    def delivered(self) -> int:
        """Data bytes the kernel has acknowledged."""
        top = self.acked - 1
        if self.fin is not None and self.acked > self.fin:
            top -= 1
        return max(0, top)


FlowKey = tuple[int, int]  # host port, peer port


class LinuxPeer:
    """The kernel behind a TAP as the wire's peer. See the module docstring."""

    def __init__(self, env: Env, tap_fd: int, send_to_host: Callable[[bytes], None], *, mac: str | bytes,
                 ip: str | bytes, host_ip: str | bytes, wire_delay_ps: int = 0, ctl_fd: int = -1, report_fd: int = -1,
                 options: LinuxPeerOptions | None = None, info: dict[str, Any] | None = None) -> None:
        self.env = env
        self.tap = tap_fd
        self.send_to_host = send_to_host
        self.mac = mac_bytes(mac)
        self.ip = ip_bytes(ip)
        self.host_ip = ip_bytes(host_ip)
        self.wire_delay_ps = wire_delay_ps
        self.ctl_fd = ctl_fd
        self.report_fd = report_fd
        self.options = o = options or LinuxPeerOptions()
        self.info = dict(info or {})
        lc = LossConfig(o.drop_every_nth, o.loss_rate, o.seed, o.drop_predicate, None)
        self.loss: LossModel | None = LossModel(lc) if lc.active else None
        self.tx_listeners: list[Callable[[bytes, int], None]] = []
        self.flows: dict[FlowKey, _Flow] = {}
        self.arp_pending = False
        self.reasm = Reassembler()
        self.datagrams: list[UdpDatagram] = []  # complete UDP datagrams the kernel was given
        self.report: dict[str, Any] | None = None
        self._mark: tuple[int, float] | None = None  # (sim ps, wall s) of the last frame either way
        self._timer: TimerHandle | None = None
        self._closed = False
        self._write_t = 0.0  # wall time of the last write (answer latency)
        self._answered = True
        # counters
        self.frames_rx = 0  # frames that reached the peer's port (after wire loss)
        self.bytes_rx = 0
        self.dropped_by_loss = 0
        self.bad_fcs = 0
        self.runts = 0
        self.write_errors = 0
        self.frames_to_kernel = 0
        self.frames_from_kernel = 0
        self.to_kernel: dict[str, int] = {}  # by kind: arp, tcp, udp, icmp, ...
        self.from_kernel: dict[str, int] = {}  # by kind: arp_reply, synack, ack, dupack, fin, rst, icmp, ...
        self.answers_at_once = 0  # kernel frames read while the simulation waited on a frame (1)
        self.answers_later = 0  # read by a poll (2)
        self.settle_waits = 0
        self.settle_wall_s = 0.0
        self.pace_waits = 0
        self.pace_wall_s = 0.0
        self.latency_us: list[float] = []  # wall time from a write to the kernel's first answer
        self.sack_blocks = 0
        self.kernel_options: dict[str, Any] = {}

    # -- the model peer's interface (what the testbed and the run use) -----------------------------

    def start(self) -> None:
        """Start the poll (2)/(3); the testbed calls it when it attaches the peer."""
        if self._timer is None and not self._closed:
            self._timer = self.env.call_later(self.options.tick_ps, self._tick)

    def connection(self, host_port: int | None = None, peer_port: int | None = None) -> _Flow:
        found = [f for (hp, pp), f in self.flows.items()
                 if (host_port is None or hp == host_port) and (peer_port is None or pp == peer_port)]
        if len(found) != 1:
            raise LookupError(f"{len(found)} connections match host_port={host_port} peer_port={peer_port}")
        return found[0]

    def delivered_bytes(self, host_port: int | None = None, peer_port: int | None = None) -> int:
        """Data bytes the kernel has acknowledged on that connection (its socket has them)."""
        return self.connection(host_port, peer_port).delivered()

    def counters(self) -> dict[str, int]:
        names = ["frames_rx", "bytes_rx", "dropped_by_loss", "bad_fcs", "runts", "write_errors", "frames_to_kernel",
                 "frames_from_kernel", "answers_at_once", "answers_later", "settle_waits", "pace_waits", "sack_blocks"]
        out = {n: getattr(self, n) for n in names}
        out.update({f"from_kernel_{k}": v for k, v in sorted(self.from_kernel.items())})
        out["acks_sent"] = sum(v for k, v in self.from_kernel.items() if k in ("ack", "dupack", "fin", "synack"))
        return out

    # -- frames from the host ----------------------------------------------------------------------

    def receive_frame(self, frame: WireFrame) -> None:
        """One frame from the NIC's MAC (destination MAC .. FCS): into the kernel, then (1)."""
        if self._closed:
            return
        data = frame.data
        if self.loss is not None and self.loss.should_drop(data[:-4]):
            self.dropped_by_loss += 1
            return
        self.frames_rx += 1
        self.bytes_rx += len(data)
        if len(data) < ETH_MIN_FRAME:
            self.runts += 1
            return
        if zlib_crc32(memoryview(data)[:-4]) != int.from_bytes(data[-4:], "little"):
            self.bad_fcs += 1
            return
        self._drain(later=True)  # what the kernel sent since: stamped before this frame's answers
        eth = data[:-4]
        self._track_out(eth)
        try:
            os.write(self.tap, eth)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EMSGSIZE, errno.EIO):
                raise
            self.write_errors += 1
            return
        self.frames_to_kernel += 1
        kind = "arp" if eth[12:14] == b"\x08\x06" else ("ipv4" if eth[12:14] == b"\x08\x00" else "other")
        if kind == "ipv4" and len(eth) > 23:
            kind = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_ICMP: "icmp"}.get(eth[23], "ipv4")
        self.to_kernel[kind] = self.to_kernel.get(kind, 0) + 1
        self._write_t = time.perf_counter()
        self._answered = False
        self._mark = (self.env.now(), self._write_t)
        self._settle()

    def _settle(self) -> None:
        self._drain(later=False)
        if not self.owes():
            return
        t0 = time.perf_counter()
        deadline = t0 + self.options.settle_s
        self.settle_waits += 1
        while self.owes():
            left = deadline - time.perf_counter()
            if left <= 0 or not select.select([self.tap], [], [], left)[0]:
                break
            self._drain(later=False)
        self.settle_wall_s += time.perf_counter() - t0

    # -- frames from the kernel --------------------------------------------------------------------

    def _drain(self, later: bool) -> int:
        n = 0
        while True:
            try:
                frame = os.read(self.tap, 65536)
            except BlockingIOError:
                return n
            except OSError as exc:
                if exc.errno == errno.EBADF and self._closed:
                    return n
                raise
            if not frame:
                return n
            n += 1
            self._from_kernel(frame, later)

    def _from_kernel(self, frame: bytes, later: bool) -> None:
        now_wall = time.perf_counter()
        if not self._answered:
            self._answered = True
            self.latency_us.append((now_wall - self._write_t) * 1e6)
        self.frames_from_kernel += 1
        if later:
            self.answers_later += 1
        else:
            self.answers_at_once += 1
        self._track_in(frame)
        t = self.env.now() + self.wire_delay_ps
        self._mark = (self.env.now(), now_wall)
        if len(frame) < ETH_MIN_FRAME - 4:  # the kernel's short frames: a MAC pads them
            frame = frame + bytes(ETH_MIN_FRAME - 4 - len(frame))
        self.env.call_at(t, self.send_to_host, frame)
        for fn in self.tx_listeners:
            fn(frame, t)

    def _tick(self) -> None:
        """(2) and (3): poll the TAP; while the kernel owes an answer, let wall time catch up."""
        self._timer = None
        if self._closed:
            return
        self._drain(later=True)
        if self.options.pace and self._mark is not None and self.owes():
            sim0, wall0 = self._mark
            t0 = time.perf_counter()
            until = wall0 + (self.env.now() - sim0) * 1e-12
            if until > t0:
                self.pace_waits += 1
                while self.owes():
                    left = until - time.perf_counter()
                    if left <= 0 or not select.select([self.tap], [], [], left)[0]:
                        break
                    self._drain(later=True)
                self.pace_wall_s += time.perf_counter() - t0
        self._timer = self.env.call_later(self.options.tick_ps, self._tick)

    # -- what the kernel owes ----------------------------------------------------------------------

    def owes(self) -> bool:
        return self.arp_pending or any(f.owes() for f in self.flows.values())

    def _track_out(self, eth: bytes) -> None:
        """Note what a frame to the kernel asks of it (TCP sequence space, ARP, UDP datagrams)."""
        if len(eth) < 42:
            return
        ethertype = eth[12] << 8 | eth[13]
        if ethertype == ETH_P_ARP:
            _h, _p, _hl, _pl, op, _sha, _spa, _tha, tpa = _ARP.unpack_from(eth, 14)
            if op == ARPOP_REQUEST and tpa == self.ip:
                self.arp_pending = True
            return
        if ethertype != ETH_P_IP or len(eth) < 34:
            return
        vihl, _tos, tot_len, ident, frag, _ttl, proto, _c, src, dst = _IP.unpack_from(eth, 14)
        ihl = (vihl & 15) * 4
        if dst != self.ip:
            return
        payload = eth[14 + ihl:14 + tot_len]
        if frag & (IP_MF | IP_OFFMASK):
            done = self.reasm.add((src, dst, proto, ident), eth[14:14 + ihl], frag, payload, self.env.now())
            if done is None:
                return
            payload = done[1]
            if proto == IPPROTO_TCP:
                return  # a fragmented TCP segment: not what a host sends here
        if proto == IPPROTO_UDP and len(payload) >= 8:
            sport, dport, ulen, _ck = _UDP.unpack_from(payload)
            self.datagrams.append(UdpDatagram(".".join(map(str, src)), sport, dport, bytes(payload[8:ulen]),
                                              self.env.now()))
        elif proto == IPPROTO_TCP and len(payload) >= 20:
            sport, dport, seq, _ack, doff, flags, _win, _ck, _up = _TCP.unpack_from(payload)
            dlen = len(payload) - (doff >> 4) * 4
            key = (sport, dport)
            fl = self.flows.get(key)
            if flags & TCP_SYN and not flags & TCP_ACK:
                if fl is None or fl.isn != seq:
                    fl = self.flows[key] = _Flow(isn=seq)
                fl.given(0, 1)
                return
            if fl is None or flags & TCP_RST:
                return
            rel = (seq - fl.isn) & _U32
            end = rel + dlen + (1 if flags & TCP_FIN else 0)
            if flags & TCP_FIN:
                fl.fin = rel + dlen
            if end > rel:
                fl.given(rel, end)

    def _track_in(self, eth: bytes) -> None:
        """Note what a kernel frame answers, and classify it for the summary."""
        kind = "other"
        ethertype = eth[12] << 8 | eth[13] if len(eth) >= 14 else 0
        if ethertype == ETH_P_ARP and len(eth) >= 42:
            op = _ARP.unpack_from(eth, 14)[4]
            if op == ARPOP_REPLY:
                kind = "arp_reply"
                self.arp_pending = False
            else:
                kind = "arp_request"
        elif ethertype == ETH_P_IP and len(eth) >= 34:
            vihl, _tos, tot_len, _id, _frag, _ttl, proto, _c, _src, _dst = _IP.unpack_from(eth, 14)
            ihl = (vihl & 15) * 4
            seg = eth[14 + ihl:14 + tot_len]
            if proto == IPPROTO_TCP and len(seg) >= 20:
                kind = self._tcp_in(seg)
            elif proto == IPPROTO_ICMP:
                kind = "icmp"
            elif proto == IPPROTO_UDP:
                kind = "udp"
        self.from_kernel[kind] = self.from_kernel.get(kind, 0) + 1

    def _tcp_in(self, seg: bytes) -> str:
        sport, dport, _seq, ack, doff, flags, win, _ck, _up = _TCP.unpack_from(seg)
        fl = self.flows.get((dport, sport))
        opts = _tcp_options(seg[20:(doff >> 4) * 4])
        self.sack_blocks += opts.get("sack", 0)
        if fl is None:
            return "rst" if flags & TCP_RST else "tcp_other"
        if flags & TCP_RST:
            fl.reset = True
            return "rst"
        kind = "ack"
        if flags & TCP_SYN:
            kind = "synack"
            fl.wscale = opts.get("wscale", 0)
            self.kernel_options = {k: v for k, v in opts.items() if k != "sack"}
            fl.windows.append(win)  # a SYN's window is not scaled
        else:
            fl.windows.append(win << fl.wscale)
        if flags & TCP_ACK:
            rel = (ack - fl.isn) & _U32
            if rel > fl.acked:
                fl.acked = rel
            elif kind == "ack" and not flags & TCP_FIN and len(seg) == (doff >> 4) * 4:
                kind = "dupack"
        if flags & TCP_FIN:
            fl.kernel_fin = True
            kind = "fin"
        return kind

    # -- the end -----------------------------------------------------------------------------------

    def finish(self, timeout_s: float = REPORT_TIMEOUT_S) -> dict[str, Any]:
        """Tell the receiver the run is over; its report (also kept in `self.report`)."""
        if self.report is not None:
            return self.report
        self._drain(later=True)
        if self.ctl_fd >= 0:
            with contextlib.suppress(OSError):
                os.write(self.ctl_fd, b"done\n")
            with contextlib.suppress(OSError):
                os.close(self.ctl_fd)
            self.ctl_fd = -1
        line = _read_line(self.report_fd, timeout_s) if self.report_fd >= 0 else b""
        try:
            rep = json.loads(line)
        except ValueError:
            rep = {"error": f"no report from the receiver within {timeout_s:g} s"
                   + (f" (it said {line[:200]!r})" if line.strip() else "")}
        self.report = rep if isinstance(rep, dict) else {"error": "the receiver's report is not a JSON object"}
        return self.report

    def close(self) -> None:
        """Stop polling (the fds belong to the namespace, which closes them)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def summary(self) -> dict[str, Any]:
        """The numbers for summary.json's `linux_peer`."""
        lat = sorted(self.latency_us)
        flows = list(self.flows.values())
        windows = [w for f in flows for w in f.windows]
        rep = self.report or {}
        return {
            **self.info,
            "wire_delay_ps": self.wire_delay_ps,
            "settle_s": self.options.settle_s,
            "tick_ps": self.options.tick_ps,
            "frames_to_kernel": self.frames_to_kernel,
            "frames_from_kernel": self.frames_from_kernel,
            "to_kernel": dict(sorted(self.to_kernel.items())),
            "from_kernel": dict(sorted(self.from_kernel.items())),
            "dropped_by_loss": self.dropped_by_loss,
            "answers_at_once": self.answers_at_once,
            "answers_later": self.answers_later,
            "settle_waits": self.settle_waits,
            "settle_wall_s": self.settle_wall_s,
            "pace_waits": self.pace_waits,
            "pace_wall_s": self.pace_wall_s,
            "answer_latency_us": {"n": len(lat), "median": lat[len(lat) // 2] if lat else None,
                                  "p90": lat[len(lat) * 9 // 10] if lat else None, "max": lat[-1] if lat else None},
            "kernel_options": self.kernel_options,
            "sack_blocks": self.sack_blocks,
            "window": {"first": windows[0], "min": min(windows), "max": max(windows), "last": windows[-1]}
            if windows else {},
            "receiver": {k: v for k, v in rep.items() if k not in ("counters", "sysctls")},
            "counters": rep.get("counters", {}),
            "sysctls": rep.get("sysctls", {}),
        }


def _tcp_options(opts: bytes) -> dict[str, Any]:
    """MSS, window scale, SACK-permitted, timestamps and SACK blocks of an option block."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(opts):
        kind = opts[i]
        if kind == TCPOPT_EOL:
            break
        if kind == TCPOPT_NOP:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        ln = opts[i + 1]
        body = opts[i + 2:i + ln]
        if kind == 2 and ln == 4:
            out["mss"] = struct.unpack("!H", body)[0]
        elif kind == TCPOPT_WINDOW and ln == 3:
            out["wscale"] = body[0]
        elif kind == TCPOPT_SACK_PERM:
            out["sack_perm"] = True
        elif kind == TCPOPT_TIMESTAMP:
            out["timestamps"] = True
        elif kind == TCPOPT_SACK:
            out["sack"] = (ln - 2) // 8
        i += ln
    return out


def _read_line(fd: int, timeout_s: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout_s
    while not out.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
    return out


__all__ = ["LinuxPeer", "LinuxPeerOptions"]
