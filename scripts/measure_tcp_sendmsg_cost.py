#!/usr/bin/env python3
"""Measure what one send() costs the kernel in tcp_sendmsg, on this machine (needs root).

The figures feed hilnic/kernel/cost.py (TCP_SENDMSG_CALL_NS, TCP_SENDMSG_BYTE_PS): the time
tcp_sendmsg holds the socket (lock_sock .. release_sock) per call and per byte copied.

How: two network namespaces joined by a veth pair (documentation addresses 192.0.2.1/.2, no
route out; both are deleted at the end). The receiver never reads and has a tiny receive
buffer, so its window closes; from then on every send() only copies into the write queue
(tcp_push finds no window and returns), which is the part hilnic charges. The syscall
tracepoints syscalls:sys_enter_sendto / sys_exit_sendto, recorded with `perf record` (ns
timestamps), time each call in the kernel; ftrace's function tracer would time tcp_sendmsg
itself, but it is not permitted on every kernel (not on the Firecracker guest this was first
run on), the tracepoints are. The median per size is fitted with t = call + byte * size by
least squares.

The interval includes the syscall entry work before lock_sock (fd lookup, LSM hooks,
sock_sendmsg), a few hundred ns: an upper bound of the socket's hold time, reported as is.

    sudo python3 scripts/measure_tcp_sendmsg_cost.py [--runs 200]

Prints the kernel version, the raw medians and the fit.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import veth_pair  # scripts/: on sys.path when run as a script
from veth_pair import setns

NS_A, NS_B = "hilnic-cost-a", "hilnic-cost-b"
SIZES = [1, 100, 1000, 1448, 4096, 10000, 16384, 32768, 65536]


def setup() -> None:
    veth_pair.setup(NS_A, NS_B, "hcost-a", "hcost-b")


def teardown() -> None:
    veth_pair.teardown(NS_A, NS_B)


def receiver(ready_w: int) -> None:
    """One listener; every connection is accepted and never read."""
    setns(NS_B)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind(("192.0.2.2", 5001))
    ls.listen(16)
    os.write(ready_w, b"1")
    held = []
    while True:
        c, _ = ls.accept()
        held.append(c)


def closed_window_socket() -> socket.socket:
    """A connection whose peer window is closed: sends only queue data."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect(("192.0.2.2", 5001))
    s.send(b"\0" * 65536)
    time.sleep(0.3)
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200, help="send() calls per size")
    args = ap.parse_args()
    setup()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        receiver(w)
        os._exit(0)
    tmp = tempfile.mkdtemp(prefix="hilnic-sendmsg-cost-")
    try:
        os.read(r, 1)
        setns(NS_A)
        bufs = {n: b"x" * n for n in SIZES}
        socks = {n: closed_window_socket() for n in SIZES}
        data = os.path.join(tmp, "perf.data")
        perf = subprocess.Popen(["perf", "record", "-q", "-e", "syscalls:sys_enter_sendto", "-e",
                                 "syscalls:sys_exit_sendto", "-p", str(os.getpid()), "-o", data],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)  # perf attached
        order = []
        for n in SIZES:
            s = socks[n]
            for _ in range(min(args.runs, (2 << 20) // n)):  # well inside the send buffer
                s.send(bufs[n])
                order.append(n)
        time.sleep(0.2)
        perf.send_signal(signal.SIGINT)
        perf.wait()
        out = subprocess.run(["perf", "script", "-i", data, "--ns", "-F", "time,event"], check=True,
                             capture_output=True, text=True).stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        teardown()
    enters: list[float] = []
    durs: list[float] = []
    for ln in out.splitlines():
        m = re.match(r"\s*([0-9.]+):\s+syscalls:sys_(enter|exit)_sendto", ln)
        if not m:
            continue
        if m.group(2) == "enter":
            enters.append(float(m.group(1)))
        elif enters:
            durs.append(float(m.group(1)) - enters.pop())
    if len(durs) != len(order):
        print(f"got {len(durs)} intervals for {len(order)} calls", file=sys.stderr)
        return 1
    med = {}
    for n in SIZES:
        d = [x for x, m in zip(durs, order, strict=True) if m == n]
        med[n] = statistics.median(d) * 1e9
    xs, ys = list(med), list(med.values())
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    a = my - b * mx
    print(f"kernel {platform.release()}  cpu {platform.processor() or platform.machine()}  runs {args.runs}")
    print("size_bytes median_ns")
    for n in SIZES:
        print(f"{n:10d} {med[n]:9.0f}")
    print(f"fit: TCP_SENDMSG_CALL_NS = {a:.0f}   TCP_SENDMSG_BYTE_PS = {b * 1000:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
