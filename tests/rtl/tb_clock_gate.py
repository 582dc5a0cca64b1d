"""cocotb bench: nic_top's clock-gate ports (`quiet`, the interrupt timers `irq_*`,
`skip_valid` / `skip_cycles`; hdl/nic/README.md, "Gating the clock").

Run by tests/rtl/test_clock_gate.py. The ports are checked against what can be seen outside
the NIC, every clock cycle: the AXI handshakes on both buses and the AXI-Lite bus counted by
this bench (transactions outstanding), the XGMII lines, and the interrupt pin.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass

warnings.filterwarnings("ignore", category=DeprecationWarning)

from cocotb.triggers import FallingEdge, RisingEdge  # noqa: E402
from nic_tb import CMD_FRAME, NicTB, eth_frame, split  # noqa: E402

from hilnic.cosim.api import rtl_test, start_soon, with_sim_timeout  # noqa: E402
from hilnic.hw.regs import E1000_ICR_TXDW, E1000_TXD_CMD_IDE, ITR_UNIT_NS, TIDV_UNIT_NS, Reg  # noqa: E402

XGMII_IDLE = 0x0707070707070707
# nic_top's ports and the bus wires between it and the harness's transactors
TIMERS = ("irq_tidv_armed", "irq_tidv_count", "irq_tadv_armed", "irq_tadv_count", "irq_itr_count")
SIGNALS = ("dut_quiet", *TIMERS, "cycle",
           "axi_arvalid", "axi_arready", "axi_rvalid", "axi_rready", "axi_rlast",
           "axi_awvalid", "axi_awready", "axi_wvalid", "axi_wready", "axi_bvalid", "axi_bready",
           "axil_awvalid", "axil_awready", "axil_wvalid", "axil_arvalid", "axil_arready",
           "axil_bvalid", "axil_bready", "axil_rvalid", "axil_rready", "xgmii_txd", "xgmii_txc")
VALIDS = ("axi_arvalid", "axi_rvalid", "axi_awvalid", "axi_wvalid", "axi_bvalid",
          "axil_awvalid", "axil_wvalid", "axil_arvalid", "axil_bvalid", "axil_rvalid")


def wake(v: dict[str, int]) -> int:
    """The contract's N: the least count of the running timers (a delay runs while armed, the
    throttle while its count is not 0); 0 when none runs."""
    running = [v["irq_tidv_count"]] * v["irq_tidv_armed"] + [v["irq_tadv_count"]] * v["irq_tadv_armed"]
    running += [v["irq_itr_count"]] if v["irq_itr_count"] else []
    return min(running, default=0)


@dataclass
class Sample:
    cycle: int  # the harness's cycle counter: the last rising edge was cycle - 1
    t_ps: int
    quiet: bool
    wake: int


class BusWatch:
    """Samples the ports at every falling edge (the values the next rising edge takes) and keeps
    its own count of the transactions in flight: AR handshakes less last R beats, AW handshakes
    less B handshakes, AXI-Lite requests less responses. `violations` lists every cycle where
    quiet was high with something in flight, a valid high or the XGMII lines not idle."""

    def __init__(self, tb: NicTB) -> None:
        self.tb = tb
        self.dut = tb.dut
        self.reads = self.writes = self.lite = 0
        self.quiet_cycles = self.busy_cycles = 0
        self.violations: list[str] = []
        self.samples: list[Sample] = []
        self.running = True

    def value(self, name: str) -> int:
        return int(getattr(self.dut, name).value)

    def timers(self) -> dict[str, int]:
        return {n: self.value(n) for n in TIMERS}

    async def run(self) -> None:
        while self.running:
            await FallingEdge(self.dut.clk)
            v = {n: self.value(n) for n in SIGNALS}
            quiet = bool(v["dut_quiet"])
            self.samples.append(Sample(v["cycle"], self.tb.rtl.now(), quiet, wake(v)))
            idle_wire = v["xgmii_txc"] == 0xFF and v["xgmii_txd"] == XGMII_IDLE
            if quiet:
                self.quiet_cycles += 1
                why = [n for n in VALIDS if v[n]]
                if self.reads or self.writes or self.lite:
                    why.append(f"in flight: {self.reads} read(s), {self.writes} write(s), {self.lite} MMIO")
                if not idle_wire:
                    why.append(f"XGMII txc={v['xgmii_txc']:#x}")
                if why:
                    self.violations.append(f"cycle {v['cycle']}: quiet with " + ", ".join(why))
            else:
                self.busy_cycles += 1
            # the handshakes of the coming edge
            self.reads += (v["axi_arvalid"] & v["axi_arready"]) - (v["axi_rvalid"] & v["axi_rready"] & v["axi_rlast"])
            self.writes += (v["axi_awvalid"] & v["axi_awready"]) - (v["axi_bvalid"] & v["axi_bready"])
            self.lite += ((v["axil_awvalid"] & v["axil_awready"]) + (v["axil_arvalid"] & v["axil_arready"])
                          - (v["axil_bvalid"] & v["axil_bready"]) - (v["axil_rvalid"] & v["axil_rready"]))


@rtl_test(timeout_us=400)
async def gate_quiet_only_when_idle(dut):
    """Scatter-gather frames of every size under a slow, stuttering memory (500 ns reads, random
    gaps and stalls): `quiet` is never high while a read, a write or an MMIO access is in
    flight, a valid is up or the wire is not idle; it is low for most of the traffic and goes
    high once everything has drained."""
    tb = NicTB(dut, mem_latency_ns=500, r_gap_prob=0.2, ar_stall_prob=0.2, aw_stall_prob=0.2, w_stall_prob=0.2,
               b_gap_prob=0.2, seed=5)
    await tb.reset()
    watch = BusWatch(tb)
    task = start_soon(watch.run())
    rng = random.Random(7)
    tb.setup_ring(32, wthresh=2)
    sent = 0
    for _burst in range(4):
        for _ in range(3):
            frame = eth_frame(rng, rng.choice([60, 61, 200, 777, 1514]))
            tb.post_frame(split(rng, frame, 3), offsets=[rng.randrange(64) for _ in range(3)])
            sent += 1
        tb.doorbell()
        await tb.wait_frames(sent, 100)
        await tb.wait_idle(50)
        # idle between bursts, with reads of the statistics (MMIO only)
        await tb.readl(Reg.GPTC)
        await tb.rtl.wait_cycles(rng.randrange(20, 200))
    await tb.flush()
    await tb.rtl.wait_cycles(300)  # WTHRESH leftovers are written back when the ring is idle
    watch.running = False
    await task
    assert not watch.violations, "\n".join(watch.violations[:20])
    assert watch.busy_cycles > 1000 and watch.quiet_cycles > 200, (watch.busy_cycles, watch.quiet_cycles)
    tail = watch.samples[-100:]
    assert all(s.quiet and s.wake == 0 for s in tail), "not quiet 100 cycles after the traffic drained"
    assert watch.reads == watch.writes == watch.lite == 0
    await tb.finish()


async def countdown(tb: NicTB, watch: BusWatch, n_irq: int, timeout_us: float) -> Sample:
    """Wait for the next interrupt; the cycles before it in which the NIC was quiet with a timer
    running must count down by one to 1 (the edge after is the timer's). Returns the first."""
    await with_sim_timeout(tb._poll(lambda: len(tb.irq_rises) > n_irq, timeout_us, "interrupt", step_cycles=1),
                           timeout_us, "interrupt")
    watch.running = False
    before = [s for s in watch.samples if s.t_ps < tb.irq_rises[n_irq]]
    j = max((i for i, s in enumerate(before) if s.quiet and s.wake), default=None)
    assert j is not None, "never quiet with a timer running before the interrupt"
    i = j
    while i > 0 and before[i - 1].quiet and before[i - 1].wake:
        i -= 1
    run = before[i:j + 1]
    assert [s.wake for s in run] == list(range(run[0].wake, 0, -1)), "not a countdown to 1"
    return run[0]


async def wake_scenario(tb: NicTB, rng: random.Random, kind: str, hold: bool) -> dict:
    """One interrupt held back by a timer; returns what was seen (times relative to the first
    counting sample)."""
    await tb.readl(Reg.ICR)
    n_irq = len(tb.irq_rises)
    if kind == "itr":
        # an interrupt starts the throttle interval; a cause raised right after waits for it
        await tb.quiet(12)  # the interval started by the last interrupt (ITR 40: 10.24 us) is over
        tb.writel(Reg.ICS, E1000_ICR_TXDW)
        await with_sim_timeout(tb._poll(lambda: len(tb.irq_rises) > n_irq, 5, "irq", step_cycles=1), 5, "irq")
        await tb.readl(Reg.ICR)
        n_irq = len(tb.irq_rises)
        cmd = CMD_FRAME
    else:
        cmd = CMD_FRAME | E1000_TXD_CMD_IDE
    watch = BusWatch(tb)
    task = start_soon(watch.run())
    (idx,) = tb.post_frame([eth_frame(rng, 300)], cmd=cmd)
    tb.doorbell()
    await tb.flush()
    if hold:
        # stop sampling and let the harness stop the clock at the first counting cycle
        async def arm():
            while not (int(tb.dut.dut_quiet.value) and wake(watch.timers())):
                await FallingEdge(tb.dut.clk)
            watch.running = False
            first = Sample(int(tb.dut.cycle.value), tb.rtl.now(), True, wake(watch.timers()))
            skipped = int(tb.dut.clk_skipped.value)
            tb.dut.clk_hold.value = 1
            await RisingEdge(tb.dut.irq)
            tb.dut.clk_hold.value = 0
            return first, skipped, tb.rtl.now()
        first, skipped0, t_irq = await with_sim_timeout(arm(), 60, "held interrupt")
        skipped = int(tb.dut.clk_skipped.value) - skipped0
    else:
        first = await countdown(tb, watch, n_irq, 60)
        t_irq = tb.irq_rises[n_irq]
        skipped = 0
    await task
    assert await tb.readl(Reg.ICR) & E1000_ICR_TXDW
    await tb.wait_dd(idx)
    return {"wake": first.wake, "cycle": first.cycle, "dt_ps": t_irq - first.t_ps, "t_irq": t_irq,
            "skipped": skipped}


@rtl_test(timeout_us=600)
async def gate_wake_counts_to_the_interrupt(dut):
    """The timers' least count (the contract's N) counts down to the one that holds the
    interrupt back: TIDV (IDE write-back),
    TADV (bounding a longer TIDV), the ITR throttle. The interrupt pin rises 2 edges after a
    delay timer expires (TXDW, then ICR) and 1 edge after the throttle does; the same scenario
    with the harness stopping the clock (skip_valid / skip_cycles) raises it at the same time."""
    tb = NicTB(dut)
    await tb.reset()
    rng = random.Random(3)
    tb.setup_ring(16)
    tb.writel(Reg.IMS, E1000_ICR_TXDW)
    period = tb.rtl.period_ps
    cases = [
        # kind, TIDV, TADV, ITR, the timer expected to decide, its length in cycles, pin latency
        ("tidv", 3, 0, 0, 3 * TIDV_UNIT_NS * 1000 // period, 2),
        ("tadv", 20, 2, 0, 2 * TIDV_UNIT_NS * 1000 // period, 2),
        ("itr", 0, 0, 40, 40 * ITR_UNIT_NS * 1000 // period, 1),
    ]
    for kind, tidv, tadv, itr, length, latency in cases:
        tb.writel(Reg.TIDV, tidv)
        tb.writel(Reg.TADV, tadv)
        tb.writel(Reg.ITR, itr)
        free = await wake_scenario(tb, rng, kind, hold=False)
        edge = (free["t_irq"] - period // 2) // period
        # the sample after edge cycle-1 said: the timer expires at edge cycle-1+wake
        assert edge == free["cycle"] - 1 + free["wake"] + latency, (kind, free, edge)
        assert 0 < free["wake"] < length, (kind, free["wake"], length)  # part of the timer ran before quiet
        held = await wake_scenario(tb, rng, kind, hold=True)
        assert held["wake"] == free["wake"] and held["dt_ps"] == free["dt_ps"], (kind, free, held)
        # the harness stops the clock once the wire decoder has seen the gap, and leaves two edges
        assert free["wake"] // 2 <= held["skipped"] <= free["wake"] - 2, (kind, free, held)
        tb.log.info("%s: wake %d at cycle %d, irq at edge %d; held: %d cycles skipped", kind, free["wake"],
                    free["cycle"], edge, held["skipped"])
    await tb.finish()
