"""The `hilnic` command.

    hilnic run [--sim icarus|verilator|model] [--bytes SIZE] [--proto tcp|udp] [--mss N]
               [--mtu N] [--ring N] [--itr N] [--loss P] [--waves] [--no-trace] [--out DIR]
               [--seed N] [--mem-latency-ns NS] [--sim-limit-ms MS] [--wall-limit-s S] [--verbose]
    hilnic demo [--frames N] [--out DIR] [--waves] [--sim icarus|verilator]
                [--mem-latency-ns NS] [--seed N] [--verbose]
    hilnic bench [all|line_rate|wall_speed|rtl_speed|python_path] [--quick]

Subcommands register themselves in SUBCOMMANDS: each is (name, add_arguments(parser),
run(args) -> exit code). To add one (e.g. `run`), write its two functions and append it.
Bad options print one line and exit 2 (no traceback); a run that fails prints its summary,
then one line saying why and where the log is, and exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

PROG = "hilnic"
SIMS = ("icarus", "verilator")
RUN_SIMS = ("icarus", "verilator", "model")


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


# -- run -----------------------------------------------------------------------------------


def _size(s: str) -> int:
    from hilnic.run.config import parse_size

    try:
        return parse_size(s)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _int(s: str) -> int:
    try:
        return int(s, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}' is not an integer") from None


def _float(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}' is not a number") from None


RUN_EPILOG = """\
examples:
  hilnic run                                   256 KiB over TCP through the RTL on Icarus
  hilnic run --sim model --bytes 4M            the same stack and driver on the behavioral NIC
  hilnic run --proto udp --mtu 9000 --ring 64  jumbo UDP datagrams, a small ring
  hilnic run --loss 0.01 --itr 20000           1% loss at the peer: retransmissions; ITR 20k/s
  hilnic run --bytes 32K --waves               + FST waveform: gtkwave sim_build/run/waves.fst hdl/nic.gtkw

output (in --out, default sim_build/run):
  wire.pcap      every frame on XGMII, stamped with simulated time (open with wireshark/tcpdump)
  trace.txt      ftrace function_graph of the kernel path on simulated time (--no-trace: none)
  stats.txt      /proc/net/softnet_stat, /proc/softirqs, /proc/interrupts, tc -s qdisc, BQL,
                 ethtool -S, /proc/net/dev, /proc/net/snmp, TcpExt, copy accounting (seed 4.5)
  summary.json   the summary's numbers; progress.json while it runs (RTL)
  sim.log        the simulator's output (RTL; --verbose shows it instead)
  waves.fst      with --waves (RTL only)

