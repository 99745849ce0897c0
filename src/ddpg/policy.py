"""A trained policy as users load it: numpy observation in, action in the env's units out.

File format (`policy.pt`): a torch file holding only tensors, strings and numbers, read with
`torch.load(weights_only=True)` so loading never runs code from the file:
{"format": "ddpg-policy", "version": 1, "metadata": <JSON string>, "actor": <state_dict>}.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ddpg.config import NetworkConfig
from ddpg.envs import to_env_action
from ddpg.errors import PolicyFileError
from ddpg.fileio import atomic_torch_save
from ddpg.goals import GoalLayout
from ddpg.interop.sb3 import read_sb3_zip
from ddpg.networks import Actor
from ddpg.normalization import RunningNorm
from ddpg.rundir import locate_run
from ddpg.td7 import TD7Policy
from ddpg.untrusted import read_regular
from ddpg.version import __version__

FORMAT, VERSION = "ddpg-policy", 1
POLICY_FILE = "policy.pt"
BEST_POLICY_FILE = "best_policy.pt"  # the policy at the run's best evaluation


class Policy:
    """mu(s) with the env's action bounds: `act(obs)` takes (obs_dim,) or (N, obs_dim) numpy
    observations and returns actions in [low, high] of the same leading shape. A policy of a
    goal-conditioned task (metadata "goal": its ddpg.goals.GoalLayout) takes the environment's
    Dict observation too (each key (width,) or (N, width), or a list of N Dicts), flattened as
    training saw it."""

    def __init__(self, actor: Actor | TD7Policy, low: np.ndarray, high: np.ndarray,
                 metadata: dict[str, Any] | None = None,
                 obs_norm: RunningNorm | None = None) -> None:
        self.actor = actor
        self.obs_norm = obs_norm
        self.low = np.asarray(low, dtype=np.float32)
        self.high = np.asarray(high, dtype=np.float32)
        self.metadata = dict(metadata or {})
        self.obs_dim = int(actor.state_dim)  # (Actor's, or TD7's policy's)
        goal = self.metadata.get("goal")
        self.goal_layout = None if goal is None else GoalLayout.from_dict(goal)
        if self.goal_layout is not None and self.goal_layout.width != self.obs_dim:
            raise ValueError(f"goal layout {goal} is {self.goal_layout.width} wide; the policy "
                             f"takes {self.obs_dim} inputs.")

    @torch.no_grad()
    def act(self, obs: np.ndarray | Mapping[str, np.ndarray]) -> np.ndarray:
        if (isinstance(obs, (list, tuple)) and obs and isinstance(obs[0], Mapping)
                and self.goal_layout is not None):  # a list of Dicts: a batch, key by key
            obs = {k: np.stack([np.asarray(o[k]) for o in obs]) for k in obs[0]}
        if isinstance(obs, Mapping):
            if self.goal_layout is None:
                raise ValueError(f"this policy takes a flat observation of {self.obs_dim} "
                                 f"values, not a Dict (it was not trained on a goal-conditioned "
                                 f"task).")
            obs = self.goal_layout.flatten(obs)
        o = np.asarray(obs, dtype=np.float32)
        single = o.ndim == 1
        if o.shape[-1] != self.obs_dim or o.ndim not in (1, 2):
            raise ValueError(f"observation has shape {o.shape}; expected ({self.obs_dim},) "
                             f"or (N, {self.obs_dim}).")
        o = o.reshape(-1, self.obs_dim)
        if self.obs_norm is not None:  # the training statistics travel with the policy
            o = self.obs_norm.normalize(o)
        training = self.actor.training
        self.actor.eval()
        a = self.actor(torch.from_numpy(o)).numpy()
        self.actor.train(training)
        a = to_env_action(a, self.low, self.high)
        return a[0] if single else a

    __call__ = act

    def predict(self, observation: np.ndarray, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:
        """stable-baselines3's `predict`: `(action, None)` for an observation or a batch of them,
        so code written for SB3 models (e.g. stable_baselines3.common.evaluation.evaluate_policy)
        runs on a ddpg policy. Like SB3's DDPG and TD3, the policy is deterministic whatever
        `deterministic` says (exploration noise belongs to training); it has no recurrent
        `state`, so `state` and `episode_start` are accepted and ignored."""
        return self.act(observation), None

    def save(self, path: str | Path, **extra: Any) -> Path:
        """Write the policy file atomically; `extra` (JSON values) joins its metadata."""
        meta = dict(self.metadata, low=self.low.tolist(), high=self.high.tolist(),
                    ddpg_version=__version__, torch_version=torch.__version__, **extra)
        payload = {"format": FORMAT, "version": VERSION, "metadata": json.dumps(meta),
                   "actor": {k: v.detach().cpu() for k, v in self.actor.state_dict().items()},
                   "obs_norm": None if self.obs_norm is None else self.obs_norm.state_dict()}
        return atomic_torch_save(payload, path)


def load(path: str | Path, env: str | None = None) -> Policy:
    """Load a policy from a run directory, a policy file, or a stable-baselines3 DDPG/TD3
    model.zip (read without unpickling; `env`, an id, gives its action bounds where the file
    holds them only pickled). In a run directory, policy.pt is read only as a regular file of
    its own (not a symbolic link to elsewhere)."""
    p = locate_run(path, "load")
    in_run_dir = p.is_dir()
    if in_run_dir:
        p = p / POLICY_FILE
    if not (p.is_file() or (in_run_dir and p.is_symlink())):
        raise PolicyFileError(f"no policy at {str(path)!r}: give a run directory holding "
                              f"{POLICY_FILE} or the path of a policy file.")
    try:
        data = read_regular(p) if in_run_dir else p.read_bytes()
    except OSError as e:
        raise PolicyFileError(f"{str(p)!r} is not readable as a policy file of the run "
                              f"directory (a symbolic link, not a regular file, or "
                              f"unreadable: {e.strerror or e}).") from e
    if (sb3 := read_sb3_zip(data, repr(str(p)), env)) is not None:
        return Policy(*sb3)
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:
        raise PolicyFileError(f"{str(p)!r} is not a readable ddpg policy file (corrupt, "
                              f"truncated or another format): {e}") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise PolicyFileError(f"{str(p)!r} is not a ddpg policy file (no {FORMAT!r} header).")
    if payload.get("version") != VERSION:
        raise PolicyFileError(f"{str(p)!r} has policy format version {payload.get('version')!r}; "
                              f"this ddpg reads version {VERSION}. Re-export it with a matching "
                              f"ddpg version.")
    try:
        meta = json.loads(payload["metadata"])
        net = NetworkConfig(**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in meta["network"].items()})
        actor = _actor(payload["actor"], meta, net)
        actor.load_state_dict(payload["actor"])
        obs_norm = None
        if payload.get("obs_norm") is not None:
            obs_norm = RunningNorm(int(meta["obs_dim"]))
            obs_norm.load_state_dict(payload["obs_norm"])
        return Policy(actor, np.array(meta["low"]), np.array(meta["high"]), meta, obs_norm)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise PolicyFileError(f"{str(p)!r} is a damaged ddpg policy file: {e}") from e


def _actor(weights: Any, meta: dict[str, Any], net: NetworkConfig) -> torch.nn.Module:
    """The policy network the metadata describes (DDPG's and TD3's Actor, or TD7's policy with
    its state encoder), its sizes checked against the weights first."""
    obs_dim, action_dim = int(meta["obs_dim"]), int(meta["action_dim"])
    if meta.get("algo") == "td7":
        emb, enc = int(meta["td7"]["embedding"]), int(meta["td7"]["encoder_hidden"])
        hidden = int(net.hidden_sizes[0])
        layers = [(obs_dim, enc), (enc, enc), (enc, emb),  # f
                  (obs_dim, hidden), (hidden + emb, hidden), (hidden, hidden),
                  (hidden, action_dim)]  # the actor
        _check_shapes(weights, layers)
        return TD7Policy.build(obs_dim, action_dim, emb, enc, hidden)
    sizes = (obs_dim, *net.hidden_sizes, action_dim)
    _check_shapes(weights, list(zip(sizes, sizes[1:])))
    return Actor(obs_dim, action_dim, 1.0, net.hidden_sizes, net.activation, net.norm, net.init)


def _check_shapes(weights: Any, layers: list[tuple[int, int]]) -> None:
    """The metadata's sizes must be those of the weights the file holds, checked before the
    actor is built: metadata claiming huge layers cannot make load() allocate them."""
    if not isinstance(weights, dict) or not all(isinstance(t, torch.Tensor)
                                                for t in weights.values()):
        raise ValueError("the actor's weights are not a mapping of tensors")
    shown = [f"{a}x{b}" for a, b in layers]
    if min(n for layer in layers for n in layer) < 1:
        raise ValueError(f"the metadata's layer sizes {shown} are not all positive")
    declared = sum(a * b + b for a, b in layers)
    held = sum(t.numel() for t in weights.values())
    if declared > held:
        raise ValueError(f"the metadata declares layers {shown} ({declared} weights) but "
                         f"the file holds {held}")
