"""stable-baselines3 at ddpg's edges: SB3's evaluate_policy runs on a ddpg Policy, and SB3 DDPG
and TD3 model files load as ddpg policies that act as SB3's own predict does, without anything
in the file being unpickled."""

from __future__ import annotations

import base64
import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")
import gymnasium as gym  # noqa: E402
from stable_baselines3 import DDPG, TD3  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

import ddpg  # noqa: E402
from ddpg.cli import main  # noqa: E402
from ddpg.errors import PolicyFileError  # noqa: E402


@pytest.fixture(scope="module")
def sb3_models(tmp_path_factory):
    """A TD3 (ReLU, 32-16) and a DDPG (Tanh, 8) model, trained a few steps so their weights are
    not the initial ones, saved by SB3 itself."""
    d = tmp_path_factory.mktemp("sb3")
    td3 = TD3("MlpPolicy", "Pendulum-v1", learning_starts=20, seed=0,
              policy_kwargs={"net_arch": [32, 16]})
    td3.learn(60)
    td3.save(d / "td3.zip")
    ddpg_model = DDPG("MlpPolicy", "MountainCarContinuous-v0", learning_starts=20, seed=1,
                      policy_kwargs={"net_arch": [8], "activation_fn": torch.nn.Tanh})
    ddpg_model.learn(40)
    ddpg_model.save(d / "ddpg.zip")
    return {"td3": (d / "td3.zip", td3, 3), "ddpg": (d / "ddpg.zip", ddpg_model, 2)}


@pytest.mark.parametrize("algo", ["td3", "ddpg"])
def test_sb3_model_acts_as_sb3_predict(sb3_models, algo):
    path, model, obs_dim = sb3_models[algo]
    policy = ddpg.load(path)
    obs = np.random.default_rng(0).uniform(-5, 5, (1000, obs_dim)).astype(np.float32)
    want, _ = model.predict(obs, deterministic=True)
    got, state = policy.predict(obs)
    assert state is None and np.allclose(got, want, atol=1e-6)
    assert policy.metadata["algo"] == algo and policy.metadata["source"] == "stable-baselines3"


def test_sb3_evaluate_policy_runs_on_a_ddpg_policy(sb3_models):
    path, model, _ = sb3_models["td3"]
    policy = ddpg.load(path)
    def env():
        venv = DummyVecEnv([lambda: Monitor(gym.make("Pendulum-v1"))])
        venv.seed(0)  # the same episodes for both
        return venv

    ours = evaluate_policy(policy, env(), n_eval_episodes=2)
    theirs = evaluate_policy(model, env(), n_eval_episodes=2)
    assert ours[0] != 0 and np.isclose(ours[0], theirs[0], rtol=1e-5)


def test_ddpg_eval_and_export_take_an_sb3_zip(sb3_models, tmp_path, capsys):
    path, _, _ = sb3_models["td3"]
    assert main(["eval", str(path)]) == 2  # no env id in the file: must be given
    err = capsys.readouterr().err
    assert "does not say which environment it was trained on" in err
    assert "pass --env ID" in err and "(None)" not in err
    assert main(["eval", str(path), "--env", "Pendulum-v1", "--episodes", "2"]) == 0
    assert "return" in capsys.readouterr().out
    assert main(["export", str(path), "--format", "torchscript",
                 "--out", str(tmp_path / "p.pt")]) == 0
    assert (tmp_path / "p.pt").is_file()


class _Boom:
    def __reduce__(self):
        return (open, ("/tmp/ddpg-sb3-unpickled-marker", "w"))


def _rewrite(path, tmp_path, change):
    """A copy of an SB3 zip whose data JSON went through `change`."""
    src = zipfile.ZipFile(path)
    out = tmp_path / "changed.zip"
    with zipfile.ZipFile(out, "w") as z:
        for name in src.namelist():
            data = src.read(name)
            if name == "data":
                doc = json.loads(data)
                change(doc)
                data = json.dumps(doc).encode()
            z.writestr(name, data)
    return out


def test_nothing_in_the_file_is_unpickled(sb3_models, tmp_path):
    """Every ':serialized:' field replaced by a pickle that would create a file when loaded:
    loading reads the text beside it and never creates the file."""
    import os

    marker = "/tmp/ddpg-sb3-unpickled-marker"
    if os.path.exists(marker):
        os.remove(marker)
    evil = base64.b64encode(pickle.dumps(_Boom())).decode()

    def poison(doc):
        for value in doc.values():
            if isinstance(value, dict) and ":serialized:" in value:
                value[":serialized:"] = evil

    policy = ddpg.load(_rewrite(sb3_models["td3"][0], tmp_path, poison))
    assert policy.act(np.zeros(3, np.float32)).shape == (1,)
    assert not os.path.exists(marker)


def test_bounds_only_pickled_need_the_env(sb3_models, tmp_path):
    def drop(doc):
        for key in ("low", "high", "low_repr", "high_repr"):
            doc["action_space"].pop(key, None)

    path = _rewrite(sb3_models["td3"][0], tmp_path, drop)
    with pytest.raises(PolicyFileError, match="pass the environment"):
        ddpg.load(path)
    policy = ddpg.load(path, env="Pendulum-v1")
    assert policy.low.tolist() == [-2.0] and policy.high.tolist() == [2.0]
    assert main(["export", str(path), "--format", "torchscript", "--env", "Pendulum-v1",
                 "--out", str(tmp_path / "p.pt")]) == 0
    with pytest.raises(PolicyFileError, match="action space of shape"):
        ddpg.load(path, env="DdpgTestTwoActions-v0")


class TwoActions(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (3,))
    action_space = gym.spaces.Box(-1.0, 1.0, (2,))


gym.register("DdpgTestTwoActions-v0", entry_point=TwoActions)


