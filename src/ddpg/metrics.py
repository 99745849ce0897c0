"""What a run records as it goes: metrics.csv, TensorBoard event files, a live progress display,
evaluations.npz in stable-baselines3's layout, and the lines a run prints on stderr (the `ddpg`
logger)."""

from __future__ import annotations

import csv
import io
import logging
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ddpg.errors import ConfigError
from ddpg.fileio import atomic_write_bytes

METRICS_FILE = "metrics.csv"
EVALUATIONS_FILE = "evaluations.npz"
# One row per evaluation. Wall-clock columns are time_s and steps_per_s; the rest are
# reproducible for a given seed on a given machine.
log = logging.getLogger("ddpg")
"""Every line ddpg prints on stderr: set-up lines, evaluation lines and warnings.
`logging.getLogger("ddpg").setLevel("WARNING")` keeps the warnings only; "ERROR", none."""


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged (a redirect, a progress display's
    proxy, pytest's capture), not to the one there was at import."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


if not log.handlers:
    _handler = _Stderr()
    _handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # a root handler the user configures would print every line twice

COLUMNS = ("step", "episodes", "updates", "eval_return_mean", "eval_return_std",
           "train_return_last", "critic_loss", "actor_loss", "q_mean", "sigma",
           "q_estimate", "mc_return", "time_s", "steps_per_s")
# Added with --actors: transitions collected and learner updates per second since the last
# evaluation, the mean policy lag (updates between the weights a chunk was collected with and
# the learner's at its arrival), the replay buffer's fill.
DISTRIBUTED_COLUMNS = ("collect_steps_per_s", "updates_per_s", "policy_lag", "buffer_fill")
# Added for goal-conditioned tasks: the share of evaluation episodes whose last step reported
# info["is_success"].
SUCCESS_COLUMNS = ("eval_success_rate",)


def write_evaluations(path: Path, rows: list[dict[str, Any]]) -> None:
    """evaluations.npz in the layout of stable-baselines3's EvalCallback: `timesteps` (n,),
    `results` (n, episodes) returns and `ep_lengths` (n, episodes), one row per evaluation, so
    rl-zoo's and other plotting scripts read ddpg runs. Written atomically."""
    rows = [r for r in rows if "episode_returns" in r]
    buf = io.BytesIO()
    np.savez(buf, timesteps=np.array([r["step"] for r in rows], dtype=np.int64),
             results=np.array([r["episode_returns"] for r in rows], dtype=np.float64),
             ep_lengths=np.array([r["episode_lengths"] for r in rows], dtype=np.int64))
    atomic_write_bytes(path, buf.getvalue())


def start_tracking(run_dir: Path, project: str, config: dict[str, Any],
                   run_id: str | None = None) -> Any:
    """A Weights & Biases run for this run directory (its files under RUN_DIR/wandb), continuing
    `run_id` when given (a resumed run)."""
    try:
        import wandb
    except ImportError as e:
        raise ConfigError("track=True needs Weights & Biases: pip install -e '.[track]' "
                          "(or drop --track).") from e
    return wandb.init(project=project, name=run_dir.name, id=run_id or secrets.token_hex(4),
                      dir=str(run_dir), config=config, resume="allow", reinit="create_new")


class RunLogger:
    def __init__(self, run_dir: Path, total_steps: int, tensorboard: bool = True,
                 progress: bool = True, resume: dict[str, Any] | None = None,
                 step: int = 0, track: tuple[str, dict[str, Any]] | None = None,
                 columns: tuple[str, ...] = COLUMNS, label: str = "") -> None:
        """With `resume` (a state_dict() from a checkpoint taken at `step`), continue the run's
        logs: metrics.csv is cut back to the rows it had then and appended to, and TensorBoard
        drops events after `step`, so no row is duplicated or missing. `track` (a Weights &
        Biases project and the run's config) sends the TensorBoard scalars there too, as one
        W&B run per run directory (continued on resume). `columns`: metrics.csv's. `label` starts
        each evaluation line on stderr (a population member's name, so its lines are told apart)."""
        self.run_dir, self.total_steps, self.label = run_dir, total_steps, label
        path = run_dir / METRICS_FILE
        self.rows, self.offset = 0, 0.0
        self.last_eval: float | None = None
        self.last_episode: float | None = None
        if resume is None:
            self._csv_file = open(path, "w", newline="")
            self._csv = csv.DictWriter(self._csv_file, fieldnames=columns)
            self._csv.writeheader()
        else:
            self.rows, self.offset = int(resume["rows"]), float(resume["elapsed"])
            self.last_eval, self.last_episode = resume["last_eval"], resume["last_episode"]
            lines = path.read_text().splitlines(keepends=True) if path.exists() else []
            kept = lines[: 1 + self.rows] if lines else [",".join(columns) + "\r\n"]
            self._csv_file = open(path, "w", newline="")
            self._csv_file.writelines(kept)
            self._csv = csv.DictWriter(self._csv_file, fieldnames=columns)
        self._csv_file.flush()
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # slow import: only when asked

            self._tb = SummaryWriter(log_dir=str(run_dir / "tb"),
                                     purge_step=step + 1 if resume is not None else None)
        self._wandb = None
        if track is not None:
            self._wandb = start_tracking(run_dir, *track, (resume or {}).get("wandb_id"))
        self._progress = None
        self._start = time.perf_counter()
        if progress and sys.stderr.isatty():
            from rich.markup import escape
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeRemainingColumn)

            self._progress = Progress(
                TextColumn(f"[bold]train {escape(label.strip())}".rstrip()), BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} steps/s"), TextColumn("ep {task.fields[ep]}"),
                TextColumn("eval {task.fields[ev]}"), TextColumn("ETA"), TimeRemainingColumn(),
                transient=False)
            self._task = self._progress.add_task("train", total=total_steps, completed=step,
                                                 rate="-", ep="-", ev="-")
            self._progress.start()

    @property
    def elapsed(self) -> float:
        """Training wall time in seconds, summed over interrupted and resumed parts."""
        return self.offset + time.perf_counter() - self._start

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "elapsed": self.elapsed, "last_eval": self.last_eval,
                "last_episode": self.last_episode,
                "wandb_id": None if self._wandb is None else self._wandb.id}

    def episode(self, step: int, ret: float, length: int) -> None:
        self.last_episode = ret
        if self._tb is not None:
            self._tb.add_scalar("train/episode_return", ret, step)
            self._tb.add_scalar("train/episode_length", length, step)

    def step(self, step: int) -> None:
        if self._progress is not None:
            fmt = lambda x: "-" if x is None else f"{x:.1f}"  # noqa: E731
            self._progress.update(self._task, completed=step, rate=f"{step / self.elapsed:.0f}",
                                  ep=fmt(self.last_episode), ev=fmt(self.last_eval))

    def evaluation(self, row: dict[str, Any]) -> None:
        self.last_eval = row["eval_return_mean"]
        row = dict(row, time_s=round(self.elapsed, 3),
                   steps_per_s=round(row["step"] / max(self.elapsed, 1e-9), 2))
        self._csv.writerow({k: row.get(k, "") for k in self._csv.fieldnames})
        self._csv_file.flush()
        self.rows += 1
        scalars = {f"{'eval' if k.startswith(('eval', 'q_est', 'mc_')) else 'train'}/{k}": row[k]
                   for k in ("eval_return_mean", "eval_return_std", "critic_loss", "actor_loss",
                             "q_mean", "sigma", "q_estimate", "mc_return", "steps_per_s",
                             *SUCCESS_COLUMNS, *DISTRIBUTED_COLUMNS)
                   if row.get(k) not in (None, "")}
        if self._tb is not None:
            for name, value in scalars.items():
                self._tb.add_scalar(name, value, row["step"])
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(scalars, step=row["step"])
        if self._progress is None or self.label:  # a population's bar shows its first member
            success = row.get("eval_success_rate")
            log.info(f"{self.label}step {row['step']:>8}  eval {row['eval_return_mean']:9.1f} "
                     f"+- {row['eval_return_std']:6.1f}  {row['steps_per_s']:7.1f} steps/s"
                     + ("" if success in (None, "") else f"  success {success:.2f}"))
        if self._progress is not None:
            self.step(row["step"])

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None
        self._csv_file.close()
