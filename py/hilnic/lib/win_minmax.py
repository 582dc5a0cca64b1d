"""Windowed min/max tracker (lib/win_minmax.c, Kathleen Nichols' algorithm): the best, second
best and third best samples of a window, so the estimate ages out in O(1) per sample.

BBR keeps its bottleneck bandwidth in one (a max over 10 packet-timed rounds); times and
values are u32 as in the kernel.
"""

from __future__ import annotations

U32 = 0xFFFFFFFF


class Minmax:
    """struct minmax: s[0..2] = (t, v) of the best, 2nd best and 3rd best samples."""

    __slots__ = ("s",)

    def __init__(self) -> None:
        self.s: list[tuple[int, int]] = [(0, 0), (0, 0), (0, 0)]


def minmax_get(m: Minmax) -> int:
    return m.s[0][1]


def minmax_reset(m: Minmax, t: int, meas: int) -> int:
    m.s[0] = m.s[1] = m.s[2] = (t, meas)
    return meas


def minmax_subwin_update(m: Minmax, win: int, t: int, meas: int) -> int:
    """As time goes by, the best sample is replaced by the 2nd and 3rd best."""
    s = m.s
    dt = (t - s[0][0]) & U32
    if dt > win:
        # Passed the window without a new best: the 2nd best becomes the best, and so on.
        s[0] = s[1]
        s[1] = s[2]
        s[2] = (t, meas)
        if ((t - s[0][0]) & U32) > win:
            s[0] = s[1]
            s[1] = s[2]
            s[2] = (t, meas)
    elif s[1][0] == s[0][0] and dt > win // 4:
        # A quarter of the window has passed with no 2nd best: take one.
        s[2] = s[1] = (t, meas)
    elif s[2][0] == s[1][0] and dt > win // 2:
        # Half the window has passed with no 3rd best: take one.
        s[2] = (t, meas)
    return s[0][1]


def minmax_running_max(m: Minmax, win: int, t: int, meas: int) -> int:
    """Check if a new measurement updates the 1st, 2nd or 3rd choice max."""
    s = m.s
    if meas >= s[0][1] or ((t - s[2][0]) & U32) > win:  # found a new max, or nothing left in the window
        return minmax_reset(m, t, meas)
    if meas >= s[1][1]:
        s[2] = s[1] = (t, meas)
    elif meas >= s[2][1]:
        s[2] = (t, meas)
    return minmax_subwin_update(m, win, t, meas)


def minmax_running_min(m: Minmax, win: int, t: int, meas: int) -> int:
    """Check if a new measurement updates the 1st, 2nd or 3rd choice min."""
    s = m.s
    if meas <= s[0][1] or ((t - s[2][0]) & U32) > win:
        return minmax_reset(m, t, meas)
    if meas <= s[1][1]:
        s[2] = s[1] = (t, meas)
    elif meas <= s[2][1]:
        s[2] = (t, meas)
    return minmax_subwin_update(m, win, t, meas)


__all__ = ["Minmax", "minmax_get", "minmax_reset", "minmax_running_max", "minmax_running_min"]
