"""Shared pieces of the end-to-end tests: instrumentation hooks, checks, scenarios, results.

Imported both inside the simulator (the cocotb modules tb_*.py) and in the pytest process
(the model side of the differential test, and reading the results the cocotb side wrote).
Nothing here edits driver or stack code: the hooks wrap instance attributes (the backend's
`readl`, HostMemory's `read`, the net_device's `ndo_start_xmit`) or module attributes that
the driver looks up at call time (`nd.netif_stop_subqueue`, `nd.netdev_tx_sent_queue`,
`e1000.e1000_tx_queue`), and are undone by `uninstall()`.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time
from pathlib import Path
from typing import Any

from scapy.layers.l2 import Ether

from hilnic.drivers.net.ethernet.intel.e1000 import e1000_main as e1000_mod
from hilnic.hw.regs import (
    DESC_STA_BYTE,
    E1000_ICR_ERR,
    E1000_ICR_INT_ASSERTED,
    E1000_ICR_TXDW,
    E1000_ICR_TXQE,
    E1000_TXD_STAT_DD,
    TX_DESC_SIZE,
    Reg,
)
from hilnic.net.core import netdevice as nd
from hilnic.net.core.skbuff import CHECKSUM_PARTIAL

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rtl"))  # tso_ref: shared with the RTL benches
from tso_ref import scapy_segments

RESULT_FILE = "e2e_result.json"
_DESC = struct.Struct("<QHBBBBH")  # addr, len, cso, cmd, sta, css, special


# -- results: the cocotb side writes, the pytest side reads ------------------------------------


def write_result(result: dict[str, Any]) -> Path:
    """Write `result` as JSON into the run directory (HILNIC_RUN_DIR, set by run_rtl_test)."""
    path = Path(os.environ.get("HILNIC_RUN_DIR", ".")) / RESULT_FILE
    path.write_text(json.dumps(result, indent=1, sort_keys=True))
    return path


def read_result(run_dir: Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / RESULT_FILE).read_text())


class WallClock:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return round(time.perf_counter() - self.t0, 3)


# -- the wire ---------------------------------------------------------------------------------


class WireLog:
    """Every frame that left the MAC, in order (a frame listener; works on model and RTL)."""

    def __init__(self, tb: Any) -> None:
        self.frames: list[Any] = []
        tb.nic.on_frame(self.frames.append)

    def records(self) -> list[tuple[int, int, str]]:
        return [(f.t_start, f.t_end, f.data.hex()) for f in self.frames]


class BuiltFrames:
    """Every frame the stack handed to the driver (ndo_start_xmit), to prove that each frame
    on the wire is one of them: same bytes, except the checksum field the NIC fills (CSO of
    a CHECKSUM_PARTIAL skb), the zero padding to 60 bytes (TCTL.PSP) and the FCS. A GSO skb
    (TSO) stands for its segments as scapy builds them from it (tests/rtl/tso_ref.py: IP
    length, ID + n, sequence, FIN/PSH on the last, both checksums): exact bytes."""

    def __init__(self, tb: Any) -> None:
        self.by_len: dict[int, set[bytes]] = {}
        self.count = 0
        ops = tb.dev.netdev_ops
        self._ops = ops
        self._orig = ops.ndo_start_xmit
        orig = self._orig

        def ndo_start_xmit(skb: Any, dev: Any) -> int:
            data = bytearray(skb.to_bytes())
            if skb.shinfo.gso_size:
                for seg in scapy_segments(Ether(bytes(data)), skb.shinfo.gso_size):
                    self.by_len.setdefault(len(seg), set()).add(seg + (-1).to_bytes(2, "little", signed=True))
                self.count += 1
                return orig(skb, dev)
            if skb.ip_summed == CHECKSUM_PARTIAL:
                cso = skb.csum_start - skb.data + skb.csum_offset
                data[cso : cso + 2] = b"\0\0"
                key = (len(data), cso)
            else:
                key = (len(data), -1)
            self.by_len.setdefault(key[0], set()).add(bytes(data) + key[1].to_bytes(2, "little", signed=True))
            self.count += 1
            return orig(skb, dev)

        ops.ndo_start_xmit = ndo_start_xmit

    def uninstall(self) -> None:
        self._ops.ndo_start_xmit = self._orig

    def _match(self, body: bytes, n: int) -> bool:
        cands = self.by_len.get(n)
        if not cands:
            return False
        for cso in {int.from_bytes(c[-2:], "little", signed=True) for c in cands}:
            b = bytearray(body[:n])
            if cso >= 0:
                b[cso : cso + 2] = b"\0\0"
            if bytes(b) + cso.to_bytes(2, "little", signed=True) in cands:
                return True
        return False

    def is_built(self, wire_data: bytes) -> bool:
        body = bytes(wire_data[:-4])
        if self._match(body, len(body)):
            return True
        if len(body) == 60:  # padded by the NIC: the skb was shorter
            for n in range(14, 60):
                if not any(body[n:]) and self._match(body, n):
                    return True
        return False

    def foreign(self, frames: list[Any]) -> list[int]:
        """Indices of wire frames that are not a frame the stack built (or have a bad FCS)."""
        return [i for i, f in enumerate(frames) if not f.fcs_ok or not self.is_built(f.data)]


# -- the driver's view --------------------------------------------------------------------------


class DriverLog:
    """What the driver saw, in order: ("icr", value) for every ICR read (e1000_intr), and
    ("wb", index, len, cso, cmd, sta, css) for every EOP descriptor the driver found written
    back (DD set) while reclaiming (e1000_clean_tx_irq reads the STA byte from host memory);
    and `posted`: the EOP descriptor index of every packet the driver queued.

    Hooks: the backend's `readl`, HostMemory's `read` (instance attributes) and the driver's
    `e1000_tx_queue` (looked up at call time)."""

    def __init__(self, tb: Any) -> None:
        self.events: list[tuple] = []
        self.tb = tb
        nic, mem = tb.nic, tb.host.mem
        ring = tb.adapter.tx_ring
        self._nic, self._mem = nic, mem
        orig_readl = nic.readl
        orig_read = mem.read
        events = self.events
        icr = int(Reg.ICR)

        async def readl(offset: int) -> int:
            value = await orig_readl(offset)
            if offset == icr:
                events.append(("icr", value))
            return value

        def read(addr: int, length: int) -> bytes:
            data = orig_read(addr, length)
            base = ring.dma
            if (length == 1 and base and base <= addr < base + ring.size
                    and (addr - base) % TX_DESC_SIZE == DESC_STA_BYTE and data[0] & E1000_TXD_STAT_DD):
                idx = (addr - base) // TX_DESC_SIZE
                _, ln, cso, cmd, sta, css, _sp = _DESC.unpack(orig_read(base + idx * TX_DESC_SIZE, TX_DESC_SIZE))
                events.append(("wb", idx, ln, cso, cmd, sta, css))
            return data

        nic.readl = readl
        mem.read = read
        self.posted: list[int] = []
        self._orig_queue = orig_queue = e1000_mod.e1000_tx_queue
        posted = self.posted

        def tx_queue(adapter: Any, first: Any, descs: list, start: int, *args: Any, **kw: Any) -> None:
            posted.append((start + len(descs) - 1) % adapter.tx_ring.count)
            orig_queue(adapter, first, descs, start, *args, **kw)

        e1000_mod.e1000_tx_queue = tx_queue

    def uninstall(self) -> None:
        for obj, name in ((self._nic, "readl"), (self._mem, "read")):
            obj.__dict__.pop(name, None)
        e1000_mod.e1000_tx_queue = self._orig_queue

    def icr_values(self) -> list[int]:
        return [e[1] for e in self.events if e[0] == "icr"]

    def writebacks(self) -> list[tuple]:
        return [tuple(e[1:]) for e in self.events if e[0] == "wb"]


class QueueStops:
    """Counts the driver's netif_stop_subqueue calls (the net_device has no stop counter)."""

    def __init__(self) -> None:
        self.stops = 0
        self._orig = nd.netif_stop_subqueue
        orig = self._orig

        def netif_stop_subqueue(dev: Any, queue_index: int) -> None:
            self.stops += 1
            orig(dev, queue_index)

        nd.netif_stop_subqueue = netif_stop_subqueue

    def uninstall(self) -> None:
        nd.netif_stop_subqueue = self._orig


