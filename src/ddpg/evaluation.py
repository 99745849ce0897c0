"""Noise-free evaluation on a separate environment, over a fixed list of episode seeds."""

from __future__ import annotations

from typing import Callable, Sequence

import gymnasium as gym
import numpy as np


def episode_seeds(first: int, episodes: int) -> list[int]:
    """The fixed evaluation seeds: first, first + 1, ... (the same in every run)."""
    return [first + i for i in range(episodes)]


def evaluate(act: Callable[[np.ndarray], np.ndarray], env: gym.Env,
             seeds: Sequence[int]) -> np.ndarray:
    """Undiscounted return of each episode, the episode seeded with seeds[i]. `act` maps one
    observation to one action in the env's units, without exploration noise."""
    returns = np.zeros(len(seeds))
    for i, seed in enumerate(seeds):
        obs, _ = env.reset(seed=int(seed))
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            returns[i] += float(reward)
            done = terminated or truncated
    return returns
