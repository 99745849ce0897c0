import dataclasses

import numpy as np
import pytest
import torch

from ddpg.agent import Agent
from ddpg.config import Config, NetworkConfig, NoiseConfig


def cfg(**kw):
    return dataclasses.replace(Config(), network=NetworkConfig(hidden_sizes=(16,)), **kw)


def test_act_shapes_noise_and_clipping():
    agent = Agent(3, 2, cfg(noise=NoiseConfig(sigma=5.0), num_envs=50))
    obs = np.zeros((50, 3), np.float32)
    clean = agent.act(obs)
    assert clean.shape == (50, 2) and np.array_equal(clean, agent.act(obs))  # deterministic
    noisy = agent.act(obs, step=0)
    assert noisy.min() >= -1 and noisy.max() <= 1 and not np.array_equal(noisy, clean)
    assert np.isin(noisy, [-1.0, 1.0]).mean() > 0.6  # sigma 5 clips most
    small = Agent(3, 2, cfg(noise=NoiseConfig(sigma=0.01), num_envs=50)).act(obs, step=0)
    assert len({tuple(r) for r in small}) == 50  # independent noise per environment
    with pytest.raises(ValueError, match="num_envs=50"):
        agent.act(obs[:3], step=0)


def test_state_dict_round_trip_restores_everything():
    a = Agent(3, 1, cfg(algo="td3", obs_norm=True))
    a.obs_norm.update(np.random.default_rng(0).normal(size=(10, 3)))
    a.act(np.zeros((1, 3)), step=0)
    b = Agent(3, 1, cfg(algo="td3", obs_norm=True, seed=9))
    b.load_state_dict(a.state_dict())
    for x, y in zip(a.critic.parameters(), b.critic.parameters()):
        assert torch.equal(x, y)
    assert np.array_equal(a.noise.sample(0), b.noise.sample(0))
    assert torch.equal(torch.randn(3, generator=a.generator), torch.randn(3, generator=b.generator))
    assert np.array_equal(a.obs_norm.mean, b.obs_norm.mean)


def test_bf16_refused_without_native_support(monkeypatch):
    from ddpg import agent as agent_mod
    from ddpg.errors import ConfigError

    monkeypatch.setattr(agent_mod, "native_bf16", lambda device: (False, "no avx512_bf16"))
    with pytest.raises(ConfigError, match="precision='bf16': no avx512_bf16.*--precision fp32"):
        Agent(3, 1, cfg(precision="bf16"))


def test_cpu_bf16_runs_the_fast_path_with_bf16_matmuls_only_inside(monkeypatch):
    """bf16 on a CPU (native support faked here): the fast path, no autocast, and oneDNN's bf16
    matrix products switched on for each update and restored after it (acting stays fp32)."""
    from ddpg import agent as agent_mod

    monkeypatch.setattr(agent_mod, "native_bf16", lambda device: (True, ""))
    agent = Agent(3, 1, cfg(precision="bf16"))
    assert agent.fast is not None
    seen = []
    step = agent.fast_step

    def spy(batch):
        seen.append(torch.backends.mkldnn.matmul.fp32_precision)
        return step(batch)

    agent.fast_step = spy
    before = torch.backends.mkldnn.matmul.fp32_precision
    from ddpg.bench.workloads import random_buffer

    agent.update(random_buffer(3, 1, n=100).sample(8))
    assert seen == ["bf16"]
    assert torch.backends.mkldnn.matmul.fp32_precision == before != "bf16"
    agent.fast.policy = lambda s: (seen.append(torch.backends.mkldnn.matmul.fp32_precision)
                                    or torch.zeros(len(s), 1))
    assert agent.act(np.zeros((1, 3))).shape == (1, 1)
    assert seen == ["bf16", before]


def test_compiled_update_compiles_and_matches_eager():
    """--compile: torch.compile of the autograd update (FusedAdam's tensor-op branch inside the
    graph) compiles without falling back, and 4 updates leave the eager update's parameters."""
    import warnings

    from ddpg.bench.workloads import random_buffer

    cfg = Config(compile=True, network=NetworkConfig(hidden_sizes=(8, 8)),
                 critic_weight_decay=1e-2)
    compiled = Agent(3, 1, cfg)
    eager = Agent(3, 1, dataclasses.replace(cfg, compile=False, fast_path=False))
    eager.load_state_dict(compiled.state_dict())
    buf = random_buffer(3, 1, n=100)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="torch.compile failed")
        for _ in range(4):
            batch = buf.sample(16)
            compiled.update(batch)
            eager.update(batch)
    for net in ("actor", "critic", "critic_target"):
        for p, q in zip(getattr(compiled, net).parameters(), getattr(eager, net).parameters()):
            assert torch.allclose(p, q, rtol=1e-5, atol=1e-6), net


def test_describe_names_the_update_that_runs():
    assert Agent(3, 1, cfg()).describe() == \
        "DDPG update: fast path (hand-written backward passes), fp32 on cpu"
    assert Agent(3, 1, cfg(algo="td3", fast_path=False)).describe() == \
        "TD3 update: autograd (--no-fast-path), fp32 on cpu"
    bn = dataclasses.replace(Config(), network=NetworkConfig(hidden_sizes=(16,), norm="batch"))
    assert "autograd (the network is not a plain ReLU MLP" in Agent(3, 1, bn).describe()
