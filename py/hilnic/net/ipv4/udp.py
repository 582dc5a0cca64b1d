"""UDP over IPv4 (net/ipv4/udp.c) and the datagram builder (ip_make_skb, __ip_append_data).

udp_sendmsg copies the payload into MTU-sized skbs chained on the first one's frag_list;
a datagram larger than the MTU leaves as IP fragments through ip_do_fragment's fast path.
The checksum is left to the device (CHECKSUM_PARTIAL) only when the datagram fits the MTU
and the device offloads checksums; otherwise it is summed during the copy.

Sockets come from net/socket.py; the fields used here are those of `Sock` (net/core/sock.py):
host, inet_saddr/daddr/sport/dport, inet_id, pmtudisc, sk_sndbuf, sk_wmem_alloc,
sk_priority, sk_dst_cache, sk_state, sk_err, sk_receive_queue.
"""

from __future__ import annotations

import errno
import struct

from hilnic.include.linux.inet import in_ntoa, inet_addr
from hilnic.include.linux.netdevice import LL_RESERVED_SPACE
from hilnic.include.linux.socket import MSG_DONTWAIT, MSG_MORE, MSG_OOB, MSG_PROBE, SOL_TCP
from hilnic.include.net.ip import IP_DF, IP_MAX_MTU, IPDEFTTL, IPHDR_LEN
from hilnic.include.net.tcp_states import TCP_CLOSE, TCP_ESTABLISHED
from hilnic.include.uapi.linux.icmp import ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_PORT_UNREACH, ICMP_TIME_EXCEEDED
from hilnic.include.uapi.linux.in_ import IP_PMTUDISC_DO, IP_PMTUDISC_DONT, IP_PMTUDISC_PROBE, IPPROTO_UDP
from hilnic.include.uapi.linux.udp import UDPHDR_LEN
from hilnic.kernel.ftrace import traced
from hilnic.lib.checksum import csum_fold, csum_partial, csum_tcpudp_nofold
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdev_features import NETIF_F_HW_CSUM, NETIF_F_IP_CSUM
from hilnic.net.core.netdevice import NetDevice
from hilnic.net.core.skbuff import CHECKSUM_NONE, CHECKSUM_PARTIAL, SkBuff, alloc_skb, kfree_skb, skb_stats
from hilnic.net.core.sock import SOCK_NOSPACE, Proto, Sock, skb_set_owner_w, sock_wait_for_wmem, sock_wfree
from hilnic.net.ipv4.datagram import ip4_datagram_connect
from hilnic.net.ipv4.icmp import icmp_send
from hilnic.net.ipv4.ip_output import ip_dont_fragment, ip_select_ident_segs, ip_send_skb, ip_sk_ignore_df, ip_sk_use_pmtu
from hilnic.net.ipv4.ip_sockglue import ip_getsockopt, ip_setsockopt
from hilnic.net.ipv4.route import RTN_BROADCAST, Rtable, dst_mtu, ip_route_output, ipv4_sk_update_pmtu, sk_dst_check
from hilnic.net.socket import move_addr_to_kernel

UDP_MAX_PAYLOAD = IP_MAX_MTU - IPHDR_LEN - UDPHDR_LEN  # 65507

EPHEMERAL_PORTS = (32768, 60999)  # net.ipv4.ip_local_port_range
SK_RMEM_DEFAULT = 212992  # net.core.rmem_default

_UDPHDR = struct.Struct("!HHHH")
_IPHDR = struct.Struct("!BBHHHBBHII")

# icmp_err_convert[] (net/ipv4/icmp.c): DEST_UNREACH code → (errno, fatal)
ICMP_ERR_CONVERT = {
    0: (errno.ENETUNREACH, 0), 1: (errno.EHOSTUNREACH, 0), 2: (errno.ENOPROTOOPT, 1), 3: (errno.ECONNREFUSED, 1),
    4: (errno.EMSGSIZE, 0), 5: (errno.EOPNOTSUPP, 0), 6: (errno.ENETUNREACH, 1), 7: (errno.EHOSTDOWN, 1),
    8: (errno.ENONET, 1), 9: (errno.ENETUNREACH, 1), 10: (errno.EHOSTUNREACH, 1), 11: (errno.ENETUNREACH, 0),
    12: (errno.EHOSTUNREACH, 0), 13: (errno.EHOSTUNREACH, 1), 14: (errno.EHOSTUNREACH, 1), 15: (errno.EHOSTUNREACH, 1),
}



