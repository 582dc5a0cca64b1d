"""The harness talks to nic_top through its ports only.

No hierarchical path into the NIC: not in the Verilog benches (hdl/tb: a path through a
nic_top instance, or through an instance inside hdl/nic such as `nic_irq_inst`), not in any
module of the Python package (py/hilnic: `dut.dut...` on the harness handle, a string path
like "dut.tdt" handed to cocotb or a waveform reader), and the Verilator build makes no
hdl/nic module's signals public. The harness's own transactors (u_axil, u_mem, u_xgmii,
u_check) are the harness and may be reached; tests may look inside the NIC as an independent
observer; a waveform layout (hdl/nic.gtkw) may show internals.

Each rule is also run on a snippet that breaks it, so a rule that stopped matching would fail.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HDL_NIC = ROOT / "hdl" / "nic"
HDL_TB = ROOT / "hdl" / "tb"
PY_PKG = ROOT / "py" / "hilnic"

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
# `module_name [#(...)] instance_name (` : parameter lists hold at most one level of parentheses
_INSTANCE = re.compile(r"\b(\w+)\s*(?:#\s*\((?:[^()]|\([^()]*\))*\)\s*)?(\w+)\s*\(")


def _code(text: str) -> str:
    """Verilog without comments and string literals (a $display text is not a path)."""
    return _STRING.sub('""', _COMMENT.sub(" ", text))


def nic_modules() -> set[str]:
    return {p.stem for p in HDL_NIC.glob("*.v")}


def instances_of(modules: set[str], texts: list[str]) -> set[str]:
    """Names of the instances of `modules` in these Verilog texts."""
    names = set()
    for text in texts:
        for m in _INSTANCE.finditer(_code(text)):
            if m.group(1) in modules:
                names.add(m.group(2))
    return names


def nic_instances() -> set[str]:
    """Instances inside the NIC (nic_irq_inst, frame_fifo_inst, crc_inst, ...)."""
    return instances_of(nic_modules(), [p.read_text() for p in HDL_NIC.glob("*.v")])


def top_instances() -> set[str]:
    """Instances of nic_top in the benches ("dut")."""
    return instances_of({"nic_top"}, [p.read_text() for p in HDL_TB.glob("*.v")])


def verilog_violations(text: str, into: set[str]) -> list[str]:
    """Hierarchical names in `text` that pass through one of the instances `into`."""
    pat = re.compile(r"(?<![\w$])((?:\w+\.)*(?:" + "|".join(sorted(map(re.escape, into))) + r")\.\w+)")
    out = []
    for lineno, line in enumerate(_code(text).splitlines(), 1):
        out += [f"{lineno}: {m.group(1)}" for m in pat.finditer(line)]
    return out


def python_violations(source: str, tops: set[str], inner: set[str]) -> list[str]:
    """Paths into nic_top in Python source: an attribute chain `<harness>.<top instance>` (the
    harness handle is `dut`, `self.dut`, ... so `dut.dut`), any attribute named after an
    instance inside the NIC, and string constants that are such paths ("dut.tdt", "dut")."""
    out = []
    path_str = re.compile(r"(?:^|\.)(?:" + "|".join(sorted(map(re.escape, tops | inner))) + r")(?:\.|$)")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            base = node.value
            base_name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
            if (node.attr in tops and base_name == "dut") or node.attr in inner:
                out.append(f"{node.lineno}: .{node.attr} on {ast.unparse(base)}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and path_str.search(node.value):
            if re.fullmatch(r"[\w.\[\]:]+", node.value):  # a signal path, not prose
                out.append(f"{node.lineno}: {node.value!r}")
    return sorted(out, key=lambda v: int(v.split(":", 1)[0]))


def test_the_benches_reach_nic_top_only_through_ports() -> None:
    tops, inner = top_instances(), nic_instances()
    assert tops == {"dut"} and {"nic_irq_inst", "nic_csr_inst", "frame_fifo_inst"} <= inner, (tops, inner)
    bad = {}
    for p in sorted(HDL_TB.glob("*.v")):
        found = verilog_violations(p.read_text(), tops | inner)
        if found:
            bad[p.name] = found
    assert not bad, f"hierarchical paths into nic_top: {bad}"


def test_the_python_package_reaches_nic_top_only_through_ports() -> None:
    tops, inner = top_instances(), nic_instances()
    bad = {}
    for p in sorted(PY_PKG.rglob("*.py")):
        found = python_violations(p.read_text(), tops, inner)
        if found:
            bad[str(p.relative_to(ROOT))] = found
    assert not bad, f"paths into nic_top: {bad}"


def test_verilator_makes_no_nic_signal_public() -> None:
    from hilnic.cosim.sim import HARNESS_PUBLIC

    exposed = [entry for entry in HARNESS_PUBLIC if entry[1] in nic_modules() or entry[1] == "*"]
    assert not exposed, exposed


def test_the_rules_catch_what_they_forbid() -> None:
    """The old harness's clock gate and paths a Python module might use are caught; the harness's
    own transactors, $display texts and comments are not."""
    tops, inner = {"dut"}, {"nic_irq_inst", "frame_fifo_inst"}
    v = """wire q = !dut.nic_irq_inst.act && dut.rd_idle; // dut.x in a comment
always @(posedge clk) if (h.dut.nic_dma_rd_inst.frame_fifo_inst.act) $display("dut.y %d", u_axil.busy);
assign a = u_xgmii.in_frame; assign b = dut_quiet; assign c = nic_irq_inst.wake_in;
"""
    assert verilog_violations(v, tops | inner) == [
        "1: dut.nic_irq_inst.act", "1: dut.rd_idle", "2: h.dut.nic_dma_rd_inst.frame_fifo_inst.act",
        "3: nic_irq_inst.wake_in"]
    py = """x = dut.dut.tdt.value
y = int(self.dut.dut.irq_wake_in.value)
h = getattr(dut, "dut")
marks = {"tdt": "dut.tdt", "mem": "g_py_mem.u_mem"}
z = tb.frame_fifo_inst
ok = dut.u_axil.cmd_seq.value + int(dut.cycle.value)
doc = "the harness (dut.u_axil) drives the bus"
"""
    assert python_violations(py, tops, inner) == [
        "1: .dut on dut", "2: .dut on self.dut", "3: 'dut'", "4: 'dut.tdt'", "5: .frame_fifo_inst on tb"]
