"""Learning-curve, success-rate and Q-estimate figures from run directories (config.yaml +
metrics.csv), and the `ddpg plot` command. Runs are grouped by (library, algorithm, preset or
environment); a curve is the mean over a group's seeds with a 95 % bootstrap confidence band
(ddpg.bench.stats)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from ddpg.bench.rundata import (METRICS, Q_COLUMNS, SUCCESS, Run, RunDirError, common_curves,
                                group_runs, load_runs)
from ddpg.bench.stats import bootstrap_mean_ci
from ddpg.errors import EXIT_STATUS


def _figure(panels: int, title: str | None):
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter

    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(5.6 * cols, 4.2 * rows + (0.4 if title else 0)), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    for ax in axes[:panels]:
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.grid(alpha=0.3)
        ax.set_xlabel("environment steps")
    if title:
        fig.suptitle(title)
    return fig, axes


def _save(fig, out_prefix: str | Path) -> list[Path]:
    import matplotlib

    out = Path(out_prefix)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = [out.with_name(out.name + ".png"), out.with_name(out.name + ".svg")]
    with matplotlib.rc_context({"svg.hashsalt": "ddpg"}):  # same input, same SVG bytes
        fig.savefig(written[0], dpi=150)
        fig.savefig(written[1], metadata={"Date": None})
    return written


def plot_learning_curves(runs: Sequence[Run], out_prefix: str | Path,
                         references: dict[str, float] | None = None, *, title: str | None = None,
                         rng: np.random.Generator | None = None,
                         column: str = "eval_return_mean") -> list[Path]:
    """Evaluation return (or another metrics `column`, e.g. the success rate) against
    environment steps, one panel per environment, one curve per group: the mean over its seeds
    and the 95 % bootstrap confidence band of that mean. references are drawn as labelled
    horizontal lines in every panel. Writes and returns <out_prefix>.png and <out_prefix>.svg;
    rng (default: seed 0) draws the bootstrap."""
    rng = np.random.default_rng(0) if rng is None else rng
    groups = group_runs(r for r in runs if column in r.metrics)
    envs = sorted({env for env, _ in groups})
    if not envs:
        raise RunDirError("no runs to plot; pass at least one run directory.")
    labels = sorted({label for _, label in groups})
    colour = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    fig, axes = _figure(len(envs), title)
    for ax, env in zip(axes, envs):
        for (group_env, label), members in groups.items():
            if group_env != env:
                continue
            grid, curves = common_curves(members, column)
            if grid.size == 0:
                continue
            band = bootstrap_mean_ci(curves, rng=rng)
            n = f"{len(members)} seed{'s' if len(members) > 1 else ''}"
            ax.plot(grid, band.mean, color=colour[label], marker="o" if grid.size == 1 else None,
                    label=f"{label}, {n}")
            ax.fill_between(grid, band.low, band.high, color=colour[label], alpha=0.2, lw=0)
        for i, (name, value) in enumerate((references or {}).items()):
            ax.axhline(value, color="0.3", lw=1, ls=("--", ":", "-.")[i % 3],
                       label=f"{name} ({value:g})")
        ax.set_title(env)
        ax.set_ylabel("evaluation success rate" if column == SUCCESS else "evaluation return")
        if column == SUCCESS:
            ax.set_ylim(-0.03, 1.03)
        ax.legend(fontsize="small", title="mean over seeds, 95% CI", title_fontsize="small")
    return _save(fig, out_prefix)


def plot_q_diagnostics(runs: Sequence[Run], out_prefix: str | Path, *,
                       title: str | None = None) -> list[Path]:
    """Critic estimate Q(s, mu(s)) against the discounted Monte-Carlo return obtained from the
    same evaluation states, over environment steps, mean over seeds, one panel per group; the
    gap between them is the critic's over- (or under-) estimation. Runs without the columns
    q_estimate and mc_return are left out; with none left nothing is written and [] returned."""
    groups = group_runs(r for r in runs if r.has_q)
    if not groups:
        return []
    fig, axes = _figure(len(groups), title)
    for ax, ((env, label), members) in zip(axes, groups.items()):
        grid_q, q = common_curves(members, "q_estimate")
        grid_g, g = common_curves(members, "mc_return")
        ax.plot(grid_q, q.mean(axis=0), color="C3", label=r"critic estimate $Q(s, \mu(s))$")
        ax.plot(grid_g, g.mean(axis=0), color="C0", ls="--", label="Monte-Carlo return")
        if np.array_equal(grid_q, grid_g):
            ax.fill_between(grid_q, q.mean(axis=0), g.mean(axis=0), color="C3", alpha=0.12,
                            lw=0, label="estimation gap")
        seeds = f"{len(members)} seed{'s' if len(members) > 1 else ''}"
        where = "" if env in label else f", {env}"
        ax.set_title(f"{label}{where} ({seeds})", fontsize="medium")
        ax.set_ylabel("discounted return")
        ax.legend(fontsize="small")
    return _save(fig, out_prefix)


def _reference(text: str) -> tuple[str, float]:
    name, sep, value = text.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not NAME=VALUE; write e.g. --reference 'SB3 TD3=-150'") from None


DESCRIPTION = """Plot learning curves from run directories: evaluation return against environment
steps, one panel per environment, one curve per group of runs with the same library, algorithm
and preset (or environment, without a preset). A curve is the mean over the group's seeds,
interpolated onto the steps every seed reached, with a 95 % bootstrap confidence band of that
mean (2000 resamples of the seeds). Writes PREFIX.png and PREFIX.svg. Runs of goal-conditioned
tasks (the column eval_success_rate) also get PREFIX_success.png and PREFIX_success.svg: the
evaluation success rate, drawn alike. When the runs logged the columns q_estimate and
mc_return, it also writes PREFIX_q.png and PREFIX_q.svg: the critic's estimate Q(s, mu(s))
against the discounted return actually obtained from the same states."""

EPILOG = """examples:
  ddpg plot runs/                               every run below runs/
  ddpg plot runs/ddpg runs/sb3 --out docs/pendulum --title "Pendulum-v1, 10 seeds"
  ddpg plot runs/ --reference "solved=-200" --reference "paper=-150"

