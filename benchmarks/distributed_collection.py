"""Distributed collection on Ray actors (`ddpg train --actors K`) against the single-process
loop, on Pendulum-v1 slowed by a sleep per step (a simulator's cost).

For each delay and each K: the environment steps collected per second and the learner's updates
per second over the run (warm-up excluded from the update rate), with the learner updating as
fast as it can (--learner-rate max); the baseline is the ordinary single-process run (--actors
0: one environment step, then one update) on the same slowed environment, in the same run.
Then the learning curve of 4 actors (--learner-rate ratio: one update per collected transition)
against the single-process run at equal collected steps.

    python benchmarks/distributed_collection.py --out docs/scaling-collection.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import ray

import ddpg
from ddpg.bench.slowenv import slowed
from ddpg.config import Config, NetworkConfig, from_preset
from ddpg.system import cpu_model



def rates(cfg: Config, ms: float) -> tuple[float, float]:
    """(env steps/s, updates/s) of one run, timed from its first collected step."""
    seen: list[tuple[int, float, int]] = []
    ddpg.train(cfg, env=slowed("Pendulum-v1", ms), on_step=lambda s: seen.append(
        (s.step, time.perf_counter(), s.agent.updates)))
    s0, t0, _ = seen[0]
    s1, t1, u1 = seen[-1]
    after = [x for x in seen if x[0] >= cfg.warmup_steps]
    u_rate = (u1 - after[0][2]) / (t1 - after[0][1]) if len(after) > 1 else 0.0
    return (s1 - s0) / (t1 - t0), u_rate


def base(tmp: Path, steps: int, **kw) -> Config:
    return dataclasses.replace(Config(), env="Pendulum-v1", total_steps=steps,
                               warmup_steps=steps // 4, batch_size=256, eval_every=steps,
                               eval_episodes=1, network=NetworkConfig(hidden_sizes=(400, 300)),
                               out=str(tmp), tensorboard=False, progress=False, **kw)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--actors", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--delays", type=float, nargs="+", default=[0.5, 2.0, 10.0], metavar="MS")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--curve-steps", type=int, default=10_000)
    p.add_argument("--tmp", type=Path, default=Path("/tmp/ddpg-distributed-bench"))
    p.add_argument("--out", type=Path, default=Path("docs/scaling-collection.md"))
    a = p.parse_args()
    ray.init(include_dashboard=False, log_to_driver=False)
    cpus = int(ray.cluster_resources()["CPU"])
    rows = []
    for ms in a.delays:
        single = rates(base(a.tmp / "single", a.steps), ms)
        rows.append({"delay_ms": ms, "actors": 0, "steps_per_s": single[0],
                     "updates_per_s": single[1]})
        print(rows[-1], flush=True)
        for k in a.actors:
            r = rates(base(a.tmp / f"k{k}", a.steps, actors=k, learner_rate="max"), ms)
            rows.append({"delay_ms": ms, "actors": k, "steps_per_s": r[0],
                         "updates_per_s": r[1], "ratio": r[0] / single[0]})
            print(rows[-1], flush=True)
    curves = {}
    for k in (0, 4):
        cfg = dataclasses.replace(from_preset("pendulum"), total_steps=a.curve_steps,
                                  eval_every=1000, eval_episodes=5, actors=k,
                                  out=str(a.tmp / f"curve{k}"), tensorboard=False,
                                  progress=False)
        t = time.perf_counter()
        res = ddpg.train(cfg, env=slowed("Pendulum-v1", 2.0))
        curves[k] = ([(r["step"], r["eval_return_mean"]) for r in res.evaluations],
                     time.perf_counter() - t)
        print(k, curves[k], flush=True)
    ray.shutdown()
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {cpu_model()} ({cpus} CPUs for Ray), "
             f"`python benchmarks/distributed_collection.py`, 400-300 networks, batch 256, "
             f"{a.steps} steps a run (a quarter warm-up).", "",
             "| delay / step | actors | env steps/s | learner updates/s | steps/s vs one process |",
             "|---|---|---|---|---|"]
    for r in rows:
        who = "one process (--actors 0)" if r["actors"] == 0 else str(r["actors"])
        ratio = f"{r['ratio']:.2f}x" if "ratio" in r else "1.00x"
        lines.append(f"| {r['delay_ms']:g} ms | {who} | {r['steps_per_s']:.0f} | "
                     f"{r['updates_per_s']:.0f} | {ratio} |")
    lines += ["", "Learning, `pendulum` preset on Pendulum-v1 slowed to 2 ms/step, noise-free "
                  "evaluation (5 episodes) at equal collected steps, one update per transition:",
              "", "| step | one process | 4 actors |", "|---|---|---|"]
    for (s, r0), (_, r4) in zip(curves[0][0], curves[4][0]):
        lines.append(f"| {s} | {r0:.0f} | {r4:.0f} |")
    lines.append(f"| wall time | {curves[0][1]:.0f} s | {curves[4][1]:.0f} s |")
    a.out.write_text("\n".join(lines) + "\n")
    (a.out.with_suffix(".json")).write_text(json.dumps({"rows": rows, "curves": {
        str(k): v for k, v in curves.items()}}, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
