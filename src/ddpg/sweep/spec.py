"""Sweep files: what `ddpg sweep` searches, read and checked.

    name: pendulum-lr              # the sweep's folder under --out (default: the file's name)
    base:                          # the config every trial starts from
      env: Pendulum-v1
      algo: ddpg                   # optional (default ddpg)
      preset: pendulum             # optional (default: the tuned preset of env and algo)
      config: base.yaml            # optional config file, applied on the preset
      total_steps: 10000
      overrides: {eval_every: 1000, network.hidden_sizes: [64, 64]}   # optional config values
    space:                         # config fields by dotted name
      actor_lr: {loguniform: [1.0e-4, 1.0e-2]}
      critic_lr: {grid: [1.0e-4, 1.0e-3]}
      tau: {choice: [0.005, 0.01]}
      noise.sigma: {uniform: [0.05, 0.3]}
      batch_size: {randint: [32, 257]}    # integers low <= x < high
    seeds: 3                       # each trial trains seeds 0..2 as one population (or a list)
    metric: {name: final, reduce: iqm}    # final | auc of the noise-free evaluation return;
                                          # mean | iqm over the seeds
    search: grid                   # grid | random | optuna (TPE through Ray Tune's OptunaSearch)
    samples: 1                     # Tune's num_samples (random/optuna: the trials; grid: repeats)
    asha: {grace_period: 2, reduction_factor: 2}   # optional early stopping, in evaluations
    resources: {cpu: 1}            # per trial
    max_failures: 2                # restarts of a trial whose worker died (from its checkpoint)

Every error names the key and the value and says what to write instead.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ddpg import config as cfgmod
from ddpg.config import Config
from ddpg.errors import ConfigError
from ddpg.population.members import dotted_fields, with_values

KINDS = ("grid", "choice", "uniform", "loguniform", "randint")
SEARCHES = ("grid", "random", "optuna")
METRICS, REDUCES = ("final", "auc"), ("mean", "iqm")
TOP_KEYS = {"name", "base", "space", "seeds", "metric", "search", "samples", "asha",
            "resources", "max_failures"}
BASE_KEYS = {"env", "algo", "preset", "config", "total_steps", "overrides"}


@dataclass(frozen=True)
class Sweep:
    name: str
    path: Path
    base: Config
    space: dict[str, tuple[str, list[Any]]]  # field -> (kind, values or bounds)
    seeds: list[int]
    metric: str = "final"
    reduce: str = "iqm"
    search: str = "grid"
    samples: int = 1
    asha: dict[str, int] | None = None
    resources: dict[str, float] = field(default_factory=lambda: {"cpu": 1.0})
    max_failures: int = 2

    def config_for(self, params: dict[str, Any]) -> Config:
        """The base config with a trial's values."""
        return with_values(self.base, params, f"{self.path}: trial values {params}")


def _fail(path: Path, where: str, msg: str) -> None:
    raise ConfigError(f"{path}: {where}: {msg}")



