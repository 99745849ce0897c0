"""ddpg_update against the seed's code and against a hand computation."""

import copy

import pytest
import torch
from torch import nn, optim

from ddpg import Actor, Batch, Critic, ReplayBuffer, ddpg_step, ddpg_update


def seed_ddpg_update(actor, critic, actor_target, critic_target,
                     actor_optimizer, critic_optimizer, replay_buffer, tau=0.001):
    """Verbatim from seed/day25_ddpg.md."""
    states, actions, rewards, next_states, dones = replay_buffer.sample(batch_size=64)
    with torch.no_grad():
        next_actions = actor_target(next_states)
        target_q = rewards + 0.99 * (1 - dones) * critic_target(next_states, next_actions)
    current_q = critic(states, actions)
    critic_loss = nn.MSELoss()(current_q, target_q)
    critic_optimizer.zero_grad()
    critic_loss.backward()
    critic_optimizer.step()
    actor_loss = -critic(states, actor(states)).mean()
    actor_optimizer.zero_grad()
    actor_loss.backward()
    actor_optimizer.step()
    for param, target_param in zip(critic.parameters(), critic_target.parameters()):
        target_param.data.copy_(tau * param.data + (1 - tau) * target_param.data)
    for param, target_param in zip(actor.parameters(), actor_target.parameters()):
        target_param.data.copy_(tau * param.data + (1 - tau) * target_param.data)


def make_setup(seed=0, max_action=2.0):
    torch.manual_seed(seed)
    actor, critic = Actor(3, 2, max_action), Critic(3, 2)
    return (actor, critic, copy.deepcopy(actor), copy.deepcopy(critic))


def filled_buffer(seed):
    g = torch.Generator().manual_seed(seed)
    buf = ReplayBuffer(500, 3, 2, torch.Generator().manual_seed(seed))
    buf.add(torch.randn(500, 3, generator=g), torch.rand(500, 2, generator=g) * 2 - 1,
            torch.randn(500, generator=g), torch.randn(500, 3, generator=g),
            (torch.rand(500, generator=g) < 0.1).float())
    return buf


@pytest.mark.parametrize("tau", [0.001, 0.3])
def test_matches_seed_code(tau):
    ours, ref = make_setup(), make_setup()
    opt = lambda nets: (optim.Adam(nets[0].parameters(), 1e-3),  # noqa: E731
                        optim.Adam(nets[1].parameters(), 1e-3))
    o_opt, r_opt = opt(ours), opt(ref)
    o_buf, r_buf = filled_buffer(1), filled_buffer(1)
    for _ in range(5):
        ddpg_update(*ours, *o_opt, o_buf, tau=tau)
        seed_ddpg_update(*ref, *r_opt, r_buf, tau=tau)
    for a, b in zip(ours, ref):
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            assert torch.allclose(p, q, rtol=1e-5, atol=1e-6), name
    assert not torch.equal(ours[0].net[0].weight, make_setup()[0].net[0].weight)  # it moved


class Lin(nn.Module):
    """mu(s) = w s, or Q(s, a) = u s + v a: small enough to differentiate by hand."""

    def __init__(self, *weights):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(weights))

    def forward(self, s, a=None):
        return self.w[0] * s if a is None else self.w[0] * s + self.w[1] * a


def test_against_hand_computation():
    s = torch.tensor([[1.0], [2.0]])
    a = torch.tensor([[0.5], [-1.0]])
    r = torch.tensor([[1.0], [0.0]])
    s2 = torch.tensor([[0.0], [1.0]])
    d = torch.tensor([[0.0], [1.0]])
    w, u, v, wt, ut, vt = 0.5, 1.0, -2.0, 0.4, 0.8, -1.5
    gamma, tau, lr = 0.9, 0.1, 0.05
    actor, critic, actor_t, critic_t = Lin(w), Lin(u, v), Lin(wt), Lin(ut, vt)
    info = ddpg_step(actor, critic, actor_t, critic_t, optim.SGD(actor.parameters(), lr),
                     optim.SGD(critic.parameters(), lr), Batch(s, a, r, s2, d), tau, gamma)

    S, A, R, S2, D = (x.flatten().tolist() for x in (s, a, r, s2, d))
    y = [R[i] + gamma * (1 - D[i]) * (ut * S2[i] + vt * wt * S2[i]) for i in range(2)]
    q = [u * S[i] + v * A[i] for i in range(2)]
    du = sum(2 * (q[i] - y[i]) * S[i] for i in range(2)) / 2
    dv = sum(2 * (q[i] - y[i]) * A[i] for i in range(2)) / 2
    u1, v1 = u - lr * du, v - lr * dv
    dw = -sum(v1 * S[i] for i in range(2)) / 2  # d/dw of -mean(u1 s + v1 w s)
    w1 = w - lr * dw
    assert info["critic_loss"].item() == pytest.approx(sum((q[i] - y[i]) ** 2 for i in range(2)) / 2)
    # the actor loss is taken through the updated critic, before the actor moves
    assert info["actor_loss"].item() == pytest.approx(-sum(u1 * S[i] + v1 * w * S[i]
                                                           for i in range(2)) / 2)
    assert critic.w.tolist() == pytest.approx([u1, v1])
    assert actor.w.tolist() == pytest.approx([w1])
    assert critic_t.w.tolist() == pytest.approx([tau * u1 + (1 - tau) * ut, tau * v1 + (1 - tau) * vt])
    assert actor_t.w.tolist() == pytest.approx([tau * w1 + (1 - tau) * wt])


