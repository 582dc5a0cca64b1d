"""The run's records: cwnd, ring and BQL occupancy, interrupts and softirqs on simulated time.

`RunRecorder` registers probes on the kernel's tracepoints (hilnic.kernel.tracepoint,
hilnic/include/trace/events/) for the length of a run and keeps what changed, in lists:

    tcp_*        at tcp_probe (every segment the connection receives, before it is
                 processed, as Linux's tcp:tcp_probe) and once at the end: snd_cwnd
                 (segments), snd_ssthresh, bytes in flight (snd_nxt - snd_una), mss_cache
    tx_*         at net_dev_xmit (after each skb handed to the driver) and napi_poll (after
                 each poll, which reclaims): descriptors in use on the transmit ring, the
                 BQL limit and inflight bytes (byte_queue_limits/limit, inflight)
    irq_*        irq_handler_entry/exit: each hard-IRQ handler's start and end
    softirq_*    softirq_entry: each run of a softirq vector (no simulated time passes in
                 a softirq in this model: hilnic.kernel.core)

A sample is kept only when a value changed; recording costs about 3% of a model run's time
(README, "Sweeps and plots"). Recording stops at the counters snapshot, as the
summary's counters do (`stop`), and `write` saves everything as RECORDS_NAME (numpy .npz,
int64 arrays; `t0_ps` is the run's start) for `hilnic plot`; `load_records` reads it back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hilnic.drivers.net.ethernet.intel.e1000.e1000_main import netdev_priv
from hilnic.include.trace.events.net import trace_net_dev_xmit
from hilnic.include.trace.events.tcp import trace_tcp_probe
from hilnic.kernel.softirq import SOFTIRQ_NAMES
from hilnic.kernel.tracepoint import (
    trace_irq_handler_entry,
    trace_irq_handler_exit,
    trace_napi_poll,
    trace_softirq_entry,
)

RECORDS_NAME = "records.npz"
RECORDS_VERSION = 1
SEQ_MASK = 0xFFFF_FFFF

TCP_KEYS = ("tcp_t_ps", "tcp_cwnd", "tcp_ssthresh", "tcp_in_flight", "tcp_mss")
TX_KEYS = ("tx_t_ps", "tx_ring_used", "tx_bql_limit", "tx_bql_inflight")
IRQ_KEYS = ("irq_entry_ps", "irq_exit_ps")
SOFTIRQ_KEYS = ("softirq_t_ps", "softirq_vec")


class RecordsError(ValueError):
    """A records file that is missing or not one of ours: one line, for the user."""


class RunRecorder:
    """Samples a testbed's TCP, transmit ring, BQL, IRQs and softirqs from tracepoints."""

    def __init__(self, tb: Any, t0_ps: int) -> None:
        self.tb = tb
        self.now = tb.env.now
        self.t0_ps = t0_ps
        self.data: dict[str, list[int]] = {k: [] for k in (*TCP_KEYS, *TX_KEYS, *IRQ_KEYS, *SOFTIRQ_KEYS)}
        self.sk: Any = None  # the connection tcp_probe saw (one per run)
        self.ring_size = 0
        # the last values kept: a sample is appended only when one of them changed
        self._cwnd = self._ssthresh = self._flight = self._mss = -1
        self._used = self._limit = self._inflight = -1
        self._dev: Any = None
        self._adapter: Any = None
        self._backlog = tb.host.kernel.backlog  # its polls receive; they reclaim nothing
        d = self.data
        self._irq_entry = d["irq_entry_ps"].append
        self._irq_exit = d["irq_exit_ps"].append
        self._softirq_t = d["softirq_t_ps"].append
        self._softirq_vec = d["softirq_vec"].append
        self._probes = ((trace_tcp_probe, self._on_tcp_probe), (trace_net_dev_xmit, self._on_xmit),
                        (trace_napi_poll, self._on_napi_poll), (trace_irq_handler_entry, self._on_irq_entry),
                        (trace_irq_handler_exit, self._on_irq_exit), (trace_softirq_entry, self._on_softirq))
        self.recording = False

    def start(self) -> None:
        for tp, probe in self._probes:
            tp.register(probe)
        self.recording = True

    def stop(self) -> None:
        """Unregister (idempotent); the lists keep what was recorded."""
        for tp, probe in self._probes:
            tp.unregister(probe)
        self.recording = False

    # -- probes (a few thousand calls per MiB: kept to one frame each, no allocation) -----------

    def _on_tcp_probe(self, sk: Any, _skb: Any = None) -> None:
        self.sk = sk
        cwnd, ssthresh, flight, mss = sk.snd_cwnd, sk.snd_ssthresh, (sk.snd_nxt - sk.snd_una) & SEQ_MASK, sk.mss_cache
        if cwnd != self._cwnd or flight != self._flight or ssthresh != self._ssthresh or mss != self._mss:
            self._cwnd, self._ssthresh, self._flight, self._mss = cwnd, ssthresh, flight, mss
            d = self.data
            d["tcp_t_ps"].append(self.now())
            d["tcp_cwnd"].append(cwnd)
            d["tcp_ssthresh"].append(ssthresh)
            d["tcp_in_flight"].append(flight)
            d["tcp_mss"].append(mss)

    def _on_xmit(self, *_args: Any) -> None:
        """The transmit ring and BQL (also after a NAPI poll, which reclaims)."""
        dev = self.tb.dev
        if dev is None:
            return
        if dev is not self._dev:
            self._dev, self._adapter = dev, netdev_priv(dev)
        ring = self._adapter.tx_ring
        count = ring.count
        used = (ring.next_to_use - ring.next_to_clean) % count if count else 0
        txqs = dev._tx
        if len(txqs) == 1:
            dql = txqs[0].dql
            limit, inflight = dql.limit, dql.num_queued - dql.num_completed
        else:
            limit = sum(txq.dql.limit for txq in txqs)
            inflight = sum(txq.dql.inflight for txq in txqs)
        if used != self._used or inflight != self._inflight or limit != self._limit:
            self._used, self._limit, self._inflight = used, limit, inflight
            self.ring_size = count
            d = self.data
            d["tx_t_ps"].append(self.now())
            d["tx_ring_used"].append(used)
            d["tx_bql_limit"].append(limit)
            d["tx_bql_inflight"].append(inflight)

    def _on_napi_poll(self, napi: Any, _work: int, _budget: int) -> None:
        if napi is not self._backlog:
            self._on_xmit()

    def _on_irq_entry(self, _irq: int, _name: str) -> None:
        self._irq_entry(self.now())

    def _on_irq_exit(self, _irq: int, _ret: int) -> None:
        self._irq_exit(self.now())

    def _on_softirq(self, vec: int) -> None:
        self._softirq_t(self.now())
        self._softirq_vec(vec)

    def final(self) -> None:
        """The state the run ends with (what the summary's counters show), then stop."""
        if self.sk is not None:
            self._on_tcp_probe(self.sk)
        self._on_xmit()
        self.stop()

    def irqs_between(self, t_from: int, t_to: int) -> int:
        return sum(1 for t in self.data["irq_entry_ps"] if t_from <= t <= t_to)

    # -- the file -------------------------------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        d = self.data
        out = {k: np.asarray(v, dtype=np.int64) for k, v in d.items()}
        # a handler cut short (the run failed inside it) has no exit: -1
        n = len(d["irq_entry_ps"])
        if len(d["irq_exit_ps"]) < n:
            out["irq_exit_ps"] = np.asarray(d["irq_exit_ps"] + [-1] * (n - len(d["irq_exit_ps"])), dtype=np.int64)
        out["t0_ps"] = np.asarray(self.t0_ps, dtype=np.int64)
        out["ring_size"] = np.asarray(self.ring_size, dtype=np.int64)
        out["softirq_names"] = np.asarray(SOFTIRQ_NAMES)
        out["version"] = np.asarray(RECORDS_VERSION, dtype=np.int64)
        return out

    def write(self, path: Path) -> None:
        """Through a temporary file (a full disk leaves none, not half of one)."""
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **self.arrays())  # uncompressed: 4x faster to write, a few % of the pcap
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OSError(exc.errno, exc.strerror, str(path)) from None


def load_records(path: str | Path) -> dict[str, np.ndarray]:
    """A run's records.npz as {name: array}; RecordsError if it is missing or not ours."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise RecordsError(f"{p}: no such file (runs record it since records version {RECORDS_VERSION})") from None
    except (OSError, ValueError) as exc:
        raise RecordsError(f"{p}: not a records file ({exc})") from None
    missing = [k for k in (*TCP_KEYS, *TX_KEYS, *IRQ_KEYS, *SOFTIRQ_KEYS, "t0_ps", "version") if k not in arrays]
    if missing:
        raise RecordsError(f"{p}: not a hilnic records file (no {', '.join(missing[:3])})")
    if int(arrays["version"]) != RECORDS_VERSION:
        raise RecordsError(f"{p}: records version {int(arrays['version'])}, this hilnic reads {RECORDS_VERSION}")
    return arrays


__all__ = ["RECORDS_NAME", "RECORDS_VERSION", "RecordsError", "RunRecorder", "load_records"]
