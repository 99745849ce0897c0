"""A small goal-conditioned task for the tests (gymnasium-robotics' GoalEnv convention, no
MuJoCo): a point in the plane moved by its action towards a goal drawn at each reset. The reward
is sparse, 0 within `radius` of the goal and -1 elsewhere, from `compute_reward`, which takes
whole batches; info["is_success"] says whether the goal is reached. Registered as PointReach-v0
(20 steps a episode) when imported."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class PointReach(gym.Env):
    metadata: dict = {"render_modes": []}

    def __init__(self, radius: float = 0.1, step_size: float = 0.2) -> None:
        self.radius, self.step_size = radius, step_size
        box = lambda n: gym.spaces.Box(-2.0, 2.0, (n,), np.float32)  # noqa: E731
        self.observation_space = gym.spaces.Dict({"observation": box(4), "achieved_goal": box(2),
                                                  "desired_goal": box(2)})
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.pos = np.zeros(2)
        self.goal = np.zeros(2)
        self.last = np.zeros(2)

    def _obs(self) -> dict[str, np.ndarray]:
        return {"observation": np.concatenate([self.pos, self.pos - self.last]).astype(np.float32),
                "achieved_goal": self.pos.astype(np.float32),
                "desired_goal": self.goal.astype(np.float32)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-1, 1, 2)
        self.goal = self.np_random.uniform(-1, 1, 2)
        self.last = self.pos.copy()
        return self._obs(), {"is_success": 0.0}

    def step(self, action):
        self.last = self.pos.copy()
        self.pos = np.clip(self.pos + self.step_size * np.clip(action, -1, 1), -1.5, 1.5)
        obs = self._obs()
        reward = float(self.compute_reward(obs["achieved_goal"], obs["desired_goal"], {}))
        return obs, reward, False, False, {"is_success": float(reward == 0.0)}

    def compute_reward(self, achieved_goal, desired_goal, info):
        d = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return -(d > self.radius).astype(np.float64)


if "PointReach-v0" not in gym.registry:
    gym.register("PointReach-v0", entry_point=PointReach, max_episode_steps=20)


def small_her_config(out: str, **overrides):
    """DDPG+HER settings that solve PointReach-v0 in 1,500 steps (tests/test_her.py's learning
    test and benchmarks/gpu_check.py's population on a GPU use them)."""
    from ddpg.config import Config, HERConfig, NetworkConfig

    base = dict(env="PointReach-v0", total_steps=1500, warmup_steps=200, batch_size=64,
                network=NetworkConfig(hidden_sizes=(64, 64)), eval_every=500,
                eval_episodes=20, her=HERConfig(strategy="future"), gamma=0.95, tau=0.05,
                actor_lr=1e-3, critic_lr=1e-3, out=out, progress=False, tensorboard=False)
    return Config(**{**base, **overrides})
