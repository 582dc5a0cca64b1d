"""Keyed hashes of the connection tuple (net/core/secure_seq.c).

Linux keys them with secrets drawn once per boot (net_get_random_once) and hashes with
siphash; here the secret comes from the host's seeded entropy pool and BLAKE2b stands in for
siphash, so values look random but repeat from run to run with the same --seed.
"""

from __future__ import annotations

import hashlib
import struct

from hilnic.net.core.net_namespace import Host, get_random_bytes

_2U32 = struct.Struct("!II")


def _secret(host: Host, name: str) -> bytes:
    """net_get_random_once(&name, sizeof(name)): drawn at first use, then fixed."""
    key = f"secure_seq:{name}"
    secret: bytes | None = host.ext.get(key)
    if secret is None:
        secret = host.ext[key] = get_random_bytes(host, 16)
    return secret


def siphash_2u32(a: int, b: int, secret: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(_2U32.pack(a, b), key=secret, digest_size=4).digest(), "big")


def secure_tcp_ts_off(host: Host, saddr: int, daddr: int) -> int:
    """The TSval offset of a connection between saddr and daddr (tcp_v4_connect's
    tp->tsoffset): random per address pair, 0 unless net.ipv4.tcp_timestamps is 1."""
    if host.sysctl.tcp_timestamps != 1:
        return 0
    return siphash_2u32(saddr, daddr, _secret(host, "ts_secret"))


__all__ = ["secure_tcp_ts_off", "siphash_2u32"]
