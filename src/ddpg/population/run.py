"""A population: many members (seeds x swept values) trained in one process, in lockstep.

Each member is an ordinary run (ddpg.trainer.Trainer: its own environments, replay rows, noise,
random streams and run directory, all derived from its seed exactly as a single run of that
seed derives them), driven by the same loop as a single run (`run_members`). What `Population`
changes is what run_members does for all members together:

- acting: one batched forward pass of every member's actor (then each member's own noise);
- updating: one `StackedStep` for all members (batched products, one Adam step per network,
  one Polyak step), on replay batches sampled with each member's own generator and gathered
  from one stacked tensor of replay rows; networks the fast path does not cover update member
  by member (the reference autograd update);
- checkpoints: every member writes its own; then population.json names the step as committed
  and only then are older checkpoints pruned, so a kill at any moment resumes every member from
  the same step;
- divergence: a member whose losses, actions or parameters become non-finite is stopped and
  reported with its last good checkpoint; the others go on.

The population folder holds population.json, summary.md and summary.csv, and one run directory
per member, which every tool (`ddpg eval`, `ddpg plot`, `ddpg.load`) reads as any run.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ddpg import config as cfgmod
from ddpg.buffer import Batch
from ddpg.config import Config
from ddpg.envs import EnvLike, fresh_env
from ddpg.errors import CheckpointError, ConfigError, TrainingError
from ddpg.fileio import atomic_write_bytes
from ddpg.population.members import SWEEPABLE, check_members, expand, field_value
from ddpg.population.stacked import StackedStep
from ddpg.resume import checkpoint_config
from ddpg.results import StepContext, TrainResult
from ddpg.trainer import CHECKPOINT_DIR, Group, Trainer, run_members
from ddpg.untrusted import UnsafePathError, check_stays_inside, checked_name, read_regular

MANIFEST = "population.json"
FORMAT, VERSION = "ddpg-population", 1
_MEMBER = __import__("re").compile(r"[A-Za-z0-9_.=,+-]{1,200}")


@dataclass
class PopulationResult:
    """Every member's TrainResult (None for one that diverged), in member order."""

    directory: Path
    names: list[str]
    results: list[TrainResult | None]
    status: dict[str, str] = field(default_factory=dict)
    wall_time_s: float = 0.0

    def final_returns(self) -> dict[str, float | None]:
        return {n: (r.final_return if r is not None and r.evaluations else None)
                for n, r in zip(self.names, self.results)}


