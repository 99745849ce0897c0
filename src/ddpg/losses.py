"""The DDPG equations as pure tensor functions: each equation of the lesson, and TD3's target
pieces, in one place, called by every update (the reference ddpg_step / td3_step, the fast path
with its hand-written backward passes for one member or many, a population's VmapStep).

A single run's tensors are (B, 1) columns, as the lesson writes them. A population's carry a
leading member dimension, (M, B, 1), and per-member hyperparameters (gamma, TD3's noise) as
(M, 1, 1) tensors that broadcast; the losses are then one value per member, (M,). The fast path
holds Q feature-major, (1, B) or (M, 1, B): the reductions below are over the last two
dimensions, so they read either layout alike.
"""

from __future__ import annotations

import math
from typing import Iterable, NamedTuple, Sequence

import torch


def _check_column(name: str, t: torch.Tensor, like: torch.Tensor) -> None:
    want = tuple(like.shape) if like.ndim >= 2 and like.shape[-1] == 1 else (*like.shape, 1)
    if tuple(t.shape) != want:
        raise ValueError(
            f"{name} has shape {tuple(t.shape)}, expected {want} ((B, 1), or (M, B, 1) with a "
            f"member dimension); reshape it with .view(-1, 1) (a (B,) tensor would silently "
            f"broadcast to (B, B))."
        )


# --8<-- [start:td_target]
def td_target(rewards: torch.Tensor, dones: torch.Tensor, next_q: torch.Tensor,
              gamma: float | torch.Tensor,
              target_range: tuple[float, float] | None = None) -> torch.Tensor:
    """y = r + gamma * (1 - done) * Q'(s', mu'(s')), all (B, 1) (or (M, B, 1) with gamma per
    member as (M, 1, 1)); done means terminated. With `target_range` (low, high), y is clipped
    to it (the HER baselines' clip_return: [-1 / (1 - gamma), 0] where rewards are -1 or 0)."""
    _check_column("next_q", next_q, next_q)
    _check_column("rewards", rewards, next_q)
    _check_column("dones", dones, next_q)
    y = rewards + gamma * (1.0 - dones) * next_q
    return y if target_range is None else y.clamp(*target_range)
# --8<-- [end:td_target]


# --8<-- [start:critic_loss]
def critic_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared TD error (Q(s, a) - y)^2 over the batch (per member: (M,))."""
    if q.shape != target.shape:
        raise ValueError(f"q {tuple(q.shape)} and target {tuple(target.shape)} differ in shape.")
    return torch.mean((q - target) ** 2, dim=(-2, -1))
# --8<-- [end:critic_loss]


# --8<-- [start:critic_loss_grad]
def critic_loss_grad(q: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """critic_loss and its gradient with respect to Q, for updates that write the backward pass
    out (ddpg.fast): dL/dQ = 2 (Q - y) / B. Returns (the loss, dL/dQ)."""
    diff = q - target
    batch = q.shape[-2] * q.shape[-1]
    return diff.square().mean(dim=(-2, -1)), diff.mul(2.0 / batch)
# --8<-- [end:critic_loss_grad]


# --8<-- [start:lap_loss]
def lap_loss(q: torch.Tensor, target: torch.Tensor, min_priority: float = 1.0) -> torch.Tensor:
    """LAP's critic loss (Fujimoto et al., 2020; TD7's): the Huber loss of the TD error
    d = Q(s, a) - y with threshold kappa = min_priority, 0.5 d^2 where |d| < kappa and
    kappa |d| elsewhere, averaged over the batch (per member: (M,)). Sampled with priority
    max(|d|, kappa)^alpha, its expected gradient is the MSE's under uniform sampling."""
    if q.shape != target.shape:
        raise ValueError(f"q {tuple(q.shape)} and target {tuple(target.shape)} differ in shape.")
    d = (q - target).abs()
    return torch.where(d < min_priority, 0.5 * d.square(), min_priority * d).mean(dim=(-2, -1))


