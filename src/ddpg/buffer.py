"""Replay storage: preallocated float32 ring buffers and uniform sampling."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from ddpg.devices import canonical_device, same_device, to_device
from ddpg.priorities import Priorities
from ddpg.seeding import INDEX_LIMIT, IndexStream

_FLOAT = 4  # bytes per float32


class Batch(NamedTuple):
    """A sampled mini-batch; rewards and terminations are shaped (B, 1)."""

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_states: torch.Tensor
    dones: torch.Tensor


def estimate_bytes(capacity: int, obs_dim: int, action_dim: int) -> int:
    """Bytes the buffer's storage takes: obs, next obs, action, reward, termination, float32."""
    return capacity * (2 * obs_dim + action_dim + 2) * _FLOAT


class ReplayBuffer:
    """Stores (s, a, r, s', terminated) transitions in preallocated float32 tensors.

    `add` takes a leading environment dimension (N, ...) and writes N rows, wrapping around the
    ring; `sample` draws uniformly, with replacement, from the rows written so far, using the
    stream given at construction (an IndexStream, the same on every device; a torch.Generator
    is taken too), so sampling is reproducible and checkpointable.
    `dones` holds termination only: truncated transitions bootstrap.
    """

    def __init__(self, capacity: int, obs_dim: int, action_dim: int,
                 generator: IndexStream | torch.Generator | None = None,
                 device: str | torch.device = "cpu",
                 storage: torch.Tensor | None = None, priorities: Priorities | None = None):
        """`storage`: a (capacity, 2 obs_dim + action_dim + 2) float32 tensor to hold the rows
        (a population's members keep theirs as slices of one tensor); default: allocated here.
        `priorities`: sample in proportion to LAP's priorities (ddpg.priorities; needs an
        IndexStream) instead of uniformly."""
        if not 0 < capacity < INDEX_LIMIT:
            raise ValueError(f"capacity={capacity} must be positive and below 2^32.")
        self.capacity, self.obs_dim, self.action_dim = capacity, obs_dim, action_dim
        self.device = canonical_device(device)  # `cpu` or `cuda:N`, as tensors report it
        self.generator = generator if generator is not None else IndexStream(0)
        # One row per transition: [s | a | r | s' | done], so a sample is one index_select.
        widths = (obs_dim, action_dim, 1, obs_dim, 1)
        shape = (capacity, sum(widths))
        if storage is not None and (tuple(storage.shape) != shape or storage.dtype != torch.float32
                                    or not same_device(storage.device, self.device)):
            raise ValueError(f"storage of shape {tuple(storage.shape)} ({storage.dtype}, "
                             f"{storage.device}) does not fit {shape} float32 on {self.device}.")
        self._data = storage if storage is not None else torch.zeros(
            shape, dtype=torch.float32, device=self.device)
        self.states, self.actions, self.rewards, self.next_states, self.dones = \
            self._data.split(widths, dim=1)
        self.widths = widths  # of the fields of a row: s, a, r, s', done
        self._host = self._data.numpy() if self.device.type == "cpu" else None
        self.pos = 0  # next row to write
        self.size = 0  # rows holding data
        self.total = 0  # rows ever added; row j (absolute) lives at position j % capacity
        if priorities is not None and isinstance(self.generator, torch.Generator):
            raise ValueError("prioritised sampling draws from an IndexStream (ddpg.seeding), "
                             "not a torch.Generator.")
        self.priorities = priorities
        self.hindsight = None  # a goal-conditioned run's ddpg.her.Hindsight: relabels in gather

    def __len__(self) -> int:
        return self.size

    @property
    def storage(self) -> torch.Tensor:
        """The (capacity, width) float32 tensor holding the rows, [s | a | r | s' | done]."""
        return self._data

    @property
    def nbytes(self) -> int:
        return self._data.numel() * self._data.element_size()

    def _fields(self) -> tuple[torch.Tensor, ...]:
        return (self.states, self.actions, self.rewards, self.next_states, self.dones)

    def add(self, states, actions, rewards, next_states, dones) -> None:
        """Append N transitions: states (N, obs), actions (N, act), rewards (N,), next_states
        (N, obs), dones (N,) meaning terminated. Single transitions may omit the N dimension."""
        rows = [np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x,
                           dtype=np.float32).reshape(-1, width)
                for x, width in ((states, self.obs_dim), (actions, self.action_dim),
                                 (rewards, 1), (next_states, self.obs_dim), (dones, 1))]
        n = rows[0].shape[0]
        if any(r.shape[0] != n for r in rows):
            raise ValueError(f"add() got different leading sizes {[r.shape[0] for r in rows]}.")
        data = np.concatenate(rows, axis=1)
        self.total += n
        if self.priorities is not None:
            self.priorities.added((self.pos + max(0, n - self.capacity)) % self.capacity,
                                  min(n, self.capacity))
        if n > self.capacity:  # only the newest `capacity` rows can be kept
            self.pos = (self.pos + n - self.capacity) % self.capacity  # where they would go
            data, n = data[-self.capacity:], self.capacity
        first = min(n, self.capacity - self.pos)  # rows before the wrap
        if self._host is not None:  # CPU storage: write through a numpy view, no torch dispatch
            self._host[self.pos:self.pos + first] = data[:first]
            self._host[:n - first] = data[first:]
        else:
            t = to_device(data, self.device)
            self._data[self.pos:self.pos + first] = t[:first]
            self._data[:n - first] = t[first:]
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def advance(self, n: int) -> None:
        """Count `n` (<= capacity) rows that the owner of the storage wrote at `pos`, as `add`
        would have written them (a population writes all its members' rows in one call)."""
        if self.priorities is not None:
            self.priorities.added(self.pos, n)
        self.total += n
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    # --8<-- [start:sample]
    def sample(self, batch_size: int) -> Batch:
        """Uniformly sampled batch of float32 tensors on the buffer's device."""
        return self.gather(self.sample_indices(batch_size))

    def learned(self, idx: torch.Tensor, info: dict[str, torch.Tensor]) -> None:
        """After an update on the rows `idx`: with LAP's priorities, their new priorities
        (info["priority"]), and the largest reset to the largest held when the update refreshed
        TD7's targets (info["refreshed"]); nothing for uniform sampling."""
        if self.priorities is None:
            return
        self.priorities.update(idx, info["priority"])
        if "refreshed" in info and info["refreshed"]:
            self.priorities.reset_max()

    def gather(self, idx: torch.Tensor) -> Batch:
        """The rows `idx` (from `sample_indices`) as a Batch (with hindsight replay, some of
        them relabelled: ddpg.her)."""
        rows = self._data.index_select(0, idx)
        if self.hindsight is not None:
            self.hindsight.relabel(rows, idx, self._data, self.widths)
        return Batch(*rows.split(self.widths, dim=1))

    def sample_indices(self, batch_size: int) -> torch.Tensor:
        """The rows `sample` takes: uniform over the rows held, with replacement, from the
        buffer's generator (a population gathers its members' rows with these in one call)."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer; add transitions first.")
        if self.priorities is not None:
            return self.priorities.sample(self.generator, batch_size)
        if isinstance(self.generator, torch.Generator):
            return torch.randint(0, self.size, (batch_size,), generator=self.generator,
                                 device=self.device)
        return to_device(self.generator.draw(self.size, batch_size), self.device)
    # --8<-- [end:sample]

    # --- saving: rows by absolute index, so checkpoints can store only what is new ---------

    FIELDS = ("states", "actions", "rewards", "next_states", "dones")

    def rows(self, start: int, end: int) -> dict[str, torch.Tensor]:
        """Copies of the rows with absolute indices [start, end), oldest first; they must still
        be in the buffer (end - capacity <= start <= end <= total)."""
        if not (max(0, self.total - self.capacity) <= start <= end <= self.total):
            raise ValueError(f"rows [{start}, {end}) are not held (held: "
                             f"[{max(0, self.total - self.capacity)}, {self.total})).")
        idx = torch.arange(start, end, device=self.device) % self.capacity
        return {name: t.index_select(0, idx).cpu() for name, t in zip(self.FIELDS, self._fields())}

    def restore(self, total: int, start: int, rows: dict[str, torch.Tensor]) -> None:
        """Set the buffer to hold `total` rows ever added, of which `rows` are those with
        absolute indices [start, total) (start = max(0, total - capacity))."""
        if start != max(0, total - self.capacity):
            raise ValueError(f"restore needs rows from {max(0, total - self.capacity)}, got {start}.")
        idx = torch.arange(start, total, device=self.device) % self.capacity
        for name, store in zip(self.FIELDS, self._fields()):
            store.index_copy_(0, idx, rows[name].to(self.device, torch.float32))
        self.total, self.size, self.pos = total, min(total, self.capacity), total % self.capacity

    def state_dict(self) -> dict:
        """Everything, for small buffers and tests (checkpoints save rows incrementally)."""
        start = max(0, self.total - self.capacity)
        return {"total": self.total, "start": start, "rows": self.rows(start, self.total),
                "generator": self._generator_state(),
                "priorities": None if self.priorities is None else self.priorities.state_dict()}

    def load_state_dict(self, d: dict) -> None:
        self.restore(int(d["total"]), int(d["start"]), d["rows"])
        if isinstance(self.generator, torch.Generator):
            self.generator.set_state(d["generator"])
        else:
            self.generator.load_state_dict(d["generator"])
        if self.priorities is not None and d.get("priorities") is not None:
            self.priorities.load_state_dict(d["priorities"])

    def _generator_state(self) -> Any:
        if isinstance(self.generator, torch.Generator):
            return self.generator.get_state()
        return self.generator.state_dict()
