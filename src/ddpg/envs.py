"""Making and checking environments, and mapping normalised actions to the env's bounds."""

from __future__ import annotations

import copy
import difflib
from typing import Any, Callable, Sequence, Union

import gymnasium as gym
import numpy as np

from ddpg.errors import EnvError, TrainingError
from ddpg.goals import FlattenGoal, goal_layout

EnvLike = Union[str, gym.Env, Callable[[], gym.Env]]

# Environment-id prefixes whose dependencies are optional, and the install that brings them.
_EXTRAS = {
    "mujoco": "pip install 'ddpg[mujoco]'  (or: pip install 'gymnasium[mujoco]')",
    "box2d": "pip install 'gymnasium[box2d]'",
    "fetch": "pip install 'ddpg[fetch]' in an environment of its own (gymnasium-robotics with "
             "mujoco 3.3.7, under which its Fetch tasks build)",
}
# gymnasium-robotics' tasks, registered when it is imported
_ROBOTICS_IDS = ("Fetch", "HandReach", "HandManipulate", "AdroitHand", "PointMaze", "AntMaze",
                 "FrankaKitchen")
_MUJOCO_IDS = ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid", "Swimmer", "Reacher",
               "InvertedPendulum", "InvertedDoublePendulum", "Pusher")


def _missing_dependency(env_id: str, e: Exception) -> EnvError:
    text = str(e).lower()
    extra = "fetch" if env_id.startswith(_ROBOTICS_IDS) else \
        "mujoco" if env_id.startswith(_MUJOCO_IDS) or "mujoco" in text else \
        "box2d" if "box2d" in text else None
    fix = _EXTRAS.get(extra, "install the package the message names")
    return EnvError(f"environment {env_id!r} needs a package that is not installed ({e}). "
                    f"Fix: {fix}.")


def register(env_id: str) -> bool:
    """Whether env_id is (now) a registered gymnasium id, after importing gymnasium-robotics for
    its tasks' ids (the only module imported here). EnvError, with the install that fixes it,
    when that package is missing."""
    if env_id not in gym.registry and env_id.startswith(_ROBOTICS_IDS):
        try:
            import gymnasium_robotics  # registers its tasks
        except ImportError as e:
            raise _missing_dependency(env_id, e) from e
        gym.register_envs(gymnasium_robotics)
    return env_id in gym.registry


def make(env_id: str, **kwargs) -> gym.Env:
    """gym.make with errors that say what to do: close matches for unknown ids, and the
    `pip install` that brings a missing optional dependency."""
    register(env_id)
    try:
        env = gym.make(env_id, **kwargs)
    except (gym.error.DependencyNotInstalled, ImportError) as e:
        raise _missing_dependency(env_id, e) from e
    except gym.error.Error as e:
        if env_id in gym.registry:
            raise EnvError(f"environment {env_id!r} could not be created: {e}") from e
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise EnvError(f"unknown environment id {env_id!r}.{hint} "
                       f"Use a registered gymnasium id such as 'Pendulum-v1'.") from e
    return prepare(env, env_id)


def prepare(env: gym.Env, name: str) -> gym.Env:
    """`env` as the engine takes it: a goal-conditioned one (a Dict of observation,
    achieved_goal and desired_goal with compute_reward) flattened by ddpg.goals.FlattenGoal;
    its spaces checked (EnvError naming what does not fit)."""
    if not isinstance(env, FlattenGoal) and goal_layout(env.observation_space, name) is not None:
        env = FlattenGoal(env, name)
    check_spaces(env, name)
    return env


def check_spaces(env: gym.Env, name: str = "the environment") -> None:
    """DDPG needs a Box action space with finite bounds and a flat Box observation space."""
    a = env.action_space
    if not isinstance(a, gym.spaces.Box):
        raise EnvError(
            f"{name} has a {type(a).__name__} action space ({a}); DDPG needs a continuous Box "
            f"action space. For discrete actions use a DQN- or PPO-style algorithm instead."
        )
    if not (np.all(np.isfinite(a.low)) and np.all(np.isfinite(a.high))):
        raise EnvError(
            f"{name} has non-finite action bounds low={a.low}, high={a.high}; DDPG squashes its "
            f"actions with tanh and needs finite bounds. Wrap the env with "
            f"gymnasium.wrappers.ClipAction or RescaleAction to give it finite bounds."
        )
    if np.any(a.high <= a.low):
        raise EnvError(f"{name} has action bounds with high <= low (low={a.low}, high={a.high}).")
    o = env.observation_space
    if not isinstance(o, gym.spaces.Box) or len(o.shape) != 1:
        raise EnvError(
            f"{name} has observation space {o}; ddpg supports flat Box observations. Wrap the env "
            f"with gymnasium.wrappers.FlattenObservation (Dict/Tuple/image observations)."
        )


def fresh_env(env: EnvLike, **kwargs) -> gym.Env:
    """A new environment from an id, a function making one, or an instance (copied)."""
    if isinstance(env, str):
        return make(env, **kwargs)
    if isinstance(env, gym.Env):
        return prepare(copy.deepcopy(env), repr(env))
    made = env()
    return prepare(made, repr(made))


def env_factory(env: EnvLike, **kwargs) -> tuple[Callable[[], gym.Env], str]:
    """A function that makes a fresh instance, and a display name. An instance (given, or the
    one made to check a function's spaces) is used as it is the first time; after that,
    `fresh_env` (for the separate evaluation environment)."""
    if isinstance(env, str):
        return (lambda: make(env, **kwargs)), env
    if isinstance(env, gym.Env):
        first = [prepare(env, repr(env))]
    elif callable(env):
        made = env()
        first = [prepare(made, repr(made))]
    else:
        raise EnvError(f"env={env!r} is not an environment id, a gymnasium.Env or a function "
                       f"returning one.")
    return (lambda: first.pop() if first else fresh_env(env)), env_name(first[0])


