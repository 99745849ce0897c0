"""Populations (ddpg.population): the stacked update against single runs, members' independence,
per-member hyperparameters, kill-and-resume, a diverging member, and the command line."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import ddpg
from ddpg import config as cfgmod
from ddpg.agent import Agent
from ddpg.buffer import Batch
from ddpg.config import Config, NetworkConfig
from ddpg.errors import ConfigError
from ddpg.population import expand, parse_seeds, parse_sweep, train_population
from ddpg.fast.steps import FastStep
from ddpg.trainer import train

S, A, B = 3, 2, 32


def agents(configs, dtype=torch.float32):
    out = []
    for c in configs:
        torch.manual_seed(c.seed)
        agent = Agent(S, A, c)
        if dtype == torch.float64:
            for net in (agent.actor, agent.critic, agent.actor_target, agent.critic_target):
                net.double()
            from ddpg.fast import FusedAdam
            agent.actor_optimizer = FusedAdam(agent.actor.parameters(), lr=c.actor_lr)
            agent.critic_optimizer = FusedAdam(agent.critic.parameters(), lr=c.critic_lr,
                                               weight_decay=c.critic_weight_decay)
            agent.generator = torch.Generator().manual_seed(c.seed + 7919)
            agent.choose_update()
        out.append(agent)
    return out


def random_batches(n, members, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        yield [Batch(torch.randn(B, S, generator=g), torch.rand(B, A, generator=g) * 2 - 1,
                     torch.randn(B, 1, generator=g), torch.randn(B, S, generator=g),
                     (torch.rand(B, 1, generator=g) < 0.2).float()) for _ in range(members)]


def small(**kw) -> Config:
    return Config(network=NetworkConfig(hidden_sizes=(32, 24)), progress=False, **kw)


@pytest.mark.parametrize("algo", ["ddpg", "td3"])
def test_stacked_update_equals_single_runs_to_float32_rounding(algo):
    """50 updates of 3 members (different seeds, learning rates, weight decay, tau, gamma,
    target noise) at once equal each member's own fast-path update to float32 rounding. DDPG:
    every member's parameters are as close to its float64 computation as the single agent's
    float32 ones are (the fast path's tolerance argument). TD3 draws its smoothing noise in
    float32, which a float64 run cannot repeat: compared directly, as tests/test_fastpath.py
    compares FastTD3 with td3_step."""
    configs = member_configs(algo)
    pop = agents(configs)
    stacked = FastStep.of_agents(pop)
    for a in pop:
        a.choose_update()
    info = run_and_compare(configs, pop, stacked, algo)
    assert info["critic_loss"].shape == (3,)


def member_configs(algo, **kw) -> list[Config]:
    """3 members with different seeds, learning rates, weight decay, tau, gamma, target noise."""
    net = NetworkConfig(hidden_sizes=(32, 24), **kw.pop("network", {}))
    return [Config(network=net, progress=False, seed=0, algo=algo, **kw),
            Config(network=net, progress=False, seed=1, algo=algo, actor_lr=3e-4, tau=0.01,
                   gamma=0.95, **kw),
            Config(network=net, progress=False, seed=2, algo=algo, critic_lr=2e-3,
                   critic_weight_decay=1e-2, **kw,
                   td3=cfgmod.TD3Config(target_noise=0.3, target_noise_clip=0.4))]


def run_and_compare(configs, pop, step, algo) -> dict:
    """50 updates of `step` (all members of `pop` at once) against each member's own agent's
    update on the same batches. DDPG: each member's parameters as close to its float64
    computation as the single agent's float32 ones are; TD3: compared directly (with equal
    generator states). Returns the last update's info."""
    single = agents(configs)
    exact = agents(configs, torch.float64) if algo == "ddpg" else None
    for i, batches in enumerate(random_batches(50, len(configs))):
        for m, (a, b) in enumerate(zip(single, batches)):
            a.update(b)
            if exact is not None:
                exact[m].update(Batch(*(t.double() for t in b)))
        update_actor = algo == "ddpg" or (i + 1) % 2 == 0
        info = step.step(Batch(*(torch.stack(t) for t in zip(*batches))), update_actor)
        for a in pop:
            a.updates += 1
    start = agents(configs)
    for m in range(len(configs)):
        for net in ("actor", "critic", "actor_target", "critic_target"):
            truths = getattr(exact[m], net).parameters() if exact else [None] * 99
            for (name, p), q, t, q0 in zip(getattr(single[m], net).named_parameters(),
                                           getattr(pop[m], net).parameters(), truths,
                                           getattr(start[m], net).parameters()):
                assert not torch.equal(q, q0), (m, net, name, "did not move")
                if t is None:
                    assert torch.allclose(p, q, rtol=1e-5, atol=1e-6), (m, net, name)
                    continue
                ref_err = (p.double() - t).abs().max().item()
                our_err = (q.double() - t).abs().max().item()
                ulp = 3 * torch.finfo(torch.float32).eps * t.abs().max().item()
                assert our_err <= 3 * ref_err + ulp, (m, net, name, our_err, ref_err)
        if algo == "td3":
            assert torch.equal(single[m].generator.get_state(), pop[m].generator.get_state())
    return info


