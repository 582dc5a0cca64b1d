"""struct sk_buff: geometry, shared info, pages, clones and copies (include/linux/skbuff.h).

Packet bytes live in host memory (`HostMemory`), as in Linux: the linear area is a kmalloc'd
buffer [head, end) followed by `skb_shared_info`; paged data sits in `Page`s. The driver
maps those addresses for DMA, and the NIC reads the real bytes. Offsets `data`, `tail`,
`end`, `*_header` and `csum_start` are relative to `head`, like Linux's with
NET_SKBUFF_DATA_USES_OFFSET.

`skb_stats` counts the copies of docs/linux-tx-path.md ("Copies"): bytes copied from user
space, shallow clones, deep copies, extra skbs made by fragmentation, bytes summed in
software.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from hilnic.include.net.tcp import MAX_TCP_HEADER
from hilnic.kernel.ftrace import traced
from hilnic.lib.checksum import csum_fold, csum_partial
from hilnic.mm.hostmem import HostMemory

# Sizes for x86-64, Linux 6.9 (for truesize accounting).
SMP_CACHE_BYTES = 64
SIZEOF_SK_BUFF = 232
SIZEOF_SKB_SHARED_INFO = 320
PAGE_SIZE = 4096
MAX_SKB_FRAGS = 17
SKB_DATAREF_SHIFT = 16
SKB_DATAREF_MASK = (1 << SKB_DATAREF_SHIFT) - 1
NET_SKB_PAD = 64  # max(32, L1_CACHE_BYTES)


def SKB_DATA_ALIGN(x: int) -> int:
    return (x + SMP_CACHE_BYTES - 1) & ~(SMP_CACHE_BYTES - 1)


def SKB_TRUESIZE(x: int) -> int:
    return x + SKB_DATA_ALIGN(SIZEOF_SK_BUFF) + SKB_DATA_ALIGN(SIZEOF_SKB_SHARED_INFO)


def SKB_HEAD_ALIGN(x: int) -> int:
    return SKB_DATA_ALIGN(x) + SKB_DATA_ALIGN(SIZEOF_SKB_SHARED_INFO)


# kmalloc_reserve: heads up to SKB_HEAD_ALIGN(MAX_TCP_HEADER) come from skb_small_head_cache,
# whose objects are one cache line longer when that size is a power of two (so that it is
# not merged with kmalloc-512): 576 bytes with MAX_TCP_HEADER 192, i.e. skb_end_offset 256
# and truesize 832 for every small skb, TCP's among them (Linux 6.18 reports w932 in
# `ss -tm` for a 100-byte write: 832 + 100). Larger heads would round up to a kmalloc size;
# that is not modelled (their truesize is SKB_TRUESIZE of the aligned request).
SKB_SMALL_HEAD_SIZE = SKB_HEAD_ALIGN(MAX_TCP_HEADER)
SKB_SMALL_HEAD_CACHE_SIZE = (
    SKB_SMALL_HEAD_SIZE + SMP_CACHE_BYTES if SKB_SMALL_HEAD_SIZE & (SKB_SMALL_HEAD_SIZE - 1) == 0 else SKB_SMALL_HEAD_SIZE
)
SKB_SMALL_HEAD_HEADROOM = SKB_SMALL_HEAD_CACHE_SIZE - SKB_DATA_ALIGN(SIZEOF_SKB_SHARED_INFO)  # SKB_WITH_OVERHEAD


class ChecksumKind(IntEnum):
    CHECKSUM_NONE = 0
    CHECKSUM_UNNECESSARY = 1
    CHECKSUM_COMPLETE = 2
    CHECKSUM_PARTIAL = 3


CHECKSUM_NONE = ChecksumKind.CHECKSUM_NONE
CHECKSUM_UNNECESSARY = ChecksumKind.CHECKSUM_UNNECESSARY
CHECKSUM_COMPLETE = ChecksumKind.CHECKSUM_COMPLETE
CHECKSUM_PARTIAL = ChecksumKind.CHECKSUM_PARTIAL


class Fclone(IntEnum):
    SKB_FCLONE_UNAVAILABLE = 0
    SKB_FCLONE_ORIG = 1
    SKB_FCLONE_CLONE = 2

# Enum members bound once: class-attribute lookup on an Enum is slow in hot paths.
_SKB_FCLONE_CLONE = Fclone.SKB_FCLONE_CLONE
_SKB_FCLONE_ORIG = Fclone.SKB_FCLONE_ORIG
_SKB_FCLONE_UNAVAILABLE = Fclone.SKB_FCLONE_UNAVAILABLE


SKB_GSO_TCPV4 = 1 << 0
SKB_GSO_UDP_L4 = 1 << 17  # Linux 6.9 numbering (SKB_GSO_DODGY is 1 << 1)


@dataclass
class SkbStats:
    """Per-run copy accounting (docs/linux-tx-path.md, "Copies") and skb lifetime counters."""

    user_copy_bytes: int = 0  # user → kernel (tcp_sendmsg / ip_append_data)
    clones: int = 0  # skb_clone: new sk_buff, shared data
    fclone_hits: int = 0  # the clone was the pre-allocated fclone companion
    pskb_copies: int = 0  # header copied, frags shared
    skb_copies: int = 0  # full deep copies
    copy_bytes: int = 0  # bytes memcpy'd by pskb_copy/skb_copy/linearize/GSO headers
    frag_skbs: int = 0  # extra skbs made by ip_fragment slow path / GSO
    csum_bytes: int = 0  # bytes summed in software (skb_checksum_help, csum during copy)
    allocs: int = 0
    frees: int = 0
    live: int = 0

    def reset(self) -> None:
        for f in self.__dataclass_fields__:
            setattr(self, f, 0)


skb_stats = SkbStats()
_mem: HostMemory | None = None
_ids = itertools.count(1)
_live: dict[int, SkBuff] = {}


def skb_init(mem: HostMemory) -> None:
    """Bind the skb allocator to a host's memory and reset the counters (one host per process)."""
    global _mem
    _mem = mem
    skb_stats.reset()
    _live.clear()


