"""A run's random streams (ddpg.seeding), all from one seed."""

from __future__ import annotations

import numpy as np
import torch

from ddpg.seeding import seed_streams


def test_seed_streams_are_reproducible_and_independent():
    a, b, c = seed_streams(0), seed_streams(0), seed_streams(1)
    draws = lambda s: (s["warmup"].random(4), s["noise"].random(4),  # noqa: E731
                       torch.rand(4, generator=s["sampling"]).numpy())
    da, db, dc = draws(a), draws(b), draws(c)
    assert all(np.array_equal(x, y) for x, y in zip(da, db))
    assert not any(np.array_equal(x, y) for x, y in zip(da, dc))
    assert not np.array_equal(da[0], da[1])  # warm-up and noise streams differ

