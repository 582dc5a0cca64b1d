"""Host DMA memory: a numpy byte array, an allocator, and IOMMU-style mappings.

Software allocates buffers (`alloc`) and maps them for the device (`dma_map`, or
`dma_alloc_coherent` for the ring). The device side (behavioral NIC or RTL bridge) only
reaches memory through `dma_read` / `dma_write`, which check that the whole access lies in
a live mapping with the right direction. An access outside one is answered as an error
(the bridge turns it into DECERR) and recorded in `violations`, which tests assert empty.
DMA addresses equal host addresses (identity IOVA) so waveforms show the real buffer.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import numpy as np

_bisect_left = bisect.bisect_left
_bisect_right = bisect.bisect_right
_DD_STROBE = b"\x01\x00\x00\x00"  # one strobed byte at offset 0 (descriptor write-back)


class DmaDir(Enum):
    TO_DEVICE = "to_device"  # device reads
    FROM_DEVICE = "from_device"  # device writes
    BIDIRECTIONAL = "bidirectional"

# Enum members bound once: class-attribute lookup on an Enum is slow in hot paths.
_BIDIRECTIONAL = DmaDir.BIDIRECTIONAL
_FROM_DEVICE = DmaDir.FROM_DEVICE
_TO_DEVICE = DmaDir.TO_DEVICE


class Clock(Protocol):
    """What stamps a violation: the Env, or the RTL bridge's clock."""

    def now(self) -> int: ...  # ps


@dataclass
class Mapping:
    addr: int
    length: int
    direction: DmaDir
    owner: str = ""

    @property
    def end(self) -> int:
        return self.addr + self.length


@dataclass
class Violation:
    time_ps: int
    kind: str  # "read" | "write"
    addr: int
    length: int
    reason: str


