"""docs/linux-behaviours.md maps each transmit-path behaviour to tests: keep it true."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_behaviour_has_existing_tests():
    doc = (ROOT / "docs" / "linux-behaviours.md").read_text()
    rows = re.findall(r"^\| (\d+) \| [^|]+ \| (.+) \|$", doc, re.M)
    assert [int(n) for n, _ in rows] == list(range(1, 25))
    defined = set()
    for f in (ROOT / "tests" / "unit").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", f.read_text(), re.M))
    for n, cell in rows:
        names = re.findall(r"`(test_\w+)`", cell)
        assert names, f"behaviour {n} lists no test"
        missing = [t for t in names if t not in defined]
        assert not missing, f"behaviour {n}: no such test {missing}"
