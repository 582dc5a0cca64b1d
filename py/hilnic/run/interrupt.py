"""Stopping a run on SIGINT or SIGTERM.

Python turns SIGINT into KeyboardInterrupt but dies on SIGTERM without cleaning up; inside
`stop_signals()` both raise `Interrupted(signum)`, so one path stops the simulator's process
group (hilnic.cosim.sim.run_process_group), writes summary.json with status "interrupted"
and completes the pcap. `run()` re-raises it with the summary attached; the CLI exits
128 + signum (130, 143).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by signal `signum`; `summary` is what it had done (set by run())."""

    def __init__(self, signum: int = signal.SIGINT, summary: dict[str, Any] | None = None) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum
        self.summary = summary


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def signum_of(exc: BaseException) -> int:
    """The signal behind a KeyboardInterrupt (a plain one is SIGINT's)."""
    return getattr(exc, "signum", signal.SIGINT)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise Interrupted in the main thread for the block.

    Only the first: later ones while the run is stopping are ignored, so a second Ctrl-C
    cannot cut the (bounded) clean-up short and leave the simulator running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum: int, _frame: Any) -> None:
        if fired:
            return
        fired.append(signum)
        if _deferred is not None:  # at_event_boundaries(): the event loop stops at the next event
            _deferred.append(signum)
            return
        raise Interrupted(signum)

    saved = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


_deferred: list[int] | None = None


@contextlib.contextmanager
def at_event_boundaries() -> Iterator[list[int]]:
    """Inside `stop_signals()`, a signal is recorded in the yielded list instead of raising.

    A model run's event loop polls the list and stops between two events, so the run's
    counters, its pcap and its summary agree (a signal raised mid-callback could land between
    writing a frame and counting it). The caller raises Interrupted once the loop has stopped;
    a signal already pending on exit is raised here."""
    global _deferred
    saved, _deferred = _deferred, []
    pending = _deferred
    try:
        yield pending
    finally:
        _deferred = saved
    if pending:
        raise Interrupted(pending[0])


PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_ENV = "HILNIC_STOP_WITH_PARENT"  # a pid: `hilnic run` stops when that process ends


def stop_with_parent(parent: str | None = None, signum: int = signal.SIGTERM) -> bool:
    """Have the kernel send `signum` to this process when its parent ends (PR_SET_PDEATHSIG):
    a run started by a sweep's worker must not outlive it, however it ends (SIGKILL too).

    `parent` is the pid the caller expects as parent (default: $HILNIC_STOP_WITH_PARENT; none:
    nothing to do); if it is already gone, the signal is sent at once. False where prctl is
    not available (not Linux)."""
    parent = os.environ.get(PARENT_ENV, "") if parent is None else parent
    if not parent.isdigit():
        return False
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    except (OSError, AttributeError):
        return False
    if os.getppid() != int(parent):  # it ended before prctl took effect
        os.kill(os.getpid(), signum)
    return True


__all__ = ["PARENT_ENV", "STOP_SIGNALS", "Interrupted", "at_event_boundaries", "signal_name", "signum_of", "stop_signals",
           "stop_with_parent"]
