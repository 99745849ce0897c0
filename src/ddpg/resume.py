"""Continuing a run from its newest valid checkpoint, with the config it was started with."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

from ddpg import config as cfgmod
from ddpg.checkpoint import CheckpointManager, Loaded, read_manifest
from ddpg.config import Config
from ddpg.envs import EnvLike
from ddpg.errors import CheckpointError, ConfigError, NotResumable
from ddpg.metrics import EVALUATIONS_FILE, METRICS_FILE, log
from ddpg.policy import BEST_POLICY_FILE, POLICY_FILE
from ddpg.results import StepContext, TrainResult
from ddpg.rundir import RESUMES_FILE, is_run_dir, locate_run, record_resume
from ddpg.trainer import CHECKPOINT_DIR, Trainer
from ddpg.untrusted import UnsafePathError, check_stays_inside, env_from_file


def _checked(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise NotResumable(f"--resume {str(run_dir)!r}: no such run directory.")
    if not is_run_dir(run_dir):
        raise NotResumable(f"--resume {str(run_dir)!r} is not a ddpg run folder: give the folder "
                           f"`ddpg train` wrote under --out, holding config.yaml, checkpoints/ "
                           f"and policy.pt (or a population's, holding population.json).")
    try:  # what the resumed run writes or deletes stays in the run directory
        check_stays_inside(run_dir, CHECKPOINT_DIR, METRICS_FILE, POLICY_FILE, BEST_POLICY_FILE,
                           EVALUATIONS_FILE, "tb", "config.yaml", RESUMES_FILE)
    except UnsafePathError as e:
        raise CheckpointError(f"--resume {str(run_dir)!r}: {e}") from e


def _config_of(run_dir: Path, manifest: dict[str, Any]) -> Config:
    config = cfgmod.merge(Config(), manifest["config"], f"checkpoint in {run_dir}")
    # where the run lives is where it was found, never a path the checkpoint names
    return dataclasses.replace(config, out=str(run_dir.parent), run_name=run_dir.name)


def _latest(run_dir: Path) -> tuple[Loaded, Config]:
    _checked(run_dir)
    loaded, problems = CheckpointManager(run_dir / CHECKPOINT_DIR).latest()
    for p in problems:
        log.warning(f"warning: skipping a damaged checkpoint: {p}")
    if loaded is None:
        raise NotResumable(f"--resume {str(run_dir)!r}: no valid checkpoint in "
                           f"{run_dir / CHECKPOINT_DIR}" + (f" ({problems[0]})" if problems
                                                            else "") + ".")
    return loaded, _config_of(run_dir, loaded.manifest)


def _saved_env(config: Config, run_dir: Path) -> str:
    try:
        return env_from_file(config.env, f"the checkpoint of {run_dir}")
    except UnsafePathError as e:
        raise CheckpointError(str(e)) from e


def checkpoint_config(run_dir: Path, step: int) -> tuple[Config, dict[str, Any]]:
    """The config of the run in `run_dir` as its checkpoint of `step` saved it (its env id
    checked as one read from a file), and the saved dict itself (for `record_resume`), for a
    population member's resume: from the manifest alone; the population loads and verifies the
    checkpoint itself once."""
    _checked(run_dir)
    try:
        manifest = read_manifest(run_dir / CHECKPOINT_DIR / f"ckpt-{step:012d}.json")
        config = _config_of(run_dir, manifest)
    except KeyError as e:
        raise CheckpointError(f"{run_dir}: the checkpoint of step {step} names no {e}.") from e
    _saved_env(config, run_dir)
    return config, manifest["config"]


def resume(run_dir: str | Path, env: EnvLike | None = None, *, total_steps: int | None = None,
           progress: bool | None = None, tensorboard: bool | None = None,
           address: str | None = None, threads: int | None = None,
           device: str | None = None,
           on_step: Callable[[StepContext], bool | None] | None = None,
           on_eval: Callable[[dict[str, Any]], bool | None] | None = None) -> TrainResult:
    """Continue the run in `run_dir` from its newest valid checkpoint, with its saved config
    (optionally a new total_steps, whether to show progress or write TensorBoard events, torch's
    intra-op threads (the count the run had gives the same bits: docs/training.md), the device
    (a run written on cuda:0 goes on on a CPU or another GPU: docs/checkpoints.md), and for a
    distributed run the Ray cluster to join).
    `env` is needed where the saved id imports a module ('module:Id'), which ddpg does not do
    for an id read from a file; an id given must be the saved one. Newer damaged checkpoints
    are reported and skipped. config.yaml is rewritten with the config the run continues with,
    and resumes.yaml records the resume (`rundir.record_resume`)."""
    run_dir = locate_run(run_dir, "--resume")
    loaded, config = _latest(run_dir)
    if env is None:
        env = _saved_env(config, run_dir)
    elif isinstance(env, str) and env != config.env:
        raise ConfigError(f"env={env!r}: the run in {run_dir} trains {config.env!r}; a resumed "
                          f"run keeps its environment (start a new run for another one).")
    shown = {k: v for k, v in (("progress", progress), ("tensorboard", tensorboard),
                               ("address", address), ("threads", threads),
                               ("device", device)) if v is not None}
    config = dataclasses.replace(config, **shown)
    if total_steps is not None:
        config = dataclasses.replace(config, total_steps=total_steps)
    if config.total_steps <= loaded.step:
        log.warning(f"the run already reached step {loaded.step} of total_steps "
                    f"{config.total_steps}; nothing to resume (pass --total-steps to extend it).")
    log.info(f"resuming {run_dir} from step {loaded.step}")
    trainer = Trainer(config, env, resume=loaded, run_dir=run_dir, on_step=on_step,
                      on_eval=on_eval)
    if trainer.config.total_steps > loaded.step:
        record_resume(run_dir, dataclasses.replace(trainer.config, env=trainer.env_name),
                      loaded.step, loaded.manifest["config"])
    return trainer.run()
