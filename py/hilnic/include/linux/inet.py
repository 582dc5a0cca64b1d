"""include/linux/inet.h: dotted-quad conversion (in_aton is net/core/utils.c).

Addresses are ints in host byte order inside the stack (what `struct.pack("!I")` writes);
the API edges also take dotted strings (`inet_addr`).
"""

from __future__ import annotations

import errno
import socket as _pysocket
import struct
from functools import lru_cache


@lru_cache(maxsize=4096)
def in_aton(text: str) -> int:
    try:
        addr: int = struct.unpack("!I", _pysocket.inet_aton(text))[0]
    except OSError:
        raise OSError(errno.EINVAL, f"invalid IPv4 address {text!r}") from None
    return addr


@lru_cache(maxsize=4096)
def in_ntoa(addr: int) -> str:
    return _pysocket.inet_ntoa(struct.pack("!I", addr))


def inet_addr(addr: int | str) -> int:
    """An address as the stack keeps it (int); dotted strings are converted."""
    if type(addr) is int:
        return addr
    if isinstance(addr, str):
        return in_aton(addr)
    raise TypeError(f"IPv4 address must be int or str, not {type(addr).__name__}")
