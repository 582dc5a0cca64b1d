"""`hilnic run --waves` on Icarus: the GTKWave save file written next to the FST.

Checked against the dump itself: every signal the .gtkw names is in the FST with that width,
the markers A-D (doorbell, first DMA beat, first wire byte, interrupt) are in time order
inside the dump and sit where their signals say, the view holds all four, and the AXI-Lite
address buses go through a filter that names the registers of hilnic.hw.regs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import pywellen

from hilnic.cli.main import main
from hilnic.hw.regs import CLK_PERIOD_PS, Reg
from hilnic.trace.waves import MARKS, gtkw_markers, gtkw_signals
from hilnic.wire.pcap import read_pcap

WAVE_PX = 900  # the narrowest wave pane the view must fit (hilnic.trace.waves.WAVE_PX)


@pytest.fixture(scope="module")
def waves(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("waves") / "run"
    try:
        rc = main(["run", "--sim", "icarus", "--bytes", "8K", "--waves", "--no-trace", "--sim-limit-ms", "2000",
                   "--wall-limit-s", "600", "--out", str(out)])
    except SystemExit as exc:
        rc = int(exc.code or 0)
    assert rc == 0, f"hilnic run --waves failed: see {out}"
    return out, json.loads((out / "summary.json").read_text())


def _vars(dump: Path) -> dict[str, object]:
    return {v.full_name: v for v in pywellen.Waveform(str(dump)).all_vars()}


def _last_change(dump: Path, name: str) -> int:
    w = pywellen.Waveform(str(dump))
    var = next(v for v in w.all_vars() if v.full_name == name)
    last = [0]
    w.stream_changes(lambda t, _sid, _v: last.__setitem__(0, t), [var])
    return last[0]


def test_save_file_next_to_the_waveform(waves):
    out, s = waves
    assert s["fst"] == str(out / "waves.fst") and s["gtkw"] == str(out / "waves.gtkw") and s["waves_note"] == ""
    text = (out / "waves.gtkw").read_text()
    assert f'[dumpfile] "{out / "waves.fst"}"' in text


def test_every_signal_of_the_save_file_is_in_the_dump(waves):
    out, _ = waves
    text = (out / "waves.gtkw").read_text()
    names = gtkw_signals(text)
    assert len(names) > 50
    widths = {n: int(v.bitwidth or 1) for n, v in _vars(out / "waves.fst").items()}
    missing = [n for n in names if n not in widths]
    assert not missing, missing
    for line in text.splitlines():  # a bit range, where given, is the signal's own
        m = re.fullmatch(r"([A-Za-z_][\w.]*)\[(\d+):0\]", line)
        if m:
            assert widths[m[1]] == int(m[2]) + 1, line
    if shutil.which("fst2vcd"):  # a second reader, where GTKWave's tools are installed
        head = subprocess.run(["fst2vcd", "-f", str(out / "waves.fst")], capture_output=True, text=True,
                              timeout=120).stdout.split("$enddefinitions")[0]
        scopes: list[str] = []
        seen = set()
        for tok in re.finditer(r"\$scope \w+ (\S+) \$end|\$upscope|\$var \w+ \d+ \S+ (\S+)", head):
            if tok[1]:
                scopes.append(tok[1])
            elif tok[0] == "$upscope":
                scopes.pop()
            else:
                seen.add(".".join([*scopes, tok[2]]))
        assert not [n for n in names if n not in seen]


def test_markers_in_order_where_their_signals_say(waves):
    out, _ = waves
    text = (out / "waves.gtkw").read_text()
    marks = gtkw_markers(text)
    assert list(marks) == [label for _, label in MARKS]  # A..D: doorbell, DMA, wire, interrupt
    t = list(marks.values())
    end = _last_change(out / "waves.fst", "nic_harness.cycle")
    assert 0 < t[0] < t[1] < t[2] < t[3] <= end
    v = _vars(out / "waves.fst")

    def at(name: str, time: int) -> object:
        return v[f"nic_harness.{name}"].signal.value_at(time)

    doorbell, dma, wire, irq = t
    assert at("dut.tdt", doorbell) != 0 and at("dut.tdt", doorbell - 1) == 0
    assert at("axil_awaddr", doorbell) == Reg.TDT
    assert at("axi_rvalid", dma) == 1 and at("axi_rready", dma) == 1
    assert at("xgmii_txc", wire) != 0xFF and at("xgmii_txc", wire - 1) == 0xFF
    assert at("irq", irq) == 1 and at("irq", irq - 1) == 0
    # the first frame in the pcap is that start character, sampled by the monitor one clock later
    host = [r for r in read_pcap(str(out / "wire.pcap")) if r.frame[6:12] == bytes.fromhex("020000000001")]
    assert 0 <= host[0].ts_ps - wire <= CLK_PERIOD_PS
    # the primary marker on the doorbell; the view from before A to after D
    star = next(ln for ln in text.splitlines() if ln.startswith("*")).split()
    zoom, primary = float(star[0][1:]), int(star[1])
    start = int(re.search(r"^\[timestart\] (\d+)$", text, re.M)[1])
    assert primary == doorbell
    assert start <= doorbell and irq <= start + WAVE_PX * 2 ** -zoom / 200  # GTKWave: 2**-zoom/200 per pixel
    assert start >= doorbell - (irq - doorbell)  # and not much wider than A..D


def test_axi_lite_addresses_show_as_register_names(waves):
    out, _ = waves
    filt = (out / "regs.filter").read_text().splitlines()
    table = dict(ln.split(None, 1) for ln in filt if ln and not ln.startswith("#"))
    assert table == {f"{r.value:04X}": r.name for r in Reg}  # 16-bit address: four hex digits
    text = (out / "waves.gtkw").read_text().splitlines()
    for bus in ("axil_awaddr", "axil_araddr"):
        i = text.index(f"nic_harness.{bus}[15:0]")
        flags = int(text[i - 1][1:], 16)
        assert text[i - 1].startswith("@") and flags & 0x2000 and flags & 0x2  # translated, hex
        assert text[i - 2] == f"^1 {out / 'regs.filter'}"
