"""nic_top's clock-gate ports (cocotb bench tests/rtl/tb_clock_gate.py): `quiet` only when the
buses and the wire show nothing in flight, the interrupt timers (`irq_*`) counting to the interrupt they hold
back, and the skip port giving the same interrupt time when the harness stops the clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from hilnic.cosim.sim import run_rtl_test

HERE = Path(__file__).resolve().parent  # the cocotb modules (tb_*.py) live here


@pytest.mark.parametrize("testcase", ["gate_quiet_only_when_idle", "gate_wake_counts_to_the_interrupt"])
def test_clock_gate(testcase: str) -> None:
    run_rtl_test("tb_clock_gate", testcase, wall_timeout_s=300, module_dir=HERE)
