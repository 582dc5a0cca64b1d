"""cocotb bench: the unchanged stack and e1000 driver on nic_top (Icarus or Verilator).

Run by tests/e2e/test_e2e.py, one testcase per simulator run. Every testcase is bounded in
simulated time (rtl_test(timeout_us=...) and per-process bounds in run_process) and writes
its measurements to <run dir>/e2e_result.json for the pytest side to report or compare.
Knobs arrive through the environment (run_rtl_test(extra_env=...)): E2E_BYTES, E2E_ITR,
E2E_HOLD, E2E_SEED.
"""

from __future__ import annotations

import hashlib
import os
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

from e2e_lib import (  # noqa: E402
    DIFF,
    BqlWatch,
    BuiltFrames,
    CorruptOneDescriptor,
    DriverLog,
    QueueStops,
    WallClock,
    WireLog,
    diff_scenario,
    icr_causes,
    ipv4_fragments,
    linux_fragment_sizes,
    write_result,
)

from hilnic.cosim.api import rtl_test  # noqa: E402
from hilnic.drivers.net.ethernet.intel.e1000.e1000_main import ethtool_stats  # noqa: E402
from hilnic.hw.regs import E1000_ICR_ERR, ERR_DMA_READ  # noqa: E402
from hilnic.kernel.env import MS  # noqa: E402
from hilnic.net.core.skbuff import live_skbs  # noqa: E402
from hilnic.testbed import E1000_IRQ, TestbedConfig, tcp_bulk, udp_send  # noqa: E402
from hilnic.testbed.rtl import rtl_testbed  # noqa: E402

MEM_LATENCY_NS = 500  # the model's default mem_latency_ps, so the differential test compares like with like


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


async def _up(dut, cfg: TestbedConfig, **kw):
    tb = await rtl_testbed(dut, cfg, mem_latency_ns=MEM_LATENCY_NS, setup=False, **kw)
    await tb.env.run_process(tb.host.kernel, tb.setup(), 5 * MS)
    return tb


async def _run(tb, coro, timeout):
    return await tb.env.run_process(tb.host.kernel, coro, timeout)


async def _down(tb, *, clean: bool = True, dma_violations: bool = True) -> dict:
    """Quiesce, read the NIC's counters, tear down; then the harness verdict and leak check."""
    await _run(tb, tb.quiesce(), 50 * MS)
    stats = await _run(tb, ethtool_stats(tb.dev), 1 * MS)
    await _run(tb, tb.teardown(), 50 * MS)
    tb.nic.check(dma_violations=dma_violations)
    if clean:
        tb.check_clean()
    return stats


def _irq_count(tb) -> int:
    return tb.host.kernel.irqs[E1000_IRQ].count


def _peer_clean(tb) -> None:
    c = tb.peer.counters()
    bad = {k: c[k] for k in ("bad_fcs", "runts", "bad_ip_csum", "bad_l4_csum", "malformed", "not_for_us", "reasm_fails")}
    assert not any(bad.values()), f"the peer saw bad frames: {bad}"


def _wire_checks(tb, wire: WireLog, built: BuiltFrames, stats: dict) -> None:
    frames = wire.frames
    assert all(f.fcs_ok for f in frames), "frame with a bad FCS on the wire"
    foreign = built.foreign(frames)
    assert not foreign, f"{len(foreign)} wire frames are not frames the stack built, e.g. #{foreign[:5]}"
    assert stats["gptc"] == len(frames), f"GPTC {stats['gptc']} != {len(frames)} frames captured"
    assert stats["gotc"] == sum(len(f.data) for f in frames), "GOTC != captured octets"
    starts = [f.t_start for f in frames]
    assert starts == sorted(starts)


