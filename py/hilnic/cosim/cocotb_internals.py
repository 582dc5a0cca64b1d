"""Every use of cocotb's private API in hilnic, in this one module.

Why internals at all:

* Raw simulator callbacks. The bridge's service loops (`RawValueWake`) and CocotbEnv's timers
  are GPI callbacks registered straight with `cocotb.simulator`: no cocotb task, trigger or
  event-loop round per wake. For cocotb tasks woken inside such a callback (Events it sets)
  to run before it returns, as they would from a trigger, the callback marks itself as the
  current GPI trigger (`cocotb._gpi_triggers._current_gpi_trigger`, a timed one: not
  ReadWrite/ReadOnly, where cocotb would apply or refuse signal writes differently) and runs
  cocotb's event loop (`cocotb._event_loop._inst`) when it has work.
* Raw handles. Signal values move through the GPI object under a cocotb handle
  (`handle._handle`: deposit, no cocotb scheduling; ~1/4 the cost of `handle.value`).
* The runner (cocotb_tools.runner). hilnic.cosim.sim edits the build command (Verilator make
  variables, VPI visibility), runs the runner's commands itself (each in a process group of
  its own, stopped as a whole on Ctrl-C or past a wall-clock bound) and sets the simulator's
  PYTHONPATH, all through private methods of the runner.

pyproject.toml pins cocotb>=2.1,<2.2 for these. `INTERNALS` lists each name used here;
tests/unit/test_cocotb_internals.py checks them against the installed cocotb (no simulator
needed) and fails naming the one that changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cocotb.simulator import sim_callback, sim_obj
    from cocotb_tools.runner import Runner

# -- the inventory ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Internal:
    """One private cocotb name this module relies on.

    kind: "attribute" (must exist), "callable" (its leading parameters named `params`),
    "assigns" (the callable's source assigns or sets each of `params`, e.g. an instance
    attribute made in __init__)."""

    module: str
    name: str  # dotted inside `module`
    kind: str
    params: tuple[str, ...] = ()
    why: str = ""


INTERNALS: tuple[Internal, ...] = (
    # raw callbacks: cocotb's event loop and current trigger
    Internal("cocotb._event_loop", "_inst", "attribute", why="cocotb's event loop"),
    Internal("cocotb._event_loop", "_inst._callbacks", "attribute", why="work pending on the loop"),
    Internal("cocotb._event_loop", "EventLoop.run", "callable", ("self",), "run the loop from a raw callback"),
    Internal("cocotb._event_loop", "EventLoop.schedule", "callable", ("self", "func"), "a timer due now"),
    Internal("cocotb._gpi_triggers", "_current_gpi_trigger", "attribute", why="what a raw callback runs as"),
    Internal("cocotb._gpi_triggers", "Timer", "callable", ("time", "unit"), "the trigger a raw callback poses as"),
    # raw callbacks: the simulator module
    Internal("cocotb.simulator", "register_value_change_callback", "callable", ("signal", "func", "edge"),
             "RawValueWake"),
    Internal("cocotb.simulator", "VALUE_CHANGE", "attribute", why="RawValueWake's edge"),
    Internal("cocotb.simulator", "register_timed_callback", "callable", ("time", "func"), "CocotbEnv's timers"),
    Internal("cocotb.simulator", "get_sim_time", "callable", (), "CocotbEnv.now"),
    Internal("cocotb.simulator", "get_precision", "callable", (), "CocotbEnv's ps per step"),
    Internal("cocotb.simulator", "sim_callback.deregister", "callable", ("self",), "re-arming"),
    # raw handles
    Internal("cocotb.handle", "SimHandleBase.__init__", "assigns", ("self._handle", "self._path"),
             "raw_handle, handle_names"),
    Internal("cocotb.handle", "SimHandleBase._name", "attribute", why="handle_names"),
    Internal("cocotb.simulator", "sim_obj.get_signal_val_binstr", "callable", ("self",), "raw_int"),
    Internal("cocotb.simulator", "sim_obj.set_signal_val_int", "callable", ("self", "action", "value"),
             "raw deposits"),
    Internal("cocotb.simulator", "sim_obj.set_signal_val_binstr", "callable", ("self", "action", "value"),
             "raw deposits of wide values"),
    Internal("cocotb.simulator", "sim_obj.get_num_elems", "callable", ("self",), "swsignals' register widths"),
    # the runner
    Internal("cocotb_tools.runner", "Runner._build_command", "callable", ("self",), "edit_build_command"),
    Internal("cocotb_tools.runner", "Runner._execute_cmds", "callable", ("self", "cmds", "cwd", "stdout"),
             "run_commands_with"),
    Internal("cocotb_tools.runner", "Runner.__init__", "assigns", ("self.env",), "run_commands_with: the commands' environment"),
    Internal("cocotb_tools.runner", "Runner._set_env_test", "callable", ("self",), "set_test_pythonpath"),
    Internal("cocotb_tools.runner", "Runner._set_env_common", "assigns", ('self.env["PYTHONPATH"]',),
             "set_test_pythonpath overrides it"),
)

# -- raw handles ------------------------------------------------------------------------------

_XZ = str.maketrans("xzXZuUwWlLhH-", "0000000000010")


def raw_handle(signal: Any) -> sim_obj:
    """The GPI object under a cocotb handle (get_/set_signal_val_* act on it at once)."""
    return signal._handle


def handle_names(signal: Any) -> list[str]:
    """The handle's full path and its name (for a lookup by name through VPI)."""
    out = []
    for attr in ("_path", "_name"):
        try:
            out.append(str(getattr(signal, attr)))
        except Exception:
            continue
    return out


