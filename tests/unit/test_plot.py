"""`hilnic plot RUN_DIR`: the files, and that what is drawn is the run's own.

The drawn series are read back from the figure's artists and compared with summary.json
(counted by other code: /proc/interrupts' count, /proc/softirqs, the socket at the counters
snapshot) and with rules the run must obey whatever the plot does: ITR's minimum interval
between interrupts, TCP never has more than cwnd segments in flight, the ring never holds
more than its size, everything is reclaimed at the end.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from hilnic.cli.main import main
from hilnic.plot.run import plot_run
from hilnic.run.records import load_records

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ITR = 20_000
RING = 64


def _main(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture(scope="module")
def tcp_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("plot") / "run"
    assert _main("run", "--sim", "model", "--bytes", "256K", "--itr", str(ITR), "--ring", str(RING), "--out", str(d)) == 0
    return d, json.loads((d / "summary.json").read_text())


def _line(fig, label):
    for ax in fig.axes:
        for ln in ax.get_lines():
            if ln.get_label() == label:
                return np.asarray(ln.get_xdata()), np.asarray(ln.get_ydata())
    raise AssertionError(f"no line {label!r}")


def _events(fig, label_start):
    for a in fig.axes:
        for c in a.collections:
            if c.get_label().startswith(label_start):
                return np.sort(np.asarray(c.get_positions()))
    raise AssertionError(f"no event row {label_start!r}")


def test_plot_command_writes_png_and_svg(tcp_run, capsys):
    d, _ = tcp_run
    assert _main("plot", str(d)) == 0
    printed = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[-1] for p in printed] == ["plot.png", "plot.svg"]
    png = (d / "plot.png").read_bytes()
    assert png[:8] == PNG_MAGIC and len(png) > 20_000
    root = ET.parse(d / "plot.svg").getroot()
    assert root.tag.endswith("svg")
    assert "Date" not in (d / "plot.svg").read_text()  # reproducible


def test_plotted_series_are_the_runs(tcp_run):
    d, s = tcp_run
    fig = plot_run(d, formats=()).figure  # the figure only: the files are the test above
    # cwnd ends where the summary's socket snapshot says; in flight ends at 0 (all acked)
    _, cwnd = _line(fig, "cwnd")
    assert cwnd[-1] == s["tcp"]["snd_cwnd"] and cwnd[0] == 10  # TCP_INIT_CWND
    _, flight_kib = _line(fig, "bytes in flight")
    assert flight_kib[-1] == 0 and flight_kib.max() > 0
    # every interrupt handler and softirq run the kernel counted, and no other
    irq = _events(fig, "IRQ")
    assert len(irq) == s["interrupts"] > 2
    assert len(_events(fig, "NET_TX")) == s["softirqs"]["NET_TX"]
    assert len(_events(fig, "NET_RX")) == s["softirqs"]["NET_RX"]
    # ITR 20000: the NIC holds interrupts at least an ITR interval apart, which e1000 writes
    # in 256 ns units: 1000000000 / (20000 * 256) = 195 units = 49.92 us (e1000_configure_rx)
    interval_ms = (1_000_000_000 // (ITR * 256)) * 256 / 1e6
    assert np.diff(irq).min() >= interval_ms - 1e-9
    # ring: never more than its size in use, all reclaimed at the end; BQL inflight back to 0
    _, used = _line(fig, "descriptors in use")
    assert used.max() <= RING and used.max() > 1 and used[-1] == 0
    _, bql_inflight = _line(fig, "inflight")
    assert bql_inflight[-1] == 0 and bql_inflight.max() > 0
    # the records behind it: TCP never has more than cwnd full segments in flight
    rec = load_records(d / "records.npz")
    assert np.all(rec["tcp_in_flight"] <= rec["tcp_cwnd"] * rec["tcp_mss"])
    assert rec["tcp_mss"][-1] == s["tcp"]["mss_cache"]


def test_udp_run_plots_without_tcp(tmp_path):
    d = tmp_path / "udp"
    assert _main("run", "--sim", "model", "--proto", "udp", "--bytes", "16K", "--out", str(d)) == 0
    r = plot_run(d)
    assert [p.name for p in r.paths] == ["plot.png", "plot.svg"]
    assert "cwnd" not in r.series and len(r.series["irq"][0]) == json.loads((d / "summary.json").read_text())["interrupts"]


def test_plot_bad_dir_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "summary.json").write_text("{}")
    for d, message in ((tmp_path / "none", "not a directory"), (tmp_path / "empty", "no summary.json"),
                       (tmp_path / "old", "records.npz: no such file")):
        assert _main("plot", str(d)) == 2
        err = capsys.readouterr().err
        assert err.startswith("hilnic plot: error: ") and err.count("\n") == 1 and message in err, err
