"""The `hilnic run` scenario, the same on every simulator, and the files it writes.

`run_scenario(tb, rc, progress)` is one process-context coroutine on a `Testbed` (behavioral
model in virtual time, or the RTL under cocotb). It sets the testbed up itself unless the
caller already has (`tb.dev` set), then: an application sends `rc.nbytes` — TCP: one
connection, `send()` in 64 KiB calls, close (`tcp_bulk`); UDP: one datagram of MTU - 28
bytes per frame — waits until the peer has everything, lets the driver reclaim every
descriptor (`quiesce`), snapshots the counters (before `teardown`: closing the device frees
its IRQ and with it the /proc/interrupts line), tears down, checks that nothing leaked
(`check_clean`) and that the peer received the payload byte for byte. It returns the summary
(also written to <out>/summary.json) and writes into <out>:

    wire.pcap      every frame the MAC put on XGMII, stamped with its simulated start time
    trace.txt      function_graph of the whole run (rc.trace)
    stats.txt      Linux-format counters: softnet_stat, /proc/softirqs, /proc/interrupts,
                   tc -s qdisc, BQL, ethtool -S, /proc/net/dev, snmp, TcpExt, copy accounting
    summary.json   the numbers `format_summary` prints

On failure `Scenario.fail(exc)` writes summary.json with ok=false, the error and the counters
so far, and closes the files; `run_scenario` does that itself before re-raising.

Progress: `progress(sim_ps, frames, bytes_done, total)` is called at most every `interval` wall
seconds, from the frame listener and from a timer every TICK_PS of simulated time (so it moves
while no frame is on the wire), and once more at the end.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hilnic.drivers.net.ethernet.intel.e1000.e1000_main import e1000_get_ethtool_stats, ethtool_stats, netdev_priv
from hilnic.hw.backend import WireFrame
from hilnic.kernel.env import MS, US
from hilnic.kernel.ftrace import Tracer, get_tracer, set_tracer
from hilnic.kernel.softirq import NET_RX_SOFTIRQ, NET_TX_SOFTIRQ
from hilnic.net.core.skbuff import skb_stats
from hilnic.net.socket import SOCK_DGRAM
from hilnic.run.config import RunConfig
from hilnic.testbed import E1000_IRQ, TestbedConfig, pattern, tcp_bulk
from hilnic.trace import collect_stats, function_graph
from hilnic.wire.pcap import PcapWriter

ProgressFn = Callable[[int, int, int, int], None]  # (sim_ps, frames, bytes_done, total)

TCP_PORT = 5001
UDP_PORT = 9000
TICK_PS = 20 * US  # progress timer period in simulated time
LINE_RATE_BPS = 10e9
PREAMBLE_IFG = 8 + 12  # bytes on the wire around each frame (preamble+SFD, inter-frame gap)
UDP_IDLE_PS = 50 * US  # UDP with loss: done when the ring is idle and no frame left for this long
ARP_WAIT_PS = 1 * MS  # UDP: longest wait for the first datagram (ARP resolution) before the rest

# PcapWriter may learn an `fcs` argument (frames with their FCS, flagged in the file header);
# use it when it is there, so the capture shows the FCS the MAC computed.
_PCAP_FCS = "fcs" in inspect.signature(PcapWriter.__init__).parameters


class DeliveryError(AssertionError):
    """The peer did not receive exactly what the application sent."""


def _l4_payload(data: bytes) -> tuple[str, int]:
    """('tcp'|'udp'|'other', L4 payload bytes) of an Ethernet frame (IPv4, no VLAN)."""
    if len(data) < 34 or data[12] != 0x08 or data[13] != 0x00:
        return "other", 0
    ihl = (data[14] & 0x0F) * 4
    total = data[16] << 8 | data[17]
    proto = data[23]
    if proto == 6 and len(data) >= 14 + ihl + 20:
        doff = (data[14 + ihl + 12] >> 4) * 4
        return "tcp", max(0, total - ihl - doff)
    if proto == 17:
        frag_off = (data[20] << 8 | data[21]) & 0x1FFF
        return "udp", max(0, total - ihl - (0 if frag_off else 8))
    return "other", 0


class Scenario:
    """One run on a testbed: traffic, counters, output files. See the module docstring."""

    def __init__(self, tb: Any, rc: RunConfig, progress: ProgressFn | None = None, *,
                 out: str | Path | None = None, interval: float = 0.3, tracer: Tracer | None = None) -> None:
        self.tb = tb
        self.rc = rc
        self.env = tb.env
        self.kernel = tb.host.kernel
        self.out = Path(out) if out is not None else rc.out_dir()
        self.out.mkdir(parents=True, exist_ok=True)
        for stale in ("summary.json", "trace.txt", "stats.txt", "wire.pcap", "progress.json"):
            (self.out / stale).unlink(missing_ok=True)
        self.progress = progress
        self.interval = interval
        self.pcap_path = self.out / "wire.pcap"
        self.pcap = PcapWriter(str(self.pcap_path), **({"fcs": True} if _PCAP_FCS else {}))
        self.tracer = tracer
        if self.tracer is None and rc.trace:
            k = self.kernel
            self.tracer = Tracer(k.now, lambda: k.context)
        # wire accounting
        self.frames = 0
        self.wire_bytes = 0
        self.data_frames = 0
        self.data_payload = 0  # L4 payload bytes in frames (retransmissions included)
        self.data_line_bits = 0
        self.first_data_ps: int | None = None
        self.last_data_ps = 0
        self.last_frame_ps = 0
        self.proto_frames = {"tcp": 0, "udp": 0, "other": 0}
        self.clock_info: Any = None  # RTL: () -> {"period_ps", "cycles", "skipped", "hold"}
        # run state
        self.t0_ps = self.env.now()
        self.wall0 = time.perf_counter()
        self.phase = "setup"
        self.counters: dict[str, Any] = {}
        self.payload = b""
        self.delivered = 0
        self._last_tick = 0.0
        self._timer: Any = None
        self._closed = False
        tb.nic.on_frame(self._on_frame)

    # -- listeners ------------------------------------------------------------------------------

    def _on_frame(self, f: WireFrame) -> None:
        if self._closed:
            return
        self.pcap.write_frame(f)
        n = len(f.data)
        self.frames += 1
        self.wire_bytes += n
        self.last_frame_ps = f.t_end
        kind, pay = _l4_payload(f.data)
        self.proto_frames[kind] += 1
        if pay and kind == self.rc.proto:
            self.data_frames += 1
            self.data_payload += pay
            self.data_line_bits += (n + PREAMBLE_IFG) * 8
            if self.first_data_ps is None:
                self.first_data_ps = f.t_start
            self.last_data_ps = f.t_end
        if self.progress is not None and time.perf_counter() - self._last_tick >= self.interval:
            self._tick(force=True)

    def _bytes_done(self) -> int:
        peer = self.tb.peer
        if peer is None:
            return 0
        if self.rc.proto == "tcp":
            try:
                return peer.delivered_bytes(peer_port=TCP_PORT)
            except Exception:  # no connection yet
                return 0
        return sum(len(d.data) for d in peer.datagrams if d.dport == UDP_PORT)

    def _tick(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_tick < self.interval:
            return
        self._last_tick = now
        if self.progress is not None:
            self.progress(self.env.now(), self.frames, self._bytes_done(), self.rc.nbytes)

    def _on_timer(self) -> None:
        self._timer = None
        if self._closed:
            return
        self._tick()
        self._timer = self.env.call_later(TICK_PS, self._on_timer)

    # -- the run --------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:

        tb, rc = self.tb, self.rc
        if self.tracer is not None:
            set_tracer(self.tracer)
        if self.progress is not None:
            self._tick(force=True)
            self._timer = self.env.call_later(TICK_PS, self._on_timer)
        if tb.dev is None:
            await tb.setup()
        self.phase = "traffic"
        self.payload = pattern(rc.nbytes, seed=rc.seed)
        if rc.proto == "tcp":
            await tcp_bulk(tb, rc.nbytes, port=TCP_PORT, data=self.payload)
        else:
            await self._udp_send()
        self.phase = "quiesce"
        await tb.quiesce()
        # counters before teardown: dev_close frees the IRQ (and its /proc/interrupts line)
        ethtool = await ethtool_stats(tb.dev)
        self.counters = self._snapshot(ethtool)
        stats_text = collect_stats(tb.host, tb.dev, ethtool, peer=tb.peer)
        self.phase = "teardown"
        await tb.teardown()
        self.phase = "check"
        if self.tracer is not None and get_tracer() is self.tracer:
            set_tracer(None)
        self.counters["copies"] = _copy_stats()
        tb.check_clean()
        self._check_delivery()
        self.phase = "done"
        (self.out / "stats.txt").write_text(stats_text)
        self._tick(force=True)
        summary = self.summary()
        self.close()
        self._write_summary(summary)
        return summary

    async def _udp_send(self) -> None:

        tb, rc = self.tb, self.rc
        size = rc.datagram_size
        s = tb.socket(SOCK_DGRAM)
        mv = memoryview(self.payload)
        k = tb.host.kernel
        n = 0
        for off in range(0, len(mv), size):
            # a blocking socket: with the send buffer full, sendto sleeps in sock_wait_for_wmem
            await s.sendto(mv[off:off + size], (tb.cfg.peer_ip, UDP_PORT))
            n += 1
            if n == 1:
                # Until ARP resolves the peer, datagrams wait in the neighbour's arp_queue, which
                # holds unres_qlen_bytes and drops the oldest beyond: a blast would lose most of
                # them, as on Linux. Wait until the first one has left the MAC.
                deadline = self.env.now() + ARP_WAIT_PS
                while not self.proto_frames["udp"] and self.env.now() < deadline:
                    await k.sleep_ps(1 * US)
        await s.close()
        # every datagram at the peer, or (loss) the ring idle and the wire quiet for UDP_IDLE_PS
        ring = tb.adapter.tx_ring
        while True:
            got = sum(1 for d in tb.peer.datagrams if d.dport == UDP_PORT)
            if got >= n:
                return
            idle = ring.next_to_clean == ring.next_to_use and not any(txq.qdisc.qstats.qlen for txq in tb.dev._tx)
            if idle and self.env.now() - self.last_frame_ps >= UDP_IDLE_PS:
                return
            await k.sleep_ps(10 * US)

    def _check_delivery(self) -> None:
        tb, rc, payload = self.tb, self.rc, self.payload
        if rc.proto == "tcp":
            got = tb.peer.stream(peer_port=TCP_PORT)
            self.delivered = len(got)
            if got != payload:
                where = next(
                    (i for i, (a, b) in enumerate(zip(got, payload, strict=False)) if a != b), min(len(got), len(payload))
                )
                raise DeliveryError(f"the peer's TCP stream differs from what was sent: {len(got):,} of "
                                    f"{len(payload):,} bytes received, first difference at byte {where:,}")
            return
        size = rc.datagram_size
        chunks = [payload[i:i + size] for i in range(0, len(payload), size)]
        got_d = [d.data for d in tb.peer.datagrams if d.dport == UDP_PORT]
        self.delivered = sum(len(d) for d in got_d)
        j = 0
        for i, d in enumerate(got_d):  # received datagrams: the sent ones in order, some lost
            while j < len(chunks) and chunks[j] != d:
                j += 1
            if j == len(chunks):
                raise DeliveryError(f"UDP datagram {i} at the peer ({len(d)} bytes) matches none sent, in order")
            j += 1
        lost = len(chunks) - len(got_d)
        if lost and rc.loss_rate == 0.0:
            raise DeliveryError(f"{lost} of {len(chunks)} UDP datagrams never reached the peer (no loss configured)")

    # -- counters and summary -------------------------------------------------------------------

    def _snapshot(self, ethtool: dict[str, int]) -> dict[str, Any]:

        tb, k = self.tb, self.kernel
        desc = k.irqs.get(E1000_IRQ)
        qdiscs = {id(txq.qdisc): txq.qdisc for txq in tb.dev._tx if txq.qdisc is not None}
        ad = netdev_priv(tb.dev)
        ts = ad.tx_ring.tx_stats
        mib = tb.host.mib
        tcp = mib.get("Tcp", {}) if hasattr(mib, "get") else mib["Tcp"]
        ext = mib.get("TcpExt", {}) if hasattr(mib, "get") else {}
        peer = tb.peer.counters() if tb.peer is not None else {}
        return {
            "interrupts": desc.count if desc is not None else 0,
            "softirqs": {"NET_TX": k.softirq_count[NET_TX_SOFTIRQ], "NET_RX": k.softirq_count[NET_RX_SOFTIRQ]},
            "qdisc": {"requeues": sum(q.qstats.requeues for q in qdiscs.values()),
                      "drops": sum(q.qstats.drops for q in qdiscs.values())},
            # every stop of the subqueue by __e1000_maybe_stop_tx ends in exactly one of: the
            # immediate re-check wakes it (restart_queue2) or e1000_clean_tx_irq does (restart_queue)
            "ring": {"size": ad.tx_ring.count, "stops": ts.restart_queue + ts.restart_queue2,
                     "restarts": ts.restart_queue, "reprieves": ts.restart_queue2, "tx_busy": ad.stats.tx_busy},
            "tcp": {"out_segs": int(tcp.get("OutSegs", 0)), "retrans_segs": int(tcp.get("RetransSegs", 0)),
                    "timeouts": int(ext.get("TCPTimeouts", 0)), "fast_retrans": int(ext.get("TCPFastRetrans", 0))},
            "peer": {"dropped_by_loss": int(peer.get("dropped_by_loss", 0)), "frames_rx": int(peer.get("frames_rx", 0)),
                     "acks_sent": int(peer.get("acks_sent", 0))},
            "nic": {"gptc": int(ethtool.get("gptc", 0)), "gotc": int(ethtool.get("gotc", 0)),
                    "txdrop": int(ethtool.get("txdrop", 0))},
        }

    def summary(self, error: str = "") -> dict[str, Any]:
        rc = self.rc
        now = self.env.now()
        sim_ps = max(0, now - self.t0_ps)
        wall = time.perf_counter() - self.wall0
        window = (self.last_data_ps - self.first_data_ps) if self.first_data_ps is not None else 0
        delivered = self.delivered
        s: dict[str, Any] = {
            "ok": not error,
            "error": error,
            "phase": self.phase,
            "sim": rc.sim,
            "proto": rc.proto,
            "nbytes": rc.nbytes,
            "mtu": rc.mtu,
            "mss": rc.effective_mss if rc.proto == "tcp" else None,
            "datagram": rc.datagram_size if rc.proto == "udp" else None,
            "frames": self.frames,
            "wire_bytes": self.wire_bytes,  # frames incl. FCS, without preamble and IFG
            "data_frames": self.data_frames,
            "data_payload_bytes": self.data_payload,  # carried on the wire, retransmissions included
            "payload_bytes": delivered,  # delivered to the peer's application
            "proto_frames": dict(self.proto_frames),
            "sim_time_ps": sim_ps,
            "transfer_ps": window,
            "throughput_gbps": delivered * 8 * 1000 / window if window > 0 else 0.0,
            "line_rate_pct": 100.0 * self.data_line_bits * 1e12 / window / LINE_RATE_BPS if window > 0 else 0.0,
            "wall_s": wall,
            "slowdown": wall / (sim_ps * 1e-12) if sim_ps > 0 else 0.0,
            "config": dataclasses.asdict(rc),
            "files": {
                "pcap": str(self.pcap_path),
                "pcap_frames": self.pcap.count,
                "pcap_fcs": _PCAP_FCS,
                "trace": str(self.out / "trace.txt") if self.tracer is not None and rc.trace else "",
                "trace_events": len(self.tracer.events) if self.tracer is not None else 0,
                "stats": str(self.out / "stats.txt") if (self.out / "stats.txt").exists() else "",
                "summary": str(self.out / "summary.json"),
            },
        }
        s.update(self.counters)
        if self.clock_info is not None:
            s["clock"] = self.clock_info()
        if "copies" not in s:
            s["copies"] = _copy_stats()
        return s

    def _write_summary(self, summary: dict[str, Any]) -> None:
        _write_json(self.out / "summary.json", summary)

    def close(self) -> None:
        """Stop listening, unhook the tracer, write trace.txt, close the pcap (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.tracer is not None and get_tracer() is self.tracer:
            set_tracer(None)
        self.pcap.close()
        if self.tracer is not None and self.rc.trace:

            (self.out / "trace.txt").write_text(function_graph(self.tracer))

    def fail(self, exc: BaseException | str) -> dict[str, Any]:
        """Close the files and write summary.json with ok=false and the counters so far."""
        if isinstance(exc, BaseException):
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            msg = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        else:
            msg = exc
        msg = f"{msg} (during {self.phase})"
        if self.progress is not None and not self._closed:
            try:
                self._tick(force=True)
            except Exception:
                pass
        self.close()
        self._partial_stats()
        summary = self.summary(error=msg)
        self._write_summary(summary)
        return summary

    def _partial_stats(self) -> None:
        """stats.txt as far as the run got (no MMIO: the NIC's counters as last read)."""
        tb = self.tb
        if (self.out / "stats.txt").exists() or tb.dev is None:
            return
        try:

            text = collect_stats(tb.host, tb.dev, e1000_get_ethtool_stats(tb.dev), peer=tb.peer)
        except Exception:
            return
        (self.out / "stats.txt").write_text(f"# the run failed during {self.phase}: counters at that point\n\n{text}")


def _copy_stats() -> dict[str, int]:

    return {f.name: int(getattr(skb_stats, f.name)) for f in dataclasses.fields(skb_stats)}


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str))
    os.replace(tmp, path)


