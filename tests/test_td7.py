"""TD7's pieces (ddpg.td7, and its equations in ddpg.losses) against a small reference written
here from the paper's equations (Fujimoto et al., 2023, "For SALE"), independently of the
module's code."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from ddpg.buffer import Batch
from ddpg.losses import clipped_double_q_target, encoder_loss, lap_loss, lap_priority
from ddpg.td7 import (Encoder, TD7Actor, TD7Critic, TD7Nets, TD7Targets, avg_l1_norm,
                      td7_step)


def test_avg_l1_norm_divides_by_the_mean_absolute_value():
    x = torch.tensor([[1.0, -3.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    out = avg_l1_norm(x)
    assert torch.allclose(out[0], x[0] / 2.0)  # mean |x| = 2
    assert torch.equal(out[1], x[1])  # eps keeps zeros finite
    assert torch.allclose(out.abs().mean(-1)[0], torch.tensor(1.0))
    members = torch.randn(3, 5, 7)  # a member dimension in front changes nothing
    assert torch.allclose(avg_l1_norm(members)[1], avg_l1_norm(members[1]))


def test_lap_loss_is_huber_with_min_priority_and_its_gradient():
    """L = mean over the batch of 0.5 d^2 where |d| < kappa, kappa |d| elsewhere."""
    q = torch.tensor([[0.5], [3.0], [-2.5], [1.0]], requires_grad=True)
    y = torch.zeros(4, 1)
    loss = lap_loss(q, y, 1.0)
    want = (0.5 * 0.25 + 3.0 + 2.5 + 1.0) / 4  # |d| = 1 takes the linear branch: equal there
    assert loss.item() == pytest.approx(want)
    loss.backward()
    assert torch.allclose(q.grad, torch.tensor([[0.5], [1.0], [-1.0], [1.0]]) / 4)
    assert lap_loss(q.detach(), y, 2.0).item() == pytest.approx(
        (0.5 * 0.25 + 2 * 3.0 + 2 * 2.5 + 0.5 * 1.0) / 4)
    per_member = lap_loss(torch.randn(3, 8, 1), torch.zeros(3, 8, 1), 1.0)
    assert per_member.shape == (3,)
    with pytest.raises(ValueError, match="differ in shape"):
        lap_loss(torch.zeros(4, 1), torch.zeros(4), 1.0)


def test_lap_priority_is_the_larger_critic_error_clipped_below_then_powered():
    d1 = torch.tensor([[0.2], [3.0], [-5.0]])
    d2 = torch.tensor([[0.1], [-4.0], [2.0]])
    p = lap_priority([d1, d2], alpha=0.4, min_priority=1.0)
    assert p.shape == (3,)
    assert torch.allclose(p, torch.tensor([1.0, 4.0 ** 0.4, 5.0 ** 0.4]))


def test_encoder_loss_is_the_mean_squared_error_of_the_embedding():
    pred, target = torch.randn(6, 4), torch.randn(6, 4)
    assert encoder_loss(pred, target).item() == pytest.approx(F.mse_loss(pred, target).item())


def test_target_values_are_clipped_to_the_range_seen():
    r, d = torch.zeros(3, 1), torch.tensor([[0.0], [0.0], [1.0]])
    q1, q2 = torch.tensor([[10.0], [-10.0], [5.0]]), torch.tensor([[12.0], [-11.0], [50.0]])
    y = clipped_double_q_target(r, d, q1, q2, 0.5, value_range=(-4.0, 6.0))
    assert torch.equal(y, torch.tensor([[3.0], [-2.0], [0.0]]))
    targets = TD7Targets()
    targets.see(torch.tensor([[-3.0], [2.0]]))
    targets.see(torch.tensor([[7.0]]))
    assert (targets.low, targets.high) == (0.0, 0.0)  # until the next refresh
    assert (targets.seen_low, targets.seen_high) == (-3.0, 7.0)


def _nets(seed: int = 0, obs: int = 3, act: int = 2, emb: int = 8, hidden: int = 16):
    """Networks whose copies all differ (so a step that reads the wrong copy is caught)."""
    torch.manual_seed(seed)
    actor, critic, encoder = (TD7Actor(obs, act, emb, hidden), TD7Critic(obs, act, emb, hidden),
                              Encoder(obs, act, emb, hidden))
    copies = [copy.deepcopy(m) for m in (actor, critic, encoder, encoder)]
    with torch.no_grad():
        for k, net in enumerate(copies):
            for i, p in enumerate(net.parameters()):
                p.add_(0.05 * (k + 1) * torch.sin(torch.arange(p.numel()) + i).view(p.shape))
    return TD7Nets(actor, critic, encoder, *copies,
                   torch.optim.Adam(actor.parameters(), lr=3e-4),
                   torch.optim.Adam(critic.parameters(), lr=3e-4),
                   torch.optim.Adam(encoder.parameters(), lr=3e-4))


def _reference_step(n: TD7Nets, low: float, high: float, batch: Batch, gamma: float,
                    update_actor: bool, noise: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    """The paper's update (its Algorithm 1 and appendix), written out plainly."""
    s, a, r, s2, d = batch
    f, g = n.encoder.zs, n.encoder.zsa
    with torch.no_grad():
        target_z = avg_l1_norm(n.encoder.f(s2))
    pred = n.encoder.g(torch.cat([avg_l1_norm(n.encoder.f(s)), a], 1))
    n.encoder_optimizer.zero_grad()
    ((pred - target_z) ** 2).mean().backward()
    n.encoder_optimizer.step()
    del f, g
    with torch.no_grad():
        zs2 = n.fixed_encoder_target.zs(s2)
        a2 = (n.actor_target(s2, zs2) + noise.clamp(-0.5, 0.5)).clamp(-1, 1)
        zsa2 = n.fixed_encoder_target.zsa(zs2, a2)
        qa, qb = n.critic_target(s2, a2, zsa2, zs2)
        y = r + gamma * (1 - d) * torch.min(qa, qb).clamp(low, high)
        zs = n.fixed_encoder.zs(s)
        zsa = n.fixed_encoder.zsa(zs, a)
    q1, q2 = n.critic(s, a, zsa, zs)
    td = torch.cat([q1 - y, q2 - y], 1).abs()
    huber = torch.where(td < 1.0, 0.5 * td ** 2, td)
    n.critic_optimizer.zero_grad()
    huber.sum(1).mean().backward()
    n.critic_optimizer.step()
    priority = td.detach().max(1).values.clamp(min=1.0) ** 0.4
    if update_actor:
        pi = n.actor(s, zs)
        q = torch.cat(n.critic(s, pi, n.fixed_encoder.zsa(zs, pi), zs), 1)  # both critics
        n.actor_optimizer.zero_grad()
        (-q.mean()).backward()
        n.actor_optimizer.step()
    return priority, float(y.min()), float(y.max())


