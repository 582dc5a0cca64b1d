"""GTKWave save file for a run's waveform that opens on the first doorbell to the first interrupt.

`write_save_file(dump, layout)` reads the dump (FST or VCD, with pywellen), finds four moments
of the run in it and writes, next to the dump, `<dump stem>.gtkw` and `regs.filter`:

    A  doorbell         the clock edge that takes the first AXI-Lite write of a non-zero TDT
    B  first DMA beat   the first AXI read data beat after it (axi_rvalid && axi_rready)
    C  first wire byte  the first non-idle XGMII word after it (a start character)
    D  interrupt        the first rise of `irq` after it

The save file is `layout` (hdl/nic.gtkw: groups, formats) with the dump's own names (Verilator
puts the harness under TOP), without the signals the dump lacks (e.g. the Python memory's
counters in a USE_PY_MEM=0 build), the view from just before A to just after D, the markers
named, and the AXI-Lite address buses shown as register names through `regs.filter`, a
GTKWave translate filter generated from hilnic.hw.regs.Reg.

Times in the save file are in the dump's unit (ps for cocotb's 1 ns / 1 ps timescale). The
scan stops at the last marker, so it costs little even on a long run's dump. The markers come
from nic_top's ports as the harness wires them (the layout may show internals; what is found
here may not depend on them).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pywellen

from hilnic.hw.regs import Reg

TOP = "nic_harness"
MARKS = (
    ("doorbell", "doorbell (TDT write)"),
    ("dma", "first DMA beat"),
    ("wire", "first wire byte"),
    ("irq", "interrupt"),
)
# signals the markers are found on, below the harness scope: nic_top's port nets
MARK_SIGNALS = {"clk": "clk", "awvalid": "axil_awvalid", "awready": "axil_awready", "awaddr": "axil_awaddr",
                "wvalid": "axil_wvalid", "wready": "axil_wready", "wdata": "axil_wdata",
                "rvalid": "axi_rvalid", "rready": "axi_rready", "txc": "xgmii_txc", "irq": "irq"}
DOORBELL = ("clk", "awvalid", "awready", "awaddr", "wvalid", "wready", "wdata")  # A's signals
TRANSLATED = ("axil_awaddr", "axil_araddr")  # shown through regs.filter
FILTER_NAME = "regs.filter"
WAVE_PX = 900  # wave pane width assumed for the zoom: [size] 1600 less the signal and tree panes
MARGIN = 0.08  # of the marked span, on each side
MIN_SPAN = 200_000  # dump units: a view never narrower than this
# GTKWave trace flags (analyzer.h): hex, right-justify, translate-filter-file
TR_HEX, TR_RJUSTIFY, TR_FTRANSLATED = 0x2, 0x20, 0x2000


class WaveError(Exception):
    """The dump cannot be read or is not of nic_harness."""


@dataclass
class Dump:
    """What a save file needs from a dump: its harness scope, signal widths and unit."""

    path: Path
    scope: str  # full name of the harness scope: "nic_harness" or "TOP.nic_harness"
    widths: dict[str, int]  # full signal name -> bits
    unit: str  # e.g. "1ps"
    wave: Any = field(repr=False)  # the pywellen.Waveform

    def name(self, rel: str) -> str:
        """Full name of `rel` (a name below the harness)."""
        return f"{self.scope}.{rel}"


def read_dump(path: str | Path) -> Dump:
    """Open `path` (FST or VCD) and find the nic_harness scope."""
    path = Path(path)
    try:
        wave = pywellen.Waveform(str(path))
    except Exception as exc:  # pywellen raises plain exceptions for unreadable files
        raise WaveError(f"cannot read {path}: {exc}") from exc
    widths = {v.full_name: int(v.bitwidth or 1) for v in wave.all_vars()}
    scopes = sorted({n.rsplit(".", 1)[0] for n in widths if n.rsplit(".", 1)[0].split(".")[-1] == TOP}, key=len)
    if not scopes:
        raise WaveError(f"{path} has no {TOP} scope")
    ts = wave.timescale
    return Dump(path, scopes[0], widths, f"{ts.factor}{ts.unit}", wave)


class _Done(Exception):
    pass


def find_marks(dump: Dump) -> dict[str, int]:
    """The times (dump units) of MARKS found in the dump; a mark whose signals are missing or
    that never happens is left out."""
    sigs = {k: dump.name(v) for k, v in MARK_SIGNALS.items() if dump.name(v) in dump.widths}
    if not all(k in sigs for k in DOORBELL):
        return {}
    wave = dump.wave
    by_name = {v.full_name: v for v in wave.all_vars() if v.full_name in sigs.values()}
    key_of = {str(by_name[n].signal_id): k for k, n in sigs.items()}
    marks: dict[str, int] = {}

    # A: the clock's rising edges, with the values before each (the previous time step's):
    # only until the doorbell, so the clock is not streamed over the whole run
    cur: dict[str, object] = {}
    before: dict[str, object] = {}
    step = [-1]

    def doorbell(v: dict[str, object]) -> bool:
        """A write of a non-zero TDT handshaken (AW and W) with these values at a clock edge."""
        hs = all(v.get(k) == 1 for k in ("awvalid", "awready", "wvalid", "wready"))
        wdata = v.get("wdata")
        return hs and v.get("awaddr") == Reg.TDT and isinstance(wdata, int) and wdata & 0xFFFF != 0

    def on_edge(t: int, sid: object, value: object) -> None:
        if t != step[0]:
            step[0] = t
            before.clear()
            before.update(cur)
        key = key_of[str(sid)]
        if key == "clk" and value == 1 and before.get("clk") == 0 and doorbell(before):
            marks["doorbell"] = t
            raise _Done
        cur[key] = value

    try:
        wave.stream_changes(on_edge, [by_name[sigs[k]] for k in DOORBELL])
    except _Done:
        pass
    if "doorbell" not in marks:
        return marks
    t_a = marks["doorbell"]

    # B-D: conditions on the values at the end of each time step from A on
    idle_txc = (1 << dump.widths.get(sigs.get("txc", ""), 8)) - 1  # every lane a control character
    wanted = {m for m, need in (("dma", "rvalid"), ("wire", "txc"), ("irq", "irq")) if need in sigs}
    if "rready" not in sigs:
        wanted.discard("dma")
    rest = [by_name[sigs[k]] for k in ("rvalid", "rready", "txc", "irq") if k in sigs]
    cur.clear()
    step[0] = -1

    def settle(t: int) -> None:
        """Check the conditions on the values at the end of time step `t`."""
        if t < t_a:
            return
        if "dma" in wanted and "dma" not in marks and cur.get("rvalid") == 1 and cur.get("rready") == 1:
            marks["dma"] = t
        txc = cur.get("txc")
        if "wire" in wanted and "wire" not in marks and isinstance(txc, int) and txc != idle_txc:
            marks["wire"] = t
        if "irq" in wanted and "irq" not in marks and cur.get("irq") == 1:
            marks["irq"] = t
        if wanted <= marks.keys():
            raise _Done

    def on_change(t: int, sid: object, value: object) -> None:
        if t != step[0]:
            if step[0] >= 0:
                settle(step[0])
            if step[0] < t_a < t:
                settle(t_a)  # nothing of these changed at A: their values then
            step[0] = t
        cur[key_of[str(sid)]] = value

    if rest and wanted:
        try:
            wave.stream_changes(on_change, rest)
            if step[0] >= 0:
                settle(step[0])
            if step[0] < t_a:
                settle(t_a)
        except _Done:
            pass
    return marks


def regs_filter(width: int) -> str:
    """A GTKWave translate filter: each register offset as GTKWave prints a `width`-bit bus in
    hex (every digit, upper case; it compares without case) -> the register's name."""
    digits = (width + 3) // 4
    lines = ["# AXI-Lite address -> register name (hilnic.hw.regs.Reg), for axil_awaddr / axil_araddr"]
    lines += [f"{r.value:0{digits}X} {r.name}" for r in sorted(Reg, key=lambda r: r.value)]
    return "\n".join(lines) + "\n"