class ProgressFile:
    """A progress callable that leaves the latest numbers in <out>/progress.json (atomically)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.wall0 = time.perf_counter()

    def __call__(self, sim_ps: int, frames: int, bytes_done: int, total: int) -> None:
        _write_json(self.path, {"sim_ps": sim_ps, "frames": frames, "bytes_done": bytes_done, "total": total,
                                "wall_s": time.perf_counter() - self.wall0})


async def run_scenario(tb: Any, rc: RunConfig, progress: ProgressFn | None = None, **kwargs: Any) -> dict[str, Any]:
    """The whole run as one process-context coroutine (sets `tb` up unless `tb.dev` is set).

    Returns the summary; on failure writes summary.json with the error, then re-raises."""
    sc = Scenario(tb, rc, progress, **kwargs)
    try:
        return await sc.run()
    except GeneratorExit:  # the coroutine was closed (the run was abandoned)
        sc.close()
        raise
    except BaseException as exc:
        sc.fail(exc)
        raise


def testbed_config(rc: RunConfig) -> Any:
    """The TestbedConfig of a run (the peer announces the run's MSS)."""

    peer = {"mss": rc.effective_mss} if rc.proto == "tcp" else {}
    return TestbedConfig(mtu=rc.mtu, ring_size=rc.ring_size, itr=rc.itr, loss_rate=rc.loss_rate, seed=rc.seed,
                         peer=peer)


def sim_limit_ps(rc: RunConfig) -> int:
    return int(rc.sim_limit_ms * MS)


__all__ = ["DeliveryError", "ProgressFile", "ProgressFn", "Scenario", "run_scenario", "sim_limit_ps", "testbed_config"]
