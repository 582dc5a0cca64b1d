"""Register map, bit fields and the legacy transmit descriptor codec (NIC_SPEC.md §2, §3).

The one source of truth for offsets and bits: the driver, the behavioral NIC, the RTL
bridge and the tests import from here, and a test checks the Verilog offsets against it.
Names follow the Intel 8254x headers (E1000_*) so the driver reads like e1000_main.c.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum


class Reg(IntEnum):
    """Register byte offsets (NIC_SPEC §2)."""

    CTRL = 0x0000
    STATUS = 0x0008
    ICR = 0x00C0
    ITR = 0x00C4
    ICS = 0x00C8
    IMS = 0x00D0
    IMC = 0x00D8
    TCTL = 0x0400
    TDBAL = 0x3800
    TDBAH = 0x3804
    TDLEN = 0x3808
    TDH = 0x3810
    TDT = 0x3818
    TIDV = 0x3820
    TXDCTL = 0x3828
    TADV = 0x382C
    TDWBAL = 0x3838
    TDWBAH = 0x383C
    GPTC = 0x4080
    GOTCL = 0x4090
    GOTCH = 0x4094
    TPT = 0x40D4
    HID = 0xF000
    HVER = 0xF004
    HCAPS = 0xF008
    ERRADDRL = 0xF010
    ERRADDRH = 0xF014
    ERRCAUSE = 0xF018
    TXDROP = 0xF020


# CTRL
E1000_CTRL_RST = 1 << 26
# STATUS
E1000_STATUS_LU = 1 << 1
E1000_STATUS_TXOFF = 1 << 4  # extension
E1000_STATUS_RST_BUSY = 1 << 31  # extension
# ICR / ICS / IMS / IMC causes
E1000_ICR_TXDW = 1 << 0
E1000_ICR_TXQE = 1 << 1
E1000_ICR_ERR = 1 << 30  # extension
E1000_ICR_INT_ASSERTED = 1 << 31
ICR_CAUSES = E1000_ICR_TXDW | E1000_ICR_TXQE | E1000_ICR_ERR
# TCTL
E1000_TCTL_EN = 1 << 1
E1000_TCTL_PSP = 1 << 3
# TXDCTL
TXDCTL_WTHRESH_SHIFT = 16
TXDCTL_WTHRESH_MASK = 0x3F << TXDCTL_WTHRESH_SHIFT
# TDWBAL
TDWBAL_EN = 1 << 0
# ERRCAUSE (extension)
ERR_DMA_READ = 1 << 0
ERR_DMA_WRITE = 1 << 1
ERR_TOO_LONG = 1 << 2
ERR_BAD_DESC = 1 << 3
ERR_TDT_RANGE = 1 << 4
ERR_RING_WRITE_EN = 1 << 5
ERR_ZERO_LEN = 1 << 6

HID_VALUE = 0x484E4943  # "HNIC"
HVER_MAJOR = 1
HVER_MINOR = 0
HVER_VALUE = (HVER_MAJOR << 16) | HVER_MINOR

# Time units of the moderation registers, in nanoseconds (NIC_SPEC §2).
ITR_UNIT_NS = 256
TIDV_UNIT_NS = 1024
TADV_UNIT_NS = 1024
CLK_PERIOD_PS = 6400  # 156.25 MHz

# Legacy descriptor CMD bits (Linux e1000_hw.h names; byte 11 of the descriptor).
E1000_TXD_CMD_EOP = 1 << 0
E1000_TXD_CMD_IFCS = 1 << 1
E1000_TXD_CMD_IC = 1 << 2
E1000_TXD_CMD_RS = 1 << 3
E1000_TXD_CMD_RPS = 1 << 4
E1000_TXD_CMD_DEXT = 1 << 5
E1000_TXD_CMD_VLE = 1 << 6
E1000_TXD_CMD_IDE = 1 << 7
E1000_TXD_STAT_DD = 1 << 0

TX_DESC_SIZE = 16
TDLEN_ALIGN = 128
MAX_DESCRIPTORS = 65536
DESC_STA_BYTE = 12  # byte of the descriptor the NIC writes back (DD)


@dataclass(frozen=True)
class RegInfo:
    """Access type and reset value of one register, as the RTL must implement it."""

    access: str  # "RW", "RO", "RC", "WO", "RC/W1C"
    reset: int
    writable_mask: int = 0xFFFFFFFF


def reg_info(dma_data_width: int = 128, desc_prefetch: int = 8, max_frame_bytes: int = 9216) -> dict[Reg, RegInfo]:
    """Reset value and access type of every register for one parameter set."""
    hcaps = (dma_data_width // 8) | (desc_prefetch << 8) | ((max_frame_bytes // 16) << 16)
    return {
        Reg.CTRL: RegInfo("RW", 0),
        Reg.STATUS: RegInfo("RO", E1000_STATUS_LU, 0),
        Reg.ICR: RegInfo("RC/W1C", 0, ICR_CAUSES),
        Reg.ITR: RegInfo("RW", 0, 0xFFFF),
        Reg.ICS: RegInfo("WO", 0, ICR_CAUSES),
        Reg.IMS: RegInfo("RW", 0, ICR_CAUSES),
        Reg.IMC: RegInfo("WO", 0, ICR_CAUSES),
        Reg.TCTL: RegInfo("RW", 0),
        Reg.TDBAL: RegInfo("RW", 0, 0xFFFFFFF0),
        Reg.TDBAH: RegInfo("RW", 0),
        Reg.TDLEN: RegInfo("RW", 0, 0x000FFF80),
        Reg.TDH: RegInfo("RW", 0, 0xFFFF),
        Reg.TDT: RegInfo("RW", 0, 0xFFFF),
        Reg.TIDV: RegInfo("RW", 0, 0xFFFF),
        Reg.TXDCTL: RegInfo("RW", 0),
        Reg.TADV: RegInfo("RW", 0, 0xFFFF),
        Reg.TDWBAL: RegInfo("RW", 0),
        Reg.TDWBAH: RegInfo("RW", 0),
        Reg.GPTC: RegInfo("RC", 0, 0),
        Reg.GOTCL: RegInfo("RC", 0, 0),
        Reg.GOTCH: RegInfo("RC", 0, 0),
        Reg.TPT: RegInfo("RC", 0, 0),
        Reg.HID: RegInfo("RO", HID_VALUE, 0),
        Reg.HVER: RegInfo("RO", HVER_VALUE, 0),
        Reg.HCAPS: RegInfo("RO", hcaps, 0),
        Reg.ERRADDRL: RegInfo("RO", 0, 0),
        Reg.ERRADDRH: RegInfo("RO", 0, 0),
        Reg.ERRCAUSE: RegInfo("RC", 0, 0),
        Reg.TXDROP: RegInfo("RC", 0, 0),
    }


_DESC = struct.Struct("<QHBBBBH")  # addr, len, cso, cmd, sta(+rsvd), css, special


@dataclass
class TxDesc:
    """A legacy transmit descriptor (NIC_SPEC §3)."""

    addr: int = 0
    length: int = 0
    cso: int = 0
    cmd: int = 0
    sta: int = 0
    css: int = 0
    special: int = 0

    def pack(self) -> bytes:
        return _DESC.pack(self.addr, self.length, self.cso, self.cmd, self.sta & 0x0F, self.css, self.special)

    @classmethod
    def unpack(cls, raw: bytes) -> TxDesc:
        if len(raw) != TX_DESC_SIZE:
            raise ValueError(f"descriptor must be {TX_DESC_SIZE} bytes, got {len(raw)}")
        addr, length, cso, cmd, sta, css, special = _DESC.unpack(raw)
        return cls(addr, length, cso, cmd, sta & 0x0F, css, special)

    @property
    def dd(self) -> bool:
        return bool(self.sta & E1000_TXD_STAT_DD)

    @property
    def eop(self) -> bool:
        return bool(self.cmd & E1000_TXD_CMD_EOP)

    @property
    def rs(self) -> bool:
        return bool(self.cmd & (E1000_TXD_CMD_RS | E1000_TXD_CMD_RPS))


def cmd_names(cmd: int) -> str:
    """CMD byte as 'EOP|IFCS|RS' for traces."""
    names = ["EOP", "IFCS", "IC", "RS", "RPS", "DEXT", "VLE", "IDE"]
    return "|".join(n for i, n in enumerate(names) if cmd & (1 << i)) or "0"
