"""The environment loop: collect with exploration noise, update, evaluate, log, save."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch

from ddpg import config as cfgmod
from ddpg.agent import DDPGAgent
from ddpg.buffer import ReplayBuffer
from ddpg.config import Config
from ddpg.envs import EnvLike, env_factory, to_env_action
from ddpg.errors import TrainingError
from ddpg.evaluation import episode_seeds, evaluate
from ddpg.logging import RunLogger
from ddpg.policy import POLICY_FILE, Policy


@dataclass
class StepContext:
    """What an `on_step` callback sees after each (vector) environment step."""

    step: int
    episodes: int
    rewards: np.ndarray
    agent: DDPGAgent


@dataclass
class TrainResult:
    agent: DDPGAgent
    policy: Policy
    run_dir: Path
    buffer: ReplayBuffer
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def final_return(self) -> float:
        return self.evaluations[-1]["eval_return_mean"]

    @property
    def steps_to_solve(self) -> Callable[[float], int | None]:
        """steps_to_solve(threshold): first evaluated step with mean return >= threshold."""
        return lambda threshold: next((r["step"] for r in self.evaluations
                                       if r["eval_return_mean"] >= threshold), None)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def seed_streams(seed: int) -> dict[str, Any]:
    """Independent random streams derived from one seed."""
    warmup, noise, sampling = np.random.SeedSequence(seed).spawn(3)
    gen = torch.Generator()
    gen.manual_seed(int(sampling.generate_state(1, np.uint64)[0] >> np.uint64(1)))
    return {"warmup": np.random.default_rng(warmup), "noise": np.random.default_rng(noise),
            "sampling": gen}


def make_run_dir(config: Config, env_name: str) -> Path:
    name = config.run_name or (
        f"{env_name.replace('/', '_')}-s{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir = Path(config.out) / name
    suffix = 1
    while run_dir.exists() and not config.run_name:  # never overwrite an earlier run
        run_dir = Path(config.out) / f"{name}-{suffix}"
        suffix += 1
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def train(config: Config | None = None, env: EnvLike | None = None, *,
          on_step: Callable[[StepContext], bool | None] | None = None,
          on_eval: Callable[[dict[str, Any]], bool | None] | None = None) -> TrainResult:
    """Train DDPG. `env` is an environment id, a gymnasium.Env or a function returning one
    (default: config.env). A callback returning False stops training early. Returns the agent,
    the noise-free policy (also saved as run_dir/policy.pt) and the evaluation rows."""
    config = config or cfgmod.resolve()
    factory, env_name = env_factory(env if env is not None else config.env)
    torch.set_num_threads(config.threads or available_cores())
    torch.manual_seed(config.seed)  # network initialisation
    rngs = seed_streams(config.seed)

    n = config.num_envs
    envs = gym.vector.SyncVectorEnv([factory] * n, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    eval_env = factory()
    space = envs.single_action_space
    low, high = space.low.astype(np.float32), space.high.astype(np.float32)
    obs_dim, action_dim = envs.single_observation_space.shape[0], space.shape[0]

    agent = DDPGAgent(obs_dim, action_dim, config, rngs["noise"])
    buffer = ReplayBuffer(min(config.buffer_size, config.total_steps), obs_dim, action_dim,
                          rngs["sampling"], config.device)
    run_dir = make_run_dir(config, env_name)
    (run_dir / "config.yaml").write_text(cfgmod.to_yaml(replace(config, env=env_name)))
    log = RunLogger(run_dir, config.total_steps, config.tensorboard, config.progress)
    meta = {"env": env_name, "obs_dim": obs_dim, "action_dim": action_dim,
            "network": cfgmod.to_dict(config)["network"], "seed": config.seed}
    seeds = episode_seeds(config.eval_seed, config.eval_episodes)
    result = TrainResult(agent, Policy(agent.actor, low, high, meta), run_dir, buffer)

    def act_eval(o: np.ndarray) -> np.ndarray:
        return to_env_action(agent.act(o[None])[0], low, high)

    sums = torch.zeros(3, device=agent.device)  # critic loss, actor loss, q since last eval
    n_sums = 0
    ep_return, ep_len = np.zeros(n), np.zeros(n, dtype=np.int64)
    episodes, step, next_eval = 0, 0, config.eval_every or config.total_steps
    stop = False
    obs, _ = envs.reset(seed=[config.seed + i for i in range(n)])
    try:
        while step < config.total_steps and not stop:
            if step < config.warmup_steps:
                action = rngs["warmup"].uniform(-1.0, 1.0, (n, action_dim)).astype(np.float32)
            else:
                action = agent.act(obs, step)
            next_obs, reward, terminated, truncated, info = envs.step(
                to_env_action(action, low, high))
            final_next = next_obs.copy()  # the real s' where an episode ended and autoreset
            if "_final_obs" in info:
                for i in np.flatnonzero(info["_final_obs"]):
                    final_next[i] = info["final_obs"][i]
            if not (np.all(np.isfinite(final_next)) and np.all(np.isfinite(reward))):
                raise TrainingError(
                    f"the environment returned a non-finite observation or reward at step "
                    f"{step} (reward={reward}); check the environment or wrap it to clip values.")
            buffer.add(obs, action, reward, final_next, terminated)
            obs = next_obs
            step += n
            ep_return += reward
            ep_len += 1
            done = np.logical_or(terminated, truncated)
            for i in np.flatnonzero(done):
                episodes += 1
                log.episode(step, float(ep_return[i]), int(ep_len[i]))
            if done.any():
                agent.noise.reset(done)
                ep_return[done], ep_len[done] = 0.0, 0

            if step >= config.warmup_steps:
                for _ in range(config.updates_per_step * n):
                    info_t = agent.update(buffer.sample(config.batch_size))
                    sums += torch.stack((info_t["critic_loss"], info_t["actor_loss"], info_t["q"]))
                    n_sums += 1
            if on_step is not None and on_step(StepContext(step, episodes, reward, agent)) is False:
                stop = True
            if step >= next_eval or step >= config.total_steps or stop:
                while next_eval <= step:
                    next_eval += config.eval_every or config.total_steps
                returns = evaluate(act_eval, eval_env, seeds)
                means = (sums / max(n_sums, 1)).tolist()  # the one host sync per evaluation
                if n_sums and not all(math.isfinite(x) for x in means):
                    raise TrainingError(
                        f"non-finite loss at step {step} (critic {means[0]}, actor {means[1]}); "
                        f"try a lower learning rate (critic_lr={config.critic_lr}) or a smaller "
                        f"tau (tau={config.tau}).")
                row = {"step": step, "episodes": episodes, "updates": agent.updates,
                       "eval_return_mean": float(returns.mean()),
                       "eval_return_std": float(returns.std()),
                       "train_return_last": log.last_episode if log.last_episode is not None
                       else "",
                       "critic_loss": means[0] if n_sums else "",
                       "actor_loss": means[1] if n_sums else "",
                       "q_mean": means[2] if n_sums else "",
                       "sigma": agent.noise.schedule(step)}
                sums.zero_()
                n_sums = 0
                log.evaluation(row)
                result.evaluations.append(row)
                if on_eval is not None and on_eval(row) is False:
                    stop = True
            elif step % 100 < n:
                log.step(step)
    finally:
        log.close()
        envs.close()
        eval_env.close()
    result.wall_time_s = log.elapsed
    result.policy.save(run_dir / POLICY_FILE)
    return result
