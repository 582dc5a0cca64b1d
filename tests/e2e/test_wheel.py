"""The package as a user installs it: a wheel from `python -m build`, in a fresh virtual
environment, run from a folder outside the checkout.

The wheel must carry the Verilog (hilnic/hdl), builds must go to the user's cache folder (here
$XDG_CACHE_HOME, in tmp) and outputs to --out: nothing may be written into the checkout or
into the environment's site-packages. `pip install .` (a plain, not editable, install of the
source tree) must ship the same files.

The fresh environment gets its dependencies from pip's usual sources (the index, pip's cache);
`python -m venv --without-pip` plus this interpreter's `pip --python` keeps it quick.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.package

# what a copy of the checkout leaves out: generated, local or large
_SKIP = {".git", ".venv", "sim_build", "build", "dist", "__pycache__", ".pytest_cache", ".mypy_cache",
         ".ruff_cache"}


def _copy_source(dst: Path) -> Path:
    """The checkout without its generated folders (building writes build/ and *.egg-info
    into the source tree: the copy takes them, not the checkout)."""

    def ignore(_d: str, names: list[str]) -> set[str]:
        return {n for n in names if n in _SKIP or n.endswith(".egg-info")}

    shutil.copytree(ROOT, dst, symlinks=True, ignore=ignore)
    return dst


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "SIM", "WAVES")
           and not k.startswith(("HILNIC_", "COCOTB_", "PYTEST_"))}
    env.update(extra)
    return env


def _sh(cmd: list[str], *, timeout: float, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def _snapshot(top: Path, skip: set[str] = frozenset()) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for f in filenames:
            p = Path(dirpath, f)
            st = p.lstat()
            out[str(p.relative_to(top))] = (st.st_size, st.st_mtime_ns)
    return out


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def test_wheel_in_a_fresh_venv_runs_from_anywhere(tmp_path):
    src = _copy_source(tmp_path / "src")
    dist = tmp_path / "dist"
    _sh([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(src)], timeout=300)
    (wheel,) = dist.glob("hilnic-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for v in sorted((ROOT / "hdl").rglob("*.v")):
        assert f"hilnic/hdl/{v.relative_to(ROOT / 'hdl')}" in names, f"{v.name} not in the wheel"
    assert "hilnic/hdl/nic.gtkw" in names

    venv = tmp_path / "venv"
    _sh([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=60)
    py = venv / "bin" / "python"
    _sh([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--disable-pip-version-check",
         str(wheel)], timeout=600)
    site = _site_packages(venv)
    assert (site / "hilnic" / "hdl" / "nic" / "nic_top.v").is_file()

    # a user's folder outside the checkout, their own cache and home
    work, cache, home = tmp_path / "work", tmp_path / "cache", tmp_path / "home"
    for d in (work, home):
        d.mkdir()
    env = _clean_env(XDG_CACHE_HOME=str(cache), HOME=str(home))
    hilnic = str(venv / "bin" / "hilnic")
    before_site = _snapshot(site)
    before_repo = _snapshot(ROOT, _SKIP | {"hilnic.egg-info"})

    r = _sh([hilnic, "--version"], cwd=work, env=env, timeout=60)
    from hilnic import __version__

    assert r.stdout.strip() == f"hilnic {__version__}"
    where = _sh([str(py), "-c", "import hilnic.cosim.sim as s; print(s.CHECKOUT); print(s.HDL); print(s.sim_build_root())"],
                cwd=work, env=env, timeout=60).stdout.split("\n")
    assert where[0] == "None" and Path(where[1]) == site / "hilnic" / "hdl" and Path(where[2]) == cache / "hilnic"

    out_model = tmp_path / "out-model"
    r = _sh([hilnic, "run", "--sim", "model", "--bytes", "64K", "--out", str(out_model)], cwd=work, env=env, timeout=300)
    assert "OK: delivered byte-exact" in r.stdout, r.stdout
    assert (out_model / "wire.pcap").stat().st_size > 64 << 10

    if shutil.which("iverilog"):
        out_rtl = tmp_path / "out-icarus"
        r = _sh([hilnic, "run", "--bytes", "16K", "--out", str(out_rtl), "--wall-limit-s", "300"],
                cwd=work, env=env, timeout=400)
        assert "OK: delivered byte-exact" in r.stdout and "nic_top on icarus" in r.stdout, r.stdout
        builds = [p.name for p in (cache / "hilnic").iterdir()]
        assert any(n.startswith("nic_harness-icarus") for n in builds), builds
        # --build-dir moves the builds
        bdir = tmp_path / "builds"
        r = _sh([hilnic, "run", "--bytes", "16K", "--out", str(tmp_path / "out-b"), "--build-dir", str(bdir),
                 "--wall-limit-s", "300"], cwd=work, env=env, timeout=400)
        assert any(p.name.startswith("nic_harness-icarus") for p in bdir.iterdir())

    assert list(work.iterdir()) == [], f"written into the working folder: {list(work.iterdir())}"
    assert _snapshot(site) == before_site, "the run wrote into site-packages"
    after_repo = _snapshot(ROOT, _SKIP | {"hilnic.egg-info"})
    assert after_repo == before_repo, f"the run wrote into the checkout: {sorted(set(after_repo) ^ set(before_repo))}"


def test_pip_install_of_the_source_tree_ships_the_verilog(tmp_path):
    """`pip install .` builds through the same backend: the Verilog must be in it (no
    dependencies needed to look)."""
    src = _copy_source(tmp_path / "src")
    target = tmp_path / "target"
    _sh([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--target",
         str(target), str(src)], timeout=300)
    got = {str(p.relative_to(target / "hilnic" / "hdl")) for p in (target / "hilnic" / "hdl").rglob("*") if p.is_file()}
    want = {str(p.relative_to(ROOT / "hdl")) for p in (ROOT / "hdl").rglob("*") if p.is_file()}
    assert got == want