def view(marks: dict[str, int]) -> tuple[int, float]:
    """(timestart, zoom) that put every mark on screen with a margin. GTKWave's zoom z shows
    2**-z / 200 time units per pixel (its "zoom best fit" inverts the same formula)."""
    first, last = min(marks.values()), max(marks.values())
    span = max(last - first, MIN_SPAN)
    pad = int(span * MARGIN)
    start = max(0, first - pad)
    per_px = (last + pad - start) / WAVE_PX
    return start, -math.log2(per_px * 200)


_TRACE = re.compile(r"^(?P<name>[A-Za-z_\\][^\[\s]*)(?P<range>\[\d+:\d+\])?$")


def _traces(layout: str, dump: Dump, filter_path: Path) -> tuple[list[str], list[str]]:
    """The layout's body with dump names and explicit flags; and the names it dropped."""
    out: list[str] = []
    dropped: list[str] = []
    flags = 0
    emitted: int | None = None
    body = False
    for line in layout.splitlines():
        if line.startswith("@"):
            flags = int(line[1:], 16)
            body = True
            continue
        if not body or not line or line.startswith(("[", "*", "^")):
            continue  # the header is rewritten; filters are ours
        if line.startswith("-"):  # a group's label (a blank trace)
            if emitted != flags:
                out.append(f"@{flags:x}")
                emitted = flags
            out.append(line)
            continue
        m = _TRACE.match(line.strip())
        if m is None:
            continue
        rel = m["name"].split(".", 1)[1] if m["name"].startswith(TOP + ".") else m["name"]
        full = dump.name(rel)
        if full not in dump.widths:
            dropped.append(rel)
            continue
        w = dump.widths[full]
        want = flags
        if rel in TRANSLATED:
            want = (flags & ~0xFF) | TR_HEX | TR_RJUSTIFY | TR_FTRANSLATED
            out.append(f"^1 {filter_path}")
        if emitted != want:
            out.append(f"@{want:x}")
            emitted = want
        out.append(full + (f"[{w - 1}:0]" if w > 1 else ""))
    return out, dropped


