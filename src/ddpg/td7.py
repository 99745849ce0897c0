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
ones' weights, f_{t-1} <- f_t <- f, and the target values' clip range takes the range of the
targets seen so far (`TD7Targets.refresh`).

`TD7` is what an Agent holds for TD7: the networks, their optimizers, the target side, the
policy that acts (the actor through the fixed state encoder, `TD7Policy`) and the checkpoint
policy that is evaluated and saved (ddpg.policy_checkpoints' rule decides when it is taken).
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
from torch import nn

from ddpg.buffer import Batch
from ddpg.config import Config
from ddpg.fast.adam import FusedAdam
from ddpg.losses import (Regression, actor_loss, clipped_double_q_target, encoder_loss,
                         smoothed_target_action)
from ddpg.policy_checkpoints import CheckpointRule


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


class TD7Policy(nn.Module):
    """The policy as it acts: pi(s, z_s) with z_s = AvgL1Norm(f(s)) from a state encoder f (the
    fixed encoder's while training; the checkpoint's copy when evaluated and saved)."""

    def __init__(self, f: nn.Module, actor: TD7Actor) -> None:
        super().__init__()
        self.f, self.actor = f, actor
        self.state_dim = int(actor.phi.in_features)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.actor(state, avg_l1_norm(self.f(state)))

    @classmethod
    def build(cls, state_dim: int, action_dim: int, embedding: int, encoder_hidden: int,
              hidden: int) -> TD7Policy:
        """A policy of these sizes (weights to be loaded)."""
        return cls(Encoder(state_dim, action_dim, embedding, encoder_hidden).f,
                   TD7Actor(state_dim, action_dim, embedding, hidden))


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
    """The target side of TD7 that is not weights: the clip range of the target values (set at
    the last refresh) and the range of all the targets seen so far."""

    def __init__(self) -> None:
        self.low, self.high = 0.0, 0.0  # the range the targets are clipped to (the paper: 0, 0)
        self.seen_low, self.seen_high = 1e8, -1e8

    def see(self, y: torch.Tensor) -> None:
        """Widen the seen range by the targets of this update (one host sync; the range is
        never narrowed: TD7 keeps the extremes of the whole run)."""
        lo, hi = torch.aminmax(y)
        self.seen_low, self.seen_high = min(self.seen_low, float(lo)), max(self.seen_high,
                                                                          float(hi))

    # --8<-- [start:refresh]
    @torch.no_grad()
    def refresh(self, nets: TD7Nets) -> None:
        """Every `target_every` updates: the targets take the current weights, f_{t-1} <- f_t
        <- f, and the clip range becomes the range seen."""
        nets.actor_target.load_state_dict(nets.actor.state_dict())
        nets.critic_target.load_state_dict(nets.critic.state_dict())
        nets.fixed_encoder_target.load_state_dict(nets.fixed_encoder.state_dict())
        nets.fixed_encoder.load_state_dict(nets.encoder.state_dict())
        self.low, self.high = self.seen_low, self.seen_high
    # --8<-- [end:refresh]

    def state_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high, "seen_low": self.seen_low,
                "seen_high": self.seen_high}

    def load_state_dict(self, d: dict[str, float]) -> None:
        self.low, self.high = float(d["low"]), float(d["high"])
        self.seen_low, self.seen_high = float(d["seen_low"]), float(d["seen_high"])


