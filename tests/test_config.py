import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from ddpg import config as C
from ddpg.config import Config, ConfigError


def test_precedence_defaults_preset_file(tmp_path):
    assert C.from_preset("default") == dataclasses.replace(Config(), preset="default")
    seed = C.from_preset("seed")
    assert (seed.batch_size, seed.tau, seed.gamma, seed.network.hidden_sizes) == (64, 0.001, 0.99,
                                                                                  (400, 300))
    f = tmp_path / "c.yaml"
    f.write_text("batch_size: 32\nnetwork:\n  hidden_sizes: [64, 64]\nnoise:\n  kind: ou\n")
    c = C.resolve("pendulum", f)
    assert c.batch_size == 32 and c.network.hidden_sizes == (64, 64) and c.noise.kind == "ou"
    assert c.tau == C.PRESETS["pendulum"]["tau"]  # preset value kept where the file is silent
    assert c.noise.sigma == C.PRESETS["pendulum"]["noise"]["sigma"]


def test_env_picks_its_tuned_preset():
    assert C.resolve(env="Pendulum-v1") == C.from_preset("pendulum")
    assert C.resolve(env="HalfCheetah-v5") == C.from_preset("halfcheetah")
    assert C.resolve(env="Hopper-v5", algo="td3").preset == "hopper-td3"
    assert C.resolve(env="Swimmer-v5") == C.from_preset("general")  # no tuned preset
    assert C.resolve(env="Swimmer-v5", algo="td3").preset == "general-td3"
    assert C.resolve() == C.from_preset("pendulum")  # a bare run is Pendulum-v1


def test_unknown_yaml_key_suggests(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("batch_sise: 32\n")
    with pytest.raises(ConfigError, match="unknown config key 'batch_sise'.*'batch_size'"):
        C.resolve("default", f)
    f.write_text("noise:\n  sigmma: 0.2\n")
    with pytest.raises(ConfigError, match="noise.*'sigmma'.*'sigma'"):
        C.resolve("default", f)


def test_unknown_preset_suggests():
    with pytest.raises(ConfigError, match="unknown preset 'pendullum'.*'pendulum'"):
        C.from_preset("pendullum")


def test_wrong_types_and_bad_yaml(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("batch_size: big\n")
    with pytest.raises(ConfigError, match="batch_size='big' has the wrong type"):
        C.resolve("default", f)
    f.write_text("actor_lr: 1e-4\n")  # YAML 1.1 reads this as a string: accepted as a float
    assert C.resolve("default", f).actor_lr == 1e-4
    f.write_text("a: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        C.resolve("default", f)
    with pytest.raises(ConfigError, match="cannot read config file"):
        C.resolve("default", tmp_path / "missing.yaml")


@pytest.mark.parametrize("changes,match", [
    ({"actor_lr": 0.0}, "actor_lr=0.0"),
    ({"critic_lr": -1e-3}, "critic_lr=-0.001"),
    ({"tau": 0.0}, r"tau=0.0 .*\(0, 1\]"),
    ({"tau": 1.5}, "tau=1.5"),
    ({"gamma": 1.01}, "gamma=1.01"),
    ({"batch_size": 128, "buffer_size": 64}, "buffer_size=64.*batch_size"),
    ({"warmup_steps": 200, "total_steps": 100}, "warmup_steps=200"),
    ({"noise": C.NoiseConfig(random_eps=1.5)}, r"noise.random_eps=1.5 .*\[0, 1\]"),
    ({"action_l2": -1.0}, r"action_l2=-1.0 .*non-negative"),
    ({"target_min": 0.0, "target_max": -50.0}, r"target_min=0.0 .*target_min < target_max"),
    ({"target_max": float("nan")}, r"target_max=nan"),
    ({"target_min": -50.0, "algo": "td7", "replay": "lap"}, r"target_min=-50.0 .*TD7"),
    ({"action_l2": float("nan")}, r"action_l2=nan"),
    ({"action_l2": 1.0, "algo": "td7", "replay": "lap"}, r"action_l2=1.0 .*TD7"),
])
def test_invalid_values_named(changes, match):
    with pytest.raises(ConfigError, match=match):
        dataclasses.replace(Config(), **changes)


def test_yaml_round_trip():
    c = C.from_preset("pendulum")
    import yaml

    assert C.merge(Config(), yaml.safe_load(C.to_yaml(c))) == c


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["batch_size", "tau", "gamma", "actor_lr", "noise",
                                        "network", "bogus", "seed", "env"]),
                       st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=True),
                                 st.text(max_size=5), st.none(), st.booleans(),
                                 st.lists(st.integers(-3, 500), max_size=3),
                                 st.dictionaries(st.text(max_size=8), st.integers(), max_size=2))))
def test_merge_fuzz_only_config_errors(overrides):
    try:
        out = C.merge(Config(), overrides)
    except ConfigError:
        return
    assert isinstance(out, Config)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_yaml_loader_fuzz_only_config_errors(tmp_path_factory, text):
    f = tmp_path_factory.mktemp("y") / "c.yaml"
    f.write_text(text)
    try:
        out = C.load_yaml(f, Config())
    except ConfigError:
        return
    assert isinstance(out, Config)