class Population(Group):
    """Members trained together; see the module's docstring."""

    def __init__(self, members: Sequence[tuple[str, Config]], env: EnvLike | None = None, *,
                 directory: Path | None = None, resume: dict[str, Any] | None = None,
                 on_step: Callable[[StepContext], bool | None] | None = None,
                 on_eval: Callable[[dict[str, Any]], bool | None] | None = None) -> None:
        configs = [c for _, c in members]
        check_members(configs)
        c0 = configs[0]
        env = env if env is not None else c0.env
        self.env_name = env if isinstance(env, str) else None
        self.run_dir = directory or _make_dir(replace(c0, run_name=""), env)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.manifest = resume or {"format": FORMAT, "version": VERSION, "step": None,
                                   "members": [{"name": n, "seed": c.seed, "status": "running",
                                                "values": _values(c, configs)}
                                               for n, c in members]}
        self.entries = {m["name"]: m for m in self.manifest["members"]}
        self.names = list(self.entries)
        running = [(n, c) for n, c in members if self.entries[n]["status"] == "running"]
        if not running:
            raise ConfigError(f"population {self.run_dir}: no member is left running.")
        self._rows: torch.Tensor | None = None
        self.members: list[Trainer] = []
        for i, (name, config) in enumerate(running):
            config = replace(config, out=str(self.run_dir), run_name=name,
                             progress=config.progress and i == 0)
            loaded = self._load(name) if self.manifest["step"] is not None else None
            member_env = fresh_env(env) if not isinstance(env, str) and i else env
            (self.run_dir / name).mkdir(exist_ok=True)
            self.members.append(Trainer(
                config, member_env, resume=loaded, run_dir=self.run_dir / name, quiet=i > 0,
                on_step=on_step, on_eval=on_eval,
                storage=lambda shape, i=i: self._storage(shape, i, len(running), c0.device)))
        if self.env_name is None:
            self.env_name = self.members[0].env_name
        agents = [m.agent for m in self.members]
        self.stacked = StackedStep(agents) if all(a.fast is not None for a in agents) else None
        if self.stacked is not None:
            for a in agents:
                a.choose_update()  # the fast path's views, onto the stacked tensors
        sums = torch.stack([m.sums for m in self.members])
        for i, m in enumerate(self.members):
            m.sums = sums[i]
        self.sums = sums
        how = ("all members at once (batched products, one Adam and Polyak step)"
               if self.stacked is not None else "member by member (" + agents[0]._how + ")")
        print(f"population of {len(self.members)} in {self.run_dir}: {agents[0].describe()}; "
              f"updates {how}", file=sys.stderr)
        self._write()

    # --- set-up ---------------------------------------------------------------------------------

    def _storage(self, shape: tuple[int, int], i: int, n: int, device: str) -> torch.Tensor:
        """Member i's replay rows: slice i of one (members, capacity, width) tensor."""
        if self._rows is None:
            self._rows = torch.zeros((n, *shape), dtype=torch.float32, device=device)
        return self._rows[i]

    def _load(self, name: str):
        directory = self.run_dir / name / CHECKPOINT_DIR
        from ddpg.checkpoint import CheckpointManager

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
        if self.stacked is None:
            return super().act(members)
        obs = np.stack([m.agent.normalized(m.obs) for m in self.members])
        states = torch.as_tensor(obs, device=self.members[0].agent.device)
        with torch.no_grad():
            mu = self.stacked.policy_rows(states).cpu().numpy()
        index = {id(m): i for i, m in enumerate(self.members)}
        return [m.agent.explore(mu[index[id(m)]], m.step) for m in members]

    def _sample(self, batch_size: int) -> Batch:
        """Each member's batch, indices drawn by its own generator as ReplayBuffer.sample
        draws them, gathered from the stacked rows in one call: (M, B, ...) tensors."""
        rows = self._rows
        idx = torch.stack([torch.randint(0, m.buffer.size, (batch_size,),
                                         generator=m.buffer.generator, device=rows.device)
                           for m in self.members])
        idx += torch.arange(len(self.members), device=rows.device).unsqueeze(1) * rows.shape[1]
        data = rows.view(-1, rows.shape[2]).index_select(0, idx.view(-1))
        parts = data.view(len(self.members), batch_size, -1).split(
            self.members[0].buffer._widths, dim=2)
        batch = Batch(*parts)
        if self.members[0].agent.obs_norm is not None:
            batch = batch._replace(
                states=torch.stack([m.agent.obs_norm.normalize(s)
                                    for m, s in zip(self.members, batch.states)]),
                next_states=torch.stack([m.agent.obs_norm.normalize(s)
                                         for m, s in zip(self.members, batch.next_states)]))
        return batch

    def update(self, members: list[Trainer], transitions: int) -> None:
        if self.stacked is None:
            return super().update(members, transitions)
        c = members[0].config
        for _ in range(c.updates_per_step * transitions):
            batch = self._sample(c.batch_size)
            updates = members[0].agent.updates
            update_actor = c.algo != "td3" or (updates + 1) % c.td3.policy_delay == 0
            with members[0].agent._precision():
                info = self.stacked.step(batch, update_actor)
            self.sums += torch.stack((info["critic_loss"], info["actor_loss"], info["q"],
                                      info["actor_updated"]), dim=1)
            for m in self.members:
                m.n_sums += 1
                m.agent.updates += 1

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

    def diverged(self, member: Trainer, error: TrainingError) -> None:
        entry = self.entries[member.run_dir.name]
        entry["status"] = "diverged"
        entry["message"] = str(error)
        print(f"population: member {member.run_dir.name} stopped: {error}", file=sys.stderr)
        self._write()

    # --- results --------------------------------------------------------------------------------

    def _write(self) -> None:
        """population.json (what resume needs) and summary.md / summary.csv, atomically."""
        by_name = {m.run_dir.name: m for m in self.members}
        rows = []
        for entry in self.manifest["members"]:
            m = by_name.get(entry["name"])
            evals = m.evaluations if m is not None else []
            final = evals[-1]["eval_return_mean"] if evals else None
            best = max((r["eval_return_mean"] for r in evals), default=None)
            rows.append({"member": entry["name"], "seed": entry["seed"],
                         **{k: v for k, v in entry["values"].items()},
                         "status": entry["status"], "step": m.step if m is not None else "",
                         "final_eval": "" if final is None else f"{final:.1f}",
                         "best_eval": "" if best is None else f"{best:.1f}"})
        atomic_write_bytes(self.run_dir / MANIFEST,
                           json.dumps({**self.manifest, "env": self.env_name}, indent=1).encode())
        keys = list(dict.fromkeys(k for r in rows for k in r))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=keys, restval="")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(self.run_dir / "summary.csv", out.getvalue().encode())
        finals = [float(r["final_eval"]) for r in rows if r["final_eval"] != ""]
        lines = [f"# Population {self.run_dir.name}", "",
                 f"{self.env_name}, {len(rows)} members; final noise-free evaluation return: "
                 + (f"mean {np.mean(finals):.1f}, min {min(finals):.1f}, max {max(finals):.1f}"
                    if finals else "none yet"), "",
                 "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
        atomic_write_bytes(self.run_dir / "summary.md", ("\n".join(lines) + "\n").encode())

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


def _values(c: Config, configs: Sequence[Config]) -> dict[str, Any]:
    """This member's values of the fields in which the members differ (besides the seed)."""
    return {k: field_value(c, k) for k in SWEEPABLE
            if len({field_value(o, k) for o in configs}) > 1}


def _make_dir(c: Config, env: EnvLike) -> Path:
    name = c.run_name or (f"{str(env).replace('/', '_') if isinstance(env, str) else 'env'}"
                          f"-pop-{time.strftime('%Y%m%d-%H%M%S')}")
    directory = Path(c.out) / name
    suffix = 1
    while directory.exists() and not c.run_name:
        directory = Path(c.out) / f"{name}-{suffix}"
        suffix += 1
    if directory.exists() and (directory / MANIFEST).exists():
        raise ConfigError(f"run_name={c.run_name!r}: {directory} already holds a population; "
                          f"resume it with `ddpg train --resume {directory}` or choose another "
                          f"--run-name.")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"out={c.out!r}: cannot create {directory} ({e.strerror or e}); "
                          f"choose a writable --out.") from e
    return directory


