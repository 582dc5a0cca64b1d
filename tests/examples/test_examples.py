"""Every example under examples/ runs as its docstring says, from the repository root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _run(*args: str, timeout: float) -> str:
    r = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(args)} exited {r.returncode}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r.stdout


def test_every_example_is_run_here():
    here = Path(__file__).read_text()
    for f in EXAMPLES.glob("*.py"):
        assert f"examples/{f.name}" in here, f"examples/{f.name} is not run by this test file"


def test_tcp_scenario():
    out = _run("examples/tcp_scenario.py", timeout=120)
    assert "bulk:" in out and "chatty:" in out and "dropped by the loss model" in out


def test_model_in_pytest():
    out = _run("-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_model_in_pytest.py", timeout=300)
    assert " passed" in out and "failed" not in out


@pytest.mark.rtl
def test_raw_frames():
    out = _run("examples/raw_frames.py", timeout=900)
    assert "raw_frames: all tests passed" in out


@pytest.mark.rtl
def test_rtl_stack():
    out = _run("examples/rtl_stack.py", timeout=900)
    assert "rtl_stack: all tests passed" in out
