"""Make a capture cut off mid-write readable: drop a trailing partial record.

A run stopped by a signal (or a simulator killed) can leave wire.pcap ending inside a
record; readers then fail on the whole file or warn. `trim_capture(path)` truncates it after
the last complete record (classic pcap of either byte order and resolution, or pcapng) and
returns how many complete records it holds; a file it does not recognise is left as it is.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

_PCAP_MAGICS = {0xA1B2C3D4, 0xA1B23C4D}
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D
_PCAPNG_PACKET_BLOCKS = {0x00000006, 0x00000003, 0x00000002}  # EPB, SPB, obsolete PB


def trim_capture(path: str | os.PathLike[str]) -> int | None:
    """Truncate `path` after its last complete record; return the records kept (None: not a
    capture this knows, or unreadable)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError:
        return None
    end, records = _complete_end(data)
    if end is None:
        return None
    if end < len(data):
        with open(p, "r+b") as fh:
            fh.truncate(end)
    return records


def _complete_end(data: bytes) -> tuple[int | None, int]:
    if len(data) < 4:
        return None, 0
    for order in "<>":
        magic = struct.unpack(order + "I", data[:4])[0]
        if magic in _PCAP_MAGICS:
            return _pcap_end(data, order)
        if magic == _PCAPNG_SHB and len(data) >= 12:
            bom_le = struct.unpack("<I", data[8:12])[0]
            return _pcapng_end(data, "<" if bom_le == _PCAPNG_BOM else ">")
    return None, 0


def _pcap_end(data: bytes, order: str) -> tuple[int | None, int]:
    if len(data) < 24:
        return None, 0
    pos, n = 24, 0
    rec = struct.Struct(order + "IIII")
    while pos + 16 <= len(data):
        incl = rec.unpack_from(data, pos)[2]
        if pos + 16 + incl > len(data):
            break
        pos += 16 + incl
        n += 1
    return pos, n


def _pcapng_end(data: bytes, order: str) -> tuple[int | None, int]:
    pos, n = 0, 0
    head = struct.Struct(order + "II")
    while pos + 12 <= len(data):
        btype, blen = head.unpack_from(data, pos)
        if blen < 12 or blen % 4 or pos + blen > len(data):
            break
        if btype in _PCAPNG_PACKET_BLOCKS:
            n += 1
        pos += blen
    return pos, n


__all__ = ["trim_capture"]
