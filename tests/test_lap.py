"""LAP replay with DDPG and TD3 (--replay lap): the critics' Huber loss and its hand-written
gradient, the fast path against autograd's reference update with the new priorities, a
population's stacked sampling and feedback against single runs, and the command line."""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import ddpg
from ddpg.buffer import Batch
from ddpg.config import Config, LAPConfig, NetworkConfig
from ddpg.errors import ConfigError
from ddpg.fast.adam import FusedAdam
from ddpg.fast.steps import FastDDPG, FastTD3
from ddpg.losses import Regression, lap_loss, lap_loss_grad, lap_priority
from ddpg.networks import Actor, Critic
from ddpg.population import train_population
from ddpg.td3 import TwinCritic, td3_step
from ddpg.update import ddpg_step

S, A = 5, 2
LAP = Regression(lap=True, alpha=0.6, min_priority=0.7)


@pytest.mark.parametrize("shape", [(33, 1), (3, 1, 17)])
def test_lap_loss_grad_is_autograds_gradient_of_lap_loss(shape):
    """dL/dQ = clip(Q - y, -kappa, kappa) / B on both sides of kappa, per member for (M, 1, B)
    as the fast path holds Q."""
    g = torch.Generator().manual_seed(0)
    q = (torch.randn(shape, generator=g, dtype=torch.float64) * 2).requires_grad_()
    y = torch.randn(shape, generator=g, dtype=torch.float64)
    loss = lap_loss(q, y, 0.7)
    assert (q - y).abs().lt(0.7).any() and (q - y).abs().gt(0.7).any()
    (want,) = torch.autograd.grad(loss.sum(), q)
    got_loss, got = lap_loss_grad(q.detach(), y, 0.7)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(got_loss, loss.detach())


def _nets(td3: bool):
    torch.manual_seed(0)
    actor = Actor(S, A, torch.tensor([2.0, 0.5]), (32, 24))
    critic = TwinCritic(S, A, (32, 24)) if td3 else Critic(S, A, (32, 24))
    actor_t = copy.deepcopy(actor).requires_grad_(False)
    critic_t = copy.deepcopy(critic).requires_grad_(False)
    return (actor, critic, actor_t, critic_t, FusedAdam(actor.parameters(), lr=1e-3),
            FusedAdam(critic.parameters(), lr=2e-3))


def _batches(n: int, size: int):
    g = torch.Generator().manual_seed(1)
    for _ in range(n):  # rewards of scale 3: TD errors on both sides of kappa
        yield Batch(torch.randn(size, S, generator=g), torch.rand(size, A, generator=g) * 2 - 1,
                    torch.randn(size, 1, generator=g) * 3, torch.randn(size, S, generator=g),
                    (torch.rand(size, 1, generator=g) < 0.2).float())


@pytest.mark.parametrize("td3", [False, True])
def test_fast_path_with_lap_equals_autograds_reference(td3):
    """20 updates with LAP's loss: the fast path's hand-written gradient leaves the parameters
    where autograd's ddpg_step / td3_step leave them, to float32 rounding, and both return the
    same new priorities, max(|Q_i - y|, kappa)^alpha over the critics."""
    ref, fast = _nets(td3), _nets(td3)
    g_ref, g_fast = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    step = (FastTD3(*fast, 0.01, 0.97, 0.2, 0.5, g_fast, regression=LAP) if td3
            else FastDDPG(*fast, tau=0.01, gamma=0.97, regression=LAP))
    for i, batch in enumerate(_batches(20, 40)):
        if td3:
            want = td3_step(*ref, batch, 0.01, 0.97, update_actor=i % 2 == 1, target_noise=0.2,
                            target_noise_clip=0.5, generator=g_ref, regression=LAP)
            got = step.step(batch, i % 2 == 1)
        else:
            want = ddpg_step(*ref, batch, 0.01, 0.97, regression=LAP)
            got = step.step(batch)
        assert got["priority"].shape == want["priority"].shape == (40,)
        torch.testing.assert_close(got["priority"], want["priority"], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(got["critic_loss"], want["critic_loss"], rtol=1e-5,
                                   atol=1e-6)
        assert float(want["priority"].min()) >= 0.7 ** 0.6 - 1e-6
        assert float(want["priority"].max()) > 0.7 ** 0.6 + 1e-3  # some errors above kappa
    for theirs, ours in zip(ref[:4], fast[:4]):
        for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
            torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6, msg=name)


