"""Finished runs read back from their directories (config.yaml + metrics.csv): one `Run` per
directory, grouped by (environment, library, algorithm, preset), curves aligned onto the steps
every run of a group covers, and a run's last complete metrics row (`final_row`). Used by
`ddpg plot` and the benchmark."""

from __future__ import annotations

import csv
import io
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import yaml

from ddpg.errors import DDPGError
from ddpg.metrics import SUCCESS_COLUMNS
from ddpg.untrusted import read_regular

METRICS, CONFIG = "metrics.csv", "config.yaml"
REQUIRED = ("step", "eval_return_mean")
Q_COLUMNS = ("q_estimate", "mc_return")
SUCCESS = SUCCESS_COLUMNS[0]  # goal-conditioned tasks: the evaluations' success rate
MAX_GRID = 500  # points per curve; more evaluations than this are interpolated onto a grid


class RunDirError(DDPGError, ValueError):
    """A path that holds no readable run directory."""


@dataclass(frozen=True, eq=False)
class Run:
    """One training run: its settings from config.yaml and its metrics.csv columns, rows sorted
    by step (one row per step)."""

    path: Path
    env: str
    seed: int | None
    library: str
    algo: str
    preset: str
    metrics: dict[str, np.ndarray]
    variant: str = ""  # a population member's swept values, e.g. "actor_lr=0.0001"

    @property
    def label(self) -> str:
        """Group name: library, algorithm, preset (or env), and a population member's swept
        values, e.g. "ddpg TD3 (pendulum)" or "ddpg DDPG (pendulum) actor_lr=0.0001"."""
        label = f"{self.library} {self.algo.upper()} ({self.preset or self.env})"
        return f"{label} {self.variant}" if self.variant else label

    @property
    def has_success(self) -> bool:
        return bool(np.isfinite(self.metrics.get(SUCCESS, [np.nan])).any())

    @property
    def has_q(self) -> bool:
        return all(np.isfinite(self.metrics.get(c, [np.nan])).any() for c in Q_COLUMNS)


