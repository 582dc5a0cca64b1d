"""What kernel work costs in CPU time: the one table the model charges from.

Every kernel-model function that does real work charges its cost here through
`Kernel.charge` (kernel/core.py), in the context it runs in, so the CPU is busy for it and
what it does outside the CPU (the doorbell, hence the frames) happens when the CPU gets
there. `hilnic run --cpu-scale X` multiplies the whole table (`CpuCosts(scale)`): 2 is a
CPU twice as slow, 0 the old zero-time kernel.

    what                       ns        charged in (context)               from
    tcp_sendmsg, per call      1000      tcp_sendmsg (sy)                   measured (1)
    tcp_sendmsg, per byte      0.430     the copy loop (sy)                 measured (1)
    tcp_transmit_skb           250       __tcp_transmit_skb                 derived (2)
    ip_queue_xmit/ip_output    150       __ip_queue_xmit, ip_output         derived (2)
    dev_queue_xmit             150       dev_queue_xmit                     measured (2)
    sch_direct_xmit            200       sch_direct_xmit, per dequeue       measured (2)
    driver xmit                324       e1000_xmit_frame                   measured (2)
    NET_RX napi poll           400       net_rx_action, per poll            measured (2)
    tcp_v4_rcv                 300       tcp_v4_rcv, per segment            measured (2)
    tcp_v4_do_rcv              800       tcp_v4_do_rcv (ACK processing)     measured (2)
    TX reclaim, per packet     150       e1000_clean_tx_irq                 estimate (3)
    softirq entry, per vector  100       __do_softirq                       estimate (3)
    TIMER softirq              4271      run_timer_softirq (whole vector)   measured (2)
    hard IRQ entry/exit        300       the IRQ handler, besides its MMIO  estimate (3)

(1) scripts/measure_tcp_sendmsg_cost.py: the time tcp_sendmsg holds the socket (lock_sock ..
release_sock) per call and per byte copied, when the peer's window is closed so each send()
only copies into the write queue. The run behind the defaults:

    kernel 6.18.44-fc-v1294 (Firecracker guest, AMD EPYC, 2 vCPU), 200 send() calls per size,
    timed between the syscalls:sys_enter_sendto and sys_exit_sendto tracepoints (perf record,
    ns stamps); ftrace's function tracer is not permitted on that kernel.

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

    The per-call figure is taken from the small writes (a 1-byte send() costs 1.03 us; the
    fits' intercepts are pulled down by the large sizes); the per-byte one is the fits' mean.
    The interval includes the syscall entry before lock_sock (fd lookup, sock_sendmsg), a few
    hundred ns, so the hold time is slightly overstated.

(2) scripts/measure_cpu_costs.py (re-run it to re-measure: root, perf, two network namespaces
over veth, the sender with a pfifo_fast qdisc, 1448 B send()s with TCP_NODELAY, one segment
in flight; every figure an interval between two tracepoints, `perf record -a`, ns stamps):

    kernel 6.18.44-fc-v1300 (the same Firecracker guest), three runs of 1 s (the third while
    the machine's other vCPU was busy with a test run; the table takes the first, quiet one):

        interval       median_ns, run 1 / 2 / 3  n (run 1)  between
        send_push      2611 / 2606 / 4951     3367      sys_enter_sendto .. sys_exit_sendto, minus
                                                      the softirqs inside (veth's receiver)
        stack_to_dev   1182 / 1220 / 2552     3367      sys_enter_sendto .. net:net_dev_queue
        qdisc           348 /  332 /  450     6747      net:net_dev_queue .. net:net_dev_start_xmit
        driver_xmit     324 /  315 /  414     6747      net_dev_start_xmit .. net:net_dev_xmit
        net_rx_one     1522 / 1480 / 2414     6623      irq:softirq_entry .. exit, NET_RX, one
                                                      packet (napi:napi_poll work 1)
        timer          4271 / 6184 / 7306      109      softirq_entry .. exit, TIMER
        hardirq        2000 / 3878 / 4630      106      irq:irq_handler_entry .. exit (virtio)

    How the table's entries come from them: the push path of a 1448 B send() is send_push
    minus a copy-only send() of 1448 B (1533 ns, (1)) = ~1080 ns: qdisc (dev_queue_xmit 150 +
    sch_direct_xmit 200 = 348), driver_xmit (veth_xmit 324, the e1000 driver's descriptor
    writes stand for it), the remaining ~400 ns split between tcp_transmit_skb and the IP
    output path. net_rx_one (~1.5 us: net_rx_action, the NAPI poll, ip_rcv, tcp_v4_rcv and
    the ACK's processing) is split into the poll (400), tcp_v4_rcv (300, up to the socket or
    its backlog) and tcp_v4_do_rcv (800, tcp_ack and friends). The timer vector's median
    includes the guest's own timers. No NET_TX softirq ran in the runs (veth never stops).

(3) Not measurable on veth: a virtual device has no TX completion to reclaim and no
interrupt; the hard IRQ measured (virtio, 2 us) is mostly its own MMIO exits, which the
model's handler spends as MMIO reads already, so only the entry/exit around it is charged.

Not charged: user space (the application's `--think-time` is user time, `us`), the receive
path of the peer, checksums (offloaded), GSO segmentation in software, skb allocation apart
from the functions above.
"""

