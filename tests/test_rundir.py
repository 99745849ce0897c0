"""Run directories (ddpg.rundir): never overwritten, an unwritable --out named, and what a
resume records in one (config.yaml as the run continues, resumes.yaml)."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
import yaml

import ddpg
from ddpg.checkpoint import CheckpointManager
from ddpg.config import Config, NetworkConfig
from ddpg.errors import CheckpointError, ConfigError
from ddpg.rundir import RESUMES_FILE, make_run_dir


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



def small(tmp_path, **kw) -> Config:
    return dataclasses.replace(
        Config(), total_steps=200, warmup_steps=50, batch_size=8, buffer_size=1000,
        eval_every=100, eval_episodes=1, checkpoint_every=100,
        network=NetworkConfig(hidden_sizes=(8,)), out=str(tmp_path), tensorboard=False,
        progress=False, **kw)


def test_a_named_run_folder_that_holds_a_run_is_refused_and_left_as_it_was(tmp_path):
    """`--run-name X` where X already holds a run: one clear line pointing to --resume, and the
    old run's files untouched (a second run there used to rewrite them in place, beside the
    first run's checkpoints)."""
    run = ddpg.train(small(tmp_path, run_name="mine")).run_dir
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match=r"run_name='mine'.*already holds a run.*--resume"):
        ddpg.train(small(tmp_path, run_name="mine", seed=1))
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def described(run_dir):
    """config.yaml, the latest checkpoint's config, resumes.yaml's list (issue 30: after
    --resume --total-steps, config.yaml went on saying the old total_steps)."""
    loaded, problems = CheckpointManager(run_dir / "checkpoints").latest()
    assert not problems
    history = yaml.safe_load((run_dir / RESUMES_FILE).read_text())["resumes"]
    return yaml.safe_load((run_dir / "config.yaml").read_text()), loaded.manifest["config"], \
        history


def test_extending_a_run_rewrites_its_config_yaml_and_keeps_the_history(tmp_path):
    run = ddpg.train(small(tmp_path)).run_dir
    started = yaml.safe_load((run / "config.yaml").read_text())
    ddpg.resume(run, total_steps=300)
    ddpg.resume(run, total_steps=400)
    yaml_config, running, history = described(run)
    assert yaml_config["total_steps"] == 400
    # what the run now runs with, except where a rerun from it goes: where it was started
    assert {k: v for k, v in yaml_config.items() if k not in ("out", "run_name")} == \
        {k: v for k, v in running.items() if k not in ("out", "run_name")}
    assert (yaml_config["out"], yaml_config["run_name"]) == (str(tmp_path), "") == \
        (started["out"], started["run_name"])  # a rerun makes a new directory
    assert [{k: v for k, v in h.items() if k != "time"} for h in history] == [
        {"step": 200, "total_steps_before": 200, "total_steps": 300},
        {"step": 300, "total_steps_before": 300, "total_steps": 400}]
    assert all(datetime.datetime.fromisoformat(h["time"]).tzinfo for h in history)
    # a resume with nothing left to run records nothing
    ddpg.resume(run, total_steps=400)
    assert described(run)[2] == history
    # a history that is not a list is refused, not overwritten
    (run / RESUMES_FILE).write_text("resumes: 3\n")
    with pytest.raises(CheckpointError, match="resumes.yaml is not a resumes list .*move it"):
        ddpg.resume(run, total_steps=500)
    assert (run / RESUMES_FILE).read_text() == "resumes: 3\n"


def test_extending_a_population_rewrites_each_members_config_yaml(tmp_path):
    from ddpg.population import resume_population, train_population

    pop = train_population(small(tmp_path, run_name="pop"), seeds="0,1").directory
    resume_population(pop, total_steps=300)
    for seed in (0, 1):
        yaml_config, running, history = described(pop / f"s{seed}")
        assert yaml_config == running and yaml_config["total_steps"] == 300
        assert yaml_config["seed"] == seed and yaml_config["run_name"] == f"s{seed}"
        assert [{k: v for k, v in h.items() if k != "time"} for h in history] == [
            {"step": 200, "total_steps_before": 200, "total_steps": 300}]


def test_loading_a_population_folder_names_a_member(tmp_path):
    """ddpg.load (and every command that locates a run) of a population's folder: it says it is
    a population and names a member, instead of 'holds N runs'."""
    import ddpg
    from ddpg.errors import ConfigError

    pop = tmp_path / "pop"
    for name in ("s0", "s1"):
        (pop / name).mkdir(parents=True)
        (pop / name / "config.yaml").write_text("seed: 0\n")
    (pop / "population.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"is a population \(ddpg train --seeds\) of 2 "
                                          r"members; name one of them, e\.g\. '.*s0'"):
        ddpg.load(pop)
    (pop / "population.json").unlink()  # a plain --out folder of two runs
    with pytest.raises(ConfigError, match="holds 2 runs"):
        ddpg.load(pop)
