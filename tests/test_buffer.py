import numpy as np
import pytest
import torch

from ddpg.buffer import ReplayBuffer, estimate_bytes


def fill(buf, start, n):
    rows = np.arange(start, start + n, dtype=np.float32)
    buf.add(np.stack([rows, -rows], 1), rows[:, None], rows, np.stack([rows + 0.5, -rows], 1),
            rows % 2)


def test_contents_and_shapes():
    buf = ReplayBuffer(10, 2, 1, torch.Generator().manual_seed(0))
    fill(buf, 0, 3)
    assert len(buf) == 3 and buf.pos == 3
    assert torch.equal(buf.states[:3, 0], torch.tensor([0.0, 1.0, 2.0]))
    assert torch.equal(buf.next_states[:3, 0], torch.tensor([0.5, 1.5, 2.5]))
    assert torch.equal(buf.dones[:3, 0], torch.tensor([0.0, 1.0, 0.0]))
    b = buf.sample(5)
    assert b.states.shape == (5, 2) and b.actions.shape == (5, 1)
    assert b.rewards.shape == (5, 1) and b.dones.shape == (5, 1)
    assert all(t.dtype == torch.float32 for t in b)
    # every sampled row is one stored transition, fields kept together
    assert torch.equal(b.rewards[:, 0], b.states[:, 0])
    assert torch.equal(b.next_states[:, 0], b.states[:, 0] + 0.5)
    assert set(b.rewards[:, 0].tolist()) <= {0.0, 1.0, 2.0}


def test_wrap_overwrites_oldest_rows_in_order():
    buf = ReplayBuffer(5, 2, 1)
    fill(buf, 0, 4)
    fill(buf, 4, 3)  # rows 4 at index 4, then 5, 6 wrap to indices 0, 1
    assert len(buf) == 5 and buf.pos == 2
    assert buf.rewards[:, 0].tolist() == [5.0, 6.0, 2.0, 3.0, 4.0]
    assert buf.next_states[:, 0].tolist() == [5.5, 6.5, 2.5, 3.5, 4.5]
    fill(buf, 7, 12)  # more than capacity at once keeps the newest 5
    assert sorted(buf.rewards[:, 0].tolist()) == [14.0, 15.0, 16.0, 17.0, 18.0]
    assert torch.equal(buf.next_states[:, 0], buf.rewards[:, 0] + 0.5)


def test_sampling_reproducible_from_generator_and_uniform():
    a = ReplayBuffer(100, 2, 1, torch.Generator().manual_seed(3))
    b = ReplayBuffer(100, 2, 1, torch.Generator().manual_seed(3))
    fill(a, 0, 50)
    fill(b, 0, 50)
    assert torch.equal(a.sample(32).rewards, b.sample(32).rewards)
    draws = torch.cat([a.sample(1000).rewards for _ in range(20)])[:, 0]
    counts = torch.bincount(draws.long(), minlength=50).float()
    assert draws.max() < 50  # only filled rows
    assert counts.min() > 0.6 * counts.mean() and counts.max() < 1.4 * counts.mean()


def test_memory_is_raw_float32_size():
    buf = ReplayBuffer(1000, 17, 6)
    assert buf.nbytes == estimate_bytes(1000, 17, 6) == 1000 * (2 * 17 + 6 + 2) * 4


def test_state_dict_round_trip_continues_sampling_identically():
    a = ReplayBuffer(8, 2, 1, torch.Generator().manual_seed(1))
    fill(a, 0, 11)
    b = ReplayBuffer(8, 2, 1, torch.Generator().manual_seed(99))
    b.load_state_dict(a.state_dict())
    assert (b.pos, b.size) == (a.pos, a.size)
    assert torch.equal(a.sample(16).states, b.sample(16).states)


def test_errors():
    buf = ReplayBuffer(4, 2, 1)
    with pytest.raises(ValueError, match="empty"):
        buf.sample(2)
    with pytest.raises(ValueError, match="leading sizes"):
        buf.add(np.zeros((2, 2)), np.zeros((3, 1)), np.zeros(2), np.zeros((2, 2)), np.zeros(2))


def test_buffer_memory_benchmark_sees_the_filled_storage():
    """benchmarks/buffer_memory.py, in a fresh process as the benchmark runs it: ddpg's arrays
    are the raw float32 size, and filling them shows up as resident memory (a fill that left
    pages untouched would read near zero)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "buffer_memory.py"
    out = subprocess.run([sys.executable, str(path), "--child", "ddpg", "--capacity", "50000"],
                         capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    raw = 50_000 * (2 * 17 + 6 + 2) * 4
    assert r["reported_bytes"] == raw
    assert 0.9 * raw < r["rss_growth"] < 2 * raw
