"""Settings given as flag-style dotted keys ({"network.hidden-sizes": [16, 16]}, as in a suite's
overrides): resolved to the config `ddpg train` would use, and spelled back as the flags of
`ddpg train` and of the stable-baselines3 runner (python -m ddpg.bench.baselines)."""

from __future__ import annotations

import argparse
import json
from typing import Any, Mapping

import yaml

from ddpg import config as cfgmod
from ddpg.config import Config
from ddpg.errors import ConfigError


def nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """{"network.hidden-sizes": [16, 16]} -> {"network": {"hidden_sizes": [16, 16]}}: flag-style
    dotted keys (as `ddpg train` spells them) to the nested mapping config.merge takes."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        *parents, leaf = str(key).replace("-", "_").split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key!r}: {p!r} is a value, not a section with keys.")
        node[leaf] = value
    return out


def resolve_config(env: str | None, algo: str | None, preset: str | None = None,
                   overrides: Mapping[str, Any] | None = None,
                   source: str = "overrides") -> Config:
    """The config `ddpg train --env ENV --algo ALGO [--preset P] --KEY VALUE ...` would use:
    config.resolve(preset, None, env, algo), then all overrides (flag-style keys) at once."""
    cfg = cfgmod.resolve(preset, None, env, algo)
    return cfgmod.merge(cfg, nest({"env": env or cfg.env, **(overrides or {})}), source)


def train_flags(overrides: dict[str, Any]) -> list[str]:
    """`ddpg train` flags for {flag name without dashes: value}, as tyro spells them."""
    out: list[str] = []
    for key, value in overrides.items():
        parts = [p.replace("_", "-") for p in str(key).split(".")]
        if isinstance(value, bool):
            if not value:
                parts[-1] = f"no-{parts[-1]}"
            out.append("--" + ".".join(parts))
        elif isinstance(value, (list, tuple)):
            out += ["--" + ".".join(parts), *map(str, value)]
        else:
            out += ["--" + ".".join(parts), str(value)]
    return out


def parse_override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not KEY=VALUE; write e.g. --set 'network.hidden-sizes=[16, 16]'")
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: VALUE is not valid YAML ({e})") from None


def override_args(overrides: Mapping[str, Any]) -> list[str]:
    """The --set arguments that pass overrides to this command line (values as JSON, which YAML
    reads back unchanged)."""
    return [a for k, v in overrides.items()
            for a in ("--set", f"{k}={json.dumps(list(v) if isinstance(v, tuple) else v)}")]