class SndbufWait(OSError):
    """sock_alloc_send_skb on a blocking socket with the send buffer full: the sender must
    sleep until write space (sock_def_write_space) and try again."""


class SndbufFull(OSError):
    """sock_alloc_send_skb on a non-blocking socket with the send buffer full (EAGAIN,
    counted as SndbufErrors)."""


def udp_init(host: Host) -> None:
    host.ext.setdefault("udp_table", {})
    host.ext.setdefault("udp_port_rover", EPHEMERAL_PORTS[0])


def _dev_csum_features(dev: NetDevice) -> int:
    return dev.features & (NETIF_F_HW_CSUM | NETIF_F_IP_CSUM)


# -- port table -----------------------------------------------------------------------------


def udp_v4_get_port(sk: Sock, snum: int) -> int:
    """Bind sk to port `snum` (0 = pick an ephemeral one); EADDRINUSE if taken."""
    host = sk.host
    table = host.ext["udp_table"]
    if snum:
        if not 0 < snum <= 0xFFFF:
            raise OSError(errno.EINVAL, f"port {snum} out of range")
        if snum in table:
            raise OSError(errno.EADDRINUSE, "Address already in use")
    else:
        lo, hi = EPHEMERAL_PORTS
        port = host.ext["udp_port_rover"]
        for _ in range(hi - lo + 1):
            if port not in table:
                break
            port = lo if port >= hi else port + 1
        else:
            raise OSError(errno.EADDRINUSE, "no free ephemeral port")
        host.ext["udp_port_rover"] = lo if port >= hi else port + 1
        snum = port
    table[snum] = sk
    sk.inet_sport = snum
    return snum


def udp_lib_unhash(sk: Sock) -> None:
    table = sk.host.ext["udp_table"]
    if table.get(sk.inet_sport) is sk:
        del table[sk.inet_sport]


def udp4_lib_lookup(host: Host, saddr: int, sport: int, daddr: int, dport: int) -> Sock | None:
    """The socket bound to dport (and, if connected, to that peer)."""
    sk = host.ext["udp_table"].get(dport)
    if sk is None:
        return None
    if sk.inet_saddr and sk.inet_saddr != daddr:
        return None
    if sk.sk_state == TCP_ESTABLISHED and (sk.inet_daddr != saddr or sk.inet_dport != sport):
        return None
    return sk


# -- send -----------------------------------------------------------------------------------


@traced
def udp_sendmsg(sk: Sock, data: bytes | bytearray | memoryview | list[memoryview], flags: int,
                addr: tuple[str | int, int] | None) -> int:
    """Send one datagram; returns its length. Errors raise OSError with the Linux errno."""
    payload = b"".join(data) if isinstance(data, (list, tuple)) else bytes(data)
    length = len(payload)
    host = sk.host
    if length > 0xFFFF:
        raise OSError(errno.EMSGSIZE, "Message too long")
    if flags & MSG_OOB:
        raise OSError(errno.EOPNOTSUPP, "MSG_OOB on a UDP socket")
    if flags & MSG_MORE:
        raise OSError(errno.EOPNOTSUPP, "UDP corking (MSG_MORE) is not modelled")
    connected = False
    if addr is not None:
        try:
            daddr, dport = inet_addr(addr[0]), int(addr[1])
        except (TypeError, ValueError, IndexError):
            raise OSError(errno.EINVAL, f"bad destination {addr!r}") from None
        if not 0 < dport <= 0xFFFF:
            raise OSError(errno.EINVAL, f"destination port {dport} invalid")
    else:
        if sk.sk_state != TCP_ESTABLISHED:
            raise OSError(errno.EDESTADDRREQ, "Destination address required")
        daddr, dport = sk.inet_daddr, sk.inet_dport
        connected = True
    if not sk.inet_sport:
        udp_v4_get_port(sk, 0)  # inet_send_prepare → inet_autobind

    rt = sk_dst_check(sk) if connected else None
    if rt is None:
        try:
            rt = ip_route_output(host, daddr)
        except OSError:
            host.snmp_inc("Ip", "OutNoRoutes")
            raise
        if rt.rt_type == RTN_BROADCAST and not getattr(sk, "sk_broadcast", False):
            raise OSError(errno.EACCES, "broadcast without SO_BROADCAST")
        if connected:
            sk.sk_dst_cache = rt
    saddr = sk.inet_saddr or rt.rt_src
    if flags & MSG_PROBE:
        return length
    try:
        skb = ip_make_skb(sk, rt, saddr, daddr, payload, length + UDPHDR_LEN, UDPHDR_LEN, flags)
        err = udp_send_skb(skb, saddr, daddr, sk.inet_sport, dport)
    except OSError as e:
        if e.errno == errno.ENOBUFS or isinstance(e, SndbufFull):
            host.snmp_inc("Udp", "SndbufErrors")
        raise
    if err:
        raise OSError(-err, errno.errorcode.get(-err, "error"))
    return length


