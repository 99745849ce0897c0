"""Run directories (ddpg.rundir): never overwritten, and an unwritable --out named."""

from __future__ import annotations

import dataclasses

import pytest

from ddpg.config import Config
from ddpg.errors import ConfigError
from ddpg.rundir import make_run_dir


def test_run_dirs_never_overwrite_an_earlier_run(tmp_path):
    cfg = dataclasses.replace(Config(), out=str(tmp_path), seed=3)
    first, second = make_run_dir(cfg, "Pendulum-v1"), make_run_dir(cfg, "Pendulum-v1")
    assert first != second and first.is_dir() and second.is_dir()
    assert first.name.startswith("Pendulum-v1-ddpg-s3-")
    td3 = make_run_dir(dataclasses.replace(cfg, algo="td3"), "ALE/Pong-v5", kind="pop")
    assert td3.parent == tmp_path and td3.name.startswith("ALE_Pong-v5-td3-pop-")
    named = dataclasses.replace(cfg, run_name="mine")
    assert make_run_dir(named, "x") == make_run_dir(named, "x") == tmp_path / "mine"


def test_unwritable_out_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg = dataclasses.replace(Config(), out=str(blocker / "runs"))
    with pytest.raises(ConfigError, match="choose a writable --out"):
        make_run_dir(cfg, "Pendulum-v1")

