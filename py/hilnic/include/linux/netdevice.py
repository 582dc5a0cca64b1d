"""include/linux/netdevice.h: the link-layer headroom macro the IP builders reserve."""

from __future__ import annotations

from typing import Protocol

HH_DATA_MOD = 16


class _LinkHeader(Protocol):
    hard_header_len: int


def LL_RESERVED_SPACE(dev: _LinkHeader) -> int:
    """Link-layer headroom rounded to HH_DATA_MOD, plus one more HH_DATA_MOD (16 for Ethernet)."""
    return ((dev.hard_header_len + getattr(dev, "needed_headroom", 0)) & ~(HH_DATA_MOD - 1)) + HH_DATA_MOD
