"""Hardware benchmarks of the RTL NIC (`make bench` = `python -m hilnic.bench.all`).

- `line_rate`: simulated transmit rate per frame size against 10GbE line rate (docs/nic.md §6);
- `wall_speed`: full-size frames per wall second through the transaction-level bridge
  versus cocotbext-axi's per-beat AxiRam as host memory;
- `rtl_speed`: nic_top's simulated cycles per wall second in a pure-Verilog replay bench
  (hdl/tb/nic_replay_tb.v, no Python in the loop) and what the bridge adds on top.

Each module runs alone (`python -m hilnic.bench.<name> --help`). These are measurements,
not timed tests: they print figures, PASS or FAIL where a target is set, in tables of at
most 100 columns; a FAIL exits 1 (`--report-only`: 0, to explore).
"""
