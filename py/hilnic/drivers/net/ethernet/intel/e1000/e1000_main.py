"""An e1000/igb-style transmit driver for the hilnic NIC (docs/nic.md).

Hold it beside drivers/net/ethernet/intel/igb/igb_main.c (Linux 6.9): the transmit path
is igb's (`igb_xmit_frame_ring`, `igb_tx_map`, `igb_maybe_stop_tx`, `igb_clean_tx_irq`,
BQL, xmit_more doorbell batching) under e1000 names, adapted to the legacy descriptors this
NIC has (e1000_main.c's `e1000_intr` / `e1000_clean` shape for the interrupt):

- checksum offload without a context descriptor: the request rides on the EOP legacy data
  descriptor (IC, CSS, CSO), so `e1000_maybe_stop_tx(count + 2)` for such a packet;
- TSO as e1000's: `e1000_tso` writes the TCP/IP context descriptor as Linux's e1000_tso()
  does (header prepared: IP total length and checksum 0, the pseudo-header sum without length
  in the TCP checksum), the data descriptors are TSE data descriptors with IXSM|TXSM, and the
  context costs one more descriptor (`count + 3`, as igb). NETIF_F_TSO is on by default
  (`ethtool -K eth0 tso off`: `nd.ethtool_set_features(dev, off=NETIF_F_TSO)`, then the stack
  segments in software); BQL and the counters see the segments (igb: gso_segs, bytecount +=
  (gso_segs - 1) * hdr_len). Descriptors are cut at 32 KiB as igb does (e1000's
  `min(mss << 2, ...)` limit is a FIFO rule of the 8254x this NIC does not have);
- one legacy interrupt line, cause read from ICR (an awaited MMIO read), masked with IMC and
  unmasked by the NAPI poll with an IMS write (igb's EIMS write);
- the hardware reset (CTRL.RST), flushes and `msleep` of e1000_down/reset run in process
  context, so those functions are coroutines here (`e1000_close`, `e1000_reset_task`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import cast

from hilnic.drivers.net.ethernet.intel.e1000.e1000 import (
    E1000_DEFAULT_ITR,
    E1000_DEFAULT_TXD,
    ETH_HLEN,
    IGB_20K_ITR,
    IGB_ITR_MASK,
    IGB_START_ITR,
    INTERRUPT_THROTTLE_RATE,
    ITR_DYNAMIC,
    ITR_DYNAMIC_CONSERVATIVE,
    ITR_OFF,
    TX_DESCRIPTORS,
    VLAN_HLEN,
)
from hilnic.hw.backend import NicBackend
from hilnic.hw.regs import (
    DESC_STA_BYTE,
    E1000_CTRL_RST,
    E1000_ICR_ERR,
    E1000_ICR_TXDW,
    E1000_STATUS_LU,
    E1000_STATUS_RST_BUSY,
    E1000_TCTL_EN,
    E1000_TCTL_PSP,
    E1000_TXD_CMD_DEXT,
    E1000_TXD_CMD_EOP,
    E1000_TXD_CMD_IC,
    E1000_TXD_CMD_IDE,
    E1000_TXD_CMD_IFCS,
    E1000_TXD_CMD_IP,
    E1000_TXD_CMD_RS,
    E1000_TXD_CMD_TCP,
    E1000_TXD_CMD_TSE,
    E1000_TXD_DTYP_D,
    E1000_TXD_POPTS_IXSM,
    E1000_TXD_POPTS_TXSM,
    E1000_TXD_STAT_DD,
    ERR_DMA_READ,
    ERR_DMA_WRITE,
    HID_VALUE,
    HVER_MAJOR,
    ITR_UNIT_NS,
    TDWBAL_EN,
    TX_DESC_SIZE,
    TXDCTL_WTHRESH_SHIFT,
    Reg,
    TxContextDesc,
)
from hilnic.include.uapi.linux.if_ether import ETH_P_IP
from hilnic.kernel.core import HZ, IRQ_HANDLED, IRQ_NONE, NapiStruct
from hilnic.kernel.ftrace import trace_mark, traced
from hilnic.lib.checksum import csum_tcpudp_magic
from hilnic.mm.hostmem import DmaDir
from hilnic.net.core import netdevice as nd
from hilnic.net.core.net_namespace import Host
from hilnic.net.core.netdevice import NetDevice, NetdevQueue
from hilnic.net.core.skbuff import (
    CHECKSUM_PARTIAL,
    MAX_SKB_FRAGS,
    SkBuff,
    kfree_skb,
    napi_consume_skb,
    skb_checksum_help,
    skb_cow_head,
)
from hilnic.net.ethernet.eth import alloc_etherdev

# Enum members bound once: class-attribute lookup on an Enum is slow in hot paths.
_DMA_TO_DEVICE = DmaDir.TO_DEVICE
_R_CTRL = Reg.CTRL
_R_ERRADDRH = Reg.ERRADDRH
_R_ERRADDRL = Reg.ERRADDRL
_R_ERRCAUSE = Reg.ERRCAUSE
_R_GOTCH = Reg.GOTCH
_R_GOTCL = Reg.GOTCL
_R_GPTC = Reg.GPTC
_R_HCAPS = Reg.HCAPS
_R_HID = Reg.HID
_R_HVER = Reg.HVER
_R_ICR = Reg.ICR
_R_IMC = Reg.IMC
_R_IMS = Reg.IMS
_R_ITR = Reg.ITR
_R_STATUS = Reg.STATUS
_R_TADV = Reg.TADV
_R_TCTL = Reg.TCTL
_R_TDBAH = Reg.TDBAH
_R_TDBAL = Reg.TDBAL
_R_TDH = Reg.TDH
_R_TDLEN = Reg.TDLEN
_R_TDT = Reg.TDT
_R_TDWBAH = Reg.TDWBAH
_R_TDWBAL = Reg.TDWBAL
_R_TIDV = Reg.TIDV
_R_TPT = Reg.TPT
_R_TXDCTL = Reg.TXDCTL
_R_TXDROP = Reg.TXDROP

# -- constants (igb.h / e1000.h) -------------------------------------------------------------

E1000_MAX_TXD_PWR = 15
E1000_MAX_DATA_PER_TXD = 1 << E1000_MAX_TXD_PWR  # 32 KiB per data descriptor
DESC_NEEDED = MAX_SKB_FRAGS + 4  # 21
TX_WAKE_THRESHOLD = DESC_NEEDED * 2  # 42
E1000_DEFAULT_TX_WORK = 128  # igb tx_work_limit
E1000_NAPI_WEIGHT = 64
E1000_WATCHDOG_TIMEO = 5 * HZ  # jiffies
E1000_MIN_TX_LEN = 17  # igb_xmit_frame: skb_put_padto(skb, 17)
E1000_IRQ_DEFAULT = 16
E1000_IMS_ENABLE_MASK = E1000_ICR_TXDW | E1000_ICR_ERR
E1000_RESET_POLL_MS = 1
E1000_RESET_POLL_TRIES = 100
E1000_DOWN_SLEEP_MS = 10  # e1000_down: msleep(10) after disabling the transmitter
E1000_HEAD_WB_BYTES = 64  # one cache line for the written-back head

# Error causes that halt the transmitter (STATUS.TXOFF): the ring must be reset.
E1000_ERR_FATAL = ERR_DMA_READ | ERR_DMA_WRITE

_DESC = struct.Struct("<QHBBBBH")
_CMD_BASE = E1000_TXD_CMD_IFCS
_CMD_EOP = E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS
# TSO data descriptors (e1000_tx_queue with E1000_TX_FLAGS_TSO): DEXT, DTYP_D, TSE; POPTS
# IXSM|TXSM (an IPv4 packet); byte 10 holds DTYP above the length's bits 19:16
_CMD_TSO = E1000_TXD_CMD_DEXT | E1000_TXD_CMD_TSE
_B10_TSO = E1000_TXD_DTYP_D << 4
_POPTS_TSO = E1000_TXD_POPTS_IXSM | E1000_TXD_POPTS_TXSM
IPPROTO_TCP = 6


def TXD_USE_COUNT(size: int) -> int:
    return -(-size // E1000_MAX_DATA_PER_TXD)


def smp_mb() -> None:
    """A full memory barrier; another CPU's clean may have run here (tests hook this)."""