from __future__ import annotations

from hilnic.kernel.env import NS, PS
from hilnic.kernel.softirq import NR_SOFTIRQS, TIMER_SOFTIRQ

TCP_SENDMSG_CALL_NS = 1000  # lock_sock .. tcp_push of one send(), without the copy
TCP_SENDMSG_BYTE_PS = 430  # skb_copy_to_page_nocache, per byte (~2.3 GB/s)


def tcp_sendmsg_call_ps() -> int:
    """The per-call part of tcp_sendmsg's hold time, in ps."""
    return TCP_SENDMSG_CALL_NS * NS


def tcp_sendmsg_copy_ps(nbytes: int) -> int:
    """The time copying `nbytes` of user data into the write queue takes, in ps."""
    return nbytes * TCP_SENDMSG_BYTE_PS * PS


# The rest of the table (ns; see the docstring for where each comes from)
TCP_TRANSMIT_SKB_NS = 250
IP_OUTPUT_NS = 150
DEV_QUEUE_XMIT_NS = 150
SCH_DIRECT_XMIT_NS = 200
DRIVER_XMIT_NS = 324
NAPI_POLL_NS = 400
TCP_V4_RCV_NS = 300
TCP_V4_DO_RCV_NS = 800
TX_RECLAIM_NS = 150
SOFTIRQ_ENTRY_NS = 100
TIMER_SOFTIRQ_NS = 4271
HARDIRQ_NS = 300

class CpuCosts:
    """The table in ps, times `scale` (--cpu-scale), as the kernel model charges it."""

    __slots__ = ("dev_queue_xmit", "driver_xmit", "hardirq", "ip_output", "napi_poll", "scale", "sch_direct_xmit",
                 "sendmsg_byte_ps", "sendmsg_call", "softirq", "tcp_transmit_skb", "tcp_v4_do_rcv", "tcp_v4_rcv",
                 "tx_reclaim")

    def __init__(self, scale: float = 1.0) -> None:
        if not scale >= 0:
            raise ValueError(f"cpu scale must be >= 0, got {scale}")
        self.scale = scale

        def ns(v: float) -> int:
            return round(v * NS * scale)

        self.sendmsg_call = ns(TCP_SENDMSG_CALL_NS)
        self.sendmsg_byte_ps = TCP_SENDMSG_BYTE_PS * PS * scale  # per byte (float: exact for any scale)
        self.tcp_transmit_skb = ns(TCP_TRANSMIT_SKB_NS)
        self.ip_output = ns(IP_OUTPUT_NS)
        self.dev_queue_xmit = ns(DEV_QUEUE_XMIT_NS)
        self.sch_direct_xmit = ns(SCH_DIRECT_XMIT_NS)
        self.driver_xmit = ns(DRIVER_XMIT_NS)
        self.napi_poll = ns(NAPI_POLL_NS)
        self.tcp_v4_rcv = ns(TCP_V4_RCV_NS)
        self.tcp_v4_do_rcv = ns(TCP_V4_DO_RCV_NS)
        self.tx_reclaim = ns(TX_RECLAIM_NS)
        self.hardirq = ns(HARDIRQ_NS)
        self.softirq = [ns(SOFTIRQ_ENTRY_NS)] * NR_SOFTIRQS  # per vector run
        self.softirq[TIMER_SOFTIRQ] = ns(TIMER_SOFTIRQ_NS)

    def copy(self, nbytes: int) -> int:
        """A copy of `nbytes` of user data into the write queue, in ps."""
        return int(nbytes * self.sendmsg_byte_ps)


__all__ = ["TCP_SENDMSG_BYTE_PS", "TCP_SENDMSG_CALL_NS", "CpuCosts", "tcp_sendmsg_call_ps", "tcp_sendmsg_copy_ps"]
