"""Benchmark suite files: what `ddpg benchmark` runs, read and checked.

A suite file:

    name: pendulum
    runs:
      - env: Pendulum-v1
        algos: [ddpg, td3]
        seeds: 10            # seeds 0..9, or a list such as [0, 3, 7]
        steps: 20000
        eval_every: 1000
        eval_episodes: 10    # optional; else the preset's
        preset: pendulum     # optional; else each algo's tuned preset for the env
        overrides: {network.hidden-sizes: [64, 64], warmup-steps: 500}   # optional

Every error names the entry, the key and the value, and says what to write instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ddpg import config as cfgmod
from ddpg.errors import BenchmarkError
from ddpg.presets import PRESETS

ALGOS = ("ddpg", "td3", "td7")
SB3_ALGOS = ("ddpg", "td3")  # what stable-baselines3 has: a baseline runs for these only
# Config keys a suite sets through its own keys, or that only say where and how a run is shown.
SET_BY_SUITE = {"env": "env", "algo": "algos", "seed": "seeds", "total_steps": "steps",
                "eval_every": "eval_every", "eval_episodes": "eval_episodes", "preset": "preset",
                "out": "--results", "run_name": None, "threads": "--jobs", "progress": None}


@dataclass(frozen=True)
class Entry:
    env: str
    algos: tuple[str, ...]
    seeds: tuple[int, ...]
    steps: int
    eval_every: int
    eval_episodes: int | None = None
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    entries: tuple[Entry, ...]
    path: Path


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _flatten(overrides: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{network: {hidden-sizes: [8]}} -> {network.hidden-sizes: [8]}: one flag per value."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _entry(i: int, e: Any, where: str) -> Entry:
    at = f"{where}: runs[{i}]"
    if not isinstance(e, dict):
        raise BenchmarkError(f"{at} is {e!r}; each entry is a mapping with env, algos, seeds, "
                             f"steps and eval_every.")
    required, optional = ("env", "algos", "seeds", "steps", "eval_every"), \
        ("eval_episodes", "preset", "overrides")
    for key in e:
        if key not in required + optional:
            hint = cfgmod.suggest(str(key), [*required, *optional])
            raise BenchmarkError(f"{at}: unknown key {key!r}.{hint} Valid keys: "
                                 f"{', '.join(required + optional)}.")
    for key in required:
        if key not in e:
            raise BenchmarkError(f"{at}: the key {key!r} is missing.")

    def bad(key: str, rule: str) -> BenchmarkError:
        return BenchmarkError(f"{at}: {key}={e[key]!r} is invalid: {rule}.")

    if not isinstance(e["env"], str) or not e["env"]:
        raise bad("env", "give a gymnasium environment id such as Pendulum-v1")
    import gymnasium as gym

    from ddpg.envs import register
    from ddpg.errors import EnvError
    from ddpg.untrusted import UnsafePathError, env_from_file

    try:  # an id read from the suite file never imports a module it names
        known = register(env_from_file(e["env"], at))
    except (EnvError, UnsafePathError) as err:
        raise BenchmarkError(f"{at}: {err}") from err
    if not known:
        hint = cfgmod.suggest(e["env"], list(gym.registry))
        raise BenchmarkError(f"{at}: env={e['env']!r} is not a registered gymnasium id.{hint} "
                             f"Use an id such as Pendulum-v1 or HalfCheetah-v5.")
    algos = e["algos"] if isinstance(e["algos"], list) else [e["algos"]]
    if not algos or any(a not in ALGOS for a in algos) or len(set(algos)) < len(algos):
        raise bad("algos", f"give a list of distinct algorithms out of {', '.join(ALGOS)}")
    seeds = e["seeds"]
    if _int(seeds) and seeds >= 1:
        seeds = list(range(seeds))
    elif not (isinstance(seeds, list) and seeds and all(_int(s) and s >= 0 for s in seeds)
              and len(set(seeds)) == len(seeds)):
        raise bad("seeds", "give a count N >= 1 (seeds 0..N-1) or a list of distinct seeds >= 0")
    for key, low in (("steps", 1), ("eval_every", 0), ("eval_episodes", 1)):
        if key in e and not (_int(e[key]) and e[key] >= low):
            raise bad(key, f"use an integer >= {low}")
    if "preset" in e and e["preset"] not in PRESETS:
        hint = cfgmod.suggest(str(e["preset"]), list(PRESETS))
        raise BenchmarkError(f"{at}: preset={e['preset']!r} is not a preset.{hint} Use one of "
                             f"{', '.join(PRESETS)} (see `ddpg presets`).")
    overrides = e.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise bad("overrides", "give a mapping of `ddpg train` flags without the dashes, e.g. "
                  "{network.hidden-sizes: [64, 64], warmup-steps: 100}")
    overrides = _flatten(overrides)
    for key in overrides:
        name = str(key).replace("-", "_")
        if name in SET_BY_SUITE:
            own = SET_BY_SUITE[name]
            hint = f"use the entry's {own!r} key" if own and not own.startswith("--") else \
                f"the benchmark sets it ({own})" if own else "the benchmark sets it"
            raise BenchmarkError(f"{at}: overrides: {key!r} cannot be overridden: {hint}.")
    return Entry(e["env"], tuple(algos), tuple(seeds), e["steps"], e["eval_every"],
                 e.get("eval_episodes"), e.get("preset"), dict(overrides))


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite file; BenchmarkError names the bad key and value."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as e:
        raise BenchmarkError(f"cannot read the suite file {str(p)!r}: {e.strerror or e}.") from e
    except yaml.YAMLError as e:
        raise BenchmarkError(f"the suite file {str(p)!r} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise BenchmarkError(f"{p}: expected a mapping with the keys name and runs, got {data!r}.")
    for key in data:
        if key not in ("name", "runs", "description"):
            hint = cfgmod.suggest(str(key), ["name", "runs", "description"])
            raise BenchmarkError(f"{p}: unknown key {key!r}.{hint} A suite has the keys name, "
                                 f"runs and optionally description.")
    name = data.get("name")
    if not (isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name)):
        raise BenchmarkError(f"{p}: name={name!r} is invalid: give a name of letters, digits, "
                             f"'_', '.' or '-' that starts with a letter or digit (it names the "
                             f"results directory).")
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs:
        raise BenchmarkError(f"{p}: runs={runs!r} is invalid: give a list of one or more "
                             f"entries with env, algos, seeds, steps and eval_every.")
    return Suite(name, tuple(_entry(i, e, str(p)) for i, e in enumerate(runs)), p)
