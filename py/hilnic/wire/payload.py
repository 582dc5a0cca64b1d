"""The bytes a run sends: a seeded pattern both ends can generate from (length, seed).

Standard library only: the Linux peer's receiving process (ns_receiver.py) regenerates the
payload from the run's length and seed and compares what its socket delivers against it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

PATTERN_CHUNK = 16 << 20


def pattern(n: int, seed: int = 0) -> bytes:
    """n bytes that make misordering or corruption visible (not a repeating short cycle)."""
    if n < PATTERN_CHUNK:
        return random.Random(seed).randbytes(n)
    return b"".join(pattern_chunks(n, seed))


def pattern_chunks(n: int, seed: int = 0) -> Iterator[bytes]:
    """`pattern(n, seed)` in pieces of at most PATTERN_CHUNK bytes (the same bytes)."""
    # randbytes(n) asks for n*8 random bits in one C int: 256 MiB and more overflow. Chunks of
    # a multiple of 4 bytes draw the same 32-bit words in the same order: the same bytes.
    rng = random.Random(seed)
    for off in range(0, n, PATTERN_CHUNK):
        yield rng.randbytes(min(PATTERN_CHUNK, n - off))


__all__ = ["PATTERN_CHUNK", "pattern", "pattern_chunks"]
