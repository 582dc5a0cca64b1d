"""The socket API: options, errors (errno), blocking on sndbuf, EAGAIN, EPIPE, close/FIN."""

import errno

import pytest
from tcp_rig import Rig

from hilnic.net.core.sock import SOCK_MIN_SNDBUF, TCP_CLOSE, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_LAST_ACK, TCP_TIME_WAIT
from hilnic.net.ipv4 import tcp_ipv4
from hilnic.net.ipv4.inet_hashtables import __inet_lookup_established
from hilnic.net.socket import (
    AF_INET,
    IP_MTU_DISCOVER,
    MSG_DONTWAIT,
    SO_PRIORITY,
    SO_SNDBUF,
    SOCK_STREAM,
    SOL_IP,
    SOL_SOCKET,
    socket,
)


def test_so_sndbuf_doubles_and_has_a_floor(monkeypatch):
    rig = Rig(monkeypatch)
    rig.sock.setsockopt(SOL_SOCKET, SO_SNDBUF, 10000)
    assert rig.sk.sk_sndbuf == 20000
    rig.sock.setsockopt(SOL_SOCKET, SO_SNDBUF, 1)
    assert rig.sk.sk_sndbuf == SOCK_MIN_SNDBUF == 4608
    rig.sock.setsockopt(SOL_SOCKET, SO_SNDBUF, 10 << 20)
    assert rig.sk.sk_sndbuf == 2 * 212992  # capped at wmem_max
    rig.connect(window_update=1024)
    assert rig.sk.sk_sndbuf == 2 * 212992  # SOCK_SNDBUF_LOCK: no autotuning at connect


def test_bad_arguments_raise_errno(monkeypatch):
    rig = Rig(monkeypatch)
    with pytest.raises(OSError) as e:
        rig.sock.setsockopt(SOL_SOCKET, SO_PRIORITY, 7)
    assert e.value.errno == errno.EPERM
    with pytest.raises(OSError) as e:
        rig.sock.setsockopt(SOL_IP, IP_MTU_DISCOVER, 9)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        rig.sock.setsockopt(99, 1, 1)
    assert e.value.errno == errno.ENOPROTOOPT
    with pytest.raises(OSError) as e:
        socket(rig.host, 10, SOCK_STREAM)
    assert e.value.errno == errno.EAFNOSUPPORT
    with pytest.raises(OSError) as e:
        rig.do(rig.sock.connect(("10.0.0.300", 80)))
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        rig.do(rig.sock.send("not bytes"))
    assert e.value.errno == errno.EFAULT
    with pytest.raises(OSError) as e:
        rig.do(rig.sock.send(b"x"))  # not connected
    assert e.value.errno == errno.EPIPE
    with pytest.raises(OSError) as e:
        rig.do(rig.sock.send(b"x", 0x1000000))
    assert e.value.errno == errno.EOPNOTSUPP


def test_eagain_with_dontwait_when_sndbuf_full_then_blocking_send_waits(monkeypatch):
    rig = Rig(monkeypatch)
    rig.sock.setsockopt(SOL_SOCKET, SO_SNDBUF, 8192)  # 16 KiB
    rig.connect(window=8000, wscale=None)
    sk = rig.sk
    n = rig.do(rig.sock.send(bytes(100_000), MSG_DONTWAIT))
    assert 0 < n < 100_000 and sk.sk_wmem_queued >= sk.sk_sndbuf
    with pytest.raises(OSError) as e:
        rig.do(rig.sock.send(bytes(10), MSG_DONTWAIT))
    assert e.value.errno == errno.EAGAIN
    # A blocking send sleeps in sk_stream_wait_memory until ACKs free the queue.
    task = rig.spawn(rig.sock.send(bytes(20_000)))
    rig.run(1)
    assert not task.done
    for _ in range(40):
        rig.ack_all(window=8000)
        rig.run(0.1)
        if task.done:
            break
    assert task.result() == 20_000


