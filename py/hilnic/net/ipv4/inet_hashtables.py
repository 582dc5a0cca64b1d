"""Established-socket hash table and ephemeral ports (net/ipv4/inet_hashtables.c)."""

from __future__ import annotations

import errno
import random
from typing import Protocol

from hilnic.net.core.net_namespace import Host
from hilnic.net.core.sock import TcpSock

IP_LOCAL_PORT_RANGE = (32768, 60999)  # net.ipv4.ip_local_port_range


class SockCommon(Protocol):
    """struct sock_common: what the established hash reads of its entries, full socks
    (TcpSock) and the timewait socks that replace them (inet_timewait_sock.py, above)."""

    host: Host
    sk_state: int
    inet_saddr: int
    inet_daddr: int
    inet_sport: int
    inet_dport: int


EhashSock = TcpSock | SockCommon


def _ehash(host: Host) -> dict[tuple[int, int, int, int], EhashSock]:
    tbl: dict[tuple[int, int, int, int], EhashSock] | None = host.ext.get("tcp_ehash")
    if tbl is None:
        tbl = host.ext["tcp_ehash"] = {}
    return tbl


def _key(sk: EhashSock) -> tuple[int, int, int, int]:
    return (sk.inet_daddr, sk.inet_dport, sk.inet_saddr, sk.inet_sport)


def __inet_hash_connect(sk: TcpSock) -> None:
    """Pick a free ephemeral port (ip_local_port_range) and hash the 4-tuple."""
    tbl = _ehash(sk.host)
    lo, hi = IP_LOCAL_PORT_RANGE
    rng: random.Random = sk.host.ext.setdefault("tcp_port_rng", random.Random(0x5EED))
    start = rng.randrange(lo, hi + 1)
    for i in range(hi - lo + 1):
        port = lo + (start - lo + i) % (hi - lo + 1)
        key = (sk.inet_daddr, sk.inet_dport, sk.inet_saddr, port)
        if key not in tbl:
            sk.inet_sport = port
            tbl[key] = sk
            return
    raise OSError(errno.EADDRNOTAVAIL, "no free ephemeral port")


def inet_unhash(sk: TcpSock) -> None:
    """Remove sk from the established hash (nothing if a timewait sock has replaced it)."""
    inet_ehash_remove(sk)


def inet_ehash_remove(sk: EhashSock) -> None:
    tbl = _ehash(sk.host)
    key = _key(sk)
    if tbl.get(key) is sk:
        del tbl[key]


def inet_ehash_replace(osk: TcpSock, nsk: EhashSock) -> None:
    """inet_twsk_hashdance's sk_nulls_replace_node_init_rcu: nsk takes osk's slot."""
    _ehash(osk.host)[_key(osk)] = nsk


def __inet_lookup_established(host: Host, saddr: int, sport: int, daddr: int, dport: int) -> EhashSock | None:
    return _ehash(host).get((saddr, sport, daddr, dport))
