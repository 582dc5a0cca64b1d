"""hilnic: a Verilog NIC driven by a Python model of the Linux transmit path."""

__version__ = "0.1.0"
