"""Evaluation statistics over seeds, after Agarwal et al. 2021, "Deep Reinforcement Learning at
the Edge of the Statistical Precipice" (rliable): the interquartile mean and stratified bootstrap
confidence intervals (defined in ddpg.evaluation, which `ddpg eval` of a population reports with;
re-exported here), bootstrap bands for learning curves and the area under a learning curve.

Pure numpy. Every random draw comes from the `rng` passed in, so a result is a function of its
inputs and the generator's state.
"""

from __future__ import annotations

import statistics
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ddpg.evaluation import (Estimate, Statistic, check_level, finite_scores, iqm,
                             percentile_interval, stratified_bootstrap_ci)

__all__ = ["Band", "Estimate", "Statistic", "area_under_curve", "bootstrap_mean_ci", "iqm",
           "paired", "stratified_bootstrap_ci"]


class Band(NamedTuple):
    """A learning curve's mean and its pointwise confidence band, each of shape (points,)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def bootstrap_mean_ci(curves: ArrayLike, reps: int = 2000, alpha: float = 0.05, *,
                      rng: np.random.Generator) -> Band:
    """Mean learning curve over runs and its pointwise percentile (1 - alpha) bootstrap band.

    curves has shape (runs, points), every run evaluated at the same points. Each resample
    draws `runs` whole curves with replacement, so a band reflects the spread between seeds;
    with one run it has zero width."""
    check_level(reps, alpha)
    c = finite_scores(curves, "curves")
    if c.ndim != 2:
        raise ValueError(f"curves has shape {c.shape}; pass shape (runs, points), e.g. "
                         f"np.stack of one curve per seed.")
    runs = c.shape[0]
    draws = rng.integers(0, runs, size=(reps, runs))
    counts = np.zeros((reps, runs))
    np.add.at(counts, (np.arange(reps)[:, None], draws), 1.0)
    means = counts @ c / runs  # (reps, points): the mean curve of each resample
    low, high = percentile_interval(means, alpha)
    mean = c.mean(axis=0)  # rounding aside, the percentile band of a mean contains it
    return Band(mean, np.minimum(low, mean), np.maximum(high, mean))


def area_under_curve(steps: ArrayLike, returns: ArrayLike) -> float | np.ndarray:
    """Mean return over the steps covered: the trapezoid integral of returns over steps divided
    by the step span, (1 / (s_last - s_first)) * integral of R(s) ds. A constant curve gives the
    constant. returns has shape (points,) or (runs, points); with one point it is that return."""
    s = finite_scores(steps, "steps")
    r = finite_scores(returns, "returns")
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
