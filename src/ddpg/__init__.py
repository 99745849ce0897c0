"""ddpg: Deep Deterministic Policy Gradient for continuous control, correct to the math.

The public API below is imported on first use (PEP 562 module __getattr__), so that `import ddpg`
and the CLI's --help do not pay for importing torch (about 1.3 s) before anything needs it."""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

from ddpg.version import __version__

if TYPE_CHECKING:  # what the lazy names are, for type checkers and for tests/test_layout.py
    from ddpg.buffer import Batch, ReplayBuffer
    from ddpg.config import Config, NetworkConfig, NoiseConfig
    from ddpg.losses import actor_loss, critic_loss, polyak_update, td_target
    from ddpg.networks import Actor, Critic
    from ddpg.noise import GaussianNoise, OUNoise, SigmaSchedule
    from ddpg.policy import Policy, load
    from ddpg.population import PopulationResult
    from ddpg.population.run import train
    from ddpg.results import StepContext, TrainResult
    from ddpg.resume import resume
    from ddpg.update import ddpg_step, ddpg_update

_WHERE = {
    "Batch": "ddpg.buffer", "ReplayBuffer": "ddpg.buffer",
    "Config": "ddpg.config", "NetworkConfig": "ddpg.config", "NoiseConfig": "ddpg.config",
    "actor_loss": "ddpg.losses", "critic_loss": "ddpg.losses", "polyak_update": "ddpg.losses",
    "td_target": "ddpg.losses", "Actor": "ddpg.networks", "Critic": "ddpg.networks",
    "GaussianNoise": "ddpg.noise", "OUNoise": "ddpg.noise", "SigmaSchedule": "ddpg.noise",
    "Policy": "ddpg.policy", "load": "ddpg.policy", "PopulationResult": "ddpg.population",
    "train": "ddpg.population.run", "StepContext": "ddpg.results", "TrainResult": "ddpg.results",
    "resume": "ddpg.resume", "ddpg_step": "ddpg.update", "ddpg_update": "ddpg.update",
}

__all__ = sorted(_WHERE, key=str.lower)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'ddpg' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


class _Package(types.ModuleType):
    """`ddpg.resume` is the public function, and also the name of the module that defines it:
    importing the module (which sets it as an attribute of its package) keeps the function."""

    def __setattr__(self, name: str, value) -> None:
        if name == "resume" and isinstance(value, types.ModuleType):
            value = value.resume
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
