"""A first run on one's own environment: its id checked first, presets fitted to a short
budget, the --out folder of one run usable as the run, no hang without a time limit."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import ddpg
from ddpg.cli import main
from ddpg.config import Config, NetworkConfig, fit_budget, from_preset
from ddpg.errors import ConfigError

ENV_MODULE = '''
import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.pendulum import PendulumEnv


class Marked(PendulumEnv):
    """Pendulum that leaves a mark when an evaluation episode (seed >= 1,000,000) starts."""

    def reset(self, *, seed=None, options=None):
        if seed is not None and seed >= 1_000_000 and "EVAL_MARK" in __import__("os").environ:
            open(__import__("os").environ["EVAL_MARK"], "w").close()
        return super().reset(seed=seed, options=options)


gym.register("MyPendulum-v0", entry_point=PendulumEnv, max_episode_steps=200)
gym.register("Endless-v0", entry_point=Marked)  # no time limit: episodes never end
'''


@pytest.fixture
def env_module(tmp_path, monkeypatch):
    (tmp_path / "my_envs.py").write_text(ENV_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def cli(argv):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


FAST = ["--no-progress", "--no-tensorboard", "--threads", "1"]


def test_own_env_by_module_id_trains_to_a_saved_policy_with_no_other_flags(env_module, tmp_path):
    out = tmp_path / "runs"
    rc, stdout, err = cli(["train", "--env", "my_envs:MyPendulum-v0", "--total-steps", "5000",
                           "--out", str(out), *FAST])
    assert rc == 0, err
    run = next(out.iterdir())
    policy = ddpg.load(out)  # the --out folder of one run is that run
    assert policy.metadata["env"] == "my_envs:MyPendulum-v0"
    assert (run / "policy.pt").is_file() and "eval return" in stdout
    assert "preset: general\n" in (run / "config.yaml").read_text()  # no tuned preset for it
    # eval of the --out folder: the id imports a module, so it must be confirmed
    rc, _, err = cli(["eval", str(out), "--episodes", "1"])
    assert rc == 2 and "pass --env my_envs:MyPendulum-v0" in err
    rc, stdout, err = cli(["eval", str(out), "--episodes", "1", "--env", "my_envs:MyPendulum-v0"])
    assert rc == 0 and "return" in stdout, err
    # resume the --out folder: extends the run in place
    rc, _, err = cli(["train", "--resume", str(out), "--total-steps", "5200",
                      "--env", "my_envs:MyPendulum-v0", "--no-progress", "--threads", "1"])
    assert rc == 0 and f"resuming {run} from step 5000" in err, err
    assert torch.get_num_threads() == 1  # the thread count given to the resumed run


def test_out_folder_with_several_runs_lists_them(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.yaml").write_text("env: Pendulum-v1\n")
    rc, _, err = cli(["eval", str(tmp_path)])
    assert rc == 2 and "holds 2 runs" in err and str(tmp_path / "a") in err
    rc, _, err = cli(["train", "--resume", str(tmp_path)])
    assert rc == 2 and "holds 2 runs" in err


@pytest.mark.parametrize("env,says", [("CartPole-v1", "Discrete action space"),
                                      ("NoSuchEnv-v0", "unknown environment id 'NoSuchEnv-v0'")])
def test_the_environment_is_checked_before_the_config(env, says):
    rc, _, err = cli(["train", "--env", env, "--total-steps", "50"])
    assert rc == 2 and says in err and "warmup" not in err


def test_a_presets_warmup_fits_a_short_budget_unless_set_explicitly():
    c, notes = fit_budget(from_preset("halfcheetah"), 5000, set())
    assert (c.total_steps, c.warmup_steps) == (5000, 500) and c.eval_every == 1000
    assert "warmup_steps=500 (from 10000 in the halfcheetah preset" in notes[0]
    c, notes = fit_budget(from_preset("general"), 5000, set())
    assert c.warmup_steps == 1000 and notes == []  # it fits: unchanged
    with pytest.raises(ConfigError, match="warmup_steps=10000"):
        fit_budget(from_preset("halfcheetah"), 5000, {"warmup_steps"})


def test_from_preset_with_a_short_budget_fits_it_as_the_cli_does(capsys):
    c = from_preset("halfcheetah", total_steps=5000)
    assert (c.total_steps, c.warmup_steps, c.eval_every, c.preset) == (5000, 500, 1000,
                                                                       "halfcheetah")
    assert c.batch_size == from_preset("halfcheetah").batch_size  # the rest is the preset's
    assert "warmup_steps=500 (from 10000 in the halfcheetah preset" in capsys.readouterr().err
    c = from_preset("halfcheetah", total_steps=5000, warmup_steps=300, actor_lr=3e-4,
                    network=NetworkConfig(hidden_sizes=(64, 64)), noise={"sigma": 0.2})
    assert (c.warmup_steps, c.actor_lr, c.network.hidden_sizes, c.noise.sigma) == (
        300, 3e-4, (64, 64), 0.2)
    with pytest.raises(ConfigError, match="warmup_steps=6000 is invalid"):  # given: not fitted
        from_preset("halfcheetah", total_steps=5000, warmup_steps=6000)
    with pytest.raises(ConfigError, match="unknown config key 'batch_sise'.*batch_size"):
        from_preset("pendulum", batch_sise=64)


def test_cli_says_what_it_fitted_and_still_refuses_an_explicit_bad_value(tmp_path):
    rc, _, err = cli(["train", "--preset", "default", "--total-steps", "300", "--out",
                      str(tmp_path), "--network.hidden-sizes", "16", "16", *FAST])
    assert rc == 0 and "warmup_steps=30 (from 10000 in the default preset" in err, err
    rc, _, err = cli(["train", "--total-steps", "300", "--warmup-steps", "400"])
    assert rc == 2 and "warmup_steps=400 is invalid" in err


def test_without_a_preset_each_algorithm_gets_its_general_one():
    from ddpg.config import resolve

    ddpg_c, td3_c = resolve(env="my_envs:Other-v0"), resolve(env="X-v0", algo="td3")
    assert (ddpg_c.preset, td3_c.preset) == ("general", "general-td3")
    assert (td3_c.algo, td3_c.batch_size, td3_c.tau) == ("td3", 100, 0.005)
    assert Config().tau == 0.001 and Config().batch_size == 64  # the lesson's stay the defaults


def test_env_without_time_limit_trains_and_evaluates_and_one_sigterm_stops_its_evaluation(
        env_module, tmp_path):
    base = ["--env", "my_envs:Endless-v0", "--network.hidden-sizes", "16", "16",
            "--warmup-steps", "100", "--batch-size", "32", "--eval-episodes", "1", *FAST]
    rc, _, err = cli(["train", *base, "--total-steps", "300", "--eval-max-steps", "50",
                      "--out", str(tmp_path / "short")])
    assert rc == 0 and "no time limit" in err, err
    assert ddpg.load(tmp_path / "short").metadata["env"] == "my_envs:Endless-v0"

    mark = tmp_path / "eval-started"
    env = {**os.environ, "PYTHONPATH": f"{env_module}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "EVAL_MARK": str(mark)}
    proc = subprocess.Popen([sys.executable, "-m", "ddpg.cli", "train", *base,
                             "--total-steps", "1000", "--eval-every", "200",
                             "--eval-max-steps", "100000000", "--out", str(tmp_path / "long")],
                            env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not mark.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert mark.exists(), proc.stderr.read() if proc.poll() is not None else "no evaluation"
    time.sleep(0.5)  # well inside the 100M-step evaluation
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    assert rc == 143 and time.monotonic() - sent < 10, proc.stderr.read()
    run = next((tmp_path / "long").iterdir())
    assert sorted(p.name for p in (run / "checkpoints").glob("ckpt-*.json")) == [
        "ckpt-000000000200.json"]


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["general", "general-td3"])
@pytest.mark.parametrize("seed", range(5))
def test_general_presets_solve_pendulum_within_20k_steps(preset, seed, tmp_path):
    """What an environment without a tuned preset gets must learn: each general preset solves
    Pendulum-v1 (noise-free evaluation >= -200) within 20k steps on seeds 0-4. About a minute
    a run on 2 cores; recorded in docs/results.md (suite benchmarks/suites/general.yaml)."""
    cfg = dataclasses.replace(from_preset(preset), env="Pendulum-v1", seed=seed,
                              total_steps=20_000, eval_every=1000, out=str(tmp_path),
                              tensorboard=False, progress=False)
    res = ddpg.train(cfg)
    assert res.steps_to_solve(-200) is not None, [r["eval_return_mean"] for r in res.evaluations]
