"""benchmarks/population_overhead.py (issue 31's "before" figures, docs/populations.md) at a
tiny size: it runs as the docs' command runs it and records every figure; no timing is asserted."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_population_overhead_records_every_figure_and_the_profile(tmp_path):
    out, table = tmp_path / "overhead.json", tmp_path / "overhead.md"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "population_overhead.py"),
                        "--members", "2", "--repeats", "2", "--warmup", "40", "--settle", "10",
                        "--steps", "30", "--json", str(out), "--markdown", str(table)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert (res["members"], res["repeats"], res["timed_steps"]) == (2, 2, 30)
    for k in ("envs", "loop1", "loop2"):  # measured: positive, one per repeat
        assert len(res["samples"][k]) == 2 and all(v > 0 for v in res["samples"][k])
        assert res["median"][k] > 0
    s = res["samples"]
    for i in range(2):  # the derived figures are the arithmetic on each repeat
        assert math.isclose(s["update"][i], s["loop2"][i] - s["loop1"][i])
        assert math.isclose(s["overhead"][i], s["loop1"][i] - s["update"][i])
        assert math.isclose(s["ratio"][i], s["overhead"][i] / s["envs"][i])
    assert res["verdict"] == ("met" if res["median"]["ratio"] <= 2 else "not met")
    assert res["machine"]["cpu_model"] and res["torch"] and res["date"]
    assert len(res["machine"]["load_average_before"]) == 3
    prof = res["profile"]
    assert prof["loop_us_per_member_step_under_cprofile"] > 0
    for key in ("by_tottime", "by_cumtime"):
        rows = prof[key]
        assert len(rows) == 15 and all(row["calls"] > 0 for row in rows)
        times = [row[key.removeprefix("by_") + "_s"] for row in rows]
        assert times == sorted(times, reverse=True) and times[0] > 0
    # the profile covers the timed window only: no final evaluation, no checkpoint's fsync
    names = " ".join(row["function"] for row in prof["by_cumtime"] + prof["by_tottime"])
    assert "evaluat" not in names and "fsync" not in names and "save_checkpoint" not in names
    md = table.read_text()
    assert "| overhead / envs (bar <= 2x) |" in md and res["machine"]["cpu_model"] in md
