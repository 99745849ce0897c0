"""Goal-conditioned environments (gymnasium-robotics' GoalEnv convention): a Dict observation of
`observation`, `achieved_goal` and `desired_goal`, and `compute_reward(achieved_goal,
desired_goal, info)` that takes whole batches.

The engine sees one flat vector: `FlattenGoal` concatenates the keys in one fixed order,
GOAL_KEYS = (achieved_goal, desired_goal, observation), the keys sorted by name (the order
stable-baselines3's MultiInputPolicy concatenates them in, so its HER models load as they act).
`GoalLayout` says where each key sits in that vector; hindsight replay (ddpg.her) rewrites the
desired goal there, and a policy flattens a Dict observation given to `act` the same way.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import gymnasium as gym
import numpy as np

from ddpg.errors import EnvError

GOAL_KEYS = ("achieved_goal", "desired_goal", "observation")


class GoalLayout(NamedTuple):
    """The widths of the flat vector's parts, in GOAL_KEYS order."""

    achieved: int
    desired: int
    observation: int

    @property
    def width(self) -> int:
        return self.achieved + self.desired + self.observation

    @property
    def achieved_slice(self) -> slice:
        return slice(0, self.achieved)

    @property
    def desired_slice(self) -> slice:
        return slice(self.achieved, self.achieved + self.desired)

    def flatten(self, obs: Mapping[str, Any]) -> np.ndarray:
        """A Dict observation (each key (..., width)) as the flat (..., width) float32 vector
        the networks see."""
        if not isinstance(obs, Mapping):
            raise ValueError(f"a goal-conditioned policy takes one Dict observation (each of "
                             f"{', '.join(GOAL_KEYS)} shaped (width,) or (N, width) for a "
                             f"batch), not {type(obs).__name__}; stack a list of Dicts key by "
                             f"key first.")
        missing = [k for k in GOAL_KEYS if k not in obs]
        if missing:
            raise ValueError(f"a goal-conditioned policy needs the keys {', '.join(GOAL_KEYS)} "
                             f"in its observation; {', '.join(missing)} missing (got "
                             f"{', '.join(map(str, obs))}).")
        parts = [np.asarray(obs[k], dtype=np.float32) for k in GOAL_KEYS]
        for k, p, w in zip(GOAL_KEYS, parts, self):
            if p.shape[-1:] != (w,):
                raise ValueError(f"observation[{k!r}] has shape {p.shape}; this policy takes "
                                 f"{w} values there (shape (..., {w})).")
        if len({p.shape[:-1] for p in parts}) > 1:
            raise ValueError(f"the observation's keys have the batch shapes "
                             f"{', '.join(f'{k} {p.shape}' for k, p in zip(GOAL_KEYS, parts))}; "
                             f"give every key the same leading shape (one observation: "
                             f"(width,) each; a batch of N: (N, width) each).")
        return np.concatenate(parts, axis=-1)

    def to_dict(self) -> dict[str, int]:
        return dict(zip(GOAL_KEYS, self))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GoalLayout:
        try:
            return cls(*(int(d[k]) for k in GOAL_KEYS))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"goal layout {dict(d)!r} does not name an integer width for each "
                             f"of {', '.join(GOAL_KEYS)}.") from e


