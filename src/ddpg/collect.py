"""One collection step of M members at once; a single run is M = 1 through the same code.

Every array carries the member first: the members' current observations (M, n, obs) and episode
returns and lengths (M, n) live in one `Books` that the members share (a Trainer reads its row),
so the bookkeeping is one numpy operation for all members. A step:

1. each member's action (its own warm-up stream, or the policy's with its own noise), checked
   finite (`Trainer.step_action`);
2. the environments' units for all members in one call (`to_env_action`);
3. every environment of every member stepped in one loop (`envs.step_autoreset`, the same-step
   autoreset that `SameStepVectorEnv` steps with);
4. the non-finite check over all members; a member with a non-finite transition drops it (or
   stops, with --on-nonfinite stop) alone (`envs.drop_nonfinite`);
5. the books: returns, lengths, observations, step counters, ended episodes logged and their
   noise reset;
6. every member's transitions (s, a, r, s', terminated) written into the stacked replay rows
   (members, capacity, width) in one write (one host-to-device copy on a GPU); a member whose
   rows do not line up with the others' (it dropped a transition) writes its own.

A member whose phase raises TrainingError is handed to `guarded` and left out of what follows.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from ddpg.devices import to_device
from ddpg.envs import drop_nonfinite, step_autoreset, to_env_action


class Books:
    """The books of `members` members with `num_envs` environments each, member k in row k:
    the current observations `obs` (members, num_envs, *obs_shape) in the environments' dtype,
    the episodes' returns (float64) and lengths (int64), (members, num_envs), each member's
    action bounds `low` and `high` (members, 1, action_dim), and `rows`, the members' stacked
    replay rows (members, capacity, width) that `collect` writes (`host`: their numpy view on a
    CPU, else None)."""

    def __init__(self, members: int, num_envs: int, obs_shape: tuple[int, ...],
                 dtype: np.dtype, action_dim: int, rows: torch.Tensor) -> None:
        self.obs = np.zeros((members, num_envs, *obs_shape), dtype=dtype)
        self.returns = np.zeros((members, num_envs))
        self.lengths = np.zeros((members, num_envs), dtype=np.int64)
        self.low = np.zeros((members, 1, action_dim), dtype=np.float32)
        self.high = np.zeros((members, 1, action_dim), dtype=np.float32)
        self.rows = rows
        self.host = rows.numpy() if rows.device.type == "cpu" else None


def collect(members: Sequence[Any], actions: dict[int, np.ndarray],
            guarded: Callable[[Any, Callable[[], Any]], Any]) -> None:
    """One collection step of `members` (Trainers sharing one Books; `actions` by id after
    warm-up: the policy's with noise, or missing for the member's own), each member's phases
    through `guarded`."""
    acting, chosen = [], []
    for m in members:
        if m.begin_round():
            action = guarded(m, lambda m=m: m.step_action(actions.get(id(m))))
            if action is not None:
                acting.append(m)
                chosen.append(action)
    if not acting:
        return
    books, c = acting[0].books, acting[0].config
    k, n = len(acting), c.num_envs
    which = _rows([m.row for m in acting], books.obs.shape[0])
    action = _stack(chosen)
    env_action = to_env_action(action, books.low[which], books.high[which])

    next_obs = np.empty((k, *books.obs.shape[1:]), dtype=books.obs.dtype)
    flat = (k * n, *books.obs.shape[2:])  # every member's environments in a row
    reward, terminated, truncated, final = step_autoreset(
        [e for m in acting for e in m.envs.envs], env_action.reshape(k * n, -1),
        next_obs.reshape(flat))
    reward, terminated, truncated = (reward.reshape(k, n), terminated.reshape(k, n),
                                     truncated.reshape(k, n))
    final_next = next_obs  # the real s': where an episode ended, its last observation
    if final:
        final_next = next_obs.copy()
        for i, o in final.items():
            final_next.reshape(flat)[i] = o
    done = terminated | truncated
    good = None  # every transition finite
    own: list[int] = []  # members writing their own rows (some transitions dropped)
    if not (np.isfinite(final_next).all() and np.isfinite(reward).all()):
        if final_next is next_obs:  # a reset below must not change s'
            final_next = next_obs.copy()
        good = np.isfinite(final_next.reshape(k, n, -1)).all(axis=2) & np.isfinite(reward)
        keep = list(range(k))
        for j in np.flatnonzero(~good.all(axis=1)):
            m = acting[j]
            good_j = guarded(m, lambda m=m, j=j: drop_nonfinite(
                m.envs, final_next[j], reward[j], done[j], next_obs[j], c.on_nonfinite,
                f"at step {m.step}"))
            if good_j is None:  # it stopped
                keep.remove(j)
                continue
            good[j] = good_j
            m.skipped += int((~good_j).sum())
            own.append(j)
        if len(keep) < k:
            acting, k = [acting[j] for j in keep], len(keep)
            if not acting:
                return
            which = _rows([m.row for m in acting], books.obs.shape[0])
            action, reward, terminated, done, good, next_obs, final_next = (
                x[keep] for x in (action, reward, terminated, done, good, next_obs, final_next))
            own = [keep.index(j) for j in own]
        done = done | ~good

    # the transitions (s, a, r, s', terminated) into the replay rows, before s moves on
    pos = [m.buffer.pos for m in acting]  # (where hindsight replay's episode index goes on)
    stored = (books.obs[which], action, reward, final_next, terminated)
    if not own:
        write_rows(acting, stored, books, which)
    else:
        for j in own:
            acting[j].buffer.add(*(x[j][good[j]] for x in stored))
        together = [j for j in range(k) if j not in own]
        if together:
            write_rows([acting[j] for j in together], tuple(x[together] for x in stored), books)

    index_episodes(acting, pos, done, good)
    books.returns[which] += reward if good is None else np.where(good, reward, 0.0)
    books.lengths[which] += 1
    books.obs[which] = next_obs
    for j, m in enumerate(acting):
        if m.agent.obs_norm is not None:
            m.agent.obs_norm.update(final_next[j] if good is None else final_next[j][good[j]])
        m.step += n
        m.collected(reward[j])
    if (final or good is not None) and done.any():  # (final: the episodes that ended)
        for j, i in zip(*np.nonzero(done)):
            m = acting[j]
            m.episode_ended(float(books.returns[m.row, i]), int(books.lengths[m.row, i]))
        for j in np.flatnonzero(done.any(axis=1)):
            m = acting[j]
            m.agent.noise.reset(done[j])
            books.returns[m.row, done[j]], books.lengths[m.row, done[j]] = 0.0, 0


def write_rows(members: Sequence[Any], stored: tuple[np.ndarray, ...], books: Books,
               which: slice | list[int] | None = None) -> None:
    """The members' transitions `stored` (s, a, r, s', terminated), each (members, n, ...), into
    their rows of `books.rows` (member.row) in one write where they line up (the same position
    of every member's ring, n <= capacity), else each through its ReplayBuffer.add; either way
    each buffer counts them. `which`: the members' rows, if the caller has them."""
    k, n, b0 = len(members), stored[0].shape[1], members[0].buffer
    if n > b0.capacity or (k > 1 and any(m.buffer.pos != b0.pos for m in members)):
        for j, m in enumerate(members):
            m.buffer.add(*(x[j] for x in stored))
        return
    if which is None:
        which = _rows([m.row for m in members], books.rows.shape[0])
    pos, first = b0.pos, min(n, b0.capacity - b0.pos)  # rows before the ring wraps
    fields = [x.reshape(k, n, w) for x, w in zip(stored, b0.widths)]
    if books.host is not None and first == n:  # each field into place, as add() lays a row
        col = 0
        for x, w in zip(fields, b0.widths):
            books.host[which, pos:pos + n, col:col + w] = x
            col += w
    else:  # one host-to-device copy for every member
        data = np.concatenate(fields, axis=2, dtype=np.float32)  # (members, n, width)
        if books.host is not None:
            books.host[which, pos:pos + first] = data[:, :first]
            books.host[which, :n - first] = data[:, first:]
        else:
            t = to_device(data, books.rows.device)  # pinned, no wait, on a GPU
            books.rows[which, pos:pos + first] = t[:, :first]
            books.rows[which, :n - first] = t[:, first:]
    for m in members:
        m.buffer.advance(n)


def index_episodes(members: Sequence[Any], pos: list[int], done: np.ndarray,
                   good: np.ndarray | None) -> None:
    """Hindsight replay's episode index (ddpg.her.EpisodeIndex) of each member that has one:
    the rows written from position pos[j] on, one per environment kept (`good`; all when
    None) in order, and which of them ended an episode (`done`, (members, n)); an environment
    whose transition was dropped was reset, which ends its episode at its last stored row."""
    for j, m in enumerate(members):
        her = m.buffer.hindsight
        if her is None:
            continue
        kept = np.arange(done.shape[1]) if good is None else np.flatnonzero(good[j])
        her.index.added(pos[j], kept, done[j][kept])
        if good is not None:
            for e in np.flatnonzero(~good[j]):
                her.index.cut(int(e))


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """np.stack, without its cost for one array."""
    return arrays[0][None] if len(arrays) == 1 else np.stack(arrays)


def _rows(members: list[int], total: int) -> slice | list[int]:
    """The rows of these members: a slice when they are all rows in order (views, no copies)."""
    in_order = len(members) == total and (total == 1 or members == list(range(total)))
    return slice(None) if in_order else members