def test_close_sends_fin_after_data_and_epipe_after(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.do(rig.sock.send(b"tail"))
    rig.do(rig.sock.close())
    assert sk.sk_state == TCP_FIN_WAIT1
    # Nagle held nothing (idle connection): "tail" left at once; the FIN follows it.
    data, fin = rig.ip.sent[-2].tcp, rig.ip.sent[-1].tcp
    assert bytes(data.payload) == b"tail" and fin.flags == "FA" and fin.seq == data.seq + 4
    assert sk.write_seq == fin.seq + 1
    replies = []
    monkeypatch.setattr(tcp_ipv4, "ip_send_unicast_reply", lambda host, s, d, tos, proto, th, prio=0: replies.append(th))
    rig.ack_all(window=1024)
    # close() orphaned the sock: once the FIN is ACKed a timewait sock (substate FIN_WAIT2)
    # takes its place (tcp_rcv_state_process → tcp_time_wait) and the sock itself is CLOSE
    assert sk.sk_state == TCP_CLOSE and sk.snd_una == sk.write_seq
    tw = __inet_lookup_established(rig.host, sk.inet_daddr, sk.inet_dport, sk.inet_saddr, sk.inet_sport)
    assert tw is not None and tw.sk_state == TCP_TIME_WAIT and tw.tw_substate == TCP_FIN_WAIT2
    rig.inject("FA", ack=sk.snd_nxt, window=1024)  # peer's FIN: the timewait sock ACKs it
    assert tw.tw_substate == TCP_TIME_WAIT and len(replies) == 1
    assert int.from_bytes(replies[0][8:12], "big") == rig.peer_seq + 1
    with pytest.raises(OSError) as e:
        rig.do(rig.sock.send(b"late"))
    assert e.value.errno == errno.EPIPE
    assert rig.host.mib["Tcp"]["CurrEstab"] == 0


def test_passive_close_last_ack(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    sk = rig.sk
    rig.inject("FA", window=1024)
    # tcp_fin puts a CLOSE_WAIT socket in pingpong mode: the ACK is delayed (the reply may
    # carry it), by ato = 0 jiffies here, i.e. to the next tick (Linux 6.18 captured: the ACK of
    # a peer's FIN 1.25 ms later at HZ 250)
    assert not rig.ip.sent
    rig.run(2)
    ack = rig.ip.sent[-1].tcp
    assert ack.ack == rig.peer_seq + 1 and rig.host.mib["TcpExt"]["DelayedACKs"] == 1
    rig.do(rig.sock.close())
    assert sk.sk_state == TCP_LAST_ACK and "F" in rig.ip.sent[-1].tcp.flags
    rig.inject("A", seq=rig.peer_seq + 1, ack=sk.snd_nxt, window=1024)
    assert sk.sk_state == TCP_CLOSE


def test_sendmsg_gathers_buffers(monkeypatch):
    rig = Rig(monkeypatch)
    rig.connect(window_update=1024)
    assert rig.do(rig.sock.sendmsg([b"ab", bytearray(b"cd"), memoryview(b"ef")])) == 6
    assert rig.ip.sent[0].payload == b"abcdef"
    with pytest.raises(OSError) as e:
        rig.do(rig.sock.sendmsg(b"abc"))
    assert e.value.errno == errno.EINVAL


def test_connect_refused_by_rst(monkeypatch):
    rig = Rig(monkeypatch)
    task = rig.spawn(rig.sock.connect(("10.0.0.2", 5001)))
    rig.run(0.1)
    syn = rig.ip.sent[0].tcp
    rig.inject("RA", ack=syn.seq + 1, options=[])
    with pytest.raises(OSError) as e:
        rig.finish(task)
    assert e.value.errno == errno.ECONNREFUSED and rig.sk.sk_state == TCP_CLOSE
    assert AF_INET == 2
