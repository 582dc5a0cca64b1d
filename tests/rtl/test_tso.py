"""TCP segmentation offload in the RTL NIC (cocotb bench tests/rtl/tb_tso.py): segments at
DMA_DATA_WIDTH 64, 128 and 256 checked against scapy, and the bad-input outcomes of
docs/nic.md §5."""

from __future__ import annotations

from pathlib import Path

import pytest

from hilnic.cosim.sim import run_rtl_test

HERE = Path(__file__).resolve().parent  # the cocotb modules (tb_*.py) live here


@pytest.mark.parametrize("width", [64, 128, 256])
def test_tso_segments(width: int) -> None:
    params = {} if width == 128 else {"DMA_DATA_WIDTH": width}
    run_rtl_test("tb_tso", "tso_segments", parameters=params, wall_timeout_s=300, module_dir=HERE)


@pytest.mark.parametrize("testcase", ["tso_checksum_options", "tso_bad_input"])
def test_tso(testcase: str) -> None:
    run_rtl_test("tb_tso", testcase, wall_timeout_s=300, module_dir=HERE)
