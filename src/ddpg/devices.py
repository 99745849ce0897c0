"""One form for a device everywhere.

A device is named once, in the config (`--device`), and resolved once into its canonical form
by `canonical_device`: a CPU is `cpu`, whatever index it was written with (torch's CPU tensors
report `cpu`, never `cpu:0`), and a GPU is `cuda:N` (`cuda` alone is the current GPU, as torch
places tensors). The config keeps that form (`resolve`), every tensor is made on it, and every
comparison of devices is made between canonical forms (`same_device`): comparing a config's
`cuda` with a tensor's `cuda:0`, or `cpu:0` with `cpu`, is what crashed populations on every GPU.

What exists only on a GPU is decided here too, from the canonical device, so that a CPU test
reaches the same decisions: `graphs_update` (the update replayed as a CUDA graph), `pins`
(host-to-device copies from pinned memory, without waiting; `to_device` makes them) and
`gpu_cost` (options that cost speed on a GPU, said in one line). `cuda_count` and
`current_cuda` stand in for the machine's GPUs in tests.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import torch

from ddpg.errors import ConfigError

if TYPE_CHECKING:
    from ddpg.config import Config


def canonical_device(spec: str | torch.device, *, cuda_count: int | None = None,
                     current_cuda: int | None = None) -> torch.device:
    """`spec` in canonical form, checked to exist here: `cpu` for any CPU, `cuda:N` for a GPU
    (`cuda` is the current one). Raises ConfigError, naming the value and what to use instead,
    for anything else (`tpu`, `mps`, `cuda:7` on a machine with one GPU, `cuda` without one)."""
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ConfigError(f"device={str(spec)!r} is not a torch device; use 'cpu', 'cuda' (the "
                          f"current GPU) or 'cuda:N'.") from e
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type != "cuda":
        raise ConfigError(f"device={str(spec)!r}: ddpg runs on 'cpu' or 'cuda' ('cuda:N'), "
                          f"not on {device.type!r}; use --device cpu or --device cuda.")
    count = _cuda_count() if cuda_count is None else cuda_count
    if count == 0:
        raise ConfigError(f"device={str(spec)!r} but no CUDA GPU is usable here (torch "
                          f"{torch.__version__}); use --device cpu.")
    index = device.index
    if index is None:
        index = torch.cuda.current_device() if current_cuda is None else current_cuda
    if not 0 <= index < count:
        gpus = "cuda:0" if count == 1 else f"cuda:0 .. cuda:{count - 1}"
        raise ConfigError(f"device={str(spec)!r} but this machine has {count} CUDA GPU"
                          f"{'s' if count > 1 else ''} ({gpus}); use one of those, or "
                          f"--device cpu.")
    return torch.device("cuda", index)


def _cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def same_device(a: str | torch.device, b: str | torch.device) -> bool:
    """Whether `a` and `b` name one device (`cuda` and `cuda:0` where cuda:0 is current,
    `cpu:0` and `cpu`). Neither is checked to exist: tensors' devices always do."""
    return _form(torch.device(a)) == _form(torch.device(b))


def _form(d: torch.device) -> torch.device:
    if d.type == "cpu":
        return torch.device("cpu")
    if d.type == "cuda" and d.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return d


def resolve(config: Config, **gpus: int) -> Config:
    """`config` with its device in canonical form (idempotent): the one place a config's
    device is resolved; `gpus`: cuda_count / current_cuda, for tests."""
    device = str(canonical_device(config.device, **gpus))
    return config if device == config.device else dataclasses.replace(config, device=device)


def pins(device: str | torch.device) -> bool:
    """Whether host data goes to `device` through pinned memory without the host waiting for
    the copy (a GPU); elsewhere the copy is a plain one."""
    return torch.device(device).type == "cuda"


def to_device(array: np.ndarray, device: str | torch.device) -> torch.Tensor:
    """`array` as a tensor on `device`: on a GPU staged in pinned memory and copied without
    the host waiting (torch's caching host allocator keeps the pinned block until the copy has
    run, and work queued after it on the stream sees the data), so the caller may reuse
    `array` at once; elsewhere torch.from_numpy(array).to(device) (on a CPU, the array's own
    memory, as before)."""
    t = torch.from_numpy(array)
    if pins(device):
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def graphs_update(device: str | torch.device, config: Config) -> bool:
    """Whether the update on `device` is replayed as a CUDA graph (ddpg.fast.cudagraph): on a
    GPU, unless --no-cuda-graph. The fast path and a population's step both ask here."""
    return torch.device(device).type == "cuda" and config.cuda_graph


# Measured on an NVIDIA H200 (torch 2.11, 400-300 networks; docs/howto/gpu.md has the table)
_BF16_GPU = ("--precision bf16 on a GPU runs the autograd update under autocast, without the fast "
             "path and its CUDA graph: about 5x slower than fp32 at DDPG's sizes (a GPU is "
             "launch-bound there; docs/howto/gpu.md). Use --precision fp32 on a GPU.")
_COMPILE_GPU = ("--compile on a GPU: torch.compile's 'reduce-overhead' replays no CUDA graph "
                "for this update (its in-place step counters count as mutated inputs), about 9x "
                "slower than the default graphed fast path (docs/howto/gpu.md). Leave --compile "
                "off on a GPU.")


def gpu_cost(config: Config) -> str | None:
    """One line saying what an option costs on a GPU where it makes training slower than the
    default (bf16, --compile), else None. `config.device` is canonical (`resolve`)."""
    if torch.device(config.device).type != "cuda":
        return None
    if config.compile:
        return _COMPILE_GPU
    if config.precision == "bf16":
        return _BF16_GPU
    return None
