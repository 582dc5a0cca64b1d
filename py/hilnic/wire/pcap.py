"""Classic libpcap capture of the wire, with the simulated time as the timestamp.

Format: the nanosecond-resolution variant of libpcap (magic 0xa1b23c4d, version 2.4),
LINKTYPE_ETHERNET (1), snaplen 65535, little-endian. Each record's timestamp is the
frame's `t_start` (the start character on XGMII) in simulated time, truncated to whole
nanoseconds (the clock is 6.4 ns, so sub-ns parts only appear on 0.8 ns byte times): the
waveform's time base, so a packet is found in GTKWave at its pcap time.

FCS. `fcs=True` writes every frame as it was on the wire, with its 4-byte FCS, and says so
in the header the way the pcap format provides (draft-ietf-opsawg-pcap, libpcap's
LT_FCS_DATALINK_EXT): the link-type field is LINKTYPE_ETHERNET with the P bit (0x04000000,
"FCS length known") and the FCS length in 16-bit words in bits 28-31 (2), i.e. 0x24000001.
Wireshark/tshark (checked with 4.0) then take the last 4 bytes as the FCS without any
preference and verify it with `-o eth.check_fcs:TRUE`; IP/TCP/UDP checksums are checked as
usual. Frames added with `write_packet` (the peer's answers, built without FCS) get their
FCS computed here, after padding to the 60-byte minimum as a MAC would. The MAC's frames
keep the FCS the RTL computed, so a bad one shows as "FCS Status: Bad".

Without it (the default, as before) the FCS is stripped and the link type is plain 1: every
reader opens that. `keep_fcs=True` is the old spelling of `fcs=True`. scapy's `rdpcap` does
not know the FCS bits: it returns such records as `Raw` packets (FCS included) with a
warning; `read_pcap` here reads both kinds and returns frames without FCS and whether the
FCS was right. Frames longer than snaplen are truncated in the file (incl_len < orig_len).
"""

from __future__ import annotations

import struct
import zlib
from typing import IO, TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from hilnic.hw.backend import WireFrame

PCAP_MAGIC_NSEC = 0xA1B23C4D
PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_VERSION = (2, 4)
LINKTYPE_ETHERNET = 1
LT_FCS_LENGTH_PRESENT = 0x04000000  # the P bit: bits 28-31 hold the FCS length
SNAPLEN = 65535
ETH_FCS_LEN = 4
ETH_ZLEN = 60  # minimum frame without FCS

_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")