class E1000ProbeError(RuntimeError):
    """The device at this backend is not a hilnic NIC this driver supports."""


@dataclass(slots=True)
class E1000TxBuffer:
    """struct igb_tx_buffer: one per descriptor, parallel to the ring."""

    next_to_watch: int | None = None  # index of the packet's EOP descriptor (on `first` only)
    skb: SkBuff | None = None
    bytecount: int = 0
    gso_segs: int = 0
    dma: int = 0  # mapping that starts at this descriptor (0: none)
    len: int = 0


@dataclass
class E1000RingStats:
    packets: int = 0
    bytes: int = 0
    restart_queue: int = 0
    restart_queue2: int = 0


@dataclass
class E1000TxRing:
    """struct igb_ring for transmit: three numbers and a parallel buffer array."""

    count: int
    dma: int = 0  # ring base (coherent memory)
    size: int = 0
    next_to_use: int = 0
    next_to_clean: int = 0
    queue_index: int = 0
    tx_buffer_info: list[E1000TxBuffer] = field(default_factory=list)
    tx_stats: E1000RingStats = field(default_factory=E1000RingStats)
    head_wb: int = 0  # head write-back address (0: DD write-back)


@dataclass
class E1000Stats:
    """Driver counters (adapter fields that ethtool -S shows)."""

    tx_timeout_count: int = 0
    tx_busy: int = 0
    tx_dma_failed: int = 0
    tx_restart_hw: int = 0  # resets after a hardware error
    err_interrupts: int = 0
    last_errcause: int = 0
    last_erraddr: int = 0
    eims_writes: int = 0  # NAPI-complete unmask writes (igb's EIMS write)
    # the NIC's read-clear statistics, accumulated when read (e1000_update_stats)
    gptc: int = 0
    gotc: int = 0
    txdrop: int = 0
    tpt: int = 0


class E1000Adapter:
    """struct e1000_adapter: the driver's private state (netdev_priv)."""

    def __init__(self, host: Host, backend: NicBackend, netdev: NetDevice, irq: int, ring_size: int, itr: int,
                 wthresh: int, tidv: int, tadv: int, head_wb: bool) -> None:
        self.host = host
        self.kernel = host.kernel
        self.mem = host.mem
        self.hw = backend
        self.netdev = netdev
        self.irq = irq
        self.tx_ring = E1000TxRing(ring_size)
        self.tx_work_limit = E1000_DEFAULT_TX_WORK
        self.itr_setting = itr
        self.itr_val = IGB_START_ITR if itr in (ITR_DYNAMIC, ITR_DYNAMIC_CONSERVATIVE) else 0
        self.set_itr = False
        self.total_tx_bytes = 0  # q_vector->tx.total_bytes (adaptive ITR input)
        self.total_tx_packets = 0
        self.wthresh = wthresh
        self.tidv = tidv
        self.tadv = tadv
        self.use_head_wb = head_wb
        self.stats = E1000Stats()
        self.down = True  # __E1000_DOWN
        self.reset_pending = False
        self.hid = self.hver = self.hcaps = 0
        self.link_up = False
        self.napi = E1000Napi(self)

    # -- register access -------------------------------------------------------------------------

    def wr32(self, reg: int, value: int) -> None:
        """A posted write, issued when the CPU gets there (after the work charged before it)."""
        self.kernel.at_cpu(self.hw.writel, reg, value & 0xFFFFFFFF)

    async def rd32(self, reg: int) -> int:
        await self.kernel.cpu_reach()  # issued after the writes and work before it
        return await self.hw.readl(reg)


