"""The CPU takes time (kernel/core.py, kernel/cost.py): kernel functions charge the cost table
in their context, the CPU is busy meanwhile, effects happen when the CPU gets there.

Each test names the Linux function whose behaviour it checks. The expected figures come from
the cost table's Linux measurements (cost.py) and Linux's constants (MAX_SOFTIRQ_TIME 2 ms,
MAX_SOFTIRQ_RESTART 10, dev_tx_weight 64), not from the model's own output.
"""

from __future__ import annotations

import sys

import pytest
from tcp_rig import Rig
from test_dev_qdisc import small
from test_gso import make_dev

from hilnic.kernel import cost
from hilnic.kernel.core import (
    CPUTIME_IRQ,
    CPUTIME_SOFTIRQ,
    CPUTIME_SYSTEM,
    CPUTIME_USER,
    SCHED_BASE_SLICE_PS,
    Kernel,
)
from hilnic.kernel.env import MS, NS, US, VirtualEnv
from hilnic.kernel.softirq import MAX_SOFTIRQ_RESTART, MAX_SOFTIRQ_TIME_MS, NET_RX_SOFTIRQ, NET_TX_SOFTIRQ
from hilnic.net.core.dev import dev_queue_xmit
from hilnic.net.core.netdevice import netif_tx_start_queue, netif_tx_stop_queue
from hilnic.net.socket import SOL_TCP, TCP_NODELAY
from hilnic.testbed import TestbedConfig, model_testbed, tcp_bulk
from hilnic.trace.procfs import proc_stat

# -- __qdisc_run: need_resched() -------------------------------------------------------------------


def _qdisc_run_from_a_task(with_waiter: bool) -> tuple[list[int], int, int]:
    """200 packets wait in pfifo_fast behind a stopped queue; a CPU-bound task that has used
    its time slice restarts the queue and sends one more packet (dev_queue_xmit runs
    __qdisc_run in its context). Returns the packets the driver had when that run handed
    over to NET_TX and after everything, the NET_TX raises during the call, and how often
    need_resched() was true."""
    host, dev, drv = make_dev()
    k, txq = host.kernel, dev._tx[0]
    netif_tx_stop_queue(txq)
    for i in range(200):
        dev_queue_xmit(small(dev, seq=i))
    got: list[int] = []
    net_tx = k.softirq_vec[NET_TX_SOFTIRQ]
    assert net_tx is not None

    def spy() -> None:
        if not got:  # the task's __qdisc_run has handed over: what did it send?
            got.append(len(drv.ring))
        net_tx()

    k.softirq_vec[NET_TX_SOFTIRQ] = spy

    async def task() -> None:
        await k.user_work(SCHED_BASE_SLICE_PS)  # a busy loop in user space for a whole slice
        raised = k.softirq_raised[NET_TX_SOFTIRQ]
        netif_tx_start_queue(txq)  # no __netif_schedule: the task's own xmit runs the qdisc
        dev_queue_xmit(small(dev, seq=200))  # NET_TX then runs at its local_bh_enable
        got.append(k.softirq_raised[NET_TX_SOFTIRQ] - raised)

    async def other() -> None:
        pass  # runnable, waiting for the CPU while the first task runs

    k.spawn(task())
    if with_waiter:
        k.spawn(other())
    host.env.run(until=host.env.now() + 10 * MS)
    return [got[0], len(drv.ring)], got[1], k.resched_count


def test___qdisc_run_stops_on_need_resched_and_hands_over_to_net_tx():
    """`if (--quota <= 0 || need_resched()) { __netif_schedule(q); break; }`: a task that ran
    its slice (sysctl_sched_base_slice 0.75 ms) while another waits for the CPU sends one
    bulk and gives the queue to NET_TX_SOFTIRQ; without a waiting task, the quota (64) ends
    the run. Everything is sent either way."""
    (first, total), raised, resched = _qdisc_run_from_a_task(with_waiter=True)
    assert resched >= 1 and raised >= 1
    assert 0 < first < 64  # stopped on need_resched, not on the quota
    assert total == 201
    (first, total), raised, resched = _qdisc_run_from_a_task(with_waiter=False)
    assert resched == 0 and first == 64 and raised >= 1  # the quota, then __netif_schedule
    assert total == 201


# -- __do_softirq: MAX_SOFTIRQ_TIME, MAX_SOFTIRQ_RESTART, ksoftirqd -------------------------------


