"""The FCS unit (hdl/nic/nic_crc32.v) against zlib.crc32, and its generated constants.

- test_generated_block_up_to_date: scripts/gen_crc32.py --check (the tables in the RTL are
  what the script derives).
- test_python_model: the script's model of the algorithm (Derby's form, pad bytes in front)
  equals zlib.crc32 for every length up to 80 and some long ones.
- test_rtl: hdl/tb/tb_crc32.v on Icarus: frames of every length 1..80, every pad, back to
  back (start on the edge after the previous last word) and with gaps, garbage past each
  frame's end; every FCS equal to zlib.crc32.

crc_frames / run_crc_tb are also used by tests/synth (the same frames through the netlist
yosys makes of nic_crc32).
"""

from __future__ import annotations

import importlib.util
import random
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gen_crc32", ROOT / "scripts" / "gen_crc32.py")
gen_crc32 = importlib.util.module_from_spec(_spec)
sys.modules["gen_crc32"] = gen_crc32
_spec.loader.exec_module(gen_crc32)

TB = ROOT / "hdl" / "tb" / "tb_crc32.v"
CRC_RTL = ROOT / "hdl" / "nic" / "nic_crc32.v"


def crc_frames(seed: int = 11) -> list[tuple[int, bytes]]:
    """(gap, frame) pairs: every length 1..80 back to back, then random lengths and gaps."""
    rnd = random.Random(seed)
    frames = [(0, rnd.randbytes(n)) for n in range(1, 81)]
    frames += [(rnd.choice((0, 0, 1, 2, 5)), rnd.randbytes(rnd.choice((60, 64, 1514, 1518, rnd.randrange(1, 300)))))
               for _ in range(40)]
    return frames


def write_framefile(path: Path, frames: list[tuple[int, bytes]], seed: int = 5) -> None:
    rnd = random.Random(seed)
    lines = []
    for gap, data in frames:
        lines.append(f"{(gap << 48) | len(data):016x}")
        padded = data + rnd.randbytes(-len(data) % 8)  # garbage past the end
        lines += [f"{int.from_bytes(padded[k:k + 8], 'little'):016x}" for k in range(0, len(padded), 8)]
    lines.append(f"{0xFFFF:016x}")
    path.write_text("\n".join(lines) + "\n")


def run_crc_tb(sources: list[Path], frames: list[tuple[int, bytes]], workdir: Path) -> list[int]:
    """The FCS values tb_crc32 prints for `frames`, with nic_crc32 from `sources`."""
    ff = workdir / "frames.memh"
    write_framefile(ff, frames)
    words = sum(1 + -(-len(d) // 8) for _, d in frames) + 1
    vvp = workdir / "tb_crc32.vvp"
    subprocess.run(["iverilog", "-g2012", "-o", str(vvp), "-s", "tb_crc32", f"-Ptb_crc32.WORDS={words}",
                    str(TB), *map(str, sources)], check=True, capture_output=True, text=True)
    r = subprocess.run(["vvp", "-n", str(vvp), f"+framefile={ff}"], capture_output=True, text=True, timeout=300)
    assert "CRC_DONE" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    return [int(ln.split()[2], 16) for ln in r.stdout.splitlines() if ln.startswith("FCS ")]


def test_generated_block_up_to_date() -> None:
    assert gen_crc32.main(["--check"]) == 0, "run scripts/gen_crc32.py"


def test_python_model() -> None:
    rnd = random.Random(3)
    for n in [*range(81), 1514, 1518, 9000]:
        data = rnd.randbytes(n)
        assert gen_crc32.frame_fcs(data) == zlib.crc32(data), n


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_rtl(tmp_path: Path) -> None:
    frames = crc_frames()
    got = run_crc_tb([CRC_RTL], frames, tmp_path)
    want = [zlib.crc32(d) for _, d in frames]
    assert len(got) == len(want)
    bad = [(i, len(frames[i][1]), f"{g:08x}", f"{w:08x}") for i, (g, w) in enumerate(zip(got, want, strict=True))
           if g != w]
    assert not bad, f"{len(bad)} wrong FCS (frame, length, got, want): {bad[:10]}"