class E1000Napi(NapiStruct):
    """The adapter's napi_struct; `adapter` is container_of(napi, struct e1000_adapter, napi)."""

    def __init__(self, adapter: E1000Adapter) -> None:
        super().__init__(adapter.kernel, e1000_clean, E1000_NAPI_WEIGHT, f"{adapter.netdev.name}-napi")
        self.adapter = adapter


def netdev_priv(netdev: NetDevice) -> E1000Adapter:
    return netdev.priv


# -- probe, open, close ------------------------------------------------------------------------


def _itr_reg(itr_setting: int, itr_val: int) -> int:
    """ITR register value (256 ns units) for a setting: ints/s, or igb's itr_val when dynamic."""
    if itr_setting == ITR_OFF:
        return 0
    if itr_setting in (ITR_DYNAMIC, ITR_DYNAMIC_CONSERVATIVE):
        usecs_x4 = itr_val & IGB_ITR_MASK
        return usecs_x4 * 1000 // (4 * ITR_UNIT_NS)
    return 1_000_000_000 // (itr_setting * ITR_UNIT_NS)  # e1000: 10^9 / (itr * 256)


@traced
async def e1000_probe(host: Host, backend: NicBackend, irq: int = E1000_IRQ_DEFAULT, name: str = "eth0",
                      ring_size: int = E1000_DEFAULT_TXD, itr: int = E1000_DEFAULT_ITR, wthresh: int = 0,
                      tidv: int = 0, tadv: int = 0, head_wb: bool = False) -> NetDevice:
    """Identify the NIC, reset it, and register `name`. Returns the NetDevice."""
    if not TX_DESCRIPTORS.valid(ring_size):
        raise ValueError(f"ring_size must be {TX_DESCRIPTORS.describe()}, got {ring_size}")
    if not INTERRUPT_THROTTLE_RATE.valid(itr):
        raise ValueError(f"itr must be 0, 1, 3 or {INTERRUPT_THROTTLE_RATE.describe()}, got {itr}")
    if not 0 <= wthresh <= 0x3F:
        raise ValueError(f"wthresh must be 0..63, got {wthresh}")
    for nm, v in (("tidv", tidv), ("tadv", tadv)):
        if not 0 <= v <= 0xFFFF:
            raise ValueError(f"{nm} must be 0..65535 (1.024 us units), got {v}")
    hid = await backend.readl(_R_HID)
    if hid != HID_VALUE:
        raise E1000ProbeError(f"no hilnic NIC: HID reads {hid:#010x}, expected {HID_VALUE:#010x}")
    hver = await backend.readl(_R_HVER)
    if hver >> 16 != HVER_MAJOR:
        raise E1000ProbeError(f"unsupported hilnic NIC version {hver >> 16}.{hver & 0xFFFF} (driver knows {HVER_MAJOR}.x)")
    hcaps = await backend.readl(_R_HCAPS)
    netdev = alloc_etherdev(host, name)
    adapter = E1000Adapter(host, backend, netdev, irq, ring_size, itr, wthresh, tidv, tadv, head_wb)
    adapter.hid, adapter.hver, adapter.hcaps = hid, hver, hcaps
    netdev.priv = adapter
    netdev.irq = irq
    await e1000_reset_hw(adapter)
    status = await adapter.rd32(_R_STATUS)
    netdev.netdev_ops = nd.NetdevOps(
        ndo_open=e1000_open,
        ndo_stop=e1000_close,
        ndo_start_xmit=e1000_xmit_frame,
        ndo_tx_timeout=e1000_tx_timeout,
    )
    netdev.features = nd.NETIF_F_SG | nd.NETIF_F_HW_CSUM | nd.NETIF_F_TSO  # e1000_probe: TSO on
    netdev.hw_features = netdev.features
    netdev.watchdog_timeo = E1000_WATCHDOG_TIMEO
    max_frame = (hcaps >> 16) * 16
    if hasattr(netdev, "max_mtu"):
        netdev.max_mtu = max_frame - ETH_HLEN - VLAN_HLEN
    adapter.link_up = bool(status & E1000_STATUS_LU)
    backend.on_irq(lambda level: host.kernel.set_irq_line(irq, level))
    nd.netif_carrier_off(netdev)
    nd.register_netdev(netdev)
    return netdev


@traced
async def e1000_reset_hw(adapter: E1000Adapter) -> None:
    """CTRL.RST, then wait for the NIC to finish it; interrupts masked afterwards."""
    adapter.wr32(_R_IMC, 0xFFFFFFFF)
    adapter.wr32(_R_CTRL, E1000_CTRL_RST)
    for _ in range(E1000_RESET_POLL_TRIES):
        await adapter.kernel.msleep(E1000_RESET_POLL_MS)
        if not await adapter.rd32(_R_STATUS) & E1000_STATUS_RST_BUSY:
            break
    else:
        raise E1000ProbeError("NIC reset did not complete")
    adapter.wr32(_R_IMC, 0xFFFFFFFF)


