"""Noise-free episodes recorded as a video (`ddpg eval RUN --video OUT.mp4`).

The evaluation environment is made with render_mode='rgb_array' and wrapped so that every reset
and step appends the rendered frame to the video while `ddpg.evaluation.evaluate` runs as
usual: one frame after each reset and one after each step, so an episode of T steps gives T + 1
frames. Written with imageio and its bundled ffmpeg (the `video` extra) at the environment's
render_fps, into a temporary file that replaces OUT once complete. MuJoCo environments render
offscreen with MUJOCO_GL=egl (a GPU) or MUJOCO_GL=osmesa (software), set before Python starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gymnasium as gym

from ddpg.envs import make
from ddpg.errors import ConfigError, EnvError


class FrameRecorder(gym.Wrapper):
    """Appends env.render() to `writer` after every reset and step."""

    def __init__(self, env: gym.Env, writer: Any) -> None:
        super().__init__(env)
        self.writer, self.frames = writer, 0

    def _frame(self) -> None:
        self.writer.append_data(self.env.render())
        self.frames += 1

    def reset(self, **kwargs):
        out = self.env.reset(**kwargs)
        self._frame()
        return out

    def step(self, action):
        out = self.env.step(action)
        self._frame()
        return out


def video_writer(out: Path, fps: float) -> tuple[Any, Path]:
    """An imageio writer on a temporary file beside `out` (same suffix, so ffmpeg picks the
    container from it), and that file's path."""
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401 - the bundled ffmpeg binary
    except ImportError as e:
        raise ConfigError(f"--video needs the video extra ({e.name} is not installed): "
                          f"pip install -e '.[video]'.") from e
    if not out.suffix:
        raise ConfigError(f"--video {str(out)!r}: give a file name with a video suffix such as "
                          f".mp4.")
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    # macro_block_size 2: frames keep their size unless a side is odd (yuv420p needs even sides)
    return imageio.get_writer(tmp, fps=fps, macro_block_size=2), tmp


def recording_env(env_id: str, out: Path) -> tuple[FrameRecorder, Path]:
    """The environment `env_id` rendering into a video at `out`; call `finish` when done."""
    env = make(env_id, render_mode="rgb_array")
    if env.render_mode != "rgb_array":
        env.close()
        raise EnvError(f"{env_id} does not render rgb_array frames, so no video can be made; "
                       f"drop --video.")
    writer, tmp = video_writer(out, float(env.metadata.get("render_fps") or 30))
    return FrameRecorder(env, writer), tmp


def finish(env: FrameRecorder, tmp: Path, out: Path, ok: bool) -> None:
    """Close the video; it replaces `out` only when the recording completed."""
    env.writer.close()
    env.close()
    if ok:
        os.replace(tmp, out)
    else:
        tmp.unlink(missing_ok=True)
