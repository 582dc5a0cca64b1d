"""Raw Ethernet frames through the Verilog NIC, no Linux stack: a cocotb test module.

    python examples/raw_frames.py            # build nic_harness (Icarus; SIM=verilator) and run the tests

`dut` is the harness around nic_top (clock, host memory on AXI, the XGMII capture). `raw_tx`
resets the NIC and programs one transmit ring; `send` copies a frame into host memory behind a
descriptor, rings the doorbell and returns the frame as it left the MAC (with its FCS).
Every test is bounded in simulated time (`rtl_test(timeout_us=...)`).
"""

from __future__ import annotations

import socket
import struct
import sys
import zlib
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from hilnic.cosim.api import rtl_test
from hilnic.cosim.sim import run_rtl_test
from hilnic.lib.checksum import csum_tcpudp_nofold
from hilnic.testbed.rtl import raw_tx

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


@rtl_test(timeout_us=200)
async def one_frame(dut):
    """A short frame: the NIC pads it to 60 bytes (TCTL.PSP) and appends the FCS."""
    tx = await raw_tx(dut)
    frame = bytes(ETH / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=7, dport=7) / b"hello")
    out = await tx.send(frame)
    assert out.fcs_ok and out.data[-4:] == zlib.crc32(out.data[:-4]).to_bytes(4, "little")
    assert out.data[:-4] == frame.ljust(60, b"\0")
    tx.check()  # no AXI protocol violation, framing error or stray DMA


@rtl_test(timeout_us=500)
async def checksum_offload_in_three_buffers(dut):
    """Scatter-gather and checksum insertion, as Linux hands over a CHECKSUM_PARTIAL skb: the
    UDP checksum field holds the pseudo-header sum, the NIC sums from CSS and stores at CSO."""
    tx = await raw_tx(dut)
    pkt = ETH / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5001, dport=5001) / bytes(range(200))
    want = bytes(pkt)  # scapy fills in every checksum
    css, cso = 14 + 20, 14 + 20 + 6
    partial = bytearray(want)
    pseudo = csum_tcpudp_nofold(*(int.from_bytes(socket.inet_aton(a), "big") for a in ("10.0.0.1", "10.0.0.2")),
                                len(want) - css, 17)
    partial[cso:cso + 2] = struct.pack("!H", pseudo)
    out = await tx.send([partial[:14], partial[14:100], partial[100:]], css=css, cso=cso)
    assert out.data[:-4] == want
    tx.check()


@rtl_test(timeout_us=1000)
async def back_to_back(dut):
    """64 full-size frames with one doorbell: the wire rate against 10GbE (frame + FCS +
    8 bytes preamble + 12 bytes inter-frame gap per frame)."""
    tx = await raw_tx(dut)
    frames = [bytes(ETH / IP(src="10.0.0.1", dst="10.0.0.2", id=i) / UDP() / bytes(1472)) for i in range(64)]
    outs = await tx.send_many(frames)
    assert [o.data[:-4] for o in outs] == frames
    span_ps = outs[-1].t_start - outs[8].t_start  # past the first few: the pipeline is full
    rate = (len(outs) - 9) * (1514 + 4 + 20) * 8 / (span_ps * 1e-12) / 1e10
    dut._log.info("back to back: %.1f%% of 10GbE line rate", 100 * rate)
    assert rate > 0.95
    tx.check()


if __name__ == "__main__":
    # builds once into the build folder (sim_build/ in a checkout, else ~/.cache/hilnic), runs
    # this file's tests in the simulator; AssertionError naming the failed tests otherwise
    run_dir = run_rtl_test(Path(__file__).stem, module_dir=Path(__file__).parent, wall_timeout_s=600)
    print(f"raw_frames: all tests passed (results in {run_dir})")
    sys.exit(0)
