"""The scenario knobs of `hilnic run`: what the application does and what the path looks like.

    --writes N, --write-size SIZE   N back-to-back send()s of SIZE bytes (default: one send()
                                    of --bytes over TCP; UDP: datagrams of MTU - 28 bytes)
    --think-time DURATION           user time between two writes (the CPU is busy: us)
    --nodelay                       TCP_NODELAY on the socket (Nagle off)
    --cc NAME                       net.ipv4.tcp_congestion_control: an algorithm registered in
                                    net/ipv4/tcp_cong.py (tcp_register_congestion_control)
    --qdisc NAME                    net.core.default_qdisc: a qdisc registered in
                                    net/sched/sch_generic.py (register_qdisc)
    --rtt DURATION                  path delay on the peer -> host direction: the peer's answers
                                    (SYN-ACK, ACKs) arrive that much later
    --peer-mss N                    the MSS the peer announces in its SYN-ACK (a route's advmss)
    --connect                       UDP: connect() the socket, then send() without an address
    --cpus N                        CPUs of the host: 1 (the kernel model has one CPU)
    --cpu-scale X                   kernel/cost.py's CPU costs times X (0: kernel work is free)

They live in RunConfig as plain values (rtt and think time in microseconds); `check_knobs`
is called by `RunConfig.validate`, which raises its one line as RunConfigError. `apply_host_knobs`
sets the host's sysctls before the device opens; `write_sizes` is the list of send() sizes the
application makes; `tcp_writes` / `udp_writes` are the applications (process context).
"""

from __future__ import annotations

import re
from typing import Any

from hilnic.kernel.env import MS, NS, SEC, US
from hilnic.net.core.sock import TCP_CLOSE, TCP_TIME_WAIT
from hilnic.net.ipv4 import tcp_cong
from hilnic.net.sched.sch_generic import QDISC_REGISTRY
from hilnic.net.socket import SOCK_DGRAM, SOCK_STREAM, SOL_TCP, TCP_NODELAY

RunConfig = Any  # hilnic.run.config.RunConfig, which imports this module (no import loop)

UDP_MAX_DATAGRAM = 65535 - 20 - 8  # IPv4 total length minus IP and UDP headers
WRITES_MAX = 1_000_000
RTT_MAX_US = 10 * 1_000_000.0  # 10 s
THINK_MAX_US = 10 * 1_000_000.0
PEER_MSS_MAX = 65535
TCP_MIN_MSS = 88
CPU_SCALE_MAX = 1000.0
NR_CPUS = 1  # the kernel model's CPUs (hilnic.kernel: one CPU)
QDISC_NOT_ROOT = {"noop": "drops every packet", "mq": "is the multiqueue root, not a default qdisc for eth0"}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s)?\s*$", re.I)
_DUR_UNITS = {"ns": NS, "us": US, "µs": US, "ms": MS, "s": SEC}


