"""The Linux peer's machine: a network namespace, a TAP device in it, and a receiving process.

    with PeerNamespace(NamespaceConfig(proto="tcp", nbytes=1 << 18, seed=1)) as ns:
        peer_fds = ns.fds          # (tap, ctl, report): for hilnic.wire.linux_peer.LinuxPeer
        ...                        # run the simulation; frames go through ns.fds.tap
    # the receiver is stopped, the fds closed, the namespace (and its TAP) deleted

`PeerNamespace` creates namespace `hilnic-<pid>-<n>` (`ip netns add`), with IPv6 off (no
router solicitations or MLD on the wire), loopback up and one TAP device, `tap0`: the peer's
MAC, the run's MTU, 192.0.2.2/24 (documentation addresses, RFC 5737; the simulated host is
192.0.2.1). The TAP is the namespace's only interface besides `lo`, so nothing can leave it:
no default route, no other link. An `--mss` becomes the /24 route's `advmss` (the SYN-ACK
announces it), as scripts/linux_ref/capture.py does. Then it starts the receiver
(`ip netns exec NS python -m hilnic.wire.ns_receiver`, in a process group of its own) and
waits for its `ready`.

The TAP is opened (TUNSETIFF on /dev/net/tun) by a short-lived thread that has joined the
namespace with setns(2): a TAP is created in its opener's namespace, and setns changes only
the calling thread's. No interface ever exists in the host's own namespace, and nothing
outside the new namespace is changed (no host interface, route or sysctl).

`close()` (also on leaving the `with`, whatever the exception, and so on SIGINT/SIGTERM, which
`hilnic run` turns into an exception) stops the receiver (SIGTERM, then SIGKILL to its group),
closes the fds and deletes the namespace; the TAP, not persistent, goes with its last fd.
A run killed with SIGKILL cannot do that: the next `PeerNamespace` deletes namespaces
`hilnic-<pid>-<n>` whose process is gone (`cleanup_stale`).

Why `ip` (iproute2) in subprocesses and not pyroute2: a handful of commands per run (about
30 ms in all), the same tool the reference captures use and the user can repeat by hand,
`ip netns exec` for the receiver (which also remounts /sys for the namespace), iproute2's
own error messages, and no Python dependency whose namespace API has changed between
releases (pyroute2 0.7 → 0.8). setns(2) itself goes through ctypes (os.setns is Python ≥ 3.12).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import itertools
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

CAP_NET_ADMIN = 12  # linux/capability.h
CAP_SYS_ADMIN = 21
CLONE_NEWNET = 0x40000000  # linux/sched.h
TUNSETIFF = 0x400454CA  # _IOW('T', 202, int)
IFF_TAP = 0x0002  # linux/if_tun.h
IFF_NO_PI = 0x1000
NETNS_RUN_DIR = Path("/run/netns")
NS_PREFIX = "hilnic-"
TAP_NAME = "tap0"
READY_TIMEOUT_S = 20.0  # the receiver's start (Python and hilnic.wire's imports) on a loaded machine
STOP_GRACE_S = 2.0
PEER_IP = "192.0.2.2"  # documentation addresses (RFC 5737 TEST-NET-1)
HOST_IP = "192.0.2.1"
PREFIX_LEN = 24

_counter = itertools.count()
_lock = threading.Lock()


class NamespaceError(RuntimeError):
    """The namespace, its TAP or its receiver could not be set up (one line)."""


# -- privileges ---------------------------------------------------------------------------------


def effective_caps(status: str | None = None) -> int:
    """This process's effective capability set (CapEff of /proc/self/status)."""
    if status is None:
        try:
            status = Path("/proc/self/status").read_text()
        except OSError:
            return 0
    m = re.search(r"^CapEff:\s*([0-9a-fA-F]+)", status, re.M)
    return int(m.group(1), 16) if m else 0


