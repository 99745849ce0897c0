"""What Ray Tune costs a sweep: a 2-trial sweep (`ddpg sweep`, local Ray with the cores
available, one CPU per trial, both trials at once) against the same two populations trained
directly in this process, one after another with every core, timed in the same run. The issue's
bar: the sweep's wall time within 1.3x.

    python benchmarks/sweep_overhead.py --steps 5000 --seeds 2 --out docs/sweep-overhead.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

from ddpg.system import cpu_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    from ddpg.population import train_population
    from ddpg.sweep.run import run_sweep
    from ddpg.sweep.spec import load_sweep

    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "two.yaml"
        spec.write_text(f"""name: two
base:
  env: Pendulum-v1
  preset: pendulum
  total_steps: {a.steps}
  overrides: {{eval_every: {a.steps // 5}, tensorboard: false}}
space:
  tau: {{grid: [0.005, 0.01]}}
seeds: {a.seeds}
""")
        sweep = load_sweep(spec)
        start = time.perf_counter()
        for tau in (0.005, 0.01):
            config = dataclasses.replace(sweep.base, tau=tau, out=tmp, run_name=f"direct-{tau}")
            train_population(config, seeds=range(a.seeds))
        direct = time.perf_counter() - start
        start = time.perf_counter()
        run_sweep(sweep, Path(tmp) / "sweeps", verbose=0)
        swept = time.perf_counter() - start
    result = {"machine": f"{cpu_model()}, {os.cpu_count()} cores", "steps": a.steps,
              "seeds": a.seeds, "direct_s": direct, "sweep_s": swept, "ratio": swept / direct}
    print(json.dumps(result, indent=1))
    if a.out:
        a.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