def test_gradient_isolation():
    """The critic step moves only the critic, by the critic loss's gradient alone; the actor step
    moves only the actor, by the gradient through the updated critic; targets get no gradient."""
    actor, critic, actor_t, critic_t = make_setup()
    batch = filled_buffer(2).sample(64)
    ref_critic = copy.deepcopy(critic)
    with torch.no_grad():
        y = batch.rewards + 0.99 * (1 - batch.dones) * critic_t(batch.next_states,
                                                                actor_t(batch.next_states))
    expected_critic_grad = torch.autograd.grad(
        ((ref_critic(batch.states, batch.actions) - y) ** 2).mean(),
        list(ref_critic.parameters()))
    lr = 0.01
    a_opt, c_opt = optim.SGD(actor.parameters(), lr), optim.SGD(critic.parameters(), lr)
    actor_before = copy.deepcopy(actor)
    ddpg_step(actor, critic, actor_t, critic_t, a_opt, c_opt, batch, tau=0.5, gamma=0.99)
    for p, g in zip(critic.parameters(), expected_critic_grad):
        assert torch.allclose(p.grad, g, atol=1e-6)  # no actor-loss gradient added to the critic
    for p, p0, g in zip(critic.parameters(), ref_critic.parameters(), expected_critic_grad):
        assert torch.allclose(p, p0 - lr * g, atol=1e-6)
    expected_actor_grad = torch.autograd.grad(
        -critic(batch.states, actor_before(batch.states)).mean(), list(actor_before.parameters()))
    for p, g in zip(actor.parameters(), expected_actor_grad):
        assert torch.allclose(p.grad, g, atol=1e-6)
    assert all(p.grad is None for p in (*actor_t.parameters(), *critic_t.parameters()))
    assert all(p.requires_grad for p in critic.parameters())  # restored after the actor step


def test_update_rejects_flat_rewards():
    class Flat:
        def sample(self, batch_size):
            return (torch.zeros(batch_size, 3), torch.zeros(batch_size, 2), torch.zeros(batch_size),
                    torch.zeros(batch_size, 3), torch.zeros(batch_size, 1))

    nets = make_setup()
    opts = optim.Adam(nets[0].parameters()), optim.Adam(nets[1].parameters())
    with pytest.raises(ValueError, match="rewards has shape"):
        ddpg_update(*nets, *opts, Flat())


def test_fast_path_matches_reference_update():
    """The agent's fast path (one fused Adam kernel per network, no torch.optim) leaves the same
    parameters, to float32 rounding, as ddpg_update with torch.optim.Adam on the same batches."""
    import dataclasses

    from ddpg.agent import Agent
    from ddpg.config import Config, NetworkConfig

    cfg = dataclasses.replace(Config(), network=NetworkConfig(hidden_sizes=(64, 32)), tau=0.01,
                              batch_size=32, gamma=0.97, critic_weight_decay=1e-2,
                              actor_lr=3e-4, critic_lr=2e-3)
    torch.manual_seed(0)
    agent = Agent(3, 2, cfg)
    ref = [copy.deepcopy(m) for m in (agent.actor, agent.critic, agent.actor_target,
                                      agent.critic_target)]
    a_opt = optim.Adam(ref[0].parameters(), lr=3e-4)
    c_opt = optim.Adam(ref[1].parameters(), lr=2e-3, weight_decay=1e-2)
    buf_a, buf_b = filled_buffer(4), filled_buffer(4)
    for _ in range(20):
        agent.update(buf_a.sample(32))
        ddpg_update(*ref, a_opt, c_opt, buf_b, tau=0.01, batch_size=32, gamma=0.97)
    for ours, theirs in zip((agent.actor, agent.critic, agent.actor_target, agent.critic_target),
                            ref):
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
            assert torch.allclose(p, q, rtol=1e-4, atol=1e-6), name
    assert all(t.item() == 20 for t in agent.actor_optimizer.steps)


def test_bf16_autocast_path_computes_targets_in_float32():
    actor, critic, actor_t, critic_t = make_setup()
    batch = filled_buffer(3).sample(64)
    opts = optim.Adam(actor.parameters()), optim.Adam(critic.parameters())
    from functools import partial

    info = ddpg_step(actor, critic, actor_t, critic_t, *opts, batch, 0.01, 0.99,
                     partial(torch.autocast, "cpu", dtype=torch.bfloat16))
    assert info["critic_loss"].dtype == torch.float32 and torch.isfinite(info["critic_loss"])
    assert all(p.dtype == torch.float32 for p in actor.parameters())  # fp32 master weights
    assert opts[1].state[next(iter(critic.parameters()))]["exp_avg"].dtype == torch.float32
