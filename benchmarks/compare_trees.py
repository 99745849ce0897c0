"""The full loop of two source trees side by side, interleaved, in one run: this checkout against
another (a worktree of the commit before a change), for the bars a refactor is judged by.

    git worktree add /tmp/before <commit>
    python benchmarks/compare_trees.py --before /tmp/before --repeats 5 --json out.json

Each measurement runs `ddpg.bench.workloads.ddpg_loop_rate` in a fresh subprocess with the tree's
src/ first on PYTHONPATH (so each imports its own ddpg): Pendulum-v1, 400-300 networks, the
single-run loop at batch 64 and 256 and a population of 10 at batch 64, environment steps/s
after warm-up (aggregate for the population). The trees alternate within every repeat, and the
order alternates between repeats. Prints medians, each repeat's ratio, and the median ratio
(this / before): the bars are >= 0.97 for single runs and >= 1.0 for the population.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CASES = {"single_b64": (64, 0), "single_b256": (256, 0), "population10_b64": (64, 10)}
CHILD = """
import dataclasses, json, sys, torch
torch.set_num_threads({threads})
from ddpg.bench.workloads import bench_config, ddpg_loop_rate
cfg = dataclasses.replace(bench_config("Pendulum-v1", {batch}, (400, 300), {warmup}, {steps}),
                          threads={threads})
print(json.dumps(ddpg_loop_rate(cfg, {members})))
"""


def measure(tree: Path, batch: int, members: int, steps: int, warmup: int, threads: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    code = CHILD.format(batch=batch, members=members, steps=steps, warmup=warmup,
                        threads=threads)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=1200, cwd=tree)
    if out.returncode:
        raise RuntimeError(f"{tree}: {out.stderr[-1500:]}")
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", type=Path, required=True, help="the other tree (a worktree)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=1500, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    from ddpg.system import cpu_model

    threads = a.threads or os.cpu_count() or 1
    trees = {"before": a.before.resolve(), "this": HERE}
    cases = [c for c in a.cases.split(",") if c]
    rates: dict[str, dict[str, list[float]]] = {c: {"before": [], "this": []} for c in cases}
    for r in range(a.repeats):
        for case in cases:
            batch, members = CASES[case]
            order = ["before", "this"] if r % 2 == 0 else ["this", "before"]
            for name in order:
                rates[case][name].append(measure(trees[name], batch, members, a.steps,
                                                 a.warmup, threads))
            print(f"repeat {r}: {case} " + ", ".join(f"{n} {rates[case][n][-1]:.0f}"
                                                   for n in order), flush=True)
    result = {"cpu": cpu_model(), "threads": threads, "date": time.strftime("%Y-%m-%d"),
              "load": os.getloadavg(), "before": str(trees["before"]), "rates": rates,
              "ratio_median": {c: statistics.median(t / b for t, b in zip(v["this"],
                                                                            v["before"]))
                               for c, v in rates.items()}}
    for case, v in rates.items():
        print(f"{case}: before {statistics.median(v['before']):.0f}, this "
              f"{statistics.median(v['this']):.0f} steps/s; ratio (paired median) "
              f"{result['ratio_median'][case]:.3f}")
    if a.json:
        a.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
