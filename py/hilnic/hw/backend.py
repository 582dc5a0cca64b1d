"""The NIC as the driver and the wire see it, whichever implements it.

Two implementations: the behavioral model (`hw/model.py`, virtual time) and the cocotb
bridge to the RTL (`cosim/bridge.py`, simulator time). The driver only calls `writel` (posted,
ordered, returns at once: the doorbell is one) and `readl` (awaited: stalls the caller).
The kernel's CPU registers `on_irq` to follow the level-sensitive interrupt line. Frames
leaving the MAC are handed, one whole frame per call, to every `on_frame` subscriber.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hilnic.mm.hostmem import HostMemory


@dataclass(frozen=True)
class WireFrame:
    """One frame as it left the MAC on XGMII."""

    data: bytes  # destination MAC .. end of FCS (no preamble/SFD)
    t_start: int  # ps: start character on the wire
    t_end: int  # ps: terminate character on the wire
    fcs_ok: bool  # CRC-32 over data[:-4] equals data[-4:]
    index: int = 0  # 0-based order on the wire


class NicBackend(ABC):
    """A NIC per docs/nic.md as seen from software and from the wire."""

    mem: HostMemory

    def __init__(self) -> None:
        self.irq_listeners: list[Callable[[bool], None]] = []
        self.frame_listeners: list[Callable[[WireFrame], None]] = []
        self.irq_level = False

    @abstractmethod
    def writel(self, offset: int, value: int) -> None:
        """Posted 32-bit MMIO write; ordered with every other MMIO access."""

    @abstractmethod
    async def readl(self, offset: int) -> int:
        """32-bit MMIO read; completes after all earlier posted writes."""

    def on_irq(self, fn: Callable[[bool], None]) -> None:
        self.irq_listeners.append(fn)

    def on_frame(self, fn: Callable[[WireFrame], None]) -> None:
        self.frame_listeners.append(fn)

    def _set_irq(self, level: bool) -> None:
        if level != self.irq_level:
            self.irq_level = level
            for fn in self.irq_listeners:
                fn(level)

    def _emit_frame(self, frame: WireFrame) -> None:
        for fn in self.frame_listeners:
            fn(frame)

    def stats(self) -> dict[str, Any]:
        """Backend-specific counters (for reports); optional."""
        return {}
