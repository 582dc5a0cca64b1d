"""All hardware benchmarks in one go (`make bench`): line rate per frame size, wall speed of
the bridge versus cocotbext-axi, and the RTL's own simulation speed (Verilog replay) versus
the bridge, and the whole stack on the RTL end to end (TCP frames per wall second, versus the
per-beat memory and versus a pure-Verilog replay of the same run; slowdown at line rate).
Prints one table per benchmark and a summary (every table within 100 columns); every figure
with the command that reproduces it, listed under the summary. Results are also saved as JSON
under sim_build/bench/. Verdicts are PASS or FAIL; a FAIL (a missed target) or a problem
(wrong frames) makes the exit status 1, unless --report-only.

    python -m hilnic.bench.all [--quick] [--only line_rate,wall_speed,rtl_speed,python_path,peer_speed,e2e_speed]
                               [--sim icarus] [--report-only]
"""

from __future__ import annotations

import argparse
import sys
import time

from hilnic.bench import common, e2e_speed, line_rate, peer_speed, python_path, rtl_speed, wall_speed

BENCHES = ("line_rate", "wall_speed", "rtl_speed", "python_path", "peer_speed", "e2e_speed")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hilnic.bench.all", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames everywhere (about a minute)")
    ap.add_argument("--only", default=",".join(BENCHES), help=f"comma-separated subset of {', '.join(BENCHES)}")
    ap.add_argument("--sim", default=None, help="simulator for the cocotb runs: icarus (default) or verilator")
    common.add_report_only(ap)
    a = ap.parse_args(argv)
    only = [x for x in a.only.split(",") if x]
    bad = [x for x in only if x not in BENCHES]
    if bad:
        ap.error(f"--only: unknown benchmark {bad[0]!r} (choose from {', '.join(BENCHES)})")
    q = ["--quick"] if a.quick else []
    summary: list[list[str]] = []
    status = 0
    t_all = time.perf_counter()
    try:
        if "line_rate" in only:
            t0 = time.perf_counter()
            print("== a. simulated line rate (mem latency 500 ns, ring kept full) ==", flush=True)
            res = line_rate.measure(quick=a.quick, sim=a.sim)
            common.save("line_rate", res)
            print(common.table(line_rate.rows(res), line_rate.HEADER))
            cmd = common.reproduce(line_rate.MODULE, *q)
            print(f"reproduce: {cmd}   ({time.perf_counter() - t0:.0f} s)\n", flush=True)
            for r in res:
                if r["required"]:
                    summary.append([f"line rate {r['wire_len']} B", f"{r['pct']:.2f}% of 10GbE",
                                    f">= {r['required']:g}%", r["verdict"], cmd])
        if "wall_speed" in only:
            t0 = time.perf_counter()
            print("== b. wall speed: full-size frames per wall second ==", flush=True)
            frames, axf = (200, 60) if a.quick else (600, 150)
            res = wall_speed.measure(frames, axf, sim=a.sim)
            common.save("wall_speed", res)
            print(common.table(wall_speed.rows(res), wall_speed.HEADER))
            cmd = common.reproduce(wall_speed.MODULE, *q)
            ok = res["ratio"] >= wall_speed.TARGET_RATIO
            print(f"bridge / AxiRam: {res['ratio']:.1f}x (target >= {wall_speed.TARGET_RATIO:g}x: "
                  f"{common.verdict(ok)})")
            print(f"reproduce: {cmd}   ({time.perf_counter() - t0:.0f} s)\n", flush=True)
            summary.append(["bridge frames / wall s (1518 B)", f"{res['py']['frames_per_wall_s']:,.0f}", "", "", cmd])
            summary.append(["bridge / AxiRam speed-up", f"{res['ratio']:.1f}x", f">= {wall_speed.TARGET_RATIO:g}x",
                            common.verdict(ok), cmd])
        if "rtl_speed" in only:
            t0 = time.perf_counter()
            print(f"== c. simulation efficiency of nic_top ({a.sim or 'icarus'}), full load ==", flush=True)
            for flen, frames in ((1514, 600 if a.quick else 2000), (60, 1500 if a.quick else 5000)):
                res = rtl_speed.measure(frames, flen, 500.0, sim=a.sim)
                common.save(f"rtl_speed_{flen + 4}", res)
                args = [f"--frames={frames}", f"--frame-len={flen}"] + ([f"--sim={a.sim}"] if a.sim else [])
                rows, notes = rtl_speed.report(res, args)
                print(common.table(rows, ["run", "sim cycles / wall s", "frames ok", "verdict (target >= 100k)"]))
                for n in notes:
                    print(n)
                rep = res["replay"]
                verdict = common.verdict(rep["cycles_per_s"] >= rtl_speed.TARGET_CYCLES_PER_S)
                cmd = common.reproduce(rtl_speed.MODULE, *args)
                summary.append([f"replay cycles / wall s ({flen + 4} B)", f"{rep['cycles_per_s']:,.0f}",
                                ">= 100k", verdict, cmd])
                summary.append([f"replay / bridge cycles/s ({flen + 4} B)", f"{res['bridge_cost']:.2f}x", "", "", cmd])
                if rep["problems"]:
                    status = 1
            print(f"({time.perf_counter() - t0:.0f} s)\n")
        if "python_path" in only:
            t0 = time.perf_counter()
            print("== d. pure-Python path: TCP segments per wall second (behavioral NIC) ==", flush=True)
            mib, rep = (4, 2) if a.quick else (16, 3)
            runs = [python_path.measure(mib) for _ in range(rep)]
            best = max(runs, key=lambda r: r["segments_per_s"])
            cmd = f"python -m hilnic.bench.python_path --mib {mib} --repeat {rep}"
            verdict = common.verdict(best["segments_per_s"] >= python_path.TARGET)
            print(f"{best['segments']} segments of 1448 B in {best['wall_s']:.3f} s: "
                  f"{best['segments_per_s']:,.0f} segments/s (target >= {python_path.TARGET:,}: {verdict}); "
                  f"simulated {best['sim_gbps']:.2f} Gb/s, {best['slowdown']:.0f}x slower than real time")
            print(f"reproduce: {cmd}   ({time.perf_counter() - t0:.0f} s)\n", flush=True)
            summary.append(["Python path segments / wall s", f"{best['segments_per_s']:,.0f}",
                            f">= {python_path.TARGET:,}", verdict, cmd])
        if "peer_speed" in only:
            t0 = time.perf_counter()
            print("== d2. wire peer: full-size TCP frames per wall second (fast path) ==", flush=True)
            n, rep = (1000, 2) if a.quick else (4000, 3)
            best = max((peer_speed.measure(n, strict=False) for _ in range(rep)), key=lambda r: r["frames_per_s"])
            cmd = common.reproduce(peer_speed.MODULE, "--frames", str(n), "--repeat", str(rep))
            verdict = common.verdict(best["frames_per_s"] >= peer_speed.TARGET)
            print(f"{n} frames in {best['wall_s']:.3f} s: {best['frames_per_s']:,.0f} frames/s "
                  f"(target >= {peer_speed.TARGET:,}: {verdict})")
            print(f"reproduce: {cmd}   ({time.perf_counter() - t0:.0f} s)\n", flush=True)
            summary.append(["peer frames / wall s", f"{best['frames_per_s']:,.0f}", f">= {peer_speed.TARGET:,}", verdict, cmd])
        if "e2e_speed" in only:
            t0 = time.perf_counter()
            sim = a.sim or common.sim_name(None)
            nbytes = e2e_speed.QUICK_BYTES if a.quick else e2e_speed.DEFAULT_BYTES
            print(f"== e. end to end: {nbytes >> 20} MiB of TCP through stack + driver + RTL ({sim}) ==", flush=True)
            res = e2e_speed.measure(nbytes, sim)
            common.save(f"e2e_speed_{sim}", e2e_speed.slim(res))
            cmd = common.reproduce(e2e_speed.MODULE, *e2e_speed.cmd_args(nbytes, sim))
            rows = e2e_speed.rows(res, cmd)
            print(common.table([r[:5] for r in rows], e2e_speed.HEADER[:5]))
            probs = e2e_speed.problems(res)
            for p in probs:
                print("PROBLEM: " + p)
            print(f"reproduce: {cmd}   ({time.perf_counter() - t0:.0f} s)\n", flush=True)
            summary += [[r[0], r[1], r[2], r[3], cmd] for r in rows if r[2]]
            status |= bool(probs)
    except (common.BenchError, RuntimeError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(f"== summary ({time.perf_counter() - t_all:.0f} s wall) ==")
    print(summary_table(summary))
    missed = [r[0] for r in summary if r[3] == common.FAIL]
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    return common.exit_status(bool(missed) or bool(status), a.report_only)


def summary_table(summary: list[list[str]]) -> str:
    """The summary (figure, value, bound, verdict, reproduce): the commands, long, go under
    the table, each once, referred to by number."""
    cmds: list[str] = []
    rows = []
    for figure, value, bound, verdict, cmd in summary:
        if cmd not in cmds:
            cmds.append(cmd)
        rows.append([figure, value, bound, verdict, f"[{cmds.index(cmd) + 1}]"])
    text = common.table(rows, ["figure", "value", "bound", "verdict", "see"])
    return text + "\n" + "\n".join(f"[{i}] {c}" for i, c in enumerate(cmds, 1))


if __name__ == "__main__":
    sys.exit(main())
