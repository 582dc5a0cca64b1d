"""A sweep's grid: axes over `hilnic run` options, and the points they make, each checked.

An axis is a run option and its values: `--grid itr=0,20000` on the command line, or a list
under `[grid]` in a TOML or YAML file (`load_sweep_file`). Its key is the option as `hilnic
run --help` spells it (`ring`, `loss`, `mem-latency-ns`; `_` for `-` and the RunConfig
field, `ring_size`, work too), plus `frame-size`: the whole Ethernet frame, so `--mtu` is
FRAME_SIZE - 18 (header 14, FCS 4). `--out`, `--force` and `--verbose` belong to the sweep.

Every value goes through the run's own parser (hilnic.run.options) and RunConfig.validate,
so a sweep accepts what `hilnic run` accepts, with its limits and messages; `GridError` is
one line naming the axis or the point at fault. `make_points` checks each value of each axis
first (a bad value is named by its axis), then every combination (a bad combination is named
by its point) and builds all points before anything runs.

A point's name is `key=value,...` in axis order (`frame-size=1518,itr=20000`): its folder
under the sweep's `points/`, stable when the grid grows, so a resumed sweep finds it.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from hilnic.run.config import RunConfig, RunConfigError
from hilnic.run.options import add_run_arguments, run_actions, run_argv, run_config

ETH_OVERHEAD = 14 + 4  # Ethernet header and FCS: frame size = MTU + 18
FRAME_SIZE = "frame-size"
SWEEP_OWNS = ("out", "force", "verbose")  # set by the sweep for each point
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
FILE_KEYS = ("run", "grid")


class GridError(ValueError):
    """A bad axis, value, combination or sweep file: one line, for the user (exit 2)."""


class _RunParser(argparse.ArgumentParser):
    """The run's options, raising GridError instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise GridError(message)


def run_parser() -> _RunParser:
    p = _RunParser(prog="hilnic run", add_help=False)
    add_run_arguments(p)
    return p


@dataclass(frozen=True)
class Axis:
    key: str  # as in point names: the run option without '--', or frame-size
    dest: str  # the RunConfig field it sets
    values: tuple[str, ...]  # as given

    def argv(self, value: str, option: str, boolean: str = "") -> list[str]:
        """The run options that set this axis to `value`; `boolean`: "optional" (--x/--no-x),
        "flag" (--x or nothing) or "" (--x VALUE)."""
        if self.key == FRAME_SIZE:
            try:
                frame = int(value, 0)
            except ValueError:
                raise GridError(f"'{value}' is not an integer") from None
            return ["--mtu", str(frame - ETH_OVERHEAD)]
        if boolean:
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return [option]
            if word in FALSE_WORDS:
                return ["--no-" + option[2:]] if boolean == "optional" else []
            raise GridError(f"--{self.key} is on or off, not '{value}'")
        return [option, value]


@dataclass(frozen=True)
class Point:
    name: str
    params: tuple[tuple[str, str], ...]  # (axis key, value as given)
    rc: RunConfig  # validated; out = the point's folder, force on

    @property
    def argv(self) -> list[str]:
        """`hilnic run` options that make exactly this point."""
        return run_argv(self.rc)


