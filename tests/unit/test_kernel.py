"""The execution model: contexts, softirqs, timers, NAPI, IRQ lines (kernel/core.py)."""

import pytest

from hilnic.kernel.core import (
    IRQ_HANDLED,
    IRQ_NONE,
    JIFFY,
    NETDEV_BUDGET,
    SPURIOUS_LIMIT,
    Kernel,
    NapiStruct,
)
from hilnic.kernel.env import MS, NS, US, SimulationTimeout, VirtualEnv
from hilnic.kernel.softirq import MAX_SOFTIRQ_RESTART, NET_RX_SOFTIRQ, NET_TX_SOFTIRQ, TIMER_SOFTIRQ


@pytest.fixture
def k():
    return Kernel(VirtualEnv())


def test_virtual_env_orders_events_and_times_out():
    env = VirtualEnv()
    seen = []
    env.call_at(30, seen.append, "c")
    env.call_at(10, seen.append, "a")
    env.call_at(10, seen.append, "b")  # same time: FIFO
    env.run()
    assert seen == ["a", "b", "c"] and env.now() == 30

    async def forever():
        while True:
            await env.sleep(1 * US)

    with pytest.raises(SimulationTimeout):
        env.run_until_complete(env.spawn(forever()), timeout=1 * MS)


def test_run_until_complete_stops_between_events_when_asked():
    env = VirtualEnv()
    ticks: list[int] = []

    async def ticker():
        while True:
            ticks.append(env.now())
            await env.sleep(1 * US)

    task = env.spawn(ticker())
    assert env.run_until_complete(task, 1 * MS, stop=lambda: len(ticks) >= 5) is None
    assert ticks == [0, 1 * US, 2 * US, 3 * US, 4 * US] and not task.done


def test_close_runs_a_stopped_task_s_clean_up_now():
    env = VirtualEnv()
    cleaned: list[str] = []

    async def holder():
        try:
            await env.sleep(1 * MS)
        finally:
            cleaned.append("released")

    async def never_started():
        cleaned.append("ran")  # pragma: no cover - closed before its first step

    t1 = env.spawn(holder())
    env.run(until=10 * US)
    t2 = env.spawn(never_started())
    assert cleaned == [] and not t1.done
    env.close()
    assert cleaned == ["released"] and t1.done and t2.done
    env.run()  # nothing left: no event, no task
    assert cleaned == ["released"]


def test_crashed_task_fails_the_run():
    env = VirtualEnv()

    async def boom():
        await env.sleep(5)
        raise ValueError("bad")

    env.spawn(boom())
    with pytest.raises(RuntimeError, match="failed") as ei:
        env.run()
    assert isinstance(ei.value.__cause__, ValueError)


def test_softirq_raised_in_hardirq_runs_at_irq_exit_in_softirq_context(k):
    log = []
    k.open_softirq(NET_TX_SOFTIRQ, lambda: log.append(("tx", k.context, k.now())))

    async def handler(irq):
        log.append(("hard", k.context, k.now()))
        await k.env.sleep(700 * NS)  # an MMIO read stalls the CPU
        k.raise_softirq(NET_TX_SOFTIRQ)
        k.set_irq_line(9, False)
        return IRQ_HANDLED

    k.request_irq(9, handler, "eth0-TxRx-0")
    k.env.call_at(1 * US, k.set_irq_line, 9, True)
    k.env.run(until=1 * MS)
    assert log == [("hard", "hardirq", 1 * US), ("tx", "softirq", 1 * US + 700 * NS)]
    assert k.irqs[9].count == 1
    assert k.softirq_count[NET_TX_SOFTIRQ] == 1


def test_process_does_not_run_while_hardirq_handler_stalls(k):
    order = []

    async def handler(irq):
        order.append(("irq-start", k.now()))
        await k.env.sleep(2 * US)
        order.append(("irq-end", k.now()))
        k.set_irq_line(3, False)
        return IRQ_HANDLED

    async def proc():
        await k.sleep_ps(1 * US)  # wakes while the handler is stalled
        order.append(("proc", k.now()))

    k.request_irq(3, handler, "x")
    k.env.call_at(500 * NS, k.set_irq_line, 3, True)
    k.spawn(proc())
    k.env.run(until=1 * MS)
    assert order == [("irq-start", 500 * NS), ("irq-end", 2500 * NS), ("proc", 2500 * NS)]