def test_the_reference_priority_is_lap_priority_of_the_larger_critic_error():
    nets = _nets(True)
    batch = next(_batches(1, 16))
    before = copy.deepcopy(nets[1])
    info = td3_step(*nets, batch, 0.01, 0.97, update_actor=False, target_noise=0.0,
                    target_noise_clip=0.5, regression=LAP)
    with torch.no_grad():
        q1, q2 = before(batch.states, batch.actions)
        nq = torch.minimum(*nets[3](batch.next_states, nets[2](batch.next_states)))
        y = batch.rewards + 0.97 * (1 - batch.dones) * nq
    torch.testing.assert_close(info["priority"], lap_priority([q1 - y, q2 - y], 0.6, 0.7))
    uniform = td3_step(*_nets(True), batch, 0.01, 0.97, update_actor=False, target_noise=0.0,
                       target_noise_clip=0.5)
    assert "priority" not in uniform


def _small(**kw) -> Config:
    return Config(network=NetworkConfig(hidden_sizes=(32, 24)), progress=False,
                  tensorboard=False, total_steps=150, warmup_steps=100, eval_every=0,
                  eval_episodes=1, checkpoint_every=0, algo="td3", replay="lap",
                  lap=LAPConfig(alpha=0.6, min_priority=0.5), **kw)


@pytest.mark.parametrize("network", ["relu", "tanh-layernorm"])
def test_a_lap_population_samples_and_feeds_back_as_its_members_single_runs(network, capfd):
    """TD3 with LAP as a population of 2 (relu: the stacked fast path; tanh with layer norm:
    VmapStep) and as single runs of the same seeds: the same parameters and priorities after 51
    updates, to the rounding the batched products carry, and each member's largest priority
    grown as its single run's."""
    c = _small()
    if network != "relu":
        c = dataclasses.replace(c, network=NetworkConfig(hidden_sizes=(32, 24),
                                                         activation="tanh", norm="layer"))
    c = dataclasses.replace(c, out=str(Path(os.environ.get("TMPDIR", "/tmp"))))
    pop = train_population(dataclasses.replace(c, run_name=f"lap-pop-{time.time_ns()}"),
                           seeds=[0, 1])
    assert ("torch.func vmap" in capfd.readouterr().err) == (network != "relu")
    for i, seed in enumerate([0, 1]):
        one = ddpg.train(dataclasses.replace(c, seed=seed, run_name=f"lap-one-{time.time_ns()}"))
        member = pop.results[i]
        assert member.agent.updates == one.agent.updates == 51
        for p, q in zip(member.agent.critic.parameters(), one.agent.critic.parameters()):
            assert torch.allclose(p, q, rtol=0, atol=1e-4), (p - q).abs().max()
        mp, op = member.buffer.priorities, one.buffer.priorities
        np.testing.assert_allclose(mp.p.numpy(), op.p.numpy(), rtol=1e-3, atol=1e-4)
        assert mp.max_priority == pytest.approx(op.max_priority, rel=1e-3)
        held = mp.p[:150]
        assert len(set(held.tolist())) > 10 and float(held.min()) >= 0.5 ** 0.6 - 1e-6
    a, b = (r.buffer.priorities.p[:150] for r in pop.results)
    assert not torch.equal(a, b)


def test_cli_trains_td3_with_lap_replay(tmp_path):
    from ddpg.cli import main

    main(["train", "--env", "Pendulum-v1", "--algo", "td3", "--replay", "lap",
          "--lap.alpha", "0.5", "--total-steps", "300", "--warmup-steps", "100",
          "--network.hidden-sizes", "32", "32", "--eval-every", "300", "--eval-episodes", "1",
          "--out", str(tmp_path), "--run-name", "r", "--no-progress", "--threads", "1"])
    saved = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert saved["replay"] == "lap" and saved["lap"] == {"alpha": 0.5, "min_priority": 1.0}
    assert ddpg.load(tmp_path / "r").act(np.zeros((1, 3), np.float32)).shape == (1, 1)


@pytest.mark.parametrize("lap,match", [(LAPConfig(alpha=-0.1), r"lap.alpha=-0.1"),
                                       (LAPConfig(min_priority=0.0), r"lap.min_priority=0.0")])
def test_lap_settings_out_of_range_are_refused(lap, match):
    with pytest.raises(ConfigError, match=match):
        Config(replay="lap", lap=lap)
