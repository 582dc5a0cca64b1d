"""Bad input, DMA errors, recovery and CTRL.RST of the RTL NIC (docs/nic.md §5; cocotb bench
tests/rtl/tb_errors.py). The cases that go through the data path (lengths, DEXT, read and
write errors, the CTRL.RST drain) also run at DMA_DATA_WIDTH 64 and 256; the randomized
campaign at every width is test_hostile.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from hilnic.cosim.sim import run_rtl_test

HERE = Path(__file__).resolve().parent  # the cocotb modules (tb_*.py) live here

CASES = ["err_tdt_out_of_range", "err_ring_regs_while_enabled", "err_tdlen_zero", "err_zero_length",
         "err_too_long", "err_dext", "err_dma_write", "err_one_pass_per_doorbell", "ctrl_rst_mid_traffic"]


@pytest.mark.parametrize("testcase", CASES)
def test_errors(testcase: str) -> None:
    run_rtl_test("tb_errors", testcase, wall_timeout_s=300, module_dir=HERE)


@pytest.mark.parametrize("kind", ["slverr", "decerr", "iommu", "desc"])
def test_dma_read_error(kind: str) -> None:
    """Buffer read answered SLVERR / DECERR, an unmapped buffer (IOMMU DECERR), and a
    descriptor fetch answered SLVERR; recovery by TCTL.EN 0->1 and by CTRL.RST."""
    run_rtl_test("tb_errors", "err_dma_read", extra_env={"HILNIC_ERR_KIND": kind},
                 run_name=f"tb_errors.err_dma_read.{kind}", wall_timeout_s=300, module_dir=HERE)



# data-path cases, also at the other widths (128 is the default above); one simulation each
# (the benches' services are per test: two tests never share a simulator)
PER_WIDTH = ["err_too_long", "err_dext", "err_dma_read", "err_dma_write", "ctrl_rst_mid_traffic"]


@pytest.mark.parametrize("width", [64, 256])
@pytest.mark.parametrize("testcase", PER_WIDTH)
def test_errors_widths(testcase: str, width: int) -> None:
    run_rtl_test("tb_errors", testcase, parameters={"DMA_DATA_WIDTH": width}, wall_timeout_s=300, module_dir=HERE)