class BqlWatch:
    """BQL as docs/linux-tx-path.md §7 has it. The qdisc hands the driver a batch (one
    dev_hard_start_xmit call: a bulk-dequeued list, or the segments software GSO made of one
    TCP skb) only while the queue is not XOFF, i.e. inflight <= limit; STACK_XOFF set by a
    post (netdev_tx_sent_queue) does not stop the rest of that batch (only DRV_XOFF does). So
    the bound is: inflight <= limit at every batch start, and inflight <= limit + the bytes
    posted so far in the current batch after every post. Also samples (inflight, limit) at
    every frame on the wire."""

    def __init__(self, tb: Any) -> None:
        from hilnic.net.core import dev as dev_mod
        from hilnic.net.sched import sch_generic

        self.tb = tb
        self._dev_mod = dev_mod
        self._sch = sch_generic
        self.max_excess_at_batch_start = -(1 << 60)  # max(inflight - limit) when a batch starts
        self.max_excess_over_batch = -(1 << 60)  # max(inflight - limit - batch bytes so far) after a post
        self.max_excess = -(1 << 60)  # max(inflight - limit) after a post
        self.max_batch_bytes = 0
        self.max_inflight = 0
        self.max_limit = 0
        self.posts = 0
        self.batches = 0
        self.xoffs = 0  # posts that left the queue STACK_XOFF
        self._batch = 0
        self.samples: list[tuple[int, int]] = []  # (inflight, limit) at each wire frame
        self._orig_sent = nd.netdev_tx_sent_queue
        self._orig_hsx = dev_mod.dev_hard_start_xmit
        orig_sent, orig_hsx = self._orig_sent, self._orig_hsx

        def dev_hard_start_xmit(first: Any, dev: Any, txq: Any) -> Any:
            dql = txq.dql
            self.batches += 1
            self._batch = 0
            self.max_excess_at_batch_start = max(self.max_excess_at_batch_start,
                                                 dql.num_queued - dql.num_completed - dql.limit)
            try:
                return orig_hsx(first, dev, txq)
            finally:
                self.max_batch_bytes = max(self.max_batch_bytes, self._batch)

        def netdev_tx_sent_queue(txq: Any, nbytes: int) -> None:
            orig_sent(txq, nbytes)
            dql = txq.dql
            inflight = dql.num_queued - dql.num_completed
            self.posts += 1
            self._batch += nbytes
            self.max_excess = max(self.max_excess, inflight - dql.limit)
            self.max_excess_over_batch = max(self.max_excess_over_batch, inflight - dql.limit - self._batch)
            self.max_inflight = max(self.max_inflight, inflight)
            self.max_limit = max(self.max_limit, dql.limit)
            if txq.state & nd.QUEUE_STATE_STACK_XOFF:
                self.xoffs += 1

        nd.netdev_tx_sent_queue = netdev_tx_sent_queue
        dev_mod.dev_hard_start_xmit = dev_hard_start_xmit  # the noqueue path
        sch_generic.dev_hard_start_xmit = dev_hard_start_xmit  # sch_direct_xmit
        tb.nic.on_frame(self._on_frame)

    def _on_frame(self, _f: Any) -> None:
        if self.tb.dev is not None:
            dql = self.tb.dev._tx[0].dql
            self.samples.append((self.tb.bql_inflight(), dql.limit))

    def uninstall(self) -> None:
        nd.netdev_tx_sent_queue = self._orig_sent
        self._dev_mod.dev_hard_start_xmit = self._orig_hsx
        self._sch.dev_hard_start_xmit = self._orig_hsx


