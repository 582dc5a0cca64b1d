#!/usr/bin/env python3
"""Measure what the kernel's transmit path, softirqs and hard IRQs cost on this machine (root).

The figures feed hilnic/kernel/cost.py (the rest of the table beside tcp_sendmsg's copy, which
scripts/measure_tcp_sendmsg_cost.py measures). ftrace's function tracer is not permitted on
every kernel (not on the Firecracker guest this was first run on); tracepoints are, so every
figure is an interval between two tracepoints recorded with `perf record -a` (ns stamps):

  send_push      syscalls:sys_enter_sendto .. sys_exit_sendto of a 1448 B send() with
                 TCP_NODELAY and an open window (copy + tcp_write_xmit .. driver), minus the
                 softirqs run inside it (irq:softirq_entry/exit on the same CPU: veth's
                 receiver runs there at local_bh_enable)
  stack_to_dev   sys_enter_sendto .. net:net_dev_queue (syscall entry, copy, tcp_push,
                 tcp_transmit_skb, ip_queue_xmit/ip_output: up to dev_queue_xmit)
  qdisc          net:net_dev_queue .. net:net_dev_start_xmit (dev_queue_xmit, pfifo_fast
                 enqueue, __qdisc_run/sch_direct_xmit up to the driver)
  driver_xmit    net:net_dev_start_xmit .. net:net_dev_xmit (veth_xmit: an upper bound of
                 a NIC driver's descriptor writes, it also queues the skb for the peer)
  net_rx         irq:softirq_entry .. exit, vec NET_RX, against napi:napi_poll's work in it:
                 per call and per packet by least squares (tcp_v4_rcv of data and ACKs)
  net_tx, timer  irq:softirq_entry .. exit, vec NET_TX / TIMER
  hardirq        irq:irq_handler_entry .. exit of every device interrupt seen (virtio)

Two network namespaces over veth (192.0.2.1/.2, no route out; deleted at the end), the sender
with a pfifo_fast root qdisc so dev_queue_xmit goes through __qdisc_run. Prints the kernel
version and the median (and count) of every interval; paste them into cost.py's docstring.

    sudo python3 scripts/measure_cpu_costs.py [--seconds 1]
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
from veth_pair import setns, sh

NS_A, NS_B = "hilnic-cpu-a", "hilnic-cpu-b"
NET_TX, NET_RX, TIMER = 2, 3, 1
EVENTS = ["syscalls:sys_enter_sendto", "syscalls:sys_exit_sendto", "net:net_dev_queue", "net:net_dev_start_xmit",
          "net:net_dev_xmit", "irq:softirq_entry", "irq:softirq_exit", "napi:napi_poll", "irq:irq_handler_entry",
          "irq:irq_handler_exit"]


def setup() -> None:
    veth_pair.setup(NS_A, NS_B, "hcpu-a", "hcpu-b")
    sh("ip", "netns", "exec", NS_A, "tc", "qdisc", "replace", "dev", "hcpu-a", "root", "pfifo_fast")
    for ns, dev in ((NS_A, "hcpu-a"), (NS_B, "hcpu-b")):
        sh("ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", check=False)


def teardown() -> None:
    veth_pair.teardown(NS_A, NS_B)


def receiver(ready_w: int) -> None:
    """Accepts and reads everything (an open window: every send() goes out)."""
    setns(NS_B)
    ls = socket.socket()
    ls.bind(("192.0.2.2", 5002))
    ls.listen(4)
    os.write(ready_w, b"1")
    c, _ = ls.accept()
    while c.recv(1 << 16):
        pass


LINE = re.compile(r"^\s*\S+\s+(\d+)\s+\[(\d+)\]\s+([0-9.]+):\s+(\S+):\s*(.*)$")


def parse(text: str) -> dict[str, list[float]]:
    """Intervals per kind (ns) from `perf script -F comm,pid,cpu,time,event,trace`."""
    out: dict[str, list[float]] = {k: [] for k in ("send_push", "stack_to_dev", "qdisc", "driver_xmit", "net_tx",
                                                   "timer", "hardirq")}
    rx: list[tuple[float, int]] = []
    send_start: dict[int, float] = {}  # pid -> enter
    send_sirq: dict[int, float] = {}  # pid -> softirq ns inside the call
    send_first_q: dict[int, float] = {}
    sirq_start: dict[int, tuple[float, int, int]] = {}  # cpu -> (t, vec, napi work)
    q_start: dict[int, float] = {}
    x_start: dict[int, float] = {}
    irq_start: dict[int, float] = {}
    sirq_cpu_pid: dict[int, int] = {}
    cur_pid: dict[int, int] = {}
    for ln in text.splitlines():
        m = LINE.match(ln)
        if not m:
            continue
        pid, cpu, t, ev, rest = int(m.group(1)), int(m.group(2)), float(m.group(3)) * 1e9, m.group(4), m.group(5)
        cur_pid[cpu] = pid
        if ev == "syscalls:sys_enter_sendto":
            send_start[pid], send_sirq[pid] = t, 0.0
            send_first_q.pop(pid, None)
        elif ev == "syscalls:sys_exit_sendto" and pid in send_start:
            out["send_push"].append(t - send_start.pop(pid) - send_sirq.pop(pid, 0.0))
            if pid in send_first_q:
                out["stack_to_dev"].append(send_first_q.pop(pid))
        elif ev == "net:net_dev_queue":
            q_start[cpu] = t
            if pid in send_start and pid not in send_first_q and cpu not in sirq_start:
                send_first_q[pid] = t - send_start[pid]
        elif ev == "net:net_dev_start_xmit":
            if cpu in q_start:
                out["qdisc"].append(t - q_start.pop(cpu))
            x_start[cpu] = t
        elif ev == "net:net_dev_xmit" and cpu in x_start:
            out["driver_xmit"].append(t - x_start.pop(cpu))
        elif ev == "irq:softirq_entry":
            vec = int(re.search(r"vec=(\d+)", rest).group(1))  # type: ignore[union-attr]
            sirq_start[cpu] = (t, vec, 0)
            sirq_cpu_pid[cpu] = pid
        elif ev == "napi:napi_poll" and cpu in sirq_start:
            w = re.search(r"work (\d+)", rest)
            t0, vec, work = sirq_start[cpu]
            sirq_start[cpu] = (t0, vec, work + (int(w.group(1)) if w else 0))
        elif ev == "irq:softirq_exit" and cpu in sirq_start:
            t0, vec, work = sirq_start.pop(cpu)
            d = t - t0
            p = sirq_cpu_pid.pop(cpu, -1)
            if p in send_start:
                send_sirq[p] = send_sirq.get(p, 0.0) + d
            if vec == NET_RX and work:
                rx.append((d, work))
            elif vec == NET_TX:
                out["net_tx"].append(d)
            elif vec == TIMER:
                out["timer"].append(d)
        elif ev == "irq:irq_handler_entry":
            irq_start[cpu] = t
        elif ev == "irq:irq_handler_exit" and cpu in irq_start:
            out["hardirq"].append(t - irq_start.pop(cpu))
    # NET_RX: duration = call + per_packet * work (least squares over softirq runs)
    if len(rx) >= 2 and len({w for _, w in rx}) >= 2:
        xs, ys = [float(w) for _, w in rx], [d for d, _ in rx]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
        out["net_rx_call"] = [my - b * mx]
        out["net_rx_packet"] = [b]
    out["net_rx_one"] = [d for d, w in rx if w == 1]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="how long the sender sends")
    args = ap.parse_args()
    setup()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        receiver(w)
        os._exit(0)
    data = os.path.join(tempfile.mkdtemp(prefix="hilnic-cpu-cost-"), "perf.data")
    try:
        os.read(r, 1)
        setns(NS_A)
        s = socket.socket()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect(("192.0.2.2", 5002))
        buf = b"x" * 1448
        cmd = ["perf", "record", "-q", "-a", "-o", data]
        for e in EVENTS:
            cmd += ["-e", e]
        perf = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.0)  # perf attached
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            s.send(buf)
            time.sleep(0.0002)  # one segment in flight at a time: each send() pushes it
        s.close()
        time.sleep(0.2)
        perf.send_signal(signal.SIGINT)
        perf.wait()
        text = subprocess.run(["perf", "script", "-i", data, "--ns", "-F", "comm,pid,cpu,time,event,trace"],
                              check=True, capture_output=True, text=True).stdout
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        teardown()
        shutil.rmtree(os.path.dirname(data), ignore_errors=True)
    res = parse(text)
    print(f"kernel {platform.release()}  cpu {platform.processor() or platform.machine()}  seconds {args.seconds}")
    print("interval       median_ns     n")
    for k, v in res.items():
        if v:
            print(f"{k:14s} {statistics.median(v):9.0f} {len(v):6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
