"""What a run or a population needs, checked before anything is built (ddpg.sizing)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from ddpg import sizing
from ddpg.config import Config
from ddpg.errors import ConfigError


def test_a_population_is_refused_with_the_number_of_members_that_fit(monkeypatch):
    c = Config(buffer_size=10_000, total_steps=10_000, warmup_steps=100)
    each = sizing.member_bytes(c, 3, 1, 10_000)
    monkeypatch.setattr(sizing, "available_memory", lambda: 100 * each)
    sizing.check_population(c, 100, "Pendulum-v1")  # fits exactly (3 observations, 1 action)
    with pytest.raises(ConfigError, match="^--seeds/--sweep: 101 members need about .* it fits "
                                          "about 80: train fewer"):
        sizing.check_population(c, 101, "Pendulum-v1")
    import resource

    monkeypatch.setattr(sizing, "available_memory", lambda: None)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 4096))
    fits = (1024 - sizing.PROCESS_FILES) // sizing.MEMBER_FILES
    sizing.check_population(c, fits, "Pendulum-v1")
    with pytest.raises(ConfigError, match=r"1,000 members keep about 2,064 files open but this "
                                          r"process may open 1,024 \(ulimit -n\); use at most "
                                          r"480 members"):
        sizing.check_population(c, 1000, "Pendulum-v1")


def test_a_population_too_large_is_refused_at_once_and_leaves_no_folder(tmp_path):
    """100,001 members with a 36 MB replay buffer each (3.6 TB): refused before any member or
    folder is made (it used to build members for minutes, then leave an empty folder)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ddpg.cli", "train", "--seeds", "0-100000", "--total-steps",
         "1000000", "--buffer-size", "1000000", "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - start
    assert done.returncode == 2, done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("ddpg train: error: --seeds/--sweep: 100,001 members need about")
    assert "it fits about" in error or "not one member fits" in error
    assert not (tmp_path / "runs").exists()
    assert took < 30  # interpreter and torch start-up; building the members took minutes


def test_td7_parameters_count_its_encoders_and_twin_critics():
    from ddpg.agent import Agent
    from ddpg.config import from_preset

    c = from_preset("pendulum-td7")
    nets = Agent(3, 1, c).td7.nets
    held = sum(p.numel() for m in (nets.actor, nets.critic, nets.encoder) for p in m.parameters())
    assert sizing.n_params(c, 3, 1) == held
