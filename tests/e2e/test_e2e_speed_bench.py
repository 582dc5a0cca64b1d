"""Smoke test of hilnic.bench.e2e_speed in its smallest form (64 KiB of TCP on Icarus): the
structure of the results, not the speed."""

from __future__ import annotations

from hilnic.bench import common, e2e_speed

NBYTES = 64 << 10
MSS = 1448  # MTU 1500 - IP - TCP - timestamps


def test_e2e_speed_smallest():
    res = e2e_speed.measure(NBYTES, "icarus", verbose=False)
    expected_full = NBYTES // MSS
    for key in ("py_hold", "py_nohold", "axiram"):
        r = res[key]
        assert r["delivered"] and not r["errors"], (key, r["errors"])
        assert r["full_frames"] == expected_full, (key, r["full_frames"], expected_full)
        assert r["frames"] == len(r["stamps"]) and r["frames"] >= expected_full + 2  # + SYN, FIN
        assert r["wall_s"] > 0 and r["sim_ps"] > 0 and r["fps"] > 0 and r["cycles"] > 0
    assert res["py_hold"]["skipped"] > 0 and res["py_nohold"]["skipped"] <= 1  # the hold did skip
    assert res["py_hold"]["frames"] == res["py_nohold"]["frames"] == res["axiram"]["frames"]
    rp = res["replay"]
    d = rp["done"]
    assert not rp["problems"], rp["problems"]
    assert d["exp_frames"] == res["py_hold"]["frames"] == d["frames"] == d["sig_ok"]
    assert rp["frames_phase"] == res["py_hold"]["frames"]
    assert rp["wall_s"] > 0 and d["rd_bursts"] > 0 and d["mmio_done"] > 0
    cmd = common.reproduce(e2e_speed.MODULE, *e2e_speed.cmd_args(NBYTES, "icarus"))
    rows = e2e_speed.rows(res, cmd)
    assert len(rows) >= 6 and all(len(r) == len(e2e_speed.HEADER) for r in rows)
    figures = {r[0]: r for r in rows}
    assert any("trace replay" in k for k in figures) and any("slowdown" in k for k in figures)
    assert all(r[3] in ("PASS", "FAIL", "") for r in rows)
    table = common.table([r[:5] for r in rows], e2e_speed.HEADER[:5])
    assert "frames / wall s" in table
    assert max(len(line) for line in table.splitlines()) <= common.TABLE_WIDTH
