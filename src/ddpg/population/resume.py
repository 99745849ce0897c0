"""Continuing a population from the last checkpoint step committed for all its members."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Callable

from ddpg.envs import EnvLike
from ddpg.errors import CheckpointError, NotResumable
from ddpg.metrics import log
from ddpg.population.run import Population, PopulationResult
from ddpg.population.summary import FORMAT, MANIFEST, VERSION
from ddpg.resume import checkpoint_config
from ddpg.rundir import record_resume
from ddpg.untrusted import UnsafePathError, check_stays_inside, checked_name, read_regular

_MEMBER = re.compile(r"[A-Za-z0-9_.=,+-]{1,200}")


def is_population(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def resume_population(directory: str | Path, env: EnvLike | None = None, *,
                      total_steps: int | None = None, progress: bool | None = None,
                      tensorboard: bool | None = None, threads: int | None = None,
                      device: str | None = None,
                      on_commit: Callable[[Population, int], None] | None = None
                      ) -> PopulationResult:
    """Continue a population from its last committed checkpoint step: every running member
    from its checkpoint of that step (bit-identical to an uninterrupted population run; with
    `device`, on another device than it was written on: docs/checkpoints.md). Each continuing
    member's config.yaml is rewritten and its resumes.yaml records the resume, as for a run."""
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
    members, saved = [], {}
    for name, entry in zip(names, manifest["members"]):
        if entry["status"] == "done" and (total_steps or 0) > int(manifest["step"]):
            entry["status"] = "running"  # extended with --total-steps
        if entry["status"] != "running":
            continue
        config, saved[name] = checkpoint_config(directory / name, int(manifest["step"]))
        shown = {k: v for k, v in (("progress", progress), ("tensorboard", tensorboard),
                                   ("total_steps", total_steps), ("threads", threads),
                                   ("device", device))
                 if v is not None}
        members.append((name, replace(config, **shown)))
    if not members:
        statuses = [m["status"] for m in manifest["members"]]
        step = int(manifest["step"])
        todo = (f"to train the finished members further, give a budget above step {step}: "
                f"ddpg train --resume {directory} --total-steps {2 * step}" if "done" in statuses
                else "none of them can continue; start a new population")
        raise NotResumable(f"--resume {str(directory)!r}: every member of the population has "
                           f"ended at step {step} ({', '.join(statuses)}); {todo}.")
    if env is None:
        env = members[0][1].env
    log.info(f"resuming population {directory} from step {manifest['step']} "
             f"({len(members)} members running)")
    population = Population(members, env, directory=directory, resume=manifest,
                            on_commit=on_commit)
    step = int(manifest["step"])
    for m in population.members:
        if m.config.total_steps > step:
            record_resume(m.run_dir, replace(m.config, env=m.env_name), step,
                          saved[m.run_dir.name])
    return population.run()