def lt_fcs_datalink_ext(linktype: int, fcs_bytes: int) -> int:
    """The link-type field for `linktype` frames that end with a `fcs_bytes` FCS."""
    if fcs_bytes % 2 or not 0 <= fcs_bytes // 2 <= 15:
        raise ValueError(f"FCS length {fcs_bytes} not a multiple of 16 bits below 32 bytes")
    return (linktype & 0xFFFF) | LT_FCS_LENGTH_PRESENT | (fcs_bytes // 2) << 28


def lt_fcs_length(field: int) -> int | None:
    """FCS length in bytes from a link-type field, None if the file does not say."""
    if not field & LT_FCS_LENGTH_PRESENT:
        return None
    return (field >> 28 & 0xF) * 2


def eth_fcs(frame: bytes) -> bytes:
    """The Ethernet FCS of `frame` (without FCS) as it goes on the wire."""
    return (zlib.crc32(frame) & 0xFFFFFFFF).to_bytes(4, "little")


class PcapWriter:
    """Write frames to `dest` (a path or a binary file object) as they leave the MAC.

    Subscribe it to the NIC: `nic.on_frame(pcap.write_frame)`. The peer's answers can go
    in the same file: `peer.tx_listeners.append(pcap.write_packet)`.
    """

    def __init__(self, dest: str | Any | IO[bytes], keep_fcs: bool = False, snaplen: int = SNAPLEN, *,
                 fcs: bool | None = None) -> None:
        if hasattr(dest, "write"):
            self._f: IO[bytes] = dest  # type: ignore[assignment]
            self._owns = False
        else:
            self._f = open(dest, "wb")  # noqa: SIM115 - closed in close()
            self._owns = True
        self.fcs = bool(keep_fcs if fcs is None else fcs)
        self.keep_fcs = self.fcs  # the old name
        self.snaplen = snaplen
        self.count = 0
        self.linktype = lt_fcs_datalink_ext(LINKTYPE_ETHERNET, ETH_FCS_LEN) if self.fcs else LINKTYPE_ETHERNET
        self._f.write(_GLOBAL.pack(PCAP_MAGIC_NSEC, *PCAP_VERSION, 0, 0, snaplen, self.linktype))

    def write_frame(self, frame: WireFrame) -> None:
        """A frame from the MAC (its `data` ends with the FCS)."""
        data = frame.data if self.fcs else frame.data[:-4]
        self._write(data, frame.t_start)

    def write_packet(self, data: bytes, t_ps: int, has_fcs: bool = False) -> None:
        """Any Ethernet frame at simulated time `t_ps`. `data` is without FCS unless
        `has_fcs`; with `fcs` on, a frame without one is padded to 60 bytes and gets its
        FCS, without it a frame's FCS is dropped."""
        if self.fcs:
            if not has_fcs:
                data = bytes(data)
                if len(data) < ETH_ZLEN:
                    data += bytes(ETH_ZLEN - len(data))
                data += eth_fcs(data)
        elif has_fcs:
            data = data[:-ETH_FCS_LEN]
        self._write(data, t_ps)

    def _write(self, data: bytes, t_ps: int) -> None:
        ns = t_ps // 1000
        sec, nsec = divmod(ns, 1_000_000_000)
        incl = min(len(data), self.snaplen)
        self._f.write(_RECORD.pack(sec, nsec, incl, len(data)))
        self._f.write(data[:incl])
        self.count += 1

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if self._owns:
            self._f.close()
        else:
            self._f.flush()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcapRecord(NamedTuple):
    """One frame read back by `read_pcap`."""

    ts_ps: int  # timestamp in ps (whole ns in a nanosecond file, whole us otherwise)
    frame: bytes  # the frame without FCS (as captured: shorter if truncated by snaplen)
    fcs_ok: bool | None  # FCS right; None if the file has no FCS or it was truncated away


def read_pcap(src: str | Any | IO[bytes]) -> list[PcapRecord]:
    """Read a classic pcap file (any byte order, us or ns timestamps), as
    [(ts_ps, frame_without_fcs, fcs_ok)]: the FCS, if the link-type field says the frames
    carry one, is checked and stripped."""
    if hasattr(src, "read"):
        data = src.read()
    else:
        with open(src, "rb") as f:
            data = f.read()
    if len(data) < 24:
        raise ValueError("not a pcap file: shorter than its header")
    for endian in "<>":
        magic = struct.unpack(endian + "I", data[:4])[0]
        if magic in (PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC):
            break
    else:
        raise ValueError(f"not a pcap file: magic {data[:4].hex()}")
    scale = 1000 if magic == PCAP_MAGIC_NSEC else 1_000_000  # ps per sub-second unit
    glob = struct.Struct(endian + "IHHiIII")
    rec = struct.Struct(endian + "IIII")
    linkfield = glob.unpack_from(data, 0)[6]
    fcs_len = lt_fcs_length(linkfield) or 0
    out: list[PcapRecord] = []
    off = glob.size
    while off + rec.size <= len(data):
        sec, sub, incl, orig = rec.unpack_from(data, off)
        off += rec.size
        body = data[off : off + incl]
        if len(body) < incl:
            raise ValueError(f"truncated record at byte {off - rec.size}")
        off += incl
        ts = sec * 10**12 + sub * scale
        if not fcs_len:
            out.append(PcapRecord(ts, body, None))
        elif incl == orig and incl >= fcs_len:
            frame, fcs = body[:-fcs_len], body[-fcs_len:]
            ok = fcs == eth_fcs(frame) if fcs_len == ETH_FCS_LEN else None
            out.append(PcapRecord(ts, frame, ok))
        else:  # truncated: the FCS (or part of it) is not in the file
            keep = min(incl, orig - fcs_len)
            out.append(PcapRecord(ts, body[:max(0, keep)], None))
    return out


__all__ = [
    "LINKTYPE_ETHERNET",
    "LT_FCS_LENGTH_PRESENT",
    "PCAP_MAGIC_NSEC",
    "PcapRecord",
    "PcapWriter",
    "eth_fcs",
    "lt_fcs_datalink_ext",
    "lt_fcs_length",
    "read_pcap",
]