def train_population(config: Config, env: EnvLike | None = None, *, seeds: Any = "0",
                     sweep: Any = None,
                     on_step: Callable[[StepContext], bool | None] | None = None,
                     on_eval: Callable[[dict[str, Any]], bool | None] | None = None
                     ) -> PopulationResult:
    """Train every (swept values x seed) member of `config` as one population. `seeds`: ints
    or '0-9' / '0,3,7'; `sweep`: {field: [values]} or ['field=v1,v2']. The callbacks are called
    for every member (a callback returning False stops that member)."""
    members = expand(config, seeds, sweep)
    env = env if env is not None else config.env
    return Population(members, env, directory=_make_dir(config, env), on_step=on_step,
                      on_eval=on_eval).run()


def train(config: Config | None = None, env: EnvLike | None = None, *, seeds: Any = None,
          sweep: Any = None, on_step: Callable[[StepContext], bool | None] | None = None,
          on_eval: Callable[[dict[str, Any]], bool | None] | None = None
          ) -> TrainResult | PopulationResult:
    """Train DDPG (`ddpg.train`): one run (ddpg.trainer.train), or with `seeds` (and `sweep`)
    a population of them in this process (`train_population`)."""
    from ddpg.trainer import train as train_one

    config = config or cfgmod.resolve()
    if seeds is None and not sweep:
        return train_one(config, env, on_step=on_step, on_eval=on_eval)
    return train_population(config, env, seeds=config.seed if seeds is None else seeds,
                            sweep=sweep, on_step=on_step, on_eval=on_eval)


def is_population(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def resume_population(directory: str | Path, env: EnvLike | None = None, *,
                      total_steps: int | None = None, progress: bool | None = None,
                      tensorboard: bool | None = None) -> PopulationResult:
    """Continue a population from its last committed checkpoint step: every running member
    from its checkpoint of that step (bit-identical to an uninterrupted population run)."""
    directory = Path(directory)
    try:
        manifest = json.loads(read_regular(directory / MANIFEST, 16 << 20))
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} version {VERSION} manifest")
        if manifest["step"] is None:
            raise ValueError("no checkpoint was committed yet; start the population again")
        names = [checked_name(m["name"], _MEMBER, "member name") for m in manifest["members"]]
        check_stays_inside(directory, MANIFEST, "summary.md", "summary.csv", *names)
        for m in manifest["members"]:
            if m["status"] not in ("running", "diverged", "stopped", "done"):
                raise ValueError(f"member {m['name']} has status {m['status']!r}")
    except (OSError, ValueError, KeyError, TypeError, UnsafePathError) as e:
        raise CheckpointError(f"--resume {str(directory)!r}: {directory / MANIFEST} cannot be "
                              f"resumed: {e}") from e
    members = []
    for name, entry in zip(names, manifest["members"]):
        if entry["status"] == "done" and (total_steps or 0) > int(manifest["step"]):
            entry["status"] = "running"  # extended with --total-steps
        if entry["status"] != "running":
            continue
        config = checkpoint_config(directory / name, int(manifest["step"]))
        shown = {k: v for k, v in (("progress", progress), ("tensorboard", tensorboard),
                                   ("total_steps", total_steps)) if v is not None}
        members.append((name, replace(config, **shown)))
    if not members:
        raise CheckpointError(f"--resume {str(directory)!r}: every member of the population has "
                              f"ended ({', '.join(m['status'] for m in manifest['members'])}).")
    if env is None:
        env = members[0][1].env
    print(f"resuming population {directory} from step {manifest['step']} "
          f"({len(members)} members running)", file=sys.stderr)
    return Population(members, env, directory=directory, resume=manifest).run()

