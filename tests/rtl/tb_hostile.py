"""cocotb bench: the hostile-input campaign of hostile.py on nic_top (issue 11 item 3).

Run by tests/rtl/test_hostile.py at DMA_DATA_WIDTH 64, 128 and 256. Seeds from
HILNIC_HOSTILE_SEED (first) and HILNIC_HOSTILE_SEEDS (count); HILNIC_HOSTILE_MODE=strict
stops at the first failing seed, `count` runs every seed (pin reset after a failure) and
counts the outcomes. Writes hostile.json (per-seed outcome, counts) into the run directory.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", category=DeprecationWarning)

from hostile import HANG, SeedFailure, make_scenario, outcome_counts, run_seed  # noqa: E402
from nic_tb import NicTB  # noqa: E402

from hilnic.cosim.api import rtl_test, with_sim_timeout  # noqa: E402
from hilnic.hw.regs import Reg  # noqa: E402

SEED_BOUND_US = 3000  # simulated time a seed may take at most (its waits are bounded far below)


class RtlPort:
    """hostile.Port on the RTL in the cocotb harness."""

    vle = False  # hdl/nic/README.md: VLE is not implemented

    def __init__(self, tb: NicTB) -> None:
        self.tb = tb
        self.rtl = tb.rtl
        self.mem = tb.mem
        self.resync()

    def resync(self) -> None:
        """Forget the harness problems seen so far (after they were reported)."""
        r = self.rtl
        self._axi = int(r.dut.u_check.err_count.value)
        self._xg = int(r.dut.u_xgmii.err_count.value)
        self._fe = len(r.wire.framing_errors)
        self._mm = len(r.mmio.errors)
        self._missed = r.wire.missed

    def writel(self, offset: int, value: int) -> None:
        self.rtl.mmio.write(int(offset), value)

    async def readl(self, offset: int) -> int:
        try:
            return await with_sim_timeout(self.rtl.readl(int(offset)), 100, f"MMIO read of {offset:#x}")
        except AssertionError as e:
            raise SeedFailure(HANG, str(e)) from None

    async def sleep_ns(self, ns: float) -> None:
        await self.rtl.wait_cycles(max(1, round(ns * 1000 / self.rtl.period_ps)))

    def now_ns(self) -> float:
        return self.rtl.now() / 1000

    def frames(self) -> list:
        return self.rtl.frames

    def set_timing(self, timing: dict) -> None:
        self.rtl.set_mem_timing(**timing)

    def inject(self, addr: int, length: int, resp: int, kind: str) -> None:
        self.rtl.inject_error(addr, length, resp, kind)

    def clear_injected(self) -> None:
        self.rtl.clear_injected_errors()

    def error_responses(self) -> list[tuple[bool, int]]:
        ms = self.rtl.mem_service
        return [] if ms is None else [(b.write, b.addr) for b in ms.error_responses]

    def harness_errors(self) -> list[str]:
        r = self.rtl
        out: list[str] = []
        if int(r.dut.u_check.err_count.value) != self._axi:
            out += r.monitor.axi_errors()
        if int(r.dut.u_xgmii.err_count.value) != self._xg:
            out += r.monitor.xgmii_errors()
        out += [f"XGMII: {e}" for e in r.wire.framing_errors[self._fe:]]
        out += r.mmio.errors[self._mm:]
        if r.wire.missed != self._missed:
            out.append(f"{r.wire.missed - self._missed} frame(s) missed by the capture")
        self.resync()
        return out


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


FIRST = _env_int("HILNIC_HOSTILE_SEED", 1)
COUNT = _env_int("HILNIC_HOSTILE_SEEDS", 10)


@rtl_test(timeout_us=SEED_BOUND_US * COUNT + 1000)
async def hostile_campaign(dut):
    """The seeds FIRST .. FIRST+COUNT-1 of the hostile campaign (hostile.py's oracle)."""
    mode = os.environ.get("HILNIC_HOSTILE_MODE", "strict")
    tb = NicTB(dut, mem_size=32 << 20)
    await tb.reset()
    port = RtlPort(tb)
    hcaps = await tb.readl(Reg.HCAPS)
    max_frame = (hcaps >> 16) * 16
    bpb = tb.rtl.data_width // 8
    results: dict[int, str] = {}
    classes: dict[str, int] = {}
    tso = {"packets": 0, "segments": 0, "dropped": 0}
    failures: list[str] = []
    t_start = time.perf_counter()
    for seed in range(FIRST, FIRST + COUNT):
        sc = make_scenario(seed, bpb, max_frame)
        classes[sc.cls] = classes.get(sc.cls, 0) + 1
        t0, c0 = time.perf_counter(), tb.rtl.cycle
        try:
            out = await run_seed(port, sc, max_frame=max_frame)
            results[seed] = "ok"
            for nseg, kind in out["tso"]:
                tso["packets"] += 1
                tso["segments"] += nseg
                tso["dropped"] += kind != "ok"
            tb.log.info("seed %d [%s%s]: ok, %d frame(s), %d cycles, %.2f s", seed, sc.cls,
                        f" {out['fault']}" if out["fault"] else "", out["frames"], tb.rtl.cycle - c0,
                        time.perf_counter() - t0)
        except SeedFailure as e:
            results[seed] = e.kind
            msg = f"seed {seed}: {e}\n    {sc.describe()}"
            failures.append(msg)
            tb.log.error("%s", msg)
            if mode == "strict":
                break
            # next seed from a clean harness: pin reset (a hung NIC needs it)
            tb.rtl.clear_injected_errors()
            await tb.reset()
            tb.mem.violations.clear()
            port.resync()
    summary = {
        "width": 8 * bpb, "first": FIRST, "count": COUNT, "mode": mode,
        "results": {str(k): v for k, v in results.items()}, "counts": outcome_counts(results),
        "classes": classes, "tso": tso, "wall_s": round(time.perf_counter() - t_start, 1),
    }
    run_dir = os.environ.get("HILNIC_RUN_DIR")
    if run_dir:
        Path(run_dir, "hostile.json").write_text(json.dumps(summary, indent=1))
    tb.log.info("hostile campaign, DMA %d bit, seeds %d..%d: %s %s, TSO %s", 8 * bpb, FIRST, FIRST + COUNT - 1,
                summary["counts"], classes, tso)
    assert not failures, f"{len(failures)} seed(s) failed:\n" + "\n".join(failures[:10])
