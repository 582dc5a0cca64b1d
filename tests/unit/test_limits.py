"""One table of limits (the driver's header, e1000.py): every configuration path checks
against it, and the README's table is rendered from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hilnic.cli.main import build_parser
from hilnic.drivers.net.ethernet.intel.e1000.e1000 import (
    E1000_MAX_FRAME_SIZE,
    E1000_OPTIONS,
    ETH_HLEN,
    INTERRUPT_THROTTLE_RATE,
    MTU,
    TX_DESCRIPTORS,
    VLAN_HLEN,
    E1000Option,
)
from hilnic.run.config import RunConfig, RunConfigError
from hilnic.testbed import TestbedConfig

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN = "<!-- limits: rendered from py/hilnic/drivers/net/ethernet/intel/e1000/e1000.py by tests/unit/test_limits.py -->"
END = "<!-- /limits -->"
# option → (`hilnic run` flag, RunConfig / TestbedConfig / e1000_probe field)
NAMES = {"TxDescriptors": ("--ring", "ring_size"), "InterruptThrottleRate": ("--itr", "itr"), "MTU": ("--mtu", "mtu")}


def _range(o: E1000Option) -> str:
    special = " or ".join([", ".join(str(v) for v in o.special)] if o.special else [])
    return f"{special} or {o.describe()}" if special else o.describe()


def limits_table() -> str:
    rows = ["| limit (e1000.py) | `hilnic run` | config field | allowed | default |",
            "|---|---|---|---|---|"]
    for o in E1000_OPTIONS:
        flag, fld = NAMES[o.name]
        rows.append(f"| {o.name} | `{flag}` | `{fld}` | {_range(o)} | {o.default} |")
    return "\n".join(rows)


def test_readme_table_of_limits_is_the_drivers():
    m = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), README.read_text(), re.S)
    assert m, f"README.md lacks the table of limits between {BEGIN!r} and {END!r}"
    assert m.group(1) == limits_table(), "README's table of limits drifted from e1000.py; it should read:\n" + limits_table()


def test_mtu_limit_fits_the_devices_frame():
    assert MTU.max <= E1000_MAX_FRAME_SIZE - ETH_HLEN - VLAN_HLEN  # the probe's max_mtu


def _edges(o: E1000Option) -> tuple[list[int], list[int]]:
    good = [o.min, o.max, o.default, *o.special]
    bad = [o.min - o.step, o.max + o.step] + ([o.min + 1] if o.step > 1 else [])
    return good, [v for v in bad if v not in o.special]


@pytest.mark.parametrize("opt", E1000_OPTIONS, ids=lambda o: o.name)
def test_run_config_and_testbed_check_the_same_table(opt: E1000Option):
    _flag, fld = NAMES[opt.name]
    good, bad = _edges(opt)
    base = {"sim": "model", "proto": "udp"}  # udp: any MTU in range is a valid run
    for v in good:
        RunConfig(**base, **{fld: v}).validate(check_tools=False)
    for v in bad:
        with pytest.raises(RunConfigError):
            RunConfig(**base, **{fld: v}).validate(check_tools=False)
    for v in good:
        TestbedConfig(**{fld: v})
    for v in bad:  # the same message as `hilnic run`'s, after the option's name
        with pytest.raises(RunConfigError) as cli:
            RunConfig(**base, **{fld: v}).validate(check_tools=False)
        with pytest.raises(ValueError) as lib:
            TestbedConfig(**{fld: v})
        assert _after_name(lib.value) == _after_name(cli.value), (lib.value, cli.value)


def _after_name(exc: BaseException) -> str:
    return str(exc).split(" ", 1)[1]


@pytest.mark.parametrize("mtu", [84, 86, 127])
def test_tcp_at_a_tiny_mtu_is_refused_by_the_library_as_by_the_cli(mtu: int):
    """MTU 84/86: a TCP transfer through the library never finished (the MSS sinks below
    TCP_MIN_SND_MSS); the CLI refused it. Both refuse it now, with the same message."""
    from hilnic.kernel.env import SEC
    from hilnic.testbed import model_testbed, tcp_bulk

    with pytest.raises(RunConfigError) as cli:
        RunConfig(sim="model", mtu=mtu).validate(check_tools=False)
    tb = model_testbed(TestbedConfig(mtu=mtu))  # fine for UDP
    main = tcp_bulk(tb, 256 << 10)
    with pytest.raises(Exception) as ei:
        tb.run(main, timeout=SEC)
    main.close()
    err = ei.value.__cause__ or ei.value
    assert isinstance(err, ValueError), repr(err)
    assert str(cli.value) == f"--{err}", (cli.value, err)


@pytest.mark.parametrize(("kwargs", "flag"), [
    ({"loss_rate": 0.9}, "--loss"),
    ({"loss_rate": -0.1}, "--loss"),
])
def test_loss_limit_shared(kwargs, flag):
    with pytest.raises(RunConfigError) as cli:
        RunConfig(sim="model", **kwargs).validate(check_tools=False)
    with pytest.raises(ValueError) as lib:
        TestbedConfig(**kwargs)
    assert str(cli.value).startswith(flag) and _after_name(lib.value) == _after_name(cli.value)


@pytest.mark.parametrize(("mtu", "mss"), [(1500, 40), (1000, 1400)])
def test_peer_mss_limit_shared(mtu, mss):
    with pytest.raises(RunConfigError) as cli:
        RunConfig(sim="model", mtu=mtu, mss=mss).validate(check_tools=False)
    with pytest.raises(ValueError) as lib:
        TestbedConfig(mtu=mtu, peer={"mss": mss})
    assert str(lib.value) == "peer mss " + _after_name(cli.value)


@pytest.mark.parametrize("opt", [TX_DESCRIPTORS, INTERRUPT_THROTTLE_RATE], ids=lambda o: o.name)
def test_probe_checks_the_same_table(opt: E1000Option):
    from hilnic.kernel.env import SEC
    from hilnic.testbed import model_testbed

    async def nothing() -> None:
        return None

    _flag, fld = NAMES[opt.name]
    good, bad = _edges(opt)
    for v in (good[0], good[1], *bad):
        cfg = TestbedConfig()
        setattr(cfg, fld, v)  # past TestbedConfig's own check: the probe checks again
        tb = model_testbed(cfg)
        if v in good:
            tb.run(nothing(), timeout=SEC)
            continue
        main = nothing()
        with pytest.raises(Exception) as ei:
            tb.run(main, timeout=SEC)
        main.close()  # the probe failed before it was awaited
        err = ei.value.__cause__ or ei.value
        assert isinstance(err, ValueError) and fld in str(err), repr(err)


def test_cli_help_shows_the_table():
    helps = {a.dest: a.help or "" for a in build_parser().subparsers["run"]._actions}
    for o in E1000_OPTIONS:
        text = helps[NAMES[o.name][1]]
        assert f"{o.min}..{o.max}" in text and f"(default {o.default})" in text, text