class Grid:
    """The run options every point shares (`base`: run options as on the command line) and
    the axes that vary."""

    def __init__(self, base: Sequence[str] = (), axes: Sequence[Axis] = ()) -> None:
        self.parser = run_parser()
        self.actions = run_actions(self.parser)
        self.base = list(base)
        self.axes: list[Axis] = []
        for axis in axes:
            self.add(axis)

    # -- axes -----------------------------------------------------------------------------------

    def axis(self, key: str, values: Sequence[Any], where: str = "") -> Axis:
        """An Axis for `key` (any spelling) and `values` (strings, numbers or booleans);
        `where` names it in errors (default '--grid KEY')."""
        raw = where or f"--grid {key}"
        norm = key.strip().lstrip("-").replace("_", "-").lower()
        if norm == FRAME_SIZE:
            canon, dest = FRAME_SIZE, "mtu"
        else:
            action = self._action(norm)
            if action is None:
                raise GridError(f"{raw}: hilnic run has no option --{norm} (see 'hilnic run --help')")
            canon, dest = action.option_strings[0][2:], action.dest
            if dest in SWEEP_OWNS:
                raise GridError(f"{raw}: --{canon} is the sweep's own: each point runs with --out "
                                f"OUT/points/NAME --force")
        vals = tuple(_text(v) for v in values)
        if not vals or any(v == "" for v in vals):
            raise GridError(f"{raw}: give one or more values, e.g. --grid {canon}=1,2 (an empty one was given)")
        if len(set(vals)) != len(vals):
            raise GridError(f"{raw}: a value is given twice ({', '.join(vals)})")
        return Axis(canon, dest, vals)

    def add(self, axis: Axis) -> None:
        """Add an axis; one given again replaces the earlier (the command line overrides a file)."""
        for i, a in enumerate(self.axes):
            if a.key == axis.key:
                self.axes[i] = axis
                return
            if a.dest == axis.dest:
                raise GridError(f"--grid {axis.key} and --grid {a.key} both set --{self._option(a.dest)[2:]}")
        self.axes.append(axis)

    def add_spec(self, spec: str) -> None:
        """'KEY=V1,V2,...' from the command line."""
        key, sep, values = spec.partition("=")
        if not sep or not key.strip():
            raise GridError(f"--grid {spec}: expected KEY=VALUE[,VALUE...], e.g. --grid itr=0,20000")
        self.add(self.axis(key, [v.strip() for v in values.split(",")], where=f"--grid {spec}"))

    def _action(self, norm: str) -> argparse.Action | None:
        for action in self.actions.values():
            if f"--{norm}" in action.option_strings:
                return action
        return self.actions.get(norm.replace("-", "_"))

    def _option(self, dest: str) -> str:
        return self.actions[dest].option_strings[0]

    def _axis_argv(self, axis: Axis, value: str) -> list[str]:
        action = self.actions[axis.dest]
        boolean = ("optional" if isinstance(action, argparse.BooleanOptionalAction)
                   else "flag" if isinstance(action, argparse._StoreTrueAction) else "")
        return axis.argv(value, self._option(axis.dest), boolean)

    # -- points ---------------------------------------------------------------------------------

    def config(self, argv: Sequence[str], environ: Mapping[str, str] | None = None) -> RunConfig:
        """The RunConfig of run options `argv` (GridError: argparse's message)."""
        return run_config(self.parser.parse_args(list(argv)), environ)

    def make_points(self, points_dir: Path, environ: Mapping[str, str] | None = None,
                    check_tools: bool = True) -> list[Point]:
        """Every combination, in axis order (the last axis varies fastest), validated."""
        # parsing first: a value that is not one (a typo, no such choice) is named by its axis;
        # the limits then per point (a value may be out of range with one value of another axis only)
        try:
            ns = self.parser.parse_args(list(self.base))
            run_config(ns, environ)
        except (GridError, RunConfigError) as exc:
            raise GridError(f"run options {' '.join(self.base) or '(none)'}: {exc}") from None
        for dest in SWEEP_OWNS:
            if getattr(ns, dest) not in (None, False):
                raise GridError(f"run options: {self._option(dest)} is the sweep's own: each point runs with --out "
                                f"OUT/points/NAME --force")
        for axis in self.axes:
            for value in axis.values:
                try:
                    self.config([*self.base, *self._axis_argv(axis, value)], environ)
                except (GridError, RunConfigError) as exc:
                    raise GridError(f"--grid {axis.key}={value}: {exc}") from None
        points = []
        for combo in itertools.product(*(a.values for a in self.axes)):
            params = tuple((a.key, v) for a, v in zip(self.axes, combo, strict=True))
            name = point_name(params)
            argv = list(self.base)
            for axis, value in zip(self.axes, combo, strict=True):
                argv += self._axis_argv(axis, value)
            try:
                rc = self.config(argv, environ)
                rc = dataclasses.replace(rc, out=str(points_dir / name), force=True, verbose=False)
                rc.validate(check_tools=check_tools)
            except (GridError, RunConfigError) as exc:
                raise GridError(f"point {name}: {_frame_note(params, exc)}") from None
            points.append(Point(name, params, rc))
        return points


def point_name(params: Sequence[tuple[str, str]]) -> str:
    if not params:
        return "run"
    return ",".join(f"{k}={re.sub(r'[^A-Za-z0-9.+-]', '_', v)}" for k, v in params)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    return str(v).strip()


def _frame_note(params: Sequence[tuple[str, str]], exc: Exception) -> str:
    text = str(exc)
    frame = dict(params).get(FRAME_SIZE)
    if frame is not None and "--mtu" in text:
        return f"{text} (frame size {frame} = MTU + {ETH_OVERHEAD})"
    return text


# -- sweep files --------------------------------------------------------------------------------


def load_sweep_file(path: str | Path, grid: Grid) -> None:
    """Add a TOML or YAML file's `run` options (to `grid.base`) and `grid` axes:

        [run]                        run:
        sim = "model"                  sim: model
        bytes = "256K"                 bytes: 256K
        [grid]                       grid:
        frame-size = [256, 1518]       frame-size: [256, 1518]
        itr = [0, 3, 20000]            itr: [0, 3, 20000]
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise GridError(f"--file {p}: {exc.strerror or exc}") from None
    try:
        if p.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif p.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise GridError(f"--file {p}: a sweep file is .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GridError(f"--file {p}: not valid {p.suffix[1:].upper()}: {first}") from None
    if not isinstance(data, dict):
        raise GridError(f"--file {p}: expected a table with [run] and [grid]")
    unknown = sorted(set(map(str, data)) - set(FILE_KEYS))
    if unknown:
        raise GridError(f"--file {p}: unknown section {unknown[0]!r} (a sweep file has 'run' and 'grid')")
    run = data.get("run") or {}
    axes = data.get("grid") or {}
    if not isinstance(run, dict) or not isinstance(axes, dict):
        raise GridError(f"--file {p}: 'run' and 'grid' are tables of option = value(s)")
    for key, value in run.items():
        if isinstance(value, list | dict):
            raise GridError(f"--file {p}: run.{key} is one value (several go under grid)")
        axis = grid.axis(str(key), [value], where=f"--file {p}: run.{key}")  # the same key checks as an axis
        try:
            grid.base += grid._axis_argv(axis, axis.values[0])
        except GridError as exc:
            raise GridError(f"--file {p}: run.{key}: {exc}") from None
    for key, values in axes.items():
        grid.add(grid.axis(str(key), values if isinstance(values, list) else [values], where=f"--file {p}: grid.{key}"))


__all__ = ["ETH_OVERHEAD", "FRAME_SIZE", "Axis", "Grid", "GridError", "Point", "load_sweep_file", "point_name", "run_parser"]