def test___do_softirq_defers_to_ksoftirqd_after_max_softirq_time():
    """A vector that re-raises itself and takes 300 us per run: __do_softirq restarts while
    less than 2 ms of CPU time has gone (7 rounds, fewer than MAX_SOFTIRQ_RESTART), then
    wakeup_softirqd; ksoftirqd runs the rest once the CPU is free, after those 2.1 ms."""
    k = Kernel(VirtualEnv())
    k.env.run(until=0)
    runs: list[tuple[int, int]] = []
    per_run = 300 * US

    def hog() -> None:
        runs.append((k.env.now(), k.cursor))
        k.charge(per_run)
        if len(runs) < 12:
            k.raise_softirq(NET_RX_SOFTIRQ)

    k.open_softirq(NET_RX_SOFTIRQ, hog)
    k.local_bh_disable()
    k.raise_softirq(NET_RX_SOFTIRQ)
    k.local_bh_enable()
    rounds = -(-MAX_SOFTIRQ_TIME_MS * MS // per_run)  # ceil(2 ms / 300 us) = 7
    assert rounds < MAX_SOFTIRQ_RESTART and len(runs) == rounds == 7
    assert k.softirq_restart_exhausted == 1 and k.cursor == rounds * (per_run + k.cost.softirq[NET_RX_SOFTIRQ])
    k.env.run(until=20 * MS)
    assert len(runs) == 12 and k.ksoftirqd_runs >= 1
    assert runs[rounds][0] >= rounds * per_run  # ksoftirqd started after the CPU was free
    assert k.cpustat[CPUTIME_SOFTIRQ] >= 12 * per_run


def test___do_softirq_restart_limit_with_cheap_vectors():
    """Cheap vectors: MAX_SOFTIRQ_RESTART (10) rounds end the run long before 2 ms."""
    k = Kernel(VirtualEnv())
    k.env.run(until=0)
    runs: list[int] = []

    def again() -> None:
        runs.append(k.cursor)
        k.charge(1 * US)
        k.raise_softirq(NET_TX_SOFTIRQ) if len(runs) < 30 else None

    k.open_softirq(NET_TX_SOFTIRQ, again)
    k.local_bh_disable()
    k.raise_softirq(NET_TX_SOFTIRQ)
    k.local_bh_enable()
    assert len(runs) == MAX_SOFTIRQ_RESTART and k.softirq_restart_exhausted == 1
    assert k.cursor < MAX_SOFTIRQ_TIME_MS * MS


# -- hard IRQ preempts ----------------------------------------------------------------------------


def test_handle_irq_preempts_a_task_and_pushes_its_end_back():
    """irq_enter .. irq_exit inside a task's charged time: the handler runs at once, and the
    task finishes later by the handler's time (hi), the task's own time staying sy."""
    k = Kernel(VirtualEnv())
    k.env.run(until=0)
    done: list[int] = []

    async def handler(irq: int) -> int:
        k.set_irq_line(9, False)
        k.charge(5 * US)
        return 1

    k.request_irq(9, handler, "test")

    async def task() -> None:
        k.charge(20 * US)  # kernel work in process context
        await k.cpu_pay()
        done.append(k.env.now())

    k.spawn(task())
    k.env.call_at(10 * US, k.set_irq_line, 9, True)
    k.env.run(until=1 * MS)
    irq_time = k.cost.hardirq + 5 * US
    assert done == [20 * US + irq_time]
    assert k.cpustat[CPUTIME_SYSTEM] == 20 * US and k.cpustat[CPUTIME_IRQ] == irq_time


def test_at_cpu_effects_happen_when_the_cpu_gets_there_in_order():
    """A posted MMIO write (the doorbell) happens at the CPU's cursor; a later write made by
    a softirq that preempted the task does not overtake it."""
    k = Kernel(VirtualEnv())
    k.env.run(until=0)
    seen: list[tuple[int, str]] = []

    async def task() -> None:
        k.charge(3 * US)
        k.at_cpu(lambda: seen.append((k.env.now(), "task")))
        k.charge(1 * US)
        await k.cpu_pay()

    def sirq() -> None:
        k.charge(500 * NS)
        k.at_cpu(lambda: seen.append((k.env.now(), "softirq")))

    k.open_softirq(NET_RX_SOFTIRQ, sirq)
    k.spawn(task())
    k.env.call_at(1 * US, lambda: (k.raise_softirq(NET_RX_SOFTIRQ), k._kick_softirq()))
    k.env.run(until=1 * MS)
    assert seen[0] == (3 * US, "task") and seen[1][1] == "softirq" and seen[1][0] >= 3 * US


# -- --cpu-scale ------------------------------------------------------------------------------------


def _send_time(monkeypatch, scale: float, nbytes: int) -> tuple[int, int, int]:
    rig = Rig(monkeypatch, cpu_scale=scale)
    rig.connect()  # window 65535 << 7
    rig.sock.setsockopt(SOL_TCP, TCP_NODELAY, 1)
    k = rig.host.kernel
    sy0, t0 = k.cpustat[CPUTIME_SYSTEM], rig.env.now()
    rig.do(rig.sock.send(b"x" * nbytes))
    return rig.env.now() - t0, k.cpustat[CPUTIME_SYSTEM] - sy0, len(rig.ip.sent)


def test_tcp_sendmsg_time_scales_with_cpu_scale(monkeypatch):
    """One send(): tcp_sendmsg's 1 us per call + 0.43 ns per byte (Linux 6.18, cost.py), and
    tcp_transmit_skb's 250 ns per segment it sends, all in sy; --cpu-scale 2 takes twice that."""
    n = 10_000
    t1, sy1, segs1 = _send_time(monkeypatch, 1.0, n)
    expect = cost.TCP_SENDMSG_CALL_NS * NS + n * cost.TCP_SENDMSG_BYTE_PS + segs1 * cost.TCP_TRANSMIT_SKB_NS * NS
    assert segs1 >= 1 and sy1 == expect and t1 == expect
    t2, sy2, segs2 = _send_time(monkeypatch, 2.0, n)
    assert segs2 == segs1 and sy2 == 2 * sy1 and t2 == 2 * t1
    t0, sy0, _ = _send_time(monkeypatch, 0.0, n)
    assert t0 == sy0 == 0


# -- a sender: /proc/softirqs and /proc/stat -------------------------------------------------------


@pytest.fixture(scope="module")
def sender():
    """1 MiB over TCP through the e1000 driver and the NIC model, every charge recorded with
    the function that made it and the context it ran in."""
    tb = model_testbed(TestbedConfig())
    k = tb.host.kernel
    charges: list[tuple[str, str, int]] = []
    orig = k.charge

    def spy(ps: int) -> None:
        charges.append((sys._getframe(1).f_code.co_name, k.context, ps))
        orig(ps)

    k.charge = spy  # type: ignore[method-assign]

    async def main():
        r = await tcp_bulk(tb, 1 << 20)
        await tb.quiesce()
        return r

    tb.run(main(), timeout=10_000 * MS)
    tb.check_clean()
    return tb, charges


def test_net_rx_action_runs_more_than_net_tx_action_on_a_sender(sender):
    """A sending host's /proc/softirqs: NET_RX well above NET_TX. NET_RX carries the TX
    completions (e1000's NAPI poll reclaims the ring) and the peer's ACKs; NET_TX runs only
    when a qdisc is rescheduled (quota, need_resched, a woken queue)."""
    tb, _ = sender
    k = tb.host.kernel
    rx, tx = k.softirq_count[NET_RX_SOFTIRQ], k.softirq_count[NET_TX_SOFTIRQ]
    assert rx > 2 * tx and rx > 100
    line = next(ln for ln in proc_stat(k).splitlines() if ln.startswith("softirq ")).split()
    assert int(line[1 + 1 + NET_RX_SOFTIRQ]) == rx and int(line[1 + 1 + NET_TX_SOFTIRQ]) == tx


def test_cputime_sy_for_tcp_sendmsg_si_for_ack_processing_and_tx_reclaim(sender):
    """Charged as Linux accounts it (IRQ time accounting): tcp_sendmsg's copy and push in sy
    (process context); tcp_v4_rcv of the ACKs, the NAPI poll and e1000's TX reclaim in si;
    the interrupt handler in hi; a release_sock that finds ACKs on the backlog processes
    them in process context (sy), as tcp_v4_do_rcv there does."""
    tb, charges = sender
    k = tb.host.kernel
    ctx: dict[str, set[str]] = {}
    for fn, c, _ in charges:
        ctx.setdefault(fn, set()).add(c)
    assert ctx["tcp_sendmsg"] == {"process"} and ctx["tcp_sendmsg_locked"] == {"process"}
    assert ctx["tcp_v4_rcv"] == {"softirq"}
    assert ctx["e1000_clean_tx_irq"] == {"softirq"} and ctx["net_rx_action"] == {"softirq"}
    assert ctx["_handle_irq"] == {"hardirq"}
    assert "softirq" in ctx["tcp_v4_do_rcv"] and ctx["tcp_v4_do_rcv"] <= {"softirq", "process"}
    copy = sum(ps for fn, _, ps in charges if fn == "tcp_sendmsg_locked")
    assert copy == pytest.approx((1 << 20) * cost.TCP_SENDMSG_BYTE_PS, rel=1e-6)
    assert k.cpustat[CPUTIME_SYSTEM] >= copy and k.cpustat[CPUTIME_SOFTIRQ] > 0 and k.cpustat[CPUTIME_IRQ] > 0
    assert k.cpustat[CPUTIME_USER] == 0  # no think time
    assert sum(ps for _, c, ps in charges if c == "softirq") == k.cpustat[CPUTIME_SOFTIRQ]
