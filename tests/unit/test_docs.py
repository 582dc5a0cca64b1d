"""The docs say what the code does: every function docs/linux-tx-path.md places in a file is
defined there, every file the docs name exists, and no document outside the repository is
cited."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_linux_tx_path_functions_are_where_it_says():
    doc = (DOCS / "linux-tx-path.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| `([\w/.]+\.py)` \|$", doc, re.M)
    assert len(rows) > 100, "the stage tables lost their rows"
    missing = [f"{fn} in {path}" for fn, path in rows
               if not re.search(rf"^\s*(async )?def {re.escape(fn)}\(", (ROOT / path).read_text(), re.M)]
    assert not missing, f"docs/linux-tx-path.md places functions where they are not: {missing}"


def test_files_named_in_the_docs_exist():
    names = set()
    for doc in ("nic.md", "linux-tx-path.md", "library.md"):
        names |= set(re.findall(r"`((?:py|hdl|tests|examples|docs|scripts)/[\w/.-]+\.(?:py|v|md))`",
                                (DOCS / doc).read_text()))
    assert names
    assert [n for n in names if not (ROOT / n).exists()] == []


def test_no_document_outside_the_repository_is_cited():
    pattern = re.compile(r"NIC_SPEC|LINUX_TX_SPEC|DESIGN\.md|seed (text|§|\d+\.\d)|seed's|shared/")
    hits = []
    for top in ("py", "hdl", "docs", "tests", "examples", "scripts", "README.md"):
        base = ROOT / top
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file() and p.suffix in
                                                (".py", ".v", ".md", ".gtkw", ".toml")]
        for f in files:
            if f.resolve().is_relative_to(ROOT / "hdl") and top == "py":
                continue  # py/hilnic/hdl is hdl/
            for i, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
                if pattern.search(line) and f != Path(__file__):
                    hits.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()[:80]}")
    assert not hits, "cite docs/nic.md or docs/linux-tx-path.md instead:\n" + "\n".join(hits)
