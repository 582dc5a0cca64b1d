#!/usr/bin/env python3
"""Capture what your own Linux kernel puts on the wire, for `hilnic compare`.

    sudo .venv/bin/python scripts/linux_ref/capture.py                 # every scenario, 5 runs each
    sudo .venv/bin/python scripts/linux_ref/capture.py --only tcp_bulk_64k_cubic_rtt0 --repeat 3
    sudo .venv/bin/python scripts/linux_ref/capture.py --list
    .venv/bin/hilnic run --sim model $(jq -r '.hilnic_args|join(" ")' tests/linux_ref/X.json) --out x-run
    .venv/bin/hilnic compare x-run tests/linux_ref/X.pcap

For each scenario and run the script creates two network namespaces, a sender (192.0.2.1/24)
and a receiver (192.0.2.2/24, documentation addresses), joined by a veth pair, with no route
out of them: loopback and the /24 only, IPv6 off, static neighbours, offloads off on both
ends (ethtool -K tso off gso off gro off). The sender's congestion control is set with its
netns sysctl net.ipv4.tcp_congestion_control; a peer MSS is the receiver's route's advmss
(the SYN-ACK announces it); a path delay on the receiver→sender direction (so the ACKs come
later, as `hilnic run --rtt`) is `tc qdisc netem delay` on the receiver's veth, or, on a kernel
without sch_netem, a small user-space bridge in a third namespace that forwards frames at once
towards the receiver and after the delay towards the sender. The receiver is Python: TCP reads
recv(65536) until EOF, then closes; UDP counts datagrams. The sender is Python too: N send()s of
SIZE bytes (optionally TCP_NODELAY, a think time between them, a connected UDP socket), then
close. tcpdump captures on the sender's veth. Then everything is deleted, also on an error or
Ctrl-C (the namespaces carry the script's pid; `--cleanup` removes leftovers of a killed run).

Each scenario runs --repeat times. The capture of the most frequent pattern is kept as
OUT/NAME.pcap with OUT/NAME.json beside it: kernel (uname -r), the sysctls that matter on both
sides, the sender's qdisc and offloads, the exact knobs (and the `hilnic run` arguments that
mean the same), every run's pattern, and what was stable: the full pattern, or only some
features (hilnic compare then checks only those).

Needs root, ip (iproute2), tc, ethtool, tcpdump, and python with scapy (the repo's .venv) for
the patterns. Nothing is left behind: no namespace, no interface, no sysctl changed outside
the namespaces.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import datetime
import heapq
import json
import os
import platform
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SENDER_IP, RECEIVER_IP, PREFIX = "192.0.2.1", "192.0.2.2", 24
TCP_PORT, UDP_PORT = 5001, 9000  # the ports `hilnic run` uses
SNAPLEN = 200  # headers only: patterns need the IP and TCP headers, not the payload
TAG = f"hlref{os.getpid() % 100000}"
# --sender-tbf: a tbf qdisc on the sender's veth (None: veth's noqueue)
SENDER_TBF: str | None = None

SENDER_SYSCTLS = [
    "net.ipv4.tcp_congestion_control", "net.ipv4.tcp_sack", "net.ipv4.tcp_dsack", "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_window_scaling", "net.ipv4.tcp_autocorking", "net.ipv4.tcp_wmem", "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_limit_output_bytes", "net.ipv4.tcp_notsent_lowat", "net.ipv4.tcp_min_tso_segs",
    "net.ipv4.tcp_tso_win_divisor", "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_early_retrans",
    "net.ipv4.tcp_recovery", "net.ipv4.tcp_frto", "net.ipv4.tcp_ecn", "net.ipv4.tcp_pacing_ss_ratio",
    "net.ipv4.tcp_pacing_ca_ratio", "net.ipv4.tcp_no_metrics_save", "net.ipv4.tcp_mtu_probing",
    "net.ipv4.ip_no_pmtu_disc", "net.core.default_qdisc", "net.core.wmem_default", "net.core.wmem_max",
]
RECEIVER_SYSCTLS = [
    "net.ipv4.tcp_sack", "net.ipv4.tcp_timestamps", "net.ipv4.tcp_window_scaling", "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_moderate_rcvbuf", "net.ipv4.tcp_adv_win_scale", "net.ipv4.tcp_comp_sack_nr",
    "net.ipv4.tcp_comp_sack_delay_ns", "net.core.rmem_default", "net.core.rmem_max",
]


@dataclasses.dataclass
class Scenario:
    name: str
    description: str
    proto: str = "tcp"
    writes: int = 1
    write_size: int = 65536
    nodelay: bool = False
    cc: str = "cubic"
    rtt_ms: float = 0.0  # delay on the receiver -> sender direction
    peer_mss: int | None = None  # the receiver's advmss
    connect: bool = False  # UDP: connect() then send()
    think_ms: float = 0.0  # sender's sleep between writes

    @property
    def nbytes(self) -> int:
        return self.writes * self.write_size

    def knobs(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("name", "description")}

    def hilnic_args(self) -> list[str]:
        """`hilnic run` arguments for the same scenario (the model's defaults for the rest)."""
        a = []
        if self.proto == "udp":
            a += ["--proto", "udp"]
        a += ["--writes", str(self.writes), "--write-size", str(self.write_size)]
        if self.nodelay:
            a.append("--nodelay")
        if self.proto == "tcp":
            a += ["--cc", self.cc]
        if self.rtt_ms:
            a += ["--rtt", f"{self.rtt_ms:g}ms"]
        if self.peer_mss:
            a += ["--peer-mss", str(self.peer_mss)]
        if self.connect:
            a.append("--connect")
        if self.think_ms:
            a += ["--think-time", f"{self.think_ms:g}ms"]
        return a


def scenarios() -> list[Scenario]:
    out = []
    for cc in ("cubic", "bbr"):
        for rtt in (0.0, 10.0):
            sfx = f"{cc}_rtt{rtt:g}ms" if rtt else f"{cc}_rtt0"
            d = f", {cc}" + (f", {rtt:g} ms path delay on the ACKs" if rtt else ", no path delay")
            out += [
                Scenario(f"tcp_nagle_10x1000_{sfx}", "10 back-to-back send()s of 1000 B with Nagle" + d,
                         writes=10, write_size=1000, cc=cc, rtt_ms=rtt),
                Scenario(f"tcp_mss536_10000_{sfx}", "one 10000 B send() to a peer advertising MSS 536" + d,
                         writes=1, write_size=10000, cc=cc, rtt_ms=rtt, peer_mss=536),
                Scenario(f"tcp_bulk_64k_{sfx}", "one 64 KiB send()" + d, writes=1, write_size=65536, cc=cc, rtt_ms=rtt),
            ]
    out += [
        Scenario("tcp_nodelay_10x1000_cubic_rtt0", "10 back-to-back send()s of 1000 B with TCP_NODELAY, cubic",
                 writes=10, write_size=1000, nodelay=True),
        # With a think time the ACKs are back before the next write, on veth and through a NIC
        # alike: these patterns come from the send path, not from where the peer runs.
        Scenario("tcp_nagle_10x100_cubic_think200us", "10 send()s of 100 B with Nagle, 200 us apart, cubic",
                 writes=10, write_size=100, think_ms=0.2),
        Scenario("tcp_nagle_10x1000_cubic_think1ms", "10 send()s of 1000 B with Nagle, 1 ms apart, cubic",
                 writes=10, write_size=1000, think_ms=1.0),
        Scenario("tcp_nodelay_5x3000_cubic_think1ms", "5 send()s of 3000 B with TCP_NODELAY, 1 ms apart, cubic",
                 writes=5, write_size=3000, nodelay=True, think_ms=1.0),
        Scenario("tcp_nagle_3x5000_bbr_think1ms", "3 send()s of 5000 B with Nagle, 1 ms apart, bbr",
                 writes=3, write_size=5000, cc="bbr", think_ms=1.0),
        Scenario("tcp_mss536_3x2000_cubic_think1ms", "3 send()s of 2000 B, 1 ms apart, to a peer advertising MSS 536",
                 writes=3, write_size=2000, peer_mss=536, think_ms=1.0),
        Scenario("tcp_nagle_4x1449_cubic_think1ms", "4 send()s of MSS + 1 B with Nagle, 1 ms apart, cubic",
                 writes=4, write_size=1449, think_ms=1.0),
        # Nagle holds the small writes for a whole round trip; the rest of 16 KiB waits for cwnd.
        Scenario("tcp_nagle_10x100_cubic_rtt10ms", "10 back-to-back send()s of 100 B with Nagle, cubic, 10 ms "
                 "path delay on the ACKs", writes=10, write_size=100, rtt_ms=10.0),
        Scenario("tcp_bulk_16k_cubic_rtt10ms", "one 16 KiB send(), cubic, 10 ms path delay on the ACKs", writes=1,
                 write_size=16384, rtt_ms=10.0),
        # Within the initial window: nothing waits for an ACK.
        Scenario("tcp_bulk_8k_reno_rtt0", "one 8 KiB send(), reno, no path delay", writes=1, write_size=8192,
                 cc="reno"),
        Scenario("tcp_mss1000_5000_cubic_rtt0", "one 5000 B send() to a peer advertising MSS 1000, cubic",
                 writes=1, write_size=5000, peer_mss=1000),
        Scenario("udp_1472x4", "4 UDP datagrams of 1472 B (one full 1500 B packet each), MTU 1500",
                 proto="udp", writes=4, write_size=1472),
        Scenario("udp_4000x2", "2 UDP datagrams of 4000 B, fragmented at MTU 1500", proto="udp", writes=2,
                 write_size=4000),
        Scenario("udp_connect_100x3", "3 UDP datagrams of 100 B from a connected socket", proto="udp", writes=3,
                 write_size=100, connect=True),
        Scenario("udp_1473x2", "2 UDP datagrams of 1473 B: one byte past the MTU, a 21 B second fragment",
                 proto="udp", writes=2, write_size=1473),
        Scenario("udp_8000x2", "2 UDP datagrams of 8000 B, six fragments each", proto="udp", writes=2,
                 write_size=8000),
        Scenario("udp_connect_3000x2", "2 UDP datagrams of 3000 B from a connected socket, fragmented",
                 proto="udp", writes=2, write_size=3000, connect=True),
    ]
    return out


# -- running commands ---------------------------------------------------------------------------


def sh(*cmd: str, check: bool = True, ns: str | None = None) -> str:
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(full)} failed ({r.returncode}): {(r.stderr or r.stdout).strip()}")
    return r.stdout


