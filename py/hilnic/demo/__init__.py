"""The hardware demo (`hilnic demo`, `make demo`): a mix of frames sent through the Verilog NIC
with raw descriptors through the cocotb bridge, checked on the wire, written to a pcap.

- `frames`: the frame list (scapy-built, with checksum offload, padding, scatter-gather);
- `hw_demo`: the cocotb test module that runs inside the simulator;
- `run`: builds and runs it, and prints the summary the test leaves in its run directory.
"""
