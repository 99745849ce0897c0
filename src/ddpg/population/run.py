"""A population: many members (seeds x swept values) trained in one process, in lockstep.

Each member is an ordinary run (ddpg.trainer.Trainer: its own environments, replay rows, noise,
random streams and run directory, all derived from its seed exactly as a single run of that
seed derives them), driven by the same loop as a single run (`run_members`). What `Population`
changes is what run_members does for all members together:

- acting: one batched forward pass of every member's actor (then each member's own noise);
- updating: one FastStep for all members (ddpg.population.workers; batched products, one
  Adam step per network, one Polyak step) on replay batches sampled with each member's own
  generator and gathered from one stacked tensor of replay rows; networks the fast path does
  not cover run the reference autograd update for all members at once (torch.func vmap,
  ddpg.population.functional), and batch normalisation member by member;
- checkpoints: every member writes its own; then population.json names the step as committed
  and only then are older checkpoints pruned, so a kill at any moment resumes every member from
  the same step;
- divergence: a member whose losses, actions or parameters become non-finite is stopped and
  reported with its last good checkpoint; the others go on.

The population folder holds population.json, summary.md and summary.csv, and one run directory
per member, which every tool (`ddpg eval`, `ddpg plot`, `ddpg.load`) reads as any run.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
import torch

from ddpg import config as cfgmod
from ddpg import devices, newdirs
from ddpg.agent import explore
from ddpg.checkpoint import CheckpointManager
from ddpg.collect import Books, collect
from ddpg.config import Config
from ddpg.envs import EnvLike, env_name, fresh_env, to_env_action
from ddpg.errors import CheckpointError, ConfigError, TrainingError
from ddpg.evaluation import evaluate_together
from ddpg.metrics import log
from ddpg.population.members import (SWEEPABLE, check_members, check_names, expand,
                                     field_value, parse_seeds, parse_sweep)
from ddpg.population.functional import unsupported
from ddpg.population.workers import Worker
from ddpg.population.summary import (FORMAT, MANIFEST, VERSION, PopulationResult,
                                     write_summary)
from ddpg.results import StepContext, TrainResult
from ddpg.rundir import make_run_dir
from ddpg.sizing import check_population
from ddpg.trainer import CHECKPOINT_DIR, Group, Trainer, run_members



class Population(Group):
    """Members trained together; see the module's docstring."""

    def __init__(self, members: Sequence[tuple[str, Config]], env: EnvLike | None = None, *,
                 directory: Path | None = None, resume: dict[str, Any] | None = None,
                 on_step: Callable[[StepContext], bool | None] | None = None,
                 on_eval: Callable[[dict[str, Any]], bool | None] | None = None,
                 on_commit: Callable[[Population, int], None] | None = None) -> None:
        """`on_commit(population, step)`: after every member's checkpoint of `step` is written
        and committed (a sweep reports there: what it reports can be resumed from)."""
        members = [(n, devices.resolve(c)) for n, c in members]  # `cpu` or `cuda:N`, checked
        configs = [c for _, c in members]
        self.on_commit = on_commit
        check_names([n for n, _ in members])
        check_members(configs)
        c0 = configs[0]
        env = env if env is not None else c0.env
        self.env_name = env if isinstance(env, str) else None
        self.run_dir = directory or _make_dir(replace(c0, run_name=""), env)
        newdirs.mkdir(self.run_dir)
        differ = _differing(configs)
        self.manifest = resume or {"format": FORMAT, "version": VERSION, "step": None,
                                   "members": [{"name": n, "seed": c.seed, "status": "running",
                                                "values": {k: field_value(c, k) for k in differ}}
                                               for n, c in members]}
        self.entries = {m["name"]: m for m in self.manifest["members"]}
        self.names = list(self.entries)
        running = [(n, c) for n, c in members if self.entries[n]["status"] == "running"]
        if not running:
            raise ConfigError(f"population {self.run_dir}: no member is left running.")
        self._rows: torch.Tensor | None = None
        self.members: list[Trainer] = []
        width = max(len(name) for name, _ in running)  # the members' evaluation lines align
        for i, (name, config) in enumerate(running):
            config = replace(config, out=str(self.run_dir), run_name=name,
                             progress=config.progress and i == 0)
            loaded = self._load(name) if self.manifest["step"] is not None else None
            member_env = fresh_env(env) if not isinstance(env, str) and i else env
            newdirs.mkdir(self.run_dir / name)
            self.members.append(Trainer(
                config, member_env, resume=loaded, run_dir=self.run_dir / name, quiet=i > 0,
                label=f"{name:<{width}}  ", on_step=on_step, on_eval=on_eval,
                storage=lambda shape, i=i: self._storage(shape, i, len(running), c0.device)))
            if i == 0:
                built = time.perf_counter()
            elif i == 1 and len(running) > 100:  # the first took imports and warm-up too
                more = (time.perf_counter() - built) * (len(running) - 2)
                log.info(f"setting up {len(running):,} members: about {more:.0f} s (Ctrl-C stops)")
        if self.env_name is None:
            self.env_name = self.members[0].env_name
        agents = [m.agent for m in self.members]
        self._index = {id(m): i for i, m in enumerate(self.members)}  # a member's slice
        first = self.members[0]
        books = Books(len(self.members), c0.num_envs, first.books.obs.shape[2:],
                      first.books.obs.dtype, first.action_dim, self._rows)
        for i, m in enumerate(self.members):
            m.share_books(books, i)
        self.sums = torch.stack([m.sums for m in self.members])
        for i, m in enumerate(self.members):
            m.sums = self.sums[i]
        self.worker: Worker | None = None
        fast = all(a.fast is not None for a in agents)
        why_not = None if fast else unsupported(agents)
        if why_not is None:
            self.worker = Worker(self.members, self._rows, self.sums)
            for a in agents:
                a.choose_update()  # the fast path's views, onto the stacked tensors
        if fast:
            how = "all members at once (batched products, one Adam and Polyak step)"
        elif self.worker is not None:
            how = ("all members at once (torch.func vmap of the autograd update, one Adam and "
                   "Polyak step)")
            if torch.get_num_threads() > 1 and self._rows.device.type == "cpu":
                # MKL's batched products now and then split one thread's members another way
                how += "; reproducible to the bit with --threads 1 only (docs/populations.md)"
        else:
            how = f"member by member ({agents[0].how}; {why_not})"
        log.info(f"population of {len(self.members)} in {self.run_dir}: "
                 f"{agents[0].describe()}; updates {how}")
        self._write()

    # --- set-up ---------------------------------------------------------------------------------

    def _storage(self, shape: tuple[int, int], i: int, n: int, device: str) -> torch.Tensor:
        """Member i's replay rows: slice i of one (members, capacity, width) tensor."""
        if self._rows is None:
            self._rows = torch.zeros((n, *shape), dtype=torch.float32, device=device)
        return self._rows[i]

    def _load(self, name: str):
        directory = self.run_dir / name / CHECKPOINT_DIR
        step = int(self.manifest["step"])
        manager = CheckpointManager(directory)
        manager.prune(upto=step)  # checkpoints written after the last commit never happened
        try:
            return manager.load(directory / f"ckpt-{step:012d}.json")
        except CheckpointError as e:
            raise CheckpointError(f"population {self.run_dir}: member {name} has no valid "
                                  f"checkpoint of the committed step {step} ({e}).") from e

    # --- what run_members does for all members together -----------------------------------------

    @property
    def prune_each(self) -> bool:
        return False

    def act(self, members: list[Trainer]) -> list[np.ndarray]:
        if self.worker is None:
            return super().act(members)
        books = self.members[0].books
        obs = books.obs.reshape(*books.obs.shape[:2], -1).astype(np.float32)
        if self.members[0].agent.obs_norm is not None:  # each member's own statistics
            obs = np.stack([m.agent.normalized(o) for m, o in zip(self.members, obs)])
        mu = self.worker.policy(torch.as_tensor(obs, device=self._rows.device)).cpu().numpy()
        if len(members) < len(self.members):
            mu = mu[[m.row for m in members]]
        return list(explore([m.agent for m in members], mu, members[0].step))

    def collect(self, members: list[Trainer], actions: dict[int, np.ndarray],
                guarded: Callable[[Trainer, Callable[[], Any]], Any]) -> None:
        """Every member's collection step at once (ddpg.collect)."""
        collect(members, actions, guarded)

    def evaluate_due(self, members: list[Trainer]) -> None:
        """Every due member's evaluation episodes at once, acting with one batched forward pass
        (ddpg.evaluation.evaluate_together): each member's Evaluation is the one it gets alone."""
        if self.worker is None or len(members) < 2:
            return
        index, device = self._index, self._rows.device

        def act(obs: list[np.ndarray], who: list[int]) -> list[np.ndarray]:
            full = np.zeros((len(self.members), 1, members[0].obs_dim), dtype=np.float32)
            for o, j in zip(obs, who):
                m = members[j]
                full[index[id(m)], 0] = m.agent.normalized(o)[0]
            mu = self.worker.policy(torch.as_tensor(full, device=device)).cpu().numpy()
            return [to_env_action(mu[index[id(members[j])], 0], members[j].low, members[j].high)
                    for j in who]

        results = evaluate_together(
            act, [m.eval_env for m in members], members[0].seeds,
            [m.agent.q_value for m in members], [m.config.gamma for m in members],
            members[0].eval_cap, should_stop=lambda: members[0].signal_caught is not None)
        for m, ev in zip(members, results or [None] * len(members)):
            m.group_evaluation = ev

    def update(self, members: list[Trainer], transitions: int) -> None:
        if self.worker is None:
            return super().update(members, transitions)
        self.worker.update(members[0].config.updates_per_step * transitions)

    def commit(self, members: list[Trainer]) -> None:
        step = members[0].step
        if any(m.step != step for m in members):  # pragma: no cover - lockstep
            raise TrainingError(f"population members checkpointed at different steps "
                                f"{[m.step for m in members]}.")
        self.manifest["step"] = step
        for m in members:
            self.entries[m.run_dir.name]["last_checkpoint"] = step
        self._write()
        for m in members:
            m.checkpoints.prune(upto=step)
        if self.on_commit is not None:
            self.on_commit(self, step)

    def diverged(self, member: Trainer, error: TrainingError) -> None:
        entry = self.entries[member.run_dir.name]
        entry["status"] = "diverged"
        entry["message"] = str(error)
        log.warning(f"population: member {member.run_dir.name} stopped: {error}")
        self._write()

    # --- results --------------------------------------------------------------------------------

    def _write(self) -> None:
        """population.json (what resume needs), summary.md and summary.csv, atomically."""
        write_summary(self.run_dir, {**self.manifest, "env": self.env_name},
                      {m.run_dir.name: m for m in self.members})

    def run(self) -> PopulationResult:
        start = time.perf_counter()
        try:
            run_members(self.members, self)
        finally:
            for m in self.members:
                entry = self.entries[m.run_dir.name]
                if entry["status"] == "running" and not m.running:
                    entry["status"] = "done" if m.step >= m.config.total_steps else "stopped"
            self._write()
        by_name = {m.run_dir.name: m for m in self.members}
        results = [by_name[n].result() if n in by_name and
                   self.entries[n]["status"] != "diverged" else None for n in self.names]
        return PopulationResult(self.run_dir, self.names, results,
                                {n: self.entries[n]["status"] for n in self.names},
                                time.perf_counter() - start)


