"""TD7 as a run: `--algo td7` trains through the one loop with LAP replay and policy
checkpoints, resumes bit-identically after SIGKILL, and its policy (with the state encoder) loads,
evaluates and exports like DDPG's."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import ddpg
from ddpg.checkpoint import CheckpointManager
from ddpg.config import Config, LAPConfig, NetworkConfig, TD7Config, from_preset, resolve
from ddpg.errors import ConfigError
from ddpg.policy_checkpoints import CheckpointRule

SMALL = ["--env", "Pendulum-v1", "--algo", "td7", "--warmup-steps", "200", "--batch-size", "16",
         "--network.hidden-sizes", "32", "32", "--td7.embedding", "16",
         "--td7.encoder-hidden", "32", "--td7.target-every", "50", "--eval-every", "300",
         "--eval-episodes", "2", "--checkpoint-every", "100", "--keep-checkpoints", "2",
         "--seed", "5", "--no-progress", "--threads", "1"]
WALL = {"time_s", "steps_per_s"}


def small(tmp_path: Path, **kw) -> Config:
    c = from_preset("pendulum-td7", total_steps=1000, warmup_steps=200, batch_size=16,
                    network=NetworkConfig(hidden_sizes=(32, 32)), eval_every=500,
                    eval_episodes=2, out=str(tmp_path), progress=False, tensorboard=False,
                    threads=1)
    return Config(**{**c.__dict__, "td7": TD7Config(embedding=16, encoder_hidden=32,
                                                     target_every=50), **kw})


def test_td7_preset_holds_the_papers_settings():
    c = resolve(env="Hopper-v5", algo="td7")
    assert (c.algo, c.replay, c.preset) == ("td7", "lap", "hopper-td7")
    assert (c.batch_size, c.actor_lr, c.critic_lr, c.td7.encoder_lr) == (256, 3e-4, 3e-4, 3e-4)
    assert (c.td7.target_every, c.lap.alpha, c.lap.min_priority) == (250, 0.4, 1.0)
    assert (c.td3.policy_delay, c.td3.target_noise, c.td3.target_noise_clip) == (2, 0.2, 0.5)
    assert c.network.hidden_sizes == (256, 256) and c.warmup_steps == 25_000
    assert resolve(env="Unknown-v0", algo="td7").preset == "td7"
    assert resolve(env="Pendulum-v1", algo="td7").preset == "pendulum-td7"
    # a DDPG preset asked for TD7 keeps TD7's replay; back to DDPG, uniform again
    assert resolve(preset="pendulum", env="Pendulum-v1", algo="td7").replay == "lap"
    assert resolve(preset="pendulum-td7", algo="ddpg").replay == "uniform"


@pytest.mark.parametrize("change,match", [
    ({"replay": "uniform"}, "replay='uniform'.*TD7 samples with LAP"),
    ({"network": NetworkConfig(hidden_sizes=(400, 300))}, "hidden_sizes.*two equal widths"),
    ({"network": NetworkConfig(hidden_sizes=(256, 256), norm="layer")}, "AvgL1Norm"),
    ({"lap": LAPConfig(alpha=1.5)}, r"lap.alpha=1.5 is invalid"),
    ({"td7": TD7Config(target_every=0)}, r"td7.target_every=0"),
])
def test_td7_settings_that_do_not_fit_are_refused(change, match):
    base = from_preset("pendulum-td7")
    with pytest.raises(ConfigError, match=match):
        Config(**{**base.__dict__, **change})


def test_a_td7_population_equals_its_members_single_runs(tmp_path):
    """Members of a TD7 population (seeds 0 and 1) end where the single runs of their seeds
    end, to the bit: networks, optimizers, targets, checkpoint rule, priorities, metrics. Each
    member's burst of updates runs when its own episodes end."""
    from ddpg.population import train_population

    pop = train_population(small(tmp_path / "pop"), seeds="0,1")
    assert list(pop.status.values()) == ["done", "done"]
    for seed, result in zip((0, 1), pop.results):
        single = ddpg.train(small(tmp_path / "single", seed=seed, run_name=f"s{seed}"))
        a = CheckpointManager(single.run_dir / "checkpoints").latest()[0]
        b = CheckpointManager(result.run_dir / "checkpoints").latest()[0]
        assert a.step == b.step == 1000
        _equal(a.state["agent"], b.state["agent"], "agent")
        _equal(a.state["priorities"], b.state["priorities"], "priorities")
        assert a.state["agent"]["td7"]["rule"]["updates"] > 0
        assert _metrics(single.run_dir) == _metrics(result.run_dir)
    a, b = (CheckpointManager(r.run_dir / "checkpoints").latest()[0] for r in pop.results)
    assert not torch.equal(a.state["agent"]["td7"]["actor"]["phi.weight"],
                           b.state["agent"]["td7"]["actor"]["phi.weight"])


