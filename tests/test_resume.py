"""Exact resume after SIGKILL, SIGINT/SIGTERM handling, and errors around checkpoints."""

import csv
import dataclasses
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ddpg
from ddpg.checkpoint import CheckpointManager
from ddpg.config import Config, NetworkConfig
from ddpg.errors import ConfigError, TrainingError

from conftest import LineEnv

SMALL = ["--env", "Pendulum-v1", "--warmup-steps", "100", "--batch-size", "16",
         "--network.hidden-sizes", "32", "32", "--eval-every", "250", "--eval-episodes", "2",
         "--checkpoint-every", "100", "--keep-checkpoints", "2", "--seed", "3", "--no-progress"]
WALL = {"time_s", "steps_per_s"}


def ddpg_cmd(*args):
    return [sys.executable, "-m", "ddpg.cli", *args]


def final_state(run_dir: Path):
    loaded, problems = CheckpointManager(run_dir / "checkpoints").latest()
    assert not problems
    return loaded


def metrics(run_dir: Path):
    with open(run_dir / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k not in WALL} for r in csv.DictReader(f)]


def assert_same_state(a, b):
    assert a.step == b.step
    for net in ("actor", "critic", "actor_target", "critic_target"):
        for k, v in a.state["agent"][net].items():
            assert torch.equal(v, b.state["agent"][net][k]), (net, k)
    for opt in ("actor_optimizer", "critic_optimizer"):
        sa, sb = a.state["agent"][opt], b.state["agent"][opt]
        for k in ("exp_avg", "exp_avg_sq", "steps"):
            assert len(sa[k]) == len(sb[k]) > 0
            for x, y in zip(sa[k], sb[k]):
                assert torch.equal(x, y), (opt, k)
    assert a.state["agent"]["noise"] == b.state["agent"]["noise"]
    for k in a.buffer["rows"]:
        assert torch.equal(a.buffer["rows"][k], b.buffer["rows"][k])


@pytest.mark.parametrize("noise", ["gaussian", "ou", "gaussian --noise.random-eps 0.3"])
def test_sigkill_at_random_point_then_resume_is_bit_identical(tmp_path, noise):
    args = [*SMALL, "--total-steps", "1500", "--noise.kind", *noise.split(), "--out",
            str(tmp_path)]
    subprocess.run(ddpg_cmd("train", *args, "--run-name", "ref"), check=True,
                   capture_output=True)
    proc = subprocess.Popen(ddpg_cmd("train", *args, "--run-name", "killed"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 120
    while not list(ckpts.glob("ckpt-*.json")) and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(random.Random().uniform(0.0, 0.6))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed mid-run, not finished
    killed_at = CheckpointManager(ckpts).latest()[0].step
    assert killed_at < 1500
    out = subprocess.run(ddpg_cmd("train", "--resume", str(tmp_path / "killed")),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"from step {killed_at}" in out.stderr
    assert_same_state(final_state(tmp_path / "ref"), final_state(tmp_path / "killed"))
    assert metrics(tmp_path / "ref") == metrics(tmp_path / "killed")
    assert len(metrics(tmp_path / "ref")) == 6  # 250, 500, ..., 1500


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_sigterm_checkpoint_and_exit_code(tmp_path, sig, code):
    args = [*SMALL, "--total-steps", "20000", "--out", str(tmp_path), "--run-name", "r"]
    proc = subprocess.Popen(ddpg_cmd("train", *args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ckpts = tmp_path / "r" / "checkpoints"
    deadline = time.time() + 120
    while not list(ckpts.glob("ckpt-*.json")) and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"Resume with: ddpg train --resume {tmp_path / 'r'}" in err
    loaded = final_state(tmp_path / "r")
    assert 100 <= loaded.step < 20000
    res = ddpg.resume(tmp_path / "r", total_steps=loaded.step + 200)
    assert res.evaluations[-1]["step"] == loaded.step + 200


def test_resume_skips_damaged_newest_and_reports(tmp_path, capsys):
    cfg = dataclasses.replace(Config(), total_steps=300, warmup_steps=100, batch_size=8,
                              eval_every=100, eval_episodes=1, checkpoint_every=100,
                              network=NetworkConfig(hidden_sizes=(8,)), out=str(tmp_path),
                              run_name="r", tensorboard=False, progress=False, env="Pendulum-v1")
    ddpg.train(cfg)
    newest = tmp_path / "r" / "checkpoints" / "ckpt-000000000300.pt"
    newest.write_bytes(newest.read_bytes()[:100])
    res = ddpg.resume(tmp_path / "r", total_steps=400)
    err = capsys.readouterr().err
    assert "skipping a damaged checkpoint" in err and "from step 200" in err
    assert [r["step"] for r in res.evaluations] == [100, 200, 300, 400]
    for f in (tmp_path / "r" / "checkpoints").glob("ckpt-*"):
        f.write_bytes(b"garbage")
    from ddpg.cli import main

    assert main(["train", "--resume", str(tmp_path / "r")]) == 2
    assert "no valid checkpoint" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "r"), "--seed", "4"]) == 2
    assert "drop --seed" in capsys.readouterr().err


def tiny(tmp_path, **kw):
    base = dict(total_steps=200, warmup_steps=50, batch_size=8, buffer_size=1000, eval_every=50,
                eval_episodes=1, checkpoint_every=50, network=NetworkConfig(hidden_sizes=(8,)),
                out=str(tmp_path), run_name="r", tensorboard=False, progress=False)
    return dataclasses.replace(Config(), **{**base, **kw})


def test_nan_parameters_stop_and_keep_last_good_checkpoint(tmp_path):
    def poison(ctx):
        if ctx.step == 120:
            with torch.no_grad():
                next(ctx.agent.critic.parameters()).fill_(float("nan"))

    with pytest.raises(TrainingError, match=r"diverged: the policy.s actions became non-finite by step 121.*step 100.*lower learning rate"):
        ddpg.train(tiny(tmp_path), env=LineEnv(max_steps=10, terminate_at=1e9), on_step=poison)
    loaded, problems = CheckpointManager(tmp_path / "r" / "checkpoints").latest()
    assert loaded.step == 100 and not problems
    assert all(torch.isfinite(v).all() for v in loaded.state["agent"]["critic"].values())


class NaNEnv(LineEnv):
    def step(self, action):
        obs, r, term, trunc, info = super().step(action)
        if self.t == 3:
            r = float("nan")
        return obs, r, term, trunc, info


def test_nonfinite_skip_drops_transitions(tmp_path):
    res = ddpg.train(tiny(tmp_path, on_nonfinite="skip"), env=NaNEnv(max_steps=10,
                                                                      terminate_at=1e9))
    n = len(res.buffer)
    assert 0 < n < 200 and torch.isfinite(res.buffer.rewards[:n]).all()
    assert not (res.buffer.states[:n, 1] == 2).any()  # the t=2 -> 3 transitions were dropped


def test_buffer_that_does_not_fit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("ddpg.sizing.available_memory", lambda: 10_000)
    with pytest.raises(ConfigError, match=r"buffer_size=1000.*needs 32.0 KB.*10.0 KB.*<= 250"):
        ddpg.train(tiny(tmp_path, total_steps=5000), env=LineEnv())


def test_unwritable_out_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    from ddpg.cli import main

    assert main(["train", "--out", str(blocker / "sub"), "--total-steps", "100",
                 "--warmup-steps", "10"]) == 2
    assert f"out={str(blocker / 'sub')!r}" in capsys.readouterr().err
