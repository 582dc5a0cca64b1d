"""IP-level socket options (net/ipv4/ip_sockglue.c): what TCP and UDP pass down for SOL_IP."""

from __future__ import annotations

import errno

from hilnic.include.linux.socket import SOL_IP
from hilnic.include.uapi.linux.in_ import IP_MTU_DISCOVER, IP_PMTUDISC_DONT, IP_PMTUDISC_OMIT
from hilnic.net.core.sock import Sock


def ip_setsockopt(sk: Sock, level: int, optname: int, value: int | str | bytes) -> None:
    if level == SOL_IP and optname == IP_MTU_DISCOVER:
        if not isinstance(value, int):
            raise OSError(errno.EINVAL, "option value must be an int")
        if not IP_PMTUDISC_DONT <= value <= IP_PMTUDISC_OMIT:
            raise OSError(errno.EINVAL, "IP_MTU_DISCOVER out of range")
        sk.pmtudisc = value
        return
    raise OSError(errno.ENOPROTOOPT, f"option {level}/{optname} not supported")


def ip_getsockopt(sk: Sock, level: int, optname: int) -> int:
    if level == SOL_IP and optname == IP_MTU_DISCOVER:
        return sk.pmtudisc
    raise OSError(errno.ENOPROTOOPT, f"option {level}/{optname} not supported")