def host_mem() -> HostMemory:
    if _mem is None:
        raise RuntimeError("skb_init(HostMemory) has not been called")
    return _mem


def live_skbs() -> list[SkBuff]:
    """Every sk_buff allocated and not yet freed (leak checks)."""
    return list(_live.values())


class Page:
    """A (compound) page in host memory with a reference count."""

    __slots__ = ("addr", "size", "refcount")

    def __init__(self, size: int = PAGE_SIZE) -> None:
        self.addr = host_mem().alloc(size, align=PAGE_SIZE)
        self.size = size
        self.refcount = 1

    def get_page(self) -> None:
        self.refcount += 1

    def put_page(self) -> None:
        self.refcount -= 1
        if self.refcount == 0:
            (_mem if _mem is not None else host_mem()).free(self.addr)
        elif self.refcount < 0:
            raise RuntimeError(f"put_page on freed page {self.addr:#x}")

    def write(self, offset: int, data: bytes) -> None:
        if offset < 0 or offset + len(data) > self.size:
            raise IndexError(f"page write {offset}+{len(data)} outside a page of {self.size}")
        host_mem().write(self.addr + offset, data)

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or offset + length > self.size:
            raise IndexError(f"page read {offset}+{length} outside a page of {self.size}")
        return host_mem().read(self.addr + offset, length)


@dataclass
class SkbFrag:
    page: Page
    offset: int
    size: int

    @property
    def addr(self) -> int:
        return self.page.addr + self.offset


