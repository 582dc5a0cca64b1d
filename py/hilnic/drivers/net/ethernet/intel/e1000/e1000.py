"""The e1000 driver's limits and defaults (drivers/net/ethernet/intel/e1000/e1000.h, e1000_param.c).

The one table of what a configuration may ask for: the driver's probe, `hilnic run`'s
RunConfig and CLI, the Testbed and the README's table of limits (checked by
tests/unit/test_limits.py) all read it. No imports: the CLI reads it without loading the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

# Transmit descriptors (e1000.h; NIC_SPEC: TDLEN is a multiple of 128 bytes = 8 descriptors)
E1000_DEFAULT_TXD = 256
E1000_MIN_TXD = 64
E1000_MAX_TXD = 4096
E1000_REQ_TX_DESCRIPTOR_MULTIPLE = 8

# InterruptThrottleRate (e1000_param.c): 0 off, 1 and 3 dynamic, else interrupts/s
ITR_OFF = 0
ITR_DYNAMIC = 1
ITR_DYNAMIC_CONSERVATIVE = 3  # the Linux default
E1000_DEFAULT_ITR = ITR_DYNAMIC_CONSERVATIVE
MIN_ITR = 100
MAX_ITR = 100_000
# igb itr_val units: about 4 per microsecond (EITR interval field at bits 14:2)
IGB_START_ITR = 648
IGB_20K_ITR = 196
IGB_ITR_MASK = 0x7FFC

# MTU. The device's own bound is probe-time: max_mtu = HCAPS max frame - ETH_HLEN - VLAN_HLEN
# (9198 for the default 9216-byte frame); configurations stop at the usual jumbo MTU below it.
ETH_HLEN = 14
VLAN_HLEN = 4
E1000_MAX_FRAME_SIZE = 9216  # NIC_SPEC's default MAX_FRAME_BYTES (HCAPS[31:16] * 16)
E1000_MIN_MTU = 68  # ETH_MIN_MTU: IPv4's minimum
E1000_MAX_MTU = 9000
E1000_DEFAULT_MTU = 1500  # ETH_DATA_LEN


@dataclass(frozen=True)
class E1000Option:
    """An integer option's range (e1000_param.c's struct e1000_option: range, plus a list)."""

    name: str
    min: int
    max: int
    default: int
    step: int = 1
    special: tuple[int, ...] = ()  # values allowed outside min..max
    unit: str = ""

    def valid(self, value: int) -> bool:
        if value in self.special:
            return True
        return self.min <= value <= self.max and value % self.step == 0

    def describe(self) -> str:
        """'64..4096 in steps of 8', '100..100000 interrupts/s'."""
        text = f"{self.min}..{self.max}"
        if self.step > 1:
            text += f" in steps of {self.step}"
        return f"{text} {self.unit}" if self.unit else text


TX_DESCRIPTORS = E1000Option("TxDescriptors", E1000_MIN_TXD, E1000_MAX_TXD, E1000_DEFAULT_TXD,
                             step=E1000_REQ_TX_DESCRIPTOR_MULTIPLE, unit="descriptors")
INTERRUPT_THROTTLE_RATE = E1000Option("InterruptThrottleRate", MIN_ITR, MAX_ITR, E1000_DEFAULT_ITR,
                                      special=(ITR_OFF, ITR_DYNAMIC, ITR_DYNAMIC_CONSERVATIVE),
                                      unit="interrupts/s")
MTU = E1000Option("MTU", E1000_MIN_MTU, E1000_MAX_MTU, E1000_DEFAULT_MTU, unit="bytes")

E1000_OPTIONS = (TX_DESCRIPTORS, INTERRUPT_THROTTLE_RATE, MTU)
