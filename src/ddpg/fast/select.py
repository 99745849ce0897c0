"""Which update an agent runs, picked once from its config and networks.

The reference is autograd's `ddpg.update.ddpg_step` / `ddpg.td3.td3_step`: the lesson's math as
written. Acceleration wraps it from outside: for plain ReLU networks in float32 (or bf16
products on a CPU) the same update with hand-written backward passes (ddpg.fast.steps), and on
a GPU that update replayed as one CUDA graph (ddpg.fast.cudagraph). Anything else, or
--no-fast-path / --compile / bf16 autocast, runs the reference.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import nn

from ddpg.config import Config
from ddpg.devices import graphs_update
from ddpg.fast.adam import FusedAdam
from ddpg.fast.cudagraph import GraphedStep
from ddpg.fast.steps import FastDDPG, FastStep, FastTD3
from ddpg.losses import Regression


class UpdateChoice(NamedTuple):
    """`fast` is None when the reference autograd update runs; else `step` is fast.step or
    its CUDA-graph replay. `how` says which, in words."""

    fast: FastStep | None
    step: Callable[..., dict[str, torch.Tensor]] | None
    how: str


def select_update(config: Config, device: torch.device, actor: nn.Module, critic: nn.Module,
                  actor_target: nn.Module, critic_target: nn.Module,
                  actor_optimizer: FusedAdam, critic_optimizer: FusedAdam,
                  generator: torch.Generator) -> UpdateChoice:
    """The update for `config` on these networks: the fast path where it computes the same
    math (DDPG or TD3, plain ReLU networks, fp32 or CPU bf16), else the reference."""
    c = config
    cpu_bf16 = c.precision == "bf16" and device.type == "cpu"
    why_not = ("torch.compile" if c.compile else "--no-fast-path" if not c.fast_path
               else "bf16 autocast" if c.precision == "bf16" and not cpu_bf16 else None)
    fast: FastStep | None = None
    nets = (actor, critic, actor_target, critic_target, actor_optimizer, critic_optimizer,
            c.tau, c.gamma)
    if why_not is None and FastStep.supports(actor, critic):  # the one fast step, one member
        regression = Regression.of(c)  # the critics' loss: the lesson's, or LAP's
        fast = (FastTD3(*nets, c.td3.target_noise, c.td3.target_noise_clip, generator,
                        regression=regression, action_l2=c.action_l2)
                if c.algo == "td3"
                else FastDDPG(*nets, regression=regression, action_l2=c.action_l2))
    if fast is None:
        why = why_not or ("the network is not a plain ReLU MLP with the action at the critic's "
                          "input")
        return UpdateChoice(None, None, f"autograd ({why})")
    how = "fast path (hand-written backward passes)"
    if graphs_update(device, c):
        graphed = GraphedStep(fast.step, (generator,) if c.algo == "td3" else ())
        return UpdateChoice(fast, graphed, how + ", CUDA graph after 3 updates")
    return UpdateChoice(fast, fast.step, how)