class CorruptOneDescriptor:
    """Fault injection into the driver: for the `nth` skb mapped (0-based), e1000_tx_queue is
    handed a buffer address outside every DMA mapping for the first descriptor, as if
    dma_map_single had returned a bogus address. The driver's own bookkeeping (tx_buffer.dma)
    keeps the real mapping, so the unmap at reclaim or reset is the normal one."""

    def __init__(self, bad_addr: int, nth: int) -> None:
        self.bad_addr = bad_addr
        self.nth = nth
        self.calls = 0
        self.victim: tuple[int, int] | None = None  # (ring index, original dma address)
        self._orig = e1000_mod.e1000_tx_queue
        orig = self._orig

        def e1000_tx_queue(adapter: Any, first: Any, descs: list, start: int, i: int, *rest: Any) -> None:
            if self.calls == self.nth and descs:
                self.victim = (start, descs[0][0])
                descs = [(self.bad_addr, descs[0][1])] + list(descs[1:])
            self.calls += 1
            return orig(adapter, first, descs, start, i, *rest)

        e1000_mod.e1000_tx_queue = e1000_tx_queue

    def uninstall(self) -> None:
        e1000_mod.e1000_tx_queue = self._orig


# -- frame parsing ----------------------------------------------------------------------------


def ipv4_fragments(frames: list[Any], proto: int = 17) -> list[dict[str, Any]]:
    """Every IPv4 frame of `proto` parsed with scapy: id, offset (bytes), MF, DF, payload."""
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether

    out = []
    for f in frames:
        pkt = Ether(bytes(f.data[:-4]))
        if IP not in pkt or pkt[IP].proto != proto:
            continue
        ip = pkt[IP]
        hdr = ip.ihl * 4
        out.append({
            "id": ip.id,
            "offset": ip.frag * 8,
            "frag_units": ip.frag,
            "mf": bool(ip.flags.MF),
            "df": bool(ip.flags.DF),
            "payload_len": ip.len - hdr,
            "payload": bytes(ip)[hdr : ip.len],
            "frame_len": len(f.data),
        })
    return out