def ip_make_skb(sk: Sock, rt: Rtable, saddr: int, daddr: int, payload: bytes, length: int, transhdrlen: int,
                flags: int) -> SkBuff:
    fragsize = dst_mtu(rt) if ip_sk_use_pmtu(sk) else rt.dev.mtu  # ip_setup_cork
    queue: list[SkBuff] = []
    try:
        __ip_append_data(sk, rt, queue, fragsize, payload, length, transhdrlen, flags)
    except OSError:
        for skb in queue:  # __ip_flush_pending_frames
            kfree_skb(skb, "ip_append_failed")
        raise
    return __ip_make_skb(sk, rt, queue, saddr, daddr)


@traced
def __ip_append_data(sk: Sock, rt: Rtable, queue: list[SkBuff], mtu: int, payload: bytes, length: int,
                     transhdrlen: int, flags: int) -> None:
    """Copy the datagram into skbs of at most maxfraglen (the IP header room included)."""
    host = sk.host
    dev = rt.dev
    hh_len = LL_RESERVED_SPACE(dev)
    fragheaderlen = IPHDR_LEN
    maxfraglen = ((mtu - fragheaderlen) & ~7) + fragheaderlen
    maxnonfragsize = IP_MAX_MTU if ip_sk_ignore_df(sk) else mtu
    if length > maxnonfragsize - fragheaderlen:
        raise OSError(errno.EMSGSIZE, "Message too long")
    csummode = CHECKSUM_NONE
    if transhdrlen and length + fragheaderlen <= mtu and _dev_csum_features(dev) and not flags & MSG_MORE:
        csummode = CHECKSUM_PARTIAL
    offset = 0
    wmem_alloc_delta = 0
    try:
        while length > 0:
            datalen = length
            if datalen > mtu - fragheaderlen:
                datalen = maxfraglen - fragheaderlen
            fraglen = datalen + fragheaderlen
            alloclen = fraglen + hh_len + 15  # linear: MTU ≤ 9216 keeps fraglen below SKB_MAX_ALLOC
            if transhdrlen:
                if sk.sk_wmem_alloc - 1 >= sk.sk_sndbuf:  # sock_alloc_send_skb would block
                    sk.sk_flags.add(SOCK_NOSPACE)
                    if not flags & MSG_DONTWAIT:
                        # a blocking socket sleeps in sock_wait_for_wmem; nothing is built yet,
                        # so the caller (inet_sendmsg) waits and calls udp_sendmsg again
                        raise SndbufWait(errno.EAGAIN, "send buffer full: wait for write space")
                    raise SndbufFull(errno.EAGAIN, "Resource temporarily unavailable (sndbuf full)")
                skb = alloc_skb(alloclen)
                skb_set_owner_w(skb, sk)
            else:
                if sk.sk_wmem_alloc + wmem_alloc_delta > 2 * sk.sk_sndbuf:
                    raise OSError(errno.ENOBUFS, "No buffer space available")
                skb = alloc_skb(alloclen)
            skb.ip_summed = csummode
            skb.csum = 0
            skb.skb_reserve(hh_len)
            off = skb.skb_put(fraglen)
            skb.network_header = off
            skb.transport_header = off + fragheaderlen
            copy = datalen - transhdrlen
            if copy > 0:
                piece = payload[offset : offset + copy]
                skb.write_at(off + fragheaderlen + transhdrlen, piece)
                skb_stats.user_copy_bytes += copy
                if csummode != CHECKSUM_PARTIAL:  # csum_and_copy_from_iter
                    skb.csum = csum_partial(piece)
                    skb_stats.csum_bytes += copy
            offset += copy
            length -= copy + transhdrlen
            transhdrlen = 0
            csummode = CHECKSUM_NONE
            if skb.destructor is None:
                skb.destructor = sock_wfree
                skb.sk = sk
                wmem_alloc_delta += skb.truesize
            queue.append(skb)
    except SndbufWait:
        raise
    except OSError:
        host.snmp_inc("Ip", "OutDiscards")
        raise
    finally:
        sk.sk_wmem_alloc += wmem_alloc_delta


