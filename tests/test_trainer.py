import csv
import dataclasses
import logging
import statistics

import numpy as np
import pytest
import torch

import ddpg
from ddpg.config import Config, NetworkConfig, from_preset
from ddpg.envs import to_env_action
from ddpg.errors import TrainingError

from conftest import LineEnv


def tiny(tmp_path, **kw):
    base = dict(total_steps=80, warmup_steps=50, batch_size=8, buffer_size=1000,
                eval_every=40, eval_episodes=2, network=NetworkConfig(hidden_sizes=(16, 16)),
                out=str(tmp_path), tensorboard=False, progress=False)
    return dataclasses.replace(Config(), **{**base, **kw})


def test_truncation_bootstraps_termination_does_not_and_real_final_obs_stored(tmp_path):
    made = []

    def factory():
        made.append(LineEnv(max_steps=7))
        return made[-1]

    res = ddpg.train(tiny(tmp_path), env=factory)
    b = res.buffer
    n = len(b)
    s, s2, d = b.states[:n].numpy(), b.next_states[:n].numpy(), b.dones[:n, 0].numpy()
    terminal = np.abs(s2[:, 0]) > 5
    truncated = (s2[:, 1] == 7) & ~terminal
    assert terminal.any() and truncated.any()
    assert np.all(d[terminal] == 1.0) and np.all(d[~terminal] == 0.0)
    assert np.all(s2[:, 1] == s[:, 1] + 1)  # s' is the real next obs, never the reset obs
    # actions are stored normalised; the env saw them rescaled to its asymmetric bounds
    a = b.actions[:n].numpy()
    assert a.min() >= -1 and a.max() <= 1
    env_actions = np.array(made[0].actions[:n])
    assert np.allclose(env_actions, to_env_action(a, made[0].action_space.low,
                                                  made[0].action_space.high), atol=1e-5)
    assert env_actions[:, 1].min() >= 10 and env_actions[:, 1].max() <= 30
    assert len(made) == 2  # a separate evaluation environment
    assert len(made[1].actions) > 0 and len(made[0].actions) == 80


