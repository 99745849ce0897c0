"""stable-baselines3's DDPG or TD3 run with the settings of a ddpg Config, written as a ddpg run
directory (config.yaml with `library: sb3`, metrics.csv with ddpg's columns), so that ddpg's plot
and statistics code reads both libraries alike.

Long because the mapping of each ddpg setting onto SB3's (noise and its schedule, networks,
learning rates) and the list of where they differ sit next to the runner that uses them.

Evaluation is ddpg's own `evaluate()`: noise-free actions (model.predict(obs, deterministic=True))
on a separate environment instance, on the fixed episode seeds of the config, at the same steps as
`ddpg train` (every eval_every steps and at the end), after that step's gradient updates.

What stays different, by SB3's design: one learning rate for actor and critic (critic_lr is used;
config.yaml records it when actor_lr differed); the warm-up's random actions get exploration
noise too; the first update comes one step later (SB3 trains once num_timesteps > learning_starts).
Settings SB3 has no equivalent for are listed under `sb3_differences` in config.yaml.
With --her.strategy (a goal-conditioned task), SB3 trains a MultiInputPolicy on the environment's
Dict observation with its HerReplayBuffer (the same strategy and k), and metrics.csv gains the
evaluation success rate, as ddpg's does.
SB3 runs cannot be resumed: a run directory of an earlier sb3 run is replaced.

    python -m ddpg.bench.baselines --env Pendulum-v1 --algo td3 --seed 0 --run-dir runs/sb3/td3-s0
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import yaml

from ddpg import config as cfgmod
from ddpg.bench.overrides import parse_override, resolve_config
from ddpg.config import Config
from ddpg.errors import ConfigError, EnvError
from ddpg.metrics import COLUMNS, METRICS_FILE, SUCCESS_COLUMNS
from ddpg.noise import SigmaSchedule
from ddpg.system import interruptible
from ddpg.untrusted import read_regular

LIBRARY = "sb3"


def sb3_differences(c: Config) -> dict[str, str]:
    """Settings of c that SB3 cannot reproduce, and what it does instead."""
    out: dict[str, str] = {}
    if c.actor_lr != c.critic_lr:
        out["actor_lr"] = (f"replaced by critic_lr: SB3 has one learning rate, so actor and "
                           f"critic both use {c.critic_lr:g} (actor_lr was {c.actor_lr:g})")
    unsupported = {"critic_weight_decay": (c.critic_weight_decay, 0.0),
                   "network.norm": (c.network.norm, "none"),
                   "network.critic_action_layer": (c.network.critic_action_layer, 0),
                   "network.init": (c.network.init, "default"),
                   "obs_norm": (c.obs_norm, False), "precision": (c.precision, "fp32"),
                   "compile": (c.compile, False), "device": (c.device, "cpu"),
                   "noise.random_eps": (c.noise.random_eps, 0.0),
                   "action_l2": (c.action_l2, 0.0),
                   "target_min": (c.target_min, -math.inf),
                   "target_max": (c.target_max, math.inf)}
    for key, (value, sb3_value) in unsupported.items():
        if value != sb3_value:
            out[key] = f"{value!r} not available in SB3; ran with {sb3_value!r}"
    if c.her.strategy != "none" and c.obs_norm:
        out["obs_norm"] = ("True not available in SB3's DDPG/TD3 (VecNormalize is a wrapper of "
                           "its own, not used here); ran without normalising observations and "
                           "goals")
    if c.noise.schedule != "constant":
        out["noise.schedule"] = ("emulated: the runner sets SB3's noise sigma from ddpg's "
                                 "schedule before every environment step")
    return out


def _activation(name: str):
    from torch import nn

    return {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}[name]


def _action_noise(c: Config, action_dim: int):
    from stable_baselines3.common.noise import (NormalActionNoise,
                                                OrnsteinUhlenbeckActionNoise,
                                                VectorizedActionNoise)

    mean, sigma = np.zeros(action_dim), c.noise.sigma * np.ones(action_dim)
    if c.noise.kind == "ou":
        noise = OrnsteinUhlenbeckActionNoise(mean, sigma, theta=c.noise.theta, dt=c.noise.dt)
    else:
        noise = NormalActionNoise(mean, sigma)
    return VectorizedActionNoise(noise, c.num_envs) if c.num_envs > 1 else noise


def _set_sigma(noise: Any, sigma: float) -> None:
    """Set the scale of SB3's (possibly vectorised) action noise; SB3 keeps it in `_sigma`."""
    for n in getattr(noise, "noises", [noise]):
        n._sigma = np.full_like(n._sigma, sigma)


