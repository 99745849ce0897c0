"""stable-baselines3 DDPG and TD3 model files (`model.zip`, MlpPolicy, and MultiInputPolicy on a
goal-conditioned task, as HerReplayBuffer trains) read as ddpg policies, without running anything
from the file.

Such a zip holds `data`, JSON in which SB3 cloudpickles every object that is not plain JSON (the
spaces, the policy class, activation functions) into a ':serialized:' field; those fields are
never decoded here. Beside each, SB3 writes the object's plain attributes as text, which is what
is read: the action space's `low` and `high`, the `activation_fn` class name in `policy_kwargs`.
`policy.pth` is the policy's state_dict, read with torch.load(weights_only=True); the actor is
`actor.mu`: Linear, activation, ..., Linear, Tanh, the same network as ddpg's Actor, and SB3
rescales its output to [low, high] as ddpg does, so the actions are SB3's `predict` ones.
Where the bounds cannot be read as text, those of the environment given (--env) are used.
A MultiInputPolicy on a Dict of achieved_goal, desired_goal and observation flattens each key and
concatenates them in sorted key order (its CombinedExtractor), which is ddpg.goals' GOAL_KEYS
order; the widths are read from the Dict space's text (`spaces`: "{'achieved_goal': Box(..., (3,),
float64), ...}"), else from the environment given, and the policy takes the Dict observation.
Not read: VecNormalize statistics (a separate pickle file), image observations, or a Dict of
other keys.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import numpy as np
import torch

from ddpg.envs import make
from ddpg.errors import PolicyFileError
from ddpg.goals import GOAL_KEYS, GoalLayout, find_goal_env
from ddpg.networks import Actor

MAX_MEMBER_BYTES = 1 << 30  # a policy of this size is not an MLP policy; refuse before reading
ACTIVATIONS = {"ReLU": "relu", "Tanh": "tanh", "ELU": "elu", "LeakyReLU": "leaky_relu"}
_ACTOR_KEY = re.compile(r"actor\.mu\.(\d+)\.(weight|bias)")
# re.DOTALL: numpy wraps long bounds over several lines
_DICT_ENTRY = re.compile(r"'([^']+)':\s*(\w+)\((.*?)\)(?=,\s*'|\}\s*$)", re.DOTALL)
_BOX_SHAPE = re.compile(r",\s*\(([\d,\s]*)\),\s*[\w.]+\s*$")


def _member(z: zipfile.ZipFile, name: str, where: str) -> bytes:
    try:
        info = z.getinfo(name)
    except KeyError:
        raise PolicyFileError(f"{where} has no {name!r}: it is not a stable-baselines3 model "
                              f"file (expected data and policy.pth inside).") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise PolicyFileError(f"{where}: {name!r} declares {info.file_size} bytes; a DDPG/TD3 "
                              f"MlpPolicy is far smaller, so it is not read.")
    with z.open(info) as f:
        data = f.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise PolicyFileError(f"{where}: {name!r} unpacks to more than it declares.")
    return data


def _bounds_text(space: Any, key: str, n: int) -> np.ndarray | None:
    """The bound `key` ('low'/'high') of a serialized Box as SB3 wrote it in text: an array's
    str ('[-2. -1.]') or gymnasium's short repr of a constant bound ('-2.0'); None if absent,
    abbreviated or of another length."""
    if not isinstance(space, dict):
        return None
    for text in (space.get(key), space.get(f"{key}_repr")):
        if not isinstance(text, str) or "..." in text:
            continue
        try:
            values = [float(t) for t in text.replace("[", " ").replace("]", " ").split()]
        except ValueError:
            continue
        if len(values) == 1 and n > 1:
            values = values * n
        if len(values) == n:
            return np.asarray(values, dtype=np.float32)
    return None


def _actor_layers(state: dict[str, torch.Tensor], where: str) -> list[tuple[torch.Tensor,
                                                                            torch.Tensor]]:
    found: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if (m := _ACTOR_KEY.fullmatch(key)) and isinstance(value, torch.Tensor):
            found.setdefault(int(m.group(1)), {})[m.group(2)] = value
    indices = sorted(found)
    if not indices or indices != list(range(0, 2 * len(indices), 2)) or any(
            set(found[i]) != {"weight", "bias"} for i in indices):
        raise PolicyFileError(f"{where}: policy.pth has no actor of the form actor.mu.0, "
                              f"actor.mu.2, ... (Linear layers with biases); only DDPG and TD3 "
                              f"MlpPolicy models are read.")
    layers = [(found[i]["weight"], found[i]["bias"]) for i in indices]
    for (w, b), (w_next, _) in zip(layers, layers[1:] + [(None, None)]):
        if w.ndim != 2 or b.shape != (w.shape[0],) or (
                w_next is not None and w_next.shape[1] != w.shape[0]):
            raise PolicyFileError(f"{where}: the actor's layer shapes do not chain "
                                  f"({[tuple(w.shape) for w, _ in layers]}).")
    return layers


def _dict_widths(space: Any) -> dict[str, int | None] | None:
    """A serialized Dict space's keys and, per key, the width of a flat Box as its text says
    (None where it does not); None for a space that is not a Dict."""
    if not isinstance(space, dict) or "gymnasium.spaces.dict.Dict" not in str(space.get(":type:")):
        return None
    text = space.get("spaces")
    if not isinstance(text, str):
        return {}
    widths: dict[str, int | None] = {}
    for key, kind, args in _DICT_ENTRY.findall(text.strip()):
        shape = _BOX_SHAPE.search(args) if kind == "Box" else None
        dims = [int(d) for d in shape.group(1).replace(",", " ").split()] if shape else []
        widths[key] = dims[0] if len(dims) == 1 else None
    return widths


def _goal_layout(meta: dict[str, Any], obs_dim: int, where: str,
                 env: str | None) -> GoalLayout | None:
    """The goal layout of a MultiInputPolicy's Dict observation; None for a flat one."""
    widths = _dict_widths(meta.get("observation_space"))
    if widths is None:
        return None
    if widths and set(widths) != set(GOAL_KEYS):
        raise PolicyFileError(f"{where}: a MultiInputPolicy on a Dict of {', '.join(widths)}; "
                              f"ddpg reads Dict observations only as a goal-conditioned task "
                              f"with exactly the keys {', '.join(GOAL_KEYS)}.")
    if widths and list(widths) != list(GOAL_KEYS):
        raise PolicyFileError(f"{where}: the model's Dict observation lists its keys as "
                              f"{', '.join(widths)}, and stable-baselines3 concatenates them in "
                              f"that order; ddpg's goal policies take them sorted by name "
                              f"({', '.join(GOAL_KEYS)}, gymnasium's default for a Dict space), "
                              f"so this model is not read. Retrain it on a Dict space with "
                              f"sorted keys.")
    if all(isinstance(widths.get(k), int) for k in GOAL_KEYS):
        layout = GoalLayout(*(int(widths[k]) for k in GOAL_KEYS))  # type: ignore[arg-type]
    elif env is not None:
        goal = find_goal_env(make(env))
        if goal is None:
            raise PolicyFileError(f"{where}: the model observes a Dict, but {env} is not a "
                                  f"goal-conditioned environment ({', '.join(GOAL_KEYS)}).")
        layout = goal.goal_layout
    else:
        raise PolicyFileError(f"{where}: the widths of the model's Dict observation are stored "
                              f"only in pickled form, which ddpg does not unpickle; pass the "
                              f"environment (--env ID, or load(path, env=ID)).")
    if layout.width != obs_dim:
        raise PolicyFileError(f"{where}: the Dict observation's keys are {layout.to_dict()} "
                              f"wide ({layout.width} in all), but the actor takes {obs_dim} "
                              f"inputs.")
    return layout