@pytest.mark.parametrize("algo", ["ddpg", "td3"])
def test_the_action_penalty_reaches_every_update_path_of_a_population(algo):
    """--action-l2 in the stacked fast step and in VmapStep: each member equals its single
    run (which has the penalty, tests/test_fastpath.py) as the unpenalised members do."""
    from ddpg.population.functional import VmapStep

    configs = member_configs(algo, action_l2=1.0)
    pop = agents(configs)
    run_and_compare(configs, pop, FastStep.of_agents(pop), algo)
    configs = member_configs(algo, action_l2=1.0, network=dict(activation="tanh"))
    pop = agents(configs)
    run_and_compare(configs, pop, VmapStep(pop), algo)


@pytest.mark.parametrize("algo", ["ddpg", "td3"])
def test_the_target_clip_reaches_every_update_path_of_a_population(algo):
    """--target-min/--target-max in the stacked fast step and in VmapStep: each member equals
    its single run, which clips (tests/test_fastpath.py); the range binds on these batches."""
    from ddpg.population.functional import VmapStep

    clip = dict(target_min=-0.3, target_max=0.3)
    configs = member_configs(algo, **clip)
    pop = agents(configs)
    run_and_compare(configs, pop, FastStep.of_agents(pop), algo)
    configs = member_configs(algo, network=dict(activation="tanh"), **clip)
    pop = agents(configs)
    run_and_compare(configs, pop, VmapStep(pop), algo)


NETWORKS = {"tanh-layernorm": dict(activation="tanh", norm="layer"),
            "elu-action-at-layer-1": dict(activation="elu", critic_action_layer=1),
            "relu-no-fast-path": dict()}


@pytest.mark.parametrize("algo", ["ddpg", "td3"])
@pytest.mark.parametrize("network", list(NETWORKS))
def test_vmap_update_of_other_networks_equals_single_runs(algo, network):
    """Networks the fast path does not cover: 50 updates of 3 members (different seeds and
    hyperparameters) through VmapStep (torch.func vmap of the autograd update) against each
    member's own reference update (ddpg_step / td3_step). DDPG: each member as close to its
    float64 computation as the single agent's float32 one (the fast path's tolerance argument);
    TD3 compared directly (its smoothing noise is drawn in float32)."""
    from ddpg.population.functional import VmapStep, unsupported

    extra = dict(fast_path=False) if network == "relu-no-fast-path" else {}
    configs = member_configs(algo, network=NETWORKS[network], **extra)
    pop = agents(configs)
    assert all(a.fast is None for a in pop) and unsupported(pop) is None
    step = VmapStep(pop)
    info = run_and_compare(configs, pop, step, algo)
    assert info["critic_loss"].shape == info["actor_loss"].shape == (3,)
    assert all(p.grad is None for p in pop[0].actor.parameters())  # no .grad left behind
    for m in range(3):  # the members' optimizers hold views of the stacked moments
        assert torch.equal(pop[m].actor_optimizer.exp_avg[0], step.actor_optimizer.exp_avg[0][m])
    # batch normalisation's running statistics are not vmapped: member by member
    assert unsupported(agents([Config(network=NetworkConfig(hidden_sizes=(8,), norm="batch"),
                                      progress=False)])) == "batch normalisation"


