"""Hostile input at every DMA width (issue 11 item 3; scenarios and oracle in hostile.py).

- `test_hostile_rtl[64|128|256]`: a short run of the campaign on the RTL for each width
  (cocotb bench tb_hostile.py); `test_hostile_rtl_soak` the long one (`pytest -m soak`).
- `test_hostile_model`: the same scenarios (without injected bus errors, which the model's
  memory cannot answer) on the behavioral model: it is held to the same outcome.

Seeds: HILNIC_HOSTILE_SEED (first seed) and HILNIC_HOSTILE_SEEDS (how many) override the
defaults; every run prints its seed range and the outcome counts, and a failing seed is
named with the command that repeats it alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hostile import SeedFailure, make_scenario, outcome_counts, run_seed

from hilnic.cosim.sim import build_dir_for, env_sim, env_waves, run_rtl_test
from hilnic.hw.model import ModelNic
from hilnic.kernel.env import MS, NS, SimulationTimeout, VirtualEnv
from hilnic.mm.hostmem import HostMemory

HERE = Path(__file__).resolve().parent  # the cocotb modules (tb_*.py) live here

WIDTHS = [64, 128, 256]
SHORT_SEEDS = 30  # per width in `make test` (~10 s of wall time each on Icarus)
SOAK_SEEDS = 2000  # per width: ~4 min each on Icarus
MAX_FRAME = 9216


def _seeds(default_first: int, default_count: int) -> tuple[int, int]:
    first = int(os.environ.get("HILNIC_HOSTILE_SEED", default_first))
    count = int(os.environ.get("HILNIC_HOSTILE_SEEDS", default_count))
    return first, count


def _run_rtl(width: int, first: int, count: int, mode: str, wall: int) -> dict:
    params = {} if width == 128 else {"DMA_DATA_WIDTH": width}
    env = {"HILNIC_HOSTILE_SEED": str(first), "HILNIC_HOSTILE_SEEDS": str(count), "HILNIC_HOSTILE_MODE": mode}
    name = f"tb_hostile.{mode}.w{width}.s{first}+{count}"
    print(f"\nhostile campaign, DMA {width} bit: seeds {first}..{first + count - 1} "
          f"(HILNIC_HOSTILE_SEED={first} HILNIC_HOSTILE_SEEDS={count})")
    run_dir = build_dir_for("nic_harness", params, env_sim(), env_waves()) / "runs" / name
    result = run_dir / "hostile.json"
    result.unlink(missing_ok=True)
    try:
        run_rtl_test("tb_hostile", "hostile_campaign", parameters=params, extra_env=env, run_name=name,
                     wall_timeout_s=wall, module_dir=HERE)
    except AssertionError as e:
        if result.exists():
            s = json.loads(result.read_text())
            print(f"DMA {width} bit: {s['counts']} ({s['classes']}), TSO {s.get('tso')}, {s['wall_s']} s")
        raise AssertionError(f"{e}\nrepeat one seed: HILNIC_HOSTILE_SEED=<seed> HILNIC_HOSTILE_SEEDS=1 "
                             f"pytest -s 'tests/rtl/test_hostile.py::test_hostile_rtl[{width}]'") from None
    summary = json.loads(result.read_text())
    print(f"DMA {width} bit: {summary['counts']} ({summary['classes']}), TSO {summary.get('tso')}, "
          f"{summary['wall_s']} s")
    return summary


@pytest.mark.parametrize("width", WIDTHS)
def test_hostile_rtl(width: int) -> None:
    first, count = _seeds(1000 + width, SHORT_SEEDS)
    _run_rtl(width, first, count, "strict", wall=600)


@pytest.mark.soak
@pytest.mark.parametrize("width", WIDTHS)
def test_hostile_rtl_soak(width: int) -> None:
    """The long campaign: every seed runs even after a failure (pin reset between), and the
    outcome counts are printed; fails if any seed failed."""
    first, count = _seeds(1, SOAK_SEEDS)
    summary = _run_rtl(width, first, count, "count", wall=4 * 3600)
    bad = {s: k for s, k in summary["results"].items() if k != "ok"}
    assert not bad, f"DMA {width} bit: {len(bad)} of {count} seeds failed: {bad}"


# -- the behavioral model on the same scenarios --------------------------------------------------


class ModelPort:
    """hostile.Port on hw/model.py in virtual time."""

    vle = True  # the model implements the optional VLE (the RTL does not: hdl/nic/README.md)

    def __init__(self, width: int) -> None:
        self.env = VirtualEnv()
        self.mem = HostMemory(size=16 << 20)
        self.mem.clock = self.env
        self.nic = ModelNic(self.env, self.mem, dma_data_width=width, max_frame_bytes=MAX_FRAME)
        self._frames: list = []
        self.nic.on_frame(self._frames.append)

    def writel(self, offset: int, value: int) -> None:
        self.nic.writel(offset, value)

    async def readl(self, offset: int) -> int:
        return await self.nic.readl(offset)

    async def sleep_ns(self, ns: float) -> None:
        await self.env.sleep(int(ns * NS))

    def now_ns(self) -> float:
        return self.env.now() / NS

    def frames(self) -> list:
        return self._frames

    def set_timing(self, timing: dict) -> None:
        self.nic.mem_latency_ps = int(timing.get("mem_latency_ns", 0) * NS)

    def inject(self, addr: int, length: int, resp: int, kind: str) -> None:
        raise NotImplementedError("the model's memory answers no SLVERR/DECERR")

    def clear_injected(self) -> None:
        pass

    def error_responses(self) -> list:
        return []

    def harness_errors(self) -> list:
        return []


MODEL_SEEDS = 300


@pytest.mark.parametrize("width", WIDTHS)
def test_hostile_model(width: int) -> None:
    first, count = _seeds(1, MODEL_SEEDS)
    port = ModelPort(width)
    results: dict[int, str] = {}
    failures = []
    for seed in range(first, first + count):
        sc = make_scenario(seed, width // 8, MAX_FRAME, inject=False)
        task = port.env.spawn(run_seed(port, sc, max_frame=MAX_FRAME))
        try:
            port.env.run_until_complete(task, timeout=100 * MS)
            results[seed] = "ok"
        except (RuntimeError, SimulationTimeout) as e:
            cause = e.__cause__ if isinstance(e.__cause__, SeedFailure) else e
            results[seed] = cause.kind if isinstance(cause, SeedFailure) else "hang"
            failures.append(f"seed {seed}: {cause}\n  {sc.describe()}")
            port = ModelPort(width)  # start the next seed from a clean NIC
    print(f"\nhostile campaign on the model, DMA {width} bit: seeds {first}..{first + count - 1}: "
          f"{outcome_counts(results)}")
    assert not failures, f"{len(failures)} of {count} seeds failed:\n" + "\n".join(failures[:5])