@traced
def __ip_make_skb(sk: Sock, rt: Rtable, queue: list[SkBuff], saddr: int, daddr: int) -> SkBuff:
    """Chain the pieces on the first skb's frag_list and write the IP header."""
    skb = queue[0]
    prev = None
    for tmp in queue[1:]:
        tmp.skb_pull(IPHDR_LEN)  # the header room stays as headroom for ip_do_fragment
        if prev is None:
            skb.shinfo.frag_list = tmp
        else:
            prev.next = tmp
        prev = tmp
        skb.len += tmp.len
        skb.data_len += tmp.len
        skb.truesize += tmp.truesize
        tmp.destructor = None
        tmp.sk = None
    skb.ignore_df = ip_sk_ignore_df(sk)
    df = sk.pmtudisc in (IP_PMTUDISC_DO, IP_PMTUDISC_PROBE) or (skb.len <= dst_mtu(rt) and ip_dont_fragment(sk, rt))
    ident = ip_select_ident_segs(sk.host, sk, df, skb.ignore_df, 1, daddr, saddr, IPPROTO_UDP)
    skb.write_at(skb.network_header, _IPHDR.pack(0x45, getattr(sk, "tos", 0), 0, ident, IP_DF if df else 0, IPDEFTTL,
                                                 IPPROTO_UDP, 0, saddr, daddr))
    skb.priority = sk.sk_priority
    skb.dst = rt
    return skb


@traced
def udp_send_skb(skb: SkBuff, saddr: int, daddr: int, sport: int, dport: int) -> int:
    """Fill the UDP header and checksum (or its pseudo-header part for offload), ip_send_skb."""
    sk = skb.sk
    host = sk.host
    th = skb.transport_header
    ulen = skb.len - (th - skb.data)
    if skb.ip_summed == CHECKSUM_PARTIAL:  # udp4_hwcsum
        skb.csum_start = th
        skb.csum_offset = 6
        check = (~csum_fold(csum_tcpudp_nofold(saddr, daddr, ulen, IPPROTO_UDP))) & 0xFFFF
    else:  # udp_csum: the header plus the sums taken during the copy
        s = csum_partial(_UDPHDR.pack(sport, dport, ulen, 0), skb.csum)
        frag = skb.shinfo.frag_list
        while frag is not None:
            s += frag.csum
            frag = frag.next
        skb_stats.csum_bytes += UDPHDR_LEN
        check = csum_fold(csum_tcpudp_nofold(saddr, daddr, ulen, IPPROTO_UDP, s)) or 0xFFFF
    skb.write_at(th, _UDPHDR.pack(sport, dport, ulen, check))
    err = ip_send_skb(host, skb)
    if err:
        if err == -errno.ENOBUFS and not getattr(sk, "recverr", False):
            host.snmp_inc("Udp", "SndbufErrors")
            err = 0
    else:
        host.snmp_inc("Udp", "OutDatagrams")
    return err


# -- receive --------------------------------------------------------------------------------


@traced
def udp_rcv(host: Host, skb: SkBuff) -> int:
    """__udp4_lib_rcv: length and checksum checks, socket lookup, queue or ICMP port unreachable."""
    if skb.len < UDPHDR_LEN:
        host.snmp_inc("Udp", "InErrors")
        kfree_skb(skb, "udp_short")
        return 0
    sport, dport, ulen, check = _UDPHDR.unpack(skb.read_at(skb.data, UDPHDR_LEN))
    if ulen < UDPHDR_LEN or ulen > skb.len:
        host.snmp_inc("Udp", "InErrors")
        kfree_skb(skb, "udp_short")
        return 0
    if ulen < skb.len:
        skb.skb_trim(ulen)
    iph = skb.read_at(skb.network_header, IPHDR_LEN)
    saddr = int.from_bytes(iph[12:16], "big")
    daddr = int.from_bytes(iph[16:20], "big")
    if check:
        data = skb.read_at(skb.data, ulen)
        if csum_fold(csum_tcpudp_nofold(saddr, daddr, ulen, IPPROTO_UDP, csum_partial(data))) != 0:
            host.snmp_inc("Udp", "InCsumErrors")
            host.snmp_inc("Udp", "InErrors")
            kfree_skb(skb, "udp_csum")
            return 0
    sk = udp4_lib_lookup(host, saddr, sport, daddr, dport)
    if sk is None:
        host.snmp_inc("Udp", "NoPorts")
        icmp_send(host, skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0)
        kfree_skb(skb, "no_socket")
        return 0
    q = sk.sk_receive_queue
    rcvbuf = getattr(sk, "sk_rcvbuf", SK_RMEM_DEFAULT)
    if sum(s.truesize for s in q) + skb.truesize > rcvbuf:
        host.snmp_inc("Udp", "RcvbufErrors")
        host.snmp_inc("Udp", "InErrors")
        kfree_skb(skb, "socket_rcvbuff")
        return 0
    skb.cb["udp_src"] = (saddr, sport)
    q.append(skb)
    data_ready = getattr(sk, "sk_data_ready", None)
    if data_ready is not None:
        data_ready(sk)
    return 0


