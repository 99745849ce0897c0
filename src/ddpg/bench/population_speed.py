"""`ddpg speed --population N`: a population of N seeds in one process against the ways a user
trains N seeds without one, measured side by side with interleaved repeats.

Per environment and batch size, each repeat measures, back to back:
- population: `ddpg.train(config, seeds=range(N))` with every core, aggregate environment steps/s
  (all members) after warm-up;
- jobs2: what `ddpg benchmark --jobs 2` runs, two single runs at a time in two processes with one
  torch thread each; aggregate steps/s of the two, after warm-up;
- sequential: one single run with every core (the N seeds one after another run at this rate);
- limit: the update's matrix products alone (ddpg's column layout) on one thread, times the
  cores: the most member-updates per second the products allow.
Ratios are medians over repeats of each repeat's own ratio (ddpg.bench.stats.paired).
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
from typing import Any, Callable

import torch

from ddpg.bench.stats import paired
from ddpg.bench.workloads import (bench_config, ddpg_loop_rate, env_dims, matmul_workload,
                                   rate)
from ddpg.config import Config
from ddpg.system import available_cores


_ONE = ("import json, sys; from ddpg import config as cfgmod; from ddpg.config import Config; "
        "from ddpg.bench.workloads import ddpg_loop_rate; "
        "print(ddpg_loop_rate(cfgmod.merge(Config(), json.loads(sys.argv[1]))))")


def jobs_rate(cfg: Config, jobs: int = 2) -> float:
    """Aggregate env steps/s of `jobs` single runs at once, one process and one thread each."""
    from ddpg import config as cfgmod

    procs = []
    for seed in range(jobs):
        spec = json.dumps(cfgmod.to_dict(dataclasses.replace(cfg, seed=seed, threads=1)))
        procs.append(subprocess.Popen(
            [sys.executable, "-c", _ONE, spec], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"}))
    rates = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"a single run for the jobs measurement failed ({p.returncode})")
        rates.append(float(out.strip().splitlines()[-1]))
    return sum(rates)


def measure(envs: list[str], batches: list[int], members: int, steps: int, warmup: int,
            repeats: int, hidden: tuple[int, ...] = (400, 300),
            log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    cores = available_cores()
    results = []
    for env_id in envs:
        obs_dim, action_dim = env_dims(env_id)
        for batch in batches:
            cfg = bench_config(env_id, batch, hidden, warmup, steps)
            products = matmul_workload(obs_dim, action_dim, hidden, batch, layout="columns")
            samples: dict[str, list[float]] = {k: [] for k in
                                               ("population", "jobs2", "sequential", "limit")}
            for rep in range(repeats):
                torch.set_num_threads(1)
                samples["limit"].append(cores * rate(products, steps))
                torch.set_num_threads(cores)
                samples["population"].append(ddpg_loop_rate(cfg, members))
                samples["jobs2"].append(jobs_rate(cfg, 2))
                samples["sequential"].append(ddpg_loop_rate(cfg))
                log(f"{env_id} batch {batch} repeat {rep + 1}/{repeats}: " + ", ".join(
                    f"{k} {v[-1]:.0f}" for k, v in samples.items()))
            med = {k: statistics.median(v) for k, v in samples.items()}
            results.append({
                "env": env_id, "batch": batch, "members": members, "steps": steps,
                "repeats": repeats, "cores": cores, "samples": samples,
                "population_steps_per_s": med["population"],
                "per_member_steps_per_s": med["population"] / members,
                "jobs2_steps_per_s": med["jobs2"], "sequential_steps_per_s": med["sequential"],
                "limit_updates_per_s": med["limit"],
                "vs_jobs2": paired(samples, "population", "jobs2"),
                "vs_sequential": paired(samples, "population", "sequential"),
                "of_limit": paired(samples, "population", "limit")})
    return results


def table(results: list[dict[str, Any]]) -> str:
    head = ("| env | batch | members | population steps/s (per member) | jobs 2 | one after "
            "another | population / jobs 2 | population / one after another | of the "
            "per-core limit |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['env']} | {r['batch']} | {r['members']} | {r['population_steps_per_s']:.0f} "
            f"({r['per_member_steps_per_s']:.0f}) | {r['jobs2_steps_per_s']:.0f} | "
            f"{r['sequential_steps_per_s']:.0f} | {r['vs_jobs2']:.2f}x | "
            f"{r['vs_sequential']:.2f}x | {100 * r['of_limit']:.0f} % |")
    return "\n".join(lines)
