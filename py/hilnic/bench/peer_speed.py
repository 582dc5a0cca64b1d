"""The wire peer's receive path: full-size TCP frames per wall second, fast path (strict=False)
and strict mode (scapy re-parses every frame) measured side by side in one run.

The peer answers every frame the RTL sends during an end-to-end run; if it falls below
~20k frames/s it, not the stack or the simulator, sets the pace of a Verilator run.

    python -m hilnic.bench.peer_speed [--frames 4000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import raw

from hilnic.bench import common
from hilnic.bench.common import table
from hilnic.hw.backend import WireFrame
from hilnic.kernel.env import NS, VirtualEnv
from hilnic.wire import PeerHost

MODULE = "hilnic.bench.peer_speed"
TARGET = 20_000  # fast-path frames per wall second
HOST_MAC, PEER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
HOST_IP, PEER_IP = "10.0.0.1", "10.0.0.2"
MSS = 1448  # full segment with timestamps at MTU 1500
HEADER = ("mode", "frames", "wall s", "frames / wall s", "target")


def _wire(pkt: Ether, index: int) -> WireFrame:
    b = raw(pkt)
    return WireFrame(b + zlib.crc32(b).to_bytes(4, "little"), index, index + len(b) * 800, True, index)


def _tcp(flags: str, seq: int, ack: int = 0, payload: bytes = b"", options=None) -> Ether:
    opts = options if options is not None else [("NOP", None), ("NOP", None), ("Timestamp", (1000, 0))]
    return (Ether(dst=PEER_MAC, src=HOST_MAC) / IP(src=HOST_IP, dst=PEER_IP, flags="DF", id=1)
            / TCP(sport=40000, dport=5001, flags=flags, seq=seq, ack=ack, window=502, options=opts) / payload)


def measure(frames: int, strict: bool) -> dict[str, float]:
    """Hand-shake a connection, then time `frames` in-order full-size segments into the peer."""
    env = VirtualEnv()
    sent: list[bytes] = []
    # The frames come at one instant of virtual time: a reader woken app_delay_ps later would
    # never run, so it reads at once (the receive path, reads included, is what is timed).
    peer = PeerHost(env, PEER_MAC, PEER_IP, HOST_MAC, HOST_IP, sent.append, 500 * NS, strict=strict, app_delay_ps=0)
    syn_opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (777, 0)), ("NOP", None), ("WScale", 7)]
    peer.receive_frame(_wire(_tcp("S", 1000, options=syn_opts), 0))
    env.run()
    una = Ether(sent[-1])[TCP].seq + 1
    peer.receive_frame(_wire(_tcp("A", 1001, una), 1))
    env.run()
    wire = [_wire(_tcp("A", 1001 + i * MSS, una, bytes([i & 0xFF]) * MSS), i + 2) for i in range(frames)]
    t = time.perf_counter()
    for f in wire:
        peer.receive_frame(f)
    wall = time.perf_counter() - t
    if len(peer.stream()) != frames * MSS:
        raise RuntimeError(f"peer took {len(peer.stream())} of {frames * MSS} bytes")
    return {"frames": frames, "wall_s": wall, "frames_per_s": frames / wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=3, help="best of N (the machine may be busy)")
    common.add_report_only(ap)
    a = ap.parse_args(argv)
    rows, ok = [], True
    for strict in (False, True):
        n = a.frames if not strict else max(a.frames // 10, 100)
        best = max((measure(n, strict) for _ in range(a.repeat)), key=lambda r: r["frames_per_s"])
        verdict = ""
        if not strict:
            ok = best["frames_per_s"] >= TARGET
            verdict = f">= {TARGET:,} {common.verdict(ok)}"
        rows.append(["strict" if strict else "fast path", n, f"{best['wall_s']:.3f}", f"{best['frames_per_s']:,.0f}", verdict])
    print(table(rows, HEADER))
    print(f"reproduce: python -m {MODULE} --frames {a.frames} --repeat {a.repeat}")
    return common.exit_status(not ok, a.report_only)


if __name__ == "__main__":
    sys.exit(main())