async def _tcp(dut, cfg: TestbedConfig, nbytes: int, sim_ms: int, **kw) -> dict:
    """The common TCP bulk run: byte-exact delivery, wire frames all built by the stack."""
    wall = WallClock()
    tb = await _up(dut, cfg, **kw)
    wire, built, dlog, stops = WireLog(tb), BuiltFrames(tb), DriverLog(tb), QueueStops()
    bql = BqlWatch(tb)
    try:
        res = await _run(tb, tcp_bulk(tb, nbytes), sim_ms * MS)
        irqs = _irq_count(tb)
        limit = tb.dev._tx[0].dql.limit
        ring = tb.adapter.tx_ring
        drv = dict(restart_queue=ring.tx_stats.restart_queue, restart_queue2=ring.tx_stats.restart_queue2,
                   tx_busy=tb.adapter.stats.tx_busy, tx_timeout=tb.adapter.stats.tx_timeout_count,
                   err_interrupts=tb.adapter.stats.err_interrupts)
        stats = await _down(tb)
    finally:
        for h in (built, dlog, stops, bql):
            h.uninstall()
    assert tb.peer.stream(peer_port=5001) == res["payload"], "TCP stream delivered is not the payload"
    _peer_clean(tb)
    _wire_checks(tb, wire, built, stats)
    assert drv["tx_timeout"] == 0 and drv["err_interrupts"] == 0, drv
    frames = wire.frames
    span = frames[-1].t_end - frames[0].t_start
    return dict(
        tb=tb, wire=wire, dlog=dlog, bql=bql, stops=stops.stops, res=res, irqs=irqs, bql_limit=limit, drv=drv,
        result=dict(
            frames=len(frames), wire_bytes=sum(len(f.data) for f in frames), elapsed_ps=res["elapsed_ps"],
            payload_gbps=nbytes * 8 / (res["elapsed_ps"] / 1e12) / 1e9, wire_span_ps=span, irqs=irqs,
            bql_limit=limit, queue_stops=stops.stops, **drv, nic=tb.nic.stats(),
            tcp={k: tb.host.mib["Tcp"].get(k, 0) for k in ("OutSegs", "RetransSegs")},
            tcpext=dict(tb.host.mib["TcpExt"].items()), peer=tb.peer.counters(),
            sim_end_ps=tb.env.now(), wall_s=wall(),
        ),
    )


# -- the testcases --------------------------------------------------------------------------------


@rtl_test(timeout_us=200_000)
async def tcp_1mib(dut):
    """1 MiB of TCP through the RTL, delivered byte-exact; every skb freed, every mapping gone."""
    out = await _tcp(dut, TestbedConfig(), 1 << 20, 150)
    assert out["result"]["tcp"]["RetransSegs"] == 0
    write_result(out["result"])


@rtl_test(timeout_us=20_000_000)
async def tcp_loss(dut):
    """1 MiB of TCP with 1% of the frames lost on the wire (seeded): retransmissions, and
    still byte-exact delivery."""
    seed = _env_int("E2E_SEED", 3)
    out = await _tcp(dut, TestbedConfig(loss_rate=0.01, seed=seed), 1 << 20, 15_000)
    r = out["result"]
    assert out["tb"].peer.dropped_by_loss > 0, "no frame was lost"
    assert r["tcp"]["RetransSegs"] > 0, f"no retransmission counted: {r['tcp']}"
    r["dropped_by_loss"] = out["tb"].peer.dropped_by_loss
    write_result(r)


@rtl_test(timeout_us=300_000_000)
async def tcp_soak(dut):
    """Long TCP with loss (E2E_BYTES, E2E_LOSS, E2E_RING, E2E_SEED): byte-exact, clean."""
    cfg = TestbedConfig(loss_rate=float(os.environ.get("E2E_LOSS", "0.02")), seed=_env_int("E2E_SEED", 1),
                        ring_size=_env_int("E2E_RING", 64))
    out = await _tcp(dut, cfg, _env_int("E2E_BYTES", 16 << 20), 250_000)
    r = out["result"]
    r["dropped_by_loss"] = out["tb"].peer.dropped_by_loss
    assert r["tcp"]["RetransSegs"] > 0
    write_result(r)


