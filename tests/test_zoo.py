"""rl-baselines3-zoo hyperparameter files (ddpg.interop.zoo): each key mapped onto ddpg's config,
every key ddpg cannot honour refused by name, anchors and merges resolved, presets written back
in the zoo's format, and a zoo Pendulum-v1 entry that trains."""

from __future__ import annotations

import pytest

import ddpg
from ddpg.cli import main
from ddpg.config import from_preset, resolve, to_dict
from ddpg.errors import ConfigError
from ddpg.interop.zoo import from_zoo, to_zoo


def load(tmp_path, text: str, env: str = "Pendulum-v1", algo: str = "td3"):
    path = tmp_path / "zoo.yml"
    path.write_text(text)
    return resolve(config_file=path, env=env, algo=algo)


# (zoo key: value, the config attribute it sets, the value there)
MAPPED = [
    ("n_timesteps: !!float 2e4", "total_steps", 20000),
    ("learning_starts: 1500", "warmup_steps", 1500),
    ("batch_size: 96", "batch_size", 96),
    ("buffer_size: 200000", "buffer_size", 200000),
    ("gamma: 0.98", "gamma", 0.98),
    ("tau: 0.02", "tau", 0.02),
    ("learning_rate: !!float 7e-4", "actor_lr", 7e-4),
    ("learning_rate: 1e-3", "critic_lr", 1e-3),  # YAML 1.1 reads 1e-3 as a string
    ("noise_type: ornstein-uhlenbeck", "noise.kind", "ou"),
    ("noise_type: normal", "noise.kind", "gaussian"),
    ("noise_std: 0.3", "noise.sigma", 0.3),
    ("train_freq: 1\n  gradient_steps: 2", "updates_per_step", 2),
    ("train_freq: [1, step]\n  gradient_steps: -1", "updates_per_step", 1),
    ("policy_delay: 3", "td3.policy_delay", 3),
    ("target_policy_noise: 0.1", "td3.target_noise", 0.1),
    ("target_noise_clip: 0.3", "td3.target_noise_clip", 0.3),
    ("policy_kwargs: 'dict(net_arch=[64, 32])'", "network.hidden_sizes", (64, 32)),
    ("policy_kwargs: 'dict(net_arch=dict(pi=[8], qf=[8]), activation_fn=nn.Tanh)'",
     "network.activation", "tanh"),
    ("policy_kwargs: 'dict(net_arch=[8], n_critics=2)'", "network.hidden_sizes", (8,)),
    ("n_envs: 4", "num_envs", 4),
    ("normalize: true", "obs_norm", True),
    ("normalize: \"{'norm_obs': True, 'norm_reward': False}\"", "obs_norm", True),
    ("policy: MlpPolicy", "algo", "td3"),
]