def raw_int(h: sim_obj) -> int:
    """Value of a raw handle as an unsigned int (X/Z read as 0)."""
    s = h.get_signal_val_binstr()
    try:
        return int(s, 2)
    except ValueError:
        return int(s.translate(_XZ), 2)


def raw_put(h: sim_obj, value: int, width: int) -> None:
    """Deposit `value` on a raw handle now (the HDL samples it at the next clock edge)."""
    if width <= 32:
        h.set_signal_val_int(0, value)
    else:
        h.set_signal_val_binstr(0, format(value, f"0{width}b"))


# -- raw simulator callbacks ------------------------------------------------------------------

_gt: Any = None  # cocotb._gpi_triggers, once a simulator runs
_RAW_TRIGGER: Any = None
_loop: Any = None  # cocotb._event_loop._inst


def _raw_setup() -> Any:
    """cocotb's event loop, after binding what raw simulator callbacks need."""
    global _gt, _RAW_TRIGGER, _loop
    if _gt is None:
        import cocotb._event_loop
        import cocotb._gpi_triggers

        _gt = cocotb._gpi_triggers
        # a timed callback (see the module's docstring)
        _RAW_TRIGGER = _gt.Timer(1, "step")
        _loop = cocotb._event_loop._inst
    return _loop


def raw_timer_api() -> tuple[Callable[[], tuple[int, int]], Callable[..., sim_callback], int]:
    """(get_sim_time, register_timed_callback, precision) of the running simulator: time as
    (high, low) 32-bit words of steps, a one-shot timed callback `steps` from now (its handle
    has deregister(); never deregister one that has fired), and 10**precision s per step."""
    from cocotb import simulator

    return simulator.get_sim_time, simulator.register_timed_callback, simulator.get_precision()


def raw_callback(fn: Callable[[], object]) -> Callable[[], None]:
    """`fn` as a raw simulator callback: cocotb tasks it wakes run before it returns."""
    loop = _raw_setup()
    gt, trigger = _gt, _RAW_TRIGGER

    def callback() -> None:
        gt._current_gpi_trigger = trigger
        fn()
        if loop._callbacks:
            loop.run()

    return callback


def soon_scheduler() -> Callable[[Callable[[], object]], object]:
    """schedule(fn): run `fn` from cocotb's event loop before the current simulator callback
    returns (the loop's bound `schedule`)."""
    return _raw_setup().schedule