def test_not_a_model_zip_is_named(tmp_path):
    p = tmp_path / "other.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("data", "{}")
        z.writestr("policy.pth", b"")
    with pytest.raises(PolicyFileError, match="damaged stable-baselines3 model file"):
        ddpg.load(p)
    buf = io.BytesIO()
    torch.save({"actor.mu.0.weight": torch.zeros(2, 2)}, buf)
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("data", "{}")
        z.writestr("policy.pth", buf.getvalue())
    with pytest.raises(PolicyFileError, match="no actor of the form"):
        ddpg.load(p)


# --- goal-conditioned models: DDPG/TD3 + HerReplayBuffer, MultiInputPolicy ----------------------

@pytest.fixture(scope="module")
def her_model(tmp_path_factory):
    """SB3's TD3 with hindsight replay on the tests' goal task, trained a few steps."""
    import goalenv  # noqa: F401 - registers PointReach-v0
    from stable_baselines3 import HerReplayBuffer

    model = TD3("MultiInputPolicy", gym.make("PointReach-v0"), learning_starts=50, seed=2,
                replay_buffer_class=HerReplayBuffer,
                replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"},
                policy_kwargs={"net_arch": [32, 16]})
    model.learn(120)
    path = tmp_path_factory.mktemp("her") / "her.zip"
    model.save(path)
    return path, model


def _dict_obs(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {"observation": rng.uniform(-2, 2, (n, 4)).astype(np.float32),
            "achieved_goal": rng.uniform(-2, 2, (n, 2)).astype(np.float32),
            "desired_goal": rng.uniform(-2, 2, (n, 2)).astype(np.float32)}


def test_an_sb3_her_model_acts_on_dict_observations_as_sb3_predict(her_model):
    path, model = her_model
    policy = ddpg.load(path)
    assert policy.metadata["goal"] == {"achieved_goal": 2, "desired_goal": 2, "observation": 4}
    obs = _dict_obs(500)
    want, _ = model.predict(obs, deterministic=True)
    assert np.allclose(policy.act(obs), want, atol=1e-6)
    one = {k: v[7] for k, v in obs.items()}
    assert np.allclose(policy.predict(one)[0], model.predict(one, deterministic=True)[0],
                       atol=1e-6)

    def env():
        venv = DummyVecEnv([lambda: Monitor(gym.make("PointReach-v0"))])
        venv.seed(0)  # the same episodes for both
        return venv

    ours = evaluate_policy(policy, env(), n_eval_episodes=3, return_episode_rewards=True)
    theirs = evaluate_policy(model, env(), n_eval_episodes=3, return_episode_rewards=True)
    assert ours == theirs


def test_an_sb3_her_model_without_readable_widths_needs_the_env(her_model, tmp_path):
    path, model = her_model

    def drop(doc):
        doc["observation_space"].pop("spaces")

    changed = _rewrite(path, tmp_path, drop)
    with pytest.raises(PolicyFileError, match="Dict observation are stored only in pickled"):
        ddpg.load(changed)
    policy = ddpg.load(changed, env="PointReach-v0")
    obs = _dict_obs(50)
    assert np.allclose(policy.act(obs), model.predict(obs, deterministic=True)[0], atol=1e-6)
    with pytest.raises(PolicyFileError, match="not a goal-conditioned environment"):
        ddpg.load(changed, env="Pendulum-v1")


def test_an_sb3_model_on_another_dict_is_refused_by_name(her_model, tmp_path):
    def rename(doc):
        doc["observation_space"]["spaces"] = doc["observation_space"]["spaces"].replace(
            "'desired_goal'", "'target'")

    with pytest.raises(PolicyFileError, match="Dict of achieved_goal, target, observation"):
        ddpg.load(_rewrite(her_model[0], tmp_path, rename))


def test_an_sb3_model_with_its_dict_keys_in_another_order_is_refused(her_model, tmp_path):
    """SB3 concatenates a Dict's keys in the space's own order; a space built unsorted would
    be read wrongly as sorted, so it is refused by name."""
    def reorder(doc):
        b = lambda n: gym.spaces.Box(-2.0, 2.0, (n,), np.float32)  # noqa: E731
        doc["observation_space"]["spaces"] = str(gym.spaces.Dict(
            {"observation": b(4), "achieved_goal": b(2), "desired_goal": b(2)},
            sort_keys=False).spaces)

    with pytest.raises(PolicyFileError, match="lists its keys as observation, achieved_goal, "
                                              "desired_goal.*sorted by name"):
        ddpg.load(_rewrite(her_model[0], tmp_path, reorder))


def test_dict_widths_are_read_when_long_bounds_wrap_over_lines():
    from ddpg.interop.sb3 import _dict_widths

    low = -np.arange(1, 31, dtype=np.float32)
    space = gym.spaces.Dict({"observation": gym.spaces.Box(low, -low, (30,), np.float32),
                             "achieved_goal": gym.spaces.Box(-1, 1, (3,), np.float32),
                             "desired_goal": gym.spaces.Box(-1, 1, (3,), np.float32)})
    text = str(space.spaces)
    assert "\n" in text  # numpy wraps the bounds
    doc = {":type:": "<class 'gymnasium.spaces.dict.Dict'>", "spaces": text}
    assert _dict_widths(doc) == {"achieved_goal": 3, "desired_goal": 3, "observation": 30}


def test_ddpg_eval_of_an_sb3_her_model_reports_its_success_rate(her_model, capsys):
    assert main(["eval", str(her_model[0]), "--env", "PointReach-v0", "--episodes", "4"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("PointReach-v0: return ") and ", success " in line
    rate = float(line.split(", success ")[1].split()[0])
    assert 0.0 <= rate <= 1.0
