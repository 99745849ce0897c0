"""The hand-written backward update (ddpg.fast.steps) against autograd's ddpg_step."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from ddpg.fast.adam import FusedAdam
from ddpg.agent import Agent
from ddpg.buffer import Batch
from ddpg.config import Config, NetworkConfig
from ddpg.fast.steps import FastDDPG, FastTD3
from ddpg.losses import Regression
from ddpg.networks import Actor, Critic
from ddpg.td3 import TwinCritic, td3_step
from ddpg.update import ddpg_step

S, A = 5, 2


def setup(hidden=(32, 24, 16), max_action=(2.0, 0.5)):
    torch.manual_seed(0)
    actor, critic = Actor(S, A, torch.tensor(max_action), hidden), Critic(S, A, hidden)
    actor_t = copy.deepcopy(actor).requires_grad_(False)
    critic_t = copy.deepcopy(critic).requires_grad_(False)
    return (actor, critic, actor_t, critic_t, FusedAdam(actor.parameters(), lr=1e-3),
            FusedAdam(critic.parameters(), lr=2e-3, weight_decay=1e-2))


def batches(n: int, size: int):
    g = torch.Generator().manual_seed(1)
    for _ in range(n):
        yield Batch(torch.randn(size, S, generator=g), torch.rand(size, A, generator=g) * 2 - 1,
                    torch.randn(size, 1, generator=g), torch.randn(size, S, generator=g),
                    (torch.rand(size, 1, generator=g) < 0.2).float())


def as_float64(nets):
    """The same networks (copies) in float64, with fresh FusedAdams of the same settings."""
    modules = [copy.deepcopy(m).double() for m in nets[:4]]
    opts = [FusedAdam(m.parameters(), lr=o.lr, betas=o.betas, eps=o.eps,
                      weight_decay=o.weight_decay) for m, o in zip(modules, nets[4:])]
    return (*modules, *opts)


def float64_batch(batch: Batch) -> Batch:
    return Batch(*(t.double() for t in batch))


def assert_float32_rounding(fast, ref, exact, factor: float = 3.0) -> None:
    """The fast path's parameters are as close to the float64 computation `exact` as autograd's
    float32 ones `ref` are, within `factor` (the two float32 paths sum in different orders, so
    they differ by rounding, not bit for bit). A wrong gradient or a missed step is off by
    about the learning rate, orders of magnitude more."""
    for theirs, ours, truth in zip(ref[:4], fast[:4], exact[:4]):
        for (name, p), q, t in zip(theirs.named_parameters(), ours.parameters(),
                                   truth.parameters()):
            err_ref = (p.double() - t).abs().max().item()
            err_fast = (q.double() - t).abs().max().item()
            assert err_fast <= factor * err_ref + 1e-8, (name, err_fast, err_ref)


def assert_moments_float32_rounding(fast, ref, exact, batch_size: int,
                                    factor: float = 3.0) -> None:
    """Adam's moments, judged as the parameters are: as close to the float64 run's as
    autograd's float32 ones are, within `factor`, or within `factor` float32 roundings of a
    batch-sized sum where autograd happens to land closer than that. Every gradient is a sum over
    the batch's B rows, and float32's error in such a sum grows like sqrt(B) roundings of its
    size (the probabilistic bound of Higham and Mary, 2019), more where the rows cancel: both
    float32 runs sit 1e-7 away from float64 on a moment of 2e-3, by an amount that depends on the
    CPU's kernels (seen: the critic's output bias, one number, 5.8 single roundings away on an
    AMD EPYC with autograd 1.5 away; 1.0x on a Xeon). A fixed relative tolerance is not a
    judgement; a wrong gradient is off by orders of magnitude."""
    eps = torch.finfo(torch.float32).eps
    for theirs, ours, truth in zip(ref[4:], fast[4:], exact[4:]):
        for kind in ("exp_avg", "exp_avg_sq"):
            for m, n, t in zip(getattr(theirs, kind), getattr(ours, kind), getattr(truth, kind)):
                err_ref = (m.double() - t).abs().max().item()
                err_fast = (n.double() - t).abs().max().item()
                rounding = batch_size ** 0.5 * eps * t.abs().max().item()
                assert err_fast <= factor * max(err_ref, rounding), (kind, err_fast, err_ref)


@pytest.mark.parametrize("hidden, size", [((32, 24, 16), 48), ((400, 300), 64), ((8,), 7)])
def test_same_parameters_and_losses_as_autograd(hidden, size):
    """Three layers, a per-dimension action bound, terminal flags, L2 on the critic, odd batch
    sizes: after 30 steps every parameter and target is as close to a float64 run of autograd's
    ddpg_step (products and Adam in float64; its losses are cast to float32, as ddpg_step does)
    as autograd's float32 run is, so are the Adam moments, and the losses agree to rounding."""
    ref, fast = setup(hidden), setup(hidden)
    exact = as_float64(setup(hidden))
    fast_step = FastDDPG(*fast, tau=0.01, gamma=0.97)
    for batch in batches(30, size):
        want = ddpg_step(*ref, batch, 0.01, 0.97)
        ddpg_step(*exact, float64_batch(batch), 0.01, 0.97)
        got = fast_step.step(batch)
        for key in ("critic_loss", "actor_loss", "q"):
            assert torch.allclose(got[key], want[key], rtol=1e-5, atol=1e-6), key
    assert_float32_rounding(fast, ref, exact)
    assert_moments_float32_rounding(fast, ref, exact, size)
    assert not any(p.grad is not None for m in fast[:4] for p in m.parameters())


