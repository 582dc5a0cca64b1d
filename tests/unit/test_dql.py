"""lib/dynamic_queue_limits.c: expected values worked by hand from the C source."""

import errno

import pytest

from hilnic.lib.dynamic_queue_limits import DQL_MAX_LIMIT, DQL_MAX_OBJECT, UINT_MAX, Dql


class Clock:
    def __init__(self) -> None:
        self.jiffies = 0


def fresh(hold: int = 1000) -> tuple[Dql, Clock]:
    c = Clock()
    return Dql(c, hold), c


def test_reset_state_matches_dql_init():
    d, _ = fresh()
    assert (d.limit, d.min_limit, d.max_limit) == (0, 0, DQL_MAX_LIMIT)
    assert d.slack_hold_time == 1000  # HZ jiffies = 1 s
    assert d.lowest_slack == UINT_MAX
    assert d.dql_avail() == 0 and d.inflight == 0
    assert DQL_MAX_LIMIT == (0xFFFFFFFF // 2) - (0xFFFFFFFF // 16)


def test_first_packet_goes_over_limit_then_starvation_grows_limit():
    d, _ = fresh()
    d.dql_queued(1000)
    assert d.dql_avail() == -1000 and d.inflight == 1000
    d.dql_completed(1000)  # over the limit and now empty: starved
    assert d.limit == 1000
    assert d.adj_limit == 2000  # limit + completed
    assert d.dql_avail() == 1000
    assert d.prev_ovlimit == 0  # reset because the limit changed
    assert d.inflight == 0

    for _ in range(3):
        d.dql_queued(1000)
    assert d.dql_avail() == -2000
    d.dql_completed(3000)  # ovlimit 2000, nothing left: += completed - prev_num_queued
    assert d.limit == 4000
    assert d.adj_limit == 8000


def test_starvation_via_previous_overlimit():
    d, _ = fresh()
    d.dql_queued(1000)
    d.dql_completed(1000)  # limit 1000
    d.dql_queued(2500)
    d.dql_completed(1000)  # still 1500 in flight: no change, but remember the over-limit
    assert d.limit == 1000 and d.prev_ovlimit == 1500 and d.adj_limit == 3000
    d.dql_queued(500)
    d.dql_completed(1500)  # all of the previous interval completed, prev_ovlimit set → starved
    assert d.limit == 2500  # += POSDIFF(3500, 3500) + 1500
    assert d.adj_limit == 6000


def test_slack_shrinks_limit_only_after_hold_time():
    d, c = fresh()
    d.limit = 10000  # sysfs write
    d.dql_queued(3000)
    d.dql_completed(1000)  # no previous interval in progress: nothing to learn
    assert d.limit == 10000 and d.lowest_slack == UINT_MAX

    c.jiffies = 500
    d.dql_queued(1000)
    d.dql_completed(1000)  # busy all interval: slack = 10000 - 2*1000
    assert d.lowest_slack == 8000 and d.limit == 10000

    c.jiffies = 1000  # exactly hold_time: time_after() is still false
    d.dql_queued(1000)
    d.dql_completed(1000)
    assert d.limit == 10000 and d.lowest_slack == 8000

    c.jiffies = 1001
    d.dql_queued(1000)
    d.dql_completed(1000)
    assert d.limit == 2000  # 10000 - lowest slack 8000
    assert d.slack_start_time == 1001 and d.lowest_slack == UINT_MAX
    assert d.adj_limit == 2000 + d.num_completed


def test_limit_clamped_to_min_and_max():
    d, _ = fresh()
    d.limit_max = 1500
    for _ in range(3):
        d.dql_queued(1000)
    d.dql_completed(3000)
    assert d.limit == 1500
    d.limit_min = 5000
    d.dql_reset()  # reset starts from min_limit
    assert d.limit == 5000
    with pytest.raises(OSError) as e:
        d.limit_max = DQL_MAX_LIMIT + 1
    assert e.value.errno == errno.EINVAL


def test_reset_keeps_stale_adj_limit_like_linux():
    d, _ = fresh()
    d.dql_queued(1000)
    d.dql_completed(1000)
    d.dql_reset()
    # dql_reset() does not touch adj_limit: until the next completion avail is the old one.
    assert d.limit == 0 and d.num_queued == 0 and d.adj_limit == 2000
    assert d.dql_avail() == 2000


def test_oversized_object_ignored_and_overcompletion_is_a_bug():
    d, _ = fresh()
    d.dql_queued(DQL_MAX_OBJECT + 1)
    assert d.num_queued == 0
    d.dql_queued(100)
    with pytest.raises(RuntimeError):
        d.dql_completed(101)
