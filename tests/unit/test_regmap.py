"""Register map and descriptor codec (docs/nic.md §2, §3)."""

import pytest

from hilnic.hw.regs import (
    E1000_TXD_CMD_EOP,
    E1000_TXD_CMD_IFCS,
    E1000_TXD_CMD_RS,
    HID_VALUE,
    Reg,
    TxDesc,
    cmd_names,
    reg_info,
)


def test_hid_is_ascii_hnic():
    assert HID_VALUE.to_bytes(4, "big") == b"HNIC"


def test_descriptor_layout_is_little_endian_legacy():
    d = TxDesc(
        addr=0x1122334455667788,
        length=0x05EA,
        cso=50,
        cmd=E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS,
        sta=1,
        css=34,
        special=0xBEEF,
    )
    raw = d.pack()
    assert raw[:8] == bytes.fromhex("8877665544332211")
    assert raw[8:10] == b"\xea\x05" and raw[10] == 50 and raw[11] == 0x0B
    assert raw[12] == 1 and raw[13] == 34 and raw[14:16] == b"\xef\xbe"
    assert TxDesc.unpack(raw) == d
    assert d.dd and d.eop and d.rs
    assert cmd_names(d.cmd) == "EOP|IFCS|RS"
    with pytest.raises(ValueError):
        TxDesc.unpack(raw[:15])


def test_hcaps_encodes_parameters():
    caps = reg_info(dma_data_width=256, desc_prefetch=16, max_frame_bytes=9216)[Reg.HCAPS].reset
    assert caps & 0xFF == 32 and (caps >> 8) & 0xFF == 16 and caps >> 16 == 9216 // 16
