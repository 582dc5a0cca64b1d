"""hilnic.cosim.swsignals: ASCII packing and what the sw_* registers show over time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hilnic.cosim.swsignals import IDLE, SwSignals, ascii_text, ascii_value, install_sw_signals
from hilnic.kernel import ftrace
from hilnic.kernel.core import IRQ_HANDLED, Kernel
from hilnic.kernel.env import NS, US, VirtualEnv
from hilnic.kernel.ftrace import Tracer, traced
from hilnic.kernel.softirq import NET_TX_SOFTIRQ


def test_ascii_value_is_a_verilog_string_literal():
    # reg [8*32-1:0] r = "idle";  -> 32'h69646c65 in the low bytes, NULs above
    assert ascii_value("idle", 32) == 0x69646C65
    assert ascii_value("A", 8) == 0x41
    assert ascii_value("", 8) == 0
    v = ascii_value("tcp_sendmsg", 32)
    assert v.to_bytes(32, "big") == bytes(21) + b"tcp_sendmsg"  # first char in the MSB used
    assert ascii_value("hardirq", 8).to_bytes(8, "big") == b"\0hardirq"
    assert ascii_value("process!", 8).to_bytes(8, "big") == b"process!"  # exactly full
    assert ascii_value("e1000_clean_tx_irq_and_more", 8) == int.from_bytes(b"e1000_cl", "big")  # keeps the head
    assert ascii_value("caf\u00e9", 8) == int.from_bytes(b"caf?", "big")
    assert v < 1 << 256 and ascii_text(v, 32) == "tcp_sendmsg"
    assert format(ascii_value("ab", 4), "032b") == "0" * 16 + "01100001" + "01100010"


class FakeHandle:
    """Stands in for a cocotb simulator handle: records every write with the time."""

    def __init__(self, bits: int, log: list, name: str, clock) -> None:
        self.bits, self.log, self.name, self.clock = bits, log, name, clock
        self.value = 0

    def get_num_elems(self) -> int:
        return self.bits

    def set_signal_val_binstr(self, action: int, s: str) -> None:
        assert action == 0 and len(s) == self.bits and set(s) <= {"0", "1"}
        self._put(int(s, 2))

    def set_signal_val_int(self, action: int, v: int) -> None:
        assert action == 0 and 0 <= v < 1 << 31
        self._put(v)

    def _put(self, v: int) -> None:
        self.value = v
        shown = v if self.name == "calls" else ascii_text(v, self.bits // 8)
        self.log.append((self.clock(), self.name, shown))


def fake_dut(clock, func_chars: int = 32):
    log: list = []
    dut = SimpleNamespace(
        sw_func=SimpleNamespace(_handle=FakeHandle(8 * func_chars, log, "func", clock)),
        sw_ctx=SimpleNamespace(_handle=FakeHandle(64, log, "ctx", clock)),
        sw_calls=SimpleNamespace(_handle=FakeHandle(32, log, "calls", clock)),
    )
    return dut, log


@traced
def dev_queue_xmit() -> None:
    pass


@traced
def e1000_clean_tx_irq() -> None:
    pass


@traced
def net_tx_action() -> None:
    e1000_clean_tx_irq()


@pytest.fixture
def rig():
    k = Kernel(VirtualEnv())
    k.set_cpu_scale(0)  # the signal's timing at exact times: no CPU costs
    k.env.run(until=0)
    tr = Tracer(clock=k.env.now, context=lambda: k.context)
    ftrace.set_tracer(tr)
    try:
        yield k, tr
    finally:
        ftrace.set_tracer(None)


def timeline(log: list) -> list[tuple]:
    """(time, func, ctx) after each write, with the values merged per timestamp, as a dump
    would hold them."""
    state = {"func": IDLE, "ctx": IDLE, "calls": 0}
    out: dict[int, tuple] = {}
    for t, name, v in log:
        state[name] = v
        out[t] = (state["func"], state["ctx"], state["calls"])
    rows = sorted(out.items())
    merged = []
    for t, v in rows:
        if not merged or merged[-1][1:] != v:
            merged.append((t, *v))
    return merged


def scenario(k: Kernel) -> None:
    """t=1us process: tcp_sendmsg -> dev_queue_xmit (zero time)
    t=2us hard IRQ: e1000_intr awaits a 700 ns MMIO read; NET_TX at irq_exit
    t=2us+703ns process again (inside the idle hold of the softirq)"""

    @traced
    async def tcp_sendmsg() -> None:
        dev_queue_xmit()

    @traced
    async def e1000_intr(irq: int) -> int:
        await k.env.sleep(700 * NS)
        k.raise_softirq(NET_TX_SOFTIRQ)
        k.set_irq_line(irq, False)
        return IRQ_HANDLED

    async def app(at: int) -> None:
        await k.sleep_ps(at - k.env.now())
        await tcp_sendmsg()

    k.open_softirq(NET_TX_SOFTIRQ, net_tx_action)
    k.request_irq(9, e1000_intr, "eth0")
    k.spawn(app(1 * US))
    k.spawn(app(2703 * NS))
    k.env.call_at(2 * US, k.set_irq_line, 9, True)
    k.env.run(until=10 * US)


def test_activations_show_with_a_hold_then_idle(rig):
    k, tr = rig
    dut, log = fake_dut(k.env.now)
    sw = SwSignals(dut, tr, env=k.env, hold_ps=6400)
    scenario(k)
    assert timeline(log) == [
        (0, IDLE, IDLE, 0),
        (1 * US, "tcp_sendmsg", "process", 1),  # zero time: a 6.4 ns pulse
        (1 * US + 6400, IDLE, IDLE, 2),  # the calls it made (dev_queue_xmit) by its end
        (2 * US, "e1000_intr", "hardirq", 3),  # holds the CPU through the MMIO read
        (2700 * NS, "net_tx_action", "softirq", 4),  # the last activation at 2.7 us
        (2703 * NS, "tcp_sendmsg", "process", 6),  # within the hold: replaces it directly
        (2703 * NS + 6400, IDLE, IDLE, 7),
    ]
    assert sw.state() == (IDLE, IDLE, 7)
    # cached: no write repeats the register's value
    last: dict[str, object] = {}
    for _t, name, v in log:
        assert last.get(name) != v
        last[name] = v
    assert sw.writes == len(log)  # every simulator write is counted
    assert tr.calls == 7


def test_hold_zero_writes_idle_at_once(rig):
    k, tr = rig
    dut, log = fake_dut(k.env.now)
    SwSignals(dut, tr, env=k.env, hold_ps=0)
    scenario(k)
    tl = timeline(log)
    # at 1 us the pulse collapses into idle; only sw_calls shows that code ran
    assert (1 * US, IDLE, IDLE, 2) in tl
    assert (2 * US, "e1000_intr", "hardirq", 3) in tl
    assert tl[-1] == (2703 * NS, IDLE, IDLE, 7)


def test_uninstall_stops_writing_and_install_is_optional(rig):
    k, tr = rig
    dut, log = fake_dut(k.env.now)
    assert install_sw_signals(dut, None) is None  # tracing off: nothing at all
    assert install_sw_signals(SimpleNamespace(), tr) is None  # a toplevel without sw_*
    sw = install_sw_signals(dut, tr, env=k.env, hold_ps=6400)
    assert isinstance(sw, SwSignals) and tr.listeners == [sw._on_activation]
    sw.uninstall()
    assert tr.listeners == []
    n = len(log)
    scenario(k)
    assert len(log) == n
    with SwSignals(dut, tr, env=k.env, install=False) as sw2:
        assert tr.listeners == [sw2._on_activation]
    assert tr.listeners == []


def test_func_width_comes_from_the_register(rig):
    k, tr = rig
    dut, log = fake_dut(k.env.now, func_chars=8)
    SwSignals(dut, tr, env=k.env, hold_ps=0)
    net_tx_action()
    assert ("func", "net_tx_a") in [(n, v) for _t, n, v in log]


def test_activations_last_their_cpu_time():
    """With CPU costs on, an activation shows from the CPU time it starts at to the CPU time
    it returns at (Kernel.charge moves the cursor; the Tracer's clock is the cursor), the
    same interval trace.txt gives it, and the next one starts where the CPU gets to it."""
    k = Kernel(VirtualEnv())
    k.env.run(until=0)
    tr = Tracer(clock=k.cpu_clock, context=lambda: k.context)
    ftrace.set_tracer(tr)
    try:
        dut, log = fake_dut(k.env.now)
        SwSignals(dut, tr, env=k.env, hold_ps=6400)

        @traced
        def tcp_sendmsg() -> None:
            k.charge(3 * US)  # copy and the stack below: 3 us of CPU time
            dev_queue_xmit()

        async def app() -> None:
            await k.sleep_ps(1 * US)
            tcp_sendmsg()
            await k.cpu_pay()  # the task spends the charged time
            tcp_sendmsg()  # the second send starts where the CPU got to: 4 us
            await k.cpu_pay()

        k.spawn(app())
        k.env.run(until=20 * US)
    finally:
        ftrace.set_tracer(None)
    assert timeline(log) == [
        (0, IDLE, IDLE, 0),
        (1 * US, "tcp_sendmsg", "process", 1),  # 3 us on the waveform, not a one-cycle pulse
        (4 * US, "tcp_sendmsg", "process", 3),  # the second send() where the CPU got to
        (7 * US, IDLE, IDLE, 4),  # its "idle" written at the cursor, 3 us after it ran
    ]
    exits = [ev for ev in tr.events if ev.kind == "exit" and ev.name == "tcp_sendmsg"]
    assert [(ev.time - ev.duration, ev.time) for ev in exits] == [(1 * US, 4 * US), (4 * US, 7 * US)]
