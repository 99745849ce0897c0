"""Shared test helpers: a tiny environment with asymmetric bounds and a known episode structure."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest


class LineEnv(gym.Env):
    """x_{t+1} = x_t + a_0; reward -|x|; terminates when |x| > 5, else truncates after
    `max_steps`. The action space is asymmetric per dimension: [-2, 0] x [10, 30]."""

    metadata: dict = {}

    def __init__(self, max_steps: int = 7, terminate_at: float = 5.0) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = gym.spaces.Box(np.array([-2.0, 10.0], np.float32),
                                           np.array([0.0, 30.0], np.float32))
        self.max_steps, self.terminate_at = max_steps, terminate_at
        self.actions: list[np.ndarray] = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = float(self.np_random.uniform(-1, 1)), 0
        return self._obs(), {}

    def _obs(self):
        return np.array([self.x, self.t], dtype=np.float32)

    def step(self, action):
        self.actions.append(np.array(action))
        self.x += float(action[0])
        self.t += 1
        terminated = abs(self.x) > self.terminate_at
        truncated = not terminated and self.t >= self.max_steps
        return self._obs(), -abs(self.x), terminated, truncated, {}


@pytest.fixture
def line_env():
    return LineEnv()
