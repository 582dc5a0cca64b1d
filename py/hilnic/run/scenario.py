"""The `hilnic run` scenario, the same on every simulator, and the files it writes.

`run_scenario(tb, rc, progress)` is one process-context coroutine on a `Testbed` (behavioral
model in virtual time, or the RTL under cocotb). It sets the testbed up itself unless the
caller already has (`tb.dev` set), then: an application sends `rc.nbytes` — TCP: one
connection, one `send()` (or the `--writes` of run/knobs.py), close; UDP: one datagram of
MTU - 28 bytes per frame (or per write) — waits until the peer has everything, lets the driver reclaim every
descriptor (`quiesce`), snapshots the counters (before `teardown`: closing the device frees
its IRQ and with it the /proc/interrupts line), tears down, checks that nothing leaked
(`check_clean`) and that the peer received the payload byte for byte. It returns the summary
(also written to <out>/summary.json) and writes into <out>:

    wire.pcap      both directions in time order: every frame the MAC put on XGMII, stamped
                   with its start on XGMII, and the peer's answers at the time they enter the
                   host (Ethernet without FCS, readable by Wireshark, scapy and dpkt)
    trace.txt      function_graph of the whole run (rc.trace)
    stats.txt      Linux-format counters: softnet_stat, /proc/softirqs, /proc/interrupts,
                   tc -s qdisc, BQL, ethtool -S, /proc/net/dev, snmp, TcpExt, copy accounting
    records.npz    cwnd and bytes in flight, ring and BQL occupancy, interrupt and softirq
                   times, sampled from tracepoints until the counters snapshot (records.py)
    summary.json   the numbers `format_summary` prints

On failure `Scenario.fail(exc)` writes summary.json with ok=false, status "failed", the error
and the counters so far (bytes delivered until then included), and closes the files;
`run_scenario` does that itself before re-raising. `Scenario.interrupt(signal)` does the same
with status "interrupted" (a run stopped by SIGINT/SIGTERM), writing the pcap and the
summary before the trace, which can take a while.

Progress: `progress(sim_ps, frames, bytes_done, total)` is called at most every `interval` wall
seconds, from the frame listener and from a timer every TICK_PS of simulated time (so it moves
while no frame is on the wire), and once more at the end.
"""

from __future__ import annotations

import dataclasses
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
from hilnic.run.config import RunConfig
from hilnic.run.interrupt import signal_name, signum_of
from hilnic.run.knobs import apply_host_knobs, peer_wire_delay_ps, tcp_writes, udp_writes, write_sizes
from hilnic.run.linux_peer import check_delivery, counter_text, kernel_errors
from hilnic.run.records import RECORDS_NAME, RunRecorder
from hilnic.run.schema import SCHEMA_VERSION, STATUS_FAILED, STATUS_INTERRUPTED, STATUS_OK
from hilnic.testbed import E1000_IRQ, TestbedConfig, pattern
from hilnic.trace import collect_stats, function_graph
from hilnic.trace.procfs import cpu_times
from hilnic.wire.linux_peer import LinuxPeer
from hilnic.wire.netns import HOST_IP, PEER_IP, PREFIX_LEN
from hilnic.wire.pcap import PcapWriter

ProgressFn = Callable[[int, int, int, int], None]  # (sim_ps, frames, bytes_done, total)

