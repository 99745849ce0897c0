"""The default `ddpg train` on Pendulum-v1 over seeds: steps to solve, final return, wall time.

Runs the real command, one seed after another (each gets the whole machine), then evaluates each
saved policy with `ddpg eval` on 20 episodes whose seeds training never evaluated on.

    python benchmarks/pendulum_default.py --seeds 0-9 --out docs/pendulum_default.md
"""

from __future__ import annotations

import argparse
import csv
import datetime
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ddpg import system

SOLVED = -200.0


def cpu_flags() -> str:
    return ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
                     if f in system.cpu_flags())


def parse_seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def run_seed(seed: int, out: Path, extra: list[str]) -> dict:
    ddpg = [sys.executable, "-m", "ddpg.cli"]
    start = time.perf_counter()
    subprocess.run(ddpg + ["train", "--seed", str(seed), "--out", str(out),
                           "--run-name", f"s{seed}", "--no-progress", *extra],
                   check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    run_dir = out / f"s{seed}"
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    solved = next((int(r["step"]) for r in rows if float(r["eval_return_mean"]) >= SOLVED), None)
    ev = subprocess.run(ddpg + ["eval", str(run_dir), "--episodes", "20"], check=True,
                        capture_output=True, text=True).stdout
    final20 = float(re.search(r"return (-?[\d.]+)", ev).group(1))
    return {"seed": seed, "steps_to_solve": solved, "last_eval": float(rows[-1]["eval_return_mean"]),
            "final20": final20, "wall_s": wall, "train_s": float(rows[-1]["time_s"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0-9")
    p.add_argument("--out", type=Path, default=None, help="markdown file to write the table to")
    p.add_argument("extra", nargs="*", help="extra flags for `ddpg train` (after --)")
    a = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in parse_seeds(a.seeds):
            r = run_seed(seed, Path(tmp), a.extra)
            results.append(r)
            print(r, flush=True)
    ok_solve = sum(r["steps_to_solve"] is not None and r["steps_to_solve"] <= 10_000
                   for r in results)
    ok_final = sum(r["final20"] >= SOLVED for r in results)
    lines = [
        f"## `{' '.join(['ddpg train', *a.extra])}`, {len(results)} seeds, "
        f"{datetime.date.today().isoformat()}",
        "",
        f"CPU: {system.cpu_model()} ({cpu_flags()}), {system.available_cores()} cores. "
        f"Command: `python benchmarks/pendulum_default.py --seeds {a.seeds}"
        + (f" -- {' '.join(a.extra)}`." if a.extra else "`."),
        "",
        "| seed | steps to solve (eval >= -200) | last training eval (10 ep) | final policy, 20 other episodes | command wall time (s) | training time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['seed']} | {r['steps_to_solve'] or 'not solved'} | {r['last_eval']:.1f} "
                     f"| {r['final20']:.1f} | {r['wall_s']:.1f} | {r['train_s']:.1f} |")
    walls = [r["wall_s"] for r in results]
    lines += ["", f"Solved within 10,000 steps: {ok_solve}/{len(results)}; final policy >= -200 on "
              f"20 other episodes: {ok_final}/{len(results)}; command wall time "
              f"{min(walls):.1f}-{max(walls):.1f} s (mean {sum(walls) / len(walls):.1f} s).", ""]
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        with open(a.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
