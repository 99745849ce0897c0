"""Hindsight experience replay (Andrychowicz et al., 2017): goals relabelled at sampling time.

A replay row of a goal-conditioned task holds the flat observation (ddpg.goals: achieved goal,
desired goal, observation) of s and of s'. When a batch is drawn, each row is relabelled with
probability k / (k + 1): its desired goal, in s and in s', becomes a goal the agent achieved
later, and its reward becomes the environment's `compute_reward(achieved goal of s', new goal,
info)`. Which goal, by `strategy`:

- future:  the achieved goal of s' of a transition of the same episode at the same or a later
           step, uniformly (the paper's best);
- final:   that of the episode's last transition;
- episode: that of any transition of the same episode, uniformly.

`EpisodeIndex` is what makes this possible on a ring buffer shared by several environments: for
every row it knows its environment, its place in that environment's sequence of transitions,
where its episode began and (once it has ended) where it ended. An episode still running counts
up to its latest transition. Rows overwritten by the ring are never drawn as goals: an episode
whose first rows are gone draws from the rows left. A truncated episode (a time limit) ends where
it was cut; a transition dropped for a non-finite value ends its environment's episode, as the
environment is reset then.

`info`: the environments' info dicts are not stored (copying them every step is what made
stable-baselines3's HER buffer slow); `compute_reward` receives an array of empty dicts (the same
ones at every draw: it must not write into them), which is what gymnasium-robotics' tasks (they
ignore it) need. Termination flags are kept as collected.

Each member draws its relabelling from a stream of its own (ddpg.seeding.IndexStream), saved in
its checkpoints, so `--resume` is bit-identical.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import torch

from ddpg.devices import to_device
from ddpg.goals import GoalLayout
from ddpg.seeding import IndexStream, uniform_indices

STRATEGIES = ("future", "final", "episode")
_BITS = 1 << 30  # the resolution of the uniform draws below


class EpisodeIndex:
    """Where each of `capacity` rows sits in its environment's episodes (see the module's
    docstring). Absolute positions count each environment's transitions from 0."""

    def __init__(self, capacity: int, num_envs: int) -> None:
        self.capacity, self.num_envs = capacity, num_envs
        self.env = np.full(capacity, -1, dtype=np.int64)  # -1: the row is empty
        self.at = np.zeros(capacity, dtype=np.int64)  # its position in its env's sequence
        self.start = np.zeros(capacity, dtype=np.int64)  # its episode's first position
        self.end = np.full(capacity, -1, dtype=np.int64)  # its episode's last; -1: running
        self.rows = np.zeros((num_envs, capacity), dtype=np.int64)  # position % cap -> row
        self.count = np.zeros(num_envs, dtype=np.int64)  # transitions of each env so far
        self.episode_start = np.zeros(num_envs, dtype=np.int64)  # of each env's running one
        self.valid_from = np.zeros(num_envs, dtype=np.int64)  # first position not overwritten

    def added(self, pos: int, envs: np.ndarray, ended: np.ndarray) -> None:
        """Rows pos, pos + 1, ... (mod capacity) now hold one transition each of environments
        `envs`, in that order; `ended` marks those that ended their episode."""
        for i, (e, done) in enumerate(zip(envs.tolist(), ended.tolist())):
            row = (pos + i) % self.capacity
            old = self.env[row]
            if old >= 0:  # the ring overwrites an older transition of env `old`
                self.valid_from[old] = max(self.valid_from[old], self.at[row] + 1)
            a = self.count[e]
            self.rows[e, a % self.capacity] = row
            self.env[row], self.at[row], self.start[row] = e, a, self.episode_start[e]
            self.end[row] = -1
            self.count[e] = a + 1
            if done:
                self._ended(e, a)

    def added_chunk(self, chunk: Mapping[str, Any], pos: int, rows: int, first: int) -> None:
        """A collector's chunk (ddpg.distributed.collector) of which the first `rows` rows were
        written from `pos`: its row environments `env` (numbered from `first` here), their
        `ended` flags and its `cuts`, (rows stored before the reset, environment)."""
        envs, ended = first + np.asarray(chunk["env"][:rows]), np.asarray(chunk["ended"][:rows])
        done = 0
        for at, e in chunk["cuts"]:
            if at > rows:
                break
            if at > done:
                self.added((pos + done) % self.capacity, envs[done:at], ended[done:at])
                done = at
            self.cut(first + int(e))
        if rows > done:
            self.added((pos + done) % self.capacity, envs[done:], ended[done:])

    def cut(self, e: int) -> None:
        """Environment `e` was reset without its last transition stored (a non-finite one was
        dropped): its running episode ends at its last stored transition."""
        if self.count[e] > self.episode_start[e]:
            self._ended(e, int(self.count[e]) - 1)
        self.episode_start[e] = self.count[e]

    def _ended(self, e: int, last: int) -> None:
        first = max(self.episode_start[e], self.valid_from[e])
        self.end[self.rows[e, np.arange(first, last + 1) % self.capacity]] = last
        self.episode_start[e] = last + 1

    def goal_rows(self, idx: np.ndarray, strategy: str, u: np.ndarray) -> np.ndarray:
        """For the rows `idx`, the rows whose s' gives each its new goal under `strategy`,
        from uniforms `u` in [0, 1) (one per row)."""
        e, at = self.env[idx], self.at[idx]
        end = np.where(self.end[idx] >= 0, self.end[idx], self.count[e] - 1)
        if strategy == "final":
            j = end
        else:
            first = at if strategy == "future" else np.maximum(self.start[idx],
                                                               self.valid_from[e])
            j = first + np.floor(u * (end - first + 1)).astype(np.int64)
            j = np.minimum(j, end)  # (u < 1 always; float rounding never passes the end)
        return self.rows[e, j % self.capacity]

    def state_dict(self) -> dict:
        return {k: getattr(self, k).copy() for k in ("env", "at", "start", "end", "rows",
                                                      "count", "episode_start", "valid_from")}

    def load_state_dict(self, d: dict) -> None:
        for k, v in d.items():
            mine = getattr(self, k)
            v = np.asarray(v, dtype=np.int64)
            if v.shape != mine.shape:
                raise ValueError(f"episode index {k} of shape {v.shape} does not fit "
                                 f"{mine.shape} (another buffer size or number of envs).")
            mine[...] = v