def udp_recvmsg(sk: Sock) -> tuple[bytes, tuple[str, int]]:
    """Dequeue one datagram: (payload, (source address, source port)); EAGAIN if none."""
    if not sk.sk_receive_queue:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
    skb = sk.sk_receive_queue.popleft()
    data = skb.read_at(skb.data + UDPHDR_LEN, skb.len - UDPHDR_LEN)
    saddr, sport = skb.cb["udp_src"]
    sk.host.snmp_inc("Udp", "InDatagrams")
    kfree_skb(skb, "consumed")
    return data, (in_ntoa(saddr), sport)


def udp_err(host: Host, skb: SkBuff, info: int) -> int:
    """__udp4_lib_err: an ICMP error quoting one of our datagrams (skb.data at the quoted header)."""
    raw = skb.read_at(skb.data, IPHDR_LEN + UDPHDR_LEN)
    ihl = (raw[0] & 0xF) * 4
    if ihl != IPHDR_LEN:
        raw = skb.read_at(skb.data, ihl + UDPHDR_LEN)
    saddr = int.from_bytes(raw[12:16], "big")
    daddr = int.from_bytes(raw[16:20], "big")
    sport, dport = struct.unpack_from("!HH", raw, ihl)
    icmp_type, code = skb.read_at(skb.transport_header, 2)
    sk = udp4_lib_lookup(host, daddr, dport, saddr, sport)
    if sk is None:
        host.snmp_inc("Icmp", "InErrors")
        return -errno.ENOENT
    harderr = 0
    err = 0
    if icmp_type == ICMP_TIME_EXCEEDED:
        err = errno.EHOSTUNREACH
    elif icmp_type == ICMP_DEST_UNREACH:
        if code == ICMP_FRAG_NEEDED:
            ipv4_sk_update_pmtu(sk, daddr, info)
            if sk.pmtudisc != IP_PMTUDISC_DONT:
                err = errno.EMSGSIZE
                harderr = 1
            else:
                return 0
        else:
            err, harderr = ICMP_ERR_CONVERT.get(code, (errno.EHOSTUNREACH, 0))
    else:
        err = errno.EPROTO
        harderr = 1
    if not harderr or sk.sk_state != TCP_ESTABLISHED:
        return 0  # without IP_RECVERR only hard errors on connected sockets are reported
    sk.sk_err = err
    report = getattr(sk, "sk_error_report", None)
    if report is not None:
        report(sk)
    return 0


# -- struct proto -------------------------------------------------------------------------------


async def udp_sendmsg_wait(sk: Sock, bufs: list[memoryview], flags: int, address: object) -> int:
    """sk_prot->sendmsg: udp_sendmsg, sleeping in sock_wait_for_wmem while a blocking socket's
    send buffer is full (the kernel sleeps inside sock_alloc_send_skb; nothing is built yet)."""
    addr = move_addr_to_kernel(address) if address is not None else None
    while True:
        try:
            return udp_sendmsg(sk, bufs, flags, addr)
        except SndbufWait:
            await sock_wait_for_wmem(sk)


def udp_lib_close(sk: Sock) -> None:
    udp_lib_unhash(sk)
    sk.sk_state = TCP_CLOSE


def udp_setsockopt(sk: Sock, level: int, optname: int, value: int | str | bytes) -> None:
    if level == SOL_TCP:
        raise OSError(errno.EOPNOTSUPP, "TCP option on a non-TCP socket")
    ip_setsockopt(sk, level, optname, value)


def udp_getsockopt(sk: Sock, level: int, optname: int) -> int:
    if level == SOL_TCP:
        raise OSError(errno.EOPNOTSUPP, "TCP option on a non-TCP socket")
    return ip_getsockopt(sk, level, optname)


udp_prot = Proto(
    name="UDP",
    obj_type=Sock,
    close=udp_lib_close,
    connect=ip4_datagram_connect,
    get_port=udp_v4_get_port,
    sendmsg=udp_sendmsg_wait,
    setsockopt=udp_setsockopt,
    getsockopt=udp_getsockopt,
)