@dataclass
class SaveFile:
    path: Path
    filter_path: Path
    marks: dict[str, int]  # dump units
    unit: str
    dropped: list[str]  # layout signals not in the dump


def save_file_text(dump: Dump, layout: str, marks: dict[str, int], filter_path: Path, save_path: Path) -> tuple[str, list[str]]:
    """The .gtkw text (and the layout signals left out)."""
    order = [m for m, _ in MARKS if m in marks]
    named = [-1] * 26
    for i, m in enumerate(order):
        named[i] = marks[m]
    start, zoom = view(marks) if marks else (0, -22.0)
    head = [
        "[*] written by hilnic run from the layout hdl/nic.gtkw and this dump (hilnic.trace.waves)",
        "[*] markers: " + (", ".join(f"{chr(65 + i)} = {dict(MARKS)[m]} at {marks[m]}" for i, m in enumerate(order))
                          or "none (no doorbell in this dump)"),
        f'[dumpfile] "{dump.path.resolve()}"',
        f'[savefile] "{save_path.resolve()}"',
        f"[timestart] {start}",
        "[size] 1600 1000",
        "[pos] -1 -1",
        f"*{zoom:.6f} {marks.get('doorbell', -1)} " + " ".join(str(t) for t in named),
    ]
    head += [f"[markername] {chr(65 + i)}{dict(MARKS)[m]}" for i, m in enumerate(order)]
    head += [f"[treeopen] {dump.scope}.", "[sst_width] 250", "[signals_width] 300", "[sst_expanded] 1",
             "[sst_vpaned_height] 300"]
    body, dropped = _traces(layout, dump, filter_path)
    return "\n".join(head + body + ["[pattern_trace] 1", "[pattern_trace] 0"]) + "\n", dropped


def write_save_file(dump_path: str | Path, layout: str | Path, out_dir: str | Path | None = None) -> SaveFile:
    """Write <out_dir>/<dump stem>.gtkw and <out_dir>/regs.filter for the dump (see the module
    docstring); `out_dir` defaults to the dump's folder. Raises WaveError if it cannot."""
    dump = read_dump(dump_path)
    out = Path(out_dir) if out_dir is not None else dump.path.parent
    filter_path = (out / FILTER_NAME).resolve()
    widths = [dump.widths.get(dump.name(s), 0) for s in TRANSLATED]
    filter_path.write_text(regs_filter(max(widths) or 16))
    marks = find_marks(dump)
    save_path = out / (dump.path.stem + ".gtkw")
    text, dropped = save_file_text(dump, Path(layout).read_text(), marks, filter_path, save_path)
    save_path.write_text(text)
    return SaveFile(save_path, filter_path, marks, dump.unit, dropped)


def gtkw_signals(text: str) -> list[str]:
    """The signal names a .gtkw references (without bit ranges), for checks."""
    names = []
    for line in text.splitlines():
        if not line or line[0] in "[*@-^#":
            continue
        m = _TRACE.match(line.strip())
        if m is not None:
            names.append(m["name"])
    return names


def gtkw_markers(text: str) -> dict[str, int]:
    """Named markers of a .gtkw: {name: time} for those set, in letter order."""
    times: list[int] = []
    names: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("*"):
            times = [int(x) for x in line[1:].split()[2:]]
        elif line.startswith("[markername] "):
            rest = line[len("[markername] "):]
            names[rest[0]] = rest[1:]
    return {names.get(chr(65 + i), chr(65 + i)): t for i, t in enumerate(times) if t >= 0}


__all__ = ["MARKS", "Dump", "SaveFile", "WaveError", "find_marks", "gtkw_markers", "gtkw_signals", "read_dump",
           "regs_filter", "save_file_text", "view", "write_save_file"]
