"""connect() on a datagram socket (net/ipv4/datagram.c): ip4_datagram_connect.

It routes once, fixes the source address, caches the route on the socket (sk_dst_set:
udp_sendmsg then reuses it through sk_dst_check), marks the socket ESTABLISHED and draws a
random starting IP ID (inet_id), from which the socket numbers its own datagrams.
"""

from __future__ import annotations

import errno

from hilnic.kernel.ftrace import traced
from hilnic.net.core.net_namespace import get_random_u16
from hilnic.net.core.sock import TCP_ESTABLISHED, Sock, lock_sock, release_sock
from hilnic.net.ipv4.route import RTN_BROADCAST, ip_route_output


def __ip4_datagram_connect(sk: Sock, daddr: int, dport: int) -> int:
    host = sk.host
    sk.sk_dst_cache = None  # sk_dst_reset
    try:
        rt = ip_route_output(host, daddr, sk.inet_saddr)  # ip_route_connect
    except OSError as e:
        if e.errno == errno.ENETUNREACH:
            host.snmp_inc("Ip", "OutNoRoutes")
        return -(e.errno or errno.ENETUNREACH)
    if rt.rt_type == RTN_BROADCAST and not getattr(sk, "sk_broadcast", False):
        return -errno.EACCES
    if not sk.inet_saddr:
        sk.inet_saddr = rt.rt_src  # update source address
    sk.inet_daddr = daddr
    sk.inet_dport = dport
    sk.sk_state = TCP_ESTABLISHED
    sk.inet_id = get_random_u16(host)
    sk.sk_dst_cache = rt  # sk_dst_set
    return 0


@traced
def ip4_datagram_connect(sk: Sock, daddr: int, dport: int) -> None:
    """sk_prot->connect of UDP; errors raise OSError with the kernel's errno."""
    lock_sock(sk)
    try:
        err = __ip4_datagram_connect(sk, daddr, dport)
    finally:
        release_sock(sk)
    if err:
        raise OSError(-err, errno.errorcode.get(-err, "connect failed"))


__all__ = ["__ip4_datagram_connect", "ip4_datagram_connect"]
