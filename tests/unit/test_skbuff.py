"""sk_buff geometry, clones, copies, page refcounts and software checksums."""

import pytest
from scapy.layers.inet import IP, TCP

from hilnic.lib.checksum import csum_fold, csum_partial
from hilnic.mm.hostmem import HostMemory
from hilnic.net.core.skbuff import (
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    MAX_SKB_FRAGS,
    SKB_DATAREF_SHIFT,
    Page,
    __skb_header_release,
    alloc_skb,
    alloc_skb_fclone,
    kfree_skb,
    live_skbs,
    pskb_copy,
    skb_add_data_frag,
    skb_checksum_help,
    skb_clone,
    skb_copy,
    skb_fill_page_desc,
    skb_init,
    skb_stats,
    skb_still_in_host_queue,
)


@pytest.fixture
def mem():
    m = HostMemory(size=4 << 20)
    skb_init(m)
    return m


def tcp_like_skb(payload: bytes):
    """An fclone skb shaped like TCP's: empty linear area, payload in a page frag."""
    skb = alloc_skb_fclone(320)
    skb.skb_reserve(320)
    page = Page(32768)
    page.write(0, payload)
    skb_add_data_frag(skb, page, 0, len(payload), len(payload))
    return skb, page


def test_geometry_push_pull_put(mem):
    skb = alloc_skb(256)
    skb.skb_reserve(64)
    skb.skb_put_data(b"payload")
    skb.skb_push(4)
    skb.write_at(skb.data, b"HDR:")
    assert skb.linear_bytes() == b"HDR:payload" and skb.len == 11 and skb.skb_headroom() == 60
    skb.skb_pull(4)
    assert skb.to_bytes() == b"payload"
    with pytest.raises(RuntimeError, match="under_panic"):
        skb.skb_push(65)
    with pytest.raises(RuntimeError, match="over_panic"):
        skb.skb_put(10_000)
    kfree_skb(skb)
    assert mem.allocated == 0 and live_skbs() == []


def test_fclone_clone_shares_data_and_header_release_allows_push(mem):
    skb, page = tcp_like_skb(b"x" * 1000)
    __skb_header_release(skb)
    assert skb.shinfo.dataref == 1 + (1 << SKB_DATAREF_SHIFT)
    clone = skb_clone(skb)
    assert clone.shinfo is skb.shinfo and skb_stats.fclone_hits == 1
    assert not clone.skb_header_cloned()  # the original gave up the header area
    assert skb_still_in_host_queue(skb)
    clone.skb_push(20)
    clone.write_at(clone.data, b"H" * 20)
    assert clone.to_bytes() == b"H" * 20 + b"x" * 1000
    kfree_skb(clone)
    assert not skb_still_in_host_queue(skb) and page.refcount == 1
    second = skb_clone(skb)  # companion free again: reused
    assert skb_stats.fclone_hits == 2
    kfree_skb(second)
    kfree_skb(skb)
    assert page.refcount == 0 and mem.allocated == 0 and skb_stats.live == 0


def test_pskb_copy_copies_head_shares_frags_skb_copy_copies_all(mem):
    skb, page = tcp_like_skb(bytes(range(200)))
    skb.skb_push(40)
    skb.write_at(skb.data, b"h" * 40)
    p = pskb_copy(skb)
    assert p.head is not skb.head and p.shinfo.frags[0].page is page and page.refcount == 2
    assert p.to_bytes() == skb.to_bytes()
    c = skb_copy(skb)
    assert c.data_len == 0 and c.to_bytes() == skb.to_bytes()
    assert skb_stats.pskb_copies == 1 and skb_stats.skb_copies == 1
    assert skb_stats.copy_bytes == 40 + 240
    for s in (p, c, skb):
        kfree_skb(s)
    assert mem.allocated == 0


def test_double_free_and_too_many_frags_are_errors(mem):
    skb = alloc_skb(64)
    kfree_skb(skb)
    with pytest.raises(RuntimeError, match="double free"):
        kfree_skb(skb)
    skb = alloc_skb(64)
    page = Page()
    for _ in range(MAX_SKB_FRAGS):
        skb_fill_page_desc(skb, page, 0, 1)
    with pytest.raises(RuntimeError, match="MAX_SKB_FRAGS"):
        skb_fill_page_desc(skb, page, 0, 1)


def test_csum_partial_matches_rfc1071_example():
    # RFC 1071 §3 example words 0001 f203 f4f5 f6f7 sum to 0xddf2 (folded).
    assert csum_partial(bytes.fromhex("0001f203f4f5f6f7")) == 0xDDF2
    assert csum_fold(0xDDF2) == 0x220D
    assert csum_partial(b"\x01") == 0x0100  # odd byte padded on the right


def test_skb_checksum_help_produces_a_checksum_scapy_accepts(mem):
    pkt = IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80, seq=7, flags="PA") / (b"hello world!" * 50)
    raw = bytes(pkt)
    ihl = 20
    # Leave the checksum field holding the pseudo-header sum, as tcp_v4_send_check does.
    tcp_len = len(raw) - ihl
    pseudo = bytes.fromhex("0a000001" "0a000002") + bytes([0, 6]) + tcp_len.to_bytes(2, "big")
    partial = csum_partial(pseudo).to_bytes(2, "big")
    raw = raw[: ihl + 16] + partial + raw[ihl + 18 :]
    skb = alloc_skb(len(raw) + 64)
    skb.skb_reserve(64)
    skb.skb_put_data(raw)
    skb.ip_summed = CHECKSUM_PARTIAL
    skb.csum_start = skb.data + ihl
    skb.csum_offset = 16
    skb_checksum_help(skb)
    assert skb.ip_summed == CHECKSUM_NONE
    out = IP(skb.to_bytes())
    assert out[TCP].chksum == IP(bytes(pkt))[TCP].chksum  # scapy computes it independently
    assert skb_stats.csum_bytes == tcp_len
    kfree_skb(skb)