def read_sb3_zip(data: bytes, where: str, env: str | None = None
                 ) -> tuple[Actor, np.ndarray, np.ndarray, dict[str, Any]] | None:
    """(actor, low, high, metadata) of a stable-baselines3 DDPG/TD3 model file's bytes, what
    ddpg.policy.Policy is made of; None for bytes that are not a zip holding SB3's `data` and
    `policy.pth`. `env` (an id) gives the action bounds where the file's cannot be read as
    text."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return None  # damaged: torch.load of the same bytes says so
    with z:
        if not {"data", "policy.pth"} <= set(z.namelist()):
            return None  # another zip (a torch file is one too)
        try:
            meta = json.loads(_member(z, "data", where))
            state = torch.load(io.BytesIO(_member(z, "policy.pth", where)), map_location="cpu",
                               weights_only=True)
        except (ValueError, RuntimeError, zipfile.BadZipFile, EOFError) as e:
            raise PolicyFileError(f"{where}: damaged stable-baselines3 model file: {e}") from e
        version = z.read("_stable_baselines3_version").decode(errors="replace").strip() \
            if "_stable_baselines3_version" in z.namelist() else None
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise PolicyFileError(f"{where}: damaged stable-baselines3 model file.")
    layers = _actor_layers(state, where)
    obs_dim, action_dim = int(layers[0][0].shape[1]), int(layers[-1][0].shape[0])
    hidden = tuple(int(w.shape[0]) for w, _ in layers[:-1])
    kwargs = meta.get("policy_kwargs") if isinstance(meta.get("policy_kwargs"), dict) else {}
    name = str(kwargs.get("activation_fn", "ReLU")).rstrip("'>").rsplit(".", 1)[-1]
    if name not in ACTIVATIONS:
        raise PolicyFileError(f"{where}: activation {kwargs.get('activation_fn')!r} is not one "
                              f"ddpg's Actor has ({', '.join(ACTIVATIONS)}).")
    low = _bounds_text(meta.get("action_space"), "low", action_dim)
    high = _bounds_text(meta.get("action_space"), "high", action_dim)
    if low is None or high is None:
        if env is None:
            raise PolicyFileError(f"{where}: the action bounds are stored only in pickled form, "
                                  f"which ddpg does not unpickle; pass the environment (--env "
                                  f"ID, or load(path, env=ID)) to take its bounds.")
        space = make(env).action_space
        if tuple(space.shape) != (action_dim,):
            raise PolicyFileError(f"{where}: the actor has {action_dim} action dimensions but "
                                  f"{env} has an action space of shape {space.shape}.")
        low, high = space.low.astype(np.float32), space.high.astype(np.float32)
    if not (np.isfinite(low).all() and np.isfinite(high).all() and (low < high).all()):
        raise PolicyFileError(f"{where}: action bounds low={low.tolist()} high="
                              f"{high.tolist()} are not finite with low < high.")
    layout = _goal_layout(meta, obs_dim, where, env)
    activation = ACTIVATIONS[name]
    actor = Actor(obs_dim, action_dim, 1.0, hidden, activation)
    weights = {f"net.{2 * i}.{part}": t.float() for i, (w, b) in enumerate(layers)
               for part, t in (("weight", w), ("bias", b))}
    actor.load_state_dict({**weights, "max_action": actor.max_action})
    single = kwargs.get("n_critics") == 1 and meta.get("policy_delay") == 1
    metadata = {"env": env, "obs_dim": obs_dim, "action_dim": action_dim,
                "algo": "ddpg" if single else "td3", "source": "stable-baselines3",
                "sb3_version": version,
                "network": {"hidden_sizes": list(hidden), "activation": activation,
                            "norm": "none", "init": "default", "critic_action_layer": 0}}
    if layout is not None:
        metadata["goal"] = layout.to_dict()
    return actor, low, high, metadata