@rtl_test(timeout_us=100_000)
async def udp_frag(dut):
    """UDP 3000 and 8000 bytes at MTU 1500: fragmented as ip_fragment does; the peer
    reassembles the exact datagrams."""
    wall = WallClock()
    sizes = [3000, 8000]
    tb = await _up(dut, TestbedConfig(strict_peer=True))
    wire, built = WireLog(tb), BuiltFrames(tb)
    try:
        sent = await _run(tb, udp_send(tb, sizes), 50 * MS)
        ip = {k: tb.host.mib["Ip"].get(k, 0) for k in ("OutRequests", "FragOKs", "FragCreates", "FragFails")}
        stats = await _down(tb)
    finally:
        built.uninstall()
    _peer_clean(tb)
    _wire_checks(tb, wire, built, stats)
    frags = ipv4_fragments(wire.frames, proto=17)
    by_id: dict[int, list[dict]] = {}
    for fr in frags:
        by_id.setdefault(fr["id"], []).append(fr)
    assert len(by_id) == len(sizes), f"expected {len(sizes)} IP ids, got {sorted(by_id)}"
    ids = list(by_id)  # in wire order of first appearance
    report = []
    for ip_id, n, data in zip(ids, sizes, sent, strict=False):
        fl = by_id[ip_id]
        want = linux_fragment_sizes(n + 8)
        got = [f["payload_len"] for f in fl]
        assert got == want, f"datagram of {n} B: fragment payloads {got}, Linux gives {want}"
        assert want[0] == 1480
        offs = [f["offset"] for f in fl]
        assert offs == [sum(want[:i]) for i in range(len(want))], offs
        assert all(o % 8 == 0 for o in offs)
        assert [f["mf"] for f in fl] == [True] * (len(fl) - 1) + [False]
        assert not any(f["df"] for f in fl), "a fragmented datagram carries DF"
        whole = b"".join(f["payload"] for f in fl)
        assert whole[8:] == data and int.from_bytes(whole[4:6], "big") == n + 8
        report.append(dict(ip_id=ip_id, size=n, fragments=got, offsets=offs))
    got_dgrams = [d.data for d in tb.peer.datagrams if d.dport == 9000]
    assert got_dgrams == sent, "the peer did not reassemble the exact datagrams"
    assert ip["FragOKs"] == 2 and ip["FragCreates"] == 3 + 6, ip
    write_result(dict(datagrams=report, ip=ip, frames=len(wire.frames), wall_s=wall()))


@rtl_test(timeout_us=200_000)
async def ring64(dut):
    """A 64-descriptor ring: the driver stops the queue and the clean path restarts it. TSO
    off: one skb per segment fills the ring (with TSO a 64 KiB skb takes ~5 descriptors)."""
    out = await _tcp(dut, TestbedConfig(ring_size=64, tso=False), _env_int("E2E_BYTES", 1 << 20), 150)
    r = out["result"]
    assert r["queue_stops"] > 0, "the queue was never stopped"
    assert r["restart_queue"] + r["restart_queue2"] > 0, "no restart counted"
    assert r["restart_queue"] > 0, "never woken by the clean path (restart_queue)"
    write_result(r)


@rtl_test(timeout_us=200_000)
async def bql(dut):
    """BQL: the limit grows from 0, STACK_XOFF holds the qdisc, and inflight exceeds the limit
    only by what the current batch posted (docs/linux-tx-path.md §7, behaviour 15; see BqlWatch)."""
    out = await _tcp(dut, TestbedConfig(), 1 << 20, 150)
    w: BqlWatch = out["bql"]
    r = out["result"]
    assert r["bql_limit"] > 0, "BQL limit never grew"
    assert w.xoffs > 0, "BQL never stopped the queue"
    assert w.max_excess_at_batch_start <= 0, f"a batch started with inflight {w.max_excess_at_batch_start} B over the limit"
    assert w.max_excess_over_batch <= 0, f"inflight exceeded limit + the batch posted by {w.max_excess_over_batch} B"
    worst = max(i - lim for i, lim in w.samples)
    assert worst <= w.max_batch_bytes, f"at a wire frame inflight exceeded the limit by {worst} B"
    r.update(bql_posts=w.posts, bql_batches=w.batches, bql_xoffs=w.xoffs, bql_max_inflight=w.max_inflight,
             bql_max_limit=w.max_limit, bql_max_batch_bytes=w.max_batch_bytes, bql_max_excess=w.max_excess,
             bql_worst_excess_at_frame=worst, bql_max_excess_over_batch=w.max_excess_over_batch,
             bql_max_excess_at_batch_start=w.max_excess_at_batch_start)
    write_result(r)


