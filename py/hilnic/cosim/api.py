"""What code running inside the simulator uses of cocotb, for modules outside hilnic.cosim.

The simulator-side entry modules (hilnic.run.rtl_main, hilnic.bench.tb_*, hilnic.demo.hw_demo)
and the cocotb benches under tests/ declare their tests and wait with these; only hilnic.cosim
imports cocotb (pyproject.toml's "Only cosim touches cocotb" contract).

    @rtl_test(timeout_us=200)
    async def test_one_frame(dut): ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.task import Task
from cocotb.triggers import Event, FallingEdge, SimTimeoutError, with_timeout

_T = TypeVar("_T")


def rtl_test(timeout_us: float | None = 1000.0, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """`@cocotb.test` with a simulated-time bound (default 1 ms; None: unbounded): past it,
    the test fails with SimTimeoutError. Other keyword arguments go to cocotb.test."""
    if timeout_us is None:
        return cocotb.test(**kwargs)
    return cocotb.test(timeout_time=timeout_us, timeout_unit="us", **kwargs)


async def with_sim_timeout(awaitable: Awaitable[_T], timeout_us: float, what: str = "operation") -> _T:
    """Await `awaitable`; fail with AssertionError("<what> did not finish within N us of
    simulated time") if it takes longer."""
    try:
        return await with_timeout(awaitable, timeout_us, "us")
    except SimTimeoutError:
        raise AssertionError(f"{what} did not finish within {timeout_us} us of simulated time") from None


def sim_time_ps() -> int:
    """Simulator time in ps."""
    return int(get_sim_time("ps"))


def start_soon(coro: Coroutine[Any, Any, _T]) -> Task[_T]:
    """Run `coro` as a cocotb task (from the next event-loop step)."""
    return cocotb.start_soon(coro)


__all__ = ["Event", "FallingEdge", "rtl_test", "sim_time_ps", "start_soon", "with_sim_timeout"]
