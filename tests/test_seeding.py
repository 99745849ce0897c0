"""A run's random streams (ddpg.seeding), all from one seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpg.buffer import ReplayBuffer
from ddpg.seeding import IndexStream, seed_streams, uniform_indices


def test_seed_streams_are_reproducible_and_independent():
    a, b, c = seed_streams(0), seed_streams(0), seed_streams(1)
    draws = lambda s: (s["warmup"].random(4), s["noise"].random(4),  # noqa: E731
                       s["sampling"].draw(1 << 31, 4))
    da, db, dc = draws(a), draws(b), draws(c)
    assert all(np.array_equal(x, y) for x, y in zip(da, db))
    assert not any(np.array_equal(x, y) for x, y in zip(da, dc))
    assert not np.array_equal(da[0], da[1])  # warm-up and noise streams differ



def test_index_streams_are_splitmix64():
    """Draw j of the stream with key k is SplitMix64's output j (its published first output
    for seed 0 is 0xE220A8397B1DCDAF); an index in [0, size) is its top 32 bits times size,
    shifted down by 32."""
    mask = (1 << 64) - 1

    def splitmix(key: int, j: int) -> int:
        z = (key + j * 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    assert splitmix(0, 1) == 0xE220A8397B1DCDAF
    stream = IndexStream(0)
    assert stream.draw(1 << 32, 1)[0] == 0xE220A839
    key = 0xFEDCBA9876543210
    stream = IndexStream(key)
    first, then = stream.draw(1000, 3), stream.draw(77, 2)
    want = [(splitmix(key, j) >> 32) * size >> 32 for j, size in
            ((1, 1000), (2, 1000), (3, 1000), (4, 77), (5, 77))]
    assert [*first, *then] == want
    assert stream.state_dict() == {"key": key, "counter": 5}


def test_stacked_streams_draw_what_each_draws_alone():
    """One call for several members (a population) gives every member exactly its own
    sequence, and leaves each stream's state where drawing alone would."""
    alone = [IndexStream(k) for k in (1, 2, 3)]
    shared = [IndexStream(k) for k in (1, 2, 3)]
    shared[1].draw(10, 4)  # a member that has drawn before
    alone[1].draw(10, 4)
    keys, counters = IndexStream.stack(shared)
    sizes = np.array([10, 500, 3])
    together = uniform_indices(keys, counters, sizes, 6)
    for m, s in enumerate(alone):
        assert np.array_equal(together[m], s.draw(int(sizes[m]), 6))
        assert shared[m].state_dict() == s.state_dict()
    assert together.min() >= 0 and all(together[m].max() < sizes[m] for m in range(3))


def test_index_streams_are_uniform_and_restore():
    counts = np.bincount(IndexStream(5).draw(10, 100_000), minlength=10)
    assert np.all(np.abs(counts - 10_000) < 500)  # about 5 sigma
    a, b = IndexStream(9), IndexStream(0)
    a.draw(100, 7)
    assert b.load_state_dict(a.state_dict())
    assert np.array_equal(a.draw(100, 5), b.draw(100, 5))
    with pytest.raises(ValueError, match="64-bit"):
        b.load_state_dict({"key": -1, "counter": 0})
    with pytest.warns(RuntimeWarning, match="torch generator's state"):
        assert not b.load_state_dict(torch.Generator().get_state(), seed=3, step=100)


def test_a_buffer_samples_from_its_stream_and_saves_it():
    buf = ReplayBuffer(50, 2, 1, IndexStream(4))
    buf.add(np.arange(60.0).reshape(30, 2), np.zeros((30, 1)), np.arange(30.0), np.zeros((30, 2)),
            np.zeros(30))
    want = IndexStream(4).draw(30, 8)
    assert np.array_equal(buf.sample_indices(8).numpy(), want)
    assert torch.equal(buf.sample(8).rewards[:, 0], torch.from_numpy(
        IndexStream(4).draw(30, 16)[8:]).float())
    again = ReplayBuffer(50, 2, 1, IndexStream(0))
    again.load_state_dict(buf.state_dict())
    assert torch.equal(again.sample_indices(5), buf.sample_indices(5))
    with pytest.raises(ValueError, match="below 2"):
        ReplayBuffer(1 << 32, 2, 1)