def sysctl_get(ns: str, key: str) -> str:
    path = "/proc/sys/" + key.replace(".", "/")
    r = subprocess.run(["ip", "netns", "exec", ns, "cat", path], capture_output=True, text=True)
    return " ".join(r.stdout.split()) if r.returncode == 0 else "(absent)"


def sysctl_set(ns: str, key: str, value: str) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    sh("sh", "-c", f"echo '{value}' > {path}", ns=ns)


def mac_of(ns: str, dev: str) -> str:
    return sh("cat", f"/sys/class/net/{dev}/address", ns=ns).strip()


class Namespaces:
    """The sender, the receiver and (delay bridge) a middle namespace; deleted on exit."""

    def __init__(self, sc: Scenario, run: int) -> None:
        self.sc = sc
        self.s, self.r, self.m = f"{TAG}-s{run}", f"{TAG}-r{run}", f"{TAG}-m{run}"
        self.sdev, self.rdev = "veth-snd", "veth-rcv"
        self.created: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.delay_method = "none"
        self.cc_how = ""

    def __enter__(self) -> Namespaces:
        try:
            self._setup()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _add_ns(self, ns: str) -> None:
        sh("ip", "netns", "add", ns)
        self.created.append(ns)
        for k in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
            with contextlib.suppress(RuntimeError):
                sysctl_set(ns, k, "1")
        sh("ip", "link", "set", "lo", "up", ns=ns)

    def _offloads_off(self, ns: str, dev: str) -> None:
        sh("ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", ns=ns)
        sh("ethtool", "-K", dev, "lro", "off", check=False, ns=ns)  # fixed off on veth

    def _setup(self) -> None:
        sc = self.sc
        self._add_ns(self.s)
        self._add_ns(self.r)
        # a restricted algorithm (not in tcp_allowed_congestion_control) cannot be a non-init netns's
        # default (EPERM); the sender also sets it with setsockopt(TCP_CONGESTION), as root
        try:
            sysctl_set(self.s, "net.ipv4.tcp_congestion_control", sc.cc)
            self.cc_how = "netns sysctl net.ipv4.tcp_congestion_control and setsockopt(TCP_CONGESTION)"
        except RuntimeError:
            self.cc_how = "setsockopt(TCP_CONGESTION) in the sender (not allowed as this netns's default)"
        bridge = False
        if sc.rtt_ms:
            # try netem on the receiver's side of a direct veth first
            sh("ip", "link", "add", self.sdev, "netns", self.s, "type", "veth", "peer", "name", self.rdev,
               "netns", self.r)
            r = subprocess.run(["ip", "netns", "exec", self.r, "tc", "qdisc", "add", "dev", self.rdev, "root", "netem",
                                "delay", f"{sc.rtt_ms:g}ms", "limit", "10000"], capture_output=True, text=True)
            if r.returncode == 0:
                self.delay_method = f"tc qdisc netem delay {sc.rtt_ms:g}ms on the receiver's veth"
            else:
                sh("ip", "link", "del", self.sdev, ns=self.s)
                bridge = True
        else:
            sh("ip", "link", "add", self.sdev, "netns", self.s, "type", "veth", "peer", "name", self.rdev,
               "netns", self.r)
        if bridge:
            self._add_ns(self.m)
            sh("ip", "link", "add", self.sdev, "netns", self.s, "type", "veth", "peer", "name", "m-snd", "netns", self.m)
            sh("ip", "link", "add", self.rdev, "netns", self.r, "type", "veth", "peer", "name", "m-rcv", "netns", self.m)
            for dev in ("m-snd", "m-rcv"):
                self._offloads_off(self.m, dev)
                sh("ip", "link", "set", dev, "promisc", "on", "up", ns=self.m)
            self.delay_method = (f"user-space bridge delaying receiver->sender frames by {sc.rtt_ms:g} ms "
                                 f"(no sch_netem in this kernel)")
        for ns, dev, ip in ((self.s, self.sdev, SENDER_IP), (self.r, self.rdev, RECEIVER_IP)):
            self._offloads_off(ns, dev)
            sh("ip", "addr", "add", f"{ip}/{PREFIX}", "dev", dev, ns=ns)
            sh("ip", "link", "set", dev, "up", ns=ns)
        smac, rmac = mac_of(self.s, self.sdev), mac_of(self.r, self.rdev)
        sh("ip", "neigh", "replace", RECEIVER_IP, "lladdr", rmac, "dev", self.sdev, "nud", "permanent", ns=self.s)
        sh("ip", "neigh", "replace", SENDER_IP, "lladdr", smac, "dev", self.rdev, "nud", "permanent", ns=self.r)
        if sc.peer_mss:
            sh("ip", "route", "replace", f"192.0.2.0/{PREFIX}", "dev", self.rdev, "proto", "kernel", "scope", "link",
               "src", RECEIVER_IP, "advmss", str(sc.peer_mss), ns=self.r)
        if bridge:
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", self.m, sys.executable, __file__, "--role", "bridge",
                 "--arg", json.dumps({"a": "m-snd", "b": "m-rcv", "delay_s": sc.rtt_ms / 1000})],
                stdout=subprocess.PIPE, text=True))
            _wait_line(self.procs[-1], "ready", 5)
        if SENDER_TBF:
            # The skbs wait in the qdisc still charged to the socket (veth_xmit orphans them
            # only when they leave), as a NIC's stay until TX completion; the ACKs come later.
            sh("tc", "qdisc", "replace", "dev", self.sdev, "root", "tbf", "rate", SENDER_TBF, "burst", "1600",
               "latency", "100ms", ns=self.s)
        time.sleep(0.2)  # links up (veth carrier)

    def describe(self) -> dict[str, Any]:
        return {
            "sender": f"{SENDER_IP}/{PREFIX} on {self.sdev}", "receiver": f"{RECEIVER_IP}/{PREFIX} on {self.rdev}",
            "routes_sender": sh("ip", "-4", "route", "show", ns=self.s).strip().splitlines(),
            "routes_receiver": sh("ip", "-4", "route", "show", ns=self.r).strip().splitlines(),
            "qdisc_sender": sh("tc", "qdisc", "show", "dev", self.sdev, ns=self.s).strip(),
            "qdisc_receiver": sh("tc", "qdisc", "show", "dev", self.rdev, ns=self.r).strip(),
            "offloads_sender": _offloads(sh("ethtool", "-k", self.sdev, ns=self.s)),
            "mtu": int(sh("cat", f"/sys/class/net/{self.sdev}/mtu", ns=self.s)),
            "delay": self.delay_method,
            "congestion_control": f"{self.sc.cc} by {self.cc_how}",
            "sysctls_sender": {k: sysctl_get(self.s, k) for k in SENDER_SYSCTLS},
            "sysctls_receiver": {k: sysctl_get(self.r, k) for k in RECEIVER_SYSCTLS},
        }

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            _stop(p)
        self.procs.clear()
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.created.clear()


