"""pytest setup for the RTL tests: hilnic importable without installing, marker `rtl`.

Each test here is a plain pytest function that calls hilnic.cosim.sim.run_rtl_test(); the
cocotb side lives in tb_*.py modules next to it (run inside the simulator, not by pytest),
found there through run_rtl_test(module_dir=...): this folder is on the simulator's path only
for the simulations of its own modules.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
for _p in (_ROOT / "py", Path(__file__).resolve().parent):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

# tb_*.py are cocotb modules (they need a running simulator): never collect them
collect_ignore_glob = ["tb_*.py"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # soak tests are opt-in: `pytest -m soak tests/rtl` (or any -m expression naming soak)
    run_soak = "soak" in (config.getoption("markexpr", "") or "")
    skip_soak = pytest.mark.skip(reason="soak test: run with -m soak")
    for item in items:
        if "tests/rtl/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.rtl)
            if "soak" in item.keywords and not run_soak:
                item.add_marker(skip_soak)
