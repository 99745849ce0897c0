"""Noise-free evaluation on a separate environment, over a fixed list of episode seeds, and how
many runs' returns are summarised: the interquartile mean with its stratified bootstrap confidence
interval (Agarwal et al. 2021, rliable)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, NamedTuple, Sequence

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike


def episode_seeds(first: int, episodes: int) -> list[int]:
    """The fixed evaluation seeds: first, first + 1, ... (the same in every run)."""
    return [first + i for i in range(episodes)]


@dataclass
class Evaluation:
    returns: np.ndarray  # undiscounted return of each episode
    lengths: np.ndarray  # steps of each episode
    q_estimate: float | None = None  # mean critic estimate Q(s, mu(s)) over the states below
    mc_return: float | None = None  # mean discounted return actually obtained from them
    successes: np.ndarray | None = None  # info["is_success"] at each episode's end, if given


def episode_cap(env: gym.Env, max_steps: int) -> int | None:
    """`max_steps` for an environment without a time limit of its own, else None (its own
    limit ends its episodes): one in its spec, or a TimeLimit wrapper put on by hand (an
    environment made without gymnasium.make has no spec)."""
    spec = getattr(env, "spec", None)
    if spec is not None and spec.max_episode_steps:
        return None
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return None
        env = env.env
    return max_steps


def discounted_returns_to_go(rewards: Sequence[float], gamma: float) -> np.ndarray:
    """G_t = sum_k gamma^k r_{t+k} for every t of an episode."""
    g, out = 0.0, np.zeros(len(rewards))
    for t in range(len(rewards) - 1, -1, -1):
        g = rewards[t] + gamma * g
        out[t] = g
    return out


def evaluate(act: Callable[[np.ndarray], np.ndarray], env: gym.Env, seeds: Sequence[int],
             q_fn: Callable[[np.ndarray], np.ndarray] | None = None,
             gamma: float = 0.99, max_steps: int | None = None,
             should_stop: Callable[[], bool] | None = None) -> Evaluation | None:
    """Run one episode per seed with `act` (one observation to one action in the env's units,
    no exploration noise). With `q_fn` (observations to Q(s, mu(s))), also compare the critic
    with the discounted Monte-Carlo return from the states visited. In an episode cut by a time
    limit the return-to-go of the last states is truncated, so only states at least
    H = log(0.01) / log(gamma) steps before the cut count (the missing tail is < 1 %); after a
    termination every state counts. `max_steps` cuts an episode (as a time limit would) for
    environments without one of their own; `should_stop` is asked after every step, and when it
    says yes the evaluation is abandoned and None returned."""
    out = evaluate_together(lambda obs, who: [act(obs[0])], [env], seeds, [q_fn], gamma,
                            max_steps, should_stop)
    return None if out is None else out[0]


def evaluate_together(act: Callable[[list[np.ndarray], list[int]], Sequence[np.ndarray]],
                      envs: Sequence[gym.Env], seeds: Sequence[int],
                      q_fns: Sequence[Callable[[np.ndarray], np.ndarray] | None],
                      gamma: float | Sequence[float] = 0.99, max_steps: int | None = None,
                      should_stop: Callable[[], bool] | None = None
                      ) -> list[Evaluation] | None:
    """`evaluate` for several policies at once (a population's members), each on its own
    environment, episode by episode in step: every step, `act(observations, who)` gets the
    observations of the policies `who` still in their episode and returns their actions (one
    call for all, so a population acts with one batched forward pass). Each policy's
    Evaluation is what `evaluate` gives it alone."""
    k = len(envs)
    gammas = [gamma] * k if isinstance(gamma, (int, float)) else list(gamma)
    returns = np.zeros((k, len(seeds)))
    lengths = np.zeros((k, len(seeds)), dtype=np.int64)
    success = np.full((k, len(seeds)), np.nan)  # info["is_success"] at each episode's end
    qs: list[list[np.ndarray]] = [[] for _ in range(k)]
    gs: list[list[np.ndarray]] = [[] for _ in range(k)]
    for i, seed in enumerate(seeds):
        obs = [env.reset(seed=int(seed))[0] for env in envs]
        observations: list[list[np.ndarray]] = [[] for _ in range(k)]
        rewards: list[list[float]] = [[] for _ in range(k)]
        ended = [False] * k
        terminated = [False] * k
        while not all(ended):
            who = [j for j in range(k) if not ended[j]]
            actions = act([obs[j] for j in who], who)
            for j, action in zip(who, actions):
                observations[j].append(obs[j])
                obs[j], reward, term, trunc, info = envs[j].step(action)
                rewards[j].append(float(reward))
                terminated[j] = bool(term)
                if term or trunc or (max_steps is not None and len(rewards[j]) >= max_steps):
                    ended[j] = True
                    if "is_success" in info:
                        success[j, i] = float(info["is_success"])
            if should_stop is not None and should_stop():
                return None
        for j in range(k):
            returns[j, i], lengths[j, i] = sum(rewards[j]), len(rewards[j])
            if q_fns[j] is not None:
                g = discounted_returns_to_go(rewards[j], gammas[j])
                horizon = math.ceil(math.log(0.01) / math.log(gammas[j])) \
                    if 0 < gammas[j] < 1 else 0
                n = len(rewards[j]) if terminated[j] else max(len(rewards[j]) - horizon, 1)
                qs[j].append(q_fns[j](np.asarray(observations[j][:n])))
                gs[j].append(g[:n])
    out = [Evaluation(returns[j], lengths[j]) if q_fns[j] is None else
           Evaluation(returns[j], lengths[j], float(np.concatenate(qs[j]).mean()),
                      float(np.concatenate(gs[j]).mean())) for j in range(k)]
    for j, ev in enumerate(out):
        if not np.isnan(success[j]).any():  # every episode reported it
            ev.successes = success[j]
    return out


# --- summaries over runs (seeds, members) ----------------------------------------------------

Statistic = Callable[[np.ndarray], float]


class Estimate(NamedTuple):
    """A point estimate and its confidence interval [low, high]."""

    point: float
    low: float
    high: float


def finite_scores(values: ArrayLike, name: str) -> np.ndarray:
    """`values` as float64; an empty or non-finite set is refused, naming it `name`."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        raise ValueError(f"{name} is empty; pass at least one score.")
    bad = int(np.count_nonzero(~np.isfinite(a)))
    if bad:
        raise ValueError(f"{name} has {bad} non-finite value(s) (NaN or inf) of {a.size}; "
                         f"drop the runs or evaluations that produced them first.")
    return a


def check_level(reps: int, alpha: float) -> None:
    """Refuses a bootstrap without resamples or a level outside (0, 1)."""
    if reps < 1:
        raise ValueError(f"reps={reps}: use 1 or more bootstrap resamples (2000 is usual).")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha={alpha}: use a level in (0, 1), e.g. 0.05 for a 95 % interval.")


def iqm(scores: ArrayLike) -> float:
    """Interquartile mean of all scores (flattened): the mean of the scores left after cutting
    floor(n / 4) from each end of the sorted n scores. The same trimmed mean as
    scipy.stats.trim_mean(scores, 0.25, axis=None), which rliable uses; with n < 4 nothing is
    cut and it is the plain mean."""
    a = np.sort(finite_scores(scores, "scores").ravel())
    cut = int(0.25 * a.size)
    return float(a[cut: a.size - cut].mean())


def percentile_interval(samples: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The alpha / 2 and 1 - alpha / 2 quantiles of the bootstrap samples (over axis 0)."""
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
    check_level(reps, alpha)
    if not scores_by_task:
        raise ValueError("scores_by_task is empty; pass {task name: scores of its runs}.")
    tasks = {name: finite_scores(scores_by_task[name], f"scores of task {name!r}").ravel()
             for name in sorted(scores_by_task)}
    point = float(statistic(np.concatenate(list(tasks.values()))))
    resampled = np.concatenate(
        [s[rng.integers(0, s.size, size=(reps, s.size))] for s in tasks.values()], axis=1)
    samples = np.array([statistic(row) for row in resampled], dtype=np.float64)
    low, high = percentile_interval(samples, alpha)
    return Estimate(point, float(low), float(high))
