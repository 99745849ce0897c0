"""TD3 (Fujimoto et al., 2018): twin critics with a clipped double-Q target, target policy
smoothing, and delayed actor and target updates. Shares DDPG's building blocks (critic loss,
Polyak averaging), not its update."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, ContextManager, Sequence

import torch
from torch import nn

from ddpg.buffer import Batch
from ddpg.losses import (MSE, Regression, clipped_double_q_target, polyak_update,
                         smoothed_target_action)
from ddpg.networks import Critic
from ddpg.update import actor_step


class TwinCritic(nn.Module):
    """Two independent critics Q1, Q2 over the same input; forward returns (q1, q2)."""

    def __init__(self, state_dim: int, action_dim: int, hidden_sizes: Sequence[int] = (400, 300),
                 activation: str = "relu", norm: str = "none", init: str = "default",
                 action_layer: int = 0) -> None:
        super().__init__()
        args = (state_dim, action_dim, hidden_sizes, activation, norm, init, action_layer)
        self.q1, self.q2 = Critic(*args), Critic(*args)

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor,
                                                                            torch.Tensor]:
        return self.q1(state, action), self.q2(state, action)


# --8<-- [start:policy_delay]
def actor_due(updates: int, policy_delay: int) -> bool:
    """Whether update number `updates` + 1 moves the actor and the targets: every
    policy_delay-th (TD3's delayed policy update; DDPG is policy_delay = 1)."""
    return (updates + 1) % policy_delay == 0
# --8<-- [end:policy_delay]


def td3_step(actor: nn.Module, critic: TwinCritic, actor_target: nn.Module,
             critic_target: TwinCritic, actor_optimizer, critic_optimizer, batch: Batch,
             tau: float, gamma: float, *, update_actor: bool, target_noise: float,
             target_noise_clip: float, generator: torch.Generator | None = None,
             autocast: Callable[[], ContextManager] = nullcontext,
             regression: Regression = MSE, action_l2: float = 0.0) -> dict[str, torch.Tensor]:
    """One TD3 update. The critics always step; the actor and all targets only when
    `update_actor` (every policy_delay-th update). Returns detached tensors."""
    states, actions, rewards, next_states, dones = batch

    # --8<-- [start:td3_target]
    # Critics: y = r + gamma (1 - done) min_i Q_i'(s', clip(mu'(s') + clip(eps, -c, c), -1, 1)).
    with torch.no_grad():
        with autocast():
            next_action = smoothed_target_action(actor_target(next_states).float(), target_noise,
                                                 target_noise_clip, generator)
            next_q1, next_q2 = critic_target(next_states, next_action)
        y = clipped_double_q_target(rewards, dones, next_q1.float(), next_q2.float(), gamma,
                                    target_range=regression.target_range)
    with autocast():
        q1, q2 = critic(states, actions)
    loss_q = regression.loss(q1.float(), y) + regression.loss(q2.float(), y)
    critic_optimizer.zero_grad(set_to_none=True)
    loss_q.backward()
    critic_optimizer.step()
    # --8<-- [end:td3_target]

    zero = torch.zeros((), device=states.device)
    info = {"critic_loss": loss_q.detach(), "q": q1.detach().mean(), "actor_loss": zero,
            "actor_updated": zero, **regression.priority([q1.float(), q2.float()], y)}
    # --8<-- [start:td3_delayed]
    if not update_actor:
        return info

    # Actor (delayed): maximise Q1(s, mu(s)); no gradient into either critic.
    loss_pi = actor_step(actor, critic.q1, critic, actor_optimizer, states, autocast,
                         action_l2)

    # Targets (delayed, with the actor).
    polyak_update(critic.parameters(), critic_target.parameters(), tau)
    polyak_update(actor.parameters(), actor_target.parameters(), tau)
    info["actor_loss"], info["actor_updated"] = loss_pi, torch.ones_like(zero)
    # --8<-- [end:td3_delayed]
    return info
