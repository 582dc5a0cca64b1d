"""Shared helpers of the benchmarks: running a cocotb bench module, results, tables."""

from __future__ import annotations

import json
import os
import shlex
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TB_MODULE = "hilnic.bench.tb_bench"


def run_cocotb_bench(testcase: str, cfg: Mapping[str, Any], *, parameters: Mapping[str, Any] | None = None,
                     sim: str | None = None, run_name: str, wall_timeout_s: float = 600) -> dict[str, Any]:
    """Run testcase of hilnic.bench.tb_bench with `cfg` (JSON in HILNIC_BENCH_CFG); return
    the JSON result the test wrote into its run directory."""
    from hilnic.cosim.sim import quiet, run_rtl_test

    log = results_dir() / f"{run_name}.log"
    try:
        with quiet(log):
            run_dir = run_rtl_test(
                TB_MODULE, testcase, parameters=parameters or {}, sim=sim, waves=False,
                extra_env={"HILNIC_BENCH_CFG": json.dumps(cfg), "COCOTB_LOG_LEVEL": "WARNING"},
                wall_timeout_s=wall_timeout_s, run_name=run_name,
            )
    except AssertionError as exc:
        raise BenchError(f"{exc}\nsimulator log: {log}") from None
    return json.loads((run_dir / "bench_result.json").read_text())


class BenchError(Exception):
    """A bench run failed (simulator died, frames wrong)."""


def reproduce(module: str, *args: str) -> str:
    """The shell command that reproduces a figure."""
    return " ".join(["python -m", module, *[shlex.quote(a) for a in args]])


TABLE_WIDTH = 100  # every table fits a 100-column terminal
PASS, FAIL = "PASS", "FAIL"  # the one spelling of a verdict


def verdict(ok: bool) -> str:
    return PASS if ok else FAIL


def table(rows: Sequence[Sequence[Any]], header: Sequence[str], width: int = TABLE_WIDTH) -> str:
    """Rows under a header, columns two spaces apart, numbers right-aligned. Wider than
    `width`: the widest text columns are narrowed and their cells wrapped onto more lines."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    n = len(header)
    widths = [max(len(r[i]) for r in cells) for i in range(n)]
    floor = [max(10, max((len(w) for r in cells for w in r[i].split()), default=0)) for i in range(n)]
    while sum(widths) + 2 * (n - 1) > width:
        wrappable = [i for i in range(n) if widths[i] > floor[i]
                     and not all(_numeric(r[i]) for r in cells[1:] if r[i])]
        if not wrappable:
            break
        widths[max(wrappable, key=lambda k: widths[k])] -= 1  # one at a time: the wide ones even out
    out = []
    for k, r in enumerate(cells):
        parts = [textwrap.wrap(c, widths[i]) or [""] for i, c in enumerate(r)]
        right = [bool(k) and _numeric(c) for c in r]
        for line in range(max(len(p) for p in parts)):
            texts = []
            for i, p in enumerate(parts):
                c = p[line] if line < len(p) else ""
                texts.append(c.rjust(widths[i]) if right[i] else c.ljust(widths[i]))
            out.append("  ".join(texts).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _numeric(s: str) -> bool:
    try:
        float(s.replace(",", "").rstrip("%x"))
        return True
    except ValueError:
        return False


def add_report_only(ap: Any) -> None:
    ap.add_argument("--report-only", action="store_true",
                    help="exit 0 even when a target is missed (to explore; by default a missed target exits 1)")


def exit_status(missed: bool, report_only: bool = False) -> int:
    """1 when a target was missed (a FAIL verdict, a problem), unless only reporting."""
    if missed and report_only:
        print("(--report-only: a target was missed; exit status 0)")
        return 0
    return int(missed)


def sim_name(sim: str | None) -> str:
    return sim or os.environ.get("SIM", "icarus") or "icarus"


def results_dir() -> Path:
    from hilnic.cosim.sim import sim_build_root

    d = sim_build_root() / "bench"
    d.mkdir(parents=True, exist_ok=True)
    return d


def save(name: str, data: Any) -> Path:
    p = results_dir() / f"{name}.json"
    p.write_text(json.dumps(data, indent=1))
    return p


def fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 1


def verilator_binary(top: str, srcs: Sequence[Path], params: Mapping[str, Any], mdir: Path) -> Path:
    """`verilator --binary --timing` a pure-Verilog bench `top` into `mdir` (a plain executable:
    no VPI, no public signals; C++ built like the cocotb models, see hilnic.cosim.sim). Raises
    RuntimeError with the compiler's output if it fails; returns the executable."""
    import shutil
    import subprocess

    from hilnic.cosim import sim as hwsim

    make_vars = hwsim._verilator_make_vars(hwsim._verilator_env())
    exe = mdir / f"V{top}"
    if mdir.exists():
        shutil.rmtree(mdir)
    mdir.mkdir(parents=True)
    cmd = ["verilator", "--binary", "--timing", "--top-module", top, "-Mdir", str(mdir),
           "--timescale", "1ns/1ps", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--build-jobs",
           str(hwsim.build_jobs()), "-MAKEFLAGS", " ".join(make_vars)]
    cmd += [f"-G{k}={v}" for k, v in params.items()]
    cmd += [f"-I{hwsim.HDL_NIC}"] + [str(s) for s in srcs]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 or not exe.exists():
        raise RuntimeError(f"verilator failed ({' '.join(cmd)}):\n{r.stdout[-4000:]}{r.stderr[-4000:]}")
    return exe

