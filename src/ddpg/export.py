"""A trained policy as a file that runs without ddpg: ONNX (onnxruntime and numpy are enough) or
TorchScript (torch alone).

What is exported is the whole noise-free policy from a raw observation to an action in the
environment's units, as `Policy.act` computes it: the observation normalisation of --obs-norm
(its statistics fixed at export), mu(s) in [-1, 1], and the rescaling to [low, high] per action
dimension. Input `obs`, float32 of shape (batch, obs_dim) with any batch size; output `action`,
float32 of shape (batch, action_dim). A policy of a goal-conditioned task takes the environment's
Dict keys as inputs of their own instead, `achieved_goal`, `desired_goal` and `observation`
(float32, (batch, width) each), concatenated inside in that order (ddpg.goals.GOAL_KEYS), so a
deployment feeds the Dict as it comes. Beside the file, `<file>.json` describes it: shapes and
bounds, env id, algorithm, the ddpg and torch versions, the normalisation statistics used.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ddpg.errors import ConfigError
from ddpg.fileio import atomic_write_bytes
from ddpg.goals import GOAL_KEYS
from ddpg.policy import Policy
from ddpg.version import __version__

FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}


class DeployedPolicy(nn.Module):
    """Raw observation -> action in the environment's units, as one module:
    a = low + (clip(mu(clip((o - mean) / std, -c, c)), -1, 1) + 1) (high - low) / 2.
    A goal-conditioned policy's observation arrives as its Dict's parts (`inputs` names them),
    o = [achieved_goal, desired_goal, observation]."""

    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.actor = copy.deepcopy(policy.actor).float().eval().requires_grad_(False)
        norm = policy.obs_norm
        self.normalize = norm is not None
        mean = np.zeros(policy.obs_dim) if norm is None else norm.mean
        std = np.ones(policy.obs_dim) if norm is None else np.sqrt(norm.var + norm.eps)
        self.clip = 0.0 if norm is None else float(norm.clip)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.register_buffer("low", torch.as_tensor(policy.low, dtype=torch.float32))
        self.register_buffer("high", torch.as_tensor(policy.high, dtype=torch.float32))
        layout = policy.goal_layout
        self.inputs = {"obs": policy.obs_dim} if layout is None else layout.to_dict()
        self.eval()  # exporters trace inference; in training mode torch's exporter warns

    def forward(self, *parts: torch.Tensor) -> torch.Tensor:
        x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        if self.normalize:
            x = ((x - self.mean) / self.std).clamp(-self.clip, self.clip)
        a = self.actor(x).clamp(-1.0, 1.0)
        return self.low + (a + 1.0) * 0.5 * (self.high - self.low)


def describe(policy: Policy, fmt: str) -> dict:
    """The JSON written beside an exported file."""
    meta = policy.metadata
    norm = policy.obs_norm
    goal = policy.goal_layout
    inputs = {"input": "obs"} if goal is None else {
        "inputs": {k: [w] for k, w in goal.to_dict().items()},
        "goal_keys_order": list(GOAL_KEYS)}
    return {
        "format": fmt, **inputs, "output": "action",
        "observation_shape": [policy.obs_dim], "action_shape": [int(policy.low.shape[0])],
        "action_low": policy.low.tolist(), "action_high": policy.high.tolist(),
        "dtype": "float32", "env": meta.get("env"), "algo": meta.get("algo"),
        "ddpg_version": __version__, "trained_with_ddpg_version": meta.get("ddpg_version"),
        "torch_version": torch.__version__,
        "obs_norm": None if norm is None else {
            "mean": norm.mean.tolist(), "var": norm.var.tolist(), "eps": norm.eps,
            "clip": norm.clip, "count": norm.count},
    }


# torch's ONNX exporter, on its first export in a process, logs one warning per torchvision
# operator it cannot register when torchvision is absent (four lines); a policy uses none of them
TORCHVISION_LOGGER = "torch.onnx._internal.exporter._registration"
TORCHVISION_NOTICE = "torchvision is not installed"
# and torch.export warns about its own use of a deprecated pytree check (torch 2.13)
LEAFSPEC_WARNING = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
# and, for a goal policy's several inputs, that they share one batch axis (as meant)
SHARED_AXIS_WARNING = r"# The axis name: batch will not be used, since it shares"


class _DropTorchvisionNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(TORCHVISION_NOTICE)


@contextlib.contextmanager
def _quiet_onnx_exporter():
    """Silences exactly the exporter's notices above, only while it runs; any other warning of
    the exporter still shows."""
    logger, notice = logging.getLogger(TORCHVISION_LOGGER), _DropTorchvisionNotice()
    logger.addFilter(notice)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=LEAFSPEC_WARNING, category=FutureWarning)
            warnings.filterwarnings("ignore", message=SHARED_AXIS_WARNING, category=UserWarning)
            yield
    finally:
        logger.removeFilter(notice)


def _onnx_bytes(module: DeployedPolicy, example: tuple[torch.Tensor, ...]) -> bytes:
    try:
        import onnx
        import onnxscript  # noqa: F401 - torch's exporter needs it
    except ImportError as e:
        raise ConfigError(f"--format onnx needs the export extra ({e.name} is not installed): "
                          f"pip install -e '.[export]', or use --format torchscript.") from e
    batch = torch.export.Dim("batch")
    with _quiet_onnx_exporter():
        program = torch.onnx.export(module, example, input_names=list(module.inputs),
                                    output_names=["action"],
                                    dynamic_shapes=(tuple({0: batch} for _ in example),),
                                    dynamo=True, verbose=False)
    model = program.model_proto
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def _torchscript_bytes(module: DeployedPolicy, example: tuple[torch.Tensor, ...]) -> bytes:
    with warnings.catch_warnings():  # torch.jit is deprecated in favour of torch.export
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, example)
        buf = io.BytesIO()
        torch.jit.save(traced, buf)
    return buf.getvalue()


def export(policy: Policy, fmt: str, out: str | Path) -> tuple[Path, Path]:
    """Write `policy` as `fmt` ('onnx' or 'torchscript') to `out` and its description to
    `out` + '.json', each atomically. Returns both paths."""
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r} is unknown; use one of {', '.join(FORMATS)}.")
    module = DeployedPolicy(policy)
    example = tuple(torch.zeros(2, w) for w in module.inputs.values())
    data = _onnx_bytes(module, example) if fmt == "onnx" else _torchscript_bytes(module, example)
    out = Path(out)
    side = out.with_name(out.name + ".json")
    atomic_write_bytes(out, data)
    atomic_write_bytes(side, (json.dumps(describe(policy, fmt), indent=2) + "\n").encode())
    return out, side


def default_path(source: Path, fmt: str) -> Path:
    """Where `ddpg export SOURCE` writes without --out: policy.onnx or policy.torchscript.pt in
    the run directory, or beside the policy file."""
    base = source / "policy" if source.is_dir() else source.with_suffix("")
    return base.with_name(base.name + FORMATS[fmt])
