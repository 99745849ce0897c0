"""Distributed collection on Ray actors (ddpg.distributed): collectors on a slowed environment
scale the steps collected, learn, survive a killed actor, spread over a two-node cluster, and
checkpoint and resume; without Ray, --actors names the extra. Local Ray with the machine's
cores; the slowdown is a sleep, so it does not compete for them."""

from __future__ import annotations

import dataclasses
import json
import sys
import time

import pytest

import ddpg
from ddpg.bench.slowenv import slowed
from ddpg.config import Config, NetworkConfig, from_preset
from ddpg.errors import ConfigError

ray = pytest.importorskip("ray")


def slow_pendulum(ms: float = 2.0):
    return slowed("Pendulum-v1", ms)


def quiet(cfg: Config, tmp_path, **kw) -> Config:
    return dataclasses.replace(cfg, out=str(tmp_path), tensorboard=False, progress=False, **kw)


def collection_rate(tmp_path, actors: int) -> float:
    """Environment steps per second collected by `actors` actors (warm-up only: no updates)."""
    cfg = quiet(Config(), tmp_path / str(actors), env="Pendulum-v1", actors=actors,
                total_steps=2400, warmup_steps=2399, eval_every=2400, eval_episodes=1,
                batch_size=8, chunk_steps=25, network=NetworkConfig(hidden_sizes=(8,)))
    seen: list[tuple[int, float]] = []
    ddpg.train(cfg, env=slow_pendulum(), on_step=lambda s: seen.append(
        (s.step, time.perf_counter())))
    (s0, t0), (s1, t1) = next(x for x in seen if x[0] >= 400), seen[-1]
    return (s1 - s0) / (t1 - t0)


def test_four_actors_collect_faster_than_one(tmp_path):
    one, four = collection_rate(tmp_path, 1), collection_rate(tmp_path, 4)
    print(f"2 ms/step Pendulum: 1 actor {one:.0f} steps/s, 4 actors {four:.0f} steps/s, "
          f"ratio {four / one:.2f}")
    assert four >= 2.0 * one


def test_two_actors_on_a_slowed_env_learn_pendulum(tmp_path):
    cfg = quiet(from_preset("pendulum"), tmp_path, actors=2, total_steps=10_000,
                eval_every=1000, eval_episodes=3)
    res = ddpg.train(cfg, env=slow_pendulum())
    returns = [round(r["eval_return_mean"]) for r in res.evaluations]
    assert res.steps_to_solve(-200) is not None, returns
    last = res.evaluations[-1]
    assert last["collect_steps_per_s"] > 0 and last["updates_per_s"] > 0
    assert last["buffer_fill"] == 1.0 and last["policy_lag"] >= 0
    header = (res.run_dir / "metrics.csv").read_text().splitlines()[0]
    assert header.endswith("collect_steps_per_s,updates_per_s,policy_lag,buffer_fill")


def test_a_killed_actor_is_replaced_and_the_run_finishes(tmp_path, capsys):
    killed = []

    def kill_once(ctx):
        if ctx.step >= 600 and not killed:
            name = next(a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                        if a["name"].endswith("-1"))
            handle = ray.get_actor(name, namespace="ddpg")
            ray.kill(handle, no_restart=False)
            killed.append(ctx.step)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # wait until Ray has it back, then go on
                try:
                    ray.get(handle.where.remote(), timeout=30)
                    break
                except ray.exceptions.RayActorError:  # a call to the dying instance
                    time.sleep(0.2)

    # slowed, so the run outlasts the restart (a new process importing torch: seconds)
    cfg = quiet(Config(), tmp_path, env="Pendulum-v1", actors=2, total_steps=4000,
                warmup_steps=500, batch_size=16, eval_every=2000, eval_episodes=1,
                run_name="r", network=NetworkConfig(hidden_sizes=(16,)))
    res = ddpg.train(cfg, env=slow_pendulum(), on_step=kill_once)
    assert killed and res.evaluations[-1]["step"] == 4000
    actors = json.loads((res.run_dir / "actors.json").read_text())
    assert actors[1]["restarts"] >= 1 and actors[0]["restarts"] == 0
    assert "collector 1 died" in capsys.readouterr().err


def test_actors_spread_over_a_two_node_cluster(tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        cfg = quiet(Config(), tmp_path, env="Pendulum-v1", actors=2, total_steps=400,
                    warmup_steps=200, batch_size=16, eval_every=400, eval_episodes=1,
                    address=cluster.address, network=NetworkConfig(hidden_sizes=(8,)))
        res = ddpg.train(cfg)
        nodes = {a["node_id"] for a in json.loads((res.run_dir / "actors.json").read_text())}
        assert len(nodes) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_a_distributed_run_checkpoints_and_resumes_from_its_counters(tmp_path, capsys):
    cfg = quiet(Config(), tmp_path, env="Pendulum-v1", actors=2, total_steps=1000,
                warmup_steps=300, batch_size=16, eval_every=500, eval_episodes=1,
                checkpoint_every=500, run_name="r", network=NetworkConfig(hidden_sizes=(16,)))
    first = ddpg.train(cfg)
    updates = first.agent.updates
    res = ddpg.resume(first.run_dir, total_steps=1500)
    assert "from step 1000" in capsys.readouterr().err
    assert [r["step"] for r in res.evaluations] == [500, 1000, 1500]
    assert res.agent.updates == updates + 500  # updates_per_step per collected transition


def test_without_ray_actors_name_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    cfg = quiet(Config(), tmp_path, env="Pendulum-v1", actors=2, total_steps=100,
                warmup_steps=50, eval_every=100, network=NetworkConfig(hidden_sizes=(8,)))
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[ray\]'"):
        ddpg.train(cfg)
