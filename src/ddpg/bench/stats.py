"""Evaluation statistics over seeds, after Agarwal et al. 2021, "Deep Reinforcement Learning at
the Edge of the Statistical Precipice" (rliable): the interquartile mean, stratified bootstrap
confidence intervals, bootstrap bands for learning curves and the area under a learning curve.

Pure numpy. Every random draw comes from the `rng` passed in, so a result is a function of its
inputs and the generator's state.
"""

from __future__ import annotations

import statistics

from typing import Callable, Mapping, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

Statistic = Callable[[np.ndarray], float]


class Estimate(NamedTuple):
    """A point estimate and its confidence interval [low, high]."""

    point: float
    low: float
    high: float


class Band(NamedTuple):
    """A learning curve's mean and its pointwise confidence band, each of shape (points,)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _finite(values: ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        raise ValueError(f"{name} is empty; pass at least one score.")
    bad = int(np.count_nonzero(~np.isfinite(a)))
    if bad:
        raise ValueError(f"{name} has {bad} non-finite value(s) (NaN or inf) of {a.size}; "
                         f"drop the runs or evaluations that produced them first.")
    return a


def _check_level(reps: int, alpha: float) -> None:
    if reps < 1:
        raise ValueError(f"reps={reps}: use 1 or more bootstrap resamples (2000 is usual).")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha={alpha}: use a level in (0, 1), e.g. 0.05 for a 95 % interval.")


def iqm(scores: ArrayLike) -> float:
    """Interquartile mean of all scores (flattened): the mean of the scores left after cutting
    floor(n / 4) from each end of the sorted n scores. The same trimmed mean as
    scipy.stats.trim_mean(scores, 0.25, axis=None), which rliable uses; with n < 4 nothing is
    cut and it is the plain mean."""
    a = np.sort(_finite(scores, "scores").ravel())
    cut = int(0.25 * a.size)
    return float(a[cut: a.size - cut].mean())


def _percentiles(samples: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2], axis=0)
    return low, high


def stratified_bootstrap_ci(scores_by_task: Mapping[str, ArrayLike], statistic: Statistic = iqm,
                            reps: int = 2000, alpha: float = 0.05, *,
                            rng: np.random.Generator) -> Estimate:
    """Point estimate and percentile (1 - alpha) confidence interval of `statistic` of the scores
    of all tasks together. Each bootstrap resample draws, within every task separately, as many
    runs as that task has, with replacement (stratified by task), and concatenates the tasks.

    scores_by_task maps a task name to its scores, one per run, shape (runs,); tasks may have
    different numbers of runs. Scores of different tasks should be on one scale (normalised)
    for an aggregate across tasks to mean something."""
    _check_level(reps, alpha)
    if not scores_by_task:
        raise ValueError("scores_by_task is empty; pass {task name: scores of its runs}.")
    tasks = {name: _finite(scores_by_task[name], f"scores of task {name!r}").ravel()
             for name in sorted(scores_by_task)}
    point = float(statistic(np.concatenate(list(tasks.values()))))
    resampled = np.concatenate(
        [s[rng.integers(0, s.size, size=(reps, s.size))] for s in tasks.values()], axis=1)
    samples = np.array([statistic(row) for row in resampled], dtype=np.float64)
    low, high = _percentiles(samples, alpha)
    return Estimate(point, float(low), float(high))


def bootstrap_mean_ci(curves: ArrayLike, reps: int = 2000, alpha: float = 0.05, *,
                      rng: np.random.Generator) -> Band:
    """Mean learning curve over runs and its pointwise percentile (1 - alpha) bootstrap band.

    curves has shape (runs, points), every run evaluated at the same points. Each resample
    draws `runs` whole curves with replacement, so a band reflects the spread between seeds;
    with one run it has zero width."""
    _check_level(reps, alpha)
    c = _finite(curves, "curves")
    if c.ndim != 2:
        raise ValueError(f"curves has shape {c.shape}; pass shape (runs, points), e.g. "
                         f"np.stack of one curve per seed.")
    runs = c.shape[0]
    draws = rng.integers(0, runs, size=(reps, runs))
    counts = np.zeros((reps, runs))
    np.add.at(counts, (np.arange(reps)[:, None], draws), 1.0)
    means = counts @ c / runs  # (reps, points): the mean curve of each resample
    low, high = _percentiles(means, alpha)
    mean = c.mean(axis=0)  # rounding aside, the percentile band of a mean contains it
    return Band(mean, np.minimum(low, mean), np.maximum(high, mean))


def area_under_curve(steps: ArrayLike, returns: ArrayLike) -> float | np.ndarray:
    """Mean return over the steps covered: the trapezoid integral of returns over steps divided
    by the step span, (1 / (s_last - s_first)) * integral of R(s) ds. A constant curve gives the
    constant. returns has shape (points,) or (runs, points); with one point it is that return."""
    s = _finite(steps, "steps")
    r = _finite(returns, "returns")
    if s.ndim != 1 or r.shape[-1] != s.size:
        raise ValueError(f"steps has shape {s.shape} and returns {r.shape}; pass steps of shape "
                         f"(points,) and returns of shape (points,) or (runs, points).")
    if s.size > 1 and np.any(np.diff(s) <= 0):
        raise ValueError(f"steps must increase strictly, got {s.tolist()[:8]}...; sort the "
                         f"evaluations by step and drop repeated steps.")
    if s.size == 1:
        out = r[..., 0]
    else:
        area = np.sum((r[..., 1:] + r[..., :-1]) / 2 * np.diff(s), axis=-1)
        out = area / (s[-1] - s[0])
    return float(out) if np.ndim(out) == 0 else out


def paired(samples: dict[str, list[float]], num: str, den: str) -> float | None:
    """Median over repeats of num_i / den_i: each repeat measures both back to back, so the
    ratio cancels the slow swings of a shared machine (seen: the same product 280 to 690
    updates/s within minutes), which a ratio of the two medians does not."""
    pairs = list(zip(samples[num], samples[den]))
    return statistics.median(a / b for a, b in pairs) if pairs else None
