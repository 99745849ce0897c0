"""Noise-free evaluation on a separate environment, over a fixed list of episode seeds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import gymnasium as gym
import numpy as np


def episode_seeds(first: int, episodes: int) -> list[int]:
    """The fixed evaluation seeds: first, first + 1, ... (the same in every run)."""
    return [first + i for i in range(episodes)]


@dataclass
class Evaluation:
    returns: np.ndarray  # undiscounted return of each episode
    lengths: np.ndarray  # steps of each episode
    q_estimate: float | None = None  # mean critic estimate Q(s, mu(s)) over the states below
    mc_return: float | None = None  # mean discounted return actually obtained from them


def episode_cap(env: gym.Env, max_steps: int) -> int | None:
    """`max_steps` for an environment without a time limit of its own, else None (its own
    limit ends its episodes)."""
    spec = getattr(env, "spec", None)
    return None if spec is not None and spec.max_episode_steps else max_steps


def discounted_returns_to_go(rewards: Sequence[float], gamma: float) -> np.ndarray:
    """G_t = sum_k gamma^k r_{t+k} for every t of an episode."""
    g, out = 0.0, np.zeros(len(rewards))
    for t in range(len(rewards) - 1, -1, -1):
        g = rewards[t] + gamma * g
        out[t] = g
    return out


def evaluate(act: Callable[[np.ndarray], np.ndarray], env: gym.Env, seeds: Sequence[int],
             q_fn: Callable[[np.ndarray], np.ndarray] | None = None,
             gamma: float = 0.99, max_steps: int | None = None,
             should_stop: Callable[[], bool] | None = None) -> Evaluation | None:
    """Run one episode per seed with `act` (one observation to one action in the env's units,
    no exploration noise). With `q_fn` (observations to Q(s, mu(s))), also compare the critic
    with the discounted Monte-Carlo return from the states visited. In an episode cut by a time
    limit the return-to-go of the last states is truncated, so only states at least
    H = log(0.01) / log(gamma) steps before the cut count (the missing tail is < 1 %); after a
    termination every state counts. `max_steps` cuts an episode (as a time limit would) for
    environments without one of their own; `should_stop` is asked after every step, and when it
    says yes the evaluation is abandoned and None returned."""
    returns, lengths = np.zeros(len(seeds)), np.zeros(len(seeds), dtype=np.int64)
    qs, gs = [], []
    for i, seed in enumerate(seeds):
        obs, _ = env.reset(seed=int(seed))
        observations, rewards = [], []
        terminated = truncated = False
        while not (terminated or truncated):
            observations.append(obs)
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            rewards.append(float(reward))
            if max_steps is not None and len(rewards) >= max_steps:
                truncated = True
            if should_stop is not None and should_stop():
                return None
        returns[i], lengths[i] = sum(rewards), len(rewards)
        if q_fn is not None:
            g = discounted_returns_to_go(rewards, gamma)
            horizon = math.ceil(math.log(0.01) / math.log(gamma)) if 0 < gamma < 1 else 0
            n = len(rewards) if terminated else max(len(rewards) - horizon, 1)
            qs.append(q_fn(np.asarray(observations[:n])))
            gs.append(g[:n])
    if q_fn is None:
        return Evaluation(returns, lengths)
    return Evaluation(returns, lengths, float(np.concatenate(qs).mean()),
                      float(np.concatenate(gs).mean()))
