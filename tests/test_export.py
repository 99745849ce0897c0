"""`ddpg export`: the noise-free policy, raw observation to action in the env's units, as ONNX
(run here with onnxruntime and numpy alone) and TorchScript (torch alone), for any batch size,
with observation normalisation and asymmetric action bounds folded in."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

import ddpg
from ddpg.cli import main
from ddpg.config import Config, NetworkConfig
from ddpg.errors import ConfigError
from ddpg.export import export
from ddpg.networks import Actor
from ddpg.normalization import RunningNorm
from ddpg.policy import Policy

OBS, ACT = 5, 3


def a_policy() -> Policy:
    """Asymmetric per-dimension bounds and normalisation statistics far from 0 and 1, so a
    missing step of either shows in the actions."""
    torch.manual_seed(0)
    actor = Actor(OBS, ACT, 1.0, (32, 16))
    norm = RunningNorm(OBS)
    rng = np.random.default_rng(0)
    norm.update(rng.normal(3.0, 5.0, (500, OBS)))
    meta = {"env": "Mine-v0", "algo": "td3", "obs_dim": OBS, "action_dim": ACT}
    return Policy(actor, np.array([-2.0, 0.0, -0.5]), np.array([1.0, 4.0, 0.5]), meta, norm)


def observations(n: int) -> np.ndarray:
    return np.random.default_rng(n).normal(3.0, 8.0, (n, OBS)).astype(np.float32)


ONNX_ALONE = """
import json, sys
sys.modules["ddpg"] = None  # import ddpg (and torch) fail here
sys.modules["torch"] = None
try:
    import ddpg
except ImportError:
    pass
else:
    raise SystemExit("ddpg imported")
import numpy as np, onnxruntime as ort
session = ort.InferenceSession(sys.argv[1])
obs = np.load(sys.argv[2])
np.save(sys.argv[3], np.concatenate([session.run(None, {"obs": obs[:1]})[0],
                                     session.run(None, {"obs": obs[1:]})[0]]))
