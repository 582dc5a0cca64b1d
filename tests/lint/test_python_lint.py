"""The Python linters, as part of the test suite: ruff, mypy and the layer contracts.

Each runs as a subprocess from the repository root with the configuration in
pyproject.toml; a failure shows the tool's own report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def run(cmd: list[str], timeout: float = 120) -> None:
    # This checkout's py/ first: an editable install may point at another worktree.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "py"), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    assert r.returncode == 0, f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"


def test_ruff() -> None:
    run([tool("ruff"), "check", "--no-cache", "py", "tests", "scripts", "examples"])


def test_mypy() -> None:
    # the packages are listed in [tool.mypy]; no cache dir so the run is the same on every machine
    run([tool("mypy"), "--cache-dir", "/dev/null"], timeout=300)


def test_import_contracts() -> None:
    run([tool("lint-imports"), "--no-cache"])


def test_architecture_doc_is_current() -> None:
    run([sys.executable, "scripts/gen_architecture.py", "--check"])
