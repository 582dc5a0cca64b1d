"""What kernel work costs in CPU time: the one table the model charges from.

Kernel functions otherwise run in zero simulated time (kernel/env.py). One path takes time
so far, because Linux's behaviour depends on it: `tcp_sendmsg` holds the socket (lock_sock ..
release_sock) while it copies the user's data, and ACKs that arrive meanwhile wait on the
socket backlog until release_sock (net/core/sock.py, net/ipv4/tcp.py). A fuller CPU model
(every function charged, softirq time, --cpu-scale) is meant to extend this table.

Values are what this host's Linux measured, per call and per byte copied, with
scripts/measure_tcp_sendmsg_cost.py (re-run it to re-measure: root, perf, two network
namespaces over veth; it prints the raw medians and the fit). The run behind the defaults:

    kernel 6.18.44-fc-v1294 (Firecracker guest, AMD EPYC, 2 vCPU), 200 send() calls per size,
    peer window closed so each call only copies into the write queue, timed between the
    syscalls:sys_enter_sendto and sys_exit_sendto tracepoints (perf record, ns stamps);
    ftrace's function tracer is not permitted on that kernel.

        size_bytes  median_ns   (three runs)
                 1   1032  1032  1052
               100   1072  1072  1082
              1000   1463  1473  1483
              1448   1513  1533  1543
              4096   2570  2590  2555
             10000   4964  5120  4985
             16384   7749  7964  7629
             32768  14407 14272 14266
             65536  31078 28373 29665
        fit  call 710 / 977 / 821 ns   byte 452.8 / 416.0 / 433.0 ps

The per-call figure is taken from the small writes (about 1 µs: a 1-byte send() costs
1.03 µs, and the fits' intercepts are pulled down by the large sizes); the per-byte one is
the fits' mean. The interval includes the syscall entry before lock_sock (fd lookup,
sock_sendmsg), a few hundred ns, so the hold time is slightly overstated.
"""

from __future__ import annotations

from hilnic.kernel.env import NS, PS

TCP_SENDMSG_CALL_NS = 1000  # lock_sock .. tcp_push of one send(), without the copy
TCP_SENDMSG_BYTE_PS = 430  # skb_copy_to_page_nocache, per byte (~2.3 GB/s)


def tcp_sendmsg_call_ps() -> int:
    """The per-call part of tcp_sendmsg's hold time, in ps."""
    return TCP_SENDMSG_CALL_NS * NS


def tcp_sendmsg_copy_ps(nbytes: int) -> int:
    """The time copying `nbytes` of user data into the write queue takes, in ps."""
    return nbytes * TCP_SENDMSG_BYTE_PS * PS


__all__ = ["TCP_SENDMSG_BYTE_PS", "TCP_SENDMSG_CALL_NS", "tcp_sendmsg_call_ps", "tcp_sendmsg_copy_ps"]
