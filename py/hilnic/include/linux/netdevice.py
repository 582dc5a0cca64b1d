"""include/linux/netdevice.h: the link-layer headroom macro the IP builders reserve."""

from __future__ import annotations

from typing import Protocol

HH_DATA_MOD = 16


class _LinkHeader(Protocol):
    hard_header_len: int


def LL_RESERVED_SPACE(dev: _LinkHeader) -> int:
    """Link-layer headroom rounded to HH_DATA_MOD, plus one more HH_DATA_MOD (16 for Ethernet)."""
    return ((dev.hard_header_len + getattr(dev, "needed_headroom", 0)) & ~(HH_DATA_MOD - 1)) + HH_DATA_MOD


# LL_MAX_HEADER and MAX_HEADER depend on the kernel's configuration: LL_MAX_HEADER is 128 with
# Hyper-V's netvsc (CONFIG_HYPERV_NET), 96 with WLAN or AX25 (128 with mesh), else 32;
# MAX_HEADER adds 48 when an IP tunnel (ipip, gre, sit, ip6_tunnel) is built. The values are
# those of the reference kernel, the 6.18 Firecracker guest the real-Linux captures come from
# (none of those options: /proc/config.gz), which TCP's buffer sizes then match (include/net/tcp.py).
# A distribution kernel (Hyper-V and tunnels as modules) has 128 and 176.
LL_MAX_HEADER = 32
MAX_HEADER = LL_MAX_HEADER
