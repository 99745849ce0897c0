"""DDPG+HER on FetchReach-v4: ddpg (the fetchreach preset, seeds as one population) against
stable-baselines3's DDPG + HerReplayBuffer at the same settings (issue 33's bar), in one run.

Needs the fetch extra (gymnasium-robotics with mujoco 3.3.7) and stable-baselines3, in an
environment of their own (pyproject.toml says why):

    python -m venv .venv-fetch && .venv-fetch/bin/pip install -e '.[fetch]' stable-baselines3
    .venv-fetch/bin/python benchmarks/fetchreach_her.py --out docs/fetchreach-her.json

1. Speed: the whole training loop (warm-up included) of one seed for --speed-steps steps, ddpg
   and SB3 alternately, --repeats times each, every run in a fresh process with the same torch
   threads; steps/s and ddpg's ratio to SB3's (medians). Both clocks start after the imports
   (torch, the library, gymnasium-robotics) and take in making the environments, the model and
   its replay buffer, and the training.
2. Learning: ddpg's seeds as one population for --steps steps, and SB3 seed by seed, both
   evaluated every 1,000 steps on 20 noise-free episodes (the same episode seeds): success rate
   (info["is_success"] at an episode's end) and the first step each seed reaches >= 0.95.

The same settings on both sides: 'future' relabelling with k = 4, three hidden layers of 256,
batch 256, gamma 0.95, tau 0.05, Adam 1e-3, Gaussian exploration 0.2, 1,000 steps before
training, one update per step, replay 1e6. Differences by design: ddpg normalises observations
and goals (clipped at 5, as the HER papers do; SB3's DDPG has no such option outside
VecNormalize); SB3 adds its exploration noise to the warm-up's random actions too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = dict(k=4, hidden=[256, 256, 256], batch=256, gamma=0.95, tau=0.05, lr=1e-3,
                sigma=0.2, warmup=1000, buffer=1_000_000)
EVAL_EVERY, EVAL_EPISODES, BAR = 1000, 20, 0.95

SB3 = r"""
import json, sys, time
import numpy as np, torch, gymnasium as gym, gymnasium_robotics
from stable_baselines3 import DDPG, HerReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.noise import NormalActionNoise
from ddpg.evaluation import episode_seeds, evaluate
gym.register_envs(gymnasium_robotics)
seed, steps, threads, do_eval = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
s = json.loads(sys.argv[5])
torch.set_num_threads(threads)
t = time.perf_counter()
env, eval_env = gym.make("FetchReach-v4"), gym.make("FetchReach-v4")
n = env.action_space.shape[0]
model = DDPG("MultiInputPolicy", env, learning_rate=s["lr"], buffer_size=s["buffer"],
             learning_starts=s["warmup"], batch_size=s["batch"], tau=s["tau"], gamma=s["gamma"],
             action_noise=NormalActionNoise(np.zeros(n), s["sigma"] * np.ones(n)),
             replay_buffer_class=HerReplayBuffer,
             replay_buffer_kwargs=dict(n_sampled_goal=s["k"], goal_selection_strategy="future"),
             policy_kwargs=dict(net_arch=s["hidden"]), seed=seed, verbose=0)
curve = []
class Eval(BaseCallback):
    def _on_step(self):
        if do_eval and self.num_timesteps % %EVERY% == 0:
            ev = evaluate(lambda o: model.predict(o, deterministic=True)[0], eval_env,
                          episode_seeds(0, %EPISODES%))
            curve.append([self.num_timesteps, float(ev.successes.mean())])
        return True
model.learn(steps, callback=Eval())
print(json.dumps({"wall_s": time.perf_counter() - t, "curve": curve}))
""".replace("%EVERY%", str(EVAL_EVERY)).replace("%EPISODES%", str(EVAL_EPISODES))

DDPG = r"""
import json, sys, time
import gymnasium as gym, gymnasium_robotics
import ddpg, ddpg.trainer, ddpg.population.run
from ddpg.config import from_preset
gym.register_envs(gymnasium_robotics)
seeds, steps, threads, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = from_preset("fetchreach", total_steps=steps, eval_every=%EVERY% if sys.argv[5] == "1" else 0,
                eval_episodes=%EPISODES% if sys.argv[5] == "1" else 1, threads=threads, out=out, progress=False,
                tensorboard=False, checkpoint_every=0, eval_seed=0, precision=sys.argv[6])
