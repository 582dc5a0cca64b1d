"""Host DMA memory: allocator, mappings, IOMMU-style violations."""

import pytest

from hilnic.mm.hostmem import DmaDir, HostMemory


def test_alloc_free_coalesces_and_aligns():
    m = HostMemory(size=1 << 20)
    a = m.alloc(100, align=64)
    b = m.alloc(5000, align=4096)
    assert a % 64 == 0 and b % 4096 == 0 and b >= a + 100
    m.free(a)
    m.free(b)
    assert m.allocated == 0
    assert m.alloc(1 << 20, align=1) == m.base  # everything merged back into one block
    with pytest.raises(MemoryError):
        m.alloc(1)
    with pytest.raises(ValueError):
        m.free(12345)


def test_device_access_needs_a_live_mapping_in_the_right_direction():
    m = HostMemory(size=1 << 20)
    buf = m.alloc(256)
    m.write(buf, bytes(range(256)))
    assert m.dma_read(buf, 4) is None  # not mapped yet
    d = m.dma_map(buf, 256, DmaDir.TO_DEVICE)
    assert m.dma_read(d + 10, 4) == bytes([10, 11, 12, 13])
    assert m.dma_read(d + 250, 10) is None  # runs past the mapping
    assert m.dma_write(d, b"\xff") is False  # TO_DEVICE mapping: device may not write
    m.dma_unmap(d, 256)
    assert m.dma_read(d, 1) is None
    assert [v.kind for v in m.violations] == ["read", "read", "write", "read"]


def test_strobed_write_changes_only_enabled_bytes():
    m = HostMemory(size=1 << 20)
    ring = m.dma_alloc_coherent(4096)
    m.write(ring, b"\x11" * 16)
    assert m.dma_write(ring, b"\xaa" * 16, strobe=bytes(12) + b"\x01" + bytes(3))
    assert m.read(ring, 16) == b"\x11" * 12 + b"\xaa" + b"\x11" * 3
    assert m.bytes_written == 1
    m.dma_free_coherent(ring, 4096)
    assert m.live_mappings == [] and m.allocated == 0


def test_overlapping_mappings_are_tracked_separately():
    m = HostMemory(size=1 << 20)
    page = m.alloc(4096, align=4096)
    d1 = m.dma_map(page, 2000)
    d2 = m.dma_map(page + 1000, 3000)
    assert m.dma_read(page + 3500, 100) is not None  # only the second covers it
    m.dma_unmap(d2, 3000)
    assert m.dma_read(page + 3500, 100) is None
    assert m.dma_read(page + 100, 100) is not None
    m.dma_unmap(d1, 2000)
    with pytest.raises(ValueError):
        m.dma_unmap(d1, 2000)