def _differing(configs: Sequence[Config]) -> list[str]:
    """The fields (besides the seed) in which the members differ."""
    return [k for k in SWEEPABLE
            if any(field_value(c, k) != field_value(configs[0], k) for c in configs)]


def _make_dir(c: Config, env: EnvLike) -> Path:
    """The population's folder (rundir.make_run_dir's rules); a named one that already holds a
    population is refused rather than overwritten."""
    named = Path(c.out) / c.run_name
    if c.run_name and (named / MANIFEST).exists():
        raise ConfigError(f"run_name={c.run_name!r}: {named} already holds a population; "
                          f"resume it with `ddpg train --resume {named}` or choose another "
                          f"--run-name.")
    name = env if isinstance(env, str) else env_name(env) if isinstance(env, gym.Env) else "env"
    return make_run_dir(c, name, kind="pop")


def train_population(config: Config, env: EnvLike | None = None, *, seeds: Any = "0",
                     sweep: Any = None,
                     on_step: Callable[[StepContext], bool | None] | None = None,
                     on_eval: Callable[[dict[str, Any]], bool | None] | None = None
                     ) -> PopulationResult:
    """Train every (swept values x seed) member of `config` as one population. `seeds`: ints
    or '0-9' / '0,3,7'; `sweep`: {field: [values]} or ['field=v1,v2']. The callbacks are called
    for every member (a callback returning False stops that member)."""
    config = devices.resolve(config)  # a device that is not here fails before any folder
    seeds, sweep = parse_seeds(seeds), parse_sweep(sweep or {})
    env = env if env is not None else config.env
    named = env
    if callable(env) and not isinstance(env, gym.Env):  # a maker: its first instance names the
        named = env()                                     # folder, then serves the first member
        env = _first_then(named, env)
    check_population(config, len(seeds) * math.prod(map(len, sweep.values())), named)
    members = expand(config, seeds, sweep)
    with newdirs.removed_on_failure():  # a failure while setting up leaves no folder behind
        population = Population(members, env, directory=_make_dir(config, named),
                                on_step=on_step, on_eval=on_eval)
    return population.run()


def _first_then(first: gym.Env, make: Callable[[], gym.Env]) -> Callable[[], gym.Env]:
    """`make`, except that its first call returns `first` (so the maker is called as often as
    without the instance made to name the population)."""
    made = [first]
    return lambda: made.pop() if made else make()


def train(config: Config | None = None, env: EnvLike | None = None, *, seeds: Any = None,
          sweep: Any = None, on_step: Callable[[StepContext], bool | None] | None = None,
          on_eval: Callable[[dict[str, Any]], bool | None] | None = None
          ) -> TrainResult | PopulationResult:
    """Train DDPG (`ddpg.train`): one run (ddpg.trainer.train), or with `seeds` (and `sweep`)
    a population of them in this process (`train_population`). Its lines on stderr (set-up,
    evaluations, warnings) go through the `ddpg` logger:
    `logging.getLogger("ddpg").setLevel("WARNING")` keeps the warnings only."""
    from ddpg.trainer import train as train_one

    config = config or cfgmod.resolve()
    if seeds is None and not sweep:
        return train_one(config, env, on_step=on_step, on_eval=on_eval)
    return train_population(config, env, seeds=config.seed if seeds is None else seeds,
                            sweep=sweep, on_step=on_step, on_eval=on_eval)
