"""Distributed collection on Ray actors (ddpg.distributed): collectors on a slowed environment
scale the steps collected, learn, survive a killed actor, spread over a two-node cluster, and
checkpoint and resume; they say where they collect and count updates as one process does; an
unreachable --address fails in seconds before the run folder exists, and a signal stops the
command while it connects; without Ray, --actors names the extra. Local Ray with the machine's
cores; the slowdown is a sleep, so it does not compete for them. Addresses tried: 127.0.0.1
only (the command's Ray is told to keep loopback addresses as they are)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

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
    sigma = cfg.noise.sigma  # the actors' spread from sigma / 2 to sigma * 2, on the first line
    line = next(x for x in capsys.readouterr().err.splitlines() if "collecting on" in x)
    assert line.endswith(f"sigmas {sigma / 2:.3g}, {sigma * 2:.3g} (actors.json)"), line
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


def test_actors_say_where_they_collect_and_update_as_one_process_counts(tmp_path, capsys,
                                                                        monkeypatch):
    ray_records: list[logging.LogRecord] = []  # what Ray logs while it starts
    handler = logging.Handler()
    handler.emit = ray_records.append
    ray_loggers = [logging.getLogger(name) for name in (
        "ray._private.worker", "ray._private.authentication.authentication_token_setup")]
    for logger in ray_loggers:
        logger.addHandler(handler)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)  # as in a fresh process: Ray would warn
    # no exploration noise and an actor that does not move (a step far below float32's
    # resolution): a stored action is the initial policy's mu(s) unless it was a random one
    cfg = quiet(Config(), tmp_path, env="Pendulum-v1", actors=2, total_steps=1000,
                warmup_steps=300, batch_size=16, eval_every=500, eval_episodes=1,
                chunk_steps=50, actor_lr=1e-12, network=NetworkConfig(hidden_sizes=(8,)))
    cfg = dataclasses.replace(cfg, noise=dataclasses.replace(cfg.noise, sigma=0.0))
    try:
        res = ddpg.train(cfg)
    finally:
        for logger in ray_loggers:
            logger.removeHandler(handler)
    # one process updates from the warmup_steps-th transition on: 201 by step 500, 701 by 1000;
    # the chunk that ended warm-up used to count all its 50 transitions (250, 750)
    assert [(r["step"], r["updates"]) for r in res.evaluations] == [(500, 201), (1000, 701)]
    rows = res.buffer.rows(0, res.buffer.total)
    with torch.no_grad():
        mu = res.agent.actor(rows["states"].to(res.agent.device)).cpu()
    random_rows = int(((rows["actions"] - mu).abs() > 1e-5).any(dim=1).sum())
    assert random_rows == 300  # warm-up's; asked with the learner's count: + 1 chunk in flight
    line = next(x for x in capsys.readouterr().err.splitlines() if "collecting on" in x)
    assert line.startswith("2 actors collecting on a local Ray (1 node, "), line
    shown = [r.getMessage() for r in ray_records]
    assert not [m for m in shown if "Token authentication" in m or "local Ray instance" in m]


# --- an address that does not answer ----------------------------------------------------------

LOOPBACK_RAY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # Ray keeps 127.0.0.1 as given


def closed_port() -> int:
    """A loopback port nothing listens on (connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def silent_port():
    """A loopback port whose accept queue is full: a connect to it gets no answer, as from a
    host that drops packets."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # fills the queue
            yield port


def connecting_to(port: int) -> bool:
    """Whether a TCP connect to 127.0.0.1:port is in progress on this machine (SYN_SENT), from
    an IPv4 socket or an IPv6 one (as gRPC's, to ::ffff:127.0.0.1)."""
    targets = {f"0100007F:{port:04X}", f"0000000000000000FFFF00000100007F:{port:04X}"}
    rows = [r.split() for f in ("/proc/net/tcp", "/proc/net/tcp6")
            for r in Path(f).read_text().splitlines()[1:]]
    return any(r[2] in targets and r[3] == "02" for r in rows)


def ddpg_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ddpg.cli", *args]


def train_args(tmp_path, port: int) -> list[str]:
    return ddpg_command("train", "--env", "Pendulum-v1", "--actors", "2", "--address",
                        f"127.0.0.1:{port}", "--out", str(tmp_path / "runs"))


def test_an_unreachable_address_fails_in_seconds_before_the_run_folder(tmp_path):
    port = closed_port()
    start = time.monotonic()
    done = subprocess.run(train_args(tmp_path, port), capture_output=True, text=True,
                          timeout=60, env={**os.environ, **LOOPBACK_RAY})
    took = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"ddpg train: error: cannot reach a Ray cluster at "
                                  f"127.0.0.1:{port} (connection refused)"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert took < 15, took
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc/net/tcp")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_command_while_it_connects(tmp_path, sig):
    with silent_port() as port:
        proc = subprocess.Popen(train_args(tmp_path, port), stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **LOOPBACK_RAY})
        try:
            deadline = time.monotonic() + 60
            while not connecting_to(port):
                assert proc.poll() is None and time.monotonic() < deadline, proc.returncode
                time.sleep(0.02)
            proc.send_signal(sig)
            sent = time.monotonic()
            proc.wait(timeout=30)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode in (128 + sig, -sig), proc.stderr.read()  # its exit, or its death
    assert took < 5, took
    assert not (tmp_path / "runs").exists()


def test_two_actors_collect_for_hindsight_replay(tmp_path):
    """DDPG+HER with two collectors on the tests' goal task: the learner indexes each
    collector's environments' episodes as environments of their own, relabels from them, and
    reaches the goal in >= 90 % of 20 noise-free evaluation episodes, as one process does."""
    import gymnasium as gym
    from ray import cloudpickle

    sys.path.insert(0, str(Path(__file__).parent))
    import goalenv
    from ddpg.config import HERConfig

    cloudpickle.register_pickle_by_value(goalenv)  # the collectors do not import tests/
    cfg = quiet(Config(), tmp_path, total_steps=3000, warmup_steps=200, batch_size=64,
                network=NetworkConfig(hidden_sizes=(64, 64)), eval_every=1000,
                eval_episodes=20, her=HERConfig(strategy="future"), gamma=0.95, tau=0.05,
                actor_lr=1e-3, critic_lr=1e-3, threads=1, actors=2, num_envs=2,
                chunk_steps=20)
    res = ddpg.train(cfg, env=lambda: gym.wrappers.TimeLimit(goalenv.PointReach(), 20))
    rates = [r["eval_success_rate"] for r in res.evaluations]
    assert rates[-1] >= 0.9, rates