@dataclass
class SkbSharedInfo:
    """struct skb_shared_info: shared by an skb and its clones."""

    frags: list[SkbFrag] = field(default_factory=list)
    frag_list: SkBuff | None = None
    gso_size: int = 0
    gso_segs: int = 0
    gso_type: int = 0
    dataref: int = 1
    destructor_arg: Any = None  # ubuf_info for MSG_ZEROCOPY

    @property
    def nr_frags(self) -> int:
        return len(self.frags)


@dataclass
class Head:
    """A kmalloc'd linear buffer, shared by clones; freed with the last data reference."""

    addr: int
    size: int  # bytes up to `end` (shinfo follows)


class SkBuff:
    """struct sk_buff."""

    # Scalar fields start at these class-level defaults (an instance attribute appears on
    # the first assignment), so creating an skb sets only what is per-instance.
    head: Head | None = None
    data = 0
    tail = 0
    end = 0
    len = 0
    data_len = 0
    truesize = 0
    cloned = False
    nohdr = False
    fclone = _SKB_FCLONE_UNAVAILABLE
    fclone_ref: list[int] | None = None  # shared [count] between orig and companion
    companion: SkBuff | None = None  # the fclone partner
    companion_in_use = False
    ip_summed = CHECKSUM_NONE
    csum_start = 0
    csum_offset = 0
    csum = 0
    priority = 0
    queue_mapping = 0
    protocol = 0
    mac_header = -1
    network_header = -1
    transport_header = -1
    mac_len = 0
    sk: Any = None
    destructor: Callable[[SkBuff], None] | None = None
    dev: Any = None
    dst: Any = None  # skb_dst(): the route (Rtable) this packet follows
    pkt_type = 0  # PACKET_HOST/BROADCAST/MULTICAST/OTHERHOST (receive side)
    next: SkBuff | None = None
    ignore_df = False
    tstamp = 0
    users = 1
    freed = False
    trace_tag = ""

    def __init__(self) -> None:
        self.id = next(_ids)
        self.shinfo = SkbSharedInfo()
        self.cb: dict[str, Any] = {}

    # -- geometry -------------------------------------------------------------------------

    @property
    def headlen(self) -> int:
        return self.len - self.data_len

    def skb_headroom(self) -> int:
        return self.data

    def skb_tailroom(self) -> int:
        return 0 if self.data_len else self.end - self.tail

    def skb_reserve(self, n: int) -> None:
        assert self.len == 0, "skb_reserve on a non-empty skb"
        self.data += n
        self.tail += n

    def skb_put(self, n: int) -> int:
        """Extend the linear data at the tail; returns the offset (from head) of the new area."""
        if self.data_len:
            raise RuntimeError("skb_put on a paged skb (SKB_LINEAR_ASSERT)")
        off = self.tail
        if off + n > self.end:
            raise RuntimeError(f"skb_over_panic: put {n} with tailroom {self.end - self.tail}")
        self.tail += n
        self.len += n
        return off

    def skb_put_data(self, data: bytes) -> int:
        off = self.skb_put(len(data))
        self.write_at(off, data)
        return off

    def skb_push(self, n: int) -> int:
        """Grow the data area at the front (headers); returns the new `data` offset."""
        if self.data - n < 0:
            raise RuntimeError(f"skb_under_panic: push {n} with headroom {self.data}")
        self.data -= n
        self.len += n
        return self.data

    def skb_pull(self, n: int) -> int:
        if n > self.headlen:
            raise RuntimeError("skb_pull beyond the linear area")
        self.data += n
        self.len -= n
        return self.data

    def skb_trim(self, length: int) -> None:
        if self.data_len:
            raise RuntimeError("skb_trim on a paged skb")
        if length < self.len:
            self.tail = self.data + length
            self.len = length

    # -- headers ----------------------------------------------------------------------------

    def skb_reset_transport_header(self) -> None:
        self.transport_header = self.data

    def skb_reset_mac_header(self) -> None:
        self.mac_header = self.data

    # -- bytes in host memory -------------------------------------------------------------

    def write_at(self, off: int, data: bytes | bytearray) -> None:
        """Write `data` at offset `off` from head (header construction)."""
        if off < 0 or off + len(data) > self.end:
            raise IndexError(f"write {off}+{len(data)} outside skb head of {self.end}")
        head = self.head
        assert head is not None
        (_mem if _mem is not None else host_mem()).write(head.addr + off, data)

    def read_at(self, off: int, length: int) -> bytes:
        head = self.head
        assert head is not None
        return (_mem if _mem is not None else host_mem()).read(head.addr + off, length)

    def linear_bytes(self) -> bytes:
        return self.read_at(self.data, self.headlen)

    def to_bytes(self) -> bytes:
        """The whole packet: linear part, frags, then the frag_list skbs."""
        parts = [self.linear_bytes()]
        for f in self.shinfo.frags:
            parts.append(f.page.read(f.offset, f.size))
        it = self.shinfo.frag_list
        while it is not None:
            parts.append(it.to_bytes())
            it = it.next
        data = b"".join(parts)
        assert len(data) == self.len, f"skb {self.id}: len {self.len} but {len(data)} bytes"
        return data

    def skb_cloned(self) -> bool:
        return self.cloned and (self.shinfo.dataref & SKB_DATAREF_MASK) != 1

    def skb_header_cloned(self) -> bool:
        if not self.cloned:
            return False
        dataref = self.shinfo.dataref
        return (dataref & SKB_DATAREF_MASK) - (dataref >> SKB_DATAREF_SHIFT) != 1

    def __repr__(self) -> str:
        return (
            f"<skb {self.id} len={self.len} data_len={self.data_len} frags={self.shinfo.nr_frags}"
            f" headroom={self.data} truesize={self.truesize}{' cloned' if self.cloned else ''}>"
        )