t = time.perf_counter()
res = ddpg.train(c, seeds=seeds) if "-" in seeds or "," in seeds else ddpg.train(
    c.__class__(**{**c.__dict__, "seed": int(seeds)}))
wall = time.perf_counter() - t
members = res.results if hasattr(res, "results") else [res]
print(json.dumps({"wall_s": wall, "curves": [[[r["step"], r.get("eval_success_rate")]
                                              for r in m.evaluations] for m in members]}))
""".replace("%EVERY%", str(EVAL_EVERY)).replace("%EPISODES%", str(EVAL_EPISODES))


def _run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"a run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_at(curve: list, bar: float) -> int | None:
    return next((step for step, rate in curve if rate is not None and rate >= bar), None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0-4", help="ddpg's population and SB3's seeds")
    p.add_argument("--sb3-seeds", type=int, default=5, help="how many of them SB3 runs")
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--speed-steps", type=int, default=3_000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip", choices=["speed", "learning"], action="append", default=[])
    p.add_argument("--tmp", default="/tmp/fetchreach-her")
    p.add_argument("--precision", choices=["fp32", "bf16"], nargs="+", default=["fp32"],
                   help="ddpg's --precision, each timed in the speed part (SB3 stays fp32; bf16 "
                        "needs native bf16); the learning part uses the first")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    from ddpg.system import cpu_model
    from ddpg.population import parse_seeds

    result: dict = {"cpu": cpu_model(), "threads": a.threads, "settings": SETTINGS,
                    "ddpg_precision": a.precision[0],
                    "eval": {"every": EVAL_EVERY, "episodes": EVAL_EPISODES, "bar": BAR}}
    s = json.dumps(SETTINGS)
    if "speed" not in a.skip:
        libs = [f"ddpg-{p}" for p in a.precision] + ["sb3"]
        runs: dict[str, list[float]] = {lib: [] for lib in libs}
        for i in range(a.repeats):
            for lib in libs:
                r = (_run(DDPG, "0", str(a.speed_steps), str(a.threads), f"{a.tmp}/speed{i}", "0",
                          lib.split("-")[1]) if lib != "sb3" else
                     _run(SB3, "0", str(a.speed_steps), str(a.threads), "0", s))
                runs[lib].append(a.speed_steps / r["wall_s"])
                print(f"speed {lib} run {i}: {runs[lib][-1]:.1f} steps/s", flush=True)
        med = {k: statistics.median(v) for k, v in runs.items()}
        result["speed"] = {"steps": a.speed_steps, "steps_per_s": runs, "median": med,
                           "ratio": {k: med[k] / med["sb3"] for k in libs[:-1]}}
        print("speed:", ", ".join(f"{k} {v:.1f} steps/s" for k, v in med.items()),
              "ratios", result["speed"]["ratio"], flush=True)
    if "learning" not in a.skip:
        seeds = parse_seeds(a.seeds)
        r = _run(DDPG, ",".join(map(str, seeds)) if len(seeds) > 1 else f"{seeds[0]},",
                 str(a.steps), str(a.threads), f"{a.tmp}/pop", "1", a.precision[0])
        ddpg_curves = dict(zip(map(str, seeds), r["curves"]))
        result["ddpg"] = {"wall_s": r["wall_s"], "curves": ddpg_curves,
                          "first_at_bar": {k: first_at(v, BAR) for k, v in ddpg_curves.items()}}
        print("ddpg:", result["ddpg"]["first_at_bar"], flush=True)
        sb3: dict = {}
        for seed in seeds[:a.sb3_seeds]:
            r = _run(SB3, str(seed), str(a.steps), str(a.threads), "1", s)
            sb3[str(seed)] = r
            print(f"sb3 seed {seed}: first >= {BAR} at {first_at(r['curve'], BAR)}, "
                  f"{a.steps / r['wall_s']:.1f} steps/s", flush=True)
        result["sb3"] = {"curves": {k: v["curve"] for k, v in sb3.items()},
                         "wall_s": {k: v["wall_s"] for k, v in sb3.items()},
                         "first_at_bar": {k: first_at(v["curve"], BAR) for k, v in sb3.items()}}
    Path(a.out).write_text(json.dumps(result, indent=1))
    print(f"written {a.out}")


if __name__ == "__main__":
    main()