def _offloads(text: str) -> dict[str, str]:
    keep = ("tcp-segmentation-offload", "generic-segmentation-offload", "generic-receive-offload",
            "large-receive-offload", "tx-checksumming", "scatter-gather")
    out = {}
    for line in text.splitlines():
        k, _, v = line.strip().partition(":")
        if k in keep:
            out[k] = v.strip()
    return out


def _wait_line(p: subprocess.Popen, word: str, timeout: float, stream: str = "stdout") -> str:
    f = getattr(p, stream)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        r, _, _ = select.select([f], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        line = f.readline()
        if not line:
            break
        seen.append(line.strip())
        if word in line:
            return line
    raise RuntimeError(f"'{word}' not seen in {timeout:g} s from {p.args[-3:]}: {seen[-3:]}")


def _stop(p: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 3.0) -> None:
    if p.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# -- one capture ----------------------------------------------------------------------------------


def capture_once(sc: Scenario, run: int, pcap: Path) -> dict[str, Any]:
    """One run of a scenario into `pcap`; returns the setup it ran on."""
    with Namespaces(sc, run) as nss:
        info = nss.describe()
        role = {"proto": sc.proto, "cc": sc.cc, "writes": sc.writes, "size": sc.write_size, "nodelay": sc.nodelay,
                "connect": sc.connect, "think_s": sc.think_ms / 1000, "ip": RECEIVER_IP}
        recv = subprocess.Popen(["ip", "netns", "exec", nss.r, sys.executable, __file__, "--role", "receiver",
                                 "--arg", json.dumps(role)], stdout=subprocess.PIPE, text=True)
        nss.procs.append(recv)
        _wait_line(recv, "ready", 5)
        dump = subprocess.Popen(["ip", "netns", "exec", nss.s, "tcpdump", "-i", nss.sdev, "-n", "-U", "--immediate-mode", "-s",
                                 str(SNAPLEN), "-w", str(pcap), "ip"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        nss.procs.append(dump)
        _wait_line(dump, "listening on", 5, stream="stderr")
        send = subprocess.run(["ip", "netns", "exec", nss.s, sys.executable, __file__, "--role", "sender",
                               "--arg", json.dumps(role)], capture_output=True, text=True, timeout=60)
        if send.returncode:
            raise RuntimeError(f"sender failed: {send.stderr.strip()}")
        try:
            got = recv.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            raise RuntimeError("the receiver did not finish in 30 s") from None
        if f"received {sc.nbytes}" not in got:
            raise RuntimeError(f"receiver: {got.strip()!r}, expected {sc.nbytes} bytes")
        time.sleep(0.3 + 3 * sc.rtt_ms / 1000)  # the last ACKs and FINs
        _stop(dump, signal.SIGINT)
        err = dump.stderr.read() if dump.stderr else ""
        counts = {" ".join(ln.split()[1:]): ln.split()[0] for ln in err.splitlines() if ln[:1].isdigit()}
        if counts.get("packets captured") != counts.get("packets received by filter") or \
                counts.get("packets dropped by kernel") != "0":
            raise RuntimeError(f"tcpdump lost packets: {' / '.join(err.split(chr(10))[-3:])}")
        return info


# -- roles (run inside a namespace) ---------------------------------------------------------------


def role_receiver(a: dict[str, Any]) -> None:
    if a["proto"] == "tcp":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((a["ip"], TCP_PORT))
        ls.listen(1)
        print("ready", flush=True)
        c, _ = ls.accept()
        total = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            total += len(d)
        c.close()
        ls.close()
    else:
        us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        us.bind((a["ip"], UDP_PORT))
        us.settimeout(5)
        print("ready", flush=True)
        total = 0
        for _ in range(a["writes"]):
            try:
                total += len(us.recv(65536))
            except TimeoutError:
                break
        us.close()
    print(f"received {total}", flush=True)


def role_sender(a: dict[str, Any]) -> None:
    buf = bytes(range(256)) * (a["size"] // 256 + 1)
    buf = buf[:a["size"]]
    dst = (a["ip"], TCP_PORT if a["proto"] == "tcp" else UDP_PORT)
    if a["proto"] == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, a["cc"].encode())
        if a["nodelay"]:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect(dst)
        for i in range(a["writes"]):
            if i and a["think_s"]:
                time.sleep(a["think_s"])
            s.sendall(buf)
        s.close()
        return
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if a["connect"]:
        s.connect(dst)
    for i in range(a["writes"]):
        if i and a["think_s"]:
            time.sleep(a["think_s"])
        if a["connect"]:
            s.send(buf)
        else:
            s.sendto(buf, dst)
    s.close()


def _l4_csum_fix(frame: bytes) -> bytes:
    """Fill in a TCP/UDP checksum left to the device (CHECKSUM_PARTIAL crosses veth unfilled)."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return frame
    ihl = (frame[14] & 0x0F) * 4
    total = struct.unpack_from("!H", frame, 16)[0]
    proto, frag = frame[23], struct.unpack_from("!H", frame, 20)[0]
    if frag & 0x3FFF or proto not in (6, 17):
        return frame
    l4 = bytearray(frame[14 + ihl:14 + total])
    pos = 16 if proto == 6 else 6
    if len(l4) < pos + 2:
        return frame
    l4[pos:pos + 2] = b"\0\0"
    pseudo = frame[26:34] + struct.pack("!BBH", 0, proto, len(l4))
    data = pseudo + bytes(l4) + (b"\0" if len(l4) % 2 else b"")
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    c = ~s & 0xFFFF
    if proto == 17 and c == 0:
        c = 0xFFFF
    l4[pos:pos + 2] = struct.pack("!H", c)
    return frame[:14 + ihl] + bytes(l4) + frame[14 + total:]


def role_bridge(a: dict[str, Any]) -> None:
    """Forward frames between two interfaces: a->b at once, b->a after delay_s."""
    eth_p_all = 0x0003
    packet_outgoing = 4
    sol_packet, packet_auxdata, tp_status_csumnotready = 263, 8, 8
    socks = {}
    for side in ("a", "b"):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(eth_p_all))
        s.bind((a[side], 0))
        s.setsockopt(sol_packet, packet_auxdata, 1)
        s.setblocking(False)
        socks[side] = s
    delay = float(a["delay_s"])
    with contextlib.suppress(OSError, AttributeError):  # wake up on time even on a busy machine
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    pending: list[tuple[float, int, bytes]] = []
    seq = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("ready", flush=True)
    while not stop:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            socks["a"].send(heapq.heappop(pending)[2])
        timeout = max(0.0, pending[0][0] - now) if pending else 0.5
        try:
            r, _, _ = select.select(list(socks.values()), [], [], timeout)
        except InterruptedError:
            continue
        for s in r:
            side = "a" if s is socks["a"] else "b"
            while True:
                try:
                    data, anc, _, addr = s.recvmsg(65536, socket.CMSG_SPACE(32))
                except BlockingIOError:
                    break
                if addr[2] == packet_outgoing:
                    continue
                for level, typ, cdata in anc:
                    if level == sol_packet and typ == packet_auxdata and struct.unpack_from("I", cdata)[0] & \
                            tp_status_csumnotready:
                        data = _l4_csum_fix(data)
                if side == "a":
                    socks["b"].send(data)
                else:
                    seq += 1
                    heapq.heappush(pending, (time.monotonic() + delay, seq, data))


# -- patterns and stability -----------------------------------------------------------------------


def _compare_module() -> Any:
    sys.path.insert(0, str(ROOT / "py"))
    import hilnic.run.compare as cmp  # noqa: PLC0415 - needs scapy: the repo's venv

    return cmp


def handshake_ms(pcap: Path) -> float | None:
    """SYN -> SYN-ACK as seen on the sender's veth: the path delay the run really had."""
    from scapy.utils import RawPcapReader  # noqa: PLC0415 - the repo's venv, like _compare_module

    t_syn = None
    with RawPcapReader(str(pcap)) as r:
        for data, meta in r:
            if len(data) < 48 or data[12:14] != b"\x08\x00" or data[23] != 6:
                continue
            flags = data[14 + (data[14] & 15) * 4 + 13]
            t = meta.sec + meta.usec / (1e9 if r.nano else 1e6)
            if flags & 0x12 == 0x02 and t_syn is None:
                t_syn = t
            elif flags & 0x12 == 0x12 and t_syn is not None:
                return round((t - t_syn) * 1000, 3)
    return None


def stability(cmp: Any, pats: list[Any]) -> dict[str, Any]:
    texts = [p.text() for p in pats]
    if len(set(texts)) == 1:
        return {"mode": "full", "features": ["pattern"]}
    feats = [p.features() for p in pats]
    stable = {k: feats[0][k] for k in feats[0] if k != "pattern" and all(f[k] == feats[0][k] for f in feats)}
    return {"mode": "features", "features": stable}


def capture_scenario(sc: Scenario, out: Path, repeat: int, cmp: Any) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"{TAG}-"))
    try:
        pats, files, info, rtts = [], [], {}, []
        for i in range(repeat):
            f = tmp / f"{sc.name}.{i}.pcap"
            info = capture_once(sc, i, f)
            pats.append(cmp.pattern_of(f, proto=sc.proto))
            files.append(f)
            if sc.proto == "tcp":
                rtts.append(handshake_ms(f))
            print(f"  run {i + 1}/{repeat}: {pats[-1].text()}", flush=True)
        counts = collections.Counter(p.text() for p in pats)
        best = counts.most_common(1)[0][0]
        keep = files[[p.text() for p in pats].index(best)]
        shutil.copyfile(keep, out / f"{sc.name}.pcap")
        side = {
            "scenario": sc.name,
            "description": sc.description,
            "kernel": platform.release(),
            "captured": datetime.date.today().isoformat(),
            "knobs": sc.knobs(),
            "hilnic_args": sc.hilnic_args(),
            "setup": {k: v for k, v in info.items() if not k.startswith("sysctls")},
            "sysctls": {"sender": info.get("sysctls_sender", {}), "receiver": info.get("sysctls_receiver", {})},
            "runs": repeat,
            "handshake_ms": rtts,  # SYN -> SYN-ACK on the sender's veth, per run
            "patterns": [{"pattern": t, "count": n} for t, n in counts.most_common()],
            "pattern": best,
            "stable": stability(cmp, pats),
        }
        (out / f"{sc.name}.json").write_text(json.dumps(side, indent=1) + "\n")
        return side
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cleanup_leftovers(prefix: str = "hlref") -> int:
    names = [ln.split()[0] for ln in sh("ip", "netns", "list").splitlines() if ln.startswith(prefix)]
    for n in names:
        subprocess.run(["ip", "netns", "del", n], capture_output=True)
    return len(names)


def _available_cc() -> list[str]:
    return Path("/proc/sys/net/ipv4/tcp_available_congestion_control").read_text().split()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "tests" / "linux_ref"), help="where NAME.pcap and NAME.json go")
    ap.add_argument("--repeat", type=int, default=5, help="runs per scenario, to find what is stable (default 5)")
    ap.add_argument("--only", nargs="+", default=None, metavar="NAME", help="these scenarios (prefixes work)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and their hilnic run arguments")
    ap.add_argument("--cleanup", action="store_true", help="delete namespaces left by a killed run (hlref*)")
    ap.add_argument("--sender-tbf", metavar="RATE",
                    help="a tbf qdisc of RATE (e.g. 200mbit) on the sender's veth, so that its skbs stay "
                         "charged to the socket for a while as a NIC's do until TX completion: what the "
                         "scenario gives with a NIC in the loop (NAME_tbfRATE; evidence, not a reference)")
    ap.add_argument("--role", choices=("sender", "receiver", "bridge"), help=argparse.SUPPRESS)
    ap.add_argument("--arg", default="{}", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.role:
        {"sender": role_sender, "receiver": role_receiver, "bridge": role_bridge}[a.role](json.loads(a.arg))
        return 0
    todo = scenarios()
    if a.only:
        todo = [s for s in todo if any(s.name.startswith(p) for p in a.only)]
        if not todo:
            print(f"no scenario matches {' '.join(a.only)} (see --list)", file=sys.stderr)
            return 2
    if a.sender_tbf:
        global SENDER_TBF
        SENDER_TBF = a.sender_tbf
        todo = [dataclasses.replace(s, name=f"{s.name}_tbf{a.sender_tbf}",
                                    description=f"{s.description}; tbf {a.sender_tbf} on the sender's veth")
                for s in todo]
    if a.list:
        for s in todo:
            print(f"{s.name:<34} {' '.join(s.hilnic_args())}")
        return 0
    if os.geteuid() != 0:
        print("capture.py needs root (network namespaces, tcpdump)", file=sys.stderr)
        return 2
    if a.cleanup:
        print(f"deleted {cleanup_leftovers()} namespaces")
        return 0
    missing = [t for t in ("ip", "tc", "ethtool", "tcpdump") if not shutil.which(t)]
    if missing:
        print(f"missing tools: {', '.join(missing)} (apt-get install iproute2 ethtool tcpdump)", file=sys.stderr)
        return 2
    try:
        cmp = _compare_module()
    except ImportError as exc:
        print(f"capture.py needs the repo's Python environment ({exc}): sudo .venv/bin/python {sys.argv[0]} ...",
              file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        for sc in todo:
            avail = _available_cc()
            if sc.proto == "tcp" and sc.cc not in avail and shutil.which("modprobe"):
                subprocess.run(["modprobe", f"tcp_{sc.cc}"], capture_output=True)
                avail = _available_cc()
            if sc.proto == "tcp" and sc.cc not in avail:
                print(f"{sc.name}: skipped, congestion control {sc.cc} not available (have {' '.join(avail)}; "
                      f"modprobe tcp_{sc.cc})", flush=True)
                continue
            print(f"{sc.name}: {sc.description}", flush=True)
            side = capture_scenario(sc, out, a.repeat, cmp)
            st = side["stable"]
            what = "full pattern" if st["mode"] == "full" else f"features only: {', '.join(st['features'])}"
            print(f"  stable: {what}", flush=True)
    except KeyboardInterrupt:
        print("interrupted; namespaces deleted", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"capture failed: {exc}; namespaces deleted", file=sys.stderr)
        return 1
    finally:
        cleanup_leftovers(TAG + "-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
