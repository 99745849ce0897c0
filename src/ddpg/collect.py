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

from ddpg.envs import drop_nonfinite, step_autoreset, to_env_action


class Books:
    """The episode books of `members` members with `num_envs` environments each: the current
    observations `obs` (members, num_envs, *obs_shape) in the environments' dtype, and the
    episodes' returns (float64) and lengths (int64), (members, num_envs). Member k is row k."""

    def __init__(self, members: int, num_envs: int, obs_shape: tuple[int, ...],
                 dtype: np.dtype) -> None:
        self.obs = np.zeros((members, num_envs, *obs_shape), dtype=dtype)
        self.returns = np.zeros((members, num_envs))
        self.lengths = np.zeros((members, num_envs), dtype=np.int64)


def collect(members: Sequence[Any], actions: dict[int, np.ndarray],
            guarded: Callable[[Any, Callable[[], Any]], Any], rows: torch.Tensor) -> None:
    """One collection step of `members` (Trainers sharing one Books; `actions` by id after
    warm-up: the policy's with noise, or missing for the member's own), each member's phases
    through `guarded`. `rows`: the members' stacked replay rows (Books' rows index them)."""
    acting, chosen = [], []
    for m in members:
        if m.begin_round():
            action = guarded(m, lambda m=m: m.step_action(actions.get(id(m))))
            if action is not None:
                acting.append(m)
                chosen.append(action)
    if not acting:
        return
    first, books = acting[0], acting[0].books
    c, n = first.config, first.config.num_envs
    which = _rows([m.row for m in acting], books.obs.shape[0])
    action = np.stack(chosen)
    env_action = to_env_action(action, np.stack([m.low for m in acting])[:, None],
                               np.stack([m.high for m in acting])[:, None])

    next_obs = np.empty((len(acting), *books.obs.shape[1:]), dtype=books.obs.dtype)
    flat = (len(acting) * n, *books.obs.shape[2:])  # every member's environments in a row
    reward, terminated, truncated, final = step_autoreset(
        [e for m in acting for e in m.envs.envs], env_action.reshape(flat[0], -1),
        next_obs.reshape(flat))
    reward, terminated, truncated = (x.reshape(len(acting), n)
                                     for x in (reward, terminated, truncated))
    final_next = next_obs.copy()  # the real s': an ended episode's last observation
    for i, o in final.items():
        final_next.reshape(flat)[i] = o
    done = terminated | truncated
    states = books.obs[which].copy()
    stored = (states, action, reward, final_next, terminated)

    good = np.isfinite(final_next.reshape(len(acting), n, -1)).all(axis=2) & np.isfinite(reward)
    keep = list(range(len(acting)))
    own: list[int] = []  # members writing their own rows (some transitions dropped)
    if not good.all():
        for k in np.flatnonzero(~good.all(axis=1)):
            m = acting[k]
            good_k = guarded(m, lambda m=m, k=k: drop_nonfinite(
                m.envs, final_next[k], reward[k], done[k], next_obs[k], c.on_nonfinite,
                f"at step {m.step}"))
            if good_k is None:  # it stopped
                keep.remove(k)
                continue
            good[k] = good_k
            m.skipped += int((~good_k).sum())
            own.append(k)
        if len(keep) < len(acting):
            acting = [acting[k] for k in keep]
            which = _rows([m.row for m in acting], books.obs.shape[0])
            stored, reward, done, good, next_obs = (tuple(x[keep] for x in stored),
                                                    reward[keep], done[keep], good[keep],
                                                    next_obs[keep])
            own = [keep.index(k) for k in own]
        if not acting:
            return
        done = done | ~good

    counted = np.where(good, reward, 0.0)
    books.returns[which] += counted
    books.lengths[which] += 1
    books.obs[which] = next_obs
    for k, m in enumerate(acting):
        if m.agent.obs_norm is not None:
            m.agent.obs_norm.update(stored[3][k][good[k]])
        m.step += n
        m.collected(reward[k])
    if done.any():
        for k, i in zip(*np.nonzero(done)):
            m = acting[k]
            m.episodes += 1
            m.log.episode(m.step, float(books.returns[m.row, i]), int(books.lengths[m.row, i]))
        for k in np.flatnonzero(done.any(axis=1)):
            m = acting[k]
            m.agent.noise.reset(done[k])
            books.returns[m.row, done[k]], books.lengths[m.row, done[k]] = 0.0, 0

    together = [k for k in range(len(acting)) if k not in own]
    for k in own:
        acting[k].buffer.add(*(x[k][good[k]] for x in stored))
    if together:
        write_rows([acting[k] for k in together],
                   stored if len(together) == len(acting) else
                   tuple(x[together] for x in stored), rows)


def write_rows(members: Sequence[Any], stored: tuple[np.ndarray, ...],
               rows: torch.Tensor) -> None:
    """The members' transitions `stored` (s, a, r, s', terminated), each (members, n, ...), into
    their rows of `rows` (member.row) in one write where they line up (the same position of every
    member's ring, n <= capacity), else each through its ReplayBuffer.add; either way each
    buffer counts them."""
    buffers = [m.buffer for m in members]
    n, b0 = stored[0].shape[1], buffers[0]
    if n > b0.capacity or any(b.pos != b0.pos for b in buffers):
        for k, m in enumerate(members):
            m.buffer.add(*(x[k] for x in stored))
        return
    data = np.concatenate([x.reshape(len(members), n, w) for x, w in zip(stored, b0.widths)],
                          axis=2, dtype=np.float32)  # (members, n, width), as add() lays a row
    which = _rows([m.row for m in members], rows.shape[0])
    first = min(n, b0.capacity - b0.pos)  # rows before the ring wraps
    if rows.device.type == "cpu":  # through a numpy view, no torch dispatch (as add() writes)
        host = rows.numpy()
        host[which, b0.pos:b0.pos + first] = data[:, :first]
        host[which, :n - first] = data[:, first:]
    else:  # one host-to-device copy for every member
        t = torch.from_numpy(data).to(rows.device)
        rows[which, b0.pos:b0.pos + first] = t[:, :first]
        rows[which, :n - first] = t[:, first:]
    for b in buffers:
        b.advance(n)


def _rows(members: list[int], total: int) -> slice | list[int]:
    """The rows of these members: a slice when they are all rows in order (views, no copies)."""
    return slice(None) if members == list(range(total)) else members
