"""DDPG's and TD3's updates with the backward passes written out, for plain ReLU networks: one
step for one run and for a population of many.

The same math as `ddpg.update.ddpg_step` and `ddpg.td3.td3_step` (tests check both leave the
same parameters to float32 rounding), through the same functions of ddpg.losses, with the
gradients of the two losses computed by hand (ddpg.fast.mlp) instead of by autograd:

    critic:  L_Q  = mean (Q(s, a) - y)^2        dL_Q/dQ      = 2 (Q(s, a) - y) / B
    actor:   L_mu = -mean Q(s, mu(s))           dL_mu/dQ     = -1 / B, carried back through the
             critic to its action input, then through tanh (1 - mu^2) into the actor.

`FastStep` takes M members. One member (a single run) is the networks as they are: 2-D
products, its own FusedAdam, Python floats for gamma, tau and TD3's noise. Several (a
population) are stacked with a member dimension in front: batched products, one stacked FusedAdam
call per group of equal learning rates, hyperparameters per member as (M, 1, 1) tensors, each
member's smoothing noise from its own generator. The step below is written once for both: every
shape is read from the end (`-2`, `-1`), so a member dimension in front changes nothing in it.

On a CPU at DDPG's sizes this removes about half of the time that is not matrix products.
`ddpg.fast.select.select_update` uses it when the networks are plain MLPs (ReLU, no
normalisation, the action entering the critic at its input) in float32 (on a CPU also under
--precision bf16, where oneDNN takes the products' operands to bf16); everything else runs
`ddpg_step` / `td3_step` under autograd (a population: ddpg.population.functional.VmapStep).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import nn

from ddpg.buffer import Batch
from ddpg.fast.adam import FusedAdam
from ddpg.fast.mlp import (MLP, actor_step_cols, check_order, mu_cols, plain_actor,
                           plain_critic, regress)
from ddpg.losses import (MSE, Regression, clipped_double_q_target, polyak_update,
                         smoothed_target_action, td_target)


class Nets(NamedTuple):
    """One member's networks, optimizers and the hyperparameters its update reads (what an
    Agent hands over: Agent.nets())."""

    actor: nn.Module
    critic: nn.Module
    actor_target: nn.Module
    critic_target: nn.Module
    actor_optimizer: FusedAdam
    critic_optimizer: FusedAdam
    tau: float
    gamma: float
    target_noise: float = 0.2
    target_noise_clip: float = 0.5
    generator: torch.Generator | None = None


def member_column(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """Per-member scalars as an (M, 1, 1) tensor that broadcasts over (M, rows, cols)."""
    return torch.tensor(list(values), dtype=like.dtype, device=like.device).view(-1, 1, 1)


def per_member(values: Sequence[float], like: torch.Tensor) -> float | torch.Tensor:
    """One member's value as a float, several members' as an (M, 1, 1) column."""
    return float(values[0]) if len(values) == 1 else member_column(values, like)


class StackedPolyak:
    """losses.polyak_update over (stacked) parameters: one rate where every member has the same
    tau, else a (M, 1, ...) weight per parameter, made once."""

    def __init__(self, taus: Sequence[float], params: list[torch.Tensor],
                 targets: list[torch.Tensor]) -> None:
        self.params, self.targets = params, targets
        if len(set(taus)) == 1:
            self.tau: float | list[torch.Tensor] = float(taus[0])
        else:
            col = member_column(taus, params[0])
            self.tau = [col.view(-1, *([1] * (p.ndim - 1))) for p in params]

    def __call__(self) -> None:
        polyak_update(self.params, self.targets, self.tau)


class FastStep:
    """One DDPG or TD3 update of M members (see the module's docstring). `step(batch,
    update_actor)` takes a Batch of (B, ...) tensors for one member, (M, B, ...) for several,
    and returns the losses: scalars for one member, (M,) tensors for several."""

    def __init__(self, members: Sequence[Nets], td3: bool, stacked: bool | None = None,
                 regression: Regression = MSE, action_l2: float = 0.0) -> None:
        """`stacked`: hold the members with a member dimension in front, batches (M, B, ...)
        (default: for more than one member; a population of one passes True). `regression`:
        the critics' loss (LAP's: the step also returns the rows' new priorities).
        `action_l2`: the actor loss's action penalty (losses.actor_loss)."""
        if not all(self.supports(n.actor, n.critic) for n in members):
            raise ValueError(f"{'FastTD3' if td3 else 'FastDDPG'} needs plain ReLU networks "
                             f"with the action entering the critic{'s' if td3 else ''} at "
                             f"{'their' if td3 else 'its'} input; use "
                             f"{'ddpg.td3.td3_step' if td3 else 'ddpg.update.ddpg_step'} for "
                             f"others.")
        if any(hasattr(n.critic, "q1") != td3 for n in members):
            raise ValueError(f"{'TD3' if td3 else 'DDPG'} updates "
                             f"{'a TwinCritic' if td3 else 'one Critic'}; got another critic.")
        self.td3, self.members, self.regression = td3, len(members), regression
        self.action_l2 = action_l2
        one = not (self.members > 1 if stacked is None else stacked)
        if one and self.members > 1:
            raise ValueError(f"{self.members} members are updated stacked (stacked=True).")
        for n in members:
            check_order(n.actor_optimizer, n.actor.net)
            check_order(n.critic_optimizer, *((n.critic.q1.net, n.critic.q2.net) if td3
                                              else (n.critic.net,)))

        def mlp(seqs: list[nn.Sequential]) -> MLP:
            return MLP(seqs[0] if one else seqs)

        self.actor = mlp([n.actor.net for n in members])
        self.actor_target = mlp([n.actor_target.net for n in members])
        if td3:
            self.q1, self.q2 = (mlp([getattr(n.critic, q).net for n in members])
                                for q in ("q1", "q2"))
            self.q1_target, self.q2_target = (mlp([getattr(n.critic_target, q).net
                                                   for n in members]) for q in ("q1", "q2"))
            critics, critic_targets = [self.q1, self.q2], [self.q1_target, self.q2_target]
        else:
            self.q1 = mlp([n.critic.net for n in members])
            self.q1_target = mlp([n.critic_target.net for n in members])
            critics, critic_targets = [self.q1], [self.q1_target]
        self.critic = self.q1  # the critic the actor ascends (TD3: Q1)
        self.critic_target = self.q1_target
        critic_params = [p for c in critics for p in c.params]
        self.critic_grads = [g for c in critics for g in c.grads]
        if one:
            self.actor_optimizer, self.critic_optimizer = (members[0].actor_optimizer,
                                                           members[0].critic_optimizer)
        else:
            self.actor_optimizer = FusedAdam.stacked(self.actor.params,
                                                     [n.actor_optimizer for n in members])
            self.critic_optimizer = FusedAdam.stacked(critic_params,
                                                      [n.critic_optimizer for n in members])
        # max_action is a buffer of each actor (its bounds in normalised units): (..., act, 1)
        # for actions held one column per sample, (..., act) / (M, 1, act) for rows
        if one:
            self.max_action_rows = members[0].actor.max_action
            self.max_action = members[0].actor.max_action.reshape(-1, 1)
            self.target_max_action = members[0].actor_target.max_action.reshape(-1, 1)
        else:
            self.max_action = torch.stack([n.actor.max_action.reshape(-1, 1) for n in members])
            self.max_action_rows = self.max_action.transpose(1, 2)
            self.target_max_action = torch.stack(
                [n.actor_target.max_action.reshape(-1, 1) for n in members])
        like = self.actor.params[0]
        self.gamma = per_member([n.gamma for n in members], like)
        self.target_noise = per_member([n.target_noise for n in members], like)
        self.target_noise_clip = per_member([n.target_noise_clip for n in members], like)
        # the generators the step draws from (TD3's smoothing noise), one per member
        self.generators = [n.generator for n in members]
        self.generator: torch.Generator | list | None = (self.generators[0] if one
                                                        else self.generators)
        taus = [n.tau for n in members]
        # the critics' and the actor's targets in one call
        self.polyak = StackedPolyak(taus, critic_params + self.actor.params,
                                    [p for c in critic_targets for p in c.params]
                                    + self.actor_target.params)

    @classmethod
    def of_agents(cls, agents: Sequence) -> FastStep:
        """The step of these Agents (ddpg.agent), their networks as Agent.nets() gives them,
        stacked with a member dimension (a population's, of any size, one included)."""
        c = agents[0].config
        return cls([a.nets() for a in agents], td3=c.algo == "td3", stacked=True,
                   regression=Regression.of(c), action_l2=c.action_l2)

    @staticmethod
    def supports(actor: nn.Module, critic: nn.Module) -> bool:
        """Plain ReLU networks with the action at the critic's input (DDPG's Critic or TD3's
        TwinCritic of two such)."""
        if hasattr(critic, "q1"):
            return plain_actor(actor) and all(plain_critic(getattr(critic, q, None))
                                              for q in ("q1", "q2"))
        return plain_actor(actor) and plain_critic(critic)

    def policy(self, states: torch.Tensor) -> torch.Tensor:
        """mu(s), as actor(states) computes it, without nn.Module call overhead (for acting;
        call it under torch.no_grad()): states (n, obs) -> (n, act), or (M, n, obs) ->
        (M, n, act) for several members."""
        return self.max_action_rows * torch.tanh(self.actor.forward(states))

    @torch.no_grad()
    def step(self, batch: Batch, update_actor: bool = True) -> dict[str, torch.Tensor]:
        states, actions, rewards, next_states, dones = batch  # (B, ...) or (M, B, ...)
        # [s; a], one column per sample: (..., obs + act, B)
        x = torch.cat([states.transpose(-2, -1), actions.transpose(-2, -1)], -2)
        s = x[..., :states.shape[-1], :]

        # Critic: minimise (Q(s, a) - y)^2 with y = r + gamma (1 - done) Q'(s', mu'(s')); TD3:
        # min_i Q_i'(s', clip(mu'(s') + clip(eps, -c, c), -1, 1)), eps drawn in the (B, act)
        # shape td3_step uses, by each member's own generator
        next_s = next_states.transpose(-2, -1)
        next_a = mu_cols(self.actor_target, self.target_max_action, next_s)
        if self.td3:
            next_a = smoothed_target_action(next_a.transpose(-2, -1), self.target_noise,
                                            self.target_noise_clip,
                                            self.generator).transpose(-2, -1)
        next_x = torch.cat([next_s, next_a], -2)
        next_q = self.q1_target.forward_cols(next_x).transpose(-2, -1)  # (..., B, 1)
        clip = self.regression.target_range  # --target-min/--target-max
        if self.td3:
            y = clipped_double_q_target(rewards, dones, next_q,
                                        self.q2_target.forward_cols(next_x).transpose(-2, -1),
                                        self.gamma, target_range=clip)
        else:
            y = td_target(rewards, dones, next_q, self.gamma, clip)
        y = y.transpose(-2, -1)  # (..., 1, B), as Q is held
        q, loss_q = regress(self.q1, x, y, self.regression)
        qs = [q]
        if self.td3:
            q2, loss_q2 = regress(self.q2, x, y, self.regression)
            loss_q, qs = loss_q + loss_q2, [q, q2]
        self.critic_optimizer.step(self.critic_grads)
        info = {"critic_loss": loss_q, "q": q.mean(dim=(-2, -1)),
                **self.regression.priority(qs, y)}
        if not update_actor:  # TD3's delayed actor: this update leaves the actor and targets
            zero = torch.zeros_like(loss_q)
            return {**info, "actor_loss": zero, "actor_updated": zero}

        # Actor: maximise Q(s, mu(s)) through the updated critic (TD3: Q1); then the targets,
        # theta' <- tau theta + (1 - tau) theta'.
        info["actor_loss"] = actor_step_cols(self.actor, self.max_action, self.critic,
                                             self.actor_optimizer, s, self.action_l2)
        self.polyak()
        info["actor_updated"] = torch.ones_like(loss_q)
        return info


class FastDDPG(FastStep):
    """`ddpg.update.ddpg_step` for one Actor and Critic from ddpg.networks that `supports`
    accepts, with FusedAdam optimizers (the arguments ddpg_step takes). `step(batch)` returns
    the same tensors as ddpg_step."""

    def __init__(self, actor: nn.Module, critic: nn.Module, actor_target: nn.Module,
                 critic_target: nn.Module, actor_optimizer: FusedAdam,
                 critic_optimizer: FusedAdam, tau: float, gamma: float,
                 regression: Regression = MSE, action_l2: float = 0.0) -> None:
        super().__init__([Nets(actor, critic, actor_target, critic_target, actor_optimizer,
                               critic_optimizer, tau, gamma)], td3=False, regression=regression,
                         action_l2=action_l2)

    def step(self, batch: Batch, update_actor: bool = True) -> dict[str, torch.Tensor]:
        info = super().step(batch)
        del info["actor_updated"]  # DDPG updates its actor every time
        return info


class FastTD3(FastStep):
    """`ddpg.td3.td3_step` for one Actor and TwinCritic of plain ReLU networks, with FusedAdam
    optimizers. `step(batch, update_actor)` returns the same tensors as td3_step."""

    def __init__(self, actor: nn.Module, critic: nn.Module, actor_target: nn.Module,
                 critic_target: nn.Module, actor_optimizer: FusedAdam,
                 critic_optimizer: FusedAdam, tau: float, gamma: float, target_noise: float,
                 target_noise_clip: float, generator: torch.Generator | None = None,
                 regression: Regression = MSE, action_l2: float = 0.0) -> None:
        super().__init__([Nets(actor, critic, actor_target, critic_target, actor_optimizer,
                               critic_optimizer, tau, gamma, target_noise, target_noise_clip,
                               generator)], td3=True, regression=regression, action_l2=action_l2)