def _read_config(path: Path) -> dict:
    try:
        data = yaml.safe_load(read_regular(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:  # also: a link to elsewhere
        raise RunDirError(f"{path}: unreadable config ({str(e).splitlines()[0]}); "
                          f"restore the config.yaml the run wrote or leave the run out.") from e
    if not isinstance(data, dict) or not isinstance(data.get("env"), str):
        raise RunDirError(f"{path}: no 'env' key naming the environment; a run's config.yaml "
                          f"needs at least `env: Pendulum-v1`-style settings.")
    return data


def _read_metrics(path: Path) -> dict[str, np.ndarray]:
    try:
        text = read_regular(path).decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except (OSError, UnicodeDecodeError, csv.Error) as e:  # also: a link to elsewhere
        raise RunDirError(f"{path}: unreadable CSV ({e}); leave the run out or rerun it.") from e
    header = rows[0] if rows else []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RunDirError(f"{path}: no column {', '.join(missing)} in header {header}; pass run "
                          f"directories written by `ddpg train` or the sb3 baseline runner.")
    body = [r for r in rows[1:] if r]
    if body and not text.endswith("\n"):  # a run killed mid-write: its last line is cut
        print(f"warning: {path}: skipping a partial last line", file=sys.stderr)
        body = body[:-1]
    try:
        values = np.array([[float(x) if x.strip() else np.nan for x in r] for r in body],
                          dtype=np.float64).reshape(len(body), len(header))
    except ValueError as e:
        raise RunDirError(f"{path}: a row is not {len(header)} numbers ({e}); fix or remove "
                          f"the bad line (a killed run can leave a partial last line).") from e
    by_step = values[np.argsort(values[:, header.index("step")], kind="stable")]
    step = by_step[:, header.index("step")]
    keep = np.append(np.diff(step) != 0, True)  # a repeated step keeps its last row
    return {name: by_step[keep, i] for i, name in enumerate(header)}


def read_run(run_dir: Path) -> Run:
    """The run in run_dir. Missing keys: library "ddpg", algo "ddpg", preset ""."""
    cfg = _read_config(run_dir / CONFIG)
    seed = cfg.get("seed")
    variant = ""
    if (run_dir.parent / "population.json").is_file():  # members named VALUES-s<seed>
        variant = re.sub(r"-?s\d+$", "", run_dir.name)
    return Run(path=run_dir, env=cfg["env"], seed=seed if isinstance(seed, int) else None,
               variant=variant,
               library=str(cfg.get("library") or "ddpg").lower(),
               algo=str(cfg.get("algo") or "ddpg").lower(), preset=str(cfg.get("preset") or ""),
               metrics=_read_metrics(run_dir / METRICS))


def find_run_dirs(path: Path) -> list[Path]:
    """path itself if it is a run directory (metrics.csv and config.yaml), else every run
    directory below it (symbolic links to directories are not followed)."""
    if not path.exists():
        raise RunDirError(f"{path}: no such file or directory; pass a run directory or a "
                          f"directory that contains run directories.")
    candidates = [path] if (path / METRICS).is_file() else sorted(
        m.parent for m in path.rglob(METRICS))
    found = [d for d in candidates if (d / CONFIG).is_file()]
    if not found:
        raise RunDirError(f"{path}: no run directory (a folder with {METRICS} and {CONFIG}) "
                          f"here or below; pass the --out directory of `ddpg train`.")
    return found


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Every run in the given run directories or below the given directories, each once. Raises
    RunDirError naming the path when one holds no run or an unreadable one."""
    dirs = [d for p in paths for d in find_run_dirs(Path(p))]
    unique = list(dict.fromkeys(d.resolve() for d in dirs))
    return [read_run(d) for d in unique]


def group_runs(runs: Iterable[Run]) -> dict[tuple[str, str], list[Run]]:
    """Runs by (env, label), sorted; within a group sorted by seed."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.env, run.label), []).append(run)
    return {k: sorted(groups[k], key=lambda r: (r.seed is None, r.seed or 0, str(r.path)))
            for k in sorted(groups)}


def common_curves(runs: Sequence[Run], column: str) -> tuple[np.ndarray, np.ndarray]:
    """(grid, curves (runs, points)): each run's `column` linearly interpolated onto the steps
    that every run covers, from the latest first evaluation to the earliest last one. Rows where
    the column is NaN are dropped. Empty arrays when the runs share no step."""
    series = []
    for r in runs:
        ok = np.isfinite(r.metrics[column]) & np.isfinite(r.metrics["step"])
        series.append((r.metrics["step"][ok], r.metrics[column][ok]))
    if any(s.size == 0 for s, _ in series):
        return np.empty(0), np.empty((len(runs), 0))
    lo, hi = max(s[0] for s, _ in series), min(s[-1] for s, _ in series)
    grid = np.unique(np.concatenate([s[(s >= lo) & (s <= hi)] for s, _ in series]))
    if grid.size > MAX_GRID:
        grid = np.linspace(lo, hi, MAX_GRID)
    return grid, np.stack([np.interp(grid, s, v) for s, v in series])


def final_row(run_dir: Path) -> dict[str, float] | None:
    """The metrics.csv row with the largest step, of the rows with every column (a killed run
    can leave a partial last line); None without one."""
    try:
        text = read_regular(run_dir / "metrics.csv").decode("utf-8")  # not a link elsewhere
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    best = None
    for r in rows:
        if None in r or None in r.values():  # too many or too few fields
            continue
        try:
            row = {"step": float(r["step"]), "eval_return_mean": float(r["eval_return_mean"])}
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(row["eval_return_mean"]) and (best is None
                                                       or row["step"] >= best["step"]):
            best = row
    return best
