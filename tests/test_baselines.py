"""The stable-baselines3 runner: the same settings as a ddpg Config, ddpg-format run directories
evaluated at the same steps as `ddpg train`."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("stable_baselines3")

from ddpg import config as cfgmod  # noqa: E402
from ddpg.bench.baselines import main, make_model, run_sb3, sb3_differences  # noqa: E402
from ddpg.bench.overrides import nest, override_args, resolve_config  # noqa: E402
from ddpg.errors import ConfigError  # noqa: E402
from ddpg.metrics import COLUMNS  # noqa: E402
from ddpg.bench.rundata import read_run  # noqa: E402
from ddpg.trainer import train  # noqa: E402

TINY = {"network.hidden-sizes": [16, 16], "warmup-steps": 50, "total-steps": 250,
        "eval-every": 100, "eval-episodes": 2, "threads": 1, "tensorboard": False,
        "progress": False, "checkpoint-every": 0}


def header(path: Path) -> tuple[str, ...]:
    with open(path, newline="") as f:
        return tuple(next(csv.reader(f)))


def test_sb3_run_has_ddpg_format_and_the_eval_steps_of_a_ddpg_run(tmp_path):
    config = resolve_config("Pendulum-v1", "td3", None,
                            {**TINY, "out": str(tmp_path / "ddpg"), "run-name": "td3"})
    run_sb3(config, tmp_path / "sb3")
    result = train(config)

    ours, theirs = read_run(result.run_dir), read_run(tmp_path / "sb3")
    assert header(tmp_path / "sb3" / "metrics.csv") == COLUMNS
    assert header(result.run_dir / "metrics.csv") == COLUMNS
    assert (ours.library, theirs.library) == ("ddpg", "sb3")
    assert (theirs.env, theirs.algo, theirs.seed, theirs.preset) == \
        ("Pendulum-v1", "td3", 0, "pendulum-td3")
    np.testing.assert_array_equal(theirs.metrics["step"], [100, 200, 250])  # and at the end
    np.testing.assert_array_equal(theirs.metrics["step"], ours.metrics["step"])
    m = theirs.metrics
    for column in ("eval_return_mean", "eval_return_std", "critic_loss", "actor_loss",
                   "q_estimate", "mc_return", "time_s", "steps_per_s"):
        assert np.isfinite(m[column]).all(), column
    assert np.isnan(m["q_mean"]).all()  # SB3 does not log Q(s, a) of its batches
    np.testing.assert_array_equal(m["sigma"], [0.1, 0.1, 0.1])
    # SB3 trains once num_timesteps > learning_starts: one update fewer than ddpg
    np.testing.assert_array_equal(m["updates"], ours.metrics["updates"] - 1)
    assert (m["eval_return_mean"] < 0).all() and (m["eval_return_mean"] > -2000).all()

    saved = yaml.safe_load((tmp_path / "sb3" / "config.yaml").read_text())
    assert saved["library"] == "sb3"
    runtime = {"out", "run_name", "library", "sb3_version", "sb3_differences"}
    expected = cfgmod.to_dict(config)
    assert {k: v for k, v in saved.items() if k not in runtime} == \
        {k: v for k, v in expected.items() if k not in runtime}
    assert "actor_lr" in saved["sb3_differences"]  # pendulum-td3: actor 5e-4, critic 1e-3


def test_model_gets_the_configs_settings():
    from stable_baselines3.common.noise import OrnsteinUhlenbeckActionNoise

    config = resolve_config("Pendulum-v1", "td3", None, {
        "network.hidden-sizes": [8, 4], "network.activation": "tanh", "batch-size": 32,
        "buffer-size": 1000, "warmup-steps": 7, "tau": 0.01, "gamma": 0.9, "critic-lr": 3e-4,
        "updates-per-step": 2, "noise.kind": "ou", "noise.sigma": 0.3, "noise.theta": 0.2,
        "noise.dt": 0.5, "td3.policy-delay": 3, "td3.target-noise": 0.1,
        "td3.target-noise-clip": 0.4, "seed": 5})
    model = make_model(config)
    assert (model.batch_size, model.buffer_size, model.learning_starts, model.tau,
            model.gamma, model.gradient_steps, model.seed) == (32, 1000, 7, 0.01, 0.9, 2, 5)
    assert model.learning_rate == 3e-4 and model.train_freq.frequency == 1
    assert (model.policy_delay, model.target_policy_noise, model.target_noise_clip) == \
        (3, 0.1, 0.4)
    assert model.policy.net_arch == [8, 4] and model.policy.actor.mu[1].__class__.__name__ == \
        "Tanh"
    assert model.critic.n_critics == 2
    noise = model.action_noise
    assert isinstance(noise, OrnsteinUhlenbeckActionNoise)
    assert (noise._theta, noise._dt) == (0.2, 0.5)
    np.testing.assert_array_equal(noise._sigma, [0.3])
    ddpg = make_model(dataclasses.replace(config, algo="ddpg"))
    assert ddpg.policy_delay == 1 and ddpg.target_noise_clip == 0.0  # no target smoothing
    assert ddpg.critic.n_critics == 1


def test_differences_from_ddpg_are_recorded():
    assert sb3_differences(cfgmod.resolve("pendulum")) == {
        "actor_lr": sb3_differences(cfgmod.resolve("pendulum"))["actor_lr"]}
    paper = sb3_differences(cfgmod.resolve("paper-2015"))
    assert {"actor_lr", "critic_weight_decay", "network.norm", "network.critic_action_layer",
            "network.init"} <= set(paper)
    assert sb3_differences(cfgmod.resolve("seed")) == {}  # equal learning rates, plain nets


def test_overrides_round_trip_through_the_command_line():
    overrides = {"network.hidden-sizes": (16, 16), "warmup-steps": 100, "noise.sigma": 1e-3,
                 "obs-norm": True, "noise.kind": "ou"}
    args = override_args(overrides)
    assert args[:2] == ["--set", "network.hidden-sizes=[16, 16]"]
    assert nest(overrides)["network"] == {"hidden_sizes": (16, 16)}
    c = resolve_config("Pendulum-v1", "ddpg", None, overrides)
    assert (c.network.hidden_sizes, c.warmup_steps, c.noise.sigma, c.obs_norm, c.noise.kind) == \
        ((16, 16), 100, 1e-3, True, "ou")


def test_refuses_a_directory_that_is_not_an_sb3_run(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not an sb3 run directory"):
        run_sb3(resolve_config("Pendulum-v1", "ddpg", None, TINY), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_command_line_help_and_errors(tmp_path, capsys):
    assert main(["--help"]) == 0
    assert "--run-dir" in capsys.readouterr().out
    assert main(["--set", "novalue", "--run-dir", str(tmp_path / "r")]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["--set", "batch-sise=3", "--run-dir", str(tmp_path / "r")]) == 2
    assert "batch_sise" in capsys.readouterr().err
    assert main(["--env", "Pendulum-v9", "--run-dir", str(tmp_path / "r")]) == 2
    assert "Pendulum-v9" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
