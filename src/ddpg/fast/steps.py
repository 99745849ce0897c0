"""DDPG's and TD3's updates with the backward passes written out, for plain ReLU networks.

The same math as `ddpg.update.ddpg_step` and `ddpg.td3.td3_step` (tests check both leave the
same parameters to float32 rounding), with the gradients of the two losses computed by hand
(ddpg.fast.mlp) instead of by autograd:

    critic:  L_Q  = mean (Q(s, a) - y)^2        dL_Q/dQ      = 2 (Q(s, a) - y) / B
    actor:   L_mu = -mean Q(s, mu(s))           dL_mu/dQ     = -1 / B, carried back through the
             critic to its action input, then through tanh (1 - mu^2) into the actor.

On a CPU at DDPG's sizes this removes about half of the time that is not matrix products.
`ddpg.fast.select.select_update` uses them when the networks are plain MLPs (ReLU, no
normalisation, the action entering the critic at its input) in float32 (on a CPU also under
--precision bf16, where oneDNN takes the products' operands to bf16); everything else runs
`ddpg_step` / `td3_step` under autograd. TD3's target and update keep their own equations here too.
"""

from __future__ import annotations

import torch
from torch import nn

from ddpg.buffer import Batch
from ddpg.fast.adam import FusedAdam
from ddpg.fast.mlp import (MLP, actor_step_cols, check_order, columns, mu_cols, plain_actor,
                           plain_critic, regress)
from ddpg.losses import (clipped_double_q_target, polyak_update, smoothed_target_action,
                         td_target)


class FastDDPG:
    """`ddpg.update.ddpg_step` for an Actor and Critic from ddpg.networks that `supports`
    accepts, with FusedAdam optimizers. `step(batch)` returns the same tensors as ddpg_step."""

    def __init__(self, actor: nn.Module, critic: nn.Module, actor_target: nn.Module,
                 critic_target: nn.Module, actor_optimizer: FusedAdam,
                 critic_optimizer: FusedAdam, tau: float, gamma: float) -> None:
        if not self.supports(actor, critic):
            raise ValueError("FastDDPG needs plain ReLU networks with the action entering the "
                             "critic at its input; use ddpg.update.ddpg_step for others.")
        self.actor, self.critic = MLP(actor.net), MLP(critic.net)
        self.actor_target, self.critic_target = MLP(actor_target.net), MLP(critic_target.net)
        self.max_action = actor.max_action
        # (act, 1) views of max_action, for actions held one column per sample
        self.max_action_col = actor.max_action.reshape(-1, 1)
        self.target_max_action_col = actor_target.max_action.reshape(-1, 1)
        check_order(actor_optimizer, self.actor)
        check_order(critic_optimizer, self.critic)
        self.actor_optimizer, self.critic_optimizer = actor_optimizer, critic_optimizer
        self.tau, self.gamma = tau, gamma
        self._pairs = [(list(critic.parameters()), list(critic_target.parameters())),
                       (list(actor.parameters()), list(actor_target.parameters()))]

    @staticmethod
    def supports(actor: nn.Module, critic: nn.Module) -> bool:
        return plain_actor(actor) and plain_critic(critic)

    def policy(self, states: torch.Tensor) -> torch.Tensor:
        """mu(s), as actor(states) computes it, without nn.Module call overhead (for acting;
        call it under torch.no_grad())."""
        return self.max_action * torch.tanh(self.actor.forward(states))

    @torch.no_grad()
    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        states, actions, rewards, next_states, dones = batch
        x = columns(states, actions)  # [s; a], one column per sample
        s = x[:states.shape[1]]

        # Critic: minimise (Q(s, a) - y)^2 with y = r + gamma (1 - done) Q'(s', mu'(s')).
        next_s = next_states.t()
        next_a = mu_cols(self.actor_target, self.target_max_action_col, next_s)
        next_q = self.critic_target.forward_cols(torch.cat([next_s, next_a]))
        y = td_target(rewards, dones, next_q.t(), self.gamma).t()
        q, loss_q = regress(self.critic, x, y)
        self.critic_optimizer.step(self.critic.grads)

        # Actor: maximise Q(s, mu(s)) through the updated critic.
        loss_pi = actor_step_cols(self.actor, self.max_action_col, self.critic,
                              self.actor_optimizer, s)

        # Targets: theta' <- tau theta + (1 - tau) theta'.
        for params, target_params in self._pairs:
            polyak_update(params, target_params, self.tau)
        return {"critic_loss": loss_q, "actor_loss": loss_pi, "q": q.mean()}


