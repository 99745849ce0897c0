"""A run's directory, random streams and interruption message (ddpg.run)."""

from __future__ import annotations

import dataclasses
import signal

import numpy as np
import pytest
import torch

from ddpg.config import Config
from ddpg.errors import ConfigError
from ddpg.run import Interrupted, seed_streams
from ddpg.rundir import make_run_dir


def test_run_dirs_never_overwrite_an_earlier_run(tmp_path):
    cfg = dataclasses.replace(Config(), out=str(tmp_path), seed=3)
    first, second = make_run_dir(cfg, "Pendulum-v1"), make_run_dir(cfg, "Pendulum-v1")
    assert first != second and first.is_dir() and second.is_dir()
    assert first.name.startswith("Pendulum-v1-s3-")
    named = dataclasses.replace(cfg, run_name="mine")
    assert make_run_dir(named, "x") == make_run_dir(named, "x") == tmp_path / "mine"


def test_unwritable_out_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg = dataclasses.replace(Config(), out=str(blocker / "runs"))
    with pytest.raises(ConfigError, match="choose a writable --out"):
        make_run_dir(cfg, "Pendulum-v1")


def test_seed_streams_are_reproducible_and_independent():
    a, b, c = seed_streams(0), seed_streams(0), seed_streams(1)
    draws = lambda s: (s["warmup"].random(4), s["noise"].random(4),  # noqa: E731
                       torch.rand(4, generator=s["sampling"]).numpy())
    da, db, dc = draws(a), draws(b), draws(c)
    assert all(np.array_equal(x, y) for x, y in zip(da, db))
    assert not any(np.array_equal(x, y) for x, y in zip(da, dc))
    assert not np.array_equal(da[0], da[1])  # warm-up and noise streams differ


def test_interrupted_says_how_to_resume(tmp_path):
    e = Interrupted(signal.SIGINT, tmp_path, 1200)
    assert e.exit_code == 130 and "ddpg train --resume" in str(e) and "1200" in str(e)