def test_a_td7_population_killed_and_resumed_is_bit_identical(tmp_path):
    args = [*SMALL, "--total-steps", "1200", "--seeds", "0-1", "--out", str(tmp_path)]
    subprocess.run(_ddpg_cmd("train", *args, "--run-name", "ref"), check=True,
                   capture_output=True)
    proc = subprocess.Popen(_ddpg_cmd("train", *args, "--run-name", "killed"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = tmp_path / "killed" / "population.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if manifest.exists() and (json.loads(manifest.read_text()).get("step") or 0) >= 300:
            break
        time.sleep(0.02)
    time.sleep(random.Random().uniform(0.0, 0.5))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert json.loads(manifest.read_text())["step"] < 1200
    out = subprocess.run(_ddpg_cmd("train", "--resume", str(tmp_path / "killed")),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for member in ("s0", "s1"):
        a = CheckpointManager(tmp_path / "ref" / member / "checkpoints").latest()[0]
        b = CheckpointManager(tmp_path / "killed" / member / "checkpoints").latest()[0]
        assert a.step == b.step == 1200
        _equal(a.state["agent"], b.state["agent"], member)
        _equal(a.state["priorities"], b.state["priorities"], member)
        assert _metrics(tmp_path / "ref" / member) == _metrics(tmp_path / "killed" / member)


def test_updates_wait_for_episodes_and_follow_the_checkpoint_rule(tmp_path):
    """Under policy checkpoints no update runs between episode ends; in all, the updates are
    those the rule released for the episodes that ended after warm-up (replayed here from the
    logged episodes), and the evaluated and saved policy is the checkpoint, not the actor."""
    seen, episodes, ret = [], [], 0.0

    def on_step(ctx):
        nonlocal ret
        ret += float(ctx.rewards[0])
        if ctx.episodes > len(episodes):  # an episode ended at this step
            episodes.append((ctx.step, 200, ret))
            ret = 0.0
        seen.append((ctx.step, ctx.agent.updates))

    result = ddpg.train(small(tmp_path), on_step=on_step)
    agent = result.agent
    for (s0, u0), (s1, u1) in zip(seen, seen[1:]):
        if u1 != u0:  # updates ran only where an episode ended after warm-up
            assert s1 % 200 == 0 and s1 >= 200, (s1, u0, u1)
    rule, released = CheckpointRule(20, 750_000, 0.9), 0
    for step, length, r in episodes:
        if step >= 200:
            released += rule.episode_ended(length, r).updates
    assert agent.updates == released == agent.td7.rule.updates > 0
    assert rule.best == agent.td7.rule.best
    s = torch.randn(7, 3)
    assert not torch.equal(agent.td7.checkpoint(s), agent.td7.acting(s))
    loaded = ddpg.load(result.run_dir)
    obs = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    with torch.no_grad():
        want = agent.td7.checkpoint(torch.from_numpy(obs)).numpy() * 2.0  # Pendulum: [-2, 2]
    np.testing.assert_allclose(loaded.act(obs), want, rtol=1e-6, atol=1e-6)


def test_without_checkpoints_updates_follow_the_steps_and_priorities_move(tmp_path):
    c = small(tmp_path, td7=TD7Config(embedding=16, encoder_hidden=32, target_every=50,
                                      checkpoints=False))
    result = ddpg.train(c)
    assert result.agent.updates == c.total_steps - c.warmup_steps + 1
    assert result.agent.policy_module is result.agent.actor
    p = result.buffer.priorities.p
    assert len(set(p.tolist())) > 10  # the sampled rows took their TD errors' priorities
    assert float(p.min()) >= 1.0  # max(|td|, min_priority)^alpha >= 1 with min_priority 1


def _ddpg_cmd(*args):
    return [sys.executable, "-m", "ddpg.cli", *args]


def _metrics(run_dir: Path):
    with open(run_dir / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k not in WALL} for r in csv.DictReader(f)]


def _equal(a, b, where=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _equal(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    args = [*SMALL, "--total-steps", "1200", "--out", str(tmp_path)]
    subprocess.run(_ddpg_cmd("train", *args, "--run-name", "ref"), check=True,
                   capture_output=True)
    proc = subprocess.Popen(_ddpg_cmd("train", *args, "--run-name", "killed"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 120
    while not any(int(p.stem.split("-")[1]) >= 300 for p in ckpts.glob("ckpt-*.json")) \
            and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(random.Random().uniform(0.0, 0.5))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    killed_at = CheckpointManager(ckpts).latest()[0].step
    assert killed_at < 1200
    out = subprocess.run(_ddpg_cmd("train", "--resume", str(tmp_path / "killed")),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    a = CheckpointManager(tmp_path / "ref" / "checkpoints").latest()[0]
    b = CheckpointManager(ckpts).latest()[0]
    assert a.step == b.step == 1200
    _equal(a.state["agent"], b.state["agent"], "agent")  # networks, optimizers, rule, targets
    _equal(a.state["priorities"], b.state["priorities"], "priorities")
    _equal(a.buffer["rows"], b.buffer["rows"], "rows")
    assert a.state["agent"]["td7"]["rule"]["updates"] > 0
    assert _metrics(tmp_path / "ref") == _metrics(tmp_path / "killed")


def test_a_signal_stops_a_burst_between_updates_and_resume_runs_the_rest_first(tmp_path,
                                                                              monkeypatch):
    """SIGTERM during the updates an episode's end released: the run stops after the update in
    progress (not after the whole burst), its checkpoint holds the updates still owed, and the
    resumed run runs them before anything else: it ends bit-identical to an uninterrupted one."""
    from ddpg.agent import Agent
    from ddpg.errors import Interrupted
    from ddpg.resume import resume

    ref = ddpg.train(small(tmp_path, run_name="ref", checkpoint_every=0))
    update, calls = Agent.update, []

    def update_then_signal(self, batch):
        calls.append(1)
        if len(calls) == 350:  # the second burst (from step 400), 150 updates in
            os.kill(os.getpid(), signal.SIGTERM)
        return update(self, batch)

    monkeypatch.setattr(Agent, "update", update_then_signal)
    with pytest.raises(Interrupted):
        ddpg.train(small(tmp_path, run_name="cut", checkpoint_every=0))
    monkeypatch.setattr(Agent, "update", update)
    cut = CheckpointManager(tmp_path / "cut" / "checkpoints").latest()[0]
    assert cut.step == 400 and cut.state["counters"]["owed"] == 50  # 350 of 400 ran
    resume(tmp_path / "cut")
    a = CheckpointManager(ref.run_dir / "checkpoints").latest()[0]
    b = CheckpointManager(tmp_path / "cut" / "checkpoints").latest()[0]
    assert a.step == b.step == 1000
    _equal(a.state["agent"], b.state["agent"], "agent")
    _equal(a.state["priorities"], b.state["priorities"], "priorities")
    assert _metrics(ref.run_dir) == _metrics(tmp_path / "cut")


def test_td7_policy_exports_with_its_encoder_and_runs_without_ddpg(tmp_path):
    pytest.importorskip("onnxruntime")
    result = ddpg.train(small(tmp_path, total_steps=600, eval_every=600))
    out = tmp_path / "policy.onnx"
    subprocess.run(_ddpg_cmd("export", str(result.run_dir), "--format", "onnx", "--out",
                             str(out)), check=True, capture_output=True)
    import onnxruntime as ort

    obs = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    got = ort.InferenceSession(str(out)).run(None, {"obs": obs})[0]
    np.testing.assert_allclose(got, ddpg.load(result.run_dir).act(obs), rtol=1e-5, atol=1e-5)
    ev = subprocess.run(_ddpg_cmd("eval", str(result.run_dir), "--episodes", "2"),
                        capture_output=True, text=True)
    assert ev.returncode == 0, ev.stderr


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_the_pendulum_td7_preset_solves_within_10k_steps(seed, tmp_path):
    """Issue 32's bar: TD7's Pendulum preset solves Pendulum-v1 (noise-free evaluation of the
    checkpoint policy >= -200) within 10k steps on seeds 0-4. About 5 minutes a run on one
    core; recorded in docs/results.md."""
    cfg = from_preset("pendulum-td7", seed=seed, out=str(tmp_path), tensorboard=False,
                      progress=False, threads=1)
    res = ddpg.train(cfg)
    assert res.steps_to_solve(-200) is not None, [r["eval_return_mean"] for r in res.evaluations]
