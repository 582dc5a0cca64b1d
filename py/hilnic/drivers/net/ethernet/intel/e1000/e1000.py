"""The e1000 driver's limits and defaults (drivers/net/ethernet/intel/e1000/e1000.h, e1000_param.c).

The one table of what a configuration may ask for: the driver's probe, `hilnic run`'s
RunConfig and CLI, the Testbed and the README's table of limits (checked by
tests/unit/test_limits.py) all read it, and the `*_problem` checks below give every path the
same message (each caller puts its own name for the option in front: `--mtu`, `mtu`).
No imports: the CLI reads it without loading the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

# Transmit descriptors (e1000.h; the NIC's TDLEN is a multiple of 128 bytes = 8 descriptors, docs/nic.md §2)
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
E1000_MAX_FRAME_SIZE = 9216  # nic_top's default MAX_FRAME_BYTES (HCAPS[31:16] * 16, docs/nic.md §1)
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
    allowed: str = ""  # how a message states the allowed values (default: describe())

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

    def problem(self, value: int) -> str | None:
        """None if `value` is allowed, else the rest of a message after the option's name."""
        if self.valid(value):
            return None
        return f"must be {self.allowed or self.describe()}, got {value}"


TX_DESCRIPTORS = E1000Option("TxDescriptors", E1000_MIN_TXD, E1000_MAX_TXD, E1000_DEFAULT_TXD,
                             step=E1000_REQ_TX_DESCRIPTOR_MULTIPLE, unit="descriptors",
                             allowed=f"{E1000_MIN_TXD}..{E1000_MAX_TXD} in steps of {E1000_REQ_TX_DESCRIPTOR_MULTIPLE} "
                                     "descriptors (TDLEN is a multiple of 128 bytes)")
INTERRUPT_THROTTLE_RATE = E1000Option("InterruptThrottleRate", MIN_ITR, MAX_ITR, E1000_DEFAULT_ITR,
                                      special=(ITR_OFF, ITR_DYNAMIC, ITR_DYNAMIC_CONSERVATIVE),
                                      unit="interrupts/s",
                                      allowed=f"0 (off), 1 or 3 (dynamic) or {MIN_ITR}..{MAX_ITR} interrupts/s")
MTU = E1000Option("MTU", E1000_MIN_MTU, E1000_MAX_MTU, E1000_DEFAULT_MTU, unit="bytes")

E1000_OPTIONS = (TX_DESCRIPTORS, INTERRUPT_THROTTLE_RATE, MTU)


# -- limits of a run over this device that are not the driver's own ----------------------------
# Here so that the CLI, RunConfig and TestbedConfig check one table, with one message each.

# Linux's TCP_MIN_MSS (include/net/tcp.h): the smallest MSS accepted. Below an MTU of
# TCP_MIN_MSS + 40 the stack's MSS sinks under TCP_MIN_SND_MSS (48), is clamped up to it, and
# segments no longer fit the MTU: a bulk transfer at MTU 84 or 86 never finishes.
TCP_MIN_MSS = 88
IPV4_TCP_HEADERS = 40  # MSS = MTU - 20 (IPv4) - 20 (TCP)
TCP_MIN_MTU = TCP_MIN_MSS + IPV4_TCP_HEADERS
LOSS_MAX = 0.5  # the peer's loss model: beyond half the frames TCP mostly waits on timers


def tcp_mtu_problem(mtu: int) -> str | None:
    """None if TCP can run at `mtu`, else the rest of a message after the MTU's name."""
    if mtu - IPV4_TCP_HEADERS >= TCP_MIN_MSS:
        return None
    return f"{mtu} leaves a TCP MSS of {mtu - IPV4_TCP_HEADERS}; TCP needs an MTU of {TCP_MIN_MTU} or more"


def tcp_mss_problem(mss: int, mtu: int) -> str | None:
    """None if the peer may announce `mss` at `mtu`, else the rest of a message after its name."""
    hi = mtu - IPV4_TCP_HEADERS
    if mss > hi:
        return f"{mss} does not fit MTU {mtu}: the largest is MTU - 40 = {hi}"
    if mss < TCP_MIN_MSS:
        return f"must be at least {TCP_MIN_MSS}, got {mss}"
    return None


def loss_problem(rate: float) -> str | None:
    """None if the peer's loss model takes `rate`, else the rest of a message after its name."""
    if 0.0 <= rate <= LOSS_MAX:
        return None
    return f"must be in [0, {LOSS_MAX:g}], got {rate:g}"