def attr(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


@pytest.mark.parametrize("line, field, value", MAPPED)
def test_each_zoo_key_is_mapped(tmp_path, line, field, value):
    cfg = load(tmp_path, f"Pendulum-v1:\n  {line}\n")
    assert attr(cfg, field) == value


REFUSED = [
    ("learning_rate: lin_7e-4", "learning_rate: 'lin_7e-4' is a schedule"),
    ("train_freq: [1, episode]", "train_freq: [1, 'episode']"),
    ("train_freq: 4", "train_freq: 4"),
    ("env_wrapper: sb3_contrib.common.wrappers.TimeFeatureWrapper", "env_wrapper"),
    ("normalize: \"{'norm_obs': True, 'norm_reward': True}\"", "does not normalise rewards"),
    ("use_sde: true", "use_sde"),
    ("frame_stack: 4", "frame_stack"),
    ("policy: CnnPolicy", "policy 'CnnPolicy'"),
    ("policy_kwargs: 'dict(net_arch=dict(pi=[8], qf=[16]))'", "share one hidden_sizes"),
    ("policy_kwargs: 'dict(net_arch=[64], log_std_init=-3)'", "log_std_init=-3"),
    ("policy_kwargs: 'dict(net_arch=__import__(\"os\").getcwd())'", "not a literal"),
    ("noise_type: pink", "noise_type 'pink'"),
]


@pytest.mark.parametrize("line, says", REFUSED)
def test_keys_ddpg_cannot_honour_are_refused_by_name(tmp_path, line, says):
    with pytest.raises(ConfigError, match=None) as e:
        load(tmp_path, f"Pendulum-v1:\n  {line}\n")
    assert says in str(e.value) and "[Pendulum-v1]" in str(e.value)


def test_td3_keys_refused_for_ddpg(tmp_path):
    with pytest.raises(ConfigError, match="policy_delay is a TD3 setting"):
        load(tmp_path, "Pendulum-v1:\n  policy_delay: 2\n", algo="ddpg")


def test_anchors_merges_and_the_default_entry(tmp_path):
    text = """
default: &base
  batch_size: 32
  gamma: 0.95
Pendulum-v1:
  <<: *base
  gamma: 0.9
"""
    pend = load(tmp_path, text)
    assert (pend.batch_size, pend.gamma, pend.env) == (32, 0.9, "Pendulum-v1")
    other = load(tmp_path, text, env="MountainCarContinuous-v0")
    assert (other.batch_size, other.gamma, other.env) == (32, 0.95, "MountainCarContinuous-v0")
    with pytest.raises(ConfigError, match="without an entry for 'X-v0'"):
        load(tmp_path, "Pendulum-v1:\n  gamma: 0.9\n", env="X-v0")


def test_a_ddpg_config_file_is_not_taken_for_a_zoo_file(tmp_path):
    cfg = load(tmp_path, "network:\n  hidden_sizes: [8]\nnoise:\n  sigma: 0.2\n")
    assert cfg.network.hidden_sizes == (8,) and cfg.noise.sigma == 0.2


@pytest.mark.parametrize("preset", ["pendulum-td3", "general", "halfcheetah-td3"])
def test_presets_written_in_zoo_format_read_back_the_same(tmp_path, preset, capsys):
    assert main(["presets", "--show", preset, "--format", "zoo"]) == 0
    text = capsys.readouterr().out
    want = from_preset(preset)
    got = load(tmp_path, text, env=want.env, algo=want.algo)
    for field in ("total_steps", "warmup_steps", "batch_size", "buffer_size", "gamma", "tau",
                  "critic_lr", "updates_per_step", "num_envs", "obs_norm", "network.hidden_sizes",
                  "noise.kind", "noise.sigma", "td3.policy_delay", "td3.target_noise"):
        assert attr(got, field) == attr(want, field), field
    assert ("actor_lr" in text) == (want.actor_lr != want.critic_lr)  # said, as a comment


def test_to_zoo_names_what_it_cannot_express():
    text = to_zoo(to_dict(from_preset("paper-2015")), "HalfCheetah-v5")
    for lost in ("critic_weight_decay=0.01", "network.norm='batch'", "noise.dt=1.0"):
        assert f"# not expressible in rl-zoo: {lost}" in text


ZOO_PENDULUM = """
# rl-zoo's format, Pendulum-v1 (settings of ddpg's pendulum preset)
Pendulum-v1:
  n_timesteps: 10000
  policy: 'MlpPolicy'
  gamma: 0.98
  buffer_size: 100000
  learning_starts: 1000
  batch_size: 128
  tau: 0.005
  noise_type: 'normal'
  noise_std: 0.1
  gradient_steps: 1
  train_freq: 1
  learning_rate: !!float 1e-3
  policy_kwargs: "dict(net_arch=[256, 256])"
"""


def test_a_zoo_pendulum_entry_trains_through_config(tmp_path):
    path = tmp_path / "td3.yml"
    path.write_text(ZOO_PENDULUM)
    cfg = resolve(config_file=path, env="Pendulum-v1", algo="td3")
    cfg = cfg.__class__(**{**cfg.__dict__, "out": str(tmp_path), "tensorboard": False,
                           "progress": False, "eval_every": 1000})
    res = ddpg.train(cfg)
    returns = [r["eval_return_mean"] for r in res.evaluations]
    assert res.steps_to_solve(-200) is not None, returns


def test_from_zoo_returns_plain_overrides():
    out = from_zoo({"default": {"gamma": 0.9}}, "Pendulum-v1", "ddpg", "f")
    assert out == {"env": "Pendulum-v1", "gamma": 0.9}
