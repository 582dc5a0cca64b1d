"""The application of the Linux peer: a real socket in the peer's network namespace.

    ip netns exec NS python -m hilnic.wire.ns_receiver --proto tcp --bind 192.0.2.2 --port 5001 \\
        --nbytes 262144 --seed 1

Started by hilnic.wire.netns inside the namespace. It binds, prints `ready` on stdout, then
receives with the kernel's own socket API — TCP: accept one connection, recv until EOF,
close; UDP: recvfrom until told to stop — and checks every byte against the payload the run
sends, regenerated here from its length and seed (hilnic.wire.payload). UDP datagrams must
be the run's writes in order, some possibly lost (`--datagram SIZE`: the writes are SIZE
bytes, the last one the rest).

Control: a line `done` on stdin, or its end, means the run has finished: whatever is still
in the socket is read, then the namespace's counters (/proc/net/snmp and /proc/net/netstat,
what `nstat -az` shows) are read and one JSON line reports everything on stdout. Its end of
stdin is what stops it if the run dies; `--wall-limit` bounds it anyway.

Standard library only (plus hilnic.wire.payload, itself standard library only).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import sys
import time
from typing import Any

from hilnic.wire.payload import pattern_chunks

RECV_SIZE = 1 << 16
SYSCTLS = ("net.ipv4.tcp_rmem", "net.ipv4.tcp_sack", "net.ipv4.tcp_timestamps", "net.ipv4.tcp_window_scaling",
           "net.ipv4.tcp_moderate_rcvbuf", "net.ipv4.tcp_comp_sack_nr", "net.ipv4.ipfrag_time",
           "net.core.rmem_default")


class _Expected:
    """The payload, compared piece by piece as it arrives (never all of it in memory)."""

    def __init__(self, nbytes: int, seed: int) -> None:
        self.nbytes = nbytes
        self._chunks = pattern_chunks(nbytes, seed)
        self._buf = b""
        self._off = 0  # stream offset of _buf[0]

    def take(self, n: int) -> bytes:
        """The next n expected bytes (fewer at the end)."""
        while len(self._buf) < n:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            self._buf += nxt
        out, self._buf = self._buf[:n], self._buf[n:]
        self._off += len(out)
        return out


def read_counters() -> dict[str, dict[str, int]]:
    """This namespace's SNMP and extended counters: {"Ip": {...}, "Tcp": {...}, "TcpExt": ...}."""
    out: dict[str, dict[str, int]] = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for head, vals in zip(lines[::2], lines[1::2], strict=False):
            group, names = head.split(":", 1)
            _, values = vals.split(":", 1)
            out[group] = {k: int(v) for k, v in zip(names.split(), values.split(), strict=False)}
    return out


def read_sysctls() -> dict[str, str]:
    out = {}
    for name in SYSCTLS:
        try:
            with open("/proc/sys/" + name.replace(".", "/")) as f:
                out[name] = " ".join(f.read().split())
        except OSError:
            pass
    return out


