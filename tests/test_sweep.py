"""`ddpg sweep` on Ray Tune: a grid to completion with its table and best.yaml, Optuna, ASHA
stopping a bad configuration, trials on both nodes of a two-node cluster, a trial whose worker
is killed restarting from its checkpoint to the same final parameters, an interrupted sweep
resumed without rerunning finished trials, the file's errors, and an unreachable --address
(127.0.0.1 only) refused in seconds before the sweep's folder exists."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from ddpg.errors import ConfigError

pytest.importorskip("ray.tune")
pytest.importorskip("optuna")

import ray  # noqa: E402

from ddpg.config import Config  # noqa: E402
from ddpg import config as cfgmod  # noqa: E402
from ddpg.sweep.run import run_sweep, sweep_main  # noqa: E402
from ddpg.sweep.spec import load_sweep  # noqa: E402

BASE = """base:
  env: Pendulum-v1
  total_steps: {steps}
  overrides: {{eval_every: {every}, eval_episodes: {episodes}, warmup_steps: {warmup},
              network.hidden_sizes: [{hidden}], tensorboard: false}}
"""


def sweep_file(tmp_path: Path, name: str, body: str, steps=1000, every=500, episodes=1,
               warmup=300, hidden="16, 16") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\n" + BASE.format(steps=steps, every=every, episodes=episodes,
                                                    warmup=warmup, hidden=hidden) + body)
    return path


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def results(folder: Path) -> list[dict[str, str]]:
    with open(folder / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_grid_of_2x2_runs_to_completion_with_table_and_best(tmp_path, local_ray):
    path = sweep_file(tmp_path, "grid", "space:\n  actor_lr: {grid: [0.0003, 0.001]}\n"
                                        "  tau: {grid: [0.005, 0.01]}\nseeds: 2\n")
    folder = run_sweep(load_sweep(path), tmp_path / "out", verbose=0)
    rows = results(folder)
    assert len(rows) == 4 and {(r["actor_lr"], r["tau"]) for r in rows} == {
        (a, t) for a in ("0.0003", "0.001") for t in ("0.005", "0.01")}
    assert all(r["status"] == "finished" and r["steps"] == "1000" and r["seeds"] == "2"
               for r in rows)
    scores = [float(r["metric"]) for r in rows]
    assert scores == sorted(scores, reverse=True)  # best first
    assert all(float(r["ci_low"]) <= float(r["metric"]) <= float(r["ci_high"]) for r in rows)
    # each trial's members are ordinary run directories; the metric is their final returns'
    trial = folder / "trials" / next(p.name for p in (folder / "trials").iterdir()
                                     if p.name.endswith(rows[0]["trial"]))
    finals = []
    for seed in (0, 1):
        with open(trial / f"s{seed}" / "metrics.csv", newline="") as f:
            finals.append(float(list(csv.DictReader(f))[-1]["eval_return_mean"]))
    assert float(rows[0]["metric"]) == pytest.approx(sum(finals) / 2)
    best = cfgmod.load_yaml(folder / "best.yaml", Config())
    assert (best.actor_lr, best.tau) == (float(rows[0]["actor_lr"]), float(rows[0]["tau"]))
    assert best.total_steps == 1000 and best.network.hidden_sizes == (16, 16)
    text = (folder / "results.md").read_text()
    assert "| rank | actor_lr | tau |" in text and "best.yaml" in text
    for figure in ("curves.png", "metric.png"):
        assert (folder / figure).stat().st_size > 0


def test_optuna_search_runs_its_samples(tmp_path, local_ray):
    path = sweep_file(tmp_path, "tpe", "space:\n  actor_lr: {loguniform: [1.0e-4, 1.0e-2]}\n"
                                       "  batch_size: {randint: [16, 65]}\n"
                                       "seeds: 1\nsearch: optuna\nsamples: 4\n", steps=600,
                      every=300)
    folder = run_sweep(load_sweep(path), tmp_path / "out", verbose=0)
    rows = results(folder)
    assert len(rows) == 4 and all(r["status"] == "finished" for r in rows)
    assert len({r["actor_lr"] for r in rows}) == 4
    assert all(1e-4 <= float(r["actor_lr"]) <= 1e-2 and 16 <= int(r["batch_size"]) < 65
               for r in rows)


def test_asha_stops_a_bad_configuration_before_its_budget(tmp_path, local_ray):
    """actor_lr 1.0 saturates the actor (a constant -1020 on these seeds); the good trial runs
    first (one at a time: 2 CPUs each) and is near -200 at the rung of 4,000 steps."""
    path = sweep_file(tmp_path, "asha", "space:\n  actor_lr: {grid: [0.001, 1.0]}\nseeds: 2\n"
                                        "asha: {grace_period: 4, reduction_factor: 2}\n"
                                        "resources: {cpu: 2}\n",
                      steps=5000, every=1000, episodes=3, warmup=500, hidden="64, 64")
    folder = run_sweep(load_sweep(path), tmp_path / "out", verbose=0)
    by_lr = {r["actor_lr"]: r for r in results(folder)}
    assert by_lr["0.001"]["status"] == "finished" and by_lr["0.001"]["steps"] == "5000"
    assert by_lr["1"]["status"] == "stopped early" and int(by_lr["1"]["steps"]) == 4000


def test_trials_run_on_both_nodes_of_a_two_node_cluster(tmp_path):
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        path = sweep_file(tmp_path, "nodes", "space:\n  tau: {grid: [0.005, 0.01]}\nseeds: 1\n",
                          steps=600, every=300)
        folder = run_sweep(load_sweep(path), tmp_path / "out", address=cluster.address,
                           verbose=0)
        nodes = {r["node"] for r in results(folder)}  # where each trial's worker ran
        assert len(nodes) == 2 and nodes <= {n["NodeID"] for n in ray.nodes()}
    finally:
        ray.shutdown()
        cluster.shutdown()


def _worker_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "ray::ImplicitFunc"], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


def _newest_state(trial: Path, member: str = "s0") -> dict:
    path = sorted((trial / member / "checkpoints").glob("ckpt-*.pt"))[-1]
    return torch.load(path, weights_only=True)["agent"]


def test_a_killed_trial_worker_restarts_from_its_checkpoint_to_the_same_result(tmp_path):
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    body = "space:\n  tau: {grid: [0.005]}\nseeds: 2\nmax_failures: 2\n"
    kw = dict(steps=2000, every=250, episodes=1, warmup=200, hidden="32, 32")
    clean = run_sweep(load_sweep(sweep_file(tmp_path, "clean", body, **kw)), tmp_path / "out",
                      verbose=0)
    killed: list[int] = []

    def kill_when_committed(folder: Path) -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            for manifest in folder.glob("trials/*/population.json"):
                step = json.loads(manifest.read_text() or "{}").get("step") or 0
                if 750 <= step < 2000:
                    for pid in _worker_pids():
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
            time.sleep(0.05)

    folder = tmp_path / "out" / "killed"
    watcher = threading.Thread(target=kill_when_committed, args=(folder,), daemon=True)
    watcher.start()
    run_sweep(load_sweep(sweep_file(tmp_path, "killed", body, **kw)), tmp_path / "out",
              verbose=0)
    watcher.join(1)
    ray.shutdown()
    assert killed, "the trial finished before its worker could be killed"
    (row,) = results(folder)
    assert row["status"] == "finished" and row["steps"] == "2000"
    (a,) = (clean / "trials").iterdir()
    (b,) = (folder / "trials").iterdir()
    for member in ("s0", "s1"):
        want, got = _newest_state(a, member), _newest_state(b, member)
        for part in ("actor", "critic", "actor_target", "critic_target"):
            for k in want[part]:
                assert torch.equal(want[part][k], got[part][k]), (member, part, k)


def test_an_interrupted_sweep_resumes_without_rerunning_finished_trials(tmp_path):
    if ray.is_initialized():
        ray.shutdown()
    path = sweep_file(tmp_path, "again", "space:\n  tau: {grid: [0.005, 0.01, 0.02]}\n"
                                         "seeds: 1\nresources: {cpu: 2}\n", steps=1500,
                      every=500)
    out = tmp_path / "out"
    env = {**os.environ, "TUNE_GLOBAL_CHECKPOINT_S": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "ddpg.cli", "sweep", str(path), "--out",
                             str(out), "--cpus", "2"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    trials = out / "again" / "trials"
    deadline = time.time() + 150
    first = None
    while time.time() < deadline and first is None:  # the first trial finished, the next began
        done = [p for p in trials.glob("*/population.json")
                if json.loads(p.read_text() or "{}").get("step") == 1500]
        if done and len(list(trials.glob("*"))) >= 2:
            first = done[0].parent
        time.sleep(0.1)
    time.sleep(2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # the killed driver's local Ray (its own processes) goes too
    subprocess.run([str(Path(sys.executable).parent / "ray"), "stop", "--force"],
                   capture_output=True)
    assert first is not None, "the first trial did not finish in time"
    before = (first / "s0" / "metrics.csv").stat().st_mtime_ns
    assert sweep_main([str(path), "--out", str(out), "--cpus", "2", "--resume"]) == 0
    ray.shutdown()
    rows = results(out / "again")
    assert len(rows) == 3 and all(r["status"] == "finished" for r in rows)
    assert (first / "s0" / "metrics.csv").stat().st_mtime_ns == before  # not run again


def test_sweep_files_get_clear_errors(tmp_path):
    def bad(body: str, match: str, **kw) -> None:
        with pytest.raises(ConfigError, match=match):
            load_sweep(sweep_file(tmp_path, "bad", body, **kw))

    bad("space:\n  actor_l: {grid: [0.1]}\n", "Did you mean 'actor_lr'")
    bad("space:\n  actor_lr: {uniform: [0.1, 0.01]}\n", "empty range")
    bad("space:\n  actor_lr: {grid: [fast]}\n", "wrong type")
    bad("space:\n  batch_size: {uniform: [16, 64]}\n", "use randint")
    bad("space:\n  actor_lr: {loguniform: [0, 1]}\n", "> 0")
    bad("space:\n  actor_lr: {grid: [0.1]}\nsearch: optuna\n", "write choice")
    bad("space:\n  actor_lr: {grid: [0.1]}\nseeds: 0\n", "seeds")
    bad("space:\n  actor_lr: {grid: [0.1]}\nmetric: {name: best}\n", "final or auc")
    bad("space:\n  actor_lr: {grid: [0.1]}\nsearh: grid\n", "Did you mean 'search'")
    bad("space: {}\n", "at least one")
    with pytest.raises(ConfigError, match="no sweep to continue"):
        run_sweep(load_sweep(sweep_file(tmp_path, "new", "space:\n  tau: {grid: [0.1]}\n")),
                  tmp_path / "out", resume=True)


def test_an_unreachable_address_fails_in_seconds_before_the_sweep_folder(tmp_path):
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = sweep_file(tmp_path, "far", "space:\n  tau: {grid: [0.1]}\n")
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ddpg.cli", "sweep", str(path), "--address", f"127.0.0.1:{port}",
         "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=60,
        env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})  # Ray keeps 127.0.0.1
    took = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"ddpg sweep: error: cannot reach a Ray cluster at "
                                  f"127.0.0.1:{port} (connection refused)"), done.stderr
    assert took < 15, took
    assert not (tmp_path / "out").exists()