""" + EXIT_STATUS


def plot_main(argv: Sequence[str]) -> int:
    """learning curves (mean and 95 % bootstrap band over seeds), success rates and Q
    diagnostics.

    `ddpg plot RUN_DIR... [--out PREFIX] [--reference NAME=VALUE ...] [--title T]`."""
    p = argparse.ArgumentParser(prog="ddpg plot", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="a run directory (with metrics.csv and config.yaml) or a directory "
                        "searched recursively for run directories")
    p.add_argument("--out", default="learning_curves", metavar="PREFIX",
                   help="output path without extension (default: learning_curves, in the "
                        "current directory); missing directories are created")
    p.add_argument("--reference", type=_reference, action="append", default=[],
                   metavar="NAME=VALUE", help="a horizontal reference line at return VALUE "
                   "labelled NAME, in every panel; repeat for several")
    p.add_argument("--title", default=None, metavar="T", help="figure title (default: none)")
    try:
        a = p.parse_args(list(argv))
    except SystemExit as e:  # --help (0) or a usage error (2), already printed by argparse
        return e.code if isinstance(e.code, int) else 2
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("ddpg plot: error: matplotlib is not installed; pip install 'matplotlib>=3.7'.",
              file=sys.stderr)
        return 2
    try:
        runs = load_runs(a.run_dirs)
    except RunDirError as e:
        print(f"ddpg plot: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"ddpg plot: error: cannot read {e.filename}: {e.strerror or e}; check the "
              f"path and its permissions.", file=sys.stderr)
        return 2
    empty = [r for r in runs if r.metrics["step"].size == 0]
    if len(empty) == len(runs):
        print(f"ddpg plot: error: {empty[0].path}: {METRICS} has no evaluation row yet; plot "
              f"after the first evaluation (see --eval-every).", file=sys.stderr)
        return 2
    for r in empty:
        print(f"ddpg plot: left out {r.path}: no evaluation row yet.", file=sys.stderr)
    runs = [r for r in runs if r not in empty]
    try:
        written = plot_learning_curves(runs, a.out, dict(a.reference), title=a.title)
        if any(r.has_success for r in runs):
            written += plot_learning_curves([r for r in runs if r.has_success],
                                            f"{a.out}_success", title=a.title, column=SUCCESS)
        without_q = [r for r in runs if not r.has_q]
        if len(without_q) == len(runs):
            print(f"ddpg plot: skipped the Q plot: no run has the columns "
                  f"{' and '.join(Q_COLUMNS)} (runs written before they were logged).",
                  file=sys.stderr)
        else:
            written += plot_q_diagnostics(runs, f"{a.out}_q", title=a.title)
            if without_q:
                print(f"ddpg plot: the Q plot leaves out {len(without_q)} run(s) without "
                      f"{' and '.join(Q_COLUMNS)}, e.g. {without_q[0].path}.", file=sys.stderr)
    except OSError as e:
        print(f"ddpg plot: error: cannot write {e.filename or a.out}: {e.strerror or e}; pass "
              f"--out PREFIX in a writable directory.", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0
