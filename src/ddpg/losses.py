"""The DDPG equations as pure tensor functions."""

from __future__ import annotations

from typing import Iterable

import torch


def _check_column(name: str, t: torch.Tensor, batch: int) -> None:
    if t.shape != (batch, 1):
        raise ValueError(
            f"{name} has shape {tuple(t.shape)}, expected ({batch}, 1); reshape it with "
            f".view(-1, 1) (a (B,) tensor would silently broadcast to (B, B))."
        )


# --8<-- [start:td_target]
def td_target(rewards: torch.Tensor, dones: torch.Tensor, next_q: torch.Tensor,
              gamma: float) -> torch.Tensor:
    """y = r + gamma * (1 - done) * Q'(s', mu'(s')), all (B, 1); done means terminated."""
    batch = next_q.shape[0]
    _check_column("next_q", next_q, batch)
    _check_column("rewards", rewards, batch)
    _check_column("dones", dones, batch)
    return rewards + gamma * (1.0 - dones) * next_q
# --8<-- [end:td_target]


# --8<-- [start:critic_loss]
def critic_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared TD error (Q(s, a) - y)^2."""
    if q.shape != target.shape:
        raise ValueError(f"q {tuple(q.shape)} and target {tuple(target.shape)} differ in shape.")
    return torch.mean((q - target) ** 2)
# --8<-- [end:critic_loss]


# --8<-- [start:actor_loss]
def actor_loss(q_pi: torch.Tensor) -> torch.Tensor:
    """Deterministic policy gradient objective: -E[Q(s, mu(s))]."""
    return -q_pi.mean()
# --8<-- [end:actor_loss]


# --8<-- [start:polyak_update]
@torch.no_grad()
def polyak_update(params: Iterable[torch.Tensor], target_params: Iterable[torch.Tensor],
                  tau: float) -> None:
    """theta' <- tau * theta + (1 - tau) * theta', in place (theta' + tau (theta - theta'))."""
    params, target_params = list(params), list(target_params)
    if len(params) != len(target_params):
        raise ValueError(f"{len(params)} parameters but {len(target_params)} target parameters.")
    if params:
        torch._foreach_lerp_(target_params, params, tau)
# --8<-- [end:polyak_update]


# --8<-- [start:clipped_double_q_target]
def clipped_double_q_target(rewards: torch.Tensor, dones: torch.Tensor, next_q1: torch.Tensor,
                            next_q2: torch.Tensor, gamma: float) -> torch.Tensor:
    """TD3's target: y = r + gamma * (1 - done) * min(Q1'(s', a'), Q2'(s', a'))."""
    return td_target(rewards, dones, torch.minimum(next_q1, next_q2), gamma)
# --8<-- [end:clipped_double_q_target]


# --8<-- [start:smoothed_target_action]
def smoothed_target_action(next_action: torch.Tensor, noise_std: float, noise_clip: float,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """TD3's target policy smoothing: a' = clip(mu'(s') + clip(eps, -c, c), -1, 1), with
    eps ~ N(0, noise_std^2) per action dimension (actions in normalised units)."""
    eps = torch.randn(next_action.shape, generator=generator, device=next_action.device,
                      dtype=next_action.dtype)
    eps = (eps * noise_std).clamp(-noise_clip, noise_clip)
    return (next_action + eps).clamp(-1.0, 1.0)
# --8<-- [end:smoothed_target_action]
