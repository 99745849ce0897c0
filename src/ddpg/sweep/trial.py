"""One trial of a sweep, as Ray Tune runs it in a worker: the trial's seeds as one population in
SWEEP/trials/<trial id>/, every evaluation reported to Tune with the checkpoint it can restart
from.

Checkpoints: the population commits a checkpoint of every member at each evaluation (a sweep
sets checkpoint_every = eval_every) and only then reports; the Tune checkpoint it reports is a
small file naming the population folder and the committed step, so ddpg's own checkpoints (with
the replay rows) are not copied at every report. A trial restarted on another worker (its
worker died: Tune's FailureConfig) finds that checkpoint with `tune.get_checkpoint()` and
continues with `resume_population`, bit-identically; the sweep folder must therefore be storage
every node sees (on one machine it is).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ddpg import config as cfgmod
from ddpg.config import Config
from ddpg.population import Population, expand, resume_population
from ddpg.population.members import with_values
from ddpg.population.summary import committed_step

MARKER = "ddpg-trial.json"


def score(members: list[Any], metric: str, reduce: str) -> tuple[float, list[float]]:
    """The trial's metric over its members: each member's final evaluation return (or the mean
    over its evaluations so far: 'auc'), then their mean or interquartile mean."""
    from ddpg.bench.stats import iqm

    values = []
    for m in members:
        returns = [r["eval_return_mean"] for r in m.evaluations]
        if returns:
            values.append(returns[-1] if metric == "final" else float(np.mean(returns)))
    if not values:
        return -math.inf, []
    return (float(np.mean(values)) if reduce == "mean" else float(iqm(values))), values


def run_trial(params: dict[str, Any], *, base: dict[str, Any], seeds: list[int], metric: str,
              reduce: str, folder: str) -> None:
    """Tune's function trainable: train `seeds` of the base config with the trial's values."""
    import ray
    from ray import tune

    config = with_values(cfgmod.merge(Config(), base, "the sweep's base"), params,
                   f"trial values {params}")
    context = tune.get_context()
    trial_id = context.get_trial_id()
    directory = Path(folder) / "trials" / trial_id
    node = ray.get_runtime_context().get_node_id()

    def report(population: Population, step: int) -> None:
        value, returns = score(population.members, metric, reduce)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / MARKER).write_text(json.dumps({"population": str(directory),
                                                        "step": step}))
            tune.report({"score": value, "step": step, "returns": returns, "node": node,
                         "population": str(directory)},
                        checkpoint=tune.Checkpoint.from_directory(tmp))

    committed = committed_step(directory)
    if committed is not None and committed < config.total_steps:
        resume_population(directory, config.env, on_commit=report)
        return
    shutil.rmtree(directory, ignore_errors=True)  # nothing committed: start the trial over
    directory.parent.mkdir(parents=True, exist_ok=True)
    Population(expand(config, seeds), config.env, directory=directory,
               on_commit=report).run()
