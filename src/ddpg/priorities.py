"""LAP's prioritised replay (Fujimoto, Meger and Precup, 2020, "An Equivalence between Loss
Functions and Non-Uniform Sampling in Experience Replay"; TD7 uses it): row i is sampled with
probability p_i / sum_j p_j, where p_i = max(|d_i|, min_priority)^alpha from the last TD error d_i
it was trained on (ddpg.losses.lap_priority), and a new row gets `max_priority`, so that it is
seen soon: the largest priority held at the last reset, raised by any larger one given since.
Paired with ddpg.losses.lap_loss, the expected gradient equals the mean-squared loss's under
uniform sampling.

Draws come from the member's counter-based stream (ddpg.seeding): u = 32 random bits / 2^32,
and the row is the first whose running sum of priorities exceeds u times the total. Several
members' rows (a population, priorities (M, capacity)) are drawn in one call.
"""

from __future__ import annotations

import numpy as np
import torch

from ddpg.devices import to_device
from ddpg.seeding import IndexStream, uniform_indices

_BITS = 1 << 32


# --8<-- [start:priority_indices]
def priority_indices(priorities: torch.Tensor, keys: np.ndarray, counters: np.ndarray,
                     n: int) -> torch.Tensor:
    """`n` rows per member drawn in proportion to `priorities` (M, capacity), rows never
    written holding 0, from each member's stream (keys, counters: (M,) uint64, advanced).
    Returns (M, n) int64 on the priorities' device."""
    bits = uniform_indices(keys, counters, np.full(len(keys), _BITS), n)
    u = to_device(bits, priorities.device).double() / _BITS
    cumulative = priorities.double().cumsum(dim=1)
    idx = torch.searchsorted(cumulative, u * cumulative[:, -1:], right=True)
    held = (priorities > 0).sum(dim=1, keepdim=True)  # (float rounding never picks past them)
    return torch.minimum(idx, held - 1)
# --8<-- [end:priority_indices]


class Priorities:
    """One member's LAP priorities for a replay buffer of `capacity` rows: a (capacity,) float32
    tensor on the buffer's device (`storage`: a slice of a population's (M, capacity) one) and
    the largest priority given since the last reset."""

    def __init__(self, capacity: int, device: str | torch.device = "cpu",
                 storage: torch.Tensor | None = None) -> None:
        self.p = storage if storage is not None else torch.zeros(capacity, device=device)
        if tuple(self.p.shape) != (capacity,):
            raise ValueError(f"priority storage of shape {tuple(self.p.shape)} does not fit "
                             f"{capacity} rows.")
        self.max_priority = 1.0

    def added(self, pos: int, n: int) -> None:
        """Rows [pos, pos + n) (mod capacity) were written: each gets the largest priority."""
        cap = self.p.shape[0]
        n = min(n, cap)
        first = min(n, cap - pos)
        self.p[pos:pos + first] = self.max_priority
        self.p[:n - first] = self.max_priority

    def sample(self, stream: IndexStream, n: int) -> torch.Tensor:
        """`n` rows in proportion to their priorities: (n,) int64."""
        if not bool((self.p > 0).any()):
            raise ValueError("cannot sample from an empty replay buffer; add transitions first.")
        return priority_indices(self.p[None], stream.keys, stream.counters, n)[0]

    def update(self, idx: torch.Tensor, priority: torch.Tensor) -> None:
        """The sampled rows' new priorities (ddpg.losses.lap_priority); the largest given
        grows with them (one host sync)."""
        self.p[idx] = priority.detach().to(self.p.dtype)
        self.max_priority = max(self.max_priority, float(priority.max()))

    def reset_max(self) -> None:
        """The largest priority becomes the largest now held (TD7 does this at every target
        refresh, so that new rows stop inheriting an old outlier's)."""
        self.max_priority = float(self.p.max())

    def state_dict(self) -> dict:
        return {"p": self.p.cpu().clone(), "max_priority": self.max_priority}

    def load_state_dict(self, d: dict) -> None:
        p = torch.as_tensor(d["p"])
        if p.shape != self.p.shape:
            raise ValueError(f"priorities of shape {tuple(p.shape)} do not fit "
                             f"{tuple(self.p.shape)}.")
        self.p.copy_(p)
        self.max_priority = float(d["max_priority"])
