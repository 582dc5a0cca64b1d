"""Dynamic queue limits: byte queue limits (BQL) per TX queue (lib/dynamic_queue_limits.c).

A port of Linux 6.9's algorithm. The driver reports bytes it posted (`dql_queued`) and
bytes the hardware finished (`dql_completed`); the limit grows when the queue starved
(it was over the limit, then ran empty before the completion came) and shrinks by the
smallest slack seen once the queue has been busy for `slack_hold_time` jiffies (1 s).

The C code works on unsigned 32-bit counters compared through signed differences; Python's
unbounded integers give the same results as long as a run does not move 2 GiB between
completions, so no wrap-around is modelled.

Not modelled: the 6.9 stall detector (`stall_thrs` is 0 by default, which disables it).
"""

from __future__ import annotations

import errno
from typing import Protocol

UINT_MAX = 0xFFFF_FFFF
DQL_MAX_OBJECT = UINT_MAX // 16
DQL_MAX_LIMIT = (UINT_MAX // 2) - DQL_MAX_OBJECT


class _Clock(Protocol):
    @property
    def jiffies(self) -> int: ...


def POSDIFF(a: int, b: int) -> int:
    return a - b if a > b else 0


class Dql:
    """struct dql. `limit`, `inflight`, `limit_min`, `limit_max`, `hold_time` mirror
    /sys/class/net/<dev>/queues/tx-N/byte_queue_limits/."""

    __slots__ = (
        "clock", "num_queued", "adj_limit", "last_obj_cnt", "limit", "num_completed",
        "prev_ovlimit", "prev_num_queued", "prev_last_obj_cnt", "lowest_slack",
        "slack_start_time", "max_limit", "min_limit", "slack_hold_time",
    )

    def __init__(self, clock: _Clock, hold_time: int) -> None:
        """dql_init: `clock.jiffies` is read for the slack timing; hold_time in jiffies."""
        self.clock = clock
        self.adj_limit = 0  # the struct is zeroed at allocation; dql_reset leaves it alone
        self.max_limit = DQL_MAX_LIMIT
        self.min_limit = 0
        self.slack_hold_time = hold_time
        self.dql_reset()

    def dql_reset(self) -> None:
        """Reset the dynamic values: the limit restarts at limit_min (0 by default, so a new
        queue stops after its first packet until the first completion), as mainline since
        commit 3a17f23f7c36 "dql: Fix dql->limit value when reset" (6.15; before it, 0).
        adj_limit is left alone, so a reset queue takes a first burst up to the old limit."""
        self.limit = self.min_limit
        self.num_queued = 0
        self.num_completed = 0
        self.last_obj_cnt = 0
        self.prev_num_queued = 0
        self.prev_last_obj_cnt = 0
        self.prev_ovlimit = 0
        self.lowest_slack = UINT_MAX
        self.slack_start_time = self.clock.jiffies

    def dql_queued(self, count: int) -> None:
        """Record `count` bytes handed to the hardware."""
        if count > DQL_MAX_OBJECT:  # WARN_ON_ONCE and ignore, as Linux
            return
        self.last_obj_cnt = count
        self.num_queued += count

    def dql_avail(self) -> int:
        """Bytes that may still be queued before the limit (negative: over the limit)."""
        return self.adj_limit - self.num_queued

    def dql_completed(self, count: int) -> None:
        """Record `count` completed bytes and recompute the limit."""
        num_queued = self.num_queued
        if count > num_queued - self.num_completed:
            raise RuntimeError(f"dql_completed({count}) with only {num_queued - self.num_completed} in flight (BUG_ON)")
        completed = self.num_completed + count
        limit = self.limit
        ovlimit = POSDIFF(num_queued - self.num_completed, limit)
        inprogress = num_queued - completed
        prev_inprogress = self.prev_num_queued - self.num_completed
        all_prev_completed = completed >= self.prev_num_queued

        if (ovlimit and not inprogress) or (self.prev_ovlimit and all_prev_completed):
            # Starved: over the limit last interval and now empty. Grow by what was both
            # queued and completed in the interval, plus the previous over-limit.
            limit += POSDIFF(completed, self.prev_num_queued) + self.prev_ovlimit
            self.slack_start_time = self.clock.jiffies
            self.lowest_slack = UINT_MAX
        elif inprogress and prev_inprogress and not all_prev_completed:
            # Busy the whole interval: track the smallest slack, give it back after hold_time.
            slack = POSDIFF(limit + self.prev_ovlimit, 2 * (completed - self.num_completed))
            slack_last_objs = POSDIFF(self.prev_last_obj_cnt, self.prev_ovlimit) if self.prev_ovlimit else 0
            slack = max(slack, slack_last_objs)
            if slack < self.lowest_slack:
                self.lowest_slack = slack
            now = self.clock.jiffies
            if now > self.slack_start_time + self.slack_hold_time:  # time_after
                limit = POSDIFF(limit, self.lowest_slack)
                self.slack_start_time = now
                self.lowest_slack = UINT_MAX

        limit = min(max(limit, self.min_limit), self.max_limit)
        if limit != self.limit:
            self.limit = limit
            ovlimit = 0

        self.adj_limit = limit + completed
        self.prev_ovlimit = ovlimit
        self.prev_last_obj_cnt = self.last_obj_cnt
        self.num_completed = completed
        self.prev_num_queued = num_queued

    # -- sysfs byte_queue_limits ------------------------------------------------------------

    @property
    def inflight(self) -> int:
        return self.num_queued - self.num_completed

    @property
    def limit_min(self) -> int:
        return self.min_limit

    @limit_min.setter
    def limit_min(self, value: int) -> None:
        self._check_limit(value)
        self.min_limit = value  # bql_set: takes effect at the next completion or reset

    @property
    def limit_max(self) -> int:
        return self.max_limit

    @limit_max.setter
    def limit_max(self, value: int) -> None:
        self._check_limit(value)
        self.max_limit = value

    @property
    def hold_time(self) -> int:
        """In ms (sysfs); one jiffy is 1 ms at HZ=1000."""
        return self.slack_hold_time

    @hold_time.setter
    def hold_time(self, ms: int) -> None:
        if ms < 0:
            raise OSError(errno.EINVAL, "hold_time must be >= 0")
        self.slack_hold_time = ms

    @staticmethod
    def _check_limit(value: int) -> None:
        if not 0 <= value <= DQL_MAX_LIMIT:
            raise OSError(errno.EINVAL, f"BQL limit {value} outside 0..{DQL_MAX_LIMIT}")

    def __repr__(self) -> str:
        return f"<dql limit={self.limit} inflight={self.inflight} avail={self.dql_avail()}>"


__all__ = ["DQL_MAX_LIMIT", "DQL_MAX_OBJECT", "POSDIFF", "Dql"]
