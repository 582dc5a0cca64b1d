"""The `hilnic` command.

    hilnic run [--sim icarus|verilator|model] [--bytes SIZE] [--proto tcp|udp] [--mss N]
               [--mtu N] [--ring N] [--itr N] [--tso on|off] [--loss P] [--peer model|linux] [--waves] [--trace]
               [--out DIR] [--force]
               [--seed N] [--mem-latency-ns NS] [--sim-limit-ms MS] [--wall-limit-s S] [--verbose]
               [--writes N] [--write-size SIZE] [--think-time DURATION] [--nodelay] [--cc NAME]
               [--qdisc NAME] [--rtt DURATION] [--peer-mss N] [--connect] [--cpus N]
               [--build-dir DIR]
    hilnic compare RUN_DIR_OR_PCAP REAL.pcap [--features A,B] [--full]
    hilnic demo [--frames N] [--out DIR] [--waves] [--sim icarus|verilator]
                [--mem-latency-ns NS] [--seed N] [--verbose] [--build-dir DIR]
    hilnic --version
    hilnic bench [all|line_rate|wall_speed|rtl_speed|python_path] [--quick] [--report-only]

Subcommands register themselves in SUBCOMMANDS: each is (name, add_arguments(parser),
run(args) -> exit code). To add one (e.g. `run`), write its two functions and append it.
Bad options print one line and exit 2 (no traceback); a run that fails prints its summary,
then one line saying why and where the log is, and exits 1; an error writing the output (a
full disk) is one line and exit 1 (--verbose adds the traceback); SIGINT/SIGTERM stop the
run cleanly (exit 130/143).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from hilnic import __version__

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


BUILD_DIR_HELP = ("where simulator builds go, and the default --out (default $HILNIC_SIM_BUILD, else sim_build/ "
                  "in a source checkout, else $XDG_CACHE_HOME/hilnic or ~/.cache/hilnic)")


def _use_build_dir(a: argparse.Namespace) -> None:
    """--build-dir: through the environment, so the simulator process sees the same root."""
    if getattr(a, "build_dir", None):
        os.environ["HILNIC_SIM_BUILD"] = str(Path(a.build_dir).expanduser().resolve())


# -- run -----------------------------------------------------------------------------------


def add_run(p: argparse.ArgumentParser) -> None:
    from hilnic.run.options import add_run_arguments

    add_run_arguments(p)
    p.add_argument("--build-dir", default=None, metavar="DIR", help=BUILD_DIR_HELP)


def run_run_cmd(a: argparse.Namespace) -> int:
    from hilnic.run import RunConfigError, format_summary, run
    from hilnic.run.interrupt import Interrupted, signal_name, stop_signals, stop_with_parent
    from hilnic.run.options import run_config
    from hilnic.wire.netns import NamespaceError

    _use_build_dir(a)
    try:
        rc = run_config(a)
    except RunConfigError as exc:
        print(f"{PROG} run: error: {exc}", file=sys.stderr)
        return 2
    try:
        with stop_signals():
            stop_with_parent()  # started by a sweep: stop when its worker ends
            s = run(rc)
    except RunConfigError as exc:
        print(f"{PROG} run: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Interrupted, or a Ctrl-C before the run had started
        signum = getattr(exc, "signum", 2)
        where = ""
        if isinstance(exc, Interrupted) and exc.summary:
            print(format_summary(exc.summary))
            sys.stdout.flush()
            if exc.summary.get("out"):
                where = f" (summary: {os.path.join(exc.summary['out'], 'summary.json')})"
        stopped = "; the simulator is stopped" if rc.rtl else ""
        print(f"{PROG} run: interrupted by {signal_name(signum)}{stopped}{where}", file=sys.stderr)
        return 128 + signum
    except NamespaceError as exc:  # --peer linux: the namespace, TAP or receiver could not be set up
        return _error_line(a, "error", str(exc))
    except OSError as exc:  # the output could not be written (a full disk, a vanished --out)
        return _error_line(a, "error", _os_error_text(exc, str(rc.out_dir())))
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return _error_line(a, "internal error", (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
                           + ("" if a.verbose else " (--verbose shows the traceback)"))
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


def _os_error_text(exc: OSError, out: str) -> str:
    text = exc.strerror or str(exc)
    return f"{text}: {exc.filename}" if exc.filename else f"{text} (writing into {out})"


def _error_line(a: argparse.Namespace, kind: str, text: str, command: str = "run") -> int:
    """One line on stderr (the traceback before it with --verbose); exit status 1."""
    if a.verbose:
        traceback.print_exc()
    print(f"{PROG} {command}: {kind}: {text}", file=sys.stderr)
    return 1


# -- demo ----------------------------------------------------------------------------------


def add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--frames", type=_int_in(1, 2000), default=120, metavar="N",
                   help="frames to send (default 120): the first half a mix (ARP, TCP/UDP with checksum "
                        "offload, short frames padded by PSP, scatter-gather at odd addresses), the second "
                        "half full-size frames back to back")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output directory for wire.pcap, demo_summary.json, sim.log, waves.fst "
                        "(default demo/ in the build folder, see --build-dir)")
    p.add_argument("--waves", action="store_true", default=None,
                   help="write an FST waveform (also WAVES=1) and print the gtkwave command")
    p.add_argument("--sim", choices=SIMS, default=None,
                   help="simulator (default $SIM or icarus; verilator needs the `verilator` package)")
    p.add_argument("--mem-latency-ns", type=_float_in(0, 10000), default=500.0, metavar="NS",
                   help="host memory read latency in ns (default 500)")
    p.add_argument("--seed", type=_int_in(0, 2**31 - 1), default=1, metavar="N",
                   help="seed for frame contents and the memory model (default 1)")
    p.add_argument("--verbose", action="store_true", help="show the simulator's output instead of logging it")
    p.add_argument("--build-dir", default=None, metavar="DIR", help=BUILD_DIR_HELP)


def run_demo_cmd(a: argparse.Namespace) -> int:
    from hilnic.demo.run import format_summary, run_demo

    _use_build_dir(a)
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
    p.add_argument("--report-only", action="store_true",
                   help="exit 0 even when a target is missed (by default a FAIL exits 1)")


def run_bench_cmd(a: argparse.Namespace) -> int:
    import importlib

    mod = importlib.import_module(f"hilnic.bench.{a.which}")
    argv = (["--quick"] if a.quick else []) + (["--sim", a.sim] if a.sim and a.which != "python_path" else [])
    argv += ["--report-only"] if a.report_only else []
    return int(mod.main(argv) or 0)


# -- sweep ---------------------------------------------------------------------------------

SWEEP_EPILOG = """\
examples:
  hilnic sweep --grid frame-size=256,512,1024,1518 --grid itr=0,3,20000 -- --sim model --bytes 256K
  hilnic sweep --file sweep.toml --out sweeps/a      the grid and run options from a file
  hilnic sweep --scheduler tcp://host:8786 ...        on an existing Dask cluster

