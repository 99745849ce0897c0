"""`ddpg export`: the noise-free policy, raw observation to action in the env's units, as ONNX
(run here with onnxruntime and numpy alone) and TorchScript (torch alone), for any batch size,
with observation normalisation and asymmetric action bounds folded in."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

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


def test_onnx_runs_with_onnxruntime_alone_and_matches_act(tmp_path):
    policy = a_policy()
    out, side = export(policy, "onnx", tmp_path / "p.onnx")
    # a fresh interpreter that imports neither ddpg nor torch
    code = (
        "import sys, json, numpy as np, onnxruntime as ort\n"
        "s = ort.InferenceSession(sys.argv[1])\n"
        "obs = np.array(json.loads(sys.argv[2]), dtype=np.float32)\n"
        "print(json.dumps([s.run(None, {'obs': obs[:n]})[0].tolist() for n in (1, 7)]))\n"
        "assert 'torch' not in sys.modules and 'ddpg' not in sys.modules\n")
    obs = observations(7)
    got = subprocess.run([sys.executable, "-c", code, str(out), json.dumps(obs.tolist())],
                         capture_output=True, text=True, check=True)
    one, seven = (np.array(x, dtype=np.float32) for x in json.loads(got.stdout))
    want = policy.act(obs)
    assert one.shape == (1, ACT) and seven.shape == (7, ACT)
    assert np.allclose(seven, want, atol=1e-5) and np.allclose(one[0], want[0], atol=1e-5)
    assert (seven >= policy.low).all() and (seven <= policy.high).all()
    info = json.loads(side.read_text())
    assert info["observation_shape"] == [OBS] and info["action_low"] == [-2.0, 0.0, -0.5]
    assert info["env"] == "Mine-v0" and info["algo"] == "td3"
    assert np.allclose(info["obs_norm"]["mean"], policy.obs_norm.mean)


def test_torchscript_matches_act_for_any_batch(tmp_path):
    policy = a_policy()
    out, _ = export(policy, "torchscript", tmp_path / "p.torchscript.pt")
    module = torch.jit.load(str(out))
    for n in (1, 4, 33):
        obs = observations(n)
        assert np.allclose(module(torch.from_numpy(obs)).numpy(), policy.act(obs), atol=1e-5)


def test_cli_exports_a_trained_run_beside_it(tmp_path):
    cfg = dataclasses.replace(Config(), env="Pendulum-v1", total_steps=60, warmup_steps=40,
                              batch_size=8, eval_every=60, eval_episodes=1, obs_norm=True,
                              network=NetworkConfig(hidden_sizes=(8,)), out=str(tmp_path),
                              run_name="r", tensorboard=False, progress=False, threads=1)
    run = ddpg.train(cfg).run_dir
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
