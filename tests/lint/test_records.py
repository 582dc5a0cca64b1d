"""The record layouts of hdl/nic/nic_records.vh and nic_txd.vh: every record's fields tile its
width (no gap, no overlap), the builder functions put each field where the offsets say (run in
Icarus), and the transmit descriptor agrees with the driver's view of it in hilnic.hw.regs
(struct layout, command and status bits)."""

from __future__ import annotations

import random
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from hilnic.hw import regs

ROOT = Path(__file__).resolve().parents[2]
HDL_NIC = ROOT / "hdl" / "nic"
FB = 11  # an FB_ADDR_WIDTH for the widths that depend on it


def localparams(path: Path, fb: int = FB) -> dict[str, int]:
    """name -> value of the localparams of an include file (integer expressions of each other)."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", "", path.read_text(), flags=re.S)
    env: dict[str, int] = {"FB_ADDR_WIDTH": fb}
    for decl in re.findall(r"localparam\s+(?:\[[^\]]*\]\s*)?(.*?);", text, flags=re.S):
        for name, expr in re.findall(r"(\w+)\s*=\s*([^,]+)", decl):
            expr = re.sub(r"\b\d+'d(\d+)\b", r"\1", expr.strip())
            env[name] = int(eval(expr.replace("/", "//"), {"__builtins__": {}}, dict(env)))
    return env


def fields(p: dict[str, int], prefix: str, start_w: int | None = None) -> dict[str, tuple[int, int]]:
    """FIELD -> (lsb, width) of a record: <prefix>_<F>_LSB with <prefix>_<F>_W, <prefix>_<F>_BIT."""
    out = {}
    for name, v in p.items():
        if m := re.fullmatch(prefix + r"_(\w+)_LSB", name):
            w = p.get(f"{prefix}_{m[1]}_W", start_w if m[1] == "START" else None)
            assert w is not None, f"{name} has no width"
            out[m[1]] = (v, w)
        elif m := re.fullmatch(prefix + r"_(\w+)_BIT", name):
            out[m[1]] = (v, 1)
    return out


def tiles(f: dict[str, tuple[int, int]], width: int) -> list[str]:
    """Problems: overlapping fields, bits of [0, width) no field covers."""
    owner: dict[int, str] = {}
    problems = []
    for name, (lsb, w) in f.items():
        for b in range(lsb, lsb + w):
            if b in owner:
                problems.append(f"bit {b}: {owner[b]} and {name}")
            owner[b] = name
    problems += [f"bit {b} in no field" for b in range(width) if b not in owner]
    problems += [f"{owner[b]} beyond the width {width}" for b in owner if b >= width]
    return problems


def test_records_tile_their_width() -> None:
    p = localparams(HDL_NIC / "nic_records.vh")
    fr = fields(p, "FR", FB)
    ft = fields(p, "FT", FB)
    mk = {k: v for k, v in fr.items() if k != "START"} | fields(p, "MK")
    assert set(fr) == {"CSO", "CSS", "IC", "IFCS", "LEN", "START"} and set(ft) == {"CSUM", "CSO", "IC", "IFCS", "LEN",
                                                                                   "START"}
    assert tiles(fr, p["FR_W"]) == [] and tiles(ft, p["FT_W"]) == []
    assert tiles(mk, p["MK_W"]) == []  # its top field: the TSO kind
    assert p["FR_W"] == FB + 34 and p["FT_W"] == FB + 42  # the widths nic_top's wires were declared with
    # the tiling check itself: an overlap and a gap are reported
    assert tiles({"A": (0, 4), "B": (3, 2)}, 6) == ["bit 3: A and B", "bit 5 in no field"]


def test_txd_layout_is_the_drivers() -> None:
    p = localparams(HDL_NIC / "nic_txd.vh")
    # hilnic.hw.regs packs a descriptor with _DESC: addr, len, cso, cmd, sta, css, special
    fmt = regs._DESC.format
    order = ["ADDR", "LEN", "CSO", "CMD", "STA", "CSS", "SPECIAL"]
    for i, name in enumerate(order):
        off = struct.calcsize("<" + fmt[1:1 + i])  # the fields before it
        size = struct.calcsize("<" + fmt[1 + i])
        assert (p[f"TXD_{name}_LSB"], p[f"TXD_{name}_W"]) == (8 * off, 8 * size), name
    assert p["TXD_W"] == 8 * regs.TX_DESC_SIZE == 8 * regs._DESC.size
    assert p["TXD_STA_LSB"] == 8 * regs.DESC_STA_BYTE
    for bit in ("EOP", "IFCS", "IC", "RS", "RPS", "DEXT", "VLE", "IDE"):
        assert 1 << p[f"TXD_CMD_{bit}"] == getattr(regs, f"E1000_TXD_CMD_{bit}"), bit
    assert 1 << p["TXD_STA_DD"] == regs.E1000_TXD_STAT_DD


def test_extended_descriptors_are_the_drivers() -> None:
    """nic_txd.vh's TCP/IP context and data descriptor fields against hilnic.hw.regs's codecs:
    each field, packed by the codec with all bits set, lands exactly at its LSB/width."""
    p = localparams(HDL_NIC / "nic_txd.vh")

    def bits(raw: bytes) -> int:
        return int.from_bytes(raw, "little")

    ctx = {"IPCSS": "ipcss", "IPCSO": "ipcso", "IPCSE": "ipcse", "TUCSS": "tucss", "TUCSO": "tucso",
           "TUCSE": "tucse", "PAYLEN": "paylen", "HDRLEN": "hdrlen", "MSS": "mss"}
    for name, attr in ctx.items():
        lsb, w = p[f"TXC_{name}_LSB"], p[f"TXC_{name}_W"]
        raw = bits(regs.TxContextDesc(**{attr: (1 << w) - 1}).pack())
        raw &= ~(0xFF << 88)  # the command byte (DEXT is always set)
        assert raw == ((1 << w) - 1) << lsb, name
    data = {"ADDR": ("addr", "TXD_ADDR"), "DTALEN": ("length", "TXD_DTALEN"), "POPTS": ("popts", "TXD_POPTS")}
    for name, (attr, pre) in data.items():
        lsb, w = p[f"{pre}_LSB"], p[f"{pre}_W"]
        raw = bits(regs.TxDataDesc(**{attr: (1 << w) - 1}).pack()) & ~(0xFF << 88) & ~(0xF << 84)
        assert raw == ((1 << w) - 1) << lsb, name
    assert (bits(regs.TxDataDesc().pack()) >> p["TXD_DTYP_LSB"]) & 0xF == p["TXD_DTYP_DATA"] == regs.E1000_TXD_DTYP_D
    assert (bits(regs.TxContextDesc().pack()) >> p["TXD_DTYP_LSB"]) & 0xF == p["TXD_DTYP_CTX"] == regs.E1000_TXD_DTYP_C
    for bit in ("TCP", "IP", "TSE"):
        assert 1 << p[f"TXC_CMD_{bit}"] == getattr(regs, f"E1000_TXD_CMD_{bit}"), bit
    assert 1 << p["TXD_CMD_TSE"] == regs.E1000_TXD_CMD_TSE
    assert 1 << p["TXD_POPTS_IXSM"] == regs.E1000_TXD_POPTS_IXSM and 1 << p["TXD_POPTS_TXSM"] == regs.E1000_TXD_POPTS_TXSM


BENCH = """
module t;
localparam FB_ADDR_WIDTH = %(fb)d;
`include "nic_records.vh"
reg [MK_W-1:0] m;
reg [FT_W-1:0] f;
initial begin
    m = mk_rec(%(tso)d, %(rs)d, %(ide)d, %(eop)d, %(drop)d, %(len)d, %(ifcs)d, %(ic)d, %(css)d, %(cso)d);
    $display("MK %%0d %%0d %%0d %%0d %%0d %%0d %%0d %%0d %%0d %%0d", m[MK_RS_BIT], m[MK_IDE_BIT], m[MK_EOP_BIT],
             m[MK_DROP_LSB +: MK_DROP_W], m[FR_LEN_LSB +: FR_LEN_W], m[FR_IFCS_BIT], m[FR_IC_BIT],
             m[FR_CSS_LSB +: FR_CSS_W], m[FR_CSO_LSB +: FR_CSO_W], m[MK_TSO_LSB +: MK_TSO_W]);
    f = ft_rec(%(start)d, %(len)d, %(ifcs)d, %(ic)d, %(cso)d, %(csum)d);
    $display("FT %%0d %%0d %%0d %%0d %%0d %%0d", f[FT_START_LSB +: FB_ADDR_WIDTH], f[FT_LEN_LSB +: FT_LEN_W],
             f[FT_IFCS_BIT], f[FT_IC_BIT], f[FT_CSO_LSB +: FT_CSO_W], f[FT_CSUM_LSB +: FT_CSUM_W]);
end
endmodule
"""


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_builders_put_each_field_at_its_offset(tmp_path: Path) -> None:
    rng = random.Random(11)
    for fb in (9, 12):
        v = {"fb": fb, "tso": rng.randrange(4), "rs": 1, "ide": 0, "eop": 1, "drop": 2, "len": rng.randrange(1 << 16),
             "ifcs": 1, "ic": 0,
             "css": rng.randrange(256), "cso": rng.randrange(256), "start": rng.randrange(1 << fb),
             "csum": rng.randrange(1 << 16)}
        (tmp_path / "t.v").write_text(BENCH % v)
        subprocess.run(["iverilog", "-g2005", "-I", str(HDL_NIC), "-o", str(tmp_path / "t.vvp"), str(tmp_path / "t.v")],
                       check=True, timeout=60)
        out = subprocess.run(["vvp", "-n", str(tmp_path / "t.vvp")], capture_output=True, text=True, timeout=60).stdout
        got = {ln.split()[0]: [int(x) for x in ln.split()[1:]] for ln in out.splitlines() if ln[:2] in ("MK", "FT")}
        assert got["MK"] == [v[k] for k in ("rs", "ide", "eop", "drop", "len", "ifcs", "ic", "css", "cso", "tso")]
        assert got["FT"] == [v[k] for k in ("start", "len", "ifcs", "ic", "cso", "csum")]