def e1000_setup_tx_resources(adapter: E1000Adapter) -> None:
    ring = adapter.tx_ring
    ring.tx_buffer_info = [E1000TxBuffer() for _ in range(ring.count)]
    ring.size = ring.count * TX_DESC_SIZE
    ring.dma = adapter.mem.dma_alloc_coherent(ring.size, align=4096, owner=f"{adapter.netdev.name}-tx-ring")
    ring.next_to_use = ring.next_to_clean = 0
    if adapter.use_head_wb:
        ring.head_wb = adapter.mem.dma_alloc_coherent(
            E1000_HEAD_WB_BYTES, align=E1000_HEAD_WB_BYTES, owner=f"{adapter.netdev.name}-tx-head-wb"
        )


def e1000_free_tx_resources(adapter: E1000Adapter) -> None:
    ring = adapter.tx_ring
    e1000_clean_tx_ring(adapter)
    if ring.dma:
        adapter.mem.dma_free_coherent(ring.dma, ring.size)
        ring.dma = 0
    if ring.head_wb:
        adapter.mem.dma_free_coherent(ring.head_wb, E1000_HEAD_WB_BYTES)
        ring.head_wb = 0
    ring.tx_buffer_info = []


def e1000_configure_tx(adapter: E1000Adapter) -> None:
    """Program the ring, the write-back and moderation registers, then enable transmit."""
    ring = adapter.tx_ring
    wr32 = adapter.wr32
    wr32(_R_TCTL, 0)
    wr32(_R_TDBAL, ring.dma & 0xFFFFFFFF)
    wr32(_R_TDBAH, ring.dma >> 32)
    wr32(_R_TDLEN, ring.size)
    wr32(_R_TDH, 0)
    wr32(_R_TDT, 0)
    wr32(_R_TXDCTL, adapter.wthresh << TXDCTL_WTHRESH_SHIFT)
    wr32(_R_TIDV, adapter.tidv)
    wr32(_R_TADV, adapter.tadv)
    if ring.head_wb:
        adapter.mem.write(ring.head_wb, bytes(4))
        wr32(_R_TDWBAH, ring.head_wb >> 32)
        wr32(_R_TDWBAL, (ring.head_wb & 0xFFFFFFFF) | TDWBAL_EN)
    else:
        wr32(_R_TDWBAL, 0)
    wr32(_R_ITR, _itr_reg(adapter.itr_setting, adapter.itr_val))
    wr32(_R_TCTL, E1000_TCTL_EN | E1000_TCTL_PSP)


def e1000_irq_enable(adapter: E1000Adapter) -> None:
    adapter.wr32(_R_IMS, E1000_IMS_ENABLE_MASK)


def e1000_irq_disable(adapter: E1000Adapter) -> None:
    adapter.wr32(_R_IMC, 0xFFFFFFFF)


def e1000_up(adapter: E1000Adapter) -> None:
    e1000_configure_tx(adapter)
    adapter.down = False
    adapter.napi.scheduled = False
    e1000_irq_enable(adapter)
    nd.netdev_tx_reset_queue(_txq(adapter))
    if adapter.link_up:
        nd.netif_carrier_on(adapter.netdev)
    nd.netif_tx_wake_all_queues(adapter.netdev)  # reschedules the qdisc held back while down


@traced
def e1000_open(netdev: NetDevice) -> int:
    """ndo_open: allocate the ring, program the NIC, request the IRQ, start the queue."""
    adapter = netdev_priv(netdev)
    if not adapter.down:
        return 0
    e1000_setup_tx_resources(adapter)
    adapter.kernel.request_irq(adapter.irq, lambda irq: e1000_intr(irq, adapter), f"{netdev.name}-TxRx-0")
    e1000_configure_tx(adapter)
    adapter.down = False
    e1000_irq_enable(adapter)
    nd.netdev_tx_reset_queue(_txq(adapter))
    if adapter.link_up:
        nd.netif_carrier_on(netdev)
    nd.netif_tx_start_all_queues(netdev)
    return 0


async def e1000_down(adapter: E1000Adapter) -> None:
    """Stop the queue and the transmitter, wait for DMA to stop, free every pending skb."""
    adapter.down = True
    netdev = adapter.netdev
    nd.netif_tx_stop_all_queues(netdev)  # netif_tx_disable
    adapter.wr32(_R_TCTL, 0)
    e1000_irq_disable(adapter)
    await adapter.rd32(_R_STATUS)  # E1000_WRITE_FLUSH: the posted writes have landed
    await adapter.kernel.msleep(E1000_DOWN_SLEEP_MS)
    if adapter.napi.scheduled:  # napi_disable: take it off the poll list
        adapter.napi.napi_complete_done(0)
    nd.netif_carrier_off(netdev)
    e1000_clean_tx_ring(adapter)


@traced
async def e1000_close(netdev: NetDevice) -> int:
    """ndo_stop (a coroutine: e1000_down flushes and sleeps). Frees the ring and the IRQ."""
    adapter = netdev_priv(netdev)
    if adapter.tx_ring.dma == 0:
        return 0
    await e1000_down(adapter)
    adapter.kernel.free_irq(adapter.irq)
    e1000_free_tx_resources(adapter)
    return 0


def e1000_clean_tx_ring(adapter: E1000Adapter) -> None:
    """Unmap and free everything still on the ring; zero the descriptors; reset BQL."""
    ring = adapter.tx_ring
    mem = adapter.mem
    for buf in ring.tx_buffer_info:
        if buf.len:
            mem.dma_unmap(buf.dma, buf.len)
        if buf.skb is not None:
            kfree_skb(buf.skb, "e1000_clean_tx_ring")
        buf.skb = None
        buf.next_to_watch = None
        buf.len = buf.dma = 0
    if ring.dma:
        mem.write(ring.dma, bytes(ring.size))
    ring.next_to_use = ring.next_to_clean = 0
    nd.netdev_tx_reset_queue(_txq(adapter))