exit status: 0 delivered byte-exact and nothing leaked, 1 the run failed, 2 bad options."""


def add_run(p: argparse.ArgumentParser) -> None:
    from hilnic.drivers.net.ethernet.intel.e1000.e1000 import INTERRUPT_THROTTLE_RATE as ITR
    from hilnic.drivers.net.ethernet.intel.e1000.e1000 import MTU, TX_DESCRIPTORS
    from hilnic.run.config import DEFAULT_NBYTES, fmt_size

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = ("The main job: an application sends SIZE bytes (TCP bulk by default) through the Linux\n"
                     "stack model, the qdisc and the e1000 driver to the NIC -- the RTL on Icarus or Verilator\n"
                     "through cocotb, or the behavioral model -- and out on the wire to the peer, which checks\n"
                     "them byte for byte. Shows a progress bar (simulated time, frames) on stderr, then a\n"
                     "summary table: frames and bytes, throughput and % of 10GbE line rate, wall time and\n"
                     "slowdown, interrupts, NET_TX/NET_RX softirqs, qdisc requeues and drops, ring\n"
                     "stops/restarts, copies (seed 4.5), TCP retransmissions.")
    p.epilog = RUN_EPILOG
    p.add_argument("--sim", choices=RUN_SIMS, default=None,
                   help="icarus: nic_top in Icarus Verilog through cocotb; verilator: the same in Verilator "
                        "(needs the `verilator` package); model: the behavioral NIC in virtual time, no "
                        "simulator (default $SIM or icarus)")
    p.add_argument("--bytes", dest="nbytes", type=_size, default=DEFAULT_NBYTES, metavar="SIZE",
                   help=f"bytes the application sends, e.g. 65536, 64K, 1.5M (default {fmt_size(DEFAULT_NBYTES)})")
    p.add_argument("--proto", choices=("tcp", "udp"), default="tcp",
                   help="tcp: connect, send() in 64 KiB calls, close; udp: one datagram of MTU-28 bytes per "
                        "frame (default tcp)")
    p.add_argument("--mss", type=_int, default=None, metavar="N",
                   help="TCP MSS the peer announces, 88..MTU-40 (default MTU-40)")
    p.add_argument("--mtu", type=_int, default=MTU.default, metavar="N",
                   help=f"eth0's MTU, {MTU.min}..{MTU.max} (default {MTU.default})")
    p.add_argument("--ring", dest="ring_size", type=_int, default=TX_DESCRIPTORS.default, metavar="N",
                   help=f"transmit descriptors, {TX_DESCRIPTORS.min}..{TX_DESCRIPTORS.max} in steps of "
                        f"{TX_DESCRIPTORS.step} (default {TX_DESCRIPTORS.default})")
    p.add_argument("--itr", type=_int, default=ITR.default, metavar="N",
                   help="interrupt throttling as e1000's InterruptThrottleRate: 0 off, 1 or 3 dynamic, "
                        f"{ITR.describe()} (default {ITR.default})")
    p.add_argument("--loss", dest="loss_rate", type=_float, default=0.0, metavar="P",
                   help="probability that the peer drops a frame, 0..0.5 (default 0)")
    p.add_argument("--waves", action=argparse.BooleanOptionalAction, default=None,
                   help="FST waveform into OUT/waves.fst, RTL simulators only (default $WAVES or off)")
    p.add_argument("--trace", action=argparse.BooleanOptionalAction, default=True,
                   help="function-graph trace into OUT/trace.txt (default on)")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default sim_build/run)")
    p.add_argument("--seed", type=_int, default=1, metavar="N",
                   help="seed for the payload, the loss pattern and the memory model (default 1)")
    p.add_argument("--mem-latency-ns", type=_float, default=500.0, metavar="NS",
                   help="host memory read latency seen by the NIC's DMA, 0..10000 (default 500)")
    p.add_argument("--clock-hold", action=argparse.BooleanOptionalAction, default=True,
                   help="RTL: skip the clock cycles in which the NIC is quiet, or only its interrupt timers "
                        "count (exact: same frames, same times; the waveform shows the clock stopped there). "
                        "--no-clock-hold simulates every cycle (default on)")
    p.add_argument("--sim-limit-ms", type=_float, default=10_000.0, metavar="MS",
                   help="fail when the run has not finished after this much simulated time (default 10000)")
    p.add_argument("--wall-limit-s", type=_float, default=3600.0, metavar="S",
                   help="kill the simulator after this many wall seconds (RTL; default 3600)")
    p.add_argument("--verbose", action="store_true",
                   help="RTL: show the simulator's output instead of logging it to OUT/sim.log")


def run_run_cmd(a: argparse.Namespace) -> int:
    from hilnic.run import RunConfig, RunConfigError, format_summary, run

    sim = a.sim or os.environ.get("SIM", "").strip() or "icarus"
    if sim not in RUN_SIMS:
        print(f"{PROG} run: error: SIM={sim!r} is not one of {', '.join(RUN_SIMS)}", file=sys.stderr)
        return 2
    waves = (_env_waves() and sim != "model") if a.waves is None else a.waves
    rc = RunConfig(sim=sim, nbytes=a.nbytes, proto=a.proto, mss=a.mss, mtu=a.mtu, ring_size=a.ring_size,
                   itr=a.itr, loss_rate=a.loss_rate, waves=waves, trace=a.trace, out=a.out or "", seed=a.seed,
                   mem_latency_ns=a.mem_latency_ns, clock_hold=a.clock_hold,
                   sim_limit_ms=a.sim_limit_ms, wall_limit_s=a.wall_limit_s,
                   verbose=a.verbose)
    try:
        s = run(rc)
    except RunConfigError as exc:
        print(f"{PROG} run: error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(s))
    sys.stdout.flush()
    if not s.get("ok"):
        if s.get("log"):
            where = f" (log: {s['log']})"
        elif s.get("out"):
            where = f" (details: {os.path.join(s['out'], 'summary.json')})"
        else:
            where = ""
        print(f"{PROG} run: FAILED: {s.get('error') or 'no summary'}{where}", file=sys.stderr)
        return 1
    return 0


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
    from hilnic.demo.run import format_summary, run_demo

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

BENCHES = ("all", "line_rate", "wall_speed", "rtl_speed", "python_path", "e2e_speed")


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
    ("run", "the main job: an application's bytes (TCP bulk by default) through the Linux stack, the "
            "e1000 driver and the NIC RTL to the peer; progress, summary, pcap, trace and counters",
     add_run, run_run_cmd),
    ("demo", "raw descriptors, no stack: send a mix of frames through the Verilog NIC and check them on "
             "the wire", add_demo, run_demo_cmd),
    ("bench", "benchmarks: line rate, wall speed, simulation speed, Python path", add_bench, run_bench_cmd),
]


TOP_EPILOG = """\
examples:
  hilnic run                       the main job: 256 KiB of TCP through stack, driver and RTL (Icarus)
  hilnic run --sim model           the same without a simulator (behavioral NIC, virtual time)
  hilnic demo --waves              raw descriptors through the RTL, with an FST waveform
  hilnic bench --quick             the benchmarks, shorter

'hilnic COMMAND --help' lists a command's options and defaults.
environment: SIM=icarus|verilator (default simulator), WAVES=1 (waveforms)."""


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog=PROG, description="hilnic: a Verilog NIC driven by a Python model of the Linux "
                                        "transmit path, in a cocotb simulation.",
                 epilog=TOP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    ap.subparsers = {}  # type: ignore[attr-defined]
    for name, help_, add, run in SUBCOMMANDS:
        p = sub.add_parser(name, help=help_, description=help_)
        add(p)
        p.set_defaults(func=run)
        ap.subparsers[name] = p  # type: ignore[attr-defined]
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_parser()
    a, extra = ap.parse_known_args(argv)
    if extra:  # reported by the command's parser: "hilnic run: error: ... (see 'hilnic run --help')"
        sub = ap.subparsers.get(getattr(a, "command", None) or "", ap)  # type: ignore[attr-defined]
        sub.error(f"unrecognized arguments: {' '.join(extra)}")
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
