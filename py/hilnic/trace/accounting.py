"""The copy accounting of docs/linux-tx-path.md ("Copies"), from `hilnic.net.core.skbuff.skb_stats`."""

from __future__ import annotations

from typing import Any

from hilnic.trace._access import num


def copy_accounting(stats: Any) -> str:
    """Where the transmit path copied memory, at its three points plus checksums.

    1. user → kernel: every byte written is copied once into the socket's page frags;
    2. for retransmission the skb is cloned (shallow: new sk_buff, shared data; usually the
       fclone companion); pskb_copy/skb_copy are the deep cases;
    3. above the MTU, extra skbs are made (IP fragmentation slow path, software GSO).
    Software checksum bytes are the bytes summed by the CPU instead of the NIC.
    """
    g = lambda name: num(stats, name)  # noqa: E731
    clones, fc = g("clones"), g("fclone_hits")
    rows = [
        ("1. user -> kernel copy", f"{g('user_copy_bytes')} bytes"),
        ("2. shallow clones (skb_clone)", f"{clones} (fclone companion {fc}, new sk_buff {clones - fc})"),
        ("   pskb_copy (header copied, frags shared)", str(g("pskb_copies"))),
        ("   skb_copy (everything copied)", str(g("skb_copies"))),
        ("   bytes copied by the copies", f"{g('copy_bytes')} bytes"),
        ("3. extra skbs for fragments/segments", str(g("frag_skbs"))),
        ("software checksum", f"{g('csum_bytes')} bytes"),
        ("skbs allocated / freed / live", f"{g('allocs')} / {g('frees')} / {g('live')}"),
    ]
    w = max(len(k) for k, _ in rows)
    return "copy accounting\n" + "".join(f"  {k:<{w}}  {v}\n" for k, v in rows)


__all__ = ["copy_accounting"]