@pytest.mark.parametrize("network", ["relu", "tanh-layernorm"])
def test_population_training_matches_single_runs_for_the_first_updates(network, capfd):
    """The whole loop: a population of 2 and the single runs of the same seeds collect the
    same transitions and reach the same parameters after 51 updates, to the rounding that the
    batched products and the environments' feedback carry (relu: the fast path's FastStep;
    tanh with layer norm: VmapStep)."""
    c = small(total_steps=150, warmup_steps=100, eval_every=0, eval_episodes=1,
              tensorboard=False, checkpoint_every=0)
    if network != "relu":
        c = dataclasses.replace(c, network=NetworkConfig(hidden_sizes=(32, 24), **NETWORKS[network]))
    with_tmp = dataclasses.replace(c, out=str(Path(os.environ.get("TMPDIR", "/tmp"))))
    pop = train_population(dataclasses.replace(with_tmp, run_name=f"pop-{time.time_ns()}"),
                           seeds=[0, 1])
    err = capfd.readouterr().err
    assert ("torch.func vmap" in err) == (network != "relu")
    # VmapStep on several threads: the start-up line says where the bits are reproducible
    assert ("with --threads 1 only" in err) == (network != "relu" and torch.get_num_threads() > 1)
    for i, seed in enumerate([0, 1]):
        one = train(dataclasses.replace(with_tmp, seed=seed, run_name=f"one-{time.time_ns()}"))
        member = pop.results[i]
        assert member.agent.updates == one.agent.updates == 51  # steps 100 to 150
        for p, q in zip(member.agent.actor.parameters(), one.agent.actor.parameters()):
            assert torch.allclose(p, q, rtol=0, atol=1e-4), (p - q).abs().max()
        np.testing.assert_allclose(member.buffer.rewards.numpy(), one.buffer.rewards.numpy(),
                                   atol=1e-3)
        # the warm-up, which the policy does not touch, is the same bit for bit
        assert torch.equal(member.buffer.actions[:100], one.buffer.actions[:100])


@pytest.mark.parametrize("algo", ["ddpg", "td3"])
def test_a_population_of_one_trains_as_its_single_run(tmp_path, algo):
    """A population of one member (a sweep trial with one seed is one) takes the stacked
    update with M = 1 and ends where the single run of its seed ends, to float32 rounding."""
    cfg = small(total_steps=300, warmup_steps=100, eval_every=300, eval_episodes=1,
                batch_size=16, out=str(tmp_path), tensorboard=False, algo=algo, threads=1)
    pop = train_population(dataclasses.replace(cfg, run_name="pop"), seeds="3")
    one = train(dataclasses.replace(cfg, seed=3, run_name="one"))
    member = ddpg.load(tmp_path / "pop" / "s3")
    for p, q in zip(member.actor.parameters(), one.agent.actor.parameters()):
        assert torch.allclose(p, q, rtol=1e-4, atol=1e-5)
    assert pop.final_returns()["s3"] is not None


def test_members_are_independent(tmp_path):
    """Changing one member's environment (its seed's environment replaced by a scaled-reward
    one via gamma... here: its learning rate) leaves the other members bit-identical."""
    c = small(total_steps=300, warmup_steps=100, eval_every=0, eval_episodes=1,
              tensorboard=False, checkpoint_every=0, out=str(tmp_path))
    a = train_population(dataclasses.replace(c, run_name="a"), seeds=[0, 1, 2])
    members = expand(c, [0, 1, 2])
    members[1] = (members[1][0], dataclasses.replace(members[1][1], actor_lr=0.05))
    from ddpg.population.run import Population

    b = Population(members, "Pendulum-v1", directory=tmp_path / "b").run()
    for i in (0, 2):
        for p, q in zip(a.results[i].agent.actor.parameters(), b.results[i].agent.actor.parameters()):
            assert torch.equal(p, q)
    assert not all(torch.equal(p, q) for p, q in zip(a.results[1].agent.actor.parameters(),
                                                      b.results[1].agent.actor.parameters()))


