"""hilnic.trace.waves on a small hand-written VCD: scope found under TOP (as Verilator names it),
markers from the signals, layout signals the dump lacks dropped, widths from the dump."""

from __future__ import annotations

import math

import pytest

from hilnic.cosim import sim
from hilnic.hw.regs import Reg
from hilnic.run.runner import format_summary
from hilnic.trace.waves import (
    MARKS,
    WaveError,
    gtkw_markers,
    gtkw_signals,
    regs_filter,
    view,
    write_save_file,
)

VCD = """$timescale 1ps $end
$scope module TOP $end
$scope module nic_harness $end
$var wire 1 ! irq $end
$var wire 1 " axi_rvalid $end
$var wire 1 # axi_rready $end
$var wire 8 $ xgmii_txc $end
$var wire 16 % axil_awaddr $end
$var wire 5 & q_count $end
$var wire 1 ( clk $end
$var wire 1 ) axil_awvalid $end
$var wire 1 * axil_awready $end
$var wire 1 + axil_wvalid $end
$var wire 1 , axil_wready $end
$var wire 32 - axil_wdata $end
$scope module dut $end
$var wire 16 ' tdt $end
$upscope $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
0!
0"
1#
b11111111 $
b0 %
b0 &
b0 '
0(
0)
0*
0+
0,
b0 -
#100
b11100000000000 %
1)
1*
1+
1,
b101 -
#500
1(
#1000
0(
#1100
b11100000011000 %
b0 -
#1500
1(
#2000
0(
#2100
b1 -
#2500
1(
b1 '
#2600
0)
0*
0+
0,
#3000
0(
1"
0#
#3500
1(
1#
#4000
0(
#4500
1(
#5000
0(
#5500
1(
#6000
0(
#6500
1(
#7000
0(
#7500
1(
#8000
0(
#8500
1(
#9000
0(
b1 $
#9400
b11111111 $
#9500
1(
#10000
0(
#10500
1(
#11000
0(
#11500
1(
#12000
0(
1!
#12500
1(
#13000
0(
#13500
1(
#14000
0(
#14500
1(
#15000
0(
#15500
1(
#16000
0(
#20000
0!
"""

LAYOUT = """[*] a layout
[dumpfile] "waves.fst"
*-22.000000 0 -1
@800200
-Group
@28
nic_harness.irq
@22
nic_harness.axil_awaddr[15:0]
nic_harness.dut.tdt[15:0]
@24
nic_harness.g_py_mem.u_mem.q_count[3:0]
nic_harness.not_in_this_build[7:0]
@28
nic_harness.axi_rvalid
@1000200
-Group
"""


@pytest.fixture()
def dump(tmp_path):
    (tmp_path / "layout.gtkw").write_text(LAYOUT)
    path = tmp_path / "dump.vcd"
    path.write_text(VCD)
    return path


def test_save_file_from_a_verilator_style_dump(dump, tmp_path):
    sf = write_save_file(dump, tmp_path / "layout.gtkw")
    assert sf.path == tmp_path / "dump.gtkw" and sf.filter_path == (tmp_path / "regs.filter").resolve()
    # doorbell: the edge that takes the TDT write of 1 (not the TDBAL write before it, nor TDT = 0),
    # where tdt leaves 0; DMA: rvalid and rready both high (not at 3000, where rready fell);
    # wire: txc leaves all-control; interrupt: irq rises
    assert sf.marks == {"doorbell": 2500, "dma": 3500, "wire": 9000, "irq": 12000}
    assert sf.dropped == ["g_py_mem.u_mem.q_count", "not_in_this_build"]
    text = sf.path.read_text()
    assert gtkw_signals(text) == ["TOP.nic_harness.irq", "TOP.nic_harness.axil_awaddr", "TOP.nic_harness.dut.tdt",
                                  "TOP.nic_harness.axi_rvalid"]
    assert gtkw_markers(text) == {label: sf.marks[m] for m, label in MARKS}
    lines = text.splitlines()
    i = lines.index("TOP.nic_harness.axil_awaddr[15:0]")
    assert lines[i - 2:i] == [f"^1 {sf.filter_path}", "@2022"]
    assert lines[i + 1:i + 3] == ["@22", "TOP.nic_harness.dut.tdt[15:0]"]  # the next trace is not translated
    assert "[treeopen] TOP.nic_harness." in lines and f'[dumpfile] "{dump}"' in lines
    assert lines.count("-Group") == 2


def test_view_puts_every_mark_on_screen():
    start, zoom = view({"a": 1_000_000, "b": 2_500_000})
    per_px = 2 ** -zoom / 200
    assert start < 1_000_000 and start + 900 * per_px >= 2_500_000
    assert math.isclose(start + 900 * per_px - 2_500_000, 1_000_000 - start, rel_tol=0.01)  # same margin both sides
    start, _ = view({"a": 50_000})  # one mark: a minimum span around it
    assert 0 <= start < 50_000


def test_regs_filter_names_every_register():
    text = regs_filter(16)
    assert "3818 TDT" in text.splitlines() and "00C0 ICR" in text.splitlines()
    assert len([ln for ln in text.splitlines() if not ln.startswith("#")]) == len(Reg)
    assert "03818 TDT" in regs_filter(20)


def test_no_harness_or_unreadable_dump_is_a_wave_error(tmp_path):
    bad = tmp_path / "x.vcd"
    bad.write_text("$timescale 1ps $end\n$scope module other $end\n$var wire 1 ! a $end\n$upscope $end\n"
                   "$enddefinitions $end\n#0\n0!\n")
    with pytest.raises(WaveError, match="no nic_harness scope"):
        write_save_file(bad, tmp_path / "none.gtkw")
    (tmp_path / "junk.fst").write_bytes(b"not a waveform")
    with pytest.raises(WaveError, match="cannot read"):
        write_save_file(tmp_path / "junk.fst", tmp_path / "none.gtkw")


def test_verilator_says_in_one_line_why_it_writes_vcd(monkeypatch):
    monkeypatch.setattr(sim, "_have_cxx_header", lambda name: name != "lz4.h")
    reason = sim.verilator_vcd_reason()
    assert "\n" not in reason and "VCD" in reason and "liblz4-dev" in reason
    monkeypatch.setattr(sim, "_have_cxx_header", lambda name: True)
    assert sim.verilator_vcd_reason() == ""
    s = {"frames": 1, "wire_bytes": 64, "data_frames": 1, "data_payload_bytes": 10, "payload_bytes": 10, "nbytes": 10,
         "sim_time_ps": 1, "transfer_ps": 1, "throughput_gbps": 1.0, "line_rate_pct": 1.0, "slowdown": 1.0,
         "wall_s": 1.0, "ok": True, "sim": "verilator", "proto": "tcp", "fst": "/x/waves.vcd", "gtkw": "/x/waves.gtkw",
         "waves_note": reason}
    table = format_summary(s)
    assert f"/x/waves.vcd ({reason})" in table and "gtkwave /x/waves.gtkw" in table