# -- allocation ---------------------------------------------------------------------------


def _track(skb: SkBuff) -> SkBuff:
    skb_stats.allocs += 1
    skb_stats.live += 1
    _live[skb.id] = skb
    return skb


_TRUESIZE_OVERHEAD = SKB_TRUESIZE(0)


def _attach_head(skb: SkBuff, size: int) -> None:
    size = (size + SMP_CACHE_BYTES - 1) & ~(SMP_CACHE_BYTES - 1)  # SKB_DATA_ALIGN
    if size <= SKB_SMALL_HEAD_HEADROOM:  # kmalloc_reserve: skb_small_head_cache
        size = SKB_SMALL_HEAD_HEADROOM
    mem = _mem if _mem is not None else host_mem()
    skb.head = Head(mem.alloc(size + SIZEOF_SKB_SHARED_INFO, SMP_CACHE_BYTES), size)
    skb.end = size
    skb.truesize = size + _TRUESIZE_OVERHEAD  # SKB_TRUESIZE(size)


@traced
def alloc_skb(size: int) -> SkBuff:
    skb = SkBuff()
    # _attach_head and _track, inlined (every packet, both directions, comes through here).
    size = (size + SMP_CACHE_BYTES - 1) & ~(SMP_CACHE_BYTES - 1)  # SKB_DATA_ALIGN
    if size <= SKB_SMALL_HEAD_HEADROOM:  # kmalloc_reserve: skb_small_head_cache
        size = SKB_SMALL_HEAD_HEADROOM
    mem = _mem if _mem is not None else host_mem()
    skb.head = Head(mem.alloc(size + SIZEOF_SKB_SHARED_INFO, SMP_CACHE_BYTES), size)
    skb.end = size
    skb.truesize = size + _TRUESIZE_OVERHEAD  # SKB_TRUESIZE(size)
    skb_stats.allocs += 1
    skb_stats.live += 1
    _live[skb.id] = skb
    return skb


@traced
def alloc_skb_fclone(size: int) -> SkBuff:
    """An skb with a pre-allocated clone companion (TCP's data skbs)."""
    skb = alloc_skb(size)
    skb.fclone = _SKB_FCLONE_ORIG
    skb.fclone_ref = [1]
    return skb