TCP_PORT = 5001
UDP_PORT = 9000
TICK_PS = 20 * US  # progress timer period in simulated time
LINE_RATE_BPS = 10e9
PREAMBLE_IFG = 8 + 12  # bytes on the wire around each frame (preamble+SFD, inter-frame gap)
UDP_IDLE_PS = 50 * US  # UDP with loss: done when the ring is idle and no frame left for this long
ARP_WAIT_PS = 1 * MS  # UDP: longest wait for the first datagram (ARP resolution) before the rest
LINUX_REPORT_STOP_S = 2.0  # a failed or interrupted run waits this long for the Linux peer's report

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
        for stale in ("summary.json", "trace.txt", "stats.txt", "wire.pcap", "progress.json", RECORDS_NAME):
            (self.out / stale).unlink(missing_ok=True)
        self.progress = progress
        self.interval = interval
        self.pcap_path = self.out / "wire.pcap"
        # the peer's answers are stamped ahead of the host's frames still on the wire: held in order
        self.pcap = PcapWriter(str(self.pcap_path), now=self.env.now)
        self.peer_frames = 0
        self.tracer = tracer
        if self.tracer is None and rc.trace:
            k = self.kernel
            self.tracer = Tracer(k.cpu_clock, lambda: k.context, cpu=lambda: k.cpu.index)
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
        self.pcap_error = ""  # the pcap could not be completed (e.g. a full disk)
        self.records = RunRecorder(tb, self.t0_ps)
        self.records_path = self.out / RECORDS_NAME
        self._records_written = False
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

    def _on_peer_frame(self, data: bytes, t_ps: int) -> None:
        """An answer of the peer, at the time it enters the host."""
        if self._closed:
            return
        self.pcap.write_packet(data, t_ps, has_fcs=self.tb.peer.options.host_fcs)
        self.peer_frames += 1

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
        self.records.start()
        if self.tracer is not None:
            set_tracer(self.tracer)
        if self.progress is not None:
            self._tick(force=True)
            self._timer = self.env.call_later(TICK_PS, self._on_timer)
        apply_host_knobs(tb.host, rc)  # sysctls (qdisc, congestion control) before the device opens
        if tb.dev is None:
            await tb.setup()
        if tb.peer is not None:  # exists once set up
            tb.peer.tx_listeners.append(self._on_peer_frame)
        self.phase = "traffic"
        self.payload = pattern(rc.nbytes, seed=rc.seed)
        if rc.proto == "tcp":
            await tcp_writes(tb, rc, self.payload, TCP_PORT)
        else:
            await self._udp_send()
        self.phase = "quiesce"
        await tb.quiesce()
        # counters before teardown: dev_close frees the IRQ (and its /proc/interrupts line)
        ethtool = await ethtool_stats(tb.dev)
        self.records.final()  # the records end where the counters are taken
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
        stats_text += self._linux_stats()
        self.phase = "done"
        _write_text(self.out / "stats.txt", stats_text)
        self._write_records()
        self._tick(force=True)
        summary = self.summary()
        self.close()
        self._write_summary(summary)
        return summary

    async def _udp_send(self) -> None:

        tb = self.tb
        k = tb.host.kernel
        # a blocking socket: with the send buffer full, sendto sleeps in sock_wait_for_wmem. Until
        # ARP resolves the peer, datagrams wait in the neighbour's arp_queue, which holds
        # unres_qlen_bytes and drops the oldest beyond: a blast would lose most of them, as on
        # Linux; the application waits until the first one has left the MAC.
        n = await udp_writes(tb, self.rc, self.payload, UDP_PORT, lambda: self.proto_frames["udp"], ARP_WAIT_PS)
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

    def _linux_peer(self) -> LinuxPeer | None:
        peer = self.tb.peer
        return peer if isinstance(peer, LinuxPeer) else None

    def _linux_stats(self) -> str:
        lp = self._linux_peer()
        if lp is None or not lp.report or not lp.report.get("counters"):
            return ""
        return (f"\n# the Linux peer's kernel ({lp.report.get('kernel', '?')}), namespace {lp.info.get('netns', '?')}: "
                f"/proc/net/snmp and /proc/net/netstat as `nstat -az` shows them (non-zero)\n"
                + counter_text(lp.report["counters"]))

    def _check_linux_delivery(self, lp: LinuxPeer) -> None:
        """The receiver's socket got the payload byte for byte; the kernel counted no error."""
        report = lp.finish()
        self.delivered = int(report.get("bytes", 0))
        problem = check_delivery(self.rc, report)
        if problem:
            raise DeliveryError(problem)
        errors = kernel_errors(report.get("counters", {}))
        if errors:
            raise DeliveryError(f"the Linux peer's kernel counted errors: {', '.join(errors)}")

    def _check_delivery(self) -> None:
        tb, rc, payload = self.tb, self.rc, self.payload
        lp = self._linux_peer()
        if lp is not None:
            self._check_linux_delivery(lp)
            return
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
        chunks, off = [], 0
        for size in write_sizes(rc):
            chunks.append(payload[off:off + size])
            off += size
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
            "softirqs": {"NET_TX": sum(c.softirq_count[NET_TX_SOFTIRQ] for c in k.cpus),
                         "NET_RX": sum(c.softirq_count[NET_RX_SOFTIRQ] for c in k.cpus)},
            "cpu": (cpus := self._cpu_times()),
            # summed over the CPUs: who paid which CPU time (us/sy/si/hi, ns)
            "cpu_time_ns": {n: sum(c[f"{n}_ns"] for c in cpus) for n in ("us", "sy", "si", "hi")},
            "qdisc": {"requeues": sum(q.qstats.requeues for q in qdiscs.values()),
                      "drops": sum(q.qstats.drops for q in qdiscs.values())},
            # every stop of the subqueue by __e1000_maybe_stop_tx ends in exactly one of: the
            # immediate re-check wakes it (restart_queue2) or e1000_clean_tx_irq does (restart_queue)
            "ring": {"size": ad.tx_ring.count, "stops": ts.restart_queue + ts.restart_queue2,
                     "restarts": ts.restart_queue, "reprieves": ts.restart_queue2, "tx_busy": ad.stats.tx_busy},
            "tcp": {"out_segs": int(tcp.get("OutSegs", 0)), "retrans_segs": int(tcp.get("RetransSegs", 0)),
                    "timeouts": int(ext.get("TCPTimeouts", 0)), "fast_retrans": int(ext.get("TCPFastRetrans", 0)),
                    **self._cwnd()},
            "peer": {"dropped_by_loss": int(peer.get("dropped_by_loss", 0)), "frames_rx": int(peer.get("frames_rx", 0)),
                     "acks_sent": int(peer.get("acks_sent", 0))},
            "nic": {"gptc": int(ethtool.get("gptc", 0)), "gotc": int(ethtool.get("gotc", 0)),
                    "txdrop": int(ethtool.get("txdrop", 0))},
        }

    def _cpu_times(self) -> list[dict[str, Any]]:
        """Per CPU: /proc/stat's us/sy/si/hi/idle (ns of simulated CPU time over the run),
        /proc/softirqs' NET_TX and NET_RX and the NIC's interrupts (/proc/interrupts)."""
        k = self.kernel
        elapsed_ns = self.env.now() // 1000
        desc = k.irqs.get(E1000_IRQ)
        out = []
        for c in k.cpus:
            t = cpu_times(c, elapsed_ns)
            out.append({"cpu": c.index, **{f"{name}_ns": v for name, v in t.items()},
                        "softirqs": {"NET_TX": c.softirq_count[NET_TX_SOFTIRQ], "NET_RX": c.softirq_count[NET_RX_SOFTIRQ]},
                        "interrupts": desc.count if desc is not None and desc.cpu == c.index else 0})
        return out

    def _cwnd(self) -> dict[str, int]:
        """The connection's congestion window at the end (TCP runs: the socket tcp_probe saw)."""
        sk = self.records.sk
        if sk is None:
            return {}
        return {"snd_cwnd": int(sk.snd_cwnd), "snd_ssthresh": int(sk.snd_ssthresh), "mss_cache": int(sk.mss_cache)}

    def summary(self, error: str = "", status: str = "") -> dict[str, Any]:
        rc = self.rc
        now = self.env.now()
        sim_ps = max(0, now - self.t0_ps)
        wall = time.perf_counter() - self.wall0
        window = (self.last_data_ps - self.first_data_ps) if self.first_data_ps is not None else 0
        delivered = self.delivered
        s: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "ok": not error,
            "status": status or (STATUS_FAILED if error else STATUS_OK),
            "error": error,
            "phase": self.phase,
            "sim": rc.sim,
            "proto": rc.proto,
            "nbytes": rc.nbytes,
            "mtu": rc.mtu,
            "mss": rc.effective_mss if rc.proto == "tcp" else None,
            "datagram": write_sizes(rc)[0] if rc.proto == "udp" else None,
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
            # hard interrupts per second while data was on the wire
            "interrupt_rate_hz": (self.records.irqs_between(self.first_data_ps or 0, self.last_data_ps) * 1e12 / window
                                  if window > 0 else 0.0),
            "wall_s": wall,
            "slowdown": wall / (sim_ps * 1e-12) if sim_ps > 0 else 0.0,
            "config": dataclasses.asdict(rc),
            "files": {
                "pcap": str(self.pcap_path),
                "pcap_frames": self.pcap.count,  # both directions
                "pcap_peer_frames": self.peer_frames,
                "pcap_fcs": self.pcap.fcs,
                "trace": str(self.out / "trace.txt") if self.tracer is not None and rc.trace else "",
                "trace_events": len(self.tracer.events) if self.tracer is not None else 0,
                "stats": str(self.out / "stats.txt") if (self.out / "stats.txt").exists() else "",
                "records": str(self.records_path) if self.records_path.exists() else "",
                "summary": str(self.out / "summary.json"),
            },
        }
        s.update(self.counters)
        lp = self._linux_peer()
        if lp is not None:
            s["linux_peer"] = lp.summary()
        if self.clock_info is not None:
            s["clock"] = self.clock_info()
        if "copies" not in s:
            s["copies"] = _copy_stats()
        return s

    def _write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.out / "summary.json", summary)

    def close(self, trace: bool = True) -> None:
        """Stop listening, unhook the tracer, close the pcap, write trace.txt (idempotent;
        `trace=False` leaves the trace to `write_trace`)."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.tracer is not None and get_tracer() is self.tracer:
            set_tracer(None)
        try:
            self._write_records()
        except OSError as exc:
            self.pcap_error = "; ".join(e for e in (self.pcap_error, _os_error_text(exc, self.records_path)) if e)
        peer = self.tb.peer
        if peer is not None and self._on_peer_frame in peer.tx_listeners:
            peer.tx_listeners.remove(self._on_peer_frame)
        lp = self._linux_peer()
        if lp is not None:
            lp.close()
        try:
            self.pcap.close()
        except OSError as exc:  # a full disk: the summary says so (if it still fits)
            self.pcap_error = _os_error_text(exc, self.pcap_path)
        if trace:
            self.write_trace()

    def _write_records(self) -> None:
        if self._records_written:
            return
        self._records_written = True
        self.records.stop()
        self.records.write(self.records_path)

    def write_trace(self) -> None:
        if self.tracer is not None and self.rc.trace and not (self.out / "trace.txt").exists():
            _write_text(self.out / "trace.txt", function_graph(self.tracer))

    def fail(self, exc: BaseException | str) -> dict[str, Any]:
        """Close the files and write summary.json with ok=false and the counters so far."""
        return self._stop(f"{_error_text(exc)} (during {self.phase})", STATUS_FAILED)

    def interrupt(self, signal_name: str) -> dict[str, Any]:
        """As `fail`, for a run stopped by a signal: status "interrupted"; the pcap and the
        summary are written before the trace."""
        summary = self._stop(f"interrupted by {signal_name} (during {self.phase})", STATUS_INTERRUPTED,
                             signal_name=signal_name)
        self.write_trace()
        return summary

    def _stop(self, msg: str, status: str, signal_name: str = "") -> dict[str, Any]:
        if self.progress is not None and not self._closed:
            try:
                self._tick(force=True)
            except Exception:
                pass
        self.close(trace=status != STATUS_INTERRUPTED)
        # what reached the peer so far (`_check_delivery` counts it only at the end)
        try:
            self.delivered = max(self.delivered, self._bytes_done())
        except Exception:
            pass
        lp = self._linux_peer()
        if lp is not None:  # what its socket received: the receiver's report, if it comes soon
            try:
                self.delivered = max(self.delivered, int(lp.finish(LINUX_REPORT_STOP_S).get("bytes", 0)))
            except Exception:
                pass
        self._partial_stats()
        if self.pcap_error:
            msg += f"; {self.pcap_error}"
        summary = self.summary(error=msg, status=status)
        if signal_name:
            summary["signal"] = signal_name
        self._write_summary(summary)
        return summary

    def _partial_stats(self) -> None:
        """stats.txt as far as the run got (no MMIO: the NIC's counters as last read)."""
        tb = self.tb
        if (self.out / "stats.txt").exists() or tb.dev is None:
            return
        try:

            text = collect_stats(tb.host, tb.dev, e1000_get_ethtool_stats(tb.dev), peer=tb.peer) + self._linux_stats()
        except Exception:
            return
        try:
            _write_text(self.out / "stats.txt", f"# the run stopped during {self.phase}: counters at that point\n\n{text}")
        except OSError:
            pass  # a full disk: summary.json matters more


def _copy_stats() -> dict[str, int]:

    return {f.name: int(getattr(skb_stats, f.name)) for f in dataclasses.fields(skb_stats)}


def _error_text(exc: BaseException | str) -> str:
    """One line for an exception: 'Type: first line', an OSError as 'strerror: file'."""
    if not isinstance(exc, BaseException):
        return exc
    if isinstance(exc, OSError) and exc.strerror:
        return _os_error_text(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _os_error_text(exc: OSError, path: Path | None = None) -> str:
    where = exc.filename or path
    return f"{exc.strerror or exc}: {where}" if where else str(exc.strerror or exc)


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary file: a full disk leaves the old file or none, never half of
    one; the error names `path`, not the temporary."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def write_json(path: Path, obj: Any) -> None:
    """`obj` as JSON into `path`, atomically (see _write_text)."""
    _write_text(path, json.dumps(obj, indent=1, default=str))


class ProgressFile:
    """A progress callable that leaves the latest numbers in <out>/progress.json (atomically)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.wall0 = time.perf_counter()

    def __call__(self, sim_ps: int, frames: int, bytes_done: int, total: int) -> None:
        write_json(self.path, {"sim_ps": sim_ps, "frames": frames, "bytes_done": bytes_done, "total": total,
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
    except KeyboardInterrupt as exc:
        sc.interrupt(signal_name(signum_of(exc)))
        raise
    except BaseException as exc:
        sc.fail(exc)
        raise


def testbed_config(rc: RunConfig) -> Any:
    """The TestbedConfig of a run (the peer announces the run's MSS)."""

    peer = {"mss": rc.effective_mss} if rc.proto == "tcp" else {}
    # the Linux peer's namespace has documentation addresses (hilnic.wire.netns)
    addrs = dict(host_ip=HOST_IP, peer_ip=PEER_IP, prefix_len=PREFIX_LEN) if rc.peer == "linux" else {}
    return TestbedConfig(mtu=rc.mtu, ring_size=rc.ring_size, itr=rc.itr, tso=rc.tso, loss_rate=rc.loss_rate, seed=rc.seed,
                         cpus=rc.cpus, peer=peer, wire_delay_ps=peer_wire_delay_ps(rc, TestbedConfig.wire_delay_ps), **addrs)


def sim_limit_ps(rc: RunConfig) -> int:
    return int(rc.sim_limit_ms * MS)


__all__ = ["DeliveryError", "ProgressFile", "ProgressFn", "Scenario", "run_scenario", "sim_limit_ps", "testbed_config",
           "write_json"]
