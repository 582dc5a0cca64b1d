"""The Internet checksum, once (lib/checksum.c, include/net/checksum.h, arch csum_partial).

Everything that sums 16-bit words — the stack's software checksums, the behavioral NIC's
checksum offload, the wire-side peer and the tests — uses these functions.

The trick that makes it cheap in Python: a byte string read as one big-endian integer N is
congruent, modulo 0xFFFF, to the ones'-complement sum of its 16-bit words (2^16 ≡ 1 mod
0xFFFF), and concatenation shifts by whole words, so sums of pieces add. For long buffers the
32-bit words are summed with numpy (2^32 ≡ 1 as well); summing them little-endian and
multiplying by 2^8 gives the same residue (RFC 1071's byte-order independence). A residue
of 0 from a non-zero sum is ones'-complement "negative zero", 0xFFFF.
"""

from __future__ import annotations

import array
import struct
import sys

import numpy as np

_LE32 = np.dtype("<u4")
_U64 = np.uint64
_add_reduce = np.add.reduce
_H10 = struct.Struct("!10H")

Buffer = bytes | bytearray | memoryview


def csum_words(data: Buffer) -> int:
    """An integer ≡ (mod 0xFFFF) the big-endian value of `data` zero-padded to whole words.

    0 only when every byte is 0, so folding it gives the ones'-complement word sum.
    """
    n = len(data)
    if n < 128:
        v = int.from_bytes(data, "big")
        return v << 8 if n & 1 else v
    k = n >> 2
    s = int(_add_reduce(np.frombuffer(data, _LE32, k), dtype=_U64)) << 8  # LE words: ×2^8 ≡ the BE sum
    r = n & 3
    if r:  # the tail, zero-padded to a 32-bit word (an odd byte is a word's high byte)
        s += int.from_bytes(data[4 * k :], "big") << (8 * (4 - r))
    return s


def csum_partial(data: Buffer, initial: int = 0) -> int:
    """Ones'-complement sum of big-endian 16-bit words (odd byte zero-padded), folded to 16 bits.

    `initial` is an earlier sum (folded or not). 0 only when data and initial are all zero.
    """
    if initial >= 0:
        s = csum_words(data) + initial
        return (s - 1) % 0xFFFF + 1 if s else 0
    # a negative initial is not a sum; keep the plain word loop for it
    if len(data) & 1:
        data = bytes(data) + b"\0"
    words = array.array("H", data)
    if sys.byteorder == "little":
        words.byteswap()
    s = initial + sum(words)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def csum_fold(s: int) -> int:
    """Fold a 32-bit (or wider) sum to 16 bits and complement it: the value to store."""
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip_fast_csum(hdr: Buffer) -> int:
    """The folded complement of the ones'-complement sum of a 20-byte IP header (0 = valid)."""
    s = sum(_H10.unpack(hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def csum_tcpudp_nofold(saddr: int, daddr: int, length: int, proto: int, csum: int = 0) -> int:
    """Pseudo-header sum added to `csum` (unfolded ones'-complement arithmetic)."""
    s = csum + (saddr >> 16) + (saddr & 0xFFFF) + (daddr >> 16) + (daddr & 0xFFFF) + proto + length
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def csum_tcpudp_magic(saddr: int, daddr: int, length: int, proto: int, csum: int = 0) -> int:
    """The folded, complemented pseudo-header checksum (include/asm-generic/checksum.h)."""
    return csum_fold(csum_tcpudp_nofold(saddr, daddr, length, proto, csum))


def pseudo_sum(src: bytes, dst: bytes, proto: int, length: int) -> int:
    """Word sum of the IPv4 pseudo-header (RFC 793/768), addresses as 4 network-order bytes."""
    return int.from_bytes(src, "big") + int.from_bytes(dst, "big") + proto + length


def inet_checksum(data: Buffer, initial: int = 0) -> int:
    """RFC 1071 checksum (the value to store) of `data` plus an `initial` word sum."""
    n = csum_words(data) + initial
    s = n % 0xFFFF
    return ~(0xFFFF if s == 0 and n else s) & 0xFFFF


def csum_ok(data: Buffer, initial: int = 0) -> bool:
    """True if `data` (with its checksum field in place) plus `initial` sums to 0xFFFF."""
    n = csum_words(data) + initial
    return n != 0 and n % 0xFFFF == 0