# -- transmit ----------------------------------------------------------------------------------


def _txq(adapter: E1000Adapter) -> NetdevQueue:
    return nd.netdev_get_tx_queue(adapter.netdev, adapter.tx_ring.queue_index)


def e1000_desc_unused(ring: E1000TxRing) -> int:
    ntc, ntu = ring.next_to_clean, ring.next_to_use
    return (0 if ntc > ntu else ring.count) + ntc - ntu - 1


def e1000_maybe_stop_tx(adapter: E1000Adapter, size: int) -> int:
    """The inline fast path: room for `size` descriptors means nothing to do."""
    ring = adapter.tx_ring
    ntc, ntu = ring.next_to_clean, ring.next_to_use
    if (0 if ntc > ntu else ring.count) + ntc - ntu - 1 >= size:
        return 0
    return __e1000_maybe_stop_tx(adapter, size)


@traced
def __e1000_maybe_stop_tx(adapter: E1000Adapter, size: int) -> int:
    """Stop the subqueue, barrier, re-check: another CPU may have cleaned meanwhile."""
    ring = adapter.tx_ring
    netdev = adapter.netdev
    nd.netif_stop_subqueue(netdev, ring.queue_index)
    smp_mb()
    if e1000_desc_unused(ring) < size:
        return -1  # -EBUSY
    nd.netif_wake_subqueue(netdev, ring.queue_index)  # a reprieve: another CPU cleaned meanwhile
    ring.tx_stats.restart_queue2 += 1
    return 0


@traced
def e1000_xmit_frame(skb: SkBuff, netdev: NetDevice) -> int:
    """ndo_start_xmit."""
    adapter = netdev_priv(netdev)
    k = adapter.kernel
    k.charge(k.cost.driver_xmit)
    if skb.len < E1000_MIN_TX_LEN and not _skb_put_padto(skb, E1000_MIN_TX_LEN):
        netdev.stats.tx_dropped += 1
        return nd.NETDEV_TX_OK
    return e1000_xmit_frame_ring(skb, adapter)


def _skb_put_padto(skb: SkBuff, length: int) -> bool:
    """Zero-pad a linear skb to `length`; False (skb freed) when it has no tailroom."""
    pad = length - skb.len
    if skb.data_len or skb.skb_tailroom() < pad:
        kfree_skb(skb, "skb_put_padto")
        return False
    skb.skb_put_data(bytes(pad))
    return True