def missing_privileges(caps: int | None = None) -> str:
    """'' if this process can set the Linux peer up, else one line saying what it needs."""
    caps = effective_caps() if caps is None else caps
    lacking = [name for bit, name in ((CAP_NET_ADMIN, "CAP_NET_ADMIN"), (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"))
               if not caps >> bit & 1]
    if lacking:
        return (f"--peer linux needs root: it creates a network namespace (CAP_SYS_ADMIN) with a TAP device "
                f"(CAP_NET_ADMIN), and this process lacks {' and '.join(lacking)}; run it as root (e.g. sudo), "
                f"or use --peer model")
    if shutil.which("ip") is None:
        return "--peer linux needs the ip command (iproute2: apt-get install iproute2)"
    if not Path("/dev/net/tun").exists():
        return "--peer linux needs /dev/net/tun (the tun module: modprobe tun)"
    return ""


# -- commands -----------------------------------------------------------------------------------


def _ip(*args: str, check: bool = True) -> str:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and r.returncode:
        msg = (r.stderr or r.stdout).strip().splitlines()
        raise NamespaceError(f"ip {' '.join(args)}: {msg[0] if msg else f'exit {r.returncode}'}")
    return r.stdout


def namespaces() -> list[str]:
    """Names of the network namespaces `ip netns list` shows."""
    return [ln.split()[0] for ln in _ip("netns", "list", check=False).splitlines() if ln.strip()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale() -> list[str]:
    """Delete namespaces `hilnic-<pid>-<n>` whose process has gone (a run killed with SIGKILL)."""
    gone = []
    for name in namespaces():
        m = re.fullmatch(re.escape(NS_PREFIX) + r"(\d+)-\d+", name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            _ip("netns", "del", name, check=False)
            gone.append(name)
    return gone


def _setns_thread(ns_path: Path, fn: Any) -> Any:
    """fn() in a new thread that has joined the network namespace at `ns_path`."""
    result: list[Any] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({ns_path}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:
            error.append(exc)

    t = threading.Thread(target=body, name="hilnic-setns", daemon=True)
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


def open_tap(name: str) -> int:
    """Create TAP device `name` in the calling thread's namespace; its fd (non-blocking)."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


# -- the namespace ------------------------------------------------------------------------------


@dataclass
class NamespaceConfig:
    """What the peer's machine looks like and what its application expects."""

    proto: str = "tcp"
    port: int = 5001
    nbytes: int = 0
    seed: int = 1
    datagram: int = 0  # UDP: bytes per write (the last write the rest)
    mtu: int = 1500
    advmss: int | None = None  # the MSS the SYN-ACK announces (None: MTU - 40)
    peer_ip: str = PEER_IP
    host_ip: str = HOST_IP
    prefix_len: int = PREFIX_LEN
    peer_mac: str = "02:00:00:00:00:02"
    wall_limit_s: float = 3600.0  # the receiver gives up after this long


class PeerFds(NamedTuple):
    tap: int  # frames in and out of the namespace
    ctl: int  # to the receiver's stdin: `done`, or closing it, ends the run
    report: int  # the receiver's stdout: the JSON report line


class PeerNamespace:
    """Namespace + TAP + receiver for one run. See the module docstring."""

    def __init__(self, cfg: NamespaceConfig) -> None:
        self.cfg = cfg
        with _lock:
            self.name = f"{NS_PREFIX}{os.getpid()}-{next(_counter)}"
        self.tap_name = TAP_NAME
        self.fds: PeerFds | None = None
        self.receiver: subprocess.Popen[bytes] | None = None
        self.created = False
        self.setup_s = 0.0
        self.stale_removed: list[str] = []

    def __enter__(self) -> PeerNamespace:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        t0 = time.perf_counter()
        problem = missing_privileges()
        if problem:
            raise NamespaceError(problem)
        self.stale_removed = cleanup_stale()
        cfg = self.cfg
        _ip("netns", "add", self.name)
        self.created = True
        ns = self.name
        # IPv6 off before the TAP exists: no link-local address, DAD, RS or MLD reports
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                        "net.ipv6.conf.default.disable_ipv6=1"], capture_output=True, stdin=subprocess.DEVNULL)
        try:
            tap = _setns_thread(NETNS_RUN_DIR / ns, lambda: open_tap(self.tap_name))
        except OSError as exc:
            raise NamespaceError(f"TAP device {self.tap_name} in namespace {ns}: {exc.strerror or exc}") from None
        fds: list[int] = [tap]
        try:
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", self.tap_name, "address", cfg.peer_mac, "mtu", str(cfg.mtu))
            _ip("-n", ns, "addr", "add", f"{cfg.peer_ip}/{cfg.prefix_len}", "dev", self.tap_name)
            _ip("-n", ns, "link", "set", self.tap_name, "up")
            if cfg.advmss is not None:
                net = _network(cfg.peer_ip, cfg.prefix_len)
                _ip("-n", ns, "route", "replace", f"{net}/{cfg.prefix_len}", "dev", self.tap_name, "proto", "kernel",
                    "scope", "link", "src", cfg.peer_ip, "advmss", str(cfg.advmss))
            self._start_receiver()
        except BaseException:
            os.close(tap)
            raise
        assert self.receiver is not None and self.receiver.stdin and self.receiver.stdout
        # the receiver's pipes, taken over as plain fds (they cross into the simulator process)
        ctl = os.dup(self.receiver.stdin.fileno())
        rep = os.dup(self.receiver.stdout.fileno())
        self.receiver.stdin.close()
        self.receiver.stdout.close()
        fds += [ctl, rep]
        self.fds = PeerFds(*fds)
        self.setup_s = time.perf_counter() - t0

    def _start_receiver(self) -> None:
        cfg = self.cfg
        cmd = ["ip", "netns", "exec", self.name, sys.executable, "-m", "hilnic.wire.ns_receiver",
               "--proto", cfg.proto, "--bind", cfg.peer_ip, "--port", str(cfg.port), "--nbytes", str(cfg.nbytes),
               "--seed", str(cfg.seed), "--wall-limit", f"{cfg.wall_limit_s:g}", "--netns", self.name]
        if cfg.datagram:
            cmd += ["--datagram", str(cfg.datagram)]
        env = dict(os.environ)
        py = str(Path(__file__).resolve().parents[2])  # this checkout's py/, whatever is installed
        env["PYTHONPATH"] = py + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        # its own process group: a terminal's Ctrl-C reaches hilnic run, which stops it
        p = self.receiver = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, env=env, process_group=0)
        assert p.stdout is not None and p.stderr is not None
        line = _read_line(p.stdout.fileno(), READY_TIMEOUT_S)
        if line.strip() != b"ready":
            err = b""
            with contextlib.suppress(Exception):
                self._stop_receiver()
                err = p.stderr.read()
            text = (err.decode(errors="replace").strip().splitlines() or [line.decode(errors="replace").strip()
                                                                            or "no output"])[-1]
            raise NamespaceError(f"the receiver in namespace {self.name} did not start: {text}")

    def _stop_receiver(self) -> None:
        p = self.receiver
        if p is None or p.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def receiver_stderr(self) -> str:
        p = self.receiver
        if p is None or p.stderr is None or p.returncode is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            return p.stderr.read().decode(errors="replace").strip()
        return ""

    def close(self) -> None:
        """Stop the receiver, close the fds, delete the namespace (idempotent)."""
        fds, self.fds = self.fds, None
        for fd in fds or ():
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.receiver is not None:
            with contextlib.suppress(Exception):
                self._stop_receiver()
            if self.receiver.stderr is not None:
                with contextlib.suppress(OSError):
                    self.receiver.stderr.close()
        if self.created:
            self.created = False
            _ip("netns", "del", self.name, check=False)

    def info(self) -> dict[str, Any]:
        c = self.cfg
        return {"netns": self.name, "tap": self.tap_name, "peer_ip": c.peer_ip, "host_ip": c.host_ip,
                "peer_mac": c.peer_mac, "mtu": c.mtu, "advmss": c.advmss, "setup_s": round(self.setup_s, 4)}


def _network(ip: str, prefix_len: int) -> str:
    n = int.from_bytes(bytes(int(x) for x in ip.split(".")), "big") & ~((1 << (32 - prefix_len)) - 1)
    return ".".join(str(b) for b in n.to_bytes(4, "big"))


def _read_line(fd: int, timeout_s: float) -> bytes:
    """One line from pipe fd (b'' at its end or after timeout_s); reads byte by byte, so
    nothing after the line is consumed."""
    out = b""
    deadline = time.monotonic() + timeout_s
    while not out.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return out
        b = os.read(fd, 1)
        if not b:
            return out
        out += b
    return out


__all__ = ["HOST_IP", "PEER_IP", "NamespaceConfig", "NamespaceError", "PeerFds", "PeerNamespace", "cleanup_stale",
           "effective_caps", "missing_privileges", "namespaces", "open_tap"]
