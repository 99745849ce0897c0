"""One collector: what a Ray actor of a distributed run does (Ape-X style, Horgan et al. 2018).

It owns `num_envs` copies of the environment, its own exploration noise with its own sigma, its
own random streams (derived from the run's seed and its index), and a copy of the policy that
the learner refreshes (`set_weights`). `collect(n, step, warmup_left)` steps its environments n
times and returns the transitions as arrays, with the episodes that ended and the version (the
learner's update count) of the weights it acted with. Each row also says which of its
environments it came from and whether it ended that environment's episode, and `cuts` lists the
environments reset after a dropped (non-finite) transition, as (rows before it, env): what
hindsight replay's episode index (ddpg.her) needs on the learner. Nothing here imports Ray:
the learner wraps this class with `ray.remote`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import torch

from ddpg.config import Config, NoiseConfig
from ddpg.envs import (SameStepVectorEnv, drop_nonfinite, final_observations, fresh_env,
                       to_env_action)
from ddpg.networks import Actor
from ddpg.noise import make_noise, with_random_actions
from ddpg.normalization import RunningNorm


def collector_sigma(sigma: float, index: int, actors: int, spread: float) -> float:
    """Actor `index`'s exploration sigma: spread geometrically from sigma / spread (actor 0) to
    sigma * spread (the last actor) around the configured sigma, so some actors explore less and
    some more (Ape-X spreads its epsilons the same way); one actor keeps sigma."""
    if actors <= 1 or spread == 1.0:
        return sigma
    return sigma * spread ** (2.0 * index / (actors - 1) - 1.0)


class Collector:
    def __init__(self, env: Any, config: dict[str, Any], index: int, sigma: float,
                 low: np.ndarray, high: np.ndarray) -> None:
        torch.set_num_threads(1)  # acting is one small forward pass per step
        c = config
        self.index, self.low, self.high = index, low, high
        n = c["num_envs"]
        self.envs = SameStepVectorEnv([lambda: fresh_env(env)] * n)
        self.obs_dim = int(self.envs.single_observation_space.shape[0])
        self.action_dim = int(self.envs.single_action_space.shape[0])
        warmup, noise = np.random.SeedSequence([c["seed"], index + 1]).spawn(2)
        self.warmup_rng = np.random.default_rng(warmup)
        fields = {f.name for f in dataclasses.fields(NoiseConfig)}
        noise_cfg = NoiseConfig(**{k: v for k, v in c["noise"].items() if k in fields})
        self.noise = make_noise(dataclasses.replace(noise_cfg, sigma=sigma), n, self.action_dim,
                                np.random.default_rng(noise))
        self.random_eps = noise_cfg.random_eps
        net = c["network"]
        self.actor = Actor(self.obs_dim, self.action_dim, 1.0, tuple(net["hidden_sizes"]),
                           net["activation"], net["norm"], net["init"]).eval()
        self.norm = RunningNorm(self.obs_dim) if c["obs_norm"] else None
        self.version = -1  # no weights yet: the learner sends them before the first collect
        self.on_nonfinite = c["on_nonfinite"]
        first_seed = c["seed"] + 1_000_003 * (index + 1)  # apart from other actors' and eval's
        self.obs, _ = self.envs.reset(seed=[first_seed + i for i in range(n)])
        self.ep_return, self.ep_len = np.zeros(n), np.zeros(n, dtype=np.int64)

    def where(self) -> dict[str, Any]:
        import ray

        return {"index": self.index, "node_id": ray.get_runtime_context().get_node_id(),
                "pid": os.getpid()}

    def set_weights(self, weights: dict[str, Any]) -> None:
        self.actor.load_state_dict(weights["actor"])
        if self.norm is not None and weights["obs_norm"] is not None:
            self.norm.load_state_dict(weights["obs_norm"])
        self.version = int(weights["version"])

    @torch.no_grad()
    def _act(self, step: int) -> np.ndarray:
        o = np.asarray(self.obs, dtype=np.float32)
        if self.norm is not None:
            o = self.norm.normalize(o)
        a = self.actor(torch.from_numpy(o)).numpy()
        a = np.clip(a + self.noise.sample(step), -1.0, 1.0).astype(np.float32)
        return with_random_actions(a, self.random_eps, self.noise.rng)

    def collect(self, n: int, step: int, warmup_left: int) -> dict[str, Any]:
        """n steps of every environment from global step `step` (the noise schedule's), with
        uniform random actions while `warmup_left` transitions of warm-up remain."""
        envs = self.envs.num_envs
        rows: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "actions", "rewards",
                                                              "next_obs", "terminated")}
        episodes: list[tuple[float, int]] = []
        env_of: list[np.ndarray] = []
        ended: list[np.ndarray] = []
        cuts: list[tuple[int, int]] = []
        stored, skipped = 0, 0
        for t in range(n):
            if warmup_left > t * envs:
                action = self.warmup_rng.uniform(-1.0, 1.0, (envs, self.action_dim))
                action = action.astype(np.float32)
            else:
                action = self._act(step + t * envs)
            next_obs, reward, terminated, truncated, info = self.envs.step(
                to_env_action(action, self.low, self.high))
            final = final_observations(next_obs, info)
            done = np.logical_or(terminated, truncated)
            good = np.ones(envs, dtype=bool)
            if not (np.isfinite(final).all() and np.isfinite(reward).all()):
                good = drop_nonfinite(self.envs, final, reward, done, next_obs,
                                      self.on_nonfinite, f"in collector {self.index}")
                skipped += int((~good).sum())
                done = done | ~good
            for key, value in (("obs", self.obs), ("actions", action), ("rewards", reward),
                               ("next_obs", final), ("terminated", terminated)):
                rows[key].append(np.asarray(value)[good])
            env_of.append(np.flatnonzero(good))
            ended.append(done[good])
            stored += int(good.sum())
            cuts += [(stored, int(e)) for e in np.flatnonzero(~good)]
            self.ep_return += np.where(good, reward, 0.0)
            self.ep_len += 1
            for i in np.flatnonzero(done):
                episodes.append((float(self.ep_return[i]), int(self.ep_len[i])))
            if done.any():
                self.noise.reset(done)
                self.ep_return[done], self.ep_len[done] = 0.0, 0
            self.obs = next_obs
        out = {k: np.concatenate(v).astype(np.float32) for k, v in rows.items()}
        out.update(episodes=episodes, version=self.version, steps=n * envs, skipped=skipped,
                   index=self.index, pid=os.getpid(), env=np.concatenate(env_of),
                   ended=np.concatenate(ended), cuts=cuts)
        return out
