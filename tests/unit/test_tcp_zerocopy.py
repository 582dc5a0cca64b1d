"""MSG_ZEROCOPY (behaviour 24): notifications after the peer's ACK, not NIC completion."""

import errno

import pytest
from tcp_rig import Rig

from hilnic.net.core.netdev_features import NETIF_F_SG
from hilnic.net.core.skbuff import skb_stats
from hilnic.net.core.sock import SO_EE_CODE_ZEROCOPY_COPIED, SO_EE_ORIGIN_ZEROCOPY
from hilnic.net.socket import MSG_ERRQUEUE, MSG_ZEROCOPY, SO_ZEROCOPY, SOL_SOCKET


def zc_rig(monkeypatch):
    rig = Rig(monkeypatch, auto_complete=False)
    rig.connect(window_update=1024)
    rig.sock.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    return rig


def test_24_notification_after_ack_not_after_completion(monkeypatch):
    rig = zc_rig(monkeypatch)
    data = bytes(range(256)) * 40  # 10240 B over 3 user pages
    copied_before = skb_stats.user_copy_bytes
    assert rig.do(rig.sock.send(data, MSG_ZEROCOPY)) == len(data)
    assert skb_stats.user_copy_bytes == copied_before  # pinned, not copied
    assert b"".join(s.payload for s in rig.ip.sent) == data
    rig.ip.complete()  # NIC completion: the clones are gone, the originals still hold the pages
    with pytest.raises(OSError) as e:
        rig.sock.recvmsg(MSG_ERRQUEUE)
    assert e.value.errno == errno.EAGAIN
    rig.ack_all(window=1024)
    ee = rig.sock.recvmsg(MSG_ERRQUEUE)
    assert (ee.ee_origin, ee.ee_errno, ee.ee_info, ee.ee_data, ee.ee_code) == (SO_EE_ORIGIN_ZEROCOPY, 0, 0, 0, 0)


def test_24_ids_coalesce_into_one_range(monkeypatch):
    rig = zc_rig(monkeypatch)
    for _ in range(3):
        rig.do(rig.sock.send(b"z" * 100, MSG_ZEROCOPY))
    rig.ip.complete()
    rig.ack_all(window=1024)
    rig.ip.complete()
    rig.ack_all(window=1024)
    ee = rig.sock.recvmsg(MSG_ERRQUEUE)
    assert (ee.ee_info, ee.ee_data) == (0, 2)
    with pytest.raises(OSError):
        rig.sock.recvmsg(MSG_ERRQUEUE)


def test_24_ack_before_completion_notifies_at_completion(monkeypatch):
    rig = zc_rig(monkeypatch)
    rig.do(rig.sock.send(b"q" * 3000, MSG_ZEROCOPY))
    rig.ack_all(window=1024)  # the original is freed, but the clone still references the pages
    with pytest.raises(OSError):
        rig.sock.recvmsg(MSG_ERRQUEUE)
    rig.ip.complete()
    assert rig.sock.recvmsg(MSG_ERRQUEUE).ee_data == 0


def test_24_copied_flag_when_route_lacks_sg(monkeypatch):
    rig = zc_rig(monkeypatch)
    rig.sk.sk_route_caps &= ~NETIF_F_SG  # a route where TCP cannot use SG (e.g. GSO masked)
    before = skb_stats.user_copy_bytes
    rig.do(rig.sock.send(b"c" * 500, MSG_ZEROCOPY))
    assert skb_stats.user_copy_bytes == before + 500
    ee = rig.sock.recvmsg(MSG_ERRQUEUE)
    assert ee.ee_code == SO_EE_CODE_ZEROCOPY_COPIED and (ee.ee_info, ee.ee_data) == (0, 0)


def test_msg_zerocopy_without_so_zerocopy_is_a_plain_copy(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    before = skb_stats.user_copy_bytes
    rig.do(rig.sock.send(b"p" * 700, MSG_ZEROCOPY))
    rig.ack_all(window=1024)
    assert skb_stats.user_copy_bytes == before + 700 and not rig.sk.sk_error_queue
