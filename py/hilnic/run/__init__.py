"""`hilnic run`: an application's bytes through the stack, the driver and the NIC to the peer.

    from hilnic.run import RunConfig, run, format_summary
    s = run(RunConfig(sim="model", nbytes=64 << 10, out="sim_build/run"))
    print(format_summary(s))

config.py (RunConfig, validation), scenario.py (the scenario every simulator runs, and its
output files), runner.py (model in-process / RTL through cocotb, progress bar, summary table),
rtl_main.py (the cocotb test).
"""

from hilnic.run.config import RunConfig, RunConfigError, parse_size
from hilnic.run.runner import format_summary, run

__all__ = ["RunConfig", "RunConfigError", "format_summary", "parse_size", "run"]