def netdev_alloc_skb(length: int) -> SkBuff:
    skb = alloc_skb(length + NET_SKB_PAD)
    skb.skb_reserve(NET_SKB_PAD)
    return skb


def skb_fill_page_desc(skb: SkBuff, page: Page, offset: int, size: int) -> None:
    """Append a frag referencing `page` (the caller holds a page reference for it)."""
    if skb.shinfo.nr_frags >= MAX_SKB_FRAGS:
        raise RuntimeError("MAX_SKB_FRAGS exceeded")
    skb.shinfo.frags.append(SkbFrag(page, offset, size))


def skb_add_data_frag(skb: SkBuff, page: Page, offset: int, size: int, truesize: int) -> None:
    """skb_add_rx_frag-style: a frag plus the length/truesize accounting."""
    skb_fill_page_desc(skb, page, offset, size)
    skb.len += size
    skb.data_len += size
    skb.truesize += truesize


# -- clones and copies ------------------------------------------------------------------


def _copy_header_fields(n: SkBuff, o: SkBuff) -> None:
    n.data = o.data
    n.tail = o.tail
    n.end = o.end
    n.len = o.len
    n.data_len = o.data_len
    n.ip_summed = o.ip_summed
    n.csum_start = o.csum_start
    n.csum_offset = o.csum_offset
    n.csum = o.csum
    n.priority = o.priority
    n.queue_mapping = o.queue_mapping
    n.protocol = o.protocol
    n.mac_header = o.mac_header
    n.network_header = o.network_header
    n.transport_header = o.transport_header
    n.mac_len = o.mac_len
    n.dev = o.dev
    n.dst = o.dst
    n.pkt_type = o.pkt_type
    n.ignore_df = o.ignore_df
    n.tstamp = o.tstamp
    n.trace_tag = o.trace_tag
    n.cb = dict(o.cb)


@traced
def skb_clone(skb: SkBuff) -> SkBuff:
    """A new sk_buff sharing head and frags (dataref++); the fclone companion when free."""
    if skb.fclone == _SKB_FCLONE_ORIG and not skb.companion_in_use:
        n = SkBuff()
        n.fclone = _SKB_FCLONE_CLONE
        n.fclone_ref = skb.fclone_ref
        skb.fclone_ref[0] += 1  # type: ignore[index]  # fclone_ref = 2 (set with SKB_FCLONE_ORIG)
        skb.companion = n
        n.companion = skb
        skb.companion_in_use = True
        skb_stats.fclone_hits += 1
    else:
        n = SkBuff()
    _copy_header_fields(n, skb)
    n.head = skb.head
    n.shinfo = skb.shinfo
    n.truesize = skb.truesize
    n.nohdr = False
    skb.shinfo.dataref += 1
    skb.cloned = n.cloned = True
    skb_stats.clones += 1
    return _track(n)


def skb_still_in_host_queue(skb: SkBuff) -> bool:
    """TCP: is the fclone companion of this original still queued (qdisc/driver)?"""
    return skb.fclone == _SKB_FCLONE_ORIG and skb.companion_in_use


@traced
def pskb_copy(skb: SkBuff) -> SkBuff:
    """Copy the linear part into a private head; share the frags (page refs++)."""
    n = SkBuff()
    headroom = skb.data
    _attach_head(n, headroom + skb.headlen)
    n.data = headroom
    n.tail = headroom
    n.write_at(headroom, skb.linear_bytes())
    _copy_header_fields_keep_geometry(n, skb)
    n.tail = headroom + skb.headlen
    n.len = skb.len
    n.data_len = skb.data_len
    for f in skb.shinfo.frags:
        f.page.get_page()
        n.shinfo.frags.append(SkbFrag(f.page, f.offset, f.size))
    n.shinfo.gso_size, n.shinfo.gso_segs, n.shinfo.gso_type = skb.shinfo.gso_size, skb.shinfo.gso_segs, skb.shinfo.gso_type
    n.truesize += sum(f.size for f in skb.shinfo.frags)
    skb_stats.pskb_copies += 1
    skb_stats.copy_bytes += skb.headlen
    return _track(n)