def test_batch_size_may_change_between_steps():
    """The hidden activations live in buffers kept per batch size: a step with another size
    must compute in new ones of the right shape, and a step back in the old size again."""
    ref, fast = setup(), setup()
    exact = as_float64(setup())
    fast_step = FastDDPG(*fast, tau=0.01, gamma=0.97)
    for size in [48, 17, 17, 64, 48, 1] * 3:
        batch = next(batches(1, size))
        want = ddpg_step(*ref, batch, 0.01, 0.97)
        ddpg_step(*exact, float64_batch(batch), 0.01, 0.97)
        got = fast_step.step(batch)
        assert torch.allclose(got["critic_loss"], want["critic_loss"], rtol=1e-5, atol=1e-6)
    assert_float32_rounding(fast, ref, exact)


def test_steps_of_one_batch_size_reuse_their_buffers():
    """No per-update allocation of the hidden activations or their gradients (allocating them
    could make glibc unmap and re-fault that memory on every update at batch 256)."""
    fast_step = FastDDPG(*setup(), tau=0.01, gamma=0.97)
    nets = (fast_step.actor, fast_step.critic, fast_step.actor_target, fast_step.critic_target)

    def addresses():
        return [t.data_ptr() for net in nets for t in net._hidden + net._d_hidden]

    steps = batches(4, 32)
    fast_step.step(next(steps))
    first = addresses()
    for batch in steps:
        fast_step.step(batch)
    # 3 hidden layers: outputs in all four networks, gradients only where backward runs
    assert addresses() == first and len(first) == 4 * 3 + 2 * 3
    assert not fast_step.actor_target._d_hidden and not fast_step.critic_target._d_hidden


def td3_setup(hidden=(32, 24)):
    torch.manual_seed(0)
    actor, critic = Actor(S, A, 1.0, hidden), TwinCritic(S, A, hidden)
    actor_t = copy.deepcopy(actor).requires_grad_(False)
    critic_t = copy.deepcopy(critic).requires_grad_(False)
    return (actor, critic, actor_t, critic_t, FusedAdam(actor.parameters(), lr=1e-3),
            FusedAdam(critic.parameters(), lr=2e-3))


def test_td3_same_parameters_as_autograd_with_delay_and_smoothing():
    """Twin critics, clipped double-Q target with smoothing noise from the same generator,
    the actor and targets every 2nd step: equal to td3_step after 21 steps, to float32
    rounding (a float64 reference does not fit here: td3_step casts its targets to float32)."""
    ref, fast = td3_setup(), td3_setup()
    g_ref, g_fast = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    fast_step = FastTD3(*fast, 0.01, 0.97, 0.2, 0.5, g_fast)
    actor_before = [p.clone() for p in fast[0].parameters()]
    for i, batch in enumerate(batches(21, 40)):
        update_actor = i % 2 == 1
        want = td3_step(*ref, batch, 0.01, 0.97, update_actor=update_actor, target_noise=0.2,
                        target_noise_clip=0.5, generator=g_ref)
        got = fast_step.step(batch, update_actor)
        for key in ("critic_loss", "actor_loss", "q", "actor_updated"):
            assert torch.allclose(got[key], want[key], rtol=1e-5, atol=1e-7), (i, key)
        if i == 0:  # no actor step yet
            assert all(torch.equal(p, q) for p, q in zip(actor_before, fast[0].parameters()))
    for theirs, ours in zip(ref[:4], fast[:4]):
        for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
            assert torch.allclose(p, q, rtol=1e-5, atol=1e-7), name
    for theirs, ours in zip(ref[4:], fast[4:]):  # Adam is blind to a gradient's scale; these not
        for m, n in zip(theirs.exp_avg + theirs.exp_avg_sq, ours.exp_avg + ours.exp_avg_sq):
            assert torch.allclose(m, n, rtol=1e-4, atol=1e-8)
    assert torch.equal(g_ref.get_state(), g_fast.get_state())


