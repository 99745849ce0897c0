"""The fast update replayed as a CUDA graph (ddpg.fast.cudagraph): the same parameters as the eager
update, outputs that survive the next call, and an eager fallback when capture fails. The GPU
tests run where CUDA is (benchmarks/gpu_check.py runs this file there); the fallback runs
everywhere."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ddpg.agent import Agent
from ddpg.buffer import Batch
from ddpg.config import Config, NetworkConfig
from ddpg.fast.cudagraph import GraphedStep
from ddpg.population.functional import VmapStep
from ddpg.fast.steps import FastStep

S, A = 5, 2
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def batches(n: int, size: int, device: str):
    g = torch.Generator().manual_seed(1)
    for _ in range(n):
        yield Batch(*(t.to(device) for t in (
            torch.randn(size, S, generator=g), torch.rand(size, A, generator=g) * 2 - 1,
            torch.randn(size, 1, generator=g), torch.randn(size, S, generator=g),
            (torch.rand(size, 1, generator=g) < 0.2).float())))


def agent_pair(device: str, algo: str = "ddpg", action_l2: float = 0.0):
    cfg = Config(algo=algo, device=device, network=NetworkConfig(hidden_sizes=(64, 48)),
                 tau=0.01, critic_weight_decay=1e-2, seed=3, action_l2=action_l2)
    graphed = Agent(S, A, cfg)
    eager = Agent(S, A, dataclasses.replace(cfg, cuda_graph=False))
    eager.load_state_dict(graphed.state_dict())
    return graphed, eager


def params(agent: Agent) -> list[torch.Tensor]:
    nets = (agent.actor, agent.critic, agent.actor_target, agent.critic_target)
    return [p for n in nets for p in n.parameters()] + agent.critic_optimizer.exp_avg_sq


def test_capture_failure_falls_back_to_eager_with_one_update_per_call():
    """Where capture fails (here: a batch on the CPU), the call that tried it still makes one
    eager update, warns once, and later calls stay eager: the parameters equal the plain fast
    path's after every step."""
    graphed, eager = agent_pair("cpu")
    step = GraphedStep(graphed.fast.step, warmup=0)
    with pytest.warns(RuntimeWarning, match="CUDA graph capture of the update failed"):
        first = step(next(batches(1, 16, "cpu")))
    assert step.eager and step.captured == 0
    eager.fast.step(next(batches(1, 16, "cpu")))
    assert all(torch.equal(p, q) for p, q in zip(params(graphed), params(eager)))
    for batch in batches(5, 16, "cpu"):
        step(batch)
        eager.fast.step(batch)
    assert all(torch.equal(p, q) for p, q in zip(params(graphed), params(eager)))
    assert set(first) == {"critic_loss", "actor_loss", "q"}


def test_cpu_agent_does_not_wrap_the_update():
    agent = Agent(S, A, Config(network=NetworkConfig(hidden_sizes=(8,))))
    assert not isinstance(agent.fast_step, GraphedStep)


@cuda
@pytest.mark.parametrize("algo,action_l2", [("ddpg", 0.0), ("td3", 0.0), ("ddpg", 1.0)])
def test_graph_replays_leave_the_eager_parameters(algo, action_l2):
    """40 updates: 3 eager warm-ups, captures (TD3: with and without the delayed actor step),
    replays; every parameter, target and Adam moment matches the eager fast path's, and TD3's
    target-noise generator advanced alike (the next draws agree). Also with the action
    penalty (its gradient is captured with the actor step)."""
    graphed, eager = agent_pair("cuda", algo, action_l2)
    assert isinstance(graphed.fast_step, GraphedStep)
    outs = []
    for batch in batches(40, 32, "cuda"):
        got, want = graphed.update(batch), eager.update(batch)
        outs.append((got, want))
    assert not graphed.fast_step.eager
    assert graphed.fast_step.captured == (2 if algo == "td3" else 1)
    for p, q in zip(params(graphed), params(eager)):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-6)
    # outputs returned earlier were not overwritten by later replays
    for got, want in outs:
        for k in ("critic_loss", "actor_loss", "q"):
            assert torch.allclose(got[k], want[k], rtol=1e-4, atol=1e-6), k
    g1 = torch.randn(4, device="cuda", generator=graphed.generator)
    g2 = torch.randn(4, device="cuda", generator=eager.generator)
    assert torch.equal(g1, g2)


