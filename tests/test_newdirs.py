"""A command that fails while setting a run up leaves no folder behind (ddpg.newdirs)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from ddpg import newdirs
from ddpg.config import Config, NetworkConfig
from ddpg.errors import DDPGError, EnvError
from ddpg.population import train_population
from ddpg.trainer import train


class ImageEnv(gym.Env):
    """An observation space ddpg refuses (not a flat Box)."""

    observation_space = gym.spaces.Box(0, 255, (4, 4, 3), dtype=np.uint8)
    action_space = gym.spaces.Box(-1, 1, (1,), dtype=np.float32)


class BrokenResetEnv(gym.Env):
    """Accepted spaces, but its reset fails: after the run folder is made."""

    observation_space = gym.spaces.Box(-1, 1, (3,), dtype=np.float32)
    action_space = gym.spaces.Box(-1, 1, (1,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        raise EnvError("the simulator is not running")


def small(out, **kw) -> Config:
    return Config(network=NetworkConfig(hidden_sizes=(16,)), total_steps=200, warmup_steps=50,
                  progress=False, tensorboard=False, out=str(out), **kw)


BAD_ENVS = {"unknown id": "NoSuchEnv-v0", "image observations": ImageEnv,
            "reset fails": BrokenResetEnv}


@pytest.mark.parametrize("bad", list(BAD_ENVS))
@pytest.mark.parametrize("population", [False, True], ids=["run", "population"])
def test_a_bad_environment_leaves_no_folder(tmp_path, bad, population):
    out = tmp_path / "runs"  # made by the command, so removed with what is in it
    config = small(out, env=BAD_ENVS[bad]) if isinstance(BAD_ENVS[bad], str) else small(out)
    env = None if isinstance(BAD_ENVS[bad], str) else BAD_ENVS[bad]
    with pytest.raises(DDPGError):
        if population:
            train_population(config, env, seeds="0-1", sweep=["tau=0.005,0.01"])
        else:
            train(config, env)
    assert not out.exists()


def test_folders_that_existed_are_kept(tmp_path):
    """A given --run-name whose folder exists (and the --out above it) stays as it was."""
    kept = tmp_path / "runs" / "mine"
    kept.mkdir(parents=True)
    (kept / "notes.txt").write_text("mine")
    for population in (False, True):
        config = small(tmp_path / "runs", run_name="mine")
        with pytest.raises(EnvError):
            if population:
                train_population(config, BrokenResetEnv, seeds="0-1")
            else:
                train(config, BrokenResetEnv)
        assert sorted(p.name for p in kept.iterdir()) == ["notes.txt"]


def test_only_what_the_block_made_is_removed_and_parents_only_when_empty(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with newdirs.removed_on_failure():
            newdirs.mkdir(tmp_path / "out" / "run" / "member")
            (tmp_path / "out" / "run" / "member" / "metrics.csv").write_text("step\n")
            (tmp_path / "out" / "other").mkdir()  # another command's run, meanwhile
            raise KeyboardInterrupt
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["other"]
    with newdirs.removed_on_failure():  # no failure: everything stays
        newdirs.mkdir(tmp_path / "out" / "run")
    assert (tmp_path / "out" / "run").is_dir()
