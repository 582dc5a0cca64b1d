"""The `hilnic` command line: help text complete, bad options one line and exit 2."""

from __future__ import annotations

import pytest

from hilnic.cli.main import SUBCOMMANDS, build_parser, main


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_top_help_lists_subcommands(capsys):
    out = _help(capsys)
    for name, *_ in SUBCOMMANDS:
        assert name in out
    assert {"demo", "bench"} <= {name for name, *_ in SUBCOMMANDS}


def test_demo_help_lists_every_option(capsys):
    out = _help(capsys, "demo")
    for opt in ("--frames", "--out", "--waves", "--sim", "--mem-latency-ns", "--seed"):
        assert opt in out, opt
    assert "icarus" in out and "verilator" in out


def test_bench_help(capsys):
    out = _help(capsys, "bench")
    for word in ("line_rate", "wall_speed", "rtl_speed", "--quick"):
        assert word in out


@pytest.mark.parametrize("argv", [
    ["demo", "--frames", "0"],
    ["demo", "--frames", "many"],
    ["demo", "--sim", "modelsim"],
    ["demo", "--mem-latency-ns", "-5"],
    ["demo", "--seed", "x"],
    ["demo", "--bogus"],
    ["bench", "nope"],
    ["frobnicate"],
])
def test_bad_options_one_line_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert "error" in lines[0] and "Traceback" not in cap.err


def test_no_command_prints_help_and_returns_2(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_bad_sim_env_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("SIM", "ghdl")
    assert main(["demo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SIM" in err[0]


def test_parser_defaults():
    a = build_parser().parse_args(["demo"])
    assert a.frames == 120 and a.seed == 1 and a.mem_latency_ns == 500.0 and a.waves is None
    a = build_parser().parse_args(["bench"])
    assert a.which == "all" and not a.quick


def test_version_is_the_package_version(capsys):
    from hilnic import __version__

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"hilnic {__version__}"


def test_build_root_checkout_cache_and_overrides(monkeypatch, tmp_path, capsys):
    import hilnic.cosim.sim as sim

    monkeypatch.delenv("HILNIC_SIM_BUILD", raising=False)
    assert sim.sim_build_root() == sim.CHECKOUT / "sim_build"  # a source checkout
    monkeypatch.setattr(sim, "CHECKOUT", None)  # as installed: the user's cache folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert sim.sim_build_root() == tmp_path / "xdg" / "hilnic"
    monkeypatch.setenv("HILNIC_SIM_BUILD", str(tmp_path / "b"))
    assert sim.sim_build_root() == tmp_path / "b"
    # --build-dir sets it for the command (and its simulator); the model run writes to --out
    rc = main(["run", "--sim", "model", "--bytes", "4K", "--build-dir", str(tmp_path / "c"), "--no-trace",
               "--out", str(tmp_path / "out")])
    capsys.readouterr()
    assert rc == 0 and sim.sim_build_root() == tmp_path / "c"
