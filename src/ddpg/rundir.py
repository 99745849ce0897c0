"""Run directories: making a new one under --out, finding the one a path means, and what a
resume records in one."""

from __future__ import annotations

import dataclasses
import datetime
import time
from pathlib import Path
from typing import Any, Mapping

import yaml

from ddpg import config as cfgmod
from ddpg import newdirs
from ddpg.config import Config
from ddpg.errors import CheckpointError, ConfigError
from ddpg.fileio import atomic_write_bytes
from ddpg.untrusted import read_regular

RUN_MARKERS = ("config.yaml", "policy.pt", "checkpoints")
RESUMES_FILE = "resumes.yaml"
POPULATION_FILE = "population.json"  # a population's manifest (ddpg.population.summary)


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any((path / m).exists() for m in RUN_MARKERS)


def run_dirs_in(folder: Path) -> list[Path]:
    """The run directories directly inside `folder` (a population's members, or runs of one
    --out), found on disk, symbolic links left out: no name read from a file becomes a path."""
    return sorted(d for d in folder.iterdir() if not d.is_symlink() and is_run_dir(d))


def locate_run(path: str | Path, what: str) -> Path:
    """`path` if it is a run directory, else the one run directory directly inside it (the
    `--out` folder of one run). Several: ConfigError listing them; none: `path` unchanged, for
    the caller's own 'no run here' message."""
    p = Path(path)
    if not p.is_dir() or is_run_dir(p):
        return p
    runs = run_dirs_in(p)
    if len(runs) == 1:
        return runs[0]
    if len(runs) > 1 and (p / POPULATION_FILE).is_file():
        raise ConfigError(f"{what} {str(p)!r} is a population (ddpg train --seeds) of "
                          f"{len(runs)} members; name one of them, e.g. {str(runs[0])!r}.")
    if len(runs) > 1:
        shown = "\n  ".join(str(d) for d in runs[:20])
        more = f"\n  ... and {len(runs) - 20} more" if len(runs) > 20 else ""
        raise ConfigError(f"{what} {str(p)!r} holds {len(runs)} runs; name one of them:\n  "
                          f"{shown}{more}")
    return p


def make_run_dir(config: Config, env_name: str, kind: str = "") -> Path:
    """out/run_name, or a new out/<env>-<algo>-s<seed>-<time> (a population's: `kind` 'pop',
    out/<env>-<algo>-pop-<time>), created and checked writable; an earlier run is never
    reused (a named folder that holds one is refused)."""
    label = kind or f"s{config.seed}"
    name = config.run_name or (f"{env_name.replace('/', '_')}-{config.algo}-{label}-"
                               f"{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir = Path(config.out) / name
    if config.run_name and (run_dir / "config.yaml").exists():
        raise ConfigError(f"run_name={config.run_name!r}: {run_dir} already holds a run; resume "
                          f"it with `ddpg train --resume {run_dir}`, or choose another "
                          f"--run-name (a new run there would mix its files with the old "
                          f"ones).")
    suffix = 1
    while run_dir.exists() and not config.run_name:  # never overwrite an earlier run
        run_dir = Path(config.out) / f"{name}-{suffix}"
        suffix += 1
    try:
        newdirs.mkdir(run_dir)  # removed again if the set-up fails (ddpg.newdirs)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"out={config.out!r}: cannot create or write the run directory "
                          f"{str(run_dir)!r} ({e.strerror or e}); choose a writable --out.") from e
    return run_dir


def _rerun_to(run_dir: Path, saved: Mapping[str, Any]) -> dict[str, Any]:
    """The out and run_name that config.yaml in `run_dir` names (else `saved` does): where a
    rerun from it goes. A resumed run's own config names its directory, which a rerun would
    then train into."""
    try:
        given = yaml.safe_load(read_regular(run_dir / "config.yaml", 1 << 20).decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        given = None
    for source in (given, saved):
        if isinstance(source, Mapping) and isinstance(source.get("out"), str) and \
                isinstance(source.get("run_name"), (str, type(None))):
            return {"out": source["out"], "run_name": source["run_name"]}
    return {}


def record_resume(run_dir: Path, config: Config, step: int, saved: Mapping[str, Any]) -> None:
    """What `--resume` continues the run in `run_dir` with, written down before it continues:
    the resume appended to resumes.yaml (`resumes:`, one entry per resume: the step it continued
    from, total_steps before and after, the time), then config.yaml rewritten, atomically, as
    `config` (its env the environment's name) keeping the out and run_name config.yaml gave
    (else those of `saved`, the checkpoint's config), so that a rerun from it makes a new run
    directory as before."""
    path = run_dir / RESUMES_FILE
    try:
        history = yaml.safe_load(read_regular(path, 1 << 20).decode("utf-8"))["resumes"]
        if not isinstance(history, list):
            raise TypeError(f"resumes is a {type(history).__name__}, not a list")
    except FileNotFoundError:
        history = []
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as e:
        raise CheckpointError(f"--resume {str(run_dir)!r}: {path} is not a resumes list ({e}); "
                              f"move it away to resume.") from e
    history.append({"step": int(step), "total_steps_before": int(saved["total_steps"]),
                    "total_steps": config.total_steps,
                    "time": datetime.datetime.now().astimezone().isoformat(timespec="seconds")})
    atomic_write_bytes(path, yaml.safe_dump({"resumes": history}, sort_keys=False).encode())
    described = dataclasses.replace(config, **_rerun_to(run_dir, saved))
    atomic_write_bytes(run_dir / "config.yaml", cfgmod.to_yaml(described).encode())