def test_a_member_with_another_environment_leaves_the_others_bit_identical(tmp_path):
    import gymnasium as gym

    c = small(total_steps=250, warmup_steps=100, eval_every=0, eval_episodes=1,
              tensorboard=False, checkpoint_every=0, out=str(tmp_path))
    base = train_population(dataclasses.replace(c, run_name="base"), seeds=[0, 1])

    class Doubled(gym.RewardWrapper):
        def reward(self, r):
            return 2 * r

    made = []

    def env():  # member 1 gets the changed environment (members make theirs in order)
        made.append(1)
        e = gym.make("Pendulum-v1")
        return Doubled(e) if len(made) > 2 else e

    other = train_population(dataclasses.replace(c, run_name="other"), env, seeds=[0, 1])
    for p, q in zip(base.results[0].agent.critic.parameters(),
                    other.results[0].agent.critic.parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(base.results[1].buffer.rewards, other.results[1].buffer.rewards)


def test_a_member_that_drops_a_transition_writes_its_own_rows_and_the_others_stay_exact(
        tmp_path):
    """The population writes every member's transitions in one call while their rings line up;
    a member that drops a non-finite transition (--on-nonfinite skip) falls out of line and
    writes its own from then on. Member 0's rows stay bit-identical to a population where no
    member dropped anything; member 1 holds only finite rows, one fewer."""
    import gymnasium as gym

    c = small(total_steps=260, warmup_steps=100, eval_every=0, eval_episodes=1,
              tensorboard=False, checkpoint_every=0, out=str(tmp_path), on_nonfinite="skip")
    base = train_population(dataclasses.replace(c, run_name="base"), seeds=[0, 1])

    class NaNOnce(gym.ObservationWrapper):
        steps = 0

        def observation(self, obs):
            NaNOnce.steps += 1
            return obs * np.nan if NaNOnce.steps == 50 else obs

    made = []

    def env():  # member 1's training environment gets the NaN (members make theirs in order)
        made.append(1)
        e = gym.make("Pendulum-v1")
        return NaNOnce(e) if len(made) == 3 else e

    other = train_population(dataclasses.replace(c, run_name="other"), env, seeds=[0, 1])
    b0, o0, o1 = base.results[0].buffer, other.results[0].buffer, other.results[1].buffer
    r0, s0 = b0.rows(0, b0.total), o0.rows(0, o0.total)
    assert all(torch.equal(r0[k], s0[k]) for k in r0)
    assert o1.total == b0.total - 1 and o1.pos != o0.pos
    assert all(bool(torch.isfinite(t).all()) for t in o1.rows(0, o1.total).values())


def test_an_environment_instance_names_the_population_and_results_print_in_a_line(tmp_path):
    from gymnasium.envs.classic_control.pendulum import PendulumEnv
    from gymnasium.wrappers import TimeLimit

    class MyPendulum(PendulumEnv):  # made without gymnasium.make: no spec, its class names it
        pass

    c = small(total_steps=150, warmup_steps=100, eval_every=150, eval_episodes=1,
              tensorboard=False, checkpoint_every=0, out=str(tmp_path))
    pop = train_population(c, TimeLimit(MyPendulum(), 200), seeds=[0, 1])
    assert pop.directory.name.startswith("MyPendulum-ddpg-pop-")  # as a single run's would
    text = repr(pop)
    assert "\n" not in text and len(text) < 400 and "'s1': 'done'" in text
    assert f"final_return={pop.results[1].final_return:.1f}" in repr(pop.results[1])
    made = []  # a function making the environment names it too, and is called as often

    def maker():
        made.append(TimeLimit(MyPendulum(), 200))
        return made[-1]

    pop = train_population(c, maker, seeds=[0, 1])
    assert pop.directory.name.startswith("MyPendulum-ddpg-pop-"), pop.directory
    assert len(made) == 3 and all(isinstance(r.final_return, float) for r in pop.results)


def test_per_member_hyperparameters_reach_their_member(tmp_path):
    c = small(total_steps=200, warmup_steps=100, eval_every=0, eval_episodes=1,
              tensorboard=False, checkpoint_every=0, out=str(tmp_path), run_name="sw")
    pop = train_population(c, seeds="0", sweep=["actor_lr=1e-4,1e-3", "tau=0.005,0.02"])
    assert pop.names == ["actor_lr=0.0001-tau=0.005-s0", "actor_lr=0.0001-tau=0.02-s0",
                         "actor_lr=0.001-tau=0.005-s0", "actor_lr=0.001-tau=0.02-s0"]
    for name, result in zip(pop.names, pop.results):
        saved = cfgmod.load_yaml(tmp_path / "sw" / name / "config.yaml", Config())
        assert result.agent.actor_optimizer.lr == saved.actor_lr
        assert f"actor_lr={saved.actor_lr}" in name and f"tau={saved.tau}" in name
    # the same seed with a larger learning rate moves the actor further from its start
    start = agents([small(seed=0)])[0]
    dist = [sum((p - q).abs().sum().item() for p, q in zip(r.agent.actor.parameters(),
                                                          start.actor.parameters()))
            for r in pop.results]
    assert dist[2] > 3 * dist[0]
    summary = (tmp_path / "sw" / "summary.csv").read_text().splitlines()
    assert summary[0].split(",")[:4] == ["member", "seed", "actor_lr", "tau"]


def test_a_diverging_member_is_stopped_alone(tmp_path):
    c = small(total_steps=600, warmup_steps=100, eval_every=200, eval_episodes=1,
              tensorboard=False, checkpoint_every=200, out=str(tmp_path), run_name="div")
    pop = train_population(c, seeds="0", sweep=["critic_lr=1e-3,1e12"])
    bad, good = pop.names[1], pop.names[0]
    assert pop.status == {good: "done", bad: "diverged"}
    assert pop.results[1] is None and pop.results[0].agent.updates == 501
    manifest = json.loads((tmp_path / "div" / "population.json").read_text())
    entry = next(m for m in manifest["members"] if m["name"] == bad)
    assert "non-finite" in entry["message"]
    steps = sorted(int(p.name[5:17]) for p in (tmp_path / "div" / bad / "checkpoints").glob("*.json"))
    # reported with its last good checkpoint, which is what its folder holds
    assert (f"step {steps[-1]}" if steps else "none yet") in entry["message"]
    assert "diverged" in (tmp_path / "div" / "summary.md").read_text()


def test_seed_and_sweep_parsing():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    assert parse_seeds(range(2)) == [0, 1]
    for bad in ("", "3-1", "a", "1,1"):
        with pytest.raises(ConfigError):
            parse_seeds(bad)
    assert parse_sweep(["tau=0.1,0.2"]) == {"tau": ["0.1", "0.2"]}
    with pytest.raises(ConfigError, match="batch_size"):
        parse_sweep(["batch_size=64,128"])
    with pytest.raises(ConfigError, match="Did you mean 'actor_lr'"):
        parse_sweep(["actor_l=1"])
    with pytest.raises(ConfigError, match="FIELD=V1"):
        parse_sweep(["tau"])
    with pytest.raises(ConfigError, match="wrong type"):
        expand(Config(), "0", {"tau": ["fast"]})


def test_members_must_share_shapes_and_schedule(tmp_path):
    from ddpg.population.run import Population

    members = [("a", small(seed=0, out=str(tmp_path))),
               ("b", small(seed=1, batch_size=128, out=str(tmp_path)))]
    with pytest.raises(ConfigError, match="batch_size"):
        Population(members, "Pendulum-v1", directory=tmp_path / "p")


def test_saved_member_files_hold_only_their_member(tmp_path):
    """A member's parameters are slices of the stacked tensors; what it saves is its own."""
    c = small(total_steps=150, warmup_steps=100, eval_every=0, eval_episodes=1,
              tensorboard=False, out=str(tmp_path), run_name="p")
    pop = train_population(c, seeds="0-3")
    one = pop.directory / pop.names[0] / "policy.pt"
    assert one.stat().st_size < 60_000  # one 32-24 actor, not four
    policy = ddpg.load(one)
    obs = np.zeros((1, 3), dtype=np.float32)
    assert np.allclose(policy.act(obs), pop.results[0].policy.act(obs))


KILL_SCRIPT = """
import sys, ddpg
from ddpg.config import Config, NetworkConfig
act = sys.argv[4]
net = NetworkConfig(hidden_sizes=(32, 24), activation=act, norm="none" if act == "relu" else "layer")
c = Config(network=net, total_steps=1200, warmup_steps=200,
           eval_every=300, eval_episodes=2, checkpoint_every=100, progress=False,
           tensorboard=False, out=sys.argv[1], run_name=sys.argv[2], algo=sys.argv[3],
           threads=int(sys.argv[5]))
ddpg.train(c, seeds="0-2", sweep=["tau=0.005,0.01"] if sys.argv[3] == "td3" else None)
"""


@pytest.mark.parametrize("algo,activation", [("ddpg", "relu"), ("td3", "relu"),
                                              ("td3", "tanh")])
def test_population_killed_and_resumed_is_bit_identical(tmp_path, algo, activation):
    """relu: the fast path's FastStep (every core); tanh with layer norm: VmapStep, on one
    thread: with more, MKL's batched products over the members occasionally split their work
    differently and two uninterrupted runs differ in the last bits (docs/populations.md)."""
    env = {**os.environ, "PYTHONPATH": str(Path(ddpg.__file__).parents[1])}
    threads = "0" if activation == "relu" else "1"
    subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tmp_path), "full", algo, activation,
                    threads], check=True, env=env, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path), "killed", algo,
                             activation, threads],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = tmp_path / "killed" / "population.json"
    deadline = time.time() + 120
    while time.time() < deadline:  # kill once some checkpoint is committed, mid-run
        if manifest.exists() and (json.loads(manifest.read_text()).get("step") or 0) >= 500:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = json.loads(manifest.read_text())["step"]
    assert step is not None and step < 1200
    from ddpg.population import resume_population

    before = torch.get_num_threads()
    try:
        resumed = resume_population(tmp_path / "killed")  # with the run's saved --threads
    finally:
        torch.set_num_threads(before)
    full = json.loads((tmp_path / "full" / "population.json").read_text())
    assert [m["status"] for m in full["members"]] == list(resumed.status.values())
    for name, result in zip(resumed.names, resumed.results):
        ref = torch.load(_newest(tmp_path / "full" / name), weights_only=True)
        got = torch.load(_newest(tmp_path / "killed" / name), weights_only=True)
        for part in ("actor", "critic", "actor_target", "critic_target", "actor_optimizer",
                     "critic_optimizer"):
            _assert_equal(ref["agent"][part], got["agent"][part])
        a = _metrics(tmp_path / "full" / name / "metrics.csv")
        b = _metrics(tmp_path / "killed" / name / "metrics.csv")
        assert a == b


