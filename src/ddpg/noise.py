"""Exploration noise for deterministic policies, per environment and per action dimension.

Gaussian:            eps_t ~ N(0, sigma_t^2)
Ornstein-Uhlenbeck:  x_{t+1} = x_t + theta (mu - x_t) dt + sigma_t sqrt(dt) N(0, 1)
sigma_t follows a schedule of environment steps (constant, linear or exponential decay).
Random actions (the HER baselines' random_eps): with probability eps an environment's noisy
action is replaced by one uniform in [-1, 1] (`with_random_actions`).
"""

from __future__ import annotations

import math

import numpy as np


class SigmaSchedule:
    """sigma(step): constant; linear from sigma to final_sigma over decay_steps; or exponential
    (geometric) from sigma to final_sigma over decay_steps. Constant at final_sigma after."""

    def __init__(self, sigma: float, kind: str = "constant", final_sigma: float = 0.0,
                 decay_steps: int = 1) -> None:
        if kind not in ("constant", "linear", "exponential"):
            raise ValueError(f"schedule={kind!r} is unknown; use constant, linear or exponential.")
        if kind == "exponential" and (final_sigma <= 0 or sigma <= 0):
            raise ValueError("exponential decay needs sigma > 0 and final_sigma > 0.")
        self.sigma, self.kind, self.final_sigma = sigma, kind, final_sigma
        self.decay_steps = max(int(decay_steps), 1)

    # --8<-- [start:sigma_schedule]
    def __call__(self, step: int) -> float:
        if self.kind == "constant":
            return self.sigma
        frac = min(max(step, 0) / self.decay_steps, 1.0)
        if self.kind == "linear":
            return self.sigma + frac * (self.final_sigma - self.sigma)
        return self.sigma * math.exp(frac * math.log(self.final_sigma / self.sigma))
    # --8<-- [end:sigma_schedule]


class GaussianNoise:
    """Independent N(0, sigma_t^2) per environment and action dimension."""

    def __init__(self, num_envs: int, action_dim: int, schedule: SigmaSchedule,
                 rng: np.random.Generator) -> None:
        self.shape, self.schedule, self.rng = (num_envs, action_dim), schedule, rng

    def sample(self, step: int) -> np.ndarray:
        # --8<-- [start:gaussian]
        return self.schedule(step) * self.rng.standard_normal(self.shape).astype(np.float32)
        # --8<-- [end:gaussian]

    def reset(self, mask: np.ndarray | None = None) -> None:
        """Gaussian noise has no state."""

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, d: dict) -> None:
        self.rng.bit_generator.state = d["rng"]


class OUNoise:
    """Ornstein-Uhlenbeck process, one per environment and action dimension. Its state resets to
    mu only at episode ends (`reset(mask)` with the environments whose episode ended)."""

    def __init__(self, num_envs: int, action_dim: int, schedule: SigmaSchedule,
                 rng: np.random.Generator, theta: float = 0.15, dt: float = 1e-2,
                 mu: float = 0.0) -> None:
        self.schedule, self.rng, self.theta, self.dt, self.mu = schedule, rng, theta, dt, mu
        self.x = np.full((num_envs, action_dim), mu, dtype=np.float64)

    def sample(self, step: int) -> np.ndarray:
        # --8<-- [start:ou]
        sigma = self.schedule(step)
        dw = self.rng.standard_normal(self.x.shape)
        self.x = self.x + self.theta * (self.mu - self.x) * self.dt + sigma * math.sqrt(self.dt) * dw
        return self.x.astype(np.float32)
        # --8<-- [end:ou]

    def reset(self, mask: np.ndarray | None = None) -> None:
        if mask is None:
            self.x[:] = self.mu
        else:
            self.x[np.asarray(mask, dtype=bool)] = self.mu

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "x": self.x.tolist()}

    def load_state_dict(self, d: dict) -> None:
        self.rng.bit_generator.state = d["rng"]
        self.x = np.array(d["x"], dtype=np.float64)


# --8<-- [start:random_eps]
def with_random_actions(a: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    """Actions `a` (num_envs, act) in normalised units, each environment's replaced with
    probability `eps` by one uniform in [-1, 1]. The draws come from `rng` (the noise's own
    stream, so --resume stays exact); eps = 0 draws nothing and returns `a`."""
    if eps <= 0:
        return a
    pick = rng.random(a.shape[0]) < eps
    uniform = rng.uniform(-1.0, 1.0, a.shape).astype(a.dtype)
    return np.where(pick[:, None], uniform, a)
# --8<-- [end:random_eps]


def make_noise(cfg, num_envs: int, action_dim: int, rng: np.random.Generator):
    """Noise from a NoiseConfig."""
    schedule = SigmaSchedule(cfg.sigma, cfg.schedule, cfg.final_sigma, cfg.decay_steps)
    if cfg.kind == "gaussian":
        return GaussianNoise(num_envs, action_dim, schedule, rng)
    if cfg.kind == "ou":
        return OUNoise(num_envs, action_dim, schedule, rng, cfg.theta, cfg.dt)
    raise ValueError(f"noise kind {cfg.kind!r} is unknown; use 'gaussian' or 'ou'.")