class RawValueWake:
    """`fn()` on every value change of `signal`, called straight from the simulator's callback:
    no cocotb task, trigger or event-loop round per wake (the bridge's service loops).

    GPI value-change callbacks are one-shot, so it is re-armed after each call (a fired
    callback must never be deregistered). cocotb tasks that `fn` wakes (Events it sets) run
    before the simulator callback returns, as they would from a cocotb trigger. If `fn`
    raises, the wake stops and a cocotb task re-raises the exception, which fails the test as
    a failing service task would."""

    __slots__ = ("_h", "_fn", "name", "_cbh", "_running", "_loop", "_reg", "_edge", "_err",
                 "_err_event", "_guard")

    def __init__(self, signal: Any, fn: Callable[[], None], name: str = "") -> None:
        self._h = raw_handle(signal)
        self._fn = fn
        self.name = name
        self._cbh: sim_callback | None = None
        self._running = False
        self._loop: Any = None
        self._err: BaseException | None = None
        self._err_event: Any = None
        self._guard: Any = None

    def start(self) -> None:
        import cocotb
        from cocotb import simulator
        from cocotb.triggers import Event

        if self._running:
            return
        self._loop = _raw_setup()
        self._reg = simulator.register_value_change_callback
        self._edge = simulator.VALUE_CHANGE
        self._err_event = Event()
        self._guard = cocotb.start_soon(self._watch())
        self._running = True
        self._cbh = self._reg(self._h, self._fire, self._edge)

    def stop(self) -> None:
        self._running = False
        if self._cbh is not None:
            self._cbh.deregister()
            self._cbh = None
        if self._guard is not None:
            self._guard.cancel()
            self._guard = None

    async def _watch(self) -> None:
        try:
            await self._err_event.wait()
        except BaseException:
            # cocotb cancels a test's tasks when the test ends: the wake ends with them, so the
            # next test of the same simulation gets no callbacks into this one's objects
            self._guard = None
            self.stop()
            raise
        assert self._err is not None
        raise self._err

    def _fire(self) -> None:
        self._cbh = None  # fired: gone
        if not self._running:
            return
        _gt._current_gpi_trigger = _RAW_TRIGGER
        try:
            self._fn()
        except BaseException as exc:
            self._running = False
            self._err = exc
            self._err_event.set()
        else:
            if self._running and self._cbh is None:
                self._cbh = self._reg(self._h, self._fire, self._edge)
        loop = self._loop
        if loop._callbacks:
            loop.run()


# -- the runner -------------------------------------------------------------------------------


def edit_build_command(runner: Runner, edit: Callable[[list[Any]], None]) -> None:
    """Have `runner` pass each command of its build step through `edit` (in place)."""
    original = runner._build_command

    def build_command() -> Any:
        cmds = original()
        for cmd in cmds:
            edit(cmd)
        return cmds

    runner._build_command = build_command  # type: ignore[method-assign]


def run_commands_with(runner: Runner, run: Callable[[list[str], Any, Mapping[str, str], IO[str] | None], int]) -> None:
    """Have `runner` run each command of its build and test steps as `run(cmd, cwd, env,
    stdout)`, which returns the exit status (the runner's own `subprocess.run` cannot stop a
    simulator on Ctrl-C). A non-zero status fails the step as the runner's would."""

    def execute_cmds(cmds: Sequence[Sequence[Any]], cwd: Any, stdout: IO[str] | None = None) -> None:
        for cmd in cmds:
            status = run([str(c) for c in cmd], cwd, runner.env, stdout)
            if status != 0:
                raise RuntimeError(f"Command failed with return code: {status}")

    runner._execute_cmds = execute_cmds  # type: ignore[method-assign]


def set_test_pythonpath(runner: Runner, paths: Sequence[str]) -> None:
    """The simulator's PYTHONPATH is `paths` (the runner would pass this process's sys.path)."""
    original = runner._set_env_test

    def set_env_test() -> None:
        original()
        runner.env["PYTHONPATH"] = os.pathsep.join(paths)

    runner._set_env_test = set_env_test  # type: ignore[method-assign]


__all__ = [
    "INTERNALS", "Internal", "RawValueWake", "edit_build_command", "handle_names",
    "raw_callback", "raw_handle", "raw_int", "raw_put", "raw_timer_api",
    "run_commands_with", "set_test_pythonpath", "soon_scheduler",
]
