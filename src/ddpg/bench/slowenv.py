"""Environments made slower by a sleep per step: the cost of a simulator, for measuring and
testing distributed collection (`--actors`) without competing for the cores. Importable on
every Ray node, so a `slowed(...)` factory pickles by reference."""

from __future__ import annotations

import functools
import time
from typing import Callable

import gymnasium as gym

from ddpg.envs import make


class Slowed(gym.Wrapper):
    """The environment, `seconds` slower per step."""

    def __init__(self, env: gym.Env, seconds: float) -> None:
        super().__init__(env)
        self.seconds = seconds

    def step(self, action):
        time.sleep(self.seconds)
        return self.env.step(action)


def make_slowed(env_id: str, seconds: float) -> Slowed:
    return Slowed(make(env_id), seconds)


def slowed(env_id: str, ms: float) -> Callable[[], Slowed]:
    """A function making `env_id` slowed by `ms` milliseconds a step (picklable)."""
    return functools.partial(make_slowed, env_id, ms / 1000.0)
