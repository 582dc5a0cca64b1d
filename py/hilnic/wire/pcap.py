"""Classic libpcap capture of the wire, with the simulated time as the timestamp.

Format: the nanosecond-resolution variant of libpcap (magic 0xa1b23c4d, version 2.4),
LINKTYPE_ETHERNET (1), snaplen 65535, little-endian. Each record's timestamp is the
frame's `t_start` (the start character on XGMII) in simulated time, truncated to whole
nanoseconds (the clock is 6.4 ns, so sub-ns parts only appear on 0.8 ns byte times).

FCS: LINKTYPE_ETHERNET frames are read by Wireshark/tshark/tcpdump as *without* FCS
unless told otherwise, so by default the 4 FCS bytes are stripped and a capture opens with
valid IP/TCP checksums and no trailing garbage. `keep_fcs=True` keeps them (for checking
the MAC's CRC); open such a file in Wireshark with "Assume packets have FCS" (eth.assume_fcs)
set. Frames longer than snaplen are truncated in the file (incl_len < orig_len).
"""

from __future__ import annotations

import struct
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..hw.backend import WireFrame

PCAP_MAGIC_NSEC = 0xA1B23C4D
PCAP_VERSION = (2, 4)
LINKTYPE_ETHERNET = 1
SNAPLEN = 65535

_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")


class PcapWriter:
    """Write frames to `dest` (a path or a binary file object) as they leave the MAC.

    Subscribe it to the NIC: `nic.on_frame(pcap.write_frame)`. The peer's answers can go
    in the same file: `peer.tx_listeners.append(pcap.write_packet)`.
    """

    def __init__(self, dest: str | Any | IO[bytes], keep_fcs: bool = False, snaplen: int = SNAPLEN) -> None:
        if hasattr(dest, "write"):
            self._f: IO[bytes] = dest  # type: ignore[assignment]
            self._owns = False
        else:
            self._f = open(dest, "wb")  # noqa: SIM115 - closed in close()
            self._owns = True
        self.keep_fcs = keep_fcs
        self.snaplen = snaplen
        self.count = 0
        self._f.write(_GLOBAL.pack(PCAP_MAGIC_NSEC, *PCAP_VERSION, 0, 0, snaplen, LINKTYPE_ETHERNET))

    def write_frame(self, frame: "WireFrame") -> None:
        """A frame from the MAC (its `data` ends with the FCS)."""
        data = frame.data if self.keep_fcs else frame.data[:-4]
        self.write_packet(data, frame.t_start)

    def write_packet(self, data: bytes, t_ps: int) -> None:
        """Any Ethernet frame (as it should appear in the file) at simulated time `t_ps`."""
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

    def __enter__(self) -> "PcapWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["LINKTYPE_ETHERNET", "PCAP_MAGIC_NSEC", "PcapWriter"]
