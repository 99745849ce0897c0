"""Who is in a population: seeds (`--seeds 0-9`, `0,3,7`) crossed with swept values
(`--sweep actor_lr=1e-4,3e-4`), each a full Config, and the rule of what members may differ in.

Members train in lockstep on stacked tensors, so they may differ only where no tensor's shape
and no step of the loop's schedule changes: the seed, learning rates, weight decay, tau, gamma,
the exploration noise's settings and TD3's target noise.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any, Iterable, Sequence

from ddpg import config as cfgmod
from ddpg.config import Config
from ddpg.errors import ConfigError

# Fields members may differ in (dotted names); everything else must be equal across members.
PER_MEMBER = ("seed", "run_name", "actor_lr", "critic_lr", "critic_weight_decay", "tau", "gamma",
              "noise.kind", "noise.sigma", "noise.schedule", "noise.final_sigma",
              "noise.decay_steps", "noise.theta", "noise.dt", "td3.target_noise",
              "td3.target_noise_clip", "progress")
SWEEPABLE = tuple(f for f in PER_MEMBER if f not in ("seed", "run_name", "progress"))
_NAME = re.compile(r"[A-Za-z0-9_.=,+-]{1,200}")


def parse_seeds(text: str | int | Iterable[int]) -> list[int]:
    """'0-9' -> [0..9], '0,3,7' -> [0, 3, 7], '0-2,10' -> [0, 1, 2, 10]; or ints."""
    if isinstance(text, int):
        return [text]
    if not isinstance(text, str):
        seeds = [int(s) for s in text]
    else:
        seeds = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if m is not None and m[2] is not None and int(m[2]) < int(m[1]):
                raise ConfigError(f"--seeds {text!r}: the range {part!r} is descending; write "
                                  f"{m[2]}-{m[1]}.")
            if m is None:
                raise ConfigError(f"--seeds {text!r}: {part!r} is not a seed or a range like "
                                  f"0-9; use e.g. --seeds 0-9 or --seeds 0,3,7.")
            seeds += range(int(m[1]), int(m[2] or m[1]) + 1)
    if not seeds:
        raise ConfigError(f"--seeds {text!r} names no seed; use e.g. --seeds 0-9.")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r} names a seed twice; each member needs its own.")
    return seeds


def parse_sweep(items: Sequence[str] | dict[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """['actor_lr=1e-4,3e-4', 'tau=0.005,0.01'] (or a dict) -> {field: [values...]}, the field
    names checked to be ones members may differ in."""
    out: dict[str, list[Any]] = {}
    pairs = items.items() if isinstance(items, dict) else []
    if not isinstance(items, dict):
        for item in items:
            name, eq, values = item.partition("=")
            if not eq or not values:
                raise ConfigError(f"--sweep {item!r}: expected FIELD=V1,V2,... e.g. "
                                  f"--sweep actor_lr=1e-4,3e-4.")
            pairs.append((name, values.split(",")))
    for name, values in pairs:
        name = name.strip().replace("-", "_")
        if name in out:
            raise ConfigError(f"--sweep {name} is given twice; give all its values at once, "
                              f"e.g. --sweep {name}=V1,V2.")
        if name not in SWEEPABLE:
            raise ConfigError(f"--sweep {name}: members of one population may differ only in "
                              f"{', '.join(SWEEPABLE)}.{cfgmod.suggest(name, list(SWEEPABLE))} "
                              f"Sweep other fields with separate runs (or `ddpg sweep`).")
        values = list(values)
        if not values:
            raise ConfigError(f"--sweep {name}: no values given.")
        out[name] = values
    return out


def with_values(config: Config, values: dict[str, Any], source: str) -> Config:
    """`config` with values given by dotted field names ({'noise.sigma': 0.2}), checked as a
    config file's are (cfgmod.merge: unknown fields, wrong types)."""
    nested: dict[str, Any] = {}
    for dotted, value in values.items():
        head, _, tail = dotted.partition(".")
        if tail:
            nested.setdefault(head, {})[tail] = value
        else:
            nested[head] = value
    return cfgmod.merge(config, nested, source)


def dotted_fields(c: Any, prefix: str = "") -> dict[str, Any]:
    """Every field of a config by its dotted name, e.g. {'network.hidden_sizes': (400, 300)}."""
    out = {}
    for f in dataclasses.fields(c):
        value = getattr(c, f.name)
        if dataclasses.is_dataclass(value):
            out.update(dotted_fields(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = value
    return out


def expand(config: Config, seeds: Iterable[int] | str, sweep: dict[str, list[Any]] | None = None
           ) -> list[tuple[str, Config]]:
    """Every (swept values x seed) member as (name, config): names like 's3' or
    'actor_lr=0.0001-s3', each config with its seed and its values. A value given twice (in any
    spelling: '1e-3' and '0.001') is refused, so that no two members share a folder."""
    seeds = parse_seeds(seeds)
    sweep = swept_values(config, parse_sweep(sweep or {}))
    members = []
    for values in itertools.product(*sweep.values()):
        base = with_values(config, dict(zip(sweep, values)), "--sweep")
        label = [f"{name}={value}" for name, value in zip(sweep, values)]
        for seed in seeds:
            name = "-".join([*label, f"s{seed}"])
            if not _NAME.fullmatch(name):
                raise ConfigError(f"member name {name!r} is not a plain file name; give "
                                  f"--sweep values made of letters, digits and . - +.")
            members.append((name, dataclasses.replace(base, seed=seed, run_name=name)))
    check_names([name for name, _ in members])
    return members


def swept_values(config: Config, sweep: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Each swept field's values as the config holds them ('1e-3' -> 0.001); ConfigError naming
    a value given twice."""
    out: dict[str, list[Any]] = {}
    for name, given in sweep.items():
        values: list[Any] = []
        for spelled in given:
            value = field_value(with_values(config, {name: spelled}, "--sweep"), name)
            if value in values:
                first = given[values.index(value)]
                raise ConfigError(
                    f"--sweep {name}={','.join(map(str, given))} names the value {value!r} "
                    f"twice ({first!r} and {spelled!r}); each member needs its own, so give "
                    f"each value once.")
            values.append(value)
        out[name] = values
    return out


def check_names(names: Sequence[str]) -> None:
    """ConfigError unless every member has a folder of its own (names that differ only in case
    are one folder on macOS and Windows)."""
    seen: dict[str, str] = {}
    for name in names:
        if name.casefold() in seen:
            raise ConfigError(f"population members {seen[name.casefold()]!r} and {name!r} "
                              f"would share one run folder; give each member its own seed and "
                              f"swept values.")
        seen[name.casefold()] = name


def field_value(c: Config, dotted: str) -> Any:
    for part in dotted.split("."):
        c = getattr(c, part)
    return c


def check_members(configs: Sequence[Config]) -> None:
    """ConfigError unless the configs differ only in PER_MEMBER fields, and nothing asks for
    what a population does not do (--actors)."""
    flat0 = dotted_fields(configs[0])
    for c in configs[1:]:
        for key, value in dotted_fields(c).items():
            if key not in PER_MEMBER and flat0.get(key) != value:
                raise ConfigError(
                    f"population members differ in {key} ({flat0.get(key)!r} vs {value!r}); "
                    f"members train in lockstep on stacked tensors and may differ only in "
                    f"{', '.join(SWEEPABLE)} and the seed. Train the others as another "
                    f"population.")
    if configs[0].actors > 0:
        raise ConfigError(f"actors={configs[0].actors}: a population collects in its own "
                          f"process; train populations or distributed runs, not both.")

