"""Unit-test hygiene shared by every test in tests/unit."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _collect_abandoned_coroutines() -> Iterator[None]:
    """A test that fails while a kernel task is suspended (e.g. in tcp_sendmsg) leaves its
    coroutine behind; collected later, during another test, its `finally` (release_sock) would
    free into that test's host memory. Collect it while its own test is still the current one."""
    yield
    gc.collect()
