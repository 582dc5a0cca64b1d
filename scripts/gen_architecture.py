#!/usr/bin/env python3
"""Regenerate the generated parts of docs/architecture.md from the code itself.

The diagram is the package import graph as grimp sees it (imports inside functions and
under TYPE_CHECKING included), and the file map is each module's path with the first line
of its docstring, so neither can drift: tests/lint/test_architecture_doc.py fails when the
committed file differs from what this prints.

    python scripts/gen_architecture.py          # rewrite docs/architecture.md in place
    python scripts/gen_architecture.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# grimp imports "hilnic" from sys.path: put this checkout's py/ first, or an editable
# install elsewhere (another worktree) would be the one drawn
sys.path.insert(0, str(ROOT / "py"))

import grimp  # noqa: E402

DOC = ROOT / "docs" / "architecture.md"
PKG_DIR = ROOT / "py" / "hilnic"
BEGIN = "<!-- BEGIN GENERATED: {} (scripts/gen_architecture.py) -->"
END = "<!-- END GENERATED: {} -->"

# the units of the diagram: subpackages that are one layer or one Linux directory
SPLIT = ("hilnic.net",)


def unit(module: str) -> str:
    parts = module.split(".")
    if len(parts) >= 3 and ".".join(parts[:2]) in SPLIT:
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def diagram() -> str:
    graph = grimp.build_graph("hilnic")
    edges: set[tuple[str, str]] = set()
    units: set[str] = set()
    for m in graph.modules:
        if not m.startswith("hilnic.") or m == "hilnic":
            continue
        u = unit(m)
        if u in SPLIT:  # the namespace package itself, not a layer
            continue
        units.add(u)
        for d in graph.find_modules_directly_imported_by(m):
            if d.startswith("hilnic.") and unit(d) not in (u, *SPLIT):
                edges.add((u, unit(d)))
    def node(u: str) -> str:
        return u.removeprefix("hilnic.").replace(".", "_")
    lines = ["```mermaid", "flowchart TD"]
    for u in sorted(units):
        lines.append(f'    {node(u)}["{u.removeprefix("hilnic.").replace(".", "/")}"]')
    for a, b in sorted(edges):
        lines.append(f"    {node(a)} --> {node(b)}")
    lines.append("```")
    return "\n".join(lines)


def first_doc_line(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text()))
    except SyntaxError:
        return ""
    return doc.strip().splitlines()[0].replace("|", "\\|") if doc else ""


def file_map() -> str:
    rows = ["| file | what |", "|---|---|"]
    for path in sorted(PKG_DIR.rglob("*.py")):
        rel = path.relative_to(PKG_DIR.parent)
        if path.name == "__init__.py" and not first_doc_line(path):
            continue
        rows.append(f"| `{rel}` | {first_doc_line(path)} |")
    return "\n".join(rows)


def render(text: str) -> str:
    for name, body in (("diagram", diagram()), ("file map", file_map())):
        b, e = BEGIN.format(name), END.format(name)
        if b not in text or e not in text:
            raise SystemExit(f"gen_architecture: {DOC} lacks the markers for '{name}'")
        head, rest = text.split(b, 1)
        _, tail = rest.split(e, 1)
        text = f"{head}{b}\n{body}\n{e}{tail}"
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/architecture.md is out of date")
    args = ap.parse_args()
    old = DOC.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print("docs/architecture.md is out of date: run python scripts/gen_architecture.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