def test_critic_parameters_get_no_update_from_the_actor_step():
    """With the critic's learning rate 0 the critic must stay exactly as it was: the actor's
    loss only reaches the critic's input."""
    actor, critic, actor_t, critic_t, a_opt, _ = setup()
    c_opt = FusedAdam(critic.parameters(), lr=0.0)
    before = [p.clone() for p in critic.parameters()]
    actor_before = [p.clone() for p in actor.parameters()]
    FastDDPG(actor, critic, actor_t, critic_t, a_opt, c_opt, 0.01, 0.99).step(next(batches(1, 16)))
    assert all(torch.equal(p, q) for p, q in zip(before, critic.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(actor_before, actor.parameters()))


@pytest.mark.parametrize("network", [
    NetworkConfig(norm="layer"), NetworkConfig(norm="batch"), NetworkConfig(activation="tanh"),
    NetworkConfig(critic_action_layer=1)])
def test_other_networks_use_autograd(network):
    agent = Agent(S, A, dataclasses.replace(Config(), network=network))
    assert not FastDDPG.supports(agent.actor, agent.critic) and agent.fast is None
    with pytest.raises(ValueError, match="plain ReLU"):
        FastDDPG(agent.actor, agent.critic, agent.actor_target, agent.critic_target,
                 agent.actor_optimizer, agent.critic_optimizer, 0.01, 0.99)


def test_networks_without_bias_or_with_other_layers_are_not_supported():
    from torch import nn

    from ddpg.fast.mlp import MLP

    assert MLP.supports(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)), None)
    assert not MLP.supports(nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(),
                                          nn.Linear(4, 1)), None)
    assert not MLP.supports(nn.Sequential(nn.Linear(3, 4), nn.ELU(), nn.Linear(4, 1)), None)
    assert not MLP.supports(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)), nn.Tanh)
    assert not MLP.supports(nn.Sequential(), None)


def test_action_penalty_same_as_autograd():
    """The HER baselines' action penalty (action_l2): the fast path adds its gradient at mu,
    before the tanh's, and after 20 steps every parameter is as close to a float64 autograd
    run as autograd's float32 run is; its actor loss is the penalised one, the same as
    ddpg_step's. TD3's fast step against td3_step with the penalty, to float32 rounding."""
    ref, fast = setup(), setup()
    exact = as_float64(setup())
    fast_step = FastDDPG(*fast, tau=0.01, gamma=0.97, action_l2=1.0)
    plain = setup()
    for batch in batches(20, 48):
        want = ddpg_step(*ref, batch, 0.01, 0.97, action_l2=1.0)
        ddpg_step(*exact, float64_batch(batch), 0.01, 0.97, action_l2=1.0)
        unpenalised = ddpg_step(*plain, batch, 0.01, 0.97)
        got = fast_step.step(batch)
        assert torch.allclose(got["actor_loss"], want["actor_loss"], rtol=1e-5, atol=1e-6)
    assert got["actor_loss"] > unpenalised["actor_loss"]  # the penalty is in the loss
    assert_float32_rounding(fast, ref, exact)
    assert not all(torch.allclose(p, q) for p, q in zip(plain[0].parameters(),
                                                         fast[0].parameters()))
    ref, fast = td3_setup(), td3_setup()
    g_ref, g_fast = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    fast_td3 = FastTD3(*fast, 0.01, 0.97, 0.2, 0.5, g_fast, action_l2=0.5)
    for i, batch in enumerate(batches(10, 40)):
        want = td3_step(*ref, batch, 0.01, 0.97, update_actor=i % 2 == 1, target_noise=0.2,
                        target_noise_clip=0.5, generator=g_ref, action_l2=0.5)
        got = fast_td3.step(batch, i % 2 == 1)
        assert torch.allclose(got["actor_loss"], want["actor_loss"], rtol=1e-5, atol=1e-7)
    for p, q in zip(ref[0].parameters(), fast[0].parameters()):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-7)