def _newest(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("ckpt-*.pt"))[-1]


def _assert_equal(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_equal(a[k], b[k])
    elif isinstance(a, list):
        for x, y in zip(a, b):
            _assert_equal(x, y)
    else:
        assert a == b


def _metrics(path: Path) -> list[list[str]]:
    import csv

    rows = list(csv.DictReader(path.open()))
    return [[v for k, v in r.items() if k not in ("time_s", "steps_per_s")]
            for r in rows]


def test_cli_trains_and_resumes_a_population(tmp_path, capfd):
    from ddpg.cli import main

    args = ["train", "--seeds", "0,1", "--total-steps", "300", "--warmup-steps", "100",
            "--eval-every", "150", "--eval-episodes", "1", "--network.hidden-sizes", "32", "24",
            "--out", str(tmp_path), "--run-name", "cli", "--no-progress", "--no-tensorboard"]
    assert main(args) == 0
    # each member's evaluation lines carry its name: 2 members x evaluations at 150, 300
    lines = [ln for ln in capfd.readouterr().err.splitlines() if " eval " in ln]
    assert sorted(ln.split()[0] + ln.split()[2] for ln in lines) == ["s0150", "s0300",
                                                                     "s1150", "s1300"]
    pop = tmp_path / "cli"
    assert sorted(p.name for p in pop.iterdir() if p.is_dir()) == ["s0", "s1"]
    # ddpg eval of the population: every member on the same seeds, then their IQM
    assert main(["eval", str(pop), "--episodes", "1"]) == 0
    out = capfd.readouterr().out.splitlines()
    member = {ln.split(":")[0]: float(ln.split("return ")[1].split()[0]) for ln in out[:2]}
    assert sorted(member) == ["s0", "s1"] and "2 members, return IQM" in out[2]
    assert f"min {min(member.values()):.1f}, max {max(member.values()):.1f}" in out[2]
    assert main(["eval", str(pop / "s1"), "--episodes", "1"]) == 0  # a member, as any run
    assert capfd.readouterr().out.split("return ")[1].split()[0] == f"{member['s1']:.1f}"
    assert cfgmod.load_yaml(pop / "s1" / "config.yaml", Config()).seed == 1
    assert ddpg.load(pop / "s1").metadata["seed"] == 1
    assert main(["train", "--resume", str(pop), "--total-steps", "400", "--no-progress",
                 "--threads", "1"]) == 0
    assert torch.get_num_threads() == 1
    assert json.loads((pop / "population.json").read_text())["step"] == 400
    assert main(args) == 2  # the same --run-name again: a clear error, nothing overwritten


def test_plot_of_a_population_draws_a_curve_per_swept_value(tmp_path):
    pytest.importorskip("matplotlib")
    from ddpg.bench.plot import plot_main
    from ddpg.bench.rundata import group_runs, load_runs

    c = small(total_steps=200, warmup_steps=100, eval_every=100, eval_episodes=1,
              tensorboard=False, out=str(tmp_path), run_name="p")
    train_population(c, seeds="0-1", sweep=["tau=0.005,0.01"])
    groups = group_runs(load_runs([tmp_path / "p"]))
    assert sorted(label for _, label in groups) == [
        "ddpg DDPG (Pendulum-v1) tau=0.005", "ddpg DDPG (Pendulum-v1) tau=0.01"]
    assert all(len(runs) == 2 for runs in groups.values())  # mean and band over the seeds
    assert plot_main([str(tmp_path / "p"), "--out", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 0


def test_replay_memory_per_member_is_the_raw_size_of_its_fields(tmp_path):
    """One (members, capacity, width) float32 tensor holds every member's rows; no member has
    a copy of its own: per member exactly capacity x (2 obs + act + reward + done) x 4 bytes."""
    from ddpg.population.run import Population

    c = small(total_steps=120, warmup_steps=100, eval_every=0, eval_episodes=1,
              tensorboard=False, out=str(tmp_path))
    pop = Population(expand(c, "0-2"), "Pendulum-v1", directory=tmp_path / "m")
    raw = 120 * (2 * 3 + 1 + 1 + 1) * 4
    assert pop._rows.nbytes == 3 * raw
    for i, m in enumerate(pop.members):
        assert m.buffer.nbytes == raw
        assert m.buffer._data.data_ptr() == pop._rows[i].data_ptr()
    pop.run()


@pytest.mark.slow
def test_default_pendulum_preset_as_a_population_of_10_solves_on_every_member(tmp_path):
    """The learning bar of populations: `ddpg train --seeds 0-9 --total-steps 10000` (the
    default preset) solves Pendulum-v1 (noise-free evaluation >= -200) on 10 of 10 members."""
    config = cfgmod.resolve(None, None, "Pendulum-v1", "ddpg")
    config = dataclasses.replace(config, total_steps=10_000, out=str(tmp_path), progress=False,
                                 tensorboard=False)
    pop = train_population(config, seeds="0-9")
    finals = pop.final_returns()
    assert all(r is not None and r >= -200 for r in finals.values()), finals


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_populations_set_up_stops_it_at_once_leaving_no_folder(tmp_path, sig):
    """Started with SIGINT ignored, as a shell starts a background job (Python then never
    raised KeyboardInterrupt: 1,000 members were set up and trained through Ctrl-C), and
    signalled while its members are being built: it stops within seconds and removes the
    population's folder, which holds no checkpoint to resume from yet."""
    out, log = tmp_path / "runs", tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ddpg.cli", "train", "--seeds", "0-999", "--total-steps",
             "300", "--network.hidden-sizes", "32", "--no-tensorboard", "--no-progress",
             "--out", str(out)], stderr=stderr,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob("*/s2")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # until the third member's folder is made
        assert list(out.glob("*/s2")), log.read_text()
        proc.send_signal(sig)
        sent = time.perf_counter()
        proc.wait(timeout=30)
        took = time.perf_counter() - sent
    finally:
        proc.kill()
    err = log.read_text()
    assert proc.returncode == 128 + sig, err
    assert "setting up 1,000 members: about" in err and "ddpg: interrupted." in err
    assert took < 5
    assert not out.exists()
