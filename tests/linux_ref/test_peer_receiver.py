"""The wire peer against the real receivers in these captures: each capture's sender frames
(a Linux 6.18 sender, read with dpkt) are replayed into `PeerHost` at their capture times, the
peer's answers beside the real receiver's.

The captures were taken on the sender's veth; the receiver answered at once, its answers
reach the capture after the path delay (--rtt), which the replay gives the peer as its wire
delay. snaplen cut the payloads, so they are refilled (zeros, the right length) and the
checksums recomputed; the sender acknowledged the real receiver's ISN and echoed its TSvals,
so those are mapped to the peer's.

What must agree: the SYN-ACK (options and window, all 13), and the ACK numbers the receiver
sent, in order. Nine captures agree to the last ACK and FIN; in the other four the real reader
(a Python program) was once late by milliseconds, or the delay bridge held data back, and
from then on its ACKs waited for its reads: there the ACKs agree up to that point (the prefix
below, at least the first 16).
"""

from __future__ import annotations

import json
import socket
import struct
import zlib
from pathlib import Path

import dpkt
import pytest

from hilnic.hw.backend import WireFrame
from hilnic.kernel.env import MS, US, VirtualEnv
from hilnic.wire import PeerHost, PeerOptions

REF = Path(__file__).resolve().parent
TCP_CAPTURES = sorted(p.stem for p in REF.glob("tcp_*.json"))
SENDER, RECEIVER = "192.0.2.1", "192.0.2.2"

# captures whose real reader stalled: how many of its ACKs (in order) the peer's match
ACK_PREFIX = {
    "tcp_bulk_64k_bbr_rtt0": 21,
    "tcp_bulk_64k_cubic_rtt0": 22,
    "tcp_bulk_64k_cubic_rtt10ms": 21,
    "tcp_mss536_10000_cubic_rtt10ms": 16,  # the forward path's bridge delayed the last three
}


def _sidecar(name: str) -> dict:
    return json.loads((REF / f"{name}.json").read_text())


def _tcp_ts(tcp: dpkt.tcp.TCP) -> tuple[int, int] | None:
    for kind, data in dpkt.tcp.parse_opts(tcp.opts):
        if kind == dpkt.tcp.TCP_OPT_TIMESTAMP:
            return struct.unpack("!II", data)
    return None


def _with_ts(opts: bytes, tsval: int, tsecr: int) -> bytes:
    out = b""
    for kind, data in dpkt.tcp.parse_opts(opts):
        if kind in (dpkt.tcp.TCP_OPT_EOL, dpkt.tcp.TCP_OPT_NOP):
            out += bytes([kind])
        else:
            if kind == dpkt.tcp.TCP_OPT_TIMESTAMP:
                data = struct.pack("!II", tsval, tsecr)
            out += bytes([kind, len(data) + 2]) + data
    return out + bytes(-len(out) % 4)


def replay(name: str) -> tuple[list[dpkt.tcp.TCP], list[dpkt.tcp.TCP]]:
    """The real receiver's TCP segments and the peer's, in order."""
    knobs = _sidecar(name)["knobs"]
    with open(REF / f"{name}.pcap", "rb") as f:
        records = list(dpkt.pcap.Reader(f))
    t0 = records[0][0]
    frames = [(round((ts - t0) * 1e6) * US, dpkt.ethernet.Ethernet(buf)) for ts, buf in records]
    real = [e.data.data for _, e in frames if socket.inet_ntoa(e.data.src) == RECEIVER]
    synack = real[0]
    real_ts0 = _tcp_ts(synack)[0]  # type: ignore[index]
    env = VirtualEnv()
    sent: list[dpkt.tcp.TCP] = []
    first = frames[0][1]
    opts = PeerOptions(mss=knobs["peer_mss"] or 1460)
    peer = PeerHost(env, first.dst, socket.inet_aton(RECEIVER), first.src, socket.inet_aton(SENDER),
                    lambda b: sent.append(dpkt.ethernet.Ethernet(b).data.data),
                    round(knobs["rtt_ms"] * MS), options=opts)
    for t, e in frames:
        ip = e.data
        if socket.inet_ntoa(ip.src) != SENDER:
            continue
        tcp = ip.data
        tcp.data = bytes(ip.len - ip.hl * 4 - tcp.off * 4)  # what snaplen cut
        if tcp.flags & dpkt.tcp.TH_ACK:
            tcp.ack = (tcp.ack - synack.seq + opts.iss) & 0xFFFFFFFF
        ts = _tcp_ts(tcp)
        if ts is not None and ts[1]:
            tcp.opts = _with_ts(tcp.opts, ts[0], (ts[1] - real_ts0) & 0xFFFFFFFF)  # the peer's TS clock
        tcp.sum = ip.sum = ip.len = 0  # dpkt recomputes them
        e.data = ip
        raw = bytes(e)
        raw += bytes(max(0, 60 - len(raw)))
        env.call_at(t, peer.receive_frame, WireFrame(raw + zlib.crc32(raw).to_bytes(4, "little"), t, t, True, 0))
    env.run(until=10_000 * MS)
    return real, sent


def _options(tcp: dpkt.tcp.TCP) -> list[tuple[int, bytes]]:
    """(kind, data) of each option, the timestamps blanked (each host's own clock)."""
    return [(kind, b"ts" if kind == dpkt.tcp.TCP_OPT_TIMESTAMP else data) for kind, data in dpkt.tcp.parse_opts(tcp.opts)]


@pytest.mark.parametrize("name", TCP_CAPTURES)
def test_peer_synack_is_linuxs(name):
    """tcp_conn_request's SYN-ACK: MSS (the route's advmss: --peer-mss), SACK_PERM, TS, WS 10
    (tcp_rmem[2] 32 MiB), window 65160 (65500 with MSS 536): byte for byte but the TSval."""
    real, ours = replay(name)
    assert ours[0].flags == real[0].flags == dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK
    assert _options(ours[0]) == _options(real[0])
    assert ours[0].win == real[0].win


@pytest.mark.parametrize("name", TCP_CAPTURES)
def test_peer_acks_as_the_real_receiver_did(name):
    """Quickack mode, ACK every second full segment, delayed ACKs, the reader's ACKs and its
    FIN: the ACK numbers the peer sends, in order, are the real receiver's."""
    real, ours = replay(name)
    real_acks = [(t.ack - real[0].ack) & 0xFFFFFFFF for t in real[1:]]
    our_acks = [(t.ack - ours[0].ack) & 0xFFFFFFFF for t in ours[1:]]
    n = ACK_PREFIX.get(name)
    if n is None:
        assert our_acks == real_acks
        assert [bool(t.flags & dpkt.tcp.TH_FIN) for t in ours] == [bool(t.flags & dpkt.tcp.TH_FIN) for t in real]
    else:
        assert len(real_acks) > n and our_acks[:n] == real_acks[:n]


def test_peer_windows_follow_the_receivers_with_mss_536():
    """With 536-byte segments no scaling_ratio is measured: window_clamp stays tcp_init_buffer_
    space's 65000, rcv_ssthresh never grows, every ACK offers 64 << 10 as the real one did."""
    for name in ("tcp_mss536_10000_cubic_rtt0", "tcp_mss536_10000_bbr_rtt0"):
        real, ours = replay(name)
        assert [t.win for t in ours] == [t.win for t in real]