@traced
def e1000_xmit_frame_ring(skb: SkBuff, adapter: E1000Adapter) -> int:
    ring = adapter.tx_ring
    shinfo = skb.shinfo
    mss = shinfo.gso_size
    count = -(-(skb.len - skb.data_len) // E1000_MAX_DATA_PER_TXD)  # TXD_USE_COUNT(skb_headlen(skb))
    for f in shinfo.frags:
        count += -(-f.size // E1000_MAX_DATA_PER_TXD)  # TXD_USE_COUNT(skb_frag_size(frag))
    if mss:
        count += 1  # reserve a descriptor for the offload context
    # e1000_maybe_stop_tx(adapter, count + 2), its inline fast path first: count + 2 gap
    ntc, ntu = ring.next_to_clean, ring.next_to_use
    if (0 if ntc > ntu else ring.count) + ntc - ntu - 1 < count + 2 and __e1000_maybe_stop_tx(adapter, count + 2):
        adapter.stats.tx_busy += 1
        return nd.NETDEV_TX_BUSY
    first = ring.tx_buffer_info[ring.next_to_use]
    first.skb = skb
    first.bytecount = skb.len
    first.gso_segs = 1
    first_idx = ring.next_to_use
    cmd = 0
    css = cso = 0
    tso = e1000_tso(adapter, first, skb)
    if tso < 0:
        first.skb = None
        kfree_skb(skb, "e1000_tso")
        return nd.NETDEV_TX_OK
    if not tso and skb.ip_summed == CHECKSUM_PARTIAL:
        css, cso = e1000_tx_csum(skb)
        if css >= 0:
            cmd = E1000_TXD_CMD_IC
    if e1000_tx_map(adapter, first, cmd, css, cso, bool(tso), first_idx) < 0:
        adapter.stats.tx_dma_failed += 1
    return nd.NETDEV_TX_OK


@traced
def e1000_tso(adapter: E1000Adapter, first: E1000TxBuffer, skb: SkBuff) -> int:
    """e1000_tso(): for a GSO skb, prepare the headers as the NIC wants them and write the
    TCP/IP context descriptor at next_to_use. 1: done (TSO), 0: not a GSO skb, < 0: error."""
    shinfo = skb.shinfo
    if not shinfo.gso_size:
        return 0
    err = skb_cow_head(skb, 0)
    if err < 0:
        return err
    nh, th = skb.network_header, skb.transport_header
    hdr_len = th - skb.data + (skb.read_at(th + 12, 1)[0] >> 4) * 4  # skb_tcp_all_headers
    mss = shinfo.gso_size
    if skb.protocol != ETH_P_IP:
        return -1  # -EINVAL: only IPv4 here (e1000_tso's IPv6 branch: no IPv6 stack)
    # iph->tot_len = 0; iph->check = 0; tcp_hdr(skb)->check = ~csum_tcpudp_magic(saddr, daddr, 0, IPPROTO_TCP, 0)
    skb.write_at(nh + 2, b"\0\0")
    skb.write_at(nh + 10, b"\0\0")
    addrs = skb.read_at(nh + 12, 8)
    saddr, daddr = int.from_bytes(addrs[:4], "big"), int.from_bytes(addrs[4:], "big")
    skb.write_at(th + 16, (~csum_tcpudp_magic(saddr, daddr, 0, IPPROTO_TCP, 0) & 0xFFFF).to_bytes(2, "big"))
    ipcss = nh - skb.data  # skb_network_offset
    tucss = th - skb.data  # skb_transport_offset
    ctx = TxContextDesc(ipcss=ipcss, ipcso=ipcss + 10, ipcse=tucss - 1, tucss=tucss, tucso=tucss + 16, tucse=0,
                        paylen=skb.len - hdr_len, tucmd=E1000_TXD_CMD_IP | E1000_TXD_CMD_TSE | E1000_TXD_CMD_TCP,
                        hdrlen=hdr_len, mss=mss)
    ring = adapter.tx_ring
    i = ring.next_to_use
    adapter.mem.write(ring.dma + i * TX_DESC_SIZE, ctx.pack())
    # igb_tso: the packet's segments and the bytes they put on the wire (BQL, counters)
    first.gso_segs = shinfo.gso_segs
    first.bytecount += (first.gso_segs - 1) * hdr_len
    i += 1
    ring.next_to_use = 0 if i == ring.count else i
    return 1


def e1000_tx_csum(skb: SkBuff) -> tuple[int, int]:
    """CSS/CSO for a CHECKSUM_PARTIAL skb, or (-1, -1) after finishing it in software.

    Legacy descriptors carry 8-bit offsets from the frame start; a checksum the NIC cannot
    reach is completed by skb_checksum_help, as igb does for offsets it does not support.
    """
    css = skb.csum_start - skb.data
    cso = css + skb.csum_offset
    if css >= 0 and cso + 2 <= skb.headlen and cso <= 0xFF and css <= 0xFF:
        return css, cso
    skb_checksum_help(skb)
    return -1, -1


@traced
def e1000_tx_map(adapter: E1000Adapter, first: E1000TxBuffer, cmd_csum: int, css: int, cso: int, tso: bool = False,
                 first_idx: int | None = None) -> int:
    """Map the head and every frag (split at 32 KiB per descriptor), then e1000_tx_queue.
    `first_idx`: the packet's first descriptor (its context descriptor with TSO), where
    next_to_use goes back to when a mapping fails."""
    ring = adapter.tx_ring
    skb = first.skb
    assert skb is not None and skb.head is not None
    count = ring.count
    bufs = ring.tx_buffer_info
    i = ring.next_to_use
    start = i
    descs: list[tuple[int, int]] = []  # (dma, len) per descriptor, in ring order from `start`
    pieces = [(skb.head.addr + skb.data, skb.len - skb.data_len)]
    for f in skb.shinfo.frags:
        pieces.append((f.page.addr + f.offset, f.size))
    dma_map = adapter.mem.dma_map
    owner = adapter.netdev.name
    for addr, size in pieces:
        if size == 0:
            continue
        try:  # dma_map_single / skb_frag_dma_map
            dma = dma_map(addr, size, _DMA_TO_DEVICE, owner)
        except (ValueError, IndexError, MemoryError):  # dma_mapping_error
            return _tx_map_unwind(adapter, first, start, i, first_idx)
        tx_buffer = bufs[i]
        tx_buffer.dma, tx_buffer.len = dma, size
        while size > E1000_MAX_DATA_PER_TXD:
            descs.append((dma, E1000_MAX_DATA_PER_TXD))
            dma += E1000_MAX_DATA_PER_TXD
            size -= E1000_MAX_DATA_PER_TXD
            i += 1
            if i == count:
                i = 0
        descs.append((dma, size))
        i += 1
        if i == count:
            i = 0
    e1000_tx_queue(adapter, first, descs, start, i, cmd_csum, css, cso, tso)
    return 0


@traced
def e1000_tx_queue(adapter: E1000Adapter, first: E1000TxBuffer, descs: list[tuple[int, int]], start: int, i: int,
                   cmd_csum: int, css: int, cso: int, tso: bool = False) -> None:
    """Write the data descriptors, account BQL, stop if needed, ring the doorbell."""
    ring = adapter.tx_ring
    count = ring.count
    # All but the last carry only IFCS; the last gets EOP|IFCS|RS and the checksum request.
    # TSO: every one is a TSE data descriptor (DEXT, DTYP_D, TSE, POPTS IXSM|TXSM).
    n = len(descs)
    raw = bytearray(n * TX_DESC_SIZE)
    last_cmd = _CMD_EOP | cmd_csum | (E1000_TXD_CMD_IDE if adapter.tidv else 0)
    base, b10, b13 = (_CMD_BASE | _CMD_TSO, _B10_TSO, _POPTS_TSO) if tso else (_CMD_BASE, 0, 0)
    pack_into = _DESC.pack_into
    last = n - 1
    for k in range(last):
        dma, length = descs[k]
        pack_into(raw, k * TX_DESC_SIZE, dma, length, b10, base, 0, b13, 0)
    if n:
        dma, length = descs[last]
        if tso:
            pack_into(raw, last * TX_DESC_SIZE, dma, length, b10, last_cmd | _CMD_TSO, 0, b13, 0)
        else:
            pack_into(raw, last * TX_DESC_SIZE, dma, length, cso, last_cmd, 0, css, 0)
    mem = adapter.mem
    first_part = count - start
    if first_part >= n:
        mem.write(ring.dma + start * TX_DESC_SIZE, raw)
    else:
        mem.write(ring.dma + start * TX_DESC_SIZE, raw[: first_part * TX_DESC_SIZE])
        mem.write(ring.dma, raw[first_part * TX_DESC_SIZE :])
    netdev = adapter.netdev
    txq = nd.netdev_get_tx_queue(netdev, ring.queue_index)
    nd.netdev_tx_sent_queue(txq, first.bytecount)
    first.next_to_watch = (start + n - 1) % count  # the EOP descriptor
    ring.next_to_use = i
    e1000_maybe_stop_tx(adapter, DESC_NEEDED)
    if nd.netif_xmit_stopped(txq) or not nd.netdev_xmit_more():
        adapter.wr32(_R_TDT, i)  # the doorbell


def _tx_map_unwind(adapter: E1000Adapter, first: E1000TxBuffer, start: int, i: int, first_idx: int | None) -> int:
    """dma_error: unmap what was mapped, free the skb; next_to_use back to the packet's first
    descriptor (its context descriptor, never handed to the NIC)."""
    ring = adapter.tx_ring
    bufs = ring.tx_buffer_info
    mem = adapter.mem
    while i != start:
        i = (i - 1) % ring.count
        b = bufs[i]
        if b.len:
            mem.dma_unmap(b.dma, b.len)
            b.dma = b.len = 0
    if first_idx is not None:
        ring.next_to_use = first_idx
    skb = first.skb
    first.skb = None
    kfree_skb(skb, "e1000_tx_map dma_error")
    adapter.netdev.stats.tx_dropped += 1
    return -1


# -- interrupt, NAPI, clean --------------------------------------------------------------------


@traced
async def e1000_intr(irq: int, adapter: E1000Adapter) -> int:
    """Legacy interrupt handler: read (and so clear) ICR, mask, schedule NAPI."""
    icr = await adapter.rd32(_R_ICR)
    if not icr:
        return IRQ_NONE  # shared line, not ours
    if adapter.down:
        return IRQ_HANDLED
    if icr & E1000_ICR_ERR:
        await e1000_handle_err(adapter)
    if adapter.set_itr:
        adapter.wr32(_R_ITR, _itr_reg(adapter.itr_setting, adapter.itr_val))
        adapter.set_itr = False
    adapter.wr32(_R_IMC, 0xFFFFFFFF)  # disable interrupts until the poll is done
    await adapter.rd32(_R_STATUS)  # E1000_WRITE_FLUSH
    adapter.napi.napi_schedule()
    return IRQ_HANDLED


async def e1000_handle_err(adapter: E1000Adapter) -> None:
    """ICR.ERR: read the cause; a halted transmitter (DMA error) needs a reset."""
    s = adapter.stats
    s.err_interrupts += 1
    cause = await adapter.rd32(_R_ERRCAUSE)
    lo = await adapter.rd32(_R_ERRADDRL)
    hi = await adapter.rd32(_R_ERRADDRH)
    s.last_errcause = cause
    s.last_erraddr = hi << 32 | lo
    trace_mark(f"{adapter.netdev.name}: NIC error cause {cause:#x} at {s.last_erraddr:#x}")
    if cause & E1000_ERR_FATAL:
        s.tx_restart_hw += 1
        e1000_schedule_reset(adapter)


@traced
def e1000_clean(napi: NapiStruct, budget: int) -> int:
    """NAPI poll: clean the TX ring; if done, complete and unmask with one IMS write."""
    adapter = cast(E1000Napi, napi).adapter  # container_of
    if adapter.down:
        napi.napi_complete_done(0)
        return 0
    clean_complete = e1000_clean_tx_irq(adapter, budget)
    if not clean_complete:
        return budget  # polled again; the interrupt stays masked
    work_done = 0  # no receive ring
    if napi.napi_complete_done(work_done):
        e1000_ring_irq_enable(adapter)
    return work_done


def e1000_ring_irq_enable(adapter: E1000Adapter) -> None:
    if adapter.itr_setting in (ITR_DYNAMIC, ITR_DYNAMIC_CONSERVATIVE):
        e1000_update_ring_itr(adapter)
    if not adapter.down:
        adapter.stats.eims_writes += 1
        e1000_irq_enable(adapter)


def e1000_update_ring_itr(adapter: E1000Adapter) -> None:
    """igb_update_ring_itr: interval from the average wire size of what was cleaned."""
    packets = adapter.total_tx_packets
    if packets:
        avg_wire_size = adapter.total_tx_bytes // packets + 24  # CRC, preamble and gap
        avg_wire_size = min(avg_wire_size, 3000)  # don't starve jumbo frames
        new_val = avg_wire_size // 3 if 300 < avg_wire_size < 1200 else avg_wire_size // 2
        if new_val < IGB_20K_ITR and adapter.itr_setting == ITR_DYNAMIC_CONSERVATIVE:
            new_val = IGB_20K_ITR
        if new_val != adapter.itr_val:
            adapter.itr_val = new_val
            adapter.set_itr = True  # written at the next interrupt (igb_write_itr)
    adapter.total_tx_bytes = adapter.total_tx_packets = 0


@traced
def e1000_clean_tx_irq(adapter: E1000Adapter, napi_budget: int) -> bool:
    """Reclaim completed packets from next_to_clean: at most tx_work_limit per call."""
    ring = adapter.tx_ring
    bufs = ring.tx_buffer_info
    count = ring.count
    mem = adapter.mem
    i = ring.next_to_clean
    budget = adapter.tx_work_limit
    total_bytes = total_packets = 0
    head = None
    if ring.head_wb:
        head = int.from_bytes(mem.read(ring.head_wb, 4), "little")
    desc_base = ring.dma
    while budget:
        first = bufs[i]
        eop = first.next_to_watch
        if eop is None:
            break
        if head is not None:
            # The written-back head must have passed the EOP descriptor.
            if (head - i) % count <= (eop - i) % count:
                break
        elif not mem.read(desc_base + eop * TX_DESC_SIZE + DESC_STA_BYTE, 1)[0] & E1000_TXD_STAT_DD:
            break
        first.next_to_watch = None
        total_bytes += first.bytecount
        total_packets += first.gso_segs
        skb, first.skb = first.skb, None
        napi_consume_skb(skb, napi_budget)  # runs the clone's destructor (tcp_wfree)
        while True:
            b = bufs[i]
            if b.len:
                mem.dma_unmap(b.dma, b.len)
                b.dma = b.len = 0
            if i == eop:
                break
            i += 1
            if i == count:
                i = 0
        i += 1
        if i == count:
            i = 0
        budget -= 1
    ring.next_to_clean = i
    reclaimed = adapter.tx_work_limit - budget
    if reclaimed:
        k = adapter.kernel
        k.charge(k.cost.tx_reclaim * reclaimed)  # napi_consume_skb, unmap: per skb
    netdev = adapter.netdev
    nd.netdev_tx_completed_queue(nd.netdev_get_tx_queue(netdev, ring.queue_index), total_packets, total_bytes)
    ring.tx_stats.bytes += total_bytes
    ring.tx_stats.packets += total_packets
    netdev.stats.tx_bytes += total_bytes  # igb_get_stats64 sums the ring counters
    netdev.stats.tx_packets += total_packets
    adapter.total_tx_bytes += total_bytes
    adapter.total_tx_packets += total_packets
    if total_packets and nd.netif_carrier_ok(netdev) and e1000_desc_unused(ring) >= TX_WAKE_THRESHOLD:
        smp_mb()
        if nd.__netif_subqueue_stopped(netdev, ring.queue_index) and not adapter.down:
            nd.netif_wake_subqueue(netdev, ring.queue_index)
            ring.tx_stats.restart_queue += 1
    return budget != 0


# -- timeout and reset -----------------------------------------------------------------------


@traced
def e1000_tx_timeout(netdev: NetDevice, txqueue: int = 0) -> None:
    """ndo_tx_timeout (called by the core's dev_watchdog): count it, reset NIC and ring."""
    adapter = netdev_priv(netdev)
    adapter.stats.tx_timeout_count += 1
    e1000_schedule_reset(adapter)


def e1000_schedule_reset(adapter: E1000Adapter) -> None:
    """schedule_work(&adapter->reset_task)."""
    if adapter.reset_pending or adapter.down:
        return
    adapter.reset_pending = True
    adapter.kernel.spawn(e1000_reset_task(adapter), f"{adapter.netdev.name}-reset")


@traced
async def e1000_reset_task(adapter: E1000Adapter) -> None:
    """e1000_reinit_locked: down (free pending skbs), hardware reset, up."""
    try:
        await e1000_down(adapter)
        await e1000_reset_hw(adapter)
        e1000_up(adapter)
    finally:
        adapter.reset_pending = False


# -- statistics --------------------------------------------------------------------------------


async def e1000_update_stats(adapter: E1000Adapter) -> None:
    """Accumulate the NIC's read-clear counters (GOTCL first: it latches GOTCH)."""
    s = adapter.stats
    s.gptc += await adapter.rd32(_R_GPTC)
    lo = await adapter.rd32(_R_GOTCL)
    hi = await adapter.rd32(_R_GOTCH)
    s.gotc += hi << 32 | lo
    s.tpt += await adapter.rd32(_R_TPT)
    s.txdrop += await adapter.rd32(_R_TXDROP)


def e1000_get_ethtool_stats(netdev: NetDevice) -> dict[str, int]:
    """`ethtool -S` with igb's names, from the counters as last read (no MMIO)."""
    adapter = netdev_priv(netdev)
    ts = adapter.tx_ring.tx_stats
    s = adapter.stats
    return {
        "tx_packets": netdev.stats.tx_packets,
        "tx_bytes": netdev.stats.tx_bytes,
        "tx_dropped": netdev.stats.tx_dropped,
        "tx_timeout_count": s.tx_timeout_count,
        "tx_busy": s.tx_busy,
        "tx_dma_failed": s.tx_dma_failed,
        "tx_restart_hw": s.tx_restart_hw,
        "gptc": s.gptc,
        "gotc": s.gotc,
        "tpt": s.tpt,
        "txdrop": s.txdrop,
        "eims_writes": s.eims_writes,
        "tx_queue_0_packets": ts.packets,
        "tx_queue_0_bytes": ts.bytes,
        "tx_queue_0_restart": ts.restart_queue + ts.restart_queue2,
    }


async def ethtool_stats(netdev: NetDevice) -> dict[str, int]:
    """`ethtool -S`: reads the NIC's statistics registers first (awaited MMIO)."""
    await e1000_update_stats(netdev_priv(netdev))
    return e1000_get_ethtool_stats(netdev)


__all__ = [
    "DESC_NEEDED",
    "E1000_MAX_DATA_PER_TXD",
    "TXD_USE_COUNT",
    "TX_WAKE_THRESHOLD",
    "E1000Adapter",
    "E1000ProbeError",
    "e1000_clean",
    "e1000_clean_tx_irq",
    "e1000_close",
    "e1000_desc_unused",
    "e1000_get_ethtool_stats",
    "e1000_intr",
    "e1000_maybe_stop_tx",
    "e1000_open",
    "e1000_probe",
    "e1000_tso",
    "e1000_tx_map",
    "e1000_tx_queue",
    "e1000_tx_timeout",
    "e1000_xmit_frame",
    "ethtool_stats",
    "netdev_priv",
]
