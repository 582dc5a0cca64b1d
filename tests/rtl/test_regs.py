"""Registers and interrupts of the RTL NIC (cocotb bench tests/rtl/tb_regs.py), plus the
check that the Verilog register offsets match hw/regs.py (the single source of truth)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hilnic.cosim.sim import HDL_NIC, run_rtl_test
from hilnic.hw import regs

HERE = Path(__file__).resolve().parent  # the cocotb modules (tb_*.py) live here

CSR_V = HDL_NIC / "nic_csr.v"


def _verilog_localparams() -> dict[str, int]:
    text = CSR_V.read_text()
    out = {}
    for name, _width, base, digits in re.findall(
            r"localparam\s*(?:\[[^\]]*\])?\s*(\w+)\s*=\s*(\d+)'([hd])([0-9A-Fa-f_]+)\s*;", text):
        out[name] = int(digits.replace("_", ""), 16 if base == "h" else 10)
    for name, value in re.findall(r"localparam\s+(\w+)\s*=\s*(\d+)\s*;", text):
        out[name] = int(value)
    return out


def test_verilog_register_offsets_match_regs() -> None:
    """Every REG_* localparam of nic_csr.v equals regs.Reg, and every Reg has one."""
    lp = _verilog_localparams()
    verilog = {k[4:]: v for k, v in lp.items() if k.startswith("REG_")}
    python = {r.name: int(r) for r in regs.Reg}
    assert verilog == python, (
        f"only in Verilog: {sorted(set(verilog) - set(python))}; only in regs.py: "
        f"{sorted(set(python) - set(verilog))}; different: "
        f"{ {k: (hex(verilog[k]), hex(python[k])) for k in verilog.keys() & python.keys() if verilog[k] != python[k]} }")


def test_verilog_constants_match_regs() -> None:
    """ID values, the ICR cause mask and the CTRL.RST bit agree between nic_csr.v and regs.py."""
    lp = _verilog_localparams()
    assert lp["HID_VALUE"] == regs.HID_VALUE
    assert lp["HVER_VALUE"] == regs.HVER_VALUE
    assert lp["ICR_CAUSES"] == regs.ICR_CAUSES
    assert 1 << lp["CTRL_RST_BIT"] == regs.E1000_CTRL_RST


@pytest.mark.parametrize("testcase", [
    "regs_reset_and_access", "regs_verilog_offsets", "irq_icr_ics_ims", "irq_itr_throttle", "irq_tidv_tadv"])
def test_regs(testcase: str) -> None:
    run_rtl_test("tb_regs", testcase, wall_timeout_s=300, module_dir=HERE)


@pytest.mark.parametrize("width", [64, 256])
def test_regs_hcaps(width: int) -> None:
    """Reset values (HCAPS depends on DMA_DATA_WIDTH) for the other widths."""
    run_rtl_test("tb_regs", "regs_reset_and_access", parameters={"DMA_DATA_WIDTH": width}, wall_timeout_s=300, module_dir=HERE)
