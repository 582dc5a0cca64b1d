"""The cocotb internals hilnic.cosim.cocotb_internals relies on still exist in the installed
cocotb, with the parameters it calls them with (no simulator needed).

A cocotb upgrade that renames, removes or re-signs one fails here, naming it, instead of as a
hang or an AttributeError deep inside a simulation.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import pytest

from hilnic.cosim.cocotb_internals import INTERNALS, Internal

SEE = "see py/hilnic/cosim/cocotb_internals.py (and the cocotb pin in pyproject.toml)"


def _cocotb_version() -> str:
    try:
        return importlib.import_module("cocotb").__version__
    except Exception:
        return "?"


def _resolve(entry: Internal) -> Any:
    obj: Any = importlib.import_module(entry.module)
    for part in entry.name.split("."):
        obj = getattr(obj, part)
    return obj


def problem(entry: Internal) -> str | None:
    """What is wrong with `entry` in the installed cocotb, or None."""
    try:
        obj = _resolve(entry)
    except (ImportError, AttributeError) as exc:
        return f"is gone ({exc})"
    if entry.kind == "attribute":
        return None
    if not callable(obj):
        return f"is no longer callable ({type(obj).__name__})"
    if entry.kind == "callable":
        try:
            names = list(inspect.signature(obj).parameters)
        except (TypeError, ValueError):
            return "has no inspectable signature any more"
        if names[: len(entry.params)] != list(entry.params):
            return f"takes ({', '.join(names)}), expected ({', '.join(entry.params)}, ...)"
        return None
    if entry.kind == "assigns":
        try:
            src = inspect.getsource(obj)
        except (OSError, TypeError):
            return "has no readable source any more"
        missing = [p for p in entry.params if not re.search(re.escape(p) + r"\s*(:[^=\n]*)?=", src)]
        return f"no longer sets {', '.join(missing)}" if missing else None
    return f"unknown kind {entry.kind!r} in INTERNALS"


def check(entries: tuple[Internal, ...] = INTERNALS) -> None:
    """AssertionError naming every internal that changed."""
    bad = [(e, p) for e in entries if (p := problem(e)) is not None]
    if bad:
        lines = [f"cocotb {_cocotb_version()} changed internal {e.module}.{e.name} that "
                 f"hilnic.cosim.cocotb_internals uses ({e.why}): it {p}" for e, p in bad]
        raise AssertionError("\n".join(lines) + f"\n{SEE}")


def test_internals_present() -> None:
    check()


def test_inventory_covers_each_module() -> None:
    mods = {e.module for e in INTERNALS}
    assert {"cocotb._event_loop", "cocotb._gpi_triggers", "cocotb.simulator", "cocotb.handle",
            "cocotb_tools.runner"} <= mods


def test_removed_name_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    import cocotb._event_loop

    monkeypatch.delattr(cocotb._event_loop.EventLoop, "schedule")
    with pytest.raises(AssertionError, match=r"changed internal cocotb\._event_loop\.EventLoop\.schedule .*is gone"):
        check()


def test_removed_module_attribute_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    import cocotb._gpi_triggers

    monkeypatch.delattr(cocotb._gpi_triggers, "_current_gpi_trigger")
    with pytest.raises(AssertionError, match=r"cocotb\._gpi_triggers\._current_gpi_trigger"):
        check()


def test_changed_signature_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    import cocotb.simulator

    def register_timed_callback(func: Any, delay: int) -> None: ...

    monkeypatch.setattr(cocotb.simulator, "register_timed_callback", register_timed_callback)
    with pytest.raises(AssertionError, match=r"register_timed_callback .*takes \(func, delay\)"):
        check()


def test_lost_assignment_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from cocotb_tools import runner

    def _set_env_common(self: Any) -> None:
        self.env["PATH"] = ""

    monkeypatch.setattr(runner.Runner, "_set_env_common", _set_env_common)
    with pytest.raises(AssertionError, match=r'no longer sets self\.env\["PYTHONPATH"\]'):
        check()