def test_same_seed_same_result_other_seed_differs(tmp_path):
    cfg = tiny(tmp_path, env="Pendulum-v1", total_steps=300, warmup_steps=100, eval_every=150,
               noise=ddpg.NoiseConfig(kind="ou", sigma=0.3))
    r1 = ddpg.train(cfg)
    r2 = ddpg.train(cfg)
    r3 = ddpg.train(dataclasses.replace(cfg, seed=1))
    for a, b in zip(r1.agent.actor.parameters(), r2.agent.actor.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(r1.buffer.actions, r2.buffer.actions)
    drop = lambda rows: [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s")}  # noqa
                         for r in rows]
    assert drop(r1.evaluations) == drop(r2.evaluations)
    assert not torch.equal(r1.buffer.actions, r3.buffer.actions)


def test_run_directory_and_callbacks(tmp_path):
    seen = []
    res = ddpg.train(tiny(tmp_path, run_name="r", total_steps=200, eval_every=40),
                     env=LineEnv(), on_step=lambda ctx: seen.append(ctx.step),
                     on_eval=lambda row: row["step"] < 120)
    assert res.run_dir == tmp_path / "r"
    assert {p.name for p in res.run_dir.iterdir()} >= {"config.yaml", "metrics.csv", "policy.pt"}
    assert [r["step"] for r in res.evaluations] == [40, 80, 120]  # stopped by the callback
    assert seen == list(range(1, 121))
    lines = (res.run_dir / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("step,") and len(lines) == 4
    pol = ddpg.load(res.run_dir)
    assert pol.act(np.zeros(2, np.float32)).shape == (2,)


def test_tensorboard_events_written(tmp_path):
    res = ddpg.train(tiny(tmp_path, tensorboard=True), env=LineEnv())
    assert list((res.run_dir / "tb").glob("events.out.tfevents.*"))


def test_the_ddpg_logger_decides_what_a_run_prints(tmp_path, capsys):
    ddpg.train(tiny(tmp_path, run_name="a"), env=LineEnv())
    err = capsys.readouterr().err
    assert "replay buffer:" in err and "step       40  eval" in err and "no time limit" in err
    logger = logging.getLogger("ddpg")
    level = logger.level
    try:
        logger.setLevel("WARNING")  # warnings only
        ddpg.train(tiny(tmp_path, run_name="b"), env=LineEnv())
        err = capsys.readouterr().err
        assert "no time limit" in err
        assert "replay buffer" not in err and "step       40" not in err, err
        logger.setLevel("ERROR")  # nothing
        ddpg.train(tiny(tmp_path, run_name="c"), env=LineEnv())
        assert capsys.readouterr().err == ""
    finally:
        logger.setLevel(level)


class NaNEnv(LineEnv):
    def step(self, action):
        obs, r, term, trunc, info = super().step(action)
        if self.t == 3:
            obs[0] = np.nan
        return obs, r, term, trunc, info


def test_non_finite_observation_stops_with_step(tmp_path):
    with pytest.raises(TrainingError, match="non-finite observation or reward at step 2"):
        ddpg.train(tiny(tmp_path), env=NaNEnv(max_steps=50, terminate_at=100))


def test_pendulum_learns(tmp_path):
    """The short learning test: the evaluation return rises from random (below -900) to a
    solved return (better than -300), and stays far above random at the end.

    DDPG's Pendulum policy can dip for an evaluation or two before it settles, and where it dips
    changes with float32 rounding: over seeds 0-19, two updates that differ only in the order of
    their products' sums ended below -400 at step 7000 for 2 and 4 seeds, not the same ones
    (docs/benchmarks.md, session 5). So the test asks for the best evaluation from step 4000 on
    and the median of the last three, not for the last one alone; an update that does not learn
    stays near -1200 on both."""
    cfg = dataclasses.replace(from_preset("pendulum"), total_steps=7000, eval_every=1000,
                              out=str(tmp_path), tensorboard=False, progress=False)
    res = ddpg.train(cfg)
    returns = [r["eval_return_mean"] for r in res.evaluations]
    assert returns[0] < -900, returns  # untrained after warm-up: no better than random
    assert max(returns[3:]) > -300, returns
    assert statistics.median(returns[-3:]) > -700, returns


def test_best_policy_and_sb3_evaluations_file(tmp_path):
    """best_policy.pt holds the policy of the best evaluation so far (with its step), and
    evaluations.npz has SB3 EvalCallback's layout: one row per evaluation of per-episode
    returns and lengths, read here as rl-zoo's plotting scripts read it."""
    res = ddpg.train(tiny(tmp_path, run_name="r", total_steps=200, eval_every=40), env=LineEnv())
    with np.load(res.run_dir / "evaluations.npz") as f:
        assert set(f.files) == {"timesteps", "results", "ep_lengths"}
        timesteps, results, lengths = f["timesteps"], f["results"], f["ep_lengths"]
    assert timesteps.tolist() == [r["step"] for r in res.evaluations] == [40, 80, 120, 160, 200]
    assert results.shape == lengths.shape == (5, 2) and lengths.dtype.kind == "i"
    with open(res.run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == timesteps.tolist()
    assert np.allclose(results.mean(axis=1), [float(r["eval_return_mean"]) for r in rows])
    assert np.allclose(results.std(axis=1), [float(r["eval_return_std"]) for r in rows])
    means = [float(r["eval_return_mean"]) for r in rows]
    first_best = means.index(max(means))  # SB3 keeps the first of equal bests
    best = ddpg.load(res.run_dir / "best_policy.pt")
    assert best.metadata["step"] == res.evaluations[first_best]["step"]
    assert best.metadata["eval_return_mean"] == max(means)
    obs = np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2)
    if first_best == len(means) - 1:  # the final policy is the best one
        assert np.array_equal(best.act(obs), res.policy.act(obs))
