"""The `hilnic` command.

    hilnic demo [--frames N] [--out DIR] [--waves] [--sim icarus|verilator]
                [--mem-latency-ns NS] [--seed N] [--verbose]
    hilnic bench [all|line_rate|wall_speed|rtl_speed|python_path] [--quick]

Subcommands register themselves in SUBCOMMANDS: each is (name, add_arguments(parser),
run(args) -> exit code). To add one (e.g. `run`), write its two functions and append it.
Bad options print one line and exit 2 (no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

PROG = "hilnic"
SIMS = ("icarus", "verilator")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line on stderr and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _int_in(lo: int, hi: int) -> Callable[[str], int]:
    def conv(s: str) -> int:
        try:
            v = int(s, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{s}' is not an integer") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} is outside [{lo}, {hi}]")
        return v

    return conv


def _float_in(lo: float, hi: float) -> Callable[[str], float]:
    def conv(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{s}' is not a number") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v:g} is outside [{lo:g}, {hi:g}]")
        return v

    return conv


def _env_waves() -> bool:
    return os.environ.get("WAVES", "0").strip().lower() in ("1", "true", "yes", "on")


# -- demo ----------------------------------------------------------------------------------


def add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--frames", type=_int_in(1, 2000), default=120, metavar="N",
                   help="frames to send (default 120): the first half a mix (ARP, TCP/UDP with checksum "
                        "offload, short frames padded by PSP, scatter-gather at odd addresses), the second "
                        "half full-size frames back to back")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output directory for wire.pcap, demo_summary.json, sim.log, waves.fst "
                        "(default sim_build/demo)")
    p.add_argument("--waves", action="store_true", default=None,
                   help="write an FST waveform (also WAVES=1) and print the gtkwave command")
    p.add_argument("--sim", choices=SIMS, default=None,
                   help="simulator (default $SIM or icarus; verilator needs the `verilator` package)")
    p.add_argument("--mem-latency-ns", type=_float_in(0, 10000), default=500.0, metavar="NS",
                   help="host memory read latency in ns (default 500)")
    p.add_argument("--seed", type=_int_in(0, 2**31 - 1), default=1, metavar="N",
                   help="seed for frame contents and the memory model (default 1)")
    p.add_argument("--verbose", action="store_true", help="show the simulator's output instead of logging it")


def run_demo_cmd(a: argparse.Namespace) -> int:
    from ..demo.run import format_summary, run_demo

    sim = a.sim or os.environ.get("SIM", "").strip() or "icarus"
    if sim not in SIMS:
        print(f"{PROG} demo: error: SIM={sim!r} is not one of {', '.join(SIMS)}", file=sys.stderr)
        return 2
    waves = _env_waves() if a.waves is None else a.waves
    s = run_demo(frames=a.frames, out=a.out, waves=waves, sim=sim, mem_latency_ns=a.mem_latency_ns,
                 seed=a.seed, verbose=a.verbose)
    print(format_summary(s))
    if not s["ok"]:
        err = s.get("error", "")
        first = (s.get("problems") or [err.splitlines()[0] if err else "no summary"])[0]
        print(f"{PROG} demo: FAILED: {first}" + (f" (log: {s['log']})" if s.get("log") else ""), file=sys.stderr)
        return 1
    return 0


# -- bench ---------------------------------------------------------------------------------

BENCHES = ("all", "line_rate", "wall_speed", "rtl_speed", "python_path")


def add_bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("which", nargs="?", choices=BENCHES, default="all",
                   help="all (default) | line_rate: simulated rate per frame size vs 10GbE | "
                        "wall_speed: frames per wall second, bridge vs cocotbext-axi | "
                        "rtl_speed: nic_top cycles per wall second, Verilog replay vs bridge | "
                        "python_path: TCP segments per wall second through stack + driver + behavioral NIC")
    p.add_argument("--quick", action="store_true", help="fewer frames (about a minute for all)")
    p.add_argument("--sim", choices=SIMS, default=None, help="simulator for the cocotb runs (default icarus)")


def run_bench_cmd(a: argparse.Namespace) -> int:
    import importlib

    mod = importlib.import_module(f"hilnic.bench.{a.which}")
    argv = (["--quick"] if a.quick else []) + (["--sim", a.sim] if a.sim and a.which != "python_path" else [])
    return int(mod.main(argv) or 0)


# -- registry ------------------------------------------------------------------------------

SUBCOMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = [
    ("demo", "send a mix of frames through the Verilog NIC and check them on the wire", add_demo, run_demo_cmd),
    ("bench", "benchmarks: line rate, wall speed, simulation speed, Python path", add_bench, run_bench_cmd),
]


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog=PROG, description="hilnic: a Verilog NIC driven by a Python model of the Linux "
                                        "transmit path, in a cocotb simulation.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help_, add, run in SUBCOMMANDS:
        p = sub.add_parser(name, help=help_, description=help_)
        add(p)
        p.set_defaults(func=run)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_parser()
    a = ap.parse_args(argv)
    if not getattr(a, "func", None):
        ap.print_help()
        return 2
    try:
        return a.func(a)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