def test_target_clip_same_as_autograd():
    """--target-min/--target-max (the HER baselines' clip_return) in the fast step, DDPG and
    TD3: the clipped targets bind on these batches (rewards N(0, 1), range [-0.5, 0.5]: the
    losses differ from an unclipped run), and the fast path follows autograd's update with
    the same clip (DDPG: as close to a float64 run as autograd's float32 run; TD3: to float32
    rounding)."""
    clip = Regression(target_range=(-0.5, 0.5))
    ref, fast, plain = setup(), setup(), setup()
    exact = as_float64(setup())
    fast_step = FastDDPG(*fast, tau=0.01, gamma=0.97, regression=clip)
    for batch in batches(20, 48):
        want = ddpg_step(*ref, batch, 0.01, 0.97, regression=clip)
        ddpg_step(*exact, float64_batch(batch), 0.01, 0.97, regression=clip)
        unclipped = ddpg_step(*plain, batch, 0.01, 0.97)
        got = fast_step.step(batch)
        assert torch.allclose(got["critic_loss"], want["critic_loss"], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(got["critic_loss"], unclipped["critic_loss"])
    assert_float32_rounding(fast, ref, exact)
    ref, fast = td3_setup(), td3_setup()
    g_ref, g_fast = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    fast_td3 = FastTD3(*fast, 0.01, 0.97, 0.2, 0.5, g_fast, regression=clip)
    for i, batch in enumerate(batches(10, 40)):
        want = td3_step(*ref, batch, 0.01, 0.97, update_actor=i % 2 == 1, target_noise=0.2,
                        target_noise_clip=0.5, generator=g_ref, regression=clip)
        got = fast_td3.step(batch, i % 2 == 1)
        assert torch.allclose(got["critic_loss"], want["critic_loss"], rtol=1e-5, atol=1e-7)
    for p, q in zip(ref[1].parameters(), fast[1].parameters()):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-7)


def test_action_penalty_pulls_a_saturated_actor_back():
    """With a critic that ignores the action (its action weights zeroed and frozen by a zero
    learning rate), the actor's only gradient is the penalty's: 2 action_l2 mu / (B act), so
    |mu| shrinks step after step on both paths, and not at all without the penalty."""
    for path in ("fast", "autograd"):
        for l2 in (0.0, 1.0):
            nets = setup(hidden=(16,))
            actor, critic = nets[0], nets[1]
            with torch.no_grad():
                actor.net[-2].bias.fill_(2.0)  # tanh near saturation
                critic.net[0].weight[:, S:] = 0.0
            nets = (*nets[:4], FusedAdam(actor.parameters(), lr=0.05),
                    FusedAdam(critic.parameters(), lr=0.0))
            step = FastDDPG(*nets, tau=0.01, gamma=0.97, action_l2=l2) if path == "fast" else None
            s = torch.randn(64, S, generator=torch.Generator().manual_seed(3))
            before = actor(s).abs().mean().item()
            for batch in batches(20, 32):
                if step is not None:
                    step.step(batch)
                else:
                    ddpg_step(*nets, batch, 0.01, 0.97, action_l2=l2)
            after = actor(s).abs().mean().item()
            if l2:
                assert after < 0.9 * before, (path, before, after)
            else:
                assert after == pytest.approx(before, rel=1e-6), (path, before, after)


def test_agent_picks_the_fast_path_only_where_it_applies():
    base = dataclasses.replace(Config(), network=NetworkConfig(hidden_sizes=(16, 16)))
    assert Agent(S, A, base).fast is not None
    assert isinstance(Agent(S, A, dataclasses.replace(base, algo="td3")).fast, FastTD3)
    for change in ({"fast_path": False}, {"compile": True},
                   {"algo": "td3", "fast_path": False}):
        assert Agent(S, A, dataclasses.replace(base, **change)).fast is None, change


