"""Classic libpcap capture of the wire, with the simulated time as the timestamp.

Format: the nanosecond-resolution variant of libpcap (magic 0xa1b23c4d, version 2.4),
LINKTYPE_ETHERNET (1, DLT_EN10MB), snaplen 65535, little-endian, frames without FCS. Each
record's timestamp is the frame's time in simulated time, truncated to whole nanoseconds (the
clock is 6.4 ns, so sub-ns parts only appear on 0.8 ns byte times): the waveform's time base,
so a packet is found in GTKWave at its pcap time.

Why this format: it is the one every reader agrees on. scapy's `rdpcap`, dpkt's
`pcap.Reader` and Wireshark/tshark all decode plain LINKTYPE_ETHERNET; with the FCS flagged in
the link-type field (below) scapy falls back to raw bytes and dpkt refuses the file, and a
pcapng `if_fcslen` option is honoured by Wireshark only (scapy and dpkt would show the FCS as
trailing padding). The FCS is checked where it matters anyway: the peer checks every frame's
CRC and drops a bad one, which fails the run.

Both directions. `write_frame` takes the MAC's frames (stamped with `t_start`, the start
character on XGMII), `write_packet` any frame at a given time (the peer's answers at the time
they enter the host). Frames reach the writer out of time order: the MAC reports a frame when
it has left the wire (up to a jumbo frame's 7.4 us after its start), the peer reports an answer
when it decides to send it (before it reaches the host). With `now` (the simulated clock) the
writer holds each record until `horizon_ps` of simulated time has passed beyond its stamp, then
writes it in timestamp order; `close` writes the rest. Without `now` records are written as
they come.

FCS (optional). `fcs=True` writes every frame as it was on the wire, with its 4-byte FCS, and
says so in the header the way the pcap format provides (draft-ietf-opsawg-pcap, libpcap's
LT_FCS_DATALINK_EXT): the link-type field is LINKTYPE_ETHERNET with the P bit (0x04000000,
"FCS length known") and the FCS length in 16-bit words in bits 28-31 (2), i.e. 0x24000001.
Wireshark/tshark (checked with 4.0) then verify it with `-o eth.check_fcs:TRUE`; scapy returns
such records as `Raw` packets (FCS included) with a warning; dpkt cannot read them. Frames added
with `write_packet` without an FCS get one computed here, after padding to the 60-byte minimum
as a MAC would. `keep_fcs=True` is the old spelling of `fcs=True`. `read_pcap` here reads both
kinds and returns frames without FCS and whether the FCS was right. Frames longer than snaplen
are truncated in the file (incl_len < orig_len).
"""

from __future__ import annotations

import heapq
import struct
import zlib
from collections.abc import Callable
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
# How long a record waits for earlier ones (simulated ps): far beyond a jumbo frame's 7.4 us
# on the wire, after which the MAC has reported it; about 125 KB of 10GbE traffic held.
REORDER_HORIZON_PS = 100_000_000

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
    """Write frames to `dest` (a path or a binary file object).

    Subscribe it to the NIC: `nic.on_frame(pcap.write_frame)`; the peer's answers go in the
    same file: `peer.tx_listeners.append(pcap.write_packet)`. Pass `now` (the simulated
    clock, ps) when records can arrive out of time order (see the module docstring).
    """

    def __init__(self, dest: str | Any | IO[bytes], keep_fcs: bool = False, snaplen: int = SNAPLEN, *,
                 fcs: bool | None = None, now: Callable[[], int] | None = None,
                 horizon_ps: int = REORDER_HORIZON_PS) -> None:
        if hasattr(dest, "write"):
            self._f: IO[bytes] = dest  # type: ignore[assignment]
            self._owns = False
        else:
            self._f = open(dest, "wb")  # noqa: SIM115 - closed in close()
            self._owns = True
        self.fcs = bool(keep_fcs if fcs is None else fcs)
        self.keep_fcs = self.fcs  # the old name
        self.snaplen = snaplen
        self.count = 0  # records accepted (all written once closed)
        self.late = 0  # records that came after a later one had been written (out of order in the file)
        self.now = now
        self.horizon_ps = horizon_ps
        self._held: list[tuple[int, int, bytes]] = []  # heap of (t_ps, arrival, data)
        self._last_ps = -1
        self.linktype = lt_fcs_datalink_ext(LINKTYPE_ETHERNET, ETH_FCS_LEN) if self.fcs else LINKTYPE_ETHERNET
        self._f.write(_GLOBAL.pack(PCAP_MAGIC_NSEC, *PCAP_VERSION, 0, 0, snaplen, self.linktype))

    def write_frame(self, frame: WireFrame) -> None:
        """A frame from the MAC (its `data` ends with the FCS), stamped with its start."""
        data = frame.data if self.fcs else frame.data[:-4]
        self._add(data, frame.t_start)

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
        self._add(bytes(data), t_ps)

    def _add(self, data: bytes, t_ps: int) -> None:
        self.count += 1
        if self.now is None:
            self._write(data, t_ps)
            return
        heapq.heappush(self._held, (t_ps, self.count, data))
        self._release(self.now() - self.horizon_ps)

    def _release(self, upto_ps: int | None) -> None:
        """Write the held records stamped at or before `upto_ps` (None: all), oldest first."""
        held = self._held
        while held and (upto_ps is None or held[0][0] <= upto_ps):
            t_ps, _, data = heapq.heappop(held)
            self._write(data, t_ps)

    def _write(self, data: bytes, t_ps: int) -> None:
        if t_ps < self._last_ps:
            self.late += 1
        self._last_ps = max(self._last_ps, t_ps)
        ns = t_ps // 1000
        sec, nsec = divmod(ns, 1_000_000_000)
        incl = min(len(data), self.snaplen)
        self._f.write(_RECORD.pack(sec, nsec, incl, len(data)))
        self._f.write(data[:incl])

    def flush(self) -> None:
        """Write what is due (every record, without `now`) and flush the file."""
        if self.now is not None:
            self._release(self.now() - self.horizon_ps)
        self._f.flush()

    def close(self) -> None:
        """Write every held record, then close (or flush a file object given by the caller)."""
        self._release(None)
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
    "REORDER_HORIZON_PS",
    "PcapRecord",
    "PcapWriter",
    "eth_fcs",
    "lt_fcs_datalink_ext",
    "lt_fcs_length",
    "read_pcap",
]