def lap_loss_grad(q: torch.Tensor, target: torch.Tensor,
                  min_priority: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """lap_loss and its gradient with respect to Q, for updates that write the backward pass
    out (ddpg.fast): dL/dQ = clip(Q - y, -kappa, kappa) / B. Returns (the loss, dL/dQ)."""
    diff = q - target
    batch = q.shape[-2] * q.shape[-1]
    return lap_loss(q, target, min_priority), diff.clamp(-min_priority, min_priority) / batch


def lap_priority(td_errors: Sequence[torch.Tensor], alpha: float = 0.4,
                 min_priority: float = 1.0) -> torch.Tensor:
    """LAP's new priority of each sampled transition, max(|d|, min_priority)^alpha with |d|
    the largest of the critics' TD errors (each (B, 1) or (M, B, 1); or (1, B) / (M, 1, B) as
    the fast path holds Q). Returns (B,) / (M, B)."""
    d = torch.stack([e.abs() for e in td_errors]).amax(dim=0)
    return d.clamp(min=min_priority).pow(alpha).flatten(-2)
# --8<-- [end:lap_loss]


class Regression(NamedTuple):
    """How the critics regress on their targets, for every update (DDPG's, TD3's and TD7's, the
    reference, the fast path and a population's): the mean squared TD error (`lap` False, the
    lesson's), or LAP's Huber loss, whose updates also return the sampled transitions' new
    priorities (`priority`)."""

    lap: bool = False
    alpha: float = 0.4
    min_priority: float = 1.0
    target_range: tuple[float, float] | None = None
    """The range the TD target is clipped to (--target-min, --target-max); None: not clipped."""

    @classmethod
    def of(cls, config) -> Regression:
        """The regression a Config asks for (--replay, --lap.*, --target-min/--target-max)."""
        clip = (config.target_min, config.target_max)
        return cls(config.replay == "lap", config.lap.alpha, config.lap.min_priority,
                   None if clip == (-math.inf, math.inf) else clip)

    def loss(self, q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (lap_loss(q, target, self.min_priority) if self.lap
                else critic_loss(q, target))

    def loss_grad(self, q: torch.Tensor, target: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        return (lap_loss_grad(q, target, self.min_priority) if self.lap
                else critic_loss_grad(q, target))

    def priority(self, qs: Sequence[torch.Tensor], target: torch.Tensor
                 ) -> dict[str, torch.Tensor]:
        """{"priority": the new priorities} from the critics' Q (detached) and the target, for
        LAP; {} otherwise."""
        if not self.lap:
            return {}
        return {"priority": lap_priority([q.detach() - target for q in qs], self.alpha,
                                         self.min_priority)}


MSE = Regression()


# --8<-- [start:encoder_loss]
def encoder_loss(predicted: torch.Tensor, next_zs: torch.Tensor) -> torch.Tensor:
    """SALE's encoder loss (TD7): the mean squared error between the predicted next-state
    embedding g(f(s), a) and f(s') (without gradient), over the batch and the embedding (per
    member: (M,))."""
    if predicted.shape != next_zs.shape:
        raise ValueError(f"predicted {tuple(predicted.shape)} and next_zs "
                         f"{tuple(next_zs.shape)} differ in shape.")
    return torch.mean((predicted - next_zs.detach()) ** 2, dim=(-2, -1))
# --8<-- [end:encoder_loss]


# --8<-- [start:actor_loss]
def actor_loss(q_pi: torch.Tensor, action: torch.Tensor | None = None,
               action_l2: float = 0.0) -> torch.Tensor:
    """Deterministic policy gradient objective: -E[Q(s, mu(s))] (per member: (M,)). With
    `action_l2` > 0, plus action_l2 * E[mu(s)^2] over the batch and the action's dimensions,
    `action` being mu(s): the HER baselines' action penalty (action_l2 = 1 there), which
    keeps the tanh out of saturation. The trainer's actors act in normalised units [-1, 1], so
    this is their (pi / max_u)^2."""
    loss = -q_pi.mean(dim=(-2, -1))
    if action_l2:
        if action is None:
            raise ValueError("action_l2 > 0 needs the action mu(s) the penalty is on.")
        loss = loss + action_l2 * action.square().mean(dim=(-2, -1))
    return loss
# --8<-- [end:actor_loss]


# --8<-- [start:actor_loss_grad]
def actor_loss_grad(q_pi: torch.Tensor) -> torch.Tensor:
    """actor_loss's gradient with respect to Q(s, mu(s)): dL/dQ = -1 / B for every sample."""
    return torch.full_like(q_pi, -1.0 / (q_pi.shape[-2] * q_pi.shape[-1]))


def action_l2_grad(action: torch.Tensor, action_l2: float) -> torch.Tensor:
    """actor_loss's action penalty's gradient with respect to mu(s):
    2 action_l2 mu / (B * act), in either layout ((B, act) or (act, B), with or without a
    member dimension in front)."""
    return action.mul(2.0 * action_l2 / (action.shape[-2] * action.shape[-1]))
# --8<-- [end:actor_loss_grad]


# --8<-- [start:polyak_update]
@torch.no_grad()
def polyak_update(params: Iterable[torch.Tensor], target_params: Iterable[torch.Tensor],
                  tau: float | Sequence[torch.Tensor]) -> None:
    """theta' <- tau * theta + (1 - tau) * theta', in place (theta' + tau (theta - theta')).
    `tau` is one rate, or (members with rates of their own) one tensor per parameter that
    broadcasts over it, (M, 1, ...)."""
    params, target_params = list(params), list(target_params)
    if len(params) != len(target_params):
        raise ValueError(f"{len(params)} parameters but {len(target_params)} target parameters.")
    if not params:
        return
    if isinstance(tau, (int, float)):
        torch._foreach_lerp_(target_params, params, tau)
    else:
        for t, p, w in zip(target_params, params, tau):
            t.lerp_(p, w)
# --8<-- [end:polyak_update]


# --8<-- [start:clipped_double_q_target]
def clipped_double_q_target(rewards: torch.Tensor, dones: torch.Tensor, next_q1: torch.Tensor,
                            next_q2: torch.Tensor, gamma: float | torch.Tensor,
                            value_range: tuple[float, float] | None = None,
                            target_range: tuple[float, float] | None = None) -> torch.Tensor:
    """TD3's target: y = r + gamma * (1 - done) * min(Q1'(s', a'), Q2'(s', a')). TD7 clips the
    target value min(Q1', Q2') to `value_range`, (low, high): the range of targets seen;
    `target_range` clips y itself (td_target)."""
    next_q = torch.minimum(next_q1, next_q2)
    if value_range is not None:
        next_q = next_q.clamp(*value_range)
    return td_target(rewards, dones, next_q, gamma, target_range)
# --8<-- [end:clipped_double_q_target]


# --8<-- [start:smoothed_target_action]
def smoothed_target_action(next_action: torch.Tensor, noise_std: float | torch.Tensor,
                           noise_clip: float | torch.Tensor,
                           generator: torch.Generator | Sequence[torch.Generator] | None = None
                           ) -> torch.Tensor:
    """TD3's target policy smoothing: a' = clip(mu'(s') + clip(eps, -c, c), -1, 1), with
    eps ~ N(0, noise_std^2) per action dimension (actions in normalised units). For members,
    next_action (M, B, act), the noise per member as (M, 1, 1) and a generator per member, each
    member's eps drawn by its own generator as a single run draws it."""
    if isinstance(generator, (list, tuple)):
        eps = torch.stack([torch.randn(next_action.shape[1:], generator=g,
                                       device=next_action.device, dtype=next_action.dtype)
                           for g in generator])
    else:
        eps = torch.randn(next_action.shape, generator=generator, device=next_action.device,
                          dtype=next_action.dtype)
    eps = torch.clamp(eps * noise_std, -noise_clip, noise_clip)
    return (next_action + eps).clamp(-1.0, 1.0)
# --8<-- [end:smoothed_target_action]