class Receiver:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.deadline = time.monotonic() + a.wall_limit
        self.stdin = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
        self.done = False  # the run said it has finished (or its end of the pipe closed)
        self.report: dict[str, Any] = {"proto": a.proto, "expected_bytes": a.nbytes, "bytes": 0, "match": False,
                                       "first_difference": None, "error": "", "kernel": os.uname().release,
                                       "netns": a.netns}

    def _wait(self, fds: list[Any]) -> list[Any]:
        """select() on fds and stdin; notes `done`; returns the ready fds among `fds`."""
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the receiver's wall-clock bound of {self.a.wall_limit:g} s passed")
            want = list(fds) + ([] if self.done else [self.stdin])
            if not want:
                return []
            ready, _, _ = select.select(want, [], [], min(left, 1.0))
            if self.stdin in ready:
                line = os.read(self.stdin.fileno(), 4096)
                if not line or b"done" in line:
                    self.done = True
            got = [f for f in ready if f is not self.stdin]
            if got or (self.done and fds):
                return got

    def wait_done(self) -> None:
        while not self.done:
            self._wait([])

    def run(self) -> None:
        a = self.a
        kind = socket.SOCK_STREAM if a.proto == "tcp" else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, kind) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((a.bind, a.port))
            if a.proto == "tcp":
                s.listen(1)
            print("ready", flush=True)
            try:
                if a.proto == "tcp":
                    self._tcp(s)
                else:
                    self._udp(s)
            except (OSError, TimeoutError) as exc:
                self.report["error"] = f"{type(exc).__name__}: {exc}"
        try:
            self.wait_done()
        except TimeoutError as exc:
            self.report["error"] = self.report["error"] or str(exc)
        self.report["counters"] = read_counters()
        self.report["sysctls"] = read_sysctls()
        print(json.dumps(self.report), flush=True)

    def _tcp(self, ls: socket.socket) -> None:
        r = self.report
        if not self._wait([ls]):
            r["error"] = "no connection before the run ended"
            return
        conn, peer = ls.accept()
        r["peer"] = f"{peer[0]}:{peer[1]}"
        r["rcvbuf_initial"] = conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        t0 = time.monotonic()
        exp = _Expected(self.a.nbytes, self.a.seed)
        first_diff: int | None = None
        got = 0
        eof = False
        with conn:
            conn.setblocking(False)
            while not eof:
                if not self._wait([conn]):  # the run ended: read what is left, then stop
                    self.done = True
                try:
                    data = conn.recv(RECV_SIZE)
                except BlockingIOError:
                    if self.done:
                        break
                    continue
                if not data:
                    eof = True
                    break
                want = exp.take(len(data))
                if first_diff is None and data != want:
                    first_diff = got + next((i for i, (x, y) in enumerate(zip(data, want, strict=False)) if x != y),
                                            min(len(data), len(want)))
                got += len(data)
            r["rcvbuf_final"] = conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        r["wall_s"] = time.monotonic() - t0
        r["eof"] = eof
        r["bytes"] = got
        r["first_difference"] = first_diff
        r["match"] = eof and first_diff is None and got == self.a.nbytes
        if not eof and not r["error"]:
            r["error"] = f"no end of stream: {got:,} of {self.a.nbytes:,} bytes received when the run ended"

    def _udp(self, s: socket.socket) -> None:
        a, r = self.a, self.report
        size = a.datagram or a.nbytes
        sizes = [size] * (a.nbytes // size) + ([a.nbytes % size] if a.nbytes % size else [])
        expected = []
        chunks = _Expected(a.nbytes, a.seed)
        for n in sizes:
            expected.append(chunks.take(n))
        s.setblocking(False)
        j = 0  # next expected datagram
        got = unmatched = 0
        first_bad: int | None = None
        while j < len(expected) or not self.done:
            ready = self._wait([s])
            if not ready and self.done:
                break
            try:
                data, peer = s.recvfrom(1 << 16)
            except BlockingIOError:
                if self.done:
                    break
                continue
            r["peer"] = f"{peer[0]}:{peer[1]}"
            k = j
            while k < len(expected) and expected[k] != data:
                k += 1
            if k == len(expected):  # matches none of the datagrams still to come, in order
                unmatched += 1
                if first_bad is None:
                    first_bad = got
            else:
                j = k + 1
            got += 1
            r["bytes"] += len(data)
        r["datagrams"] = got
        r["datagrams_expected"] = len(expected)
        r["unmatched"] = unmatched
        r["first_difference"] = first_bad  # index of the first datagram that matched none
        r["match"] = unmatched == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ns_receiver", description=__doc__.splitlines()[0])
    ap.add_argument("--proto", choices=("tcp", "udp"), required=True)
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--nbytes", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--datagram", type=int, default=0, help="UDP: bytes per write (the last one the rest)")
    ap.add_argument("--wall-limit", type=float, default=3600.0, help="seconds before it gives up")
    ap.add_argument("--netns", default="", help="the namespace it runs in (for ps and the report only)")
    a = ap.parse_args(argv)
    try:
        Receiver(a).run()
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # bind failed, or stdout closed: one line, no traceback
        print(f"ns_receiver: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