@cuda
def test_loading_state_in_place_keeps_the_graph_valid():
    """A checkpoint loaded after capture (copied into the same tensors) is what the next replay
    updates: graphed and eager agents restored from one state stay equal."""
    graphed, eager = agent_pair("cuda")
    for batch in batches(6, 32, "cuda"):
        graphed.update(batch)
    state = eager.state_dict()  # the untouched start
    graphed.load_state_dict(state)
    for batch in batches(5, 32, "cuda"):
        graphed.update(batch)
        eager.update(batch)
    for p, q in zip(params(graphed), params(eager)):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-6)


def population_pair(device: str, algo: str, network: dict):
    """Three members (other seeds, tau, weight decay) as one population update, twice: to be
    graphed and to run eagerly from the same start. `network` {}: the fast path's FastStep;
    otherwise (tanh, layer norm): VmapStep."""
    net = NetworkConfig(hidden_sizes=(64, 48), **network)
    configs = [Config(algo=algo, device=device, network=net, seed=s, tau=0.005 * (s + 1),
                      critic_weight_decay=1e-2 * s) for s in range(3)]
    graphed = [Agent(S, A, c) for c in configs]
    eager = [Agent(S, A, dataclasses.replace(c, cuda_graph=False)) for c in configs]
    for e, g in zip(eager, graphed):
        e.load_state_dict(g.state_dict())
    make = VmapStep if network else FastStep.of_agents
    return make(graphed), make(eager), graphed, eager


def stacked_batches(n: int, members: int, size: int, device: str):
    flat = list(batches(n * members, size, device))
    for i in range(n):
        group = flat[i * members:(i + 1) * members]
        yield Batch(*(torch.stack(t) for t in zip(*group)))


@pytest.mark.parametrize("network", [{}, {"activation": "tanh", "norm": "layer"}],
                         ids=["stacked", "vmap"])
@pytest.mark.parametrize("algo", ["ddpg", "td3"])
def test_population_update_graphs_leave_the_eager_parameters(algo, network):
    """A population's update (what population.workers.Worker wraps on a GPU), graphed against
    eager for 30 updates: every member's parameters, targets and Adam moments agree, and the
    per-member outputs too. On a CPU capture fails, so the same comparison checks the fallback
    (one eager update per call); on a GPU, the graphs (TD3: with and without the actor step)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    to_graph, eager_step, graphed, eager = population_pair(device, algo, network)
    generators = tuple(to_graph.generators) if algo == "td3" else ()
    # (the eager warm-up calls run on a CUDA side stream: none on a CPU)
    step = GraphedStep(to_graph.step, generators, warmup=3 if device == "cuda" else 0)
    for i, batch in enumerate(stacked_batches(30, 3, 32, device)):
        update_actor = algo == "ddpg" or i % 2 == 1
        if device == "cpu" and i == 0:
            with pytest.warns(RuntimeWarning, match="capture of the update failed"):
                got = step(batch, update_actor)
        else:
            got = step(batch, update_actor)
        want = eager_step.step(batch, update_actor)
        for k in ("critic_loss", "actor_loss", "q"):
            assert got[k].shape == (3,) and torch.allclose(got[k], want[k], rtol=1e-4,
                                                           atol=1e-6), k
    assert step.eager == (device == "cpu")
    assert step.captured == (0 if device == "cpu" else 2 if algo == "td3" else 1)
    for g, e in zip(graphed, eager):
        for p, q in zip(params(g), params(e)):
            assert torch.allclose(p, q, rtol=1e-5, atol=1e-6)
    assert not torch.equal(params(graphed[0])[0], params(graphed[1])[0])  # distinct members
