"""Observation normalisation with running statistics: o' = clip((o - mean) / sqrt(var + eps))."""

from __future__ import annotations

import numpy as np
import torch


OBSERVATION_FIELDS = ("states", "next_states")  # what of a replay Batch is normalised


class RunningNorm:
    """Running mean and variance of observations (parallel/Welford update over batches),
    kept in float64 numpy for exactness; `normalize` works on numpy arrays and torch tensors."""

    def __init__(self, dim: int, clip: float = 10.0, eps: float = 1e-8) -> None:
        self.mean, self.var = np.zeros(dim), np.ones(dim)
        self.count, self.clip, self.eps = 0.0, clip, eps
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.mean.shape[0])
        n = x.shape[0]
        if n == 0:
            return
        b_mean, b_var = x.mean(axis=0), x.var(axis=0)
        total = self.count + n
        delta = b_mean - self.mean
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + b_var * n + delta**2 * self.count * n / total
        self.var = m2 / total
        self.count = total
        self._cache = None

    def normalize(self, x):
        if isinstance(x, torch.Tensor):
            if self._cache is None or self._cache[0].device != x.device:
                self._cache = (torch.as_tensor(self.mean, dtype=torch.float32, device=x.device),
                               torch.as_tensor(np.sqrt(self.var + self.eps), dtype=torch.float32,
                                               device=x.device))
            mean, std = self._cache
            return ((x - mean) / std).clamp(-self.clip, self.clip)
        std = np.sqrt(self.var + self.eps)
        return np.clip((np.asarray(x) - self.mean) / std, -self.clip, self.clip).astype(np.float32)

    def normalize_batch(self, batch):
        """A replay Batch with its states and next states normalised (what the update sees)."""
        return batch._replace(**{f: self.normalize(getattr(batch, f)) for f in OBSERVATION_FIELDS})

    @staticmethod
    def normalize_members(norms, batch):
        """The same for a population's Batch (M, B, ...): member m's rows by norms[m]."""
        return batch._replace(**{f: torch.stack([n.normalize(x) for n, x in
                                                 zip(norms, getattr(batch, f))])
                                 for f in OBSERVATION_FIELDS})

    def state_dict(self) -> dict:
        return {"mean": torch.from_numpy(self.mean.copy()), "var": torch.from_numpy(self.var.copy()),
                "count": self.count, "clip": self.clip, "eps": self.eps}

    def load_state_dict(self, d: dict) -> None:
        self.mean = d["mean"].numpy().astype(np.float64).copy()
        self.var = d["var"].numpy().astype(np.float64).copy()
        self.count, self.clip, self.eps = float(d["count"]), float(d["clip"]), float(d["eps"])
        self._cache = None