@rtl_test(timeout_us=200_000)
async def itr(dut):
    """One ITR setting (E2E_ITR, interrupts/s; 0 = off): irq count and throughput. TSO off:
    a completion per segment is the load ITR is for (with TSO, one per 64 KiB skb)."""
    setting = _env_int("E2E_ITR", 0)
    out = await _tcp(dut, TestbedConfig(itr=setting, tso=False), _env_int("E2E_BYTES", 2 << 20), 150)
    r = out["result"]
    frames = out["wire"].frames
    half = frames[len(frames) // 2 :]  # steady state: the second half of the transfer
    r["steady_gbps"] = sum(len(f.data) for f in half) * 8 / ((half[-1].t_end - half[0].t_start) / 1e12) / 1e9
    r["itr"] = setting
    write_result(r)


@rtl_test(timeout_us=2_000_000)
async def dma_bad_addr(dut):
    """A wrong DMA address injected into the driver: the IOMMU records the violation, the
    NIC reports ERRCAUSE.DMA_READ with ICR.ERR, e1000_handle_err resets the ring, no bad
    frame reaches the wire, TCP recovers and the run ends with nothing leaked."""
    wall = WallClock()
    tb = await _up(dut, TestbedConfig())
    mem = tb.host.mem
    bad = mem.alloc(1 << 16, align=4096) + 0x123  # host RAM that nobody maps
    wire, built, dlog = WireLog(tb), BuiltFrames(tb), DriverLog(tb)
    inj = CorruptOneDescriptor(bad, nth=_env_int("E2E_NTH", 5))  # with TSO: a GSO skb's header buffer
    try:
        res = await _run(tb, tcp_bulk(tb, 256 << 10), 5_000 * MS)
        a = tb.adapter.stats
        drv = dict(err_interrupts=a.err_interrupts, last_errcause=a.last_errcause, last_erraddr=a.last_erraddr,
                   tx_restart_hw=a.tx_restart_hw, tx_timeout=a.tx_timeout_count)
        await _run(tb, tb.quiesce(), 50 * MS)
        await _run(tb, tb.teardown(), 50 * MS)
    finally:
        for h in (inj, built, dlog):
            h.uninstall()
    assert inj.victim is not None, "the injection never fired"
    viol = mem.violations
    assert viol, "no IOMMU violation recorded"
    assert all(bad - 4096 < v.addr < bad + 4096 and v.kind == "read" for v in viol), viol
    assert drv["err_interrupts"] >= 1 and drv["last_errcause"] & ERR_DMA_READ, drv
    assert bad - 4096 < drv["last_erraddr"] < bad + 4096, f"ERRADDR {drv['last_erraddr']:#x}, bad {bad:#x}"
    assert drv["tx_restart_hw"] >= 1, drv
    assert any(v & E1000_ICR_ERR for v in dlog.icr_values()), "e1000_intr never read ICR.ERR"
    errs = tb.nic.mem_service.error_responses
    assert errs and all(not e.write for e in errs), errs
    foreign = built.foreign(wire.frames)
    assert not foreign, f"frames on the wire that the stack never built: {foreign[:5]}"
    assert tb.peer.stream(peer_port=5001) == res["payload"], "TCP did not recover byte-exact"
    _peer_clean(tb)
    tb.nic.check(dma_violations=False)
    leaked = live_skbs()
    assert not leaked, f"{len(leaked)} skbs leaked"
    assert not mem.live_mappings, mem.live_mappings[:3]
    mem.free(bad - 0x123)
    write_result(dict(violations=[(v.addr, v.length, v.kind) for v in viol], bad_addr=bad, victim=inj.victim, **drv,
                      error_bursts=len(errs), icr=icr_causes(dlog.icr_values()), frames=len(wire.frames),
                      retrans=tb.host.mib["Tcp"].get("RetransSegs", 0), sim_end_ps=tb.env.now(), wall_s=wall()))


@rtl_test(timeout_us=200_000)
async def differential(dut):
    """The RTL half of the differential test: the shared scenario, its frames and the
    driver-visible log to JSON (tests/e2e/test_e2e.py runs the model and compares)."""
    wall = WallClock()
    cfg = TestbedConfig(itr=_env_int("E2E_ITR", 0), seed=_env_int("E2E_SEED", 1), tso=bool(_env_int("E2E_TSO", 1)))
    tb = await _up(dut, cfg)
    wire, built, dlog = WireLog(tb), BuiltFrames(tb), DriverLog(tb)
    try:
        out = await _run(tb, diff_scenario(tb, **DIFF), 150 * MS)
        stats = await _down(tb)
    finally:
        built.uninstall()
        dlog.uninstall()
    assert tb.peer.stream(peer_port=5001) == out["tcp_payload"]
    _wire_checks(tb, wire, built, stats)
    write_result(dict(frames=[r[2] for r in wire.records()], times=[r[:2] for r in wire.records()],
                      writebacks=dlog.writebacks(), posted=dlog.posted, icr=dlog.icr_values(), wall_s=wall()))


def _skipped(dut, now: int) -> int:
    """Cycles the clock hold skipped up to `now` (ps). CocotbEnv.skipped_cycles counts the
    rising edges due with `<=`; read in the time step of a rising edge, before `cycle`'s
    non-blocking update, that counts one edge too many. Edges strictly before `now` here."""
    period = int(dut.CLK_PERIOD_PS.value)
    half = period // 2
    before = (now - half + period - 1) // period if now > half else 0
    return int(dut.clk_skipped.value) + max(0, before - int(dut.cycle.value))


@rtl_test(timeout_us=200_000)
async def clock_hold(dut):
    """The TCP scenario with the harness's clock hold on or off (E2E_HOLD): frames, times,
    driver log and the number of cycles simulated vs skipped, to JSON for comparison."""
    wall = WallClock()
    hold = _env_int("E2E_HOLD", 1) == 1
    tb = await rtl_testbed(dut, TestbedConfig(), mem_latency_ns=MEM_LATENCY_NS, hold_clock=hold, setup=False)
    await tb.env.run_process(tb.host.kernel, tb.setup(), 5 * MS)
    t0, s0 = tb.env.now(), _skipped(dut, tb.env.now())
    wire, built, dlog = WireLog(tb), BuiltFrames(tb), DriverLog(tb)
    try:
        res = await _run(tb, tcp_bulk(tb, _env_int("E2E_BYTES", 1 << 20)), 150 * MS)
        stats = await _down(tb)
    finally:
        built.uninstall()
        dlog.uninstall()
    t1, s1 = tb.env.now(), _skipped(dut, tb.env.now())
    period = int(dut.CLK_PERIOD_PS.value)
    assert tb.peer.stream(peer_port=5001) == res["payload"]
    _wire_checks(tb, wire, built, stats)
    write_result(
        dict(
            hold=hold,
            frames=[(f.t_start, f.t_end, hashlib.sha1(f.data).hexdigest()) for f in wire.frames],
            writebacks=dlog.writebacks(),
            icr=dlog.icr_values(),
            irq_edges=tb.nic.irq_edges,
            cycles=(t1 - t0) // period,
            skipped=s1 - s0,
            env_skipped=tb.env.skipped_cycles(dut),
            sim_end_ps=tb.env.now(),
            wall_s=wall(),
        )
    )