@dataclass
class HostMemory:
    """Host RAM seen by the driver (alloc/map) and the device (dma_read/dma_write)."""

    size: int = 64 << 20
    base: int = 0x1_0000_0000  # above 4 GiB so 64-bit addressing is exercised
    mem: np.ndarray = field(init=False, repr=False)
    violations: list[Violation] = field(default_factory=list)
    clock: Clock | None = None  # for violation timestamps

    def __post_init__(self) -> None:
        self.mem = np.zeros(self.size, dtype=np.uint8)
        self._mv = self.mem.data  # byte view of `mem` for slice copies without numpy overhead
        self._free: list[tuple[int, int]] = [(self.base, self.size)]  # (addr, len), sorted
        self._allocs: dict[int, int] = {}
        self._maps: list[Mapping] = []  # sorted by addr, non-overlapping
        self._map_starts: list[int] = []
        self._max_map_len = 0
        self.bytes_written = 0

    # -- allocator (first fit, coalescing) --------------------------------------------

    def alloc(self, length: int, align: int = 64) -> int:
        if length <= 0:
            raise ValueError("alloc length must be positive")
        free = self._free
        for i, (a, n) in enumerate(free):
            start = (a + align - 1) // align * align
            pad = start - a
            if n - pad >= length:
                tail = n - pad - length
                if pad:
                    if tail:
                        free[i : i + 1] = [(a, pad), (start + length, tail)]
                    else:
                        free[i] = (a, pad)
                elif tail:
                    free[i] = (start + length, tail)
                else:
                    del free[i]
                self._allocs[start] = length
                return start
        raise MemoryError(f"host memory exhausted allocating {length} bytes")

    def free(self, addr: int) -> None:
        length = self._allocs.pop(addr, None)
        if length is None:
            raise ValueError(f"free of unallocated address {addr:#x}")
        free = self._free
        i = bisect.bisect_left(free, (addr, 0))
        # Merge with the neighbours only: the list stays sorted and coalesced.
        if i < len(free) and addr + length == free[i][0]:
            length += free[i][1]
            del free[i]
        if i > 0 and free[i - 1][0] + free[i - 1][1] == addr:
            addr, length = free[i - 1][0], free[i - 1][1] + length
            free[i - 1] = (addr, length)
        else:
            free.insert(i, (addr, length))

    @property
    def allocated(self) -> int:
        return len(self._allocs)

    # -- CPU access --------------------------------------------------------------------

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        off = addr - self.base
        if off < 0 or off + n > self.size:
            raise IndexError(f"host access {addr:#x}+{n} outside RAM")
        try:
            self._mv[off : off + n] = data
        except (TypeError, ValueError):  # not a flat byte buffer (e.g. a typed memoryview)
            self.mem[off : off + n] = np.frombuffer(bytes(data), dtype=np.uint8)

    def read(self, addr: int, length: int) -> bytes:
        off = addr - self.base
        if off < 0 or off + length > self.size:
            raise IndexError(f"host access {addr:#x}+{length} outside RAM")
        return self._mv[off : off + length].tobytes()

    # -- mappings ----------------------------------------------------------------------

    def dma_map(self, addr: int, length: int, direction: DmaDir = _TO_DEVICE, owner: str = "") -> int:
        """Map [addr, addr+length) for the device; returns the DMA address."""
        if length <= 0:
            raise ValueError("dma_map of an empty buffer")
        off = addr - self.base
        if off < 0 or off + length > self.size:
            raise IndexError(f"host access {addr:#x}+{length} outside RAM")
        starts = self._map_starts
        i = _bisect_left(starts, addr)
        # Overlapping mappings are legal in Linux (two skbs in one page); keep a list.
        self._maps.insert(i, Mapping(addr, length, direction, owner))
        if length > self._max_map_len:
            self._max_map_len = length
        starts.insert(i, addr)
        return addr

    def dma_unmap(self, dma_addr: int, length: int) -> None:
        starts = self._map_starts
        maps = self._maps
        i = _bisect_left(starts, dma_addr)
        n = len(maps)
        while i < n and starts[i] == dma_addr:
            if maps[i].length == length:
                del maps[i]
                del starts[i]
                return
            i += 1
        raise ValueError(f"dma_unmap of {dma_addr:#x}+{length}: no such mapping")

    def dma_alloc_coherent(self, length: int, align: int = 4096, owner: str = "coherent") -> int:
        addr = self.alloc(length, align)
        self.mem[addr - self.base : addr - self.base + length] = 0
        return self.dma_map(addr, length, _BIDIRECTIONAL, owner)

    def dma_free_coherent(self, addr: int, length: int) -> None:
        self.dma_unmap(addr, length)
        self.free(addr)

    @property
    def live_mappings(self) -> list[Mapping]:
        return list(self._maps)

    def _violate(self, kind: str, addr: int, length: int, reason: str) -> None:
        now = self.clock.now() if self.clock is not None else 0
        self.violations.append(Violation(now, kind, addr, length, reason))

    # -- device access -----------------------------------------------------------------

    def dma_read(self, addr: int, length: int) -> bytes | None:
        """Device read; None (and a recorded violation) when not inside a live mapping."""
        # _read_covered(addr, length), inlined: every descriptor and buffer read comes here.
        i = _bisect_right(self._map_starts, addr)
        maps = self._maps
        end = addr + length
        reach = addr - self._max_map_len  # a mapping starting before this cannot reach addr
        ok = False
        while i:
            i -= 1
            m = maps[i]
            a = m.addr
            if a + m.length >= end and a <= addr and m.direction is not _FROM_DEVICE:
                ok = True
                break
            if a < reach:  # nothing further back can reach addr
                break
        if not ok:
            self._violate("read", addr, length, "outside any live mapping")
            return None
        off = addr - self.base
        return self._mv[off : off + length].tobytes()

    def dma_read_ok(self, addr: int, length: int) -> bool:
        """dma_read without the copy (the RTL bridge copies itself): True when inside a live
        mapping the device may read; else False and a recorded violation."""
        if not self._read_covered(addr, length):
            self._violate("read", addr, length, "outside any live mapping")
            return False
        return True

    def _read_covered(self, addr: int, length: int) -> bool:
        # a live mapping the device may read (not FROM_DEVICE) covers addr..addr+length
        i = _bisect_right(self._map_starts, addr)
        maps = self._maps
        end = addr + length
        reach = addr - self._max_map_len  # a mapping starting before this cannot reach addr
        while i:
            i -= 1
            m = maps[i]
            a = m.addr
            if a + m.length >= end and a <= addr and m.direction is not _FROM_DEVICE:
                return True
            if a < reach:  # nothing further back can reach addr
                break
        return False

    def dma_write(self, addr: int, data: bytes, strobe: bytes | None = None) -> bool:
        """Device write; bytes whose strobe is 0 are left alone. False on a violation."""
        # _read_covered's search for a mapping the device may write, inlined: every descriptor
        # write-back comes here.
        i = _bisect_right(self._map_starts, addr)
        maps = self._maps
        end = addr + len(data)
        reach = addr - self._max_map_len  # a mapping starting before this cannot reach addr
        ok = False
        while i:
            i -= 1
            m = maps[i]
            a = m.addr
            if a + m.length >= end and a <= addr:
                if m.direction is _TO_DEVICE:
                    continue
                ok = True
                break
            if a < reach:  # nothing further back can reach addr
                break
        if not ok:
            self._violate("write", addr, len(data), "outside any live mapping")
            return False
        off = addr - self.base
        if strobe is None:
            self.mem[off : off + len(data)] = np.frombuffer(data, dtype=np.uint8)
            self.bytes_written += len(data)
            return True
        if strobe == _DD_STROBE:
            self._mv[off] = data[0]  # the common case: DD write-back of one byte
            self.bytes_written += 1
            return True
        first = strobe.find(1) if strobe.count(1) == 1 else -1
        if first >= 0 and strobe.count(0) == len(strobe) - 1:
            self.mem[off + first] = data[first]  # one strobed byte
            self.bytes_written += 1
            return True
        sel = np.frombuffer(strobe, dtype=np.uint8).astype(bool)
        self.mem[off : off + len(data)][sel] = np.frombuffer(data, dtype=np.uint8)[sel]
        self.bytes_written += int(np.count_nonzero(sel))
        return True
