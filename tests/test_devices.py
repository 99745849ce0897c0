"""One device form everywhere (ddpg.devices), exercised on any CPU: an indexed device name
(`cpu:0`) through a single run, populations (the stacked fast path and the vmap path), TD3,
resume of both (onto another device name), `ddpg eval`, `ddpg export` and `ddpg.load`; the
decisions that exist only on a GPU (canonical cuda:N, CUDA graphs, what bf16 and --compile
cost there) through the same functions with the GPUs stood in for."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
import torch

import ddpg
from ddpg import devices
from ddpg.buffer import ReplayBuffer
from ddpg.cli import main
from ddpg.config import Config, NetworkConfig
from ddpg.devices import canonical_device, gpu_cost, graphs_update, same_device
from ddpg.errors import ConfigError
from ddpg.population import resume_population, train_population
from ddpg.resume import resume
from ddpg.seeding import restore_generator


@pytest.mark.parametrize("spec", ["cpu", "cpu:0", "cpu:3", torch.device("cpu", 1)])
def test_every_cpu_name_is_the_cpu_tensors_report(spec):
    assert canonical_device(spec) == torch.zeros(1).device == torch.device("cpu")
    assert same_device(spec, torch.zeros(1).device)


def test_cuda_is_the_current_gpu_and_an_index_is_checked():
    assert canonical_device("cuda", cuda_count=2, current_cuda=1) == torch.device("cuda", 1)
    assert canonical_device("cuda:1", cuda_count=2, current_cuda=0) == torch.device("cuda", 1)
    assert str(canonical_device("cuda", cuda_count=1, current_cuda=0)) == "cuda:0"
    assert not same_device("cpu", "cuda:0")
    assert same_device("cuda:1", torch.device("cuda", 1))


@pytest.mark.parametrize("spec, gpus, words", [
    ("cuda:7", {"cuda_count": 1, "current_cuda": 0}, ["'cuda:7'", "1 CUDA GPU (cuda:0)"]),
    ("cuda:2", {"cuda_count": 2, "current_cuda": 0}, ["'cuda:2'", "cuda:0 .. cuda:1"]),
    ("cuda", {"cuda_count": 0}, ["'cuda'", "no CUDA GPU", "--device cpu"]),
    ("tpu", {}, ["'tpu'", "is not a torch device", "'cuda:N'"]),
    ("mps", {}, ["'mps'", "not on 'mps'", "--device cpu"]),
    ("", {}, ["''", "is not a torch device"]),
])
def test_a_device_that_is_not_here_is_one_clear_error(spec, gpus, words):
    with pytest.raises(ConfigError) as e:
        canonical_device(spec, **gpus)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_the_config_is_resolved_once_into_the_canonical_form():
    c = devices.resolve(Config(device="cpu:0"))
    assert c.device == "cpu" and devices.resolve(c) is c
    gpu = devices.resolve(Config(device="cuda"), cuda_count=2, current_cuda=1)
    assert gpu.device == "cuda:1"


def test_graph_capture_and_gpu_costs_are_decided_from_the_canonical_device():
    gpu = devices.resolve(Config(device="cuda"), cuda_count=1, current_cuda=0)
    assert graphs_update(gpu.device, gpu)
    assert not graphs_update(gpu.device, dataclasses.replace(gpu, cuda_graph=False))
    assert not graphs_update("cpu", Config())
    assert gpu_cost(gpu) is None
    bf16 = gpu_cost(dataclasses.replace(gpu, precision="bf16"))
    assert "--precision bf16 on a GPU" in bf16 and "slower" in bf16 and "gpu.md" in bf16
    assert "--compile on a GPU" in gpu_cost(dataclasses.replace(gpu, compile=True))
    assert gpu_cost(dataclasses.replace(Config(), compile=True)) is None  # a CPU: no such cost


def test_host_data_goes_to_a_gpu_through_pinned_memory_and_may_be_reused_at_once(monkeypatch):
    """`pins` is decided from the device; on a GPU `to_device` stages a copy of the array, so
    the caller may overwrite it while the copy is still queued. The pinned branch runs here with
    pinning stood in for (a CPU-only torch cannot pin)."""
    assert devices.pins("cuda:0") and devices.pins(torch.device("cuda", 1))
    assert not devices.pins("cpu") and not devices.pins("cpu:0")
    staged = []
    monkeypatch.setattr(torch.Tensor, "pin_memory",
                        lambda self: staged.append(self) or self.clone())
    monkeypatch.setattr(devices, "pins", lambda device: True)
    for pinned in (True, False):
        array = np.arange(6, dtype=np.int64).reshape(2, 3)
        t = devices.to_device(array, "cpu")
        array[:] = -1  # the caller reuses its array
        if pinned:
            assert torch.equal(t, torch.arange(6).reshape(2, 3)) and len(staged) == 1
            monkeypatch.undo()
        else:  # without pinning, the CPU tensor shares the array's memory, as from_numpy does
            assert t.dtype == torch.int64 and torch.equal(t, torch.full((2, 3), -1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_the_pinned_copy_keeps_the_values_of_when_it_was_queued():
    array = np.arange(1 << 16, dtype=np.float32)
    t = devices.to_device(array, "cuda")
    array[:] = -1  # before the copy is known to have run
    torch.cuda.synchronize()
    assert t.is_cuda and torch.equal(t.cpu(), torch.arange(1 << 16, dtype=torch.float32))


def test_a_buffer_accepts_storage_on_the_same_device_under_any_name():
    rows = torch.zeros(10, 2 * 3 + 1 + 2)
    buf = ReplayBuffer(10, 3, 1, device="cpu:0", storage=rows)
    assert buf.device == torch.device("cpu")
    with pytest.raises(ValueError, match="does not fit"):
        ReplayBuffer(10, 3, 2, device="cpu:0", storage=rows)


def test_a_generator_state_from_another_kind_of_device_is_reseeded_with_a_warning():
    g = torch.Generator().manual_seed(5)
    saved = g.get_state()
    draws = torch.rand(3, generator=g)
    h = torch.Generator()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a state of the same kind carries over, silently
        assert restore_generator(h, saved, seed=0, step=10, what="replay sampling")
    assert torch.equal(torch.rand(3, generator=h), draws)
    philox = torch.zeros(16, dtype=torch.uint8)  # what a CUDA generator's state looks like
    with pytest.warns(RuntimeWarning, match="replay sampling.*another kind of device"):
        assert not restore_generator(h, philox, seed=0, step=10, what="replay sampling")
    first = torch.rand(3, generator=h)
    with pytest.warns(RuntimeWarning):
        restore_generator(h, philox, seed=0, step=10, what="replay sampling")
    assert torch.equal(torch.rand(3, generator=h), first)  # reseeded from (seed, step): the same


def tiny(tmp_path, **kw) -> Config:
    values = dict(env="Pendulum-v1", device="cpu:0", total_steps=240, warmup_steps=60,
                  batch_size=16, eval_every=120, eval_episodes=1, checkpoint_every=120,
                  network=NetworkConfig(hidden_sizes=(16, 16)), out=str(tmp_path),
                  tensorboard=False, progress=False, threads=1)
    return dataclasses.replace(Config(), **{**values, **kw})


NETWORKS = {"relu": NetworkConfig(hidden_sizes=(16, 16)),
            "tanh-layer": NetworkConfig(hidden_sizes=(16, 16), activation="tanh", norm="layer")}


@pytest.mark.parametrize("algo", ["ddpg", "td3"])
@pytest.mark.parametrize("network", ["relu", "tanh-layer"])
def test_a_population_on_an_indexed_device_trains_resumes_and_loads(tmp_path, algo, network,
                                                                     capfd):
    cfg = tiny(tmp_path, algo=algo, run_name="pop", network=NETWORKS[network])
    result = train_population(cfg, seeds="0-1")
    assert all(r is not None for r in result.final_returns().values())
    err = capfd.readouterr().err
    assert ("batched products" if network == "relu" else "torch.func vmap") in err
    pop = tmp_path / "pop"
    assert {json.loads((pop / "population.json").read_text())["step"]} == {240}
    more = resume_population(pop, total_steps=360, device="cpu:0")
    assert json.loads((pop / "population.json").read_text())["step"] == 360
    assert set(more.final_returns()) == {"s0", "s1"}
    policy = ddpg.load(pop / "s1")
    obs, _ = __import__("gymnasium").make("Pendulum-v1").reset(seed=0)
    assert policy.act(obs).shape == (1,)


@pytest.mark.parametrize("algo", ["ddpg", "td3"])
def test_a_single_run_on_an_indexed_device_trains_resumes_evaluates_and_exports(tmp_path, algo,
                                                                                capsys):
    run = ddpg.train(tiny(tmp_path, algo=algo, run_name="one")).run_dir
    assert ddpg.load(run).metadata["algo"] == algo
    again = resume(run, total_steps=360, device="cpu:0")
    assert again.evaluations[-1]["step"] == 360
    assert main(["eval", str(run), "--episodes", "1"]) == 0
    assert "return" in capsys.readouterr().out
    assert main(["export", str(run), "--format", "torchscript"]) == 0
    module = torch.jit.load(str(run / "policy.torchscript.pt"))
    obs = np.random.default_rng(0).uniform(-1, 1, (4, 3)).astype(np.float32)
    assert np.allclose(module(torch.from_numpy(obs)).numpy(), ddpg.load(run).act(obs),
                       atol=1e-5)


def test_the_command_line_trains_a_population_on_cpu_0(tmp_path):
    assert main(["train", "--seeds", "0-1", "--device", "cpu:0", "--total-steps", "240",
                 "--warmup-steps", "60", "--eval-every", "240", "--eval-episodes", "1",
                 "--network.hidden-sizes", "16", "16", "--out", str(tmp_path), "--run-name",
                 "p", "--no-progress", "--no-tensorboard", "--threads", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "p").iterdir() if p.is_dir()) == ["s0", "s1"]
    assert main(["train", "--resume", str(tmp_path / "p"), "--total-steps", "300",
                 "--device", "cpu:0", "--no-progress"]) == 0


@pytest.mark.parametrize("device", ["tpu", "cuda:7", "cuda", "mps"])
@pytest.mark.parametrize("seeds", [[], ["--seeds", "0-1"]])
def test_a_device_that_is_not_here_exits_2_in_one_line_and_leaves_nothing(tmp_path, capfd,
                                                                          device, seeds):
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = main(["train", "--device", device, "--total-steps", "300", "--out", str(tmp_path),
                 "--no-progress", *seeds])
    err = capfd.readouterr().err
    assert code == 2
    assert f"device={device!r}" in err and "Traceback" not in err
    assert [ln for ln in err.splitlines() if "error" in ln] == \
        [ln for ln in err.splitlines() if f"device={device!r}" in ln]
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())