def make_model(c: Config):
    """SB3's DDPG or TD3 with c's settings (the mapping is the module docstring's)."""
    from stable_baselines3 import DDPG, TD3
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    env = DummyVecEnv([lambda: Monitor(_sb3_env(c))] * c.num_envs)
    kwargs: dict[str, Any] = dict(
        learning_rate=c.critic_lr, buffer_size=c.buffer_size, learning_starts=c.warmup_steps,
        batch_size=c.batch_size, tau=c.tau, gamma=c.gamma, train_freq=1,
        gradient_steps=c.updates_per_step * c.num_envs,
        action_noise=_action_noise(c, env.action_space.shape[0]),
        policy_kwargs={"net_arch": list(c.network.hidden_sizes),
                       "activation_fn": _activation(c.network.activation)},
        seed=c.seed, device="cpu", verbose=0)
    policy = "MlpPolicy"
    if c.her.strategy != "none":
        from stable_baselines3 import HerReplayBuffer

        policy = "MultiInputPolicy"
        kwargs.update(replay_buffer_class=HerReplayBuffer, replay_buffer_kwargs={
            "n_sampled_goal": c.her.k, "goal_selection_strategy": c.her.strategy})
    if c.algo == "td3":
        return TD3(policy, env, policy_delay=c.td3.policy_delay,
                   target_policy_noise=c.td3.target_noise,
                   target_noise_clip=c.td3.target_noise_clip, **kwargs)
    return DDPG(policy, env, **kwargs)


def _sb3_env(c: Config):
    """c.env as SB3 takes it: ddpg's make, with a goal-conditioned task left as its Dict (SB3's
    HerReplayBuffer and MultiInputPolicy read the keys themselves)."""
    from ddpg.envs import make
    from ddpg.goals import find_goal_env

    env = make(c.env)
    if c.her.strategy == "none":
        return env
    goal = find_goal_env(env)
    if goal is None:
        raise ConfigError(f"her.strategy={c.her.strategy!r} needs a goal-conditioned "
                          f"environment; {c.env} has a flat observation. Drop --her.strategy.")
    return goal.env


# --- the run -------------------------------------------------------------------------------------

