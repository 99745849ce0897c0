"""The population update for networks the fast path does not cover (other activations, layer
normalisation, the action entering the critic after its first layer, --no-fast-path): the
reference autograd update of ddpg.update.ddpg_step / ddpg.td3.td3_step, written with torch.func.

Every network of every member is called at once by `vmap` over `functional_call` on the stacked
parameters (a leading member dimension, as ddpg.fast.mlp.stack_params holds them; each member's
own modules point at their slices), and one autograd pass computes every member's gradients: the
members' losses are independent, so the gradient of their sum with respect to member m's slice is
member m's own gradient. Then one fused Adam step per network (per group of equal learning rates)
and one Polyak step for all members, as the fast path's FastStep does.

Not covered (those populations update member by member with the reference update): batch
normalisation (its running statistics are updated in place by each forward pass), torch.compile
and bf16 autocast on a GPU.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

from ddpg.buffer import Batch
from ddpg.losses import (Regression, actor_loss, clipped_double_q_target,
                         smoothed_target_action, td_target)
from ddpg.fast.adam import FusedAdam
from ddpg.fast.mlp import stack_params
from ddpg.fast.steps import StackedPolyak, member_column


def unsupported(agents: Sequence) -> str | None:
    """Why these members cannot update with VmapStep, in words; None when they can."""
    c = agents[0].config
    if c.algo == "td7":
        return "TD7's update has no member dimension yet"
    if c.network.norm == "batch":
        return "batch normalisation"
    if c.compile:
        return "torch.compile"
    if c.precision == "bf16" and agents[0].device.type != "cpu":
        return "bf16 autocast"
    return None


class _Stacked:
    """One network (or one submodule of it) of every member: its parameters and buffers
    stacked by name; calling it runs every member's network on (M, B, ...) inputs."""

    def __init__(self, base: nn.Module, names: list[str], params: list[torch.Tensor],
                 buffer_names: list[str], buffers: list[torch.Tensor]) -> None:
        self.base, self.names, self.params = base, names, params
        self.buffer_names, self.buffers = buffer_names, buffers

        def one(params: list[torch.Tensor], buffers: list[torch.Tensor], *args: torch.Tensor):
            state = {**dict(zip(self.names, params)), **dict(zip(self.buffer_names, buffers))}
            return functional_call(self.base, state, args)

        self._all = vmap(one)

    @classmethod
    def of(cls, modules: Sequence[nn.Module]) -> _Stacked:
        """Stack the members' modules (of one architecture): every member's parameters and
        buffers become views of their slice (values unchanged)."""
        names = [n for n, _ in modules[0].named_parameters()]
        buffer_names = [n for n, _ in modules[0].named_buffers()]
        params = stack_params([[dict(m.named_parameters())[n] for n in names] for m in modules])
        buffers = stack_params([[dict(m.named_buffers())[n] for n in buffer_names]
                                for m in modules]) if buffer_names else []
        return cls(modules[0], names, params, buffer_names, buffers)

    def part(self, prefix: str) -> _Stacked:
        """The submodule `prefix` (e.g. a TwinCritic's q1), sharing these stacked tensors."""
        start = prefix + "."

        def pick(names: list[str], tensors: list[torch.Tensor]):
            kept = [(n[len(start):], t) for n, t in zip(names, tensors) if n.startswith(start)]
            return [n for n, _ in kept], [t for _, t in kept]

        return _Stacked(self.base.get_submodule(prefix), *pick(self.names, self.params),
                        *pick(self.buffer_names, self.buffers))

    def __call__(self, *args: torch.Tensor, params: list[torch.Tensor] | None = None):
        return self._all(self.params if params is None else params, self.buffers, *args)


class VmapStep:
    """One DDPG or TD3 update of every member at once, through autograd. Built from the members'
    Agents (ddpg.population.functional.unsupported must be None); takes a Batch whose tensors
    are (M, B, ...) and returns per-member (M,) tensors of the losses."""

    def __init__(self, agents: Sequence) -> None:
        self.td3 = agents[0].config.algo == "td3"
        self.regression = Regression.of(agents[0].config)  # the critics' loss
        self.action_l2 = agents[0].config.action_l2  # the actor loss's action penalty
        self.actor = _Stacked.of([a.actor for a in agents])
        self.actor_target = _Stacked.of([a.actor_target for a in agents])
        self.critic = _Stacked.of([a.critic for a in agents])
        self.critic_target = _Stacked.of([a.critic_target for a in agents])
        self.q_pi = self.critic.part("q1") if self.td3 else self.critic  # the actor's critic
        self.actor_optimizer = FusedAdam.stacked(self.actor.params,
                                                 [a.actor_optimizer for a in agents])
        self.critic_optimizer = FusedAdam.stacked(self.critic.params,
                                                  [a.critic_optimizer for a in agents])
        configs = [a.config for a in agents]
        like = self.actor.params[0]
        self.gamma = member_column([c.gamma for c in configs], like)
        self.polyak = StackedPolyak([c.tau for c in configs],  # all targets in one call
                                    self.critic.params + self.actor.params,
                                    self.critic_target.params + self.actor_target.params)
        self.target_noise = member_column([c.td3.target_noise for c in configs], like)
        self.target_noise_clip = member_column([c.td3.target_noise_clip for c in configs], like)
        self.generators = [a.generator for a in agents]

    @torch.no_grad()
    def policy(self, states: torch.Tensor) -> torch.Tensor:
        """mu(s) of every member for states (M, n, obs): (M, n, act)."""
        return self.actor(states)

    def step(self, batch: Batch, update_actor: bool = True) -> dict[str, torch.Tensor]:
        states, actions, rewards, next_states, dones = batch  # (M, B, ...)
        with torch.no_grad():
            next_a = self.actor_target(next_states)
            if self.td3:  # each member's noise drawn by its own generator
                next_a = smoothed_target_action(next_a, self.target_noise,
                                                self.target_noise_clip, self.generators)
            next_q = self.critic_target(next_states, next_a)
            # y = r + gamma (1 - done) Q'(s', a') (TD3: the smaller of the twin targets), each
            # member's gamma
            clip = self.regression.target_range
            y = (clipped_double_q_target(rewards, dones, *next_q, self.gamma,
                                         target_range=clip) if self.td3
                 else td_target(rewards, dones, next_q, self.gamma, clip))

        params = [p.detach().requires_grad_() for p in self.critic.params]
        q = self.critic(states, actions, params=params)
        q1 = q[0] if self.td3 else q
        qs = list(q) if self.td3 else [q]
        loss_q = sum(self.regression.loss(qi, y) for qi in qs)
        grads = torch.autograd.grad(loss_q.sum(), params)
        with torch.no_grad():
            self.critic_optimizer.step([g.contiguous() for g in grads])
        info = {"critic_loss": loss_q.detach(), "q": q1.detach().mean(dim=(1, 2)),
                **self.regression.priority(qs, y)}
        if not update_actor:
            zero = torch.zeros_like(info["critic_loss"])
            return {**info, "actor_loss": zero, "actor_updated": zero}

        # the actor: minimise -mean Q(s, mu(s)) per member through the updated critic
        params = [p.detach().requires_grad_() for p in self.actor.params]
        mu = self.actor(states, params=params)
        loss_pi = actor_loss(self.q_pi(states, mu), mu, self.action_l2)
        grads = torch.autograd.grad(loss_pi.sum(), params)
        with torch.no_grad():
            self.actor_optimizer.step([g.contiguous() for g in grads])
            self.polyak()
        info["actor_loss"] = loss_pi.detach()
        info["actor_updated"] = torch.ones_like(info["critic_loss"])
        return info
