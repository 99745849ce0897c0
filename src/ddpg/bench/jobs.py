"""A suite's runs: each (library, algo, env, seed) as a Job with its resolved config and run
directory (`plan`), and what a run directory says about it: finished, resumable, to restart or
to start (`inspect`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import yaml

from ddpg import config as cfgmod
from ddpg.bench.overrides import resolve_config
from ddpg.bench.rundata import final_row
from ddpg.bench.suite import SB3_ALGOS, Entry, Suite
from ddpg.checkpoint import CheckpointManager
from ddpg.config import Config
from ddpg.errors import BenchmarkError, ConfigError
from ddpg.population.summary import committed
from ddpg.untrusted import is_within, read_regular

# Not compared: where and how a run is shown, and settings that do not change its results
RUNTIME_KEYS = {"out", "run_name", "threads", "progress", "tensorboard", "track", "track_project",
                "fast_path", "cuda_graph", "address", "actor_cpus"}


@dataclass(frozen=True, eq=False)
class Job:
    """One run: a (library, algo, env, seed) of a suite entry, its config and its directory."""

    library: str
    entry: Entry
    algo: str
    seed: int
    config: Config
    run_dir: Path
    population: Path | None = None  # the population folder this run is a member of

    @property
    def label(self) -> str:
        name = f"{self.population.name}/{self.run_dir.name}" if self.population else \
            self.run_dir.name
        return f"{self.library:<4} {name}"

    def final(self) -> dict[str, float] | None:
        return final_row(self.run_dir)


@dataclass(frozen=True, eq=False)
class PopulationJob:
    """The ddpg runs of one (entry, algo) trained as one population (`ddpg train --seeds`) in
    RESULTS/<suite>/ddpg/<algo>-<env>/, a member s<seed> per seed."""

    members: tuple[Job, ...]

    library = "ddpg"

    @property
    def run_dir(self) -> Path:
        return self.members[0].population

    @property
    def config(self) -> Config:
        return self.members[0].config

    @property
    def entry(self) -> Entry:
        return self.members[0].entry

    @property
    def algo(self) -> str:
        return self.members[0].algo

    @property
    def seeds(self) -> list[int]:
        return [m.seed for m in self.members]

    @property
    def label(self) -> str:
        return f"ddpg {self.run_dir.name} (population, seeds {','.join(map(str, self.seeds))})"

    def final(self) -> dict[str, float] | None:
        """The final row of the member that is furthest behind (None: one has none)."""
        rows = [m.final() for m in self.members]
        return None if any(r is None for r in rows) else min(rows, key=lambda r: r["step"])


def populations(actions: list[tuple[Job, str, str]]) -> list[tuple[Job | PopulationJob, str, str]]:
    """The ddpg members of each population as one PopulationJob: 'skip' when every member
    finished or population.json says every member has ended (done, diverged or stopped),
    'resume' from its committed checkpoint step, else 'restart' (or 'start')."""
    out: list[tuple[Job | PopulationJob, str, str]] = []
    groups: dict[Path, list[tuple[Job, str, str]]] = {}
    for job, act, why in actions:
        if job.population is None:
            out.append((job, act, why))
        else:
            groups.setdefault(job.population, []).append((job, act, why))
    for folder, members in groups.items():
        pop = PopulationJob(tuple(j for j, _, _ in members))
        acts = {act for _, act, _ in members}
        if acts == {"skip"}:
            out.append((pop, "skip", "finished (every member)"))
        elif acts == {"start"}:
            out.append((pop, "start", ""))
        else:
            step, status = committed(folder)
            total = pop.config.total_steps  # members a resume continues: running, or done
            running = [j for j in pop.members if status.get(j.run_dir.name) == "running" or (
                status.get(j.run_dir.name) == "done" and step is not None and step < total)]
            lost = [j.run_dir.name for j in running  # only they load the checkpoints of `step`
                    if step not in CheckpointManager(j.run_dir / "checkpoints").steps()]
            ended = [f"{n} {s}" for n, s in status.items() if s in ("diverged", "stopped")]
            if step is not None and status and not running:
                out.append((pop, "skip", "ended (every member finished or stopped: "
                                         f"{', '.join(ended) or 'none stopped'})"))
            elif step is not None and step < total and not lost:
                out.append((pop, "resume", f"unfinished, from the step {step} committed for "
                                           f"every member"))
            elif lost:  # e.g. a clone: population.json is kept in git, checkpoints are not
                out.append((pop, "restart", f"unfinished, the checkpoints of step {step} are "
                                            f"missing ({', '.join(lost)}): starting over"))
            else:
                out.append((pop, "restart", "unfinished, no committed checkpoint: starting over"))
    return out


def plan(suite: Suite, results: Path, libraries: Sequence[str],
         population: bool = False) -> list[Job]:
    """Every (entry, algo, seed, library) as a Job with its resolved config; the config is the
    one `ddpg train` resolves from the same flags, so invalid overrides fail here. With
    `population`, ddpg's runs of an (entry, algo) are members s<seed> of the population folder
    RESULTS/<suite>/ddpg/<algo>-<env>. stable-baselines3 runs only what it has (not TD7)."""
    jobs: list[Job] = []
    seen: dict[Path, int] = {}
    for i, e in enumerate(suite.entries):
        for algo in e.algos:
            for seed in e.seeds:
                flags = {**e.overrides, "seed": seed, "total-steps": e.steps,
                         "eval-every": e.eval_every}
                if e.eval_episodes is not None:
                    flags["eval-episodes"] = e.eval_episodes
                try:
                    config = resolve_config(e.env, algo, e.preset, flags, "overrides")
                except ConfigError as err:
                    raise BenchmarkError(f"{suite.path}: runs[{i}] ({algo}, seed {seed}): {err}")
                name = f"{algo}-{e.env.replace('/', '_')}-s{seed}"
                for lib in libraries:
                    if lib == "sb3" and algo not in SB3_ALGOS:
                        continue  # (stable-baselines3 has no TD7)
                    run_dir = results / suite.name / lib / name
                    folder = None
                    if population and lib == "ddpg":
                        folder = results / suite.name / lib / f"{algo}-{e.env.replace('/', '_')}"
                        run_dir = folder / f"s{seed}"
                    if run_dir in seen:
                        raise BenchmarkError(f"{suite.path}: runs[{i}] repeats {algo} on {e.env} "
                                             f"with seed {seed} of runs[{seen[run_dir]}].")
                    seen[run_dir] = i
                    jobs.append(Job(lib, e, algo, seed, config, run_dir, folder))
    return jobs


def _differences(job: Job) -> list[str]:
    """Settings in which the run directory's config.yaml differs from the job's config."""
    try:
        saved = yaml.safe_load(read_regular(job.run_dir / "config.yaml").decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    if not isinstance(saved, dict):
        return []
    out: list[str] = []

    def walk(want: dict, have: dict, prefix: str) -> None:
        for k, v in want.items():
            if prefix == "" and k in RUNTIME_KEYS:
                continue
            if isinstance(v, dict) and isinstance(have.get(k), dict):
                walk(v, have[k], f"{prefix}{k}.")
            elif have.get(k, v) != v:
                out.append(f"{prefix}{k}: {have.get(k)!r} there, {v!r} in the suite")

    walk(cfgmod.to_dict(job.config), saved, "")
    return out


def inspect(job: Job) -> tuple[str, str]:
    """(action, why): 'skip' a finished run, 'resume' a ddpg run from its checkpoint, 'restart'
    an unfinished one, 'start' a new one."""
    # RESULTS/<suite>/<library>/<run>, or RESULTS/<suite>/ddpg/<population>/<member>
    results = job.run_dir.parents[3 if job.population else 2]
    if not is_within(job.run_dir, results):  # it is deleted and written: never elsewhere
        raise BenchmarkError(f"{job.run_dir} leads out of {results} through a symbolic link; "
                             f"replace the link by a directory or pass another --results.")
    if not job.run_dir.exists():
        return "start", ""
    differ = _differences(job)
    if differ:
        raise BenchmarkError(
            f"{job.run_dir} was run with other settings ({'; '.join(differ[:3])}); delete it or "
            f"pass another --results directory.")
    row = final_row(job.run_dir)
    total = job.config.total_steps
    if row is not None and row["step"] >= total:
        return "skip", f"finished, final return {row['eval_return_mean']:.1f}"
    reached = f"step {int(row['step'])} of {total}" if row else f"no evaluation yet, {total} " \
        f"steps planned"
    if job.library == "ddpg":
        steps = CheckpointManager(job.run_dir / "checkpoints").steps()
        if steps and max(steps) < total:
            return "resume", f"unfinished ({reached}), from the checkpoint of step {max(steps)}"
        return "restart", f"unfinished ({reached}), no checkpoint to resume from: starting over"
    return "restart", f"unfinished ({reached}), sb3 runs cannot be resumed: starting over"
