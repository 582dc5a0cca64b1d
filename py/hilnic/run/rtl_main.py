"""cocotb side of `hilnic run` on an RTL simulator (toplevel nic_harness).

The RunConfig arrives as JSON in HILNIC_RUN_CFG. The test builds the RTL testbed (CocotbEnv,
RtlNic reset and started, host, driver, peer), runs `Scenario` as one kernel process bounded
by the run's simulated-time limit, and leaves progress.json, wire.pcap, trace.txt, stats.txt
and summary.json in the run's output directory. With waves on, the kernel's current function
and context are also driven into the waveform (hilnic.cosim.swsignals, when present).

Stopping: `hilnic run` stops the simulator with SIGTERM (Ctrl-C, its wall-clock bound), and
the kernel sends SIGTERM if `hilnic run` dies (PR_SET_PDEATHSIG). The handler writes the pcap
and summary.json (status "interrupted", the counters so far) and exits at once: the
simulator has a few seconds before SIGKILL, and nothing else of the run is worth waiting for.
"""

from __future__ import annotations

import os
import signal
import warnings

from hilnic.cosim.api import rtl_test
from hilnic.cosim.swsignals import install_sw_signals
from hilnic.kernel.env import SimulationTimeout
from hilnic.kernel.ftrace import Tracer
from hilnic.run.config import RunConfig
from hilnic.run.interrupt import signal_name, stop_with_parent
from hilnic.run.linux_peer import from_env as linux_peer_from_env
from hilnic.run.linux_peer import peer_factory
from hilnic.run.scenario import ProgressFile, Scenario, sim_limit_ps, testbed_config
from hilnic.testbed.rtl import rtl_testbed

warnings.filterwarnings("ignore", category=DeprecationWarning)


@rtl_test(timeout_us=None)
async def run(dut):
    rc = RunConfig.from_json(os.environ["HILNIC_RUN_CFG"])
    out = rc.out_dir()
    out.mkdir(parents=True, exist_ok=True)
    make_peer = None
    if rc.peer == "linux":  # the TAP and the receiver's pipes, inherited from hilnic run (run/linux_peer.py)
        fds, info = linux_peer_from_env()
        make_peer = peer_factory(rc, fds, info)
    tb = await rtl_testbed(dut, testbed_config(rc), mem_latency_ns=rc.mem_latency_ns, hold_clock=rc.clock_hold,
                           setup=False, make_peer=make_peer)  # Scenario sets up, traced
    k = tb.host.kernel
    tracer = Tracer(k.cpu_clock, lambda: k.context) if rc.trace or rc.waves else None
    if rc.waves and tracer is not None:

        install_sw_signals(dut, tracer, env=tb.env)
    sc = Scenario(tb, rc, ProgressFile(out / "progress.json"), out=out, interval=0.3, tracer=tracer)
    _stop_on_sigterm(sc)
    period = tb.nic.period_ps
    sc.clock_info = lambda: {"period_ps": period, "cycles": (tb.env.now() - period // 2) // period + 1,
                             "skipped": tb.env.skipped_cycles(dut), "hold": rc.clock_hold}
    try:
        await tb.env.run_process(k, sc.run(), sim_limit_ps(rc), name="hilnic-run")
    except SimulationTimeout:
        s = sc.fail(f"the run did not finish within {rc.sim_limit_ms:g} ms of simulated time (raise --sim-limit-ms)")
        raise AssertionError(s["error"]) from None
    except Exception as exc:
        s = sc.fail(exc.__cause__ or exc)
        raise AssertionError(s["error"]) from None
    errs = tb.nic.errors() if hasattr(tb.nic, "errors") else []
    if errs:
        s = sc.fail(f"RTL harness: {errs[0]}" + (f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""))
        raise AssertionError(s["error"])


def _stop_on_sigterm(sc: Scenario) -> None:
    """SIGTERM: the interrupted summary, then exit (see the module's docstring)."""

    def on_term(signum: int, _frame: object) -> None:
        try:
            sc.interrupt(signal_name(signum))
        finally:
            os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    # and if `hilnic run` dies, the kernel sends the SIGTERM (Linux; elsewhere only hilnic run does)
    stop_with_parent(os.environ.get("HILNIC_RUN_PARENT", ""))
