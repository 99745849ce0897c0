"""A population's collection step, every member at once where it can be: each member's action
(its own warm-up stream, or the policy's with its own noise), the environments' units for all
members in one call, each member's environments stepped and its books kept
(`Trainer.transition`, as a single run does), and every member's transitions written into the
stacked replay rows (members, capacity, width) in one call instead of one `ReplayBuffer.add` per
member. A member whose rows do not line up with the others' (it dropped a non-finite transition)
writes its own."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from ddpg.envs import to_env_action


def collect_together(members: Sequence[Any], actions: dict[int, np.ndarray],
                     guarded: Callable[[Any, Callable[[], Any]], Any], rows: torch.Tensor,
                     index: dict[int, int]) -> None:
    """One collection step of `members` (Trainers; `actions` by id after warm-up), each phase
    through `guarded` (a member that diverges is stopped alone). `rows`: the population's
    stacked replay rows; `index`: a member's slice of them, by id."""
    acting = []
    for m in members:
        if m.begin_round():
            action = guarded(m, lambda m=m: m.step_action(actions.get(id(m))))
            if action is not None:
                acting.append((m, action))
    if not acting:
        return
    env_actions = to_env_action(np.stack([a for _, a in acting]),
                                np.stack([m.low for m, _ in acting])[:, None],
                                np.stack([m.high for m, _ in acting])[:, None])
    written = []
    for (m, action), env_action in zip(acting, env_actions):
        out = guarded(m, lambda m=m, a=action, e=env_action: m.transition(a, e))
        if out is not None:
            m.collected(out[0])
            written.append((m, out[1]))
    write_rows(written, rows, index)


def write_rows(written: list[tuple[Any, tuple[np.ndarray, ...]]], rows: torch.Tensor,
               index: dict[int, int]) -> None:
    """The members' transitions (s, a, r, s', terminated) into their slices of `rows` in one
    write where they line up (the same number of rows at the same position of every member's
    ring), else each through its ReplayBuffer.add; either way each buffer counts them."""
    if not written:
        return
    buffers = [m.buffer for m, _ in written]
    n = len(written[0][1][0])
    b0 = buffers[0]
    if not (n <= b0.capacity and all(len(st[0]) == n for _, st in written)
            and all(b.pos == b0.pos for b in buffers)):
        for m, stored in written:
            m.buffer.add(*stored)
        return
    data = np.concatenate(
        [np.stack([np.asarray(st[k], dtype=np.float32).reshape(n, width) for _, st in written])
         for k, width in enumerate(b0.widths)], axis=2)  # (members, n, width), as add() lays a row
    members = [index[id(m)] for m, _ in written]
    which = slice(None) if members == list(range(rows.shape[0])) else members
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