def td7_step(nets: TD7Nets, targets: TD7Targets, batch: Batch, gamma: float, *,
             update_actor: bool, target_noise: float, target_noise_clip: float,
             regression: Regression = Regression(lap=True),
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """One TD7 update: the encoders, the twin critics with LAP's loss (returning the sampled
    transitions' new priorities as info["priority"], (B,)), and every policy_delay-th update
    (`update_actor`) the actor. The caller refreshes the targets every target_every updates
    (TD7Targets.refresh). Returns detached tensors."""
    states, actions, rewards, next_states, dones = batch
    n = nets

    # --8<-- [start:sale]
    # SALE: g(f(s), a) predicts f(s'), the target embedding without gradient
    with torch.no_grad():
        next_zs = n.encoder.zs(next_states)
    loss_enc = encoder_loss(n.encoder.zsa(n.encoder.zs(states), actions), next_zs)
    n.encoder_optimizer.zero_grad(set_to_none=True)
    loss_enc.backward()
    n.encoder_optimizer.step()
    # --8<-- [end:sale]

    # --8<-- [start:td7_critic]
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
    loss_q = regression.loss(q1, y) + regression.loss(q2, y)  # LAP's Huber loss
    n.critic_optimizer.zero_grad(set_to_none=True)
    loss_q.backward()
    n.critic_optimizer.step()
    # --8<-- [end:td7_critic]

    zero = torch.zeros((), device=states.device)
    info = {"critic_loss": loss_q.detach(), "q": q1.detach().mean(), "actor_loss": zero,
            "actor_updated": zero, "encoder_loss": loss_enc.detach(),
            **regression.priority([q1, q2], y)}
    if not update_actor:
        return info

    # Actor (delayed): maximise the mean of both critics' Q(s, pi(s)) (TD3 uses Q1 alone)
    # through the fixed encoders; gradients for the actor's parameters alone (none for the critics)
    pi = n.actor(states, zs)
    loss_pi = actor_loss(torch.cat(n.critic(states, pi, n.fixed_encoder.zsa(zs, pi), zs), -1))
    params = list(n.actor.parameters())
    for p, g in zip(params, torch.autograd.grad(loss_pi, params)):
        p.grad = g
    n.actor_optimizer.step()
    info["actor_loss"], info["actor_updated"] = loss_pi.detach(), torch.ones_like(zero)
    return info


class TD7:
    """An agent's TD7 state: the networks and optimizers (`nets`), the target side that is not
    weights (`targets`), the acting policy (the actor through the fixed encoder, trained), the
    checkpoint policy (a copy, evaluated and saved; the acting one without --td7.checkpoints)
    and the checkpoint rule. On `device`; networks initialised from torch's global generator."""

    def __init__(self, obs_dim: int, action_dim: int, config: Config,
                 device: torch.device) -> None:
        t, hidden = config.td7, config.network.hidden_sizes[0]
        self.config = config
        encoder = Encoder(obs_dim, action_dim, t.embedding, t.encoder_hidden).to(device)
        actor = TD7Actor(obs_dim, action_dim, t.embedding, hidden).to(device)
        critic = TD7Critic(obs_dim, action_dim, t.embedding, hidden).to(device)

        def frozen(net: nn.Module) -> nn.Module:
            return copy.deepcopy(net).requires_grad_(False)

        fixed = frozen(encoder)
        self.nets = TD7Nets(
            actor, critic, encoder, frozen(actor), frozen(critic), fixed, frozen(encoder),
            FusedAdam(actor.parameters(), lr=config.actor_lr),
            FusedAdam(critic.parameters(), lr=config.critic_lr),
            FusedAdam(encoder.parameters(), lr=t.encoder_lr))
        self.targets = TD7Targets()
        self.acting = TD7Policy(fixed.f, actor)
        self.rule = (CheckpointRule(t.max_episodes, t.switch_at, t.reset_weight,
                                    config.updates_per_step) if t.checkpoints else None)
        self.checkpoint = frozen(self.acting) if self.rule is not None else self.acting

    def update(self, batch: Batch, updates: int, update_actor: bool,
               generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Update number `updates` + 1 (td7_step); every target_every-th ends with the refresh
        (info["refreshed"] is 1 then: the replay's largest priority is reset after it)."""
        c = self.config
        info = td7_step(self.nets, self.targets, batch, c.gamma, update_actor=update_actor,
                        target_noise=c.td3.target_noise, target_noise_clip=c.td3.target_noise_clip,
                        regression=Regression.of(c), generator=generator)
        refreshed = (updates + 1) % c.td7.target_every == 0
        if refreshed:
            self.targets.refresh(self.nets)
        info["refreshed"] = torch.full((), float(refreshed))
        return info

    def episode_ended(self, length: int, episode_return: float) -> int:
        """A training episode ended: the updates to run now under the checkpoint rule (the
        current policy copied to the checkpoint first when the rule says so); without
        checkpoints, 0 (updates follow the steps)."""
        if self.rule is None:
            return 0
        decision = self.rule.episode_ended(length, episode_return)
        if decision.checkpoint:
            self.checkpoint.load_state_dict(self.acting.state_dict())
        return decision.updates

    @torch.no_grad()
    def q_value(self, state: torch.Tensor) -> torch.Tensor:
        """Q1(s, pi(s)) of the evaluated policy, through the fixed encoder: (N, 1)."""
        f = self.nets.fixed_encoder
        a = self.checkpoint(state)
        zs = f.zs(state)
        return self.nets.critic.q1(state, a, f.zsa(zs, a), zs)

    def state_dict(self) -> dict:
        n = self.nets
        d = {name: getattr(n, name).state_dict() for name in n._fields}
        d["targets"] = self.targets.state_dict()
        d["checkpoint"] = self.checkpoint.state_dict()
        d["rule"] = None if self.rule is None else self.rule.state_dict()
        return d

    def load_state_dict(self, d: dict) -> None:
        for name in self.nets._fields:
            getattr(self.nets, name).load_state_dict(d[name])
        self.targets.load_state_dict(d["targets"])
        self.checkpoint.load_state_dict(d["checkpoint"])
        if self.rule is not None:
            self.rule.load_state_dict(d["rule"])