class Hindsight:
    """One member's hindsight relabelling: its EpisodeIndex, the strategy and k, the goal
    layout, the environment's compute_reward and the member's relabelling stream."""

    def __init__(self, capacity: int, num_envs: int, layout: GoalLayout, strategy: str, k: int,
                 compute_reward: Callable[..., np.ndarray], stream: IndexStream) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"her strategy {strategy!r}: use one of {', '.join(STRATEGIES)}.")
        self.index = EpisodeIndex(capacity, num_envs)
        self.layout, self.strategy, self.k = layout, strategy, k
        self.compute_reward, self.stream = compute_reward, stream
        self.ratio = k / (k + 1)  # the share of relabelled rows
        self._infos = np.empty(0, dtype=object)  # compute_reward's info argument

    def draw(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which of the rows `idx` are relabelled (a mask) and, for those, the rows that give
        their new goals. Two uniforms per row from the member's stream."""
        n = len(idx)
        bits = uniform_indices(self.stream.keys, self.stream.counters,
                               np.full(1, _BITS), 2 * n)[0].astype(np.float64) / _BITS
        relabel = bits[:n] < self.ratio
        return relabel, self.index.goal_rows(idx[relabel], self.strategy, bits[n:][relabel])

    def relabel(self, rows: torch.Tensor, idx: torch.Tensor, data: torch.Tensor,
                widths: tuple[int, ...], host: bool | None = None) -> None:
        """Relabel, in place, `rows`: the rows `idx` of the replay storage `data` as gathered
        (a copy, laid out s, a, r, s', done by `widths`; `data` is not changed). The relabelled
        rows' desired goals, in s and in s', become their new goals, and their rewards
        compute_reward(achieved goal of s', new goal, {}). On a CPU (`host`, by default when
        the rows are on one) the rows are rewritten through numpy views (no tensor indexing: a
        few microseconds instead of tens); elsewhere by tensor indexing on their device (the
        goals and rewards pass through the host for compute_reward). Both give the same rows
        (tests/test_her.py runs the device way on a CPU)."""
        where, goal_rows = self.draw(idx.cpu().numpy())
        n = len(goal_rows)
        if n == 0:
            return
        next_at, reward_at = sum(widths[:3]), widths[0] + widths[1]
        ag, dg = self.layout.achieved_slice, self.layout.desired_slice
        next_ag = slice(next_at + ag.start, next_at + ag.stop)
        dgs = (dg, slice(next_at + dg.start, next_at + dg.stop))  # in s and in s'
        if len(self._infos) < n:  # empty info dicts, made once (200 dicts cost 30 us a draw)
            self._infos = np.empty(n, dtype=object)
            self._infos[:] = [{} for _ in range(n)]
        infos = self._infos[:n]
        on_host = rows.device.type == "cpu" if host is None else host
        if on_host:
            out, sel = rows.numpy(), np.flatnonzero(where)
            goals = data.numpy()[goal_rows, next_ag]
            achieved = out[sel, next_ag]
            r = self.compute_reward(achieved, goals, infos)
            for cols in dgs:
                out[sel, cols] = goals
            out[sel, reward_at] = np.asarray(r, dtype=out.dtype).reshape(-1)
            return
        sel_t = to_device(np.flatnonzero(where), rows.device)
        goals_t = data.index_select(0, to_device(goal_rows, data.device))[:, next_ag]
        r = self.compute_reward(rows[sel_t, next_ag].cpu().numpy(), goals_t.cpu().numpy(),
                                infos)
        for cols in dgs:
            rows[sel_t, cols] = goals_t
        rows[sel_t, reward_at] = to_device(np.asarray(r, dtype=np.float32).reshape(-1),
                                           rows.device).to(rows.dtype)

    def state_dict(self) -> dict:
        return {"index": self.index.state_dict(), "stream": self.stream.state_dict()}

    def load_state_dict(self, d: dict) -> None:
        self.index.load_state_dict(d["index"])
        self.stream.load_state_dict(d["stream"])