def load_sweep(path: str | Path) -> Sweep:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the sweep file ({e.strerror or e}).") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]}).") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a sweep file is a mapping with base, space and seeds (see "
                          f"`ddpg sweep --help`).")
    for key in data:
        if key not in TOP_KEYS:
            _fail(path, str(key), f"unknown key.{cfgmod.suggest(str(key), sorted(TOP_KEYS))} "
                                  f"Keys: {', '.join(sorted(TOP_KEYS))}.")
    base_spec = data.get("base") or {}
    if not isinstance(base_spec, dict) or "env" not in base_spec:
        _fail(path, "base", "give at least base: {env: ENV_ID, total_steps: N}.")
    for key in base_spec:
        if key not in BASE_KEYS:
            _fail(path, f"base.{key}", f"unknown key.{cfgmod.suggest(str(key), sorted(BASE_KEYS))}"
                                       f" Keys: {', '.join(sorted(BASE_KEYS))}.")
    algo = str(base_spec.get("algo", "ddpg"))
    config_file = base_spec.get("config")
    if config_file is not None:
        config_file = (path.parent / str(config_file)) if not Path(str(config_file)).is_absolute() \
            else Path(str(config_file))
    base = cfgmod.resolve(base_spec.get("preset"), config_file, str(base_spec["env"]), algo)
    overrides = {str(k).replace("-", "_"): v
                 for k, v in dict(base_spec.get("overrides") or {}).items()}
    overrides["env"] = str(base_spec["env"])
    total = base_spec.get("total_steps", base.total_steps)
    if not isinstance(total, int) or isinstance(total, bool) or total < 1:
        _fail(path, "base.total_steps", f"{total!r}: a positive integer.")
    explicit = {k.split(".")[0] for k in overrides}
    if "total_steps" in overrides:  # one place for it
        _fail(path, "base.overrides.total_steps", "give it as base.total_steps.")
    base = with_values(dataclasses.replace(base, total_steps=max(total, base.total_steps)), overrides,
                 f"{path}: base.overrides")
    # as `ddpg train --total-steps` does: warm-up and evaluations fitted to a short budget
    base, _ = cfgmod.fit_budget(base, total, explicit)
    # every evaluation is a committed checkpoint: what a trial reports, Tune can restart from
    base = dataclasses.replace(base, checkpoint_every=base.eval_every, progress=False)
    if base.eval_every <= 0 or base.eval_every > base.total_steps:
        _fail(path, "base", f"eval_every={base.eval_every}: a sweep needs evaluations during "
                            f"training (0 < eval_every <= total_steps={base.total_steps}); "
                            f"set base.overrides.eval_every.")
    fields = dotted_fields(base)
    space = _space(path, data.get("space"), fields, base)
    seeds = data.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        seeds = list(range(seeds))
    elif not (isinstance(seeds, list) and seeds and all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
              and len(set(seeds)) == len(seeds)):
        _fail(path, "seeds", f"{seeds!r}: give a count (3: seeds 0..2) or a list of distinct "
                             f"non-negative seeds.")
    metric = data.get("metric") or {}
    if not isinstance(metric, dict):
        _fail(path, "metric", f"{metric!r}: write metric: {{name: final, reduce: iqm}}.")
    name, reduce = metric.get("name", "final"), metric.get("reduce", "iqm")
    if name not in METRICS:
        _fail(path, "metric.name", f"{name!r}: use {' or '.join(METRICS)}.")
    if reduce not in REDUCES:
        _fail(path, "metric.reduce", f"{reduce!r}: use {' or '.join(REDUCES)}.")
    search = data.get("search", "grid")
    if search not in SEARCHES:
        _fail(path, "search", f"{search!r}: use one of {', '.join(SEARCHES)}."
                              f"{cfgmod.suggest(str(search), list(SEARCHES))}")
    grids = [k for k, (kind, _) in space.items() if kind == "grid"]
    if search == "optuna" and grids:
        _fail(path, "space", f"{', '.join(grids)}: optuna samples its values; write choice "
                             f"instead of grid, or use search: grid.")
    samples = data.get("samples", 1)
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        _fail(path, "samples", f"{samples!r}: a positive integer.")
    asha = data.get("asha")
    if asha is not None:
        if not isinstance(asha, dict) or set(asha) - {"grace_period", "reduction_factor"}:
            _fail(path, "asha", f"{asha!r}: write asha: {{grace_period: 1, reduction_factor: 2}} "
                                f"(in evaluations).")
        asha = {"grace_period": int(asha.get("grace_period", 1)),
                "reduction_factor": int(asha.get("reduction_factor", 2))}
        if asha["grace_period"] < 1 or asha["reduction_factor"] < 2:
            _fail(path, "asha", f"{asha}: grace_period >= 1 and reduction_factor >= 2.")
    resources = data.get("resources") or {"cpu": 1}
    if not isinstance(resources, dict) or set(resources) - {"cpu", "gpu"} or any(
            not isinstance(v, (int, float)) or v < 0 for v in resources.values()):
        _fail(path, "resources", f"{resources!r}: write resources: {{cpu: 1}} (and gpu: N).")
    failures = data.get("max_failures", 2)
    if not isinstance(failures, int) or failures < 0:
        _fail(path, "max_failures", f"{failures!r}: a non-negative integer.")
    return Sweep(str(data.get("name") or path.stem), path, base, space, seeds, name, reduce,
                 search, samples, asha, {k: float(v) for k, v in resources.items()}, failures)


def _space(path: Path, space: Any, fields: dict[str, Any], base: Config
           ) -> dict[str, tuple[str, list[Any]]]:
    if not isinstance(space, dict) or not space:
        _fail(path, "space", "name at least one config field to search, e.g. "
                             "space: {actor_lr: {loguniform: [1.0e-4, 1.0e-2]}}.")
    out: dict[str, tuple[str, list[Any]]] = {}
    for key, spec in space.items():
        name = str(key).replace("-", "_")
        where = f"space.{key}"
        if name not in fields:
            _fail(path, where, f"unknown config field.{cfgmod.suggest(name, list(fields))}")
        if name in ("seed", "env", "algo", "out", "run_name"):
            _fail(path, where, "is set by the sweep itself; use the seeds key for seeds.")
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
            _fail(path, where, f"{spec!r}: write one of " + ", ".join(
                f"{{{k}: ...}}" for k in KINDS) + ".")
        kind, values = next(iter(spec.items()))
        if not isinstance(values, list) or not values:
            _fail(path, where, f"{kind}: {values!r} is empty or not a list.")
        default = fields[name]
        if kind in ("grid", "choice"):
            for v in values:  # each value must be one the field takes
                with_values(base, {name: v}, f"{path}: {where}")
        else:
            if len(values) != 2 or not all(isinstance(v, (int, float)) and
                                           not isinstance(v, bool) for v in values):
                _fail(path, where, f"{kind}: {values!r}: give [low, high] numbers.")
            low, high = values
            if not low < high:
                _fail(path, where, f"{kind}: [{low}, {high}] is an empty range; low < high.")
            if kind == "loguniform" and low <= 0:
                _fail(path, where, f"loguniform: [{low}, {high}]: both bounds must be > 0.")
            if kind == "randint" and not (isinstance(default, int) and
                                          all(float(v).is_integer() for v in values)):
                _fail(path, where, f"randint draws integers; {name} is "
                                   f"{type(default).__name__} (use uniform or loguniform).")
            if kind in ("uniform", "loguniform") and not isinstance(default, float):
                _fail(path, where, f"{kind} draws real numbers; {name} is "
                                   f"{type(default).__name__} (use randint, grid or choice).")
            values = [float(low), float(high)] if kind != "randint" else [int(low), int(high)]
            if not all(math.isfinite(v) for v in values):
                _fail(path, where, f"{kind}: {values}: finite bounds.")
        out[name] = (kind, values)
    return out
