"""Frame loss on the wire between the NIC and the peer: deterministic and seeded.

Three rules, any of which drops a frame: every n-th eligible frame, a Bernoulli loss rate
from a `random.Random(seed)` (the same seed gives the same losses on every run, RTL or
model, because the peer sees frames in the same order), and an explicit predicate. An
`eligible` filter restricts which frames the rules count (e.g. only TCP data, so the
handshake and ARP are never lost).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass

from hilnic.wire.packets import ETH_P_IP, IPPROTO_TCP


@dataclass
class LossConfig:
    drop_every_nth: int = 0  # 0 = off; n drops eligible frames n, 2n, 3n, ...
    loss_rate: float = 0.0  # probability per eligible frame
    seed: int = 0
    predicate: Callable[[bytes, int], bool] | None = None  # (frame without FCS, eligible index) → drop
    eligible: Callable[[bytes], bool] | None = None  # None: every frame is eligible

    @property
    def active(self) -> bool:
        return bool(self.drop_every_nth or self.loss_rate or self.predicate)


class LossModel:
    def __init__(self, cfg: LossConfig) -> None:
        self.cfg = cfg
        self._rng = random.Random(cfg.seed)
        self.seen = 0  # eligible frames so far
        self.dropped = 0
        self.dropped_indices: list[int] = []  # 1-based eligible index of each dropped frame

    def should_drop(self, frame: bytes) -> bool:
        cfg = self.cfg
        if cfg.eligible is not None and not cfg.eligible(frame):
            return False
        self.seen += 1
        n = self.seen
        # Draw the random number for every eligible frame, so changing the other rules
        # does not shift which frames the rate drops.
        drop = cfg.loss_rate > 0 and self._rng.random() < cfg.loss_rate
        if cfg.drop_every_nth and n % cfg.drop_every_nth == 0:
            drop = True
        if cfg.predicate is not None and cfg.predicate(frame, n):
            drop = True
        if drop:
            self.dropped += 1
            self.dropped_indices.append(n)
        return drop


def tcp_data_only(frame: bytes) -> bool:
    """`eligible` filter: IPv4 TCP segments that carry payload (not SYN/pure ACK/ARP)."""
    if len(frame) < 54 or struct.unpack_from("!H", frame, 12)[0] != ETH_P_IP or frame[23] != IPPROTO_TCP:
        return False
    ihl = (frame[14] & 15) * 4
    tot = struct.unpack_from("!H", frame, 16)[0]
    doff = (frame[14 + ihl + 12] >> 4) * 4 if len(frame) > 14 + ihl + 12 else 0
    return tot - ihl - doff > 0


__all__ = ["LossConfig", "LossModel", "tcp_data_only"]
