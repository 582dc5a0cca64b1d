"""The unchanged Linux stack and e1000 driver on the Verilog NIC: a cocotb test module.

    python examples/rtl_stack.py             # build nic_harness (Icarus; SIM=verilator) and run the test

`rtl_testbed(dut)` brings up the whole machine on simulator time: the RTL NIC reset, the
driver's probe and open done, the peer attached beyond the MAC. `tb.process(coroutine, bound)`
runs process-context code (a socket's send, a scenario) on it; `testbed_test(timeout_us=...)`
bounds the test's own work and adds the driver's set-up and teardown bounds to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hilnic.cosim.sim import run_rtl_test
from hilnic.kernel.env import MS
from hilnic.testbed import E1000_IRQ, TestbedConfig, tcp_bulk
from hilnic.testbed.rtl import rtl_teardown, rtl_testbed, testbed_test


@testbed_test(timeout_us=20_000)
async def tcp_through_the_rtl(dut):
    tb = await rtl_testbed(dut, TestbedConfig(ring_size=64, itr=20000))
    r = await tb.process(tcp_bulk(tb, 64 << 10), 20 * MS)  # connect, send 64 KiB, close
    assert tb.peer.stream(peer_port=5001) == r["payload"]  # the peer got every byte, in order
    irqs = tb.host.kernel.irqs[E1000_IRQ].count
    dut._log.info("%d frames on the wire, %d interrupts, %.3f ms simulated", tb.frames, irqs, tb.env.now() / MS)
    await rtl_teardown(tb)  # close eth0; no protocol error, leaked skb or DMA mapping


if __name__ == "__main__":
    run_dir = run_rtl_test(Path(__file__).stem, module_dir=Path(__file__).parent, wall_timeout_s=600)
    print(f"rtl_stack: all tests passed (results in {run_dir})")
    sys.exit(0)
