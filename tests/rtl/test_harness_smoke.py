"""Smoke tests of the cocotb harness (hdl/tb, hilnic.cosim.bridge, hilnic.cosim.sim).

- test_harness_selftest: the transactors without the NIC (toplevel tb_selftest), against
  independent cocotbext-axi / cocotbext-eth models: host memory, protocol checker, XGMII
  decoder, MMIO master.
- test_nic_hid / test_nic_one_frame: the NIC through RtlNic (toplevel nic_harness): reset,
  HID read, one frame from a raw descriptor (bytes, FCS, DD write-back).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hilnic.cosim.sim import SELFTEST_TOPLEVEL, env_sim, run_rtl_test

HERE = Path(__file__).resolve().parent  # the cocotb modules (tb_*.py) live here

# cocotbext-axi / cocotbext-eth drive and sample tb_selftest's pins on RisingEdge(clk); on
# Verilator that callback comes after the whole time step is evaluated (post-edge values, see
# cocotb's timing model, "Differences in Verilator"), so the handshakes are misread.
PIN_LEVEL_ON_VERILATOR = pytest.mark.skipif(
    env_sim() == "verilator",
    reason="pin-level cocotbext model clocked by the HDL clock: on Verilator RisingEdge fires after the time step "
    "is evaluated (post-edge values; cocotb timing model, verilator#3919)",
)


@PIN_LEVEL_ON_VERILATOR
@pytest.mark.parametrize("testcase", ["selftest_mem", "selftest_checker", "selftest_xgmii", "selftest_mmio"])
def test_harness_selftest(testcase: str) -> None:
    run_rtl_test("tb_smoke", testcase, toplevel=SELFTEST_TOPLEVEL, wall_timeout_s=300, module_dir=HERE)


def test_nic_hid() -> None:
    run_rtl_test("tb_smoke", "nic_hid", wall_timeout_s=300, module_dir=HERE)


@pytest.mark.parametrize("width", [64, 128, 256])
def test_nic_one_frame(width: int) -> None:
    run_rtl_test("tb_smoke", "nic_one_frame", parameters={"DMA_DATA_WIDTH": width}, wall_timeout_s=300, module_dir=HERE)