def parse_duration(text: str) -> float:
    """'10ms', '200us', '1.5s', '500ns', '0' → microseconds. ValueError if not a duration."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"'{text}' is not a duration (e.g. 10ms, 200us, 1.5s)")
    value = float(m.group(1))
    unit = (m.group(2) or "").lower()
    if not unit:
        if value != 0:
            raise ValueError(f"'{text}' needs a unit: {text}ms, {text}us or {text}s")
        return 0.0
    return value * _DUR_UNITS[unit] / US


def fmt_us(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:g} s"
    if us >= 1e3:
        return f"{us / 1e3:g} ms"
    return f"{us:g} us"


# -- validation -----------------------------------------------------------------------------------


def registered_cc() -> list[str]:
    return sorted(tcp_cong._tcp_cong_list)


def check_knobs(rc: RunConfig, nbytes_max: int) -> str:
    """What is wrong with the knobs, in one line ('' when nothing): RunConfig.validate raises it."""
    try:
        _check(rc, nbytes_max)
    except _KnobError as exc:
        return str(exc)
    return ""


class _KnobError(ValueError):
    pass


def _check(rc: RunConfig, nbytes_max: int) -> None:
    tcp = rc.proto == "tcp"
    if rc.writes is not None and not 1 <= rc.writes <= WRITES_MAX:
        raise _KnobError(f"--writes must be 1..{WRITES_MAX:,}, got {rc.writes}")
    if rc.write_size is not None:
        hi = nbytes_max if tcp else UDP_MAX_DATAGRAM
        if not 1 <= rc.write_size <= hi:
            what = "" if tcp else " (the largest UDP datagram over IPv4)"
            raise _KnobError(f"--write-size must be 1..{hi:,}{what}, got {rc.write_size}")
    if rc.writes is not None and rc.write_size is not None and rc.writes * rc.write_size != rc.nbytes:
        raise _KnobError(f"--bytes {rc.nbytes:,} is not --writes {rc.writes} x --write-size {rc.write_size} "
                             f"= {rc.writes * rc.write_size:,}; give two of the three")
    if rc.writes is not None and rc.write_size is None and rc.writes > rc.nbytes:
        raise _KnobError(f"--writes {rc.writes} is more than --bytes {rc.nbytes}: every write needs a byte")
    if rc.nodelay and not tcp:
        raise _KnobError("--nodelay sets TCP_NODELAY; it applies to --proto tcp")
    if rc.connect and tcp:
        raise _KnobError("--connect applies to --proto udp (a TCP socket always connects)")
    if rc.cc:
        if not tcp:
            raise _KnobError("--cc applies to --proto tcp")
        if tcp_cong.tcp_ca_find(rc.cc) is None:
            raise _KnobError(f"--cc {rc.cc!r} is not a registered congestion control "
                                 f"(have {', '.join(registered_cc())}; net/ipv4/tcp_cong.py)")
    if rc.qdisc:
        if rc.qdisc not in QDISC_REGISTRY:
            raise _KnobError(f"--qdisc {rc.qdisc!r} is not a registered qdisc "
                                 f"(have {', '.join(sorted(set(QDISC_REGISTRY) - set(QDISC_NOT_ROOT)))}; "
                                 f"net/sched/sch_generic.py)")
        if rc.qdisc in QDISC_NOT_ROOT:
            raise _KnobError(f"--qdisc {rc.qdisc}: {QDISC_NOT_ROOT[rc.qdisc]}")
    if rc.rtt_us is not None and not 0.0 <= rc.rtt_us <= RTT_MAX_US:
        raise _KnobError(f"--rtt must be 0..{fmt_us(RTT_MAX_US)}, got {fmt_us(rc.rtt_us)}")
    if not 0.0 <= rc.think_time_us <= THINK_MAX_US:
        raise _KnobError(f"--think-time must be 0..{fmt_us(THINK_MAX_US)}, got {fmt_us(rc.think_time_us)}")
    if rc.peer_mss is not None:
        if not tcp:
            raise _KnobError("--peer-mss applies to --proto tcp")
        if rc.mss is not None and rc.mss != rc.peer_mss:
            raise _KnobError("--mss and --peer-mss both set the MSS the peer announces; give one")
        if not TCP_MIN_MSS <= rc.peer_mss <= PEER_MSS_MAX:
            raise _KnobError(f"--peer-mss must be {TCP_MIN_MSS}..{PEER_MSS_MAX}, got {rc.peer_mss}")
    if not 0.0 <= rc.cpu_scale <= CPU_SCALE_MAX:
        raise _KnobError(f"--cpu-scale must be 0..{CPU_SCALE_MAX:g}, got {rc.cpu_scale:g}")
    if rc.cpus != NR_CPUS:
        raise _KnobError(f"--cpus {rc.cpus}: the kernel model has one CPU (no multi-CPU model yet); "
                             f"use --cpus {NR_CPUS}")


# -- what the run does ----------------------------------------------------------------------------


def write_sizes(rc: RunConfig) -> list[int]:
    """The sizes of the application's send()s, in order (they add up to rc.nbytes)."""
    n = rc.nbytes
    if rc.write_size is not None and rc.writes is not None:
        return [rc.write_size] * rc.writes
    if rc.write_size is not None:
        size = rc.write_size
    elif rc.writes is not None:
        size = -(-n // rc.writes)
    elif rc.proto == "udp":
        size = rc.datagram_size
    else:
        return [n]
    sizes = [size] * (n // size)
    if n % size:
        sizes.append(n % size)
    return sizes


def peer_wire_delay_ps(rc: RunConfig, base_ps: int) -> int:
    """The peer's answers arrive `--rtt` later than on the testbed's short wire."""
    return base_ps + (round(rc.rtt_us * US) if rc.rtt_us else 0)


def apply_host_knobs(host: Any, rc: RunConfig) -> None:
    """Sysctls of the host, before the device opens: default qdisc, congestion control; the
    CPU's speed (--cpu-scale)."""
    host.kernel.set_cpu_scale(rc.cpu_scale)
    if rc.qdisc:
        host.sysctl.default_qdisc = rc.qdisc
    if rc.cc:
        err = tcp_cong.tcp_set_default_congestion_control(host, rc.cc)
        if err:
            raise ValueError(f"net.ipv4.tcp_congestion_control={rc.cc}: error {err}")


async def _send_all(sock: Any, data: memoryview) -> None:
    sent = 0
    while sent < len(data):
        sent += await sock.send(data[sent:])


async def tcp_writes(tb: Any, rc: RunConfig, payload: bytes, port: int) -> dict[str, Any]:
    """Connect, the writes (with think time between them), close; wait until the peer has all
    and the socket is closed."""
    k = tb.host.kernel
    s = tb.socket(SOCK_STREAM)
    if rc.nodelay:
        s.setsockopt(SOL_TCP, TCP_NODELAY, 1)
    await s.connect((tb.cfg.peer_ip, port))
    t0 = tb.env.now()
    mv = memoryview(payload)
    off = 0
    for i, n in enumerate(write_sizes(rc)):
        if i and rc.think_time_us:
            await k.user_work(int(rc.think_time_us * US))  # user time: the CPU is busy
        await _send_all(s, mv[off:off + n])
        off += n
    info = s.tcp_info()
    await s.close()
    done = k.env.event("peer_done")

    def poll() -> None:
        if tb.peer.delivered_bytes(peer_port=port) >= len(payload) and s.sk.sk_state in (TCP_CLOSE, TCP_TIME_WAIT):
            done.set()
        else:
            tb.env.call_later(100 * US, poll)

    poll()
    if not await k.wait_event(done, timeout=120 * SEC):
        raise TimeoutError(f"after 120 s simulated the peer has {tb.peer.delivered_bytes(peer_port=port):,} of "
                           f"{len(payload):,} bytes and the socket is in state {s.sk.sk_state}")
    return {"bytes": off, "elapsed_ps": tb.env.now() - t0, "tcp_info": info}


async def udp_writes(tb: Any, rc: RunConfig, payload: bytes, port: int, first_sent: Any,
                     arp_wait_ps: int = 1 * MS) -> int:
    """One datagram per write (sendto, or send on a connected socket); returns how many.

    `first_sent()` is true once the first datagram has left the MAC: until ARP resolves the
    peer the others would wait in the neighbour's queue, so the application waits for it."""
    k = tb.host.kernel
    s = tb.socket(SOCK_DGRAM)
    dst = (tb.cfg.peer_ip, port)
    if rc.connect:
        await s.connect(dst)
    mv = memoryview(payload)
    off = 0
    sizes = write_sizes(rc)
    for i, n in enumerate(sizes):
        if i and rc.think_time_us:
            await k.user_work(int(rc.think_time_us * US))  # user time: the CPU is busy
        if rc.connect:
            await s.send(mv[off:off + n])
        else:
            await s.sendto(mv[off:off + n], dst)
        off += n
        if i == 0:
            deadline = tb.env.now() + arp_wait_ps
            while not first_sent() and tb.env.now() < deadline:
                await k.sleep_ps(1 * US)
    await s.close()
    return len(sizes)


__all__ = [
    "apply_host_knobs",
    "check_knobs",
    "fmt_us",
    "parse_duration",
    "peer_wire_delay_ps",
    "registered_cc",
    "tcp_writes",
    "udp_writes",
    "write_sizes",
]