a sweep file (TOML; YAML takes the same keys):
  [run]                     # options every point shares, as hilnic run takes them
  sim = "model"
  bytes = "256K"
  [grid]                    # one axis per option: the sweep runs every combination
  frame-size = [256, 512, 1024, 1518]
  itr = [0, 3, 20000]

KEY is any option of 'hilnic run --help' (ring, loss, mss, seed, sim, proto, bytes, trace ...)
or frame-size (the whole Ethernet frame: --mtu FRAME_SIZE-18). Every point is checked with the
run's own limits before any starts; each runs as 'hilnic run ... --out OUT/points/NAME --force'.

output (in --out, default sim_build/sweep):
  sweep.csv      one row per point: status, error, parameters, the figures of its summary.json
  sweep.json     the grid, the shared run options, each point's command
  points/NAME/   each point's run folder (summary.json, wire.pcap, records.npz, run.log ...)
  plots/         throughput, interrupts, wall (PNG and SVG)

resume: run the same command again: points whose summary.json says ok (or failed, unless
--retry-failed) for the same options are kept, the others run.

exit status: 0 every point ok, 1 a point failed, 2 bad options, 130/143 stopped by
SIGINT/SIGTERM (running points are stopped, their simulators too; resume later)."""


def add_sweep(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = ("Many 'hilnic run's over a grid of options, in parallel on Dask (a LocalCluster on every\n"
                     "core, or --scheduler), with a progress bar, one table of results and plots.")
    p.epilog = SWEEP_EPILOG
    p.add_argument("run_args", nargs="*", metavar="-- RUN-OPTION",
                   help="after --: hilnic run options every point shares (e.g. -- --sim model --bytes 64K)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="an axis: a hilnic run option (or frame-size) and its values; repeat for more axes")
    p.add_argument("--file", default=None, metavar="PATH",
                   help="a TOML or YAML file with [run] options and [grid] axes (--grid and options after -- "
                        "add to it and override it)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="the sweep's folder (default sweep/ in the build folder: sim_build/sweep in a checkout)")
    p.add_argument("--scheduler", default="", metavar="ADDRESS",
                   help="a Dask scheduler, e.g. tcp://192.0.2.10:8786 (its workers need hilnic installed and "
                        "--out on a shared file system); default: a LocalCluster here")
    p.add_argument("--workers", type=_int_in(1, 1024), default=0, metavar="N",
                   help="LocalCluster workers, one point each at a time (default: one per core)")
    p.add_argument("--retry-failed", action="store_true",
                   help="run points again whose earlier summary says failed (by default they are kept)")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="write the table only")
    p.add_argument("--verbose", action="store_true", help="on an internal error, show its traceback")
    p.add_argument("--build-dir", default=None, metavar="DIR",
                   help=BUILD_DIR_HELP + "; the points' runs use it too (a remote worker: its own)")


def run_sweep_cmd(a: argparse.Namespace) -> int:
    from pathlib import Path

    from hilnic.cosim.sim import display_path, sim_build_root
    from hilnic.run.interrupt import signal_name, stop_signals
    from hilnic.sweep.grid import Grid, GridError, load_sweep_file
    from hilnic.sweep.runner import PLOTS_DIR, SweepConfig, SweepError, SweepInterrupted, sweep

    def error(text: str, code: int = 2) -> int:
        print(f"{PROG} sweep: error: {text}", file=sys.stderr)
        return code

    _use_build_dir(a)  # $HILNIC_SIM_BUILD: the points' runs inherit it

    try:
        grid = Grid()
        if a.file:
            load_sweep_file(a.file, grid)
        grid.base += a.run_args
        for spec in a.grid:
            grid.add_spec(spec)
        if not grid.axes:
            return error("nothing to sweep: give --grid KEY=V1,V2,... or a --file with a [grid]")
    except GridError as exc:
        return error(str(exc))
    out = Path(a.out) if a.out else sim_build_root() / "sweep"
    cfg = SweepConfig(grid=grid, out=out, scheduler=a.scheduler, workers=a.workers, retry_failed=a.retry_failed)
    plots: list[Path] = []
    try:
        with stop_signals():
            r = sweep(cfg)
            if a.plots:
                from hilnic.plot.sweep import plot_sweep

                plots = plot_sweep(r.rows, out.resolve() / PLOTS_DIR)
    except (GridError, SweepError) as exc:
        return error(str(exc))
    except SweepInterrupted as exc:
        res = exc.result
        done = sum(1 for row in res.rows if row["status"] in ("ok", "failed"))
        print(f"{PROG} sweep: interrupted by {signal_name(exc.signum)}: {done} of "
              f"{len(grid.make_points(out / 'points', check_tools=False))} points done; the same command resumes "
              f"(table: {display_path(str(res.table))})", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt as exc:  # before the sweep had started
        signum = getattr(exc, "signum", 2)
        print(f"{PROG} sweep: interrupted by {signal_name(signum)}", file=sys.stderr)
        return 128 + signum
    except OSError as exc:
        return _error_line(a, "error", _os_error_text(exc, str(out)), "sweep")
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return _error_line(a, "internal error", (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
                           + ("" if a.verbose else " (--verbose shows the traceback)"), "sweep")
    ok, failed = r.count("ok"), len(r.rows) - r.count("ok")
    ran = f"{len(r.ran)} run on {r.workers} worker{'s' if r.workers != 1 else ''} in {r.wall_s:.1f} s" if r.ran else "0 run"
    print(f"{PROG} sweep: {len(r.rows)} point{'s' if len(r.rows) != 1 else ''} ({ran}, {len(r.resumed)} resumed): "
          f"{ok} ok, {failed} failed")
    print(f"  table    {display_path(str(r.table))}")
    if plots:
        stems = sorted({p.stem for p in plots})
        print(f"  plots    {display_path(str(plots[0].parent))}/{{{','.join(stems)}}}.{{png,svg}}")
    print(f"  points   {display_path(str(out / 'points'))}/NAME/ (summary.json, run.log ...)")
    for row in [row for row in r.rows if row["status"] != "ok"][:5]:
        print(f"  failed   {row['point']}: {row['error']}")
    sys.stdout.flush()
    return 0 if not failed else 1


# -- plot ----------------------------------------------------------------------------------


def add_plot(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR",
                   help="a run's --out (plot.png/svg: cwnd and bytes in flight, ring occupancy, BQL, interrupts "
                        "and softirqs over simulated time, from records.npz) or a sweep's --out (plots/: "
                        "throughput and interrupts against frame size, wall time per point, from sweep.csv)")
    p.add_argument("--out", default=None, metavar="DIR", help="where to write the files (default: DIR, DIR/plots)")
    p.add_argument("--full", action="store_true",
                   help="a run: the whole simulated time (default: the transmit path's activity)")


def run_plot_cmd(a: argparse.Namespace) -> int:
    from pathlib import Path

    from hilnic.cosim.sim import display_path
    from hilnic.plot.run import PlotError, plot_run
    from hilnic.plot.sweep import plot_sweep
    from hilnic.sweep.table import TABLE_NAME, read_table

    d = Path(a.dir)
    try:
        if (d / TABLE_NAME).is_file():
            try:
                rows = read_table(d / TABLE_NAME)
            except (OSError, ValueError, KeyError) as exc:
                raise PlotError(f"{d / TABLE_NAME}: not a sweep table ({exc})") from None
            paths = plot_sweep(rows, Path(a.out) if a.out else d / "plots")
        else:
            paths = plot_run(d, a.out, full=a.full).paths
    except PlotError as exc:
        print(f"{PROG} plot: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROG} plot: error: {_os_error_text(exc, a.out or a.dir)}", file=sys.stderr)
        return 1
    for path in paths:
        print(display_path(str(path)))
    return 0


# -- registry ------------------------------------------------------------------------------

SUBCOMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = [
    ("run", "the main job: an application's bytes (TCP bulk by default) through the Linux stack, the "
            "e1000 driver and the NIC RTL to the peer; progress, summary, pcap, trace and counters",
     add_run, run_run_cmd),
    ("demo", "raw descriptors, no stack: send a mix of frames through the Verilog NIC and check them on "
             "the wire", add_demo, run_demo_cmd),
    ("sweep", "many runs over a grid of run options (frame size, ITR, ring, loss ...) in parallel on Dask: "
              "one table, plots, resume", add_sweep, run_sweep_cmd),
    ("plot", "plots of a run (cwnd, ring, BQL, interrupts over simulated time) or of a sweep", add_plot,
     run_plot_cmd),
    ("bench", "benchmarks: line rate, wall speed, simulation speed, Python path", add_bench, run_bench_cmd),
]


def _add_compare(p: argparse.ArgumentParser) -> None:
    from hilnic.cli.compare_cmd import add_compare

    add_compare(p)


def _run_compare(a: argparse.Namespace) -> int:
    from hilnic.cli.compare_cmd import run_compare_cmd

    return run_compare_cmd(a)


SUBCOMMANDS.append(("compare", "a run's TCP/UDP segments beside a real kernel's capture (sizes, PSH/FIN, "
                               "fragments); exit 0 when they match", _add_compare, _run_compare))


TOP_EPILOG = """\
examples:
  hilnic run                       the main job: 256 KiB of TCP through stack, driver and RTL (Icarus)
  hilnic run --sim model           the same without a simulator (behavioral NIC, virtual time)
  hilnic sweep --grid itr=0,3,20000 -- --sim model   three runs in parallel: table and plots
  hilnic plot sim_build/run        the run's cwnd, ring, BQL, interrupts over simulated time
  hilnic demo --waves              raw descriptors through the RTL, with an FST waveform
  hilnic bench --quick             the benchmarks, shorter

'hilnic COMMAND --help' lists a command's options and defaults.
environment: SIM=icarus|verilator (default simulator), WAVES=1 (waveforms),
HILNIC_SIM_BUILD=DIR (builds; default sim_build/ in a source checkout, else ~/.cache/hilnic)."""


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog=PROG, description="hilnic: a Verilog NIC driven by a Python model of the Linux "
                                        "transmit path, in a cocotb simulation.",
                 epilog=TOP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"{PROG} {__version__}")
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
