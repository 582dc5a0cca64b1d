import os
from tb_tx import _line_rate
from hilnic.hw.sim import rtl_test
import nic_tb
@rtl_test(timeout_us=300)
async def diag(dut):
    lat = float(os.environ.get("LAT", "500"))
    orig = nic_tb.NicTB.__init__
    def init(self, dut, **kw):
        kw["mem_latency_ns"] = lat
        orig(self, dut, **kw)
    nic_tb.NicTB.__init__ = init
    try:
        await _line_rate(dut, int(os.environ.get("FL", "60")), 120, 128, 0.0)
    finally:
        nic_tb.NicTB.__init__ = orig
