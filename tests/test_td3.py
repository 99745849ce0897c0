import copy
import dataclasses

import numpy as np
import pytest
import torch
from torch import optim

import ddpg
from ddpg.agent import Agent
from ddpg.buffer import Batch
from ddpg.config import Config, NetworkConfig, TD3Config
from ddpg.losses import clipped_double_q_target, smoothed_target_action
from ddpg.td3 import TwinCritic, td3_step

from conftest import LineEnv


def test_clipped_double_q_target_by_hand():
    r = torch.tensor([[1.0], [2.0], [0.5]])
    d = torch.tensor([[0.0], [1.0], [0.0]])
    q1 = torch.tensor([[3.0], [5.0], [-1.0]])
    q2 = torch.tensor([[4.0], [1.0], [-2.0]])
    y = clipped_double_q_target(r, d, q1, q2, 0.9)
    assert y.flatten().tolist() == pytest.approx([1 + 0.9 * 3.0, 2.0, 0.5 + 0.9 * -2.0])


def test_smoothing_noise_is_clipped_then_action_clipped():
    g = torch.Generator().manual_seed(0)
    a = torch.zeros(10_000, 2)
    out = smoothed_target_action(a, noise_std=1.0, noise_clip=0.3, generator=g)
    assert out.abs().max() <= 0.3 + 1e-7 and (out.abs() == 0.3).float().mean() > 0.5
    near_edge = smoothed_target_action(torch.full((1000, 1), 0.95), 0.2, 0.5, g)
    assert near_edge.max() <= 1.0 and near_edge.min() >= 0.45
    free = smoothed_target_action(torch.zeros(20_000, 1), 0.1, 10.0, g)
    assert free.std().item() == pytest.approx(0.1, rel=0.05)


def test_td3_target_matches_hand_computation():
    torch.manual_seed(0)
    actor = ddpg.Actor(3, 2, 1.0, (16,))
    critic = TwinCritic(3, 2, (16,))
    actor_t, critic_t = copy.deepcopy(actor), copy.deepcopy(critic)
    g = torch.Generator().manual_seed(5)
    b = Batch(torch.randn(8, 3), torch.rand(8, 2) * 2 - 1, torch.randn(8, 1), torch.randn(8, 3),
              (torch.rand(8, 1) < 0.3).float())
    # the hand computation, with the same noise draw
    eps = torch.randn((8, 2), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        a2 = (actor_t(b.next_states) + (eps * 0.2).clamp(-0.5, 0.5)).clamp(-1, 1)
        y = b.rewards + 0.99 * (1 - b.dones) * torch.minimum(critic_t.q1(b.next_states, a2),
                                                             critic_t.q2(b.next_states, a2))
        q1, q2 = critic(b.states, b.actions)
        expected = ((q1 - y) ** 2).mean() + ((q2 - y) ** 2).mean()
    info = td3_step(actor, critic, actor_t, critic_t, optim.SGD(actor.parameters(), 0.0),
                    optim.SGD(critic.parameters(), 0.0), b, 0.005, 0.99, update_actor=False,
                    target_noise=0.2, target_noise_clip=0.5, generator=g)
    assert info["critic_loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_actor_and_targets_update_only_every_dth_step():
    cfg = dataclasses.replace(Config(), algo="td3", network=NetworkConfig(hidden_sizes=(16,)),
                              batch_size=8, td3=TD3Config(policy_delay=3), tau=0.5)
    agent = Agent(3, 2, cfg)
    g = torch.Generator().manual_seed(0)
    batch = lambda: Batch(torch.randn(8, 3, generator=g), torch.rand(8, 2, generator=g),  # noqa
                          torch.randn(8, 1, generator=g), torch.randn(8, 3, generator=g),
                          torch.zeros(8, 1))
    moved = []
    for _ in range(6):
        a0 = [p.clone() for p in agent.actor.parameters()]
        t0 = [p.clone() for p in agent.critic_target.parameters()]
        c0 = [p.clone() for p in agent.critic.parameters()]
        info = agent.update(batch())
        actor_moved = any(not torch.equal(a, p) for a, p in zip(a0, agent.actor.parameters()))
        target_moved = any(not torch.equal(a, p) for a, p in
                           zip(t0, agent.critic_target.parameters()))
        assert any(not torch.equal(a, p) for a, p in zip(c0, agent.critic.parameters()))
        assert actor_moved == target_moved == bool(info["actor_updated"])
        moved.append(actor_moved)
    assert moved == [False, False, True, False, False, True]


def test_td3_pendulum_runs_and_saves(tmp_path):
    cfg = dataclasses.replace(ddpg.config.from_preset("pendulum-td3"), total_steps=400,
                              warmup_steps=200, eval_every=200, eval_episodes=1,
                              network=NetworkConfig(hidden_sizes=(16, 16)), out=str(tmp_path),
                              tensorboard=False, progress=False)
    res = ddpg.train(cfg)
    assert res.agent.config.algo == "td3" and len(res.evaluations) == 2
    assert res.evaluations[-1]["actor_loss"] != ""
    assert ddpg.load(res.run_dir).metadata["algo"] == "td3"


def test_observation_normalisation_saved_with_policy_and_checkpoint(tmp_path):
    cfg = dataclasses.replace(Config(), obs_norm=True, total_steps=150, warmup_steps=50,
                              batch_size=8, eval_every=50, eval_episodes=1, checkpoint_every=50,
                              network=NetworkConfig(hidden_sizes=(8,)), out=str(tmp_path),
                              run_name="r", tensorboard=False, progress=False)
    res = ddpg.train(cfg, env=LineEnv(max_steps=20, terminate_at=1e9))
    norm = res.agent.obs_norm
    obs = res.buffer.next_states[: len(res.buffer)].numpy().astype(np.float64)
    assert norm.count == len(res.buffer) + 1  # every stored next observation and the first
    assert np.allclose(norm.mean, obs.mean(0), atol=0.2)  # plus the first reset observation
    pol = ddpg.load(res.run_dir)
    assert pol.obs_norm is not None and np.array_equal(pol.obs_norm.mean, norm.mean)
    x = np.array([[0.3, 4.0]], np.float32)
    assert np.allclose(pol.act(x), res.policy.act(x))
    from ddpg.checkpoint import CheckpointManager

    loaded, _ = CheckpointManager(res.run_dir / "checkpoints").latest()
    assert np.array_equal(loaded.state["agent"]["obs_norm"]["mean"].numpy(), norm.mean)


def test_q_diagnostics_logged(tmp_path):
    cfg = dataclasses.replace(Config(), total_steps=300, warmup_steps=100, batch_size=16,
                              eval_every=300, eval_episodes=2, gamma=0.9,
                              network=NetworkConfig(hidden_sizes=(16,)), out=str(tmp_path),
                              tensorboard=False, progress=False)
    res = ddpg.train(cfg)
    row = res.evaluations[-1]
    assert np.isfinite(row["q_estimate"]) and np.isfinite(row["mc_return"])
    assert row["mc_return"] < 0  # Pendulum's rewards are all negative
    header = (res.run_dir / "metrics.csv").read_text().splitlines()[0]
    assert "q_estimate" in header and "mc_return" in header
