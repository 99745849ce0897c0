"""ddpg.train with callbacks: `on_eval` prints each evaluation and stops the run early (by
returning False) once the noise-free return reaches a threshold; `on_step` follows the noisy
training episodes. Then the saved policy is loaded back and asked for one action.

    python examples/callbacks.py                        # Pendulum-v1, stops at -200 (solved)
    python examples/callbacks.py --steps 2000 --threshold -1000 --out /tmp/runs
"""

import argparse
import dataclasses

import gymnasium as gym

import ddpg
from ddpg.config import fit_budget, from_preset
from ddpg.results import StepContext


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10_000, help="most environment steps to train")
    p.add_argument("--threshold", type=float, default=-200.0,
                   help="stop once the evaluation return reaches this (-200: Pendulum solved)")
    p.add_argument("--eval-every", type=int, default=None,
                   help="steps between evaluations (default: the preset's 1,000)")
    p.add_argument("--out", default="runs", help="parent folder of the run directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")
    a = p.parse_args()

    # The preset tuned for Pendulum-v1; fit_budget shortens its 1,000-step warm-up and 1,000-step
    # evaluation interval when --steps is too short for them (as `ddpg train --total-steps` does).
    chosen = {} if a.eval_every is None else {"eval_every": a.eval_every}
    config = dataclasses.replace(from_preset("pendulum"), **chosen)
    config, notes = fit_budget(config, a.steps, explicit=set(chosen))
    config = dataclasses.replace(config, seed=a.seed, out=a.out, threads=a.threads,
                                 progress=False, tensorboard=False)
    if notes:
        print(f"fitted to {a.steps} steps: warm-up {config.warmup_steps}, evaluation every "
              f"{config.eval_every}")

    train_returns, running = [], 0.0

    def on_step(ctx: StepContext) -> None:
        """After every environment step: sum the (noisy) training episode's rewards."""
        nonlocal running
        running += float(ctx.rewards.sum())
        if ctx.episodes > len(train_returns):  # an episode ended at this step
            train_returns.append(running)
            running = 0.0

    def on_eval(row: dict) -> bool:
        """After every evaluation: print it; returning False ends the run."""
        print(f"step {row['step']:>6}: eval return {row['eval_return_mean']:9.1f} "
              f"+- {row['eval_return_std']:.1f}, sigma {row['sigma']:.2f}")
        return row["eval_return_mean"] < a.threshold

    result = ddpg.train(config, env="Pendulum-v1", on_step=on_step, on_eval=on_eval)
    last = result.evaluations[-1]["step"]
    why = "reached the threshold" if result.final_return >= a.threshold else "ran out of steps"
    print(f"stopped at step {last} of {a.steps} ({why}); final return {result.final_return:.1f}")
    if train_returns:
        print(f"training episodes: {len(train_returns)}, the last one's return (with "
              f"exploration noise) {train_returns[-1]:.1f}")

    policy = ddpg.load(result.run_dir)  # what the run saved, read back from disk
    obs, _ = gym.make("Pendulum-v1").reset(seed=a.seed)
    action = policy.act(obs)  # numpy in, action in the environment's units out
    print(f"run directory: {result.run_dir}")
    print(f"observation {_fmt(obs)} -> action {_fmt(action)} (bounds {_fmt(policy.low)} to "
          f"{_fmt(policy.high)})")


if __name__ == "__main__":
    main()