def _copy_header_fields_keep_geometry(n: SkBuff, o: SkBuff) -> None:
    shift = n.data - o.data
    n.ip_summed = o.ip_summed
    n.csum_offset = o.csum_offset
    n.csum = o.csum
    n.priority = o.priority
    n.queue_mapping = o.queue_mapping
    n.protocol = o.protocol
    n.mac_len = o.mac_len
    n.dev = o.dev
    n.dst = o.dst
    n.pkt_type = o.pkt_type
    n.ignore_df = o.ignore_df
    n.tstamp = o.tstamp
    n.trace_tag = o.trace_tag
    v = o.mac_header
    n.mac_header = v + shift if v >= 0 else v
    v = o.network_header
    n.network_header = v + shift if v >= 0 else v
    v = o.transport_header
    n.transport_header = v + shift if v >= 0 else v
    v = o.csum_start
    n.csum_start = v + shift if v >= 0 else v
    n.cb = dict(o.cb)


@traced
def skb_copy(skb: SkBuff) -> SkBuff:
    """A private, linear copy of everything (headroom kept)."""
    n = SkBuff()
    headroom = skb.data
    _attach_head(n, headroom + skb.len)
    n.data = n.tail = headroom
    n.skb_put_data(skb.to_bytes())
    _copy_header_fields_keep_geometry(n, skb)
    n.shinfo.gso_size, n.shinfo.gso_segs, n.shinfo.gso_type = skb.shinfo.gso_size, skb.shinfo.gso_segs, skb.shinfo.gso_type
    skb_stats.skb_copies += 1
    skb_stats.copy_bytes += skb.len
    return _track(n)


@traced
def skb_cow_head(skb: SkBuff, headroom: int) -> int:
    """Make the header area writable (a driver about to edit headers): a private copy of
    the linear part when it is shared with a clone or the headroom is short
    (pskb_expand_head); the frags stay shared. Returns 0 (the allocation does not fail here)."""
    if not skb.skb_header_cloned() and skb.data >= headroom:
        return 0
    room = max(headroom, skb.data)
    linear = skb.linear_bytes()
    old_data = skb.data
    sh = skb.shinfo
    frags = [SkbFrag(f.page, f.offset, f.size) for f in sh.frags]
    for f in frags:
        f.page.get_page()
    gso = (sh.gso_size, sh.gso_segs, sh.gso_type)
    _release_data(skb)
    _attach_head(skb, room + len(linear))
    skb.data, skb.tail = room, room + len(linear)
    skb.write_at(room, linear)
    skb.shinfo = SkbSharedInfo(frags=frags, gso_size=gso[0], gso_segs=gso[1], gso_type=gso[2])
    skb.truesize += sum(f.size for f in frags)
    shift = room - old_data
    for name in ("mac_header", "network_header", "transport_header", "csum_start"):
        v = getattr(skb, name)
        if v >= 0:
            setattr(skb, name, v + shift)
    skb.cloned = skb.nohdr = False
    skb_stats.copy_bytes += len(linear)
    return 0


def __skb_header_release(skb: SkBuff) -> None:
    """The queued TCP original gives up its header area: nohdr=1, dataref = 1 + (1<<16)."""
    skb.nohdr = True
    skb.shinfo.dataref = 1 + (1 << SKB_DATAREF_SHIFT)


