"""summary.json against hilnic/run/summary.schema.json: real summaries of an ok, a failed and
an interrupted run (behavioral model; tests/e2e check Icarus's), and ones the schema must
refuse. Each run is bounded in simulated time (--sim-limit-ms)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import jsonschema
import pytest

from hilnic.cli.main import main
from hilnic.run import SCHEMA_VERSION, load_schema
from hilnic.run.interrupt import Interrupted
from hilnic.run.scenario import Scenario


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _main(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


def validate(s: dict) -> None:
    jsonschema.validate(s, load_schema(), cls=jsonschema.Draft202012Validator)


def test_schema_is_valid_and_shipped():
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema_version"] == {"const": SCHEMA_VERSION}


@pytest.mark.parametrize("argv", [["--bytes", "32K"], ["--proto", "udp", "--bytes", "20K", "--trace"]])
def test_ok_run(capsys, tmp_path, argv):
    assert _main("run", "--sim", "model", "--sim-limit-ms", "2000", "--out", str(tmp_path / "o"), *argv) == 0
    capsys.readouterr()
    s = _summary(tmp_path / "o")
    assert s["status"] == "ok" and s["schema_version"] == SCHEMA_VERSION
    validate(s)


def test_failed_run(capsys, tmp_path):
    assert _main("run", "--sim", "model", "--bytes", "64K", "--sim-limit-ms", "0.5", "--out", str(tmp_path / "o")) == 1
    capsys.readouterr()
    s = _summary(tmp_path / "o")
    assert s["status"] == "failed"
    validate(s)


def test_interrupted_run(capsys, tmp_path, monkeypatch):
    """SIGTERM as it lands during the traffic: raised from the frame listener."""
    real = Scenario._on_frame

    def on_frame(self, f):
        real(self, f)
        if self.frames == 20:
            raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(Scenario, "_on_frame", on_frame)
    out = tmp_path / "o"
    assert _main("run", "--sim", "model", "--bytes", "1M", "--sim-limit-ms", "2000", "--out", str(out)) == 143
    cap = capsys.readouterr()
    assert "INTERRUPTED" in cap.out and "interrupted by SIGTERM" in cap.err
    s = _summary(out)
    assert s["status"] == "interrupted" and s["signal"] == "SIGTERM" and s["frames"] == 20
    validate(s)


@pytest.mark.parametrize("break_it", [
    lambda s: s.pop("schema_version"),
    lambda s: s.update(schema_version=2),
    lambda s: s.update(status="done"),
    lambda s: s.update(ok=False),  # status ok but not ok
    lambda s: s.pop("payload_bytes"),  # numbers come together
    lambda s: s.update(frames=-1),
    lambda s: s.update(signal="SIGINT"),  # only an interrupted run names a signal
])
def test_schema_refuses_broken_summaries(capsys, tmp_path, break_it):
    assert _main("run", "--sim", "model", "--bytes", "8K", "--sim-limit-ms", "2000", "--out", str(tmp_path / "o")) == 0
    capsys.readouterr()
    s = _summary(tmp_path / "o")
    break_it(s)
    with pytest.raises(jsonschema.ValidationError):
        validate(s)


def test_summaries_without_numbers(tmp_path):
    """A run that ended before it had numbers: a build error, a signal during start-up."""
    from hilnic.run import RunConfig
    from hilnic.run.runner import _bare_summary, _finish_interrupted

    rc = RunConfig(sim="icarus", out=str(tmp_path))
    validate(_bare_summary(rc, "simulator build/run failed: iverilog: syntax error"))
    s = _bare_summary(rc, "interrupted by SIGINT", "interrupted")
    s["progress"] = {"sim_ps": 5, "frames": 1, "bytes_done": 0}
    _finish_interrupted(rc, tmp_path, s, signal.SIGINT, 1.5)
    assert _summary(tmp_path) == s
    validate(s)