def goal_layout(space: gym.Space, name: str = "the environment") -> GoalLayout | None:
    """The layout of a goal-conditioned Dict space; None for any other space. EnvError for a
    Dict space that looks goal-conditioned but lacks a key or has one that is not a flat
    Box."""
    if not isinstance(space, gym.spaces.Dict):
        return None
    missing = [k for k in GOAL_KEYS if k not in space.spaces]
    if missing:
        raise EnvError(f"{name} has a Dict observation space with keys "
                       f"{', '.join(space.spaces)}; ddpg trains on a Dict only as a "
                       f"goal-conditioned task with the keys {', '.join(GOAL_KEYS)} "
                       f"({', '.join(missing)} missing). Flatten any other Dict with "
                       f"gymnasium.wrappers.FlattenObservation.")
    widths = []
    for k in GOAL_KEYS:
        s = space.spaces[k]
        if not isinstance(s, gym.spaces.Box) or len(s.shape) != 1:
            raise EnvError(f"{name}: observation[{k!r}] is {s}; a goal-conditioned task needs a "
                           f"flat Box under each of {', '.join(GOAL_KEYS)}.")
        widths.append(int(s.shape[0]))
    extra = [k for k in space.spaces if k not in GOAL_KEYS]
    if extra:
        raise EnvError(f"{name}: its goal-conditioned Dict observation has the key(s) "
                       f"{', '.join(map(repr, extra))} besides {', '.join(GOAL_KEYS)}; the "
                       f"networks see only those three, so the other key(s) would be dropped. "
                       f"Fold them into 'observation' (a gymnasium.ObservationWrapper) or "
                       f"drop them (gymnasium.wrappers.FilterObservation).")
    if widths[0] != widths[1]:
        raise EnvError(f"{name}: achieved_goal has {widths[0]} values and desired_goal "
                       f"{widths[1]}; hindsight replay writes achieved goals in place of desired "
                       f"ones, so both must have the same width.")
    return GoalLayout(*widths)


class FlattenGoal(gym.ObservationWrapper):
    """A goal-conditioned environment as a flat Box observation (GOAL_KEYS order), keeping its
    `compute_reward` and `goal_layout` reachable (get_wrapper_attr) for hindsight replay."""

    def __init__(self, env: gym.Env, name: str = "the environment") -> None:
        super().__init__(env)
        layout = goal_layout(env.observation_space, name)
        if layout is None:
            raise EnvError(f"{name} is not goal-conditioned (its observation space is "
                           f"{env.observation_space}, not a Dict of {', '.join(GOAL_KEYS)}).")
        if not callable(getattr(env.unwrapped, "compute_reward", None)):
            raise EnvError(f"{name} has the goal keys {', '.join(GOAL_KEYS)} but no "
                           f"compute_reward(achieved_goal, desired_goal, info) method; "
                           f"hindsight replay needs it to score relabelled goals. Add it to "
                           f"the environment (gymnasium-robotics' GoalEnv convention).")
        self.goal_layout, self.name = layout, name
        probe = np.zeros((2, layout.desired), np.float32)  # the space's RNG is left alone
        infos = np.empty(2, dtype=object)
        infos[:] = [{}, {}]
        try:
            self.compute_reward(probe, probe + 1, infos)
        except EnvError:
            raise
        except Exception as e:
            raise EnvError(f"{name}: compute_reward(achieved_goal, desired_goal, info) failed "
                           f"on a batch of 2 goals ({type(e).__name__}: {e}); hindsight replay "
                           f"scores whole batches: (B, width) goals and an array of B info "
                           f"dicts in, B rewards out.") from e
        parts = [env.observation_space.spaces[k] for k in GOAL_KEYS]
        self.observation_space = gym.spaces.Box(
            np.concatenate([p.low for p in parts]).astype(np.float32),
            np.concatenate([p.high for p in parts]).astype(np.float32), dtype=np.float32)

    def observation(self, observation: Mapping[str, Any]) -> np.ndarray:
        return self.goal_layout.flatten(observation)

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray,
                       info: Any) -> np.ndarray:
        """The environment's own reward for these goals (batches: (B, width) each); EnvError
        unless it gives one reward per goal (a reward written for one goal at a time, such as
        a norm without axis=-1, returns one number for the whole batch)."""
        r = np.asarray(self.env.unwrapped.compute_reward(achieved_goal, desired_goal, info),
                       dtype=np.float64)
        n = len(achieved_goal)
        if r.shape != (n,):
            raise EnvError(f"{self.name}: compute_reward gave shape {r.shape} for a batch of "
                           f"{n} goals; it must give one reward per goal, shape ({n},). Reduce "
                           f"over the last axis only (for example np.linalg.norm(achieved_goal "
                           f"- desired_goal, axis=-1)).")
        return r


def find_goal_env(env: gym.Env) -> FlattenGoal | None:
    """The FlattenGoal wrapper inside `env`, if any."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, FlattenGoal):
            return env
        env = env.env
    return None
