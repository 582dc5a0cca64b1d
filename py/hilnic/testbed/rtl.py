"""The testbed on the RTL: CocotbEnv (simulator time) + RtlNic (the cocotb bridge) + host.

    tb = await rtl_testbed(dut, TestbedConfig(), mem_latency_ns=500)
    await tb.env.run_process(tb.host.kernel, tb.setup(), 50 * MS)   # probe + open: ~11 ms
    result = await tb.env.run_process(tb.host.kernel, tcp_bulk(tb, 1 << 20), 200 * MS)

Runs inside the simulator. The model testbed (hilnic.testbed) does not import this module, so
it never imports cocotb.
"""

from __future__ import annotations

from typing import Any

from hilnic.cosim.bridge import RtlNic
from hilnic.cosim.cocotb_env import CocotbEnv
from hilnic.mm.hostmem import HostMemory

# the TCP receive/timer modules are imported lazily by the stack; import them here (start-up)
# rather than inside the first connection
from hilnic.net.ipv4 import ip_input, tcp_input, tcp_ipv4, tcp_timer  # noqa: F401
from hilnic.testbed import Testbed, TestbedConfig


async def rtl_testbed(dut: Any, cfg: TestbedConfig | None = None, *, mem_latency_ns: float = 500.0,
                      env: CocotbEnv | None = None, hold_clock: bool = True, **nic_args: Any) -> Testbed:
    """A Testbed on the RTL: CocotbEnv + RtlNic (reset, service tasks running) + host.

    `tb.setup()` is left to the caller (a process: `await tb.env.run_process(kernel, tb.setup(), t)`;
    probe and open take ~11 ms of simulated time).
    hold_clock: skip the cycles in which the design is quiet (see CocotbEnv.hold_clock).
    nic_args go to RtlNic (e.g. keep_frames, record_bursts, wr_latency_ns, mem_model)."""
    env = env or CocotbEnv()
    env.start()
    nic_args.setdefault("keep_frames", False)
    nic = RtlNic(dut, HostMemory(), mem_latency_ns=mem_latency_ns, **nic_args)
    await nic.reset()
    nic.attach_env(env)
    if hold_clock and nic.mem_model == "py":
        env.hold_clock(dut)
    return Testbed(env, nic, cfg)


__all__ = ["rtl_testbed"]
