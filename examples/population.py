"""A population: several seeds trained together in one process (`ddpg.train(config,
seeds=...)`, one batched update for all members), then their learning curves drawn as the mean
over members with a band from the lowest to the highest member.

    python examples/population.py          # 5 seeds x 10,000 steps of Pendulum-v1, 2-3 min
    python examples/population.py --seeds 3 --steps 3000 --out curves.png
"""

import argparse
import dataclasses
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import ddpg
from ddpg.config import fit_budget, from_preset


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="members: seeds 0 .. N-1")
    p.add_argument("--steps", type=int, default=10_000, help="environment steps per member")
    p.add_argument("--runs", default="runs", help="parent folder of the population's folder")
    p.add_argument("--out", default="runs/population.png", help="the plot (PNG) to write")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")
    a = p.parse_args()

    # The Pendulum-v1 preset, its warm-up and evaluation interval fitted to --steps.
    config, _ = fit_budget(from_preset("pendulum"), a.steps, explicit=set())
    config = dataclasses.replace(config, out=a.runs, threads=a.threads, progress=False,
                                 tensorboard=False)
    pop = ddpg.train(config, env="Pendulum-v1", seeds=range(a.seeds))  # a PopulationResult

    for name, final in pop.final_returns().items():  # None for a member that diverged
        print(f"{name}: final return {'diverged' if final is None else f'{final:.1f}'}")
    print(f"population folder: {pop.directory} ({pop.wall_time_s:.0f} s)")

    # Every member evaluates at the same steps, so curves stack into (members, evaluations).
    done = [r for r in pop.results if r is not None]
    steps = np.array([row["step"] for row in done[0].evaluations])
    curves = np.array([[row["eval_return_mean"] for row in r.evaluations] for r in done])
    plt.switch_backend("Agg")  # draw to a file; no display needed
    plt.figure(figsize=(6, 4))
    plt.plot(steps, curves.mean(axis=0), label=f"mean of {len(done)} seeds")
    plt.fill_between(steps, curves.min(axis=0), curves.max(axis=0), alpha=0.3,
                     label="lowest to highest seed")
    plt.xlabel("environment steps")
    plt.ylabel("noise-free evaluation return")
    plt.title(f"{config.env}, {config.algo.upper()}, preset {config.preset}")
    plt.legend()
    plt.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    plt.savefig(a.out, dpi=100)
    print(f"plot: {a.out}")


if __name__ == "__main__":
    main()
