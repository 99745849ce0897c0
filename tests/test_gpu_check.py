"""benchmarks/gpu_check.py runs only where a GPU is lent, minutes at a time; its dry run on the
CPU keeps it from rotting in between (an import or a signature it uses that moved)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def test_dry_run_on_the_cpu_records_its_parts(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device",
                        "cpu", "--out", str(tmp_path), "--only",
                        "b64_fast_eager,fast_vs_autograd"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "gpu_check.json").read_text())
    assert res["device"] == "cpu"
    assert isinstance(res["b64_fast_eager"], float) and res["b64_fast_eager"] > 0
    assert res["fast_vs_autograd_max_abs_diff"] < 1e-5
    assert "pytest" not in res and "pendulum_fp32" not in res  # --only left the rest out


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_without_a_gpu_it_says_so(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out",
                        str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no CUDA device here" in r.stderr


def test_population_parts_run_on_the_cpu_at_a_small_size():
    """The population parts, at 2 members and a few steps on the CPU: they run and report."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" /
                                                  "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    gpu_check.DEVICE = "cpu"
    out = gpu_check.population_speed(members=2, batch=16, steps=50)
    assert len(out["population"]) == len(out["one"]) == 2 and out["ratio"] > 0


def test_the_population_profile_runs_on_the_cpu_at_a_small_size():
    """The profile part at 2 members and a few steps on the CPU: host time, FLOPs and the
    busiest host operations come back (device time is the GPU's; on a CPU it reads 0)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" /
                                                  "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    gpu_check.DEVICE = "cpu"
    out = gpu_check.population_profile(members=2, batch=16, steps=5, warmup=40)
    assert out["host_ms_per_step"] > 0 and out["update_gflop"] > 0
    assert out["top_host_ops"] and all(op["calls"] > 0 for op in out["top_host_ops"])


def test_the_td7_and_her_parts_run_on_the_cpu_at_a_small_size(tmp_path):
    """The TD7 and hindsight-replay parts at a few hundred steps on the CPU: they run and
    report what their verdicts read."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" /
                                                  "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    gpu_check.DEVICE = "cpu"
    speed = gpu_check.td7_speed(tmp_path, steps=20, warmup=60, hidden=16)
    assert speed["rc"] == 0, speed["tail"]
    rates = json.loads((tmp_path / "speed_td7.json").read_text())
    assert "td7" in json.dumps(rates) and "td3" in json.dumps(rates)
    from ddpg.config import NetworkConfig, from_preset

    small = dict(network=NetworkConfig(hidden_sizes=(16, 16)),
                 td7=dataclasses.replace(from_preset("pendulum-td7").td7, embedding=8,
                                         encoder_hidden=16), batch_size=16)
    td7 = gpu_check.td7_pendulum_population(members=2, total_steps=400, warmup_steps=200,
                                            eval_every=200, eval_episodes=1,
                                            out=str(tmp_path / "td7"), **small)
    assert td7["members"] == 2 and set(td7["steps_to_solve"]) == {"s0", "s1"}
    her = gpu_check.her_population(tmp_path, members=2, total_steps=500)
    assert len(her["success"]) == 2 and all(0 <= r <= 1 for r in her["success"])
