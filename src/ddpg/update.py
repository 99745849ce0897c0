"""One DDPG gradient step: the critic regresses on the TD target, then the actor ascends
Q(s, mu(s)), then both targets move by Polyak averaging."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, ContextManager

import torch
from torch import nn

from ddpg.buffer import Batch
from ddpg.losses import MSE, Regression, actor_loss, polyak_update, td_target


# --8<-- [start:actor_step]
def actor_step(actor: nn.Module, q: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
               critic: nn.Module, actor_optimizer, states: torch.Tensor,
               autocast: Callable[[], ContextManager] = nullcontext,
               action_l2: float = 0.0) -> torch.Tensor:
    """One deterministic-policy-gradient step: minimise -mean q(s, mu(s)) (+ action_l2 mean
    mu(s)^2, losses.actor_loss) over the actor's parameters. `critic` (the module holding q)
    gets no gradient here; the seed's code computes one and discards it at the next zero_grad.
    Returns the detached actor loss."""
    critic.requires_grad_(False)
    try:
        with autocast():
            mu = actor(states)
            q_pi = q(states, mu)
        loss_pi = actor_loss(q_pi.float(), mu.float() if action_l2 else None, action_l2)
        actor_optimizer.zero_grad(set_to_none=True)
        loss_pi.backward()
    finally:
        critic.requires_grad_(True)
    actor_optimizer.step()
    return loss_pi.detach()
# --8<-- [end:actor_step]


def ddpg_step(actor: nn.Module, critic: nn.Module, actor_target: nn.Module,
              critic_target: nn.Module, actor_optimizer: torch.optim.Optimizer,
              critic_optimizer: torch.optim.Optimizer, batch: Batch, tau: float,
              gamma: float, autocast: Callable[[], ContextManager] = nullcontext,
              regression: Regression = MSE, action_l2: float = 0.0) -> dict[str, torch.Tensor]:
    """The update on a given batch. Returns detached tensors (no host sync): critic_loss,
    actor_loss and q (the mean of Q(s, a) over the batch); with LAP's `regression`, priority
    (the sampled rows' new priorities). `autocast` wraps the networks' forward passes (e.g.
    bf16 autocast); targets and losses are computed in float32."""
    states, actions, rewards, next_states, dones = batch

    # --8<-- [start:critic_step]
    # Critic: minimise (Q(s, a) - y)^2 with y = r + gamma (1 - done) Q'(s', mu'(s')).
    with torch.no_grad():
        with autocast():
            next_q = critic_target(next_states, actor_target(next_states))
        y = td_target(rewards, dones, next_q.float(), gamma, regression.target_range)
    with autocast():
        q = critic(states, actions)
    loss_q = regression.loss(q.float(), y)  # the lesson's: mean (Q(s, a) - y)^2
    critic_optimizer.zero_grad(set_to_none=True)
    loss_q.backward()
    critic_optimizer.step()
    # --8<-- [end:critic_step]

    # --8<-- [start:actor_in_step]
    # Actor: maximise Q(s, mu(s)) through the updated critic.
    loss_pi = actor_step(actor, critic, critic, actor_optimizer, states, autocast, action_l2)
    # --8<-- [end:actor_in_step]

    # --8<-- [start:soft_update]
    # Targets: theta' <- tau theta + (1 - tau) theta'.
    polyak_update(critic.parameters(), critic_target.parameters(), tau)
    polyak_update(actor.parameters(), actor_target.parameters(), tau)
    # --8<-- [end:soft_update]
    return {"critic_loss": loss_q.detach(), "actor_loss": loss_pi, "q": q.detach().mean(),
            **regression.priority([q.float()], y)}


# --8<-- [start:ddpg_update]
def ddpg_update(actor: nn.Module, critic: nn.Module, actor_target: nn.Module,
                critic_target: nn.Module, actor_optimizer: torch.optim.Optimizer,
                critic_optimizer: torch.optim.Optimizer, replay_buffer, tau: float = 0.001,
                *, batch_size: int = 64, gamma: float = 0.99) -> dict[str, torch.Tensor]:
    """The seed's `ddpg_update`: sample a batch from `replay_buffer` (anything with
    `.sample(batch_size)` returning float32 (states, actions, rewards, next_states, dones),
    rewards and dones shaped (B, 1), dones meaning termination) and take one DDPG step."""
    batch = Batch(*replay_buffer.sample(batch_size=batch_size))
    return ddpg_step(actor, critic, actor_target, critic_target, actor_optimizer,
                     critic_optimizer, batch, tau, gamma)
# --8<-- [end:ddpg_update]