def env_name(env: gym.Env) -> str:
    """An environment's display name: its id, or its class's name where it has no spec."""
    return env.spec.id if env.spec is not None else type(env.unwrapped).__name__


def final_observations(next_obs: np.ndarray, info: dict) -> np.ndarray:
    """The real s' of each environment: where an episode ended and the vector env autoreset,
    its final observation, not the reset one (a copy of next_obs)."""
    final = next_obs.copy()
    if "_final_obs" in info:
        for i in np.flatnonzero(info["_final_obs"]):
            final[i] = info["final_obs"][i]
    return final


def drop_nonfinite(envs: gym.vector.SyncVectorEnv, final: np.ndarray, reward: np.ndarray,
                   done: np.ndarray, next_obs: np.ndarray, on_nonfinite: str,
                   where: str) -> np.ndarray:
    """For a step where an environment returned a non-finite observation or reward: with
    on_nonfinite 'stop', TrainingError naming `where`; with 'skip', those environments start a
    new episode (into `next_obs`) and the mask of transitions to keep is returned."""
    if on_nonfinite == "stop":
        raise TrainingError(
            f"the environment returned a non-finite observation or reward {where} "
            f"(reward={reward}); check the environment, or pass --on-nonfinite skip to drop "
            f"such transitions and reset the environment.")
    good = np.isfinite(final).all(axis=1) & np.isfinite(reward)
    for i in np.flatnonzero(~good & ~done):
        next_obs[i], _ = envs.envs[i].reset()
    return good


def to_env_action(a: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Map a normalised action in [-1, 1] to [low, high] per dimension (clipped first; with
    np.minimum and np.maximum, the same numbers as np.clip at a fifth of its cost)."""
    return low + (np.minimum(np.maximum(a, -1.0), 1.0) + 1.0) * 0.5 * (high - low)


def from_env_action(a: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Map an action in [low, high] to [-1, 1] per dimension."""
    return 2.0 * (np.asarray(a) - low) / (high - low) - 1.0


class SameStepVectorEnv(gym.vector.SyncVectorEnv):
    """gymnasium's SyncVectorEnv with same-step autoreset, stepping without its per-step info
    merge: `step` returns only what a replay buffer needs from the infos, "final_obs" and its
    mask "_final_obs" where an episode ended (the env has been reset and the returned
    observation is the new episode's first). Everything else is SyncVectorEnv's. Merging each
    env's info dict into arrays costs about 45 us a step on HalfCheetah (a 70 us step)."""

    def __init__(self, env_fns) -> None:
        super().__init__(env_fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)

    def step(self, actions):
        obs = np.empty((self.num_envs, *self.single_observation_space.shape),
                       dtype=self.single_observation_space.dtype)
        rewards, terminations, truncations, final = step_autoreset(self.envs, actions, obs)
        infos: dict = {}
        if final:
            infos = {"final_obs": np.empty(self.num_envs, dtype=object),
                     "_final_obs": np.zeros(self.num_envs, dtype=bool)}
            for i, o in final.items():
                infos["final_obs"][i], infos["_final_obs"][i] = o, True
        return obs, rewards, terminations, truncations, infos


def step_autoreset(envs: Sequence[gym.Env], actions: np.ndarray, obs: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, Any]]:
    """Step each environment with its action, same-step autoreset: an environment whose episode
    ended is reset at once. Writes the observations into `obs` (len(envs), *obs_shape), in
    place, casting to its dtype (a reset one's: the new episode's first); returns the rewards
    (float64), terminations and truncations, and the ended episodes' last observations by
    environment index. One loop over a population's every environment (ddpg.collect), or over
    one vector env's."""
    n = len(envs)
    rewards = np.zeros(n)
    terminations, truncations = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    final: dict[int, Any] = {}
    for i, env in enumerate(envs):
        o, rewards[i], terminations[i], truncations[i], _ = env.step(actions[i])
        if terminations[i] or truncations[i]:
            final[i] = o
            o, _ = env.reset()
        obs[i] = o
    return rewards, terminations, truncations, final


class EpisodeRecorder(gym.Wrapper):
    """Records what re-creates the current episode exactly: how it was reset (the seed, or the
    env's random-generator state just before an unseeded reset) and every action since. A
    checkpoint stores this; `restore` re-runs the reset and replays the actions, which puts a
    deterministic environment (classic control, MuJoCo) back in the same state, time-limit
    counter included, without pickling the environment."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._start: dict = {}
        self._actions: list[np.ndarray] = []

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._start = {"seed": int(seed)}
        else:
            self._start = {"rng": self.env.unwrapped.np_random.bit_generator.state}
        self._actions = []
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        self._actions.append(np.array(action, copy=True))
        return self.env.step(action)

    def episode_state(self) -> dict:
        return {"start": self._start, "actions": [a.tolist() for a in self._actions]}

    def restore(self, state: dict) -> np.ndarray:
        """Re-create the recorded episode; returns the current observation."""
        start = state["start"]
        if "seed" in start:
            obs, _ = self.reset(seed=start["seed"])
        else:
            kind = getattr(np.random, start["rng"]["bit_generator"])
            rng = np.random.Generator(kind())
            rng.bit_generator.state = start["rng"]
            self.env.unwrapped.np_random = rng
            obs, _ = self.reset()
        dtype = self.action_space.dtype
        for a in state["actions"]:
            obs, *_ = self.step(np.asarray(a, dtype=dtype))
        return obs