def _callback(c: Config, evaluate_at: Callable[[int, dict[str, Any]], None]):
    """An SB3 callback that evaluates at ddpg's evaluation steps, after that step's updates (at
    the start of the next rollout, or at the end), with the mean losses since the last one."""
    from stable_baselines3.common.callbacks import BaseCallback

    schedule = SigmaSchedule(c.noise.sigma, c.noise.schedule, c.noise.final_sigma,
                             c.noise.decay_steps)
    every = c.eval_every or c.total_steps

    class Evaluator(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_eval, self.last_eval = every, -1
            self.losses: dict[str, list[float]] = {"critic_loss": [], "actor_loss": []}

        def _take_losses(self) -> None:  # what SB3's train() logged since the last call
            values = self.model.logger.name_to_value
            for k, acc in self.losses.items():
                if f"train/{k}" in values:
                    acc.append(float(values.pop(f"train/{k}")))

        def _evaluate(self) -> None:
            while self.next_eval <= self.num_timesteps:
                self.next_eval += every
            means = {k: (float(np.mean(v)) if v else "") for k, v in self.losses.items()}
            evaluate_at(self.num_timesteps, means)
            self.losses = {k: [] for k in self.losses}
            self.last_eval = self.num_timesteps

        def _on_rollout_start(self) -> None:
            self._take_losses()
            if self.next_eval <= self.num_timesteps < c.total_steps:
                self._evaluate()
            if c.noise.schedule != "constant":
                _set_sigma(self.model.action_noise, schedule(self.num_timesteps))

        def _on_step(self) -> bool:
            return True

        def _on_training_end(self) -> None:
            self._take_losses()
            if self.last_eval != self.num_timesteps:
                self._evaluate()

    return Evaluator(), schedule


def _prepare_run_dir(run_dir: Path) -> None:
    """Create run_dir, replacing an earlier sb3 run there; refuse to touch anything else."""
    if run_dir.exists() and any(run_dir.iterdir()):
        try:
            saved = yaml.safe_load(read_regular(run_dir / "config.yaml").decode("utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            saved = None
        if not (isinstance(saved, dict) and saved.get("library") == LIBRARY):
            raise ConfigError(f"run_dir={str(run_dir)!r} exists and is not an sb3 run directory "
                              f"(no config.yaml with library: sb3); pass a new or empty "
                              f"directory.")
        print(f"replacing the earlier sb3 run in {run_dir} (sb3 runs cannot be resumed)",
              file=sys.stderr)
        shutil.rmtree(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"run_dir={str(run_dir)!r}: cannot create it ({e.strerror or e}); "
                          f"choose a writable directory.") from e


def run_sb3(config: Config, run_dir: Path) -> None:
    """Train SB3's DDPG or TD3 (config.algo) with config's settings; write config.yaml (ddpg's
    config plus `library: sb3` and `sb3_differences`) and metrics.csv (ddpg's COLUMNS; q_mean
    stays empty: SB3 does not log it) into run_dir, replacing an earlier sb3 run there."""
    import stable_baselines3
    import torch

    from ddpg.evaluation import episode_seeds, evaluate
    from ddpg.system import available_cores

    run_dir = Path(run_dir)
    torch.set_num_threads(config.threads or available_cores())
    eval_env = _sb3_env(config)  # an unusable environment fails here, before run_dir is touched
    goal = config.her.strategy != "none"
    columns = COLUMNS + (SUCCESS_COLUMNS if goal else ())
    model = make_model(config)
    _prepare_run_dir(run_dir)
    differences = sb3_differences(config)
    for key, why in differences.items():
        print(f"sb3 baseline: {key}: {why}", file=sys.stderr)
    where = dataclasses.replace(config, out=str(run_dir.parent), run_name=run_dir.name)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(
        {**cfgmod.to_dict(where), "library": LIBRARY,
         "sb3_version": stable_baselines3.__version__, "sb3_differences": differences},
        sort_keys=False))

    seeds = episode_seeds(config.eval_seed, config.eval_episodes)
    policy = model.policy

    def act(obs: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    @torch.no_grad()
    def q_value(obs: Any) -> np.ndarray:  # Q1(s, mu(s)), as ddpg logs for TD3
        if isinstance(obs, np.ndarray) and obs.dtype == object:  # a goal task's Dicts
            obs = {k: np.stack([o[k] for o in obs]) for k in obs[0]}
        s = policy.obs_to_tensor(obs)[0]
        return policy.critic.q1_forward(s, policy.actor(s)).squeeze(-1).numpy()

    with open(run_dir / METRICS_FILE, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        f.flush()
        start = time.perf_counter()

        def evaluate_at(step: int, losses: dict[str, Any]) -> None:
            policy.set_training_mode(False)
            ev = evaluate(act, eval_env, seeds, q_value, config.gamma)
            elapsed = time.perf_counter() - start
            episodes = model.ep_info_buffer
            row = {"step": step, "episodes": model._episode_num, "updates": model._n_updates,
                   "eval_return_mean": float(ev.returns.mean()),
                   "eval_return_std": float(ev.returns.std()),
                   "train_return_last": float(episodes[-1]["r"]) if episodes else "",
                   **losses, "q_mean": "", "sigma": schedule(step), "q_estimate": ev.q_estimate,
                   "mc_return": ev.mc_return, "time_s": round(elapsed, 3),
                   "steps_per_s": round(step / max(elapsed, 1e-9), 2)}
            if goal:
                row["eval_success_rate"] = ("" if ev.successes is None
                                            else float(ev.successes.mean()))
            writer.writerow({k: row.get(k, "") for k in columns})
            f.flush()
            print(f"step {step:>8}  eval {row['eval_return_mean']:9.1f} "
                  f"+- {row['eval_return_std']:6.1f}  {row['steps_per_s']:7.1f} steps/s",
                  file=sys.stderr, flush=True)

        callback, schedule = _callback(config, evaluate_at)
        try:
            model.learn(config.total_steps, callback=callback, log_interval=None)
        finally:
            model.env.close()
            eval_env.close()


# --- command line --------------------------------------------------------------------------------

DESCRIPTION = """Train stable-baselines3's DDPG or TD3 with the settings `ddpg train` would use
(the same flags resolve the same config: the preset, else the tuned preset of --env and --algo,
then the flags) and write a ddpg run directory: config.yaml (the config, `library: sb3`, and the
settings SB3 could not reproduce under `sb3_differences`) and metrics.csv (ddpg's columns, one
row per noise-free evaluation on ddpg's fixed episode seeds). SB3 has one learning rate:
critic_lr is used for actor and critic. SB3 runs cannot be resumed: an earlier sb3 run in
--run-dir is deleted and run again."""

EPILOG = """examples:
  python -m ddpg.bench.baselines --env Pendulum-v1 --algo td3 --seed 0 --run-dir runs/sb3/td3-s0
  python -m ddpg.bench.baselines --env HalfCheetah-v5 --total-steps 50000 --threads 1 \\
      --set network.hidden-sizes='[256, 256]' --set warmup-steps=5000 --run-dir runs/sb3/hc

exit status: 0 trained, 2 bad input (unknown key or value, environment, missing package)."""


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ddpg.bench.baselines", description=DESCRIPTION,
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default=None, help="gymnasium environment id (default: Pendulum-v1)")
    p.add_argument("--algo", choices=("ddpg", "td3"), default=None,
                   help="SB3 algorithm (default: the preset's, else ddpg)")
    p.add_argument("--seed", type=int, default=None, help="seed of SB3 and the training "
                   "environment (default: the preset's, 0)")
    p.add_argument("--total-steps", type=int, default=None, metavar="N",
                   help="environment steps (default: the preset's)")
    p.add_argument("--preset", default=None, help="named preset (see `ddpg presets`); default: "
                   "the tuned preset of --env and --algo, as in `ddpg train`")
    p.add_argument("--eval-every", type=int, default=None, metavar="K",
                   help="evaluate every K environment steps, 0: only at the end (default: the "
                        "preset's)")
    p.add_argument("--eval-episodes", type=int, default=None, metavar="M",
                   help="episodes per evaluation (default: the preset's)")
    p.add_argument("--threads", type=int, default=None, metavar="T",
                   help="torch threads, 0: one per available core (default: 0)")
    p.add_argument("--set", type=parse_override, action="append", default=[], metavar="KEY=VALUE",
                   dest="overrides", help="any other config value, with `ddpg train`'s flag name "
                   "and a YAML value, e.g. --set warmup-steps=100 --set "
                   "'network.hidden-sizes=[16, 16]'; repeat for several")
    p.add_argument("--run-dir", type=Path, required=True, metavar="DIR",
                   help="the run directory to write (created; an earlier sb3 run is replaced)")
    try:
        a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    flags = {"seed": a.seed, "total-steps": a.total_steps, "eval-every": a.eval_every,
             "eval-episodes": a.eval_episodes, "threads": a.threads}
    overrides = {**dict(a.overrides), **{k: v for k, v in flags.items() if v is not None}}
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        print("python -m ddpg.bench.baselines: error: stable-baselines3 is not installed; "
              "pip install -e '.[bench]'.", file=sys.stderr)
        return 2
    try:
        config = resolve_config(a.env, a.algo, a.preset, overrides, "flags")
        with interruptible():
            run_sb3(config, a.run_dir)
    except (ConfigError, EnvError) as e:
        print(f"python -m ddpg.bench.baselines: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"python -m ddpg.bench.baselines: interrupted; {a.run_dir} is unfinished (sb3 runs "
              f"cannot be resumed: run the command again to start over).", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