def skb_linearize(skb: SkBuff) -> None:
    """Pull all paged data into the linear area (new head; frags released)."""
    if not skb.data_len:
        return
    data = skb.to_bytes()
    headroom = skb.data
    _release_data(skb)
    _attach_head(skb, headroom + len(data))
    skb.data = headroom
    skb.tail = headroom + len(data)
    skb.write_at(headroom, data)
    skb.data_len = 0
    skb.shinfo = SkbSharedInfo(gso_size=0)
    skb.cloned = False
    skb_stats.copy_bytes += len(data)


# -- freeing ----------------------------------------------------------------------------


def _release_data(skb: SkBuff) -> None:
    """skb_release_data: drop one data reference; the last one frees pages and head."""
    sh = skb.shinfo
    if skb.nohdr:
        sh.dataref -= (1 << SKB_DATAREF_SHIFT) + 1
    else:
        sh.dataref -= 1
    if sh.dataref & SKB_DATAREF_MASK:
        return
    for f in sh.frags:
        f.page.put_page()
    sh.frags = []
    fl, sh.frag_list = sh.frag_list, None
    while fl is not None:
        nxt = fl.next
        fl.next = None
        kfree_skb(fl)
        fl = nxt
    if sh.destructor_arg is not None:
        cb, sh.destructor_arg = sh.destructor_arg, None
        cb(True)
    if skb.head is not None:
        (_mem if _mem is not None else host_mem()).free(skb.head.addr)


def skb_orphan(skb: SkBuff) -> None:
    if skb.destructor is not None:
        d, skb.destructor = skb.destructor, None
        d(skb)
    skb.sk = None


@traced
def kfree_skb(skb: SkBuff | None, reason: str = "") -> None:
    """Drop one user reference; the last frees (destructor, data, the sk_buff itself)."""
    if skb is None:
        return
    if skb.freed:
        raise RuntimeError(f"double free of skb {skb.id}")
    skb.users -= 1
    if skb.users:
        return
    if skb.destructor is not None:  # skb_orphan, inlined
        d, skb.destructor = skb.destructor, None
        d(skb)
    skb.sk = None
    if skb.head is not None:
        _release_data(skb)
    skb.freed = True
    skb_stats.frees += 1
    skb_stats.live -= 1
    _live.pop(skb.id, None)
    if skb.fclone == _SKB_FCLONE_CLONE and skb.companion is not None:
        orig = skb.companion
        orig.companion_in_use = False
        orig.fclone_ref[0] -= 1  # type: ignore[index]  # shared with the clone
    elif skb.fclone == _SKB_FCLONE_ORIG and skb.fclone_ref is not None:
        skb.fclone_ref[0] -= 1


def consume_skb(skb: SkBuff | None) -> None:
    """Free after successful use (no drop accounting)."""
    kfree_skb(skb, "consumed")


def napi_consume_skb(skb: SkBuff | None, budget: int) -> None:
    kfree_skb(skb, "consumed")  # consume_skb(skb), inlined (one per transmitted frame)


# -- checksums ----------------------------------------------------------------------------




@traced
def skb_checksum_help(skb: SkBuff) -> int:
    """Finish a CHECKSUM_PARTIAL checksum in software: sum [csum_start, end), store it."""
    if skb.ip_summed != CHECKSUM_PARTIAL:
        return 0
    data = skb.to_bytes()
    start = skb.csum_start - skb.data
    offset = start + skb.csum_offset
    if start < 0 or offset + 2 > skb.headlen:
        raise RuntimeError(f"skb_checksum_help: bad csum_start/offset {skb.csum_start}/{skb.csum_offset}")
    if skb.skb_header_cloned():
        raise RuntimeError("skb_checksum_help on a cloned header (needs skb_cow_head)")
    s = csum_partial(data[start:])
    skb_stats.csum_bytes += len(data) - start
    check = csum_fold(s)
    if check == 0 and skb.csum_offset == 6:  # UDP: 0 means "no checksum"
        check = 0xFFFF
    skb.write_at(skb.data + offset, check.to_bytes(2, "big"))
    skb.ip_summed = CHECKSUM_NONE
    return 0
