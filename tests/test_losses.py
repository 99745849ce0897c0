import pytest
import torch

from ddpg.losses import actor_loss, critic_loss, polyak_update, td_target


def test_polyak_math():
    p = [torch.tensor([1.0, 2.0]), torch.tensor([[3.0]])]
    t = [torch.tensor([5.0, -2.0]), torch.tensor([[0.0]])]
    polyak_update(p, t, 0.25)
    assert torch.allclose(t[0], torch.tensor([0.25 * 1 + 0.75 * 5, 0.25 * 2 + 0.75 * -2]))
    assert torch.allclose(t[1], torch.tensor([[0.75]]))
    assert torch.equal(p[0], torch.tensor([1.0, 2.0]))  # source untouched
    polyak_update(p, t, 1.0)  # tau = 1 is a hard copy
    assert torch.equal(t[0], p[0]) and torch.equal(t[1], p[1])


def test_td_target_terminated_stops_bootstrap_truncated_bootstraps():
    r = torch.tensor([[1.0], [1.0]])
    next_q = torch.tensor([[10.0], [10.0]])
    terminated = torch.tensor([[1.0], [0.0]])  # second row: truncated or ongoing, not terminal
    y = td_target(r, terminated, next_q, 0.9)
    assert y.tolist() == [[1.0], [1.0 + 0.9 * 10.0]]


def test_td_target_is_clipped_to_the_range_given():
    """The HER baselines' clip_return: y clipped to [-1 / (1 - gamma), 0]; inside the range
    the target is the lesson's."""
    r = torch.tensor([[-1.0], [0.0], [-1.0]])
    next_q = torch.tensor([[-100.0], [30.0], [-10.0]])
    y = td_target(r, torch.zeros(3, 1), next_q, 0.98, (-50.0, 0.0))
    assert torch.equal(y, torch.tensor([[-50.0], [0.0], [-1.0 - 0.98 * 10.0]]))
    assert torch.equal(td_target(r, torch.zeros(3, 1), next_q, 0.98, None),
                       r + 0.98 * next_q)


def test_td_target_rejects_flat_rewards():
    with pytest.raises(ValueError, match=r"rewards has shape \(4,\).*\(4, 1\)"):
        td_target(torch.zeros(4), torch.zeros(4, 1), torch.zeros(4, 1), 0.99)
    with pytest.raises(ValueError, match="dones"):
        td_target(torch.zeros(4, 1), torch.zeros(4), torch.zeros(4, 1), 0.99)


def test_losses():
    q, y = torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [1.0]])
    assert critic_loss(q, y).item() == pytest.approx((1 + 4) / 2)
    assert actor_loss(q).item() == pytest.approx(-2.0)
    with pytest.raises(ValueError, match="differ in shape"):
        critic_loss(q, y.view(-1))