"""


def asymmetric_pendulum():
    """Pendulum-v1 with its torque box moved to [-1, 3]: an asymmetric action box."""
    return gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), -1.0, 3.0)


def env_observations(n: int) -> np.ndarray:
    env, out = asymmetric_pendulum(), []
    obs, _ = env.reset(seed=5)
    env.action_space.seed(5)
    for _ in range(n):
        out.append(obs)
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            obs, _ = env.reset()
    return np.asarray(out, dtype=np.float32)


@pytest.mark.parametrize("obs_norm", [False, True])
@pytest.mark.parametrize("algo", ["ddpg", "td3"])
def test_exports_match_the_policy_on_1000_env_observations(tmp_path, algo, obs_norm):
    """Both formats against ddpg.load(RUN).act to 1e-5 on 1,000 observations drawn from the
    environment; the ONNX file run in a subprocess where `import ddpg` and torch fail."""
    cfg = dataclasses.replace(Config(), algo=algo, total_steps=300, warmup_steps=100,
                              batch_size=16, eval_every=300, eval_episodes=1, obs_norm=obs_norm,
                              network=NetworkConfig(hidden_sizes=(32, 16)), out=str(tmp_path),
                              run_name="r", tensorboard=False, progress=False, threads=1)
    run = ddpg.train(cfg, env=asymmetric_pendulum).run_dir
    policy = ddpg.load(run)
    assert policy.low.tolist() == [-1.0] and policy.high.tolist() == [3.0]
    obs = env_observations(1000)
    want = policy.act(obs)
    assert want.std() > 0  # a policy whose actions vary
    assert main(["export", str(run), "--format", "onnx"]) == 0
    np.save(tmp_path / "obs.npy", obs)
    subprocess.run([sys.executable, "-c", ONNX_ALONE, str(run / "policy.onnx"),
                    str(tmp_path / "obs.npy"), str(tmp_path / "got.npy")], check=True)
    got = np.load(tmp_path / "got.npy")
    assert got.shape == want.shape and np.abs(got - want).max() <= 1e-5
    assert main(["export", str(run), "--format", "torchscript"]) == 0
    module = torch.jit.load(str(run / "policy.torchscript.pt"))
    assert np.abs(module(torch.from_numpy(obs)).numpy() - want).max() <= 1e-5
    info = json.loads((run / "policy.onnx.json").read_text())
    assert info["algo"] == algo and info["action_low"] == [-1.0]
    assert (info["obs_norm"] is not None) == obs_norm


def test_torchscript_matches_act_for_any_batch(tmp_path):
    policy = a_policy()
    out, _ = export(policy, "torchscript", tmp_path / "p.torchscript.pt")
    module = torch.jit.load(str(out))
    for n in (1, 4, 33):
        obs = observations(n)
        assert np.allclose(module(torch.from_numpy(obs)).numpy(), policy.act(obs), atol=1e-5)


def tiny_run(tmp_path):
    cfg = dataclasses.replace(Config(), env="Pendulum-v1", total_steps=60, warmup_steps=40,
                              batch_size=8, eval_every=60, eval_episodes=1, obs_norm=True,
                              network=NetworkConfig(hidden_sizes=(8,)), out=str(tmp_path),
                              run_name="r", tensorboard=False, progress=False, threads=1)
    return ddpg.train(cfg).run_dir


def test_cli_exports_a_trained_run_beside_it(tmp_path):
    run = tiny_run(tmp_path)
    assert main(["export", str(run), "--format", "onnx"]) == 0
    import onnxruntime as ort

    session = ort.InferenceSession(str(run / "policy.onnx"))
    obs = np.random.default_rng(1).uniform(-8, 8, (9, 3)).astype(np.float32)
    assert np.allclose(session.run(None, {"obs": obs})[0], ddpg.load(run).act(obs), atol=1e-5)
    assert (run / "policy.onnx.json").is_file()


def test_unknown_format_is_refused(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "tflite"]) == 2
    assert "invalid choice: 'tflite'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="format='tflite' is unknown"):
        export(a_policy(), "tflite", tmp_path / "p")


def test_cli_export_prints_only_its_result_and_records_torch(tmp_path):
    """torch's exporter logged four 'torchvision is not installed' warnings on every `ddpg
    export --format onnx` (issue 30); FILE.json names the torch that wrote the file, as
    docs/howto/export.md says."""
    run = tiny_run(tmp_path)
    done = subprocess.run([sys.executable, "-m", "ddpg.cli", "export", str(run), "--format",
                           "onnx"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-800:]
    assert done.stderr == ""
    assert done.stdout.startswith("onnx: ")
    side = json.loads((run / "policy.onnx.json").read_text())
    assert side["torch_version"] == torch.__version__


def test_export_filters_the_exporters_notices_only_while_it_runs(tmp_path):
    import logging
    import warnings

    from ddpg.export import TORCHVISION_LOGGER

    before = list(warnings.filters)
    export(a_policy(), "onnx", tmp_path / "p.onnx")
    assert logging.getLogger(TORCHVISION_LOGGER).filters == []
    assert warnings.filters == before


ONNX_GOAL_ALONE = """
import json, sys
sys.modules["ddpg"] = None
sys.modules["torch"] = None
import numpy as np, onnxruntime as ort
session = ort.InferenceSession(sys.argv[1])
obs = dict(np.load(sys.argv[2]))
print(json.dumps([i.name for i in session.get_inputs()]))
np.save(sys.argv[3], session.run(None, obs)[0])
"""


def test_a_goal_policy_exports_with_the_dict_keys_as_inputs(tmp_path):
    """A goal-conditioned policy (normalisation on) exports with the inputs achieved_goal,
    desired_goal and observation; fed a Dict's arrays, both formats act as policy.act(dict)."""
    from ddpg.goals import GoalLayout

    torch.manual_seed(1)
    layout = GoalLayout(2, 2, 3)
    norm = RunningNorm(layout.width)
    norm.update(np.random.default_rng(1).normal(2.0, 3.0, (400, layout.width)))
    meta = {"env": "Goal-v0", "algo": "ddpg", "goal": layout.to_dict()}
    policy = Policy(Actor(layout.width, 2, 1.0, (16,)), np.array([-1.0, 0.0]),
                    np.array([1.0, 2.0]), meta, norm)
    rng = np.random.default_rng(2)
    obs = {k: rng.normal(1.0, 4.0, (64, w)).astype(np.float32)
           for k, w in layout.to_dict().items()}
    want = policy.act(obs)
    out, side = export(policy, "onnx", tmp_path / "g.onnx")
    np.savez(tmp_path / "obs.npz", **obs)
    proc = subprocess.run([sys.executable, "-c", ONNX_GOAL_ALONE, str(out),
                           str(tmp_path / "obs.npz"), str(tmp_path / "got.npy")],
                          check=True, capture_output=True, text=True)
    assert json.loads(proc.stdout) == ["achieved_goal", "desired_goal", "observation"]
    assert np.abs(np.load(tmp_path / "got.npy") - want).max() <= 1e-5
    info = json.loads(side.read_text())
    assert info["inputs"] == {"achieved_goal": [2], "desired_goal": [2], "observation": [3]}
    assert "input" not in info
    ts, _ = export(policy, "torchscript", tmp_path / "g.pt")
    module = torch.jit.load(str(ts))
    got = module(*(torch.from_numpy(obs[k]) for k in info["goal_keys_order"])).numpy()
    assert np.abs(got - want).max() <= 1e-5
