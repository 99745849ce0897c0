"""ddpg eval --video: noise-free episodes recorded headless, one frame per reset and per step."""

from __future__ import annotations

import dataclasses

import pytest

import ddpg
from ddpg.cli import main
from ddpg.config import Config, NetworkConfig

imageio = pytest.importorskip("imageio.v2")


def test_pendulum_video_has_a_frame_per_step_and_reset(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    cfg = dataclasses.replace(Config(), env="Pendulum-v1", total_steps=60, warmup_steps=40,
                              batch_size=8, eval_every=60, eval_episodes=1,
                              network=NetworkConfig(hidden_sizes=(8,)), out=str(tmp_path),
                              run_name="r", tensorboard=False, progress=False, threads=1)
    run = ddpg.train(cfg).run_dir
    out = tmp_path / "eval.mp4"
    assert main(["eval", str(run), "--episodes", "2", "--video", str(out)]) == 0
    assert "video: " in capsys.readouterr().out
    reader = imageio.get_reader(out)
    assert reader.count_frames() == 2 * (200 + 1)  # Pendulum-v1: 200 steps an episode
    assert reader.get_meta_data()["fps"] == 30 and reader.get_meta_data()["size"] == (500, 500)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers


def test_a_video_needs_a_suffix(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "none"), "--video", str(tmp_path / "v")]) in (1, 2)


def test_mujoco_renders_offscreen_with_egl_where_it_works(tmp_path):
    """MuJoCo needs MUJOCO_GL set before it is imported: egl renders without a display where
    the machine has an EGL library (skipped where mujoco or EGL is missing). InvertedPendulum-v5
    pays 1 per step but 0 on the step that terminates, so an episode that fell over after T
    steps returns T - 1, and its video has T + 1 frames."""
    import os
    import subprocess
    import sys

    pytest.importorskip("mujoco")
    env = {**os.environ, "MUJOCO_GL": "egl"}
    probe = subprocess.run([sys.executable, "-c", "import gymnasium as g; e = g.make("
                            "'InvertedPendulum-v5', render_mode='rgb_array'); e.reset(); "
                            "e.render()"], env=env, capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no EGL rendering here: {probe.stderr.strip().splitlines()[-1:]}")
    cfg = dataclasses.replace(Config(), env="InvertedPendulum-v5", total_steps=60,
                              warmup_steps=40, batch_size=8, eval_every=60, eval_episodes=1,
                              network=NetworkConfig(hidden_sizes=(8,)), out=str(tmp_path),
                              run_name="r", tensorboard=False, progress=False, threads=1)
    run = ddpg.train(cfg).run_dir
    out = tmp_path / "pendulum.mp4"
    done = subprocess.run([sys.executable, "-m", "ddpg.cli", "eval", str(run), "--episodes", "1",
                           "--video", str(out)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ret = round(float(done.stdout.split("return ")[1].split(" ")[0]))
    steps = ret + 1 if ret < 1000 else ret  # fell over, or ran to the 1000-step limit
    assert imageio.get_reader(out).count_frames() == steps + 1