@pytest.mark.parametrize("update_actor", [False, True])
def test_td7_step_is_the_papers_update(update_actor):
    ours, ref = _nets(), _nets()
    torch.manual_seed(1)
    b = 32
    batch = Batch(torch.randn(b, 3), torch.rand(b, 2) * 2 - 1, torch.randn(b, 1),
                  torch.randn(b, 3), (torch.rand(b, 1) < 0.2).float())
    targets = TD7Targets()
    targets.low, targets.high = -0.02, 0.02  # a clip range that bites
    gen = torch.Generator().manual_seed(5)
    noise = torch.randn(b, 2, generator=torch.Generator().manual_seed(5)) * 0.2
    actor_before = [p.clone() for p in ours.actor.parameters()]
    info = td7_step(ours, targets, batch, 0.99, update_actor=update_actor, target_noise=0.2,
                    target_noise_clip=0.5, generator=gen)
    priority, lo, hi = _reference_step(ref, -0.02, 0.02, batch, 0.99, update_actor, noise)
    assert torch.allclose(info["priority"], priority, atol=1e-6)
    assert (targets.seen_low, targets.seen_high) == pytest.approx((lo, hi))
    for mine, theirs in ((ours.encoder, ref.encoder), (ours.critic, ref.critic),
                         (ours.actor, ref.actor)):
        for p, q in zip(mine.parameters(), theirs.parameters()):
            assert torch.allclose(p, q, atol=1e-6)
    moved = any(not torch.equal(p, q) for p, q in zip(ours.actor.parameters(), actor_before))
    assert moved == update_actor
    assert info["actor_updated"].item() == float(update_actor)


def test_refresh_moves_targets_and_encoders_and_the_clip_range():
    n = _nets()
    targets = TD7Targets()
    targets.see(torch.tensor([[-2.0], [3.0]]))
    with torch.no_grad():
        for p in (*n.encoder.parameters(), *n.actor.parameters(), *n.critic.parameters()):
            p.add_(1.0)
    before_fixed = [p.clone() for p in n.fixed_encoder.parameters()]
    targets.refresh(n)
    assert all(torch.equal(p, q) for p, q in zip(n.fixed_encoder.parameters(),
                                                n.encoder.parameters()))
    assert all(torch.equal(p, q) for p, q in zip(n.fixed_encoder_target.parameters(),
                                                before_fixed))
    assert all(torch.equal(p, q) for p, q in zip(n.actor_target.parameters(),
                                                n.actor.parameters()))
    assert all(torch.equal(p, q) for p, q in zip(n.critic_target.parameters(),
                                                n.critic.parameters()))
    assert (targets.low, targets.high) == (-2.0, 3.0)
    again = TD7Targets()
    again.load_state_dict(targets.state_dict())
    assert again.state_dict() == targets.state_dict()
