"""IPv4 fragment reassembly (net/ipv4/ip_fragment.c, without the memory limits).

Fragments are grouped by (src, dst, protocol, id). A datagram is complete when the
fragment without MF has set its length and [0, length) is covered. As Linux since 4.19
(RFC 5722 applied to IPv4), an exact duplicate fragment is ignored and an overlapping one
discards the whole datagram. A queue that is not complete `timeout` ps after its first
fragment is dropped (ipfrag_time, 30 s). Sans-I/O: the caller passes `now` and arms a
timer for `deadline(key)`.
"""

from __future__ import annotations

import struct

from hilnic.lib.checksum import inet_checksum
from hilnic.wire.packets import IP_MF, IP_OFFMASK

IPFRAG_TIME_PS = 30 * 10**12  # net.ipv4.ipfrag_time = 30 s
IP_MAX_DATAGRAM = 65535

FragKey = tuple[bytes, bytes, int, int]  # src, dst, proto, id


class _FragQueue:
    __slots__ = ("frags", "total", "header", "deadline", "meat")

    def __init__(self, deadline: int) -> None:
        self.frags: list[tuple[int, bytes]] = []  # (offset, payload), kept sorted
        self.total: int | None = None
        self.header: bytes | None = None  # IP header of the offset-0 fragment
        self.deadline = deadline
        self.meat = 0  # payload bytes held


class Reassembler:
    def __init__(self, timeout: int = IPFRAG_TIME_PS) -> None:
        self.timeout = timeout
        self.queues: dict[FragKey, _FragQueue] = {}
        self.fails = 0  # ReasmFails
        self.timeouts = 0  # ReasmTimeout
        self.overlaps = 0  # ReasmOverlaps

    def add(self, key: FragKey, header: bytes, frag_off: int, payload: bytes, now: int) -> tuple[bytes, bytes] | None:
        """Take one fragment; return (IP header, full payload) when the datagram is complete.

        `header` is this fragment's IP header (options included), `frag_off` its flags and
        offset field. The returned header is the first fragment's with MF/offset cleared,
        tot_len set and the checksum recomputed.
        """
        q = self.queues.get(key)
        if q is None:
            q = self.queues[key] = _FragQueue(now + self.timeout)
        offset = (frag_off & IP_OFFMASK) << 3
        end = offset + len(payload)
        more = bool(frag_off & IP_MF)
        if end + len(header) > IP_MAX_DATAGRAM or (more and len(payload) & 7):
            self._fail(key)
            return None
        if not more:
            if q.total is not None and q.total != end:
                self._fail(key)
                return None
            if any(o + len(p) > end for o, p in q.frags):
                self._fail(key)
                return None
            q.total = end
        elif q.total is not None and end > q.total:
            self._fail(key)
            return None
        for o, p in q.frags:
            if o == offset and len(p) == len(payload):
                return None  # exact duplicate: ignored
            if o < end and offset < o + len(p):
                self.overlaps += 1
                self._fail(key)
                return None
        q.frags.append((offset, payload))
        q.frags.sort(key=lambda f: f[0])
        q.meat += len(payload)
        if offset == 0:
            q.header = header
        if q.total is None or q.meat != q.total or q.header is None:
            return None
        del self.queues[key]
        data = b"".join(p for _, p in q.frags)
        hdr = bytearray(q.header)
        struct.pack_into("!H", hdr, 2, len(hdr) + len(data))
        struct.pack_into("!H", hdr, 6, struct.unpack_from("!H", hdr, 6)[0] & ~(IP_MF | IP_OFFMASK))
        struct.pack_into("!H", hdr, 10, 0)
        struct.pack_into("!H", hdr, 10, inet_checksum(hdr))
        return bytes(hdr), data

    def deadline(self, key: FragKey) -> int | None:
        q = self.queues.get(key)
        return None if q is None else q.deadline

    def expire(self, key: FragKey, now: int) -> bool:
        """Drop `key`'s queue if its deadline has passed; True if it was dropped."""
        q = self.queues.get(key)
        if q is None or now < q.deadline:
            return False
        del self.queues[key]
        self.timeouts += 1
        self.fails += 1
        return True

    def _fail(self, key: FragKey) -> None:
        self.queues.pop(key, None)
        self.fails += 1


__all__ = ["IPFRAG_TIME_PS", "FragKey", "Reassembler"]
