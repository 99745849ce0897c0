"""LAP's prioritised replay (ddpg.priorities) against what the paper defines: rows drawn in
proportion to their priorities, new rows at the largest priority, each member from its own
stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpg.priorities import Priorities, priority_indices
from ddpg.seeding import IndexStream


def test_rows_are_drawn_in_proportion_to_their_priorities():
    pr = Priorities(8)
    pr.added(0, 4)
    pr.update(torch.arange(4), torch.tensor([1.0, 2.0, 3.0, 4.0]))
    idx = pr.sample(IndexStream(3), 200_000)
    counts = np.bincount(idx.numpy(), minlength=8)
    assert counts[4:].sum() == 0  # rows never written are never drawn
    want = np.array([0.1, 0.2, 0.3, 0.4]) * 200_000
    assert np.all(np.abs(counts[:4] - want) < 5 * np.sqrt(want))


def test_the_draw_is_the_first_row_whose_running_sum_passes_u_times_the_total():
    """Written out from the definition, with the stream's 32-bit draws as u * 2^32."""
    p = torch.tensor([0.5, 3.0, 0.25, 1.0, 2.0, 0.0])
    pr = Priorities(6, storage=p.clone())
    got = pr.sample(IndexStream(11), 50).numpy()
    bits = IndexStream(11).draw(1 << 32, 50)
    c = np.cumsum(p.double().numpy())
    want = [int(np.argmax(c > b / 2**32 * c[-1])) for b in bits]
    assert got.tolist() == want


def test_new_rows_get_the_largest_priority_and_reset_lowers_it():
    pr = Priorities(5)
    pr.added(0, 2)
    assert pr.p.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]  # the start: 1
    pr.update(torch.tensor([0, 1]), torch.tensor([7.0, 2.0]))
    assert pr.max_priority == 7.0
    pr.added(4, 3)  # wraps: rows 4, 0, 1
    assert pr.p.tolist() == [7.0, 7.0, 0.0, 0.0, 7.0]
    pr.update(torch.tensor([0, 1, 4]), torch.tensor([1.5, 2.5, 1.0]))
    pr.reset_max()
    assert pr.max_priority == 2.5
    with pytest.raises(ValueError, match="empty replay buffer"):
        Priorities(3).sample(IndexStream(0), 2)


def test_members_draw_in_one_call_what_each_draws_alone():
    p = torch.rand(3, 40) + 0.1
    p[2, 25:] = 0.0  # a member whose ring holds 25 rows
    alone = [Priorities(40, storage=p[m].clone()) for m in range(3)]
    streams = [IndexStream(k) for k in (5, 6, 7)]
    keys, counters = IndexStream.stack([IndexStream(k) for k in (5, 6, 7)])
    together = priority_indices(p, keys, counters, 9)
    for m in range(3):
        assert torch.equal(together[m], alone[m].sample(streams[m], 9))
    assert int(together[2].max()) < 25


def test_priorities_round_trip_and_refuse_a_wrong_shape():
    pr = Priorities(4)
    pr.added(0, 3)
    pr.update(torch.tensor([2]), torch.tensor([4.0]))
    again = Priorities(4)
    again.load_state_dict(pr.state_dict())
    assert torch.equal(again.p, pr.p) and again.max_priority == 4.0
    with pytest.raises(ValueError, match="do not fit"):
        Priorities(5).load_state_dict(pr.state_dict())


def test_a_buffer_with_priorities_gives_new_rows_the_largest_and_samples_by_them():
    from ddpg.buffer import ReplayBuffer

    buf = ReplayBuffer(6, 1, 1, IndexStream(2), priorities=Priorities(6))
    rows = lambda k: (np.full((k, 1), 1.0), np.zeros((k, 1)), np.arange(k, dtype=float),  # noqa: E731
                      np.zeros((k, 1)), np.zeros(k))
    buf.add(*rows(4))
    buf.priorities.update(torch.tensor([0, 1, 2, 3]), torch.tensor([1.0, 1.0, 1.0, 9.0]))
    buf.add(*rows(3))  # rows 4, 5 and (wrapping) 0 take the largest priority, 9
    assert buf.priorities.p.tolist() == [9.0, 1.0, 1.0, 9.0, 9.0, 9.0]
    buf.advance(1)  # a population wrote row 1 itself
    assert buf.priorities.p[1].item() == 9.0
    counts = np.bincount(buf.sample_indices(20_000).numpy(), minlength=6)
    assert counts[2] < counts[0] / 5  # priority 1 against 9
    again = ReplayBuffer(6, 1, 1, IndexStream(0), priorities=Priorities(6))
    again.load_state_dict(buf.state_dict())
    assert torch.equal(again.priorities.p, buf.priorities.p)
    assert torch.equal(again.sample_indices(7), buf.sample_indices(7))
    with pytest.raises(ValueError, match="IndexStream"):
        ReplayBuffer(6, 1, 1, torch.Generator(), priorities=Priorities(6))
