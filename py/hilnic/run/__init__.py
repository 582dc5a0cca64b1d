"""`hilnic run`: an application's bytes through the stack, the driver and the NIC to the peer.

    from hilnic.run import RunConfig, run, format_summary
    s = run(RunConfig(sim="model", nbytes=64 << 10, out="sim_build/run"))
    print(format_summary(s))

config.py (RunConfig, validation), scenario.py (the scenario every simulator runs, and its
output files), runner.py (model in-process / RTL through cocotb, progress bar, summary table),
rtl_main.py (the cocotb test), interrupt.py (SIGINT/SIGTERM: `stop_signals`, `Interrupted`),
schema.py (summary.json's `schema_version` and summary.schema.json),
knobs.py (the scenario knobs: writes, think time, socket
options, path delay, peer MSS), compare.py (`hilnic compare`: a run's segments beside a real
capture's), linux_peer.py (`--peer linux`: the namespace for the run, the peer on its fds, the
receiver's verdict).
"""

from hilnic.run.config import RunConfig, RunConfigError, parse_size
from hilnic.run.interrupt import Interrupted, stop_signals
from hilnic.run.runner import format_summary, run
from hilnic.run.schema import SCHEMA_VERSION, load_schema

__all__ = ["SCHEMA_VERSION", "Interrupted", "RunConfig", "RunConfigError", "format_summary", "load_schema", "parse_size",
           "run", "stop_signals"]