def linux_fragment_sizes(payload_len: int, mtu: int = 1500, ihl: int = 20) -> list[int]:
    """IP payload bytes of each fragment ip_do_fragment's slow path produces (ip_fragment):
    every fragment but the last carries (mtu - ihl) & ~7 bytes."""
    step = (mtu - ihl) & ~7
    sizes = []
    left = payload_len
    while left > step:
        sizes.append(step)
        left -= step
    sizes.append(left)
    return sizes


# -- scenarios --------------------------------------------------------------------------------


DIFF = dict(tcp_bytes=256 << 10, udp_sizes=[3000, 8000, 200])  # the differential scenario's sizes


async def diff_scenario(tb: Any, tcp_bytes: int, udp_sizes: list[int]) -> dict[str, Any]:
    """The differential scenario (process context, after setup): UDP datagrams (fragmented
    and not), then a TCP bulk transfer. TCP timestamps are off so no option carries the
    clock (timing is what model and RTL may differ in), and the congestion control is reno:
    the default cubic's HyStart leaves slow start on the spacing of the ACKs, which is timing.
    The socket is corked (TCP_CORK until close) and the kernel takes no CPU time (--cpu-scale
    0): ACKs, whose timing follows each NIC's DMA, would otherwise land before or after the
    points where the stack decides whether a partial write-queue tail goes out (tcp_push at
    the end of a send(), an ACK finding nothing in flight, the push when the send buffer is
    full), so the segments themselves, not only PSH, would differ. This test compares NICs.
    """
    from hilnic.net.ipv4.tcp_cong import tcp_set_default_congestion_control
    from hilnic.testbed import tcp_bulk, udp_send

    tb.host.kernel.set_cpu_scale(0)
    tb.host.sysctl.tcp_timestamps = 0
    assert tcp_set_default_congestion_control(tb.host, "reno") == 0
    sent = await udp_send(tb, udp_sizes, port=9000)
    res = await tcp_bulk(tb, tcp_bytes, port=5001, cork=True)
    return {"udp_sent": sent, "tcp_payload": res["payload"]}


def tcp_frame_modulo_psh(hexdata: str) -> bytes:
    """A wire frame (hex) with the TCP PSH flag cleared and the TCP checksum and FCS dropped:
    whether PSH is on a segment is decided by the stack from what is still queued when
    sendmsg returns (tcp_push marks the write-queue tail), which depends on completion timing."""
    b = bytearray.fromhex(hexdata)[:-4]
    if len(b) >= 54 and b[12:14] == b"\x08\x00" and b[23] == 6:
        ihl = (b[14] & 0xF) * 4
        t = 14 + ihl
        b[t + 13] &= ~0x08 & 0xFF
        b[t + 16 : t + 18] = b"\0\0"
    return bytes(b)


ICR_NAMES = {E1000_ICR_TXDW: "TXDW", E1000_ICR_TXQE: "TXQE", E1000_ICR_ERR: "ERR", E1000_ICR_INT_ASSERTED: "INT_ASSERTED"}


def icr_causes(values: list[int]) -> dict[str, int]:
    """ICR reads modulo coalescing: how many reads showed each cause."""
    out: dict[str, int] = {}
    for v in values:
        for bit, name in ICR_NAMES.items():
            if v & bit:
                out[name] = out.get(name, 0) + 1
    return out