class FastTD3:
    """`ddpg.td3.td3_step` for an Actor and a TwinCritic of plain ReLU networks, with FusedAdam
    optimizers. `step(batch, update_actor)` returns the same tensors as td3_step."""

    def __init__(self, actor: nn.Module, critic: nn.Module, actor_target: nn.Module,
                 critic_target: nn.Module, actor_optimizer: FusedAdam,
                 critic_optimizer: FusedAdam, tau: float, gamma: float, target_noise: float,
                 target_noise_clip: float, generator: torch.Generator | None = None) -> None:
        if not self.supports(actor, critic):
            raise ValueError("FastTD3 needs plain ReLU networks with the action entering the "
                             "critics at their input; use ddpg.td3.td3_step for others.")
        self.actor, self.actor_target = MLP(actor.net), MLP(actor_target.net)
        self.q1, self.q2 = MLP(critic.q1.net), MLP(critic.q2.net)
        self.q1_target, self.q2_target = MLP(critic_target.q1.net), MLP(critic_target.q2.net)
        self.max_action = actor.max_action
        self.max_action_col = actor.max_action.reshape(-1, 1)
        self.target_max_action_col = actor_target.max_action.reshape(-1, 1)
        check_order(actor_optimizer, self.actor)
        check_order(critic_optimizer, self.q1, self.q2)
        self.actor_optimizer, self.critic_optimizer = actor_optimizer, critic_optimizer
        self.tau, self.gamma = tau, gamma
        self.target_noise, self.target_noise_clip = target_noise, target_noise_clip
        self.generator = generator
        self._pairs = [(list(critic.parameters()), list(critic_target.parameters())),
                       (list(actor.parameters()), list(actor_target.parameters()))]

    @staticmethod
    def supports(actor: nn.Module, critic: nn.Module) -> bool:
        return (plain_actor(actor) and all(plain_critic(getattr(critic, q, None))
                                            for q in ("q1", "q2")))

    policy = FastDDPG.policy

    @torch.no_grad()
    def step(self, batch: Batch, update_actor: bool) -> dict[str, torch.Tensor]:
        states, actions, rewards, next_states, dones = batch

        x = columns(states, actions)  # [s; a], one column per sample

        # Critics: y = r + gamma (1 - done) min_i Q_i'(s', clip(mu'(s') + clip(eps, -c, c), -1, 1)).
        next_s = next_states.t()
        next_a = smoothed_target_action(  # noise drawn in the (batch, act) shape td3_step uses
            mu_cols(self.actor_target, self.target_max_action_col, next_s).t(), self.target_noise,
            self.target_noise_clip, self.generator).t()
        next_x = torch.cat([next_s, next_a])
        y = clipped_double_q_target(rewards, dones, self.q1_target.forward_cols(next_x).t(),
                                    self.q2_target.forward_cols(next_x).t(), self.gamma).t()
        q1, loss_q1 = regress(self.q1, x, y)
        _, loss_q2 = regress(self.q2, x, y)
        self.critic_optimizer.step(self.q1.grads + self.q2.grads)

        zero = torch.zeros((), device=states.device)
        info = {"critic_loss": loss_q1 + loss_q2, "q": q1.mean(), "actor_loss": zero,
                "actor_updated": zero}
        if not update_actor:
            return info

        # Actor (delayed): maximise Q1(s, mu(s)); no gradient into either critic.
        info["actor_loss"] = actor_step_cols(self.actor, self.max_action_col, self.q1,
                                         self.actor_optimizer, x[:states.shape[1]])
        # Targets (delayed, with the actor).
        for params, target_params in self._pairs:
            polyak_update(params, target_params, self.tau)
        info["actor_updated"] = torch.ones_like(zero)
        return info
