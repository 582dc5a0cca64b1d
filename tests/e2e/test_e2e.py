"""End to end through the RTL: the unchanged Python stack and e1000 driver on nic_top.

Each test runs one cocotb testcase of tests/e2e/tb_e2e.py in its own simulator process
(SIM=icarus by default, SIM=verilator when installed), bounded in simulated time by the
testcase's rtl_test(timeout_us=...) and in wall time by run_rtl_test(wall_timeout_s=...).
The cocotb side asserts, and writes its measurements to <run dir>/e2e_result.json; the
tests here print them (pytest -s) and compare runs where a test needs two (ITR, clock hold)
or a model run (the differential test).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_lib import (
    DIFF,
    BuiltFrames,
    DriverLog,
    WireLog,
    diff_scenario,
    icr_causes,
    read_result,
    tcp_frame_modulo_psh,
)

from hilnic.cosim.sim import run_rtl_test
from hilnic.hw.regs import E1000_TXD_CMD_DEXT, E1000_TXD_STAT_DD
from hilnic.kernel.env import SEC
from hilnic.testbed import TestbedConfig, model_testbed

HERE = Path(__file__).resolve().parent  # the cocotb modules (tb_*.py) live here

WALL_S = 240  # per simulator run; the slowest (wrong DMA address, ~8 s) is far below on Icarus


def _rtl(testcase: str, run_name: str | None = None, wall: float = WALL_S, **env: object) -> dict:
    run_dir = run_rtl_test("tb_e2e", testcase, extra_env={k: str(v) for k, v in env.items()},
                           run_name=run_name or f"tb_e2e.{testcase}", wall_timeout_s=wall, module_dir=HERE)
    result = read_result(run_dir)
    brief = {k: v for k, v in result.items() if not isinstance(v, list) or len(v) < 12}
    print(f"\n{testcase}: {json.dumps(brief, sort_keys=True)}")
    return result


def test_tcp_1mib_byte_exact() -> None:
    r = _rtl("tcp_1mib")
    assert r["frames"] >= (1 << 20) // 1448


def test_tcp_1mib_with_1pct_loss() -> None:
    r = _rtl("tcp_loss")
    assert r["tcp"]["RetransSegs"] > 0 and r["dropped_by_loss"] > 0


@pytest.mark.soak
@pytest.mark.parametrize("seed", [1, 2])
def test_soak_tcp_16mib_loss_ring64(seed: int) -> None:
    """Soak (opt-in, -m soak): 16 MiB of TCP, 2% wire loss, a 64-descriptor ring."""
    r = _rtl("tcp_soak", f"tb_e2e.tcp_soak.{seed}", wall=1800, E2E_BYTES=16 << 20, E2E_LOSS=0.02, E2E_RING=64,
             E2E_SEED=seed)
    assert r["tcp"]["RetransSegs"] > 0 and r["restart_queue"] > 0


def test_udp_fragmentation() -> None:
    r = _rtl("udp_frag")
    assert [d["fragments"] for d in r["datagrams"]] == [[1480, 1480, 48], [1480] * 5 + [608]]


def test_ring64_stop_wake() -> None:
    r = _rtl("ring64")
    assert r["restart_queue"] > 0 and r["queue_stops"] > 0


def test_bql_limits_inflight() -> None:
    r = _rtl("bql")
    assert r["bql_limit"] > 0 and r["bql_max_excess_over_batch"] <= 0 and r["bql_max_excess_at_batch_start"] <= 0


def test_itr_drops_interrupts_keeps_throughput() -> None:
    """ITR off vs 20000 interrupts/s (one interval per 50 us), 2 MiB each: far fewer
    interrupts, steady-state throughput within 10%."""
    off = _rtl("itr", "tb_e2e.itr.0", E2E_ITR=0)
    on = _rtl("itr", "tb_e2e.itr.20000", E2E_ITR=20000)
    print(f"\nITR: irqs {off['irqs']} -> {on['irqs']}; steady Gb/s {off['steady_gbps']:.2f} -> {on['steady_gbps']:.2f}; "
          f"payload Gb/s {off['payload_gbps']:.2f} -> {on['payload_gbps']:.2f}")
    assert on["irqs"] * 5 < off["irqs"], (off["irqs"], on["irqs"])
    assert on["steady_gbps"] >= 0.9 * off["steady_gbps"], (off["steady_gbps"], on["steady_gbps"])
    assert on["payload_gbps"] >= 0.9 * off["payload_gbps"], (off["payload_gbps"], on["payload_gbps"])


def test_wrong_dma_address_caught() -> None:
    r = _rtl("dma_bad_addr")
    assert r["violations"] and r["err_interrupts"] >= 1 and r["tx_restart_hw"] >= 1


# -- the differential test ------------------------------------------------------------------------


def _model_run(itr: int, seed: int, tso: bool = True) -> dict:
    """The same scenario on the behavioral model in virtual time, in this process."""
    tb = model_testbed(TestbedConfig(itr=itr, seed=seed, tso=tso))
    out: dict = {}

    async def main() -> None:
        await tb.setup()
        wire, built, dlog = WireLog(tb), BuiltFrames(tb), DriverLog(tb)
        try:
            sc = await diff_scenario(tb, **DIFF)
            await tb.quiesce()
            await tb.teardown()
        finally:
            built.uninstall()
            dlog.uninstall()
        assert tb.peer.stream(peer_port=5001) == sc["tcp_payload"]
        assert not built.foreign(wire.frames)
        out.update(frames=[r[2] for r in wire.records()], times=[r[:2] for r in wire.records()],
                   writebacks=[list(w) for w in dlog.writebacks()], posted=dlog.posted, icr=dlog.icr_values())

    tb.env.run_until_complete(tb.host.kernel.spawn(main(), "differential"), 10 * SEC)
    tb.check_clean()
    return out


@pytest.mark.parametrize(("itr", "tso"), [(0, False), (3, False), (0, True), (3, True)])
def test_differential_model_vs_rtl(itr: int, tso: bool) -> None:
    """Model and RTL, same scenario and seed: the same frames in the same order (but for PSH,
    see below), the same interrupt causes modulo coalescing (see below), timing aside; and
    without TSO the same descriptors written back (index, length, CSO, CMD, STA, CSS) in the
    same order. With TSO the stack's GSO skbs differ in size between the two (tcp_tso_autosize
    and tcp_tso_should_defer follow the ACKs' timing), so the descriptors do too: each side
    must write back exactly the EOP descriptors its driver posted, in ring order, TSO
    packets (context + TSE data descriptors) among them."""
    seed = 1
    model = _model_run(itr, seed, tso)
    rtl = _rtl("differential", f"tb_e2e.differential.itr{itr}.tso{int(tso)}", E2E_ITR=itr, E2E_SEED=seed,
               E2E_TSO=int(tso))
    assert len(rtl["frames"]) == len(model["frames"]), (len(rtl["frames"]), len(model["frames"]))
    psh_only = []
    for i, (a, b) in enumerate(zip(model["frames"], rtl["frames"], strict=False)):
        if a == b:
            continue
        # The completions come at other times on one side than on the other (dynamic ITR
        # coalesces them; with ITR off the model NIC and the RTL still differ in DMA timing),
        # and since tcp_sendmsg takes time (kernel/cost.py: ACKs arriving during the copy wait
        # in the backlog), the stack's PSH decision (tcp_push marks the write-queue tail when
        # sendmsg returns) may land on another segment; and the peer's window grows with its
        # receive-buffer autotuning at times that follow the ACKs', which moves the forced
        # pushes and the GSO boundaries (PSH on each GSO packet's last segment): allow exactly
        # that, everything else must still be identical.
        assert tcp_frame_modulo_psh(a) == tcp_frame_modulo_psh(b), f"frame {i} differs:\n model {a}\n rtl   {b}"
        psh_only.append(i)
    # With TSO the stack puts PSH on every TSO packet (Linux __tcp_transmit_skb: pcount > 1), which
    # the NIC keeps on its last segment: PSH then marks GSO boundaries, which follow the timing too.
    psh_limit = len(model["posted"]) + len(rtl["posted"]) if tso else len(rtl["frames"]) // 10
    assert len(psh_only) <= psh_limit, f"PSH differs on {len(psh_only)} frames: {psh_only}"
    if not tso:
        assert rtl["writebacks"] == model["writebacks"]
    for side in (model, rtl):
        assert [w[0] for w in side["writebacks"]] == side["posted"], "write-backs are not the posted EOP descriptors"
        assert all(w[4] & E1000_TXD_STAT_DD for w in side["writebacks"])
        tso_packets = sum(1 for w in side["writebacks"] if w[3] & E1000_TXD_CMD_DEXT)
        assert (tso_packets > 0) == tso, tso_packets
    # Interrupt causes: which causes the driver reads in one ICR read depends on when the
    # read lands relative to the write-backs (coalescing in ICR, ITR throttling), so the
    # number of reads legitimately differs. What must agree: every read found a cause (no
    # spurious interrupt), only TXDW/TXQE ever appeared (no ERR), and each ICR read
    # reported INT_ASSERTED together with TXDW.
    for side in (model, rtl):
        assert all(v & 0x80000001 == 0x80000001 for v in side["icr"]), [hex(v) for v in side["icr"]]
        assert set(icr_causes(side["icr"])) == {"TXDW", "TXQE", "INT_ASSERTED"}, icr_causes(side["icr"])
    t_model = model["times"][-1][1] - model["times"][0][0]
    t_rtl = rtl["times"][-1][1] - rtl["times"][0][0]
    print(f"\ndifferential itr={itr} tso={int(tso)}: {len(rtl['frames'])} frames ({len(psh_only)} differ in TCP PSH "
          f"only: {psh_only}), {len(rtl['writebacks'])} write-backs ({'identical' if not tso else 'each side its own'}); "
          f"ICR reads model {len(model['icr'])} {icr_causes(model['icr'])} vs rtl {len(rtl['icr'])} "
          f"{icr_causes(rtl['icr'])}; wire span model {t_model / 1e6:.1f} us vs rtl {t_rtl / 1e6:.1f} us")


# -- the clock hold ----------------------------------------------------------------------------------


def test_clock_hold_is_exact() -> None:
    """The same TCP run with the harness's clock hold on and off: identical frames with
    identical t_start/t_end, identical driver log; the hold run skipped most cycles."""
    on = _rtl("clock_hold", "tb_e2e.clock_hold.on", E2E_HOLD=1)
    off = _rtl("clock_hold", "tb_e2e.clock_hold.off", E2E_HOLD=0)
    assert off["skipped"] == 0, off["skipped"]
    assert on["cycles"] == off["cycles"] and on["sim_end_ps"] == off["sim_end_ps"]
    assert len(on["frames"]) == len(off["frames"])
    for i, (a, b) in enumerate(zip(on["frames"], off["frames"], strict=False)):
        assert a == b, f"frame {i}: hold {a} vs no hold {b}"
    assert on["writebacks"] == off["writebacks"] and on["icr"] == off["icr"]
    assert on["irq_edges"] == off["irq_edges"]
    frac = on["skipped"] / on["cycles"]
    print(f"\nclock hold: {on['skipped']} of {on['cycles']} cycles skipped ({frac:.1%}); wall {on['wall_s']} s "
          f"with hold vs {off['wall_s']} s without; CocotbEnv.skipped_cycles at the end: {on['env_skipped']} "
          f"(hold) / {off['env_skipped']} (no hold)")
    assert frac > 0.5, f"the hold skipped only {frac:.1%} of the cycles"