def test_level_triggered_line_reruns_handler_until_low(k):
    calls = []

    async def handler(irq):
        calls.append(k.now())
        if len(calls) == 3:
            k.set_irq_line(4, False)
        return IRQ_HANDLED

    k.request_irq(4, handler, "lvl")
    k.set_irq_line(4, True)
    k.env.run(until=1 * MS)
    assert len(calls) == 3


def test_stuck_line_unhandled_is_disabled_not_hung(k):
    async def handler(irq):
        return IRQ_NONE

    k.request_irq(5, handler, "stuck")
    k.set_irq_line(5, True)
    k.env.run(until=1000 * MS)  # each call takes the hard IRQ's CPU time (kernel/cost.py)
    assert k.irqs[5].disabled and k.irqs[5].unhandled == SPURIOUS_LIMIT


def test_softirq_restart_limit_wakes_ksoftirqd(k):
    runs = []

    def selfraise():
        runs.append(k.context)
        if len(runs) < 25:
            k.raise_softirq(NET_TX_SOFTIRQ)

    k.open_softirq(NET_TX_SOFTIRQ, selfraise)
    k.local_bh_disable()
    k.raise_softirq(NET_TX_SOFTIRQ)
    k.local_bh_enable()  # runs do_softirq: MAX_SOFTIRQ_RESTART rounds, then ksoftirqd
    assert len(runs) == MAX_SOFTIRQ_RESTART
    assert k.softirq_restart_exhausted == 1
    k.env.run(until=1 * MS)
    assert len(runs) == 25 and k.ksoftirqd_runs >= 1


def test_timer_runs_in_timer_softirq_at_its_jiffy(k):
    fired = []
    t = k.timer(lambda t: fired.append((k.jiffies, k.context)))
    t.mod_timer(k.jiffies + 40)
    assert t.pending()
    k.env.run(until=100 * MS)
    assert fired == [(40, "softirq")]
    assert k.softirq_count[TIMER_SOFTIRQ] == 1
    t.mod_timer(k.jiffies + 5)
    assert t.del_timer() and not t.pending()
    k.env.run(until=200 * MS)
    assert len(fired) == 1


def test_net_rx_action_budget_and_time_squeeze(k):
    """Each NAPI is polled once per net_rx_action; 300 of budget ends the round (time_squeeze)."""
    polls = {}

    def make(name, total):
        left = [total]
        polls[name] = 0

        def poll(napi, budget):
            polls[name] += 1
            work = min(budget, left[0])
            left[0] -= work
            if left[0] == 0:
                napi.napi_complete_done(work)
            return work

        return NapiStruct(k, poll, 64, name)

    napis = [make(f"n{i}", 640) for i in range(6)]
    rounds = []
    k.open_softirq(NET_RX_SOFTIRQ, lambda: (rounds.append(dict(polls)), k.net_rx_action()))
    k.local_bh_disable()
    for n in napis:
        n.napi_schedule()
    k.local_bh_enable()
    # First round: 5 polls x 64 = 320 >= 300 -> squeeze, the 6th waits for the next round.
    assert sum(rounds[1].values()) == NETDEV_BUDGET // 64 + 1
    assert k.softnet.time_squeeze >= 1
    k.env.run(until=10 * MS)
    assert not any(n.scheduled for n in napis)
    assert all(v == 10 for v in polls.values())  # 640 / 64, each poll used its full weight
    assert k.softirq_count[NET_RX_SOFTIRQ] >= 2


def test_netif_rx_backlog_delivers_in_order_and_counts(k):
    got = []
    k.rx_handler = got.append
    for i in range(100):
        k.netif_rx(i)
    k.env.run(until=1 * MS)
    assert got == list(range(100))
    assert k.softnet.processed == 100


def test_jiffies_follow_simulated_time(k):
    k.env.run(until=5 * JIFFY + 1)
    assert k.jiffies == 5