@pytest.mark.parametrize("algo", ["ddpg", "td3"])
@pytest.mark.parametrize("action_l2", [0.0, 1.0])
def test_agent_fast_and_autograd_paths_agree(algo, action_l2):
    base = dataclasses.replace(Config(), network=NetworkConfig(hidden_sizes=(16, 16)),
                               critic_weight_decay=1e-2, algo=algo, action_l2=action_l2)
    fast, slow = Agent(S, A, base), Agent(S, A, dataclasses.replace(base, fast_path=False))
    plain = Agent(S, A, dataclasses.replace(base, action_l2=0.0))
    slow.load_state_dict(fast.state_dict())
    plain.load_state_dict(fast.state_dict())
    for batch in batches(10, 32):
        fast.update(batch)
        slow.update(batch)
        plain.update(batch)
    moved = [not torch.allclose(p, q) for p, q in zip(fast.actor.parameters(),
                                                       plain.actor.parameters())]
    assert any(moved) == (action_l2 > 0)  # the agent's flag reaches its update
    for m, n in ((fast.actor, slow.actor), (fast.critic_target, slow.critic_target)):
        for p, q in zip(m.parameters(), n.parameters()):
            assert torch.allclose(p, q, rtol=1e-5, atol=1e-7)


def test_optimizer_of_other_parameters_is_refused():
    actor, critic, actor_t, critic_t, a_opt, c_opt = setup()
    with pytest.raises(ValueError, match="does not hold the network's parameters"):
        FastDDPG(actor, critic, actor_t, critic_t, c_opt, a_opt, 0.01, 0.99)  # swapped
    reordered = FusedAdam(list(critic.parameters())[::-1])
    with pytest.raises(ValueError, match="does not hold the network's parameters"):
        FastDDPG(actor, critic, actor_t, critic_t, a_opt, reordered, 0.01, 0.99)


def test_fused_adam_checks_the_gradients_it_is_given():
    p = torch.nn.Parameter(torch.ones(3))
    opt = FusedAdam([p])
    with pytest.raises(ValueError, match="2 gradients for 1 parameters"):
        opt.step([torch.ones(3), torch.ones(3)])
    state = FusedAdam([p, torch.nn.Parameter(torch.ones(2))]).state_dict()
    state["steps"][1] = torch.tensor(5.0)
    with pytest.raises(ValueError, match="different step counts"):
        FusedAdam([p, torch.nn.Parameter(torch.ones(2))]).load_state_dict(state)


@pytest.mark.parametrize("algo", ["ddpg", "td3"])
def test_policy_equals_the_actor_module(algo):
    agent = Agent(S, A, dataclasses.replace(Config(), algo=algo,
                                                network=NetworkConfig(hidden_sizes=(16, 16))))
    states = torch.randn(9, S)
    assert torch.equal(agent.fast.policy(states), agent.actor(states))
    assert np.array_equal(agent.act(states.numpy()), agent.actor(states).detach().numpy())


def test_under_bf16_products_narrow_layers_stay_exact_float32():
    """Under --precision bf16 on a CPU (oneDNN's fp32_precision 'bf16'), a layer with fewer
    than NARROW inputs or outputs keeps exact float32 products (bf16 operands cost more there
    than they save); wide layers do take bf16 operands where the CPU has them. Outside the
    update nothing changes: the setting is restored."""
    from torch import nn as tnn

    from ddpg.agent import bf16_matmuls
    from ddpg.fast.mlp import MLP, NARROW
    from ddpg.system import native_bf16

    torch.manual_seed(0)
    seq = tnn.Sequential(tnn.Linear(8, 256), tnn.ReLU(), tnn.Linear(256, 256), tnn.ReLU(),
                         tnn.Linear(256, 3))
    seq.requires_grad_(False)  # (the fast path's parameters take no autograd)
    mlp = MLP(seq)
    x = torch.randn(8, 64)
    exact_first = torch.addmm(mlp.bias_cols[0], mlp.weights[0], x).relu_()
    with bf16_matmuls():
        kept: list[torch.Tensor] = []
        mlp.forward_cols(x, kept)
        assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"
    assert torch.backends.mkldnn.matmul.fp32_precision != "bf16"
    assert min(seq[0].weight.shape) < NARROW <= min(seq[2].weight.shape)
    torch.testing.assert_close(kept[1], exact_first, rtol=0, atol=0)  # layer 0: exact
    exact_second = torch.addmm(mlp.bias_cols[1], mlp.weights[1], kept[1]).relu_()
    if native_bf16("cpu")[0]:  # layer 1 (256 x 256) took bf16 operands
        assert not torch.equal(kept[2], exact_second)
        torch.testing.assert_close(kept[2], exact_second, rtol=3e-2, atol=3e-2)
