"""TD7 (Fujimoto et al., 2023, "For SALE: State-Action Representation Learning for Deep
Reinforcement Learning"): TD3 with learned state and state-action embeddings (SALE), fixed
encoders, clipped target values and LAP prioritised replay. This module holds its networks and
its update written with autograd, the reference as `ddpg_step` and `td3_step` are; the
equations it adds live in ddpg.losses (`encoder_loss`, `lap_loss`, `lap_priority`, the value
range of `clipped_double_q_target`) beside DDPG's and TD3's.

SALE:  z_s = f(s) = AvgL1Norm(f'(s)),  z_sa = g(z_s, a),  trained by  min (g(f(s), a) - sg f(s'))^2
The critic and the actor read the embeddings beside the raw input:
       Q(s, a) = Q(z_sa, z_s, AvgL1Norm(phi(s, a))),   pi(s) = pi(z_s, AvgL1Norm(phi(s))).
The value and policy updates use a fixed copy of the encoders (f_t, g_t) and the targets an
older one (f_{t-1}, g_{t-1}); every `target_every` updates the target networks take the current
ones' weights, f_{t-1} <- f_t <- f, and the target values' clip range takes the range seen
since the last refresh (`TD7Targets.refresh`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ddpg.buffer import Batch
from ddpg.losses import (actor_loss, clipped_double_q_target, encoder_loss, lap_loss,
                         lap_priority, smoothed_target_action)


# --8<-- [start:avg_l1_norm]
def avg_l1_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """AvgL1Norm(x) = x / max(mean_i |x_i|, eps) over the last dimension: keeps an embedding's
    scale fixed without the bias of a learned normalisation."""
    return x / x.abs().mean(dim=-1, keepdim=True).clamp(min=eps)
# --8<-- [end:avg_l1_norm]


def _mlp(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """SALE's encoders: the state encoder f (z_s, AvgL1Norm-ed) and the state-action encoder g
    (z_sa), each three layers with ELU."""

    def __init__(self, state_dim: int, action_dim: int, embedding: int = 256,
                 hidden: int = 256) -> None:
        super().__init__()
        self.f = _mlp([state_dim, hidden, hidden, embedding], nn.ELU)
        self.g = _mlp([embedding + action_dim, hidden, hidden, embedding], nn.ELU)

    def zs(self, state: torch.Tensor) -> torch.Tensor:
        return avg_l1_norm(self.f(state))

    def zsa(self, zs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.g(torch.cat([zs, action], dim=-1))


class TD7Actor(nn.Module):
    """pi(s) = tanh(MLP([AvgL1Norm(phi(s)), z_s])) in normalised action units (ReLU)."""

    def __init__(self, state_dim: int, action_dim: int, embedding: int = 256,
                 hidden: int = 256) -> None:
        super().__init__()
        self.phi = nn.Linear(state_dim, hidden)
        self.net = _mlp([hidden + embedding, hidden, hidden, action_dim], nn.ReLU)

    def forward(self, state: torch.Tensor, zs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(torch.cat([avg_l1_norm(self.phi(state)), zs], dim=-1)))


class TD7Q(nn.Module):
    """One of the twin critics: Q = MLP([AvgL1Norm(phi(s, a)), z_sa, z_s]) (ELU)."""

    def __init__(self, state_dim: int, action_dim: int, embedding: int = 256,
                 hidden: int = 256) -> None:
        super().__init__()
        self.phi = nn.Linear(state_dim + action_dim, hidden)
        self.net = _mlp([hidden + 2 * embedding, hidden, hidden, 1], nn.ELU)

    def forward(self, state: torch.Tensor, action: torch.Tensor, zsa: torch.Tensor,
                zs: torch.Tensor) -> torch.Tensor:
        x = avg_l1_norm(self.phi(torch.cat([state, action], dim=-1)))
        return self.net(torch.cat([x, zsa, zs], dim=-1))


class TD7Critic(nn.Module):
    """Twin TD7 critics; forward returns (q1, q2), each (B, 1)."""

    def __init__(self, state_dim: int, action_dim: int, embedding: int = 256,
                 hidden: int = 256) -> None:
        super().__init__()
        self.q1 = TD7Q(state_dim, action_dim, embedding, hidden)
        self.q2 = TD7Q(state_dim, action_dim, embedding, hidden)

    def forward(self, state, action, zsa, zs) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(state, action, zsa, zs), self.q2(state, action, zsa, zs)


class TD7Nets(NamedTuple):
    """Everything one TD7 update reads and moves."""

    actor: TD7Actor
    critic: TD7Critic
    encoder: Encoder
    actor_target: TD7Actor
    critic_target: TD7Critic
    fixed_encoder: Encoder  # f_t, g_t: the value and policy updates' encoders
    fixed_encoder_target: Encoder  # f_{t-1}, g_{t-1}: the targets'
    actor_optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer
    encoder_optimizer: torch.optim.Optimizer


class TD7Targets:
    """The target side of TD7 that is not weights: the clip range of the target values (used
    since the last refresh) and the range of the targets seen since then."""

    def __init__(self) -> None:
        self.low, self.high = 0.0, 0.0  # the range the targets are clipped to (the paper: 0, 0)
        self.seen_low, self.seen_high = 1e8, -1e8

    def see(self, y: torch.Tensor) -> None:
        """Widen the seen range by the targets of this update (one host sync)."""
        lo, hi = torch.aminmax(y)
        self.seen_low, self.seen_high = min(self.seen_low, float(lo)), max(self.seen_high,
                                                                          float(hi))

    @torch.no_grad()
    def refresh(self, nets: TD7Nets) -> None:
        """Every `target_every` updates: the targets take the current weights, f_{t-1} <- f_t
        <- f, and the clip range becomes the range seen."""
        nets.actor_target.load_state_dict(nets.actor.state_dict())
        nets.critic_target.load_state_dict(nets.critic.state_dict())
        nets.fixed_encoder_target.load_state_dict(nets.fixed_encoder.state_dict())
        nets.fixed_encoder.load_state_dict(nets.encoder.state_dict())
        self.low, self.high = self.seen_low, self.seen_high

    def state_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high, "seen_low": self.seen_low,
                "seen_high": self.seen_high}

    def load_state_dict(self, d: dict[str, float]) -> None:
        self.low, self.high = float(d["low"]), float(d["high"])
        self.seen_low, self.seen_high = float(d["seen_low"]), float(d["seen_high"])


def td7_step(nets: TD7Nets, targets: TD7Targets, batch: Batch, gamma: float, *,
             update_actor: bool, target_noise: float, target_noise_clip: float,
             alpha: float = 0.4, min_priority: float = 1.0,
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """One TD7 update: the encoders, the twin critics with LAP's loss (returning the sampled
    transitions' new priorities as info["priority"], (B,)), and every policy_delay-th update
    (`update_actor`) the actor. The caller refreshes the targets every target_every updates
    (TD7Targets.refresh). Returns detached tensors."""
    states, actions, rewards, next_states, dones = batch
    n = nets

    # SALE: g(f(s), a) predicts f(s'), the target embedding without gradient
    with torch.no_grad():
        next_zs = n.encoder.zs(next_states)
    loss_enc = encoder_loss(n.encoder.zsa(n.encoder.zs(states), actions), next_zs)
    n.encoder_optimizer.zero_grad(set_to_none=True)
    loss_enc.backward()
    n.encoder_optimizer.step()

    # Critics: y = r + gamma (1 - done) clip(min_i Q_i'(s', a'), low, high), through f_{t-1}
    with torch.no_grad():
        zs_next = n.fixed_encoder_target.zs(next_states)
        next_action = smoothed_target_action(n.actor_target(next_states, zs_next),
                                             target_noise, target_noise_clip, generator)
        zsa_next = n.fixed_encoder_target.zsa(zs_next, next_action)
        y = clipped_double_q_target(rewards, dones,
                                    *n.critic_target(next_states, next_action, zsa_next, zs_next),
                                    gamma, value_range=(targets.low, targets.high))
        targets.see(y)
        zs = n.fixed_encoder.zs(states)
        zsa = n.fixed_encoder.zsa(zs, actions)
    q1, q2 = n.critic(states, actions, zsa, zs)
    loss_q = lap_loss(q1, y, min_priority) + lap_loss(q2, y, min_priority)
    n.critic_optimizer.zero_grad(set_to_none=True)
    loss_q.backward()
    n.critic_optimizer.step()
    priority = lap_priority([q1.detach() - y, q2.detach() - y], alpha, min_priority)

    zero = torch.zeros((), device=states.device)
    info = {"critic_loss": loss_q.detach(), "q": q1.detach().mean(), "actor_loss": zero,
            "actor_updated": zero, "encoder_loss": loss_enc.detach(), "priority": priority}
    if not update_actor:
        return info

    # Actor (delayed): maximise Q1(s, pi(s)) through the fixed encoders
    pi = n.actor(states, zs)
    loss_pi = actor_loss(n.critic.q1(states, pi, n.fixed_encoder.zsa(zs, pi), zs))
    n.actor_optimizer.zero_grad(set_to_none=True)
    loss_pi.backward()
    n.actor_optimizer.step()
    info["actor_loss"], info["actor_updated"] = loss_pi.detach(), torch.ones_like(zero)
    return info
