"""Many members' networks held as one: a tensor per layer with a leading member dimension.

`stack_members` moves the parameters, targets and Adam moments of M agents into stacked
tensors (M, ...) and points every member's own modules and optimizer at its slice, so each
member is still an ordinary Agent (it acts, evaluates, saves and loads its state_dict as a
single run does) while the population update below works on all members at once.

`StackedStep` is ddpg.fast.steps' update (DDPG or TD3, hand-written backward passes) with the
member dimension in front: every matrix product is one batched product (baddbmm / bmm) over
all members, and everything else is one call for all members too: the TD target, the losses,
one fused Adam step per network (per group of equal learning rates), one Polyak step. The
equations are those of FastDDPG / FastTD3, line for line; tests check that each member's
parameters stay equal to the single run of its seed to float32 rounding.

Members may differ in what does not change a tensor's shape: learning rates, weight decay,
tau, gamma, TD3's target noise and its clip (held as (M, 1, 1) tensors where they multiply).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ddpg.buffer import Batch
from ddpg.fast.mlp import actor_step_cols, mu_cols, regress
from ddpg.losses import clipped_double_q_target, polyak_update, smoothed_target_action, td_target

_threshold_backward_into = torch.ops.aten.threshold_backward.grad_input


def _linears(seq: nn.Sequential) -> list[nn.Linear]:
    return [m for m in seq if isinstance(m, nn.Linear)]


def stack_params(params: Sequence[Sequence[nn.Parameter]]) -> list[torch.Tensor]:
    """params[m][i]: member m's i-th parameter. Returns one tensor per i of shape (M, ...) and
    makes every member's parameter a view of its slice (values unchanged)."""
    stacked = [torch.stack([member[i].detach() for member in params])
               for i in range(len(params[0]))]
    for m, member in enumerate(params):
        for i, p in enumerate(member):
            p.data = stacked[i][m]
    return stacked


def stack_list(lists: Sequence[list[torch.Tensor]]) -> list[torch.Tensor]:
    """The same for plain lists of tensors (an optimizer's moments): entries are replaced."""
    stacked = [torch.stack([member[i] for member in lists]) for i in range(len(lists[0]))]
    for m, member in enumerate(lists):
        member[:] = [s[m] for s in stacked]
    return stacked


class StackedMLP:
    """The Linear layers of M plain ReLU networks of one shape, stacked: weights (M, out, in),
    biases (M, out), with a gradient tensor each. Activations are (M, features, batch)."""

    def __init__(self, seqs: Sequence[nn.Sequential]) -> None:
        layers = [_linears(s) for s in seqs]
        per_member = [[p for layer in member for p in (layer.weight, layer.bias)]
                      for member in layers]
        self.params = stack_params(per_member)  # weight, bias of each layer, in module order
        self.weights, self.biases = self.params[0::2], self.params[1::2]
        self.weights_t = [w.transpose(1, 2) for w in self.weights]
        self.bias_cols = [b.unsqueeze(2) for b in self.biases]  # (M, out, 1)
        self.bias_rows = [b.unsqueeze(1) for b in self.biases]  # (M, 1, out)
        self.grads = [torch.empty_like(p) for p in self.params]

    def forward_rows(self, x: torch.Tensor) -> torch.Tensor:
        """The last layer's output for x of shape (M, n, in): (M, n, out) (for acting)."""
        h, last = x, len(self.weights) - 1
        for i, (w_t, b) in enumerate(zip(self.weights_t, self.bias_rows)):
            h = torch.baddbmm(b, h, w_t)
            if i < last:
                h.relu_()
        return h

    def forward_cols(self, h: torch.Tensor, keep: list[torch.Tensor] | None = None
                     ) -> torch.Tensor:
        """(M, in, B) -> (M, out, B); `keep` collects each layer's input for backward_cols."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.bias_cols)):
            if keep is not None:
                keep.append(h)
            h = torch.baddbmm(b, w, h)
            if i < last:
                h.relu_()
        return h

    def backward_cols(self, d: torch.Tensor, inputs: list[torch.Tensor], weight_grads: bool,
                      input_rows: slice | None = None) -> torch.Tensor | None:
        """Backpropagate d (M, out, B) through the kept layers: dW = D H^T, db = sum D,
        dH = W^T D through relu; with `input_rows`, returns those rows of dL/d(input)."""
        for i in range(len(self.weights) - 1, -1, -1):
            h = inputs[i]
            if weight_grads:
                torch.bmm(d, h.transpose(1, 2), out=self.grads[2 * i])
                torch.sum(d, 2, out=self.grads[2 * i + 1])
            if i > 0:
                dh = torch.bmm(self.weights_t[i], d)
                d = _threshold_backward_into(dh, h, 0, grad_input=dh)
            elif input_rows is not None:
                return torch.bmm(self.weights_t[0][:, input_rows], d)
        return None


class StackedAdam:
    """Adam (torch's fused kernel, as ddpg.fast.FusedAdam) over stacked parameters. Members with
    equal (lr, weight_decay) step in one call; each member's FusedAdam keeps views of its
    moments and step count, so its state_dict is that member's own."""

    def __init__(self, params: list[torch.Tensor], optimizers: Sequence) -> None:
        self.params = params
        self.exp_avg = stack_list([o.exp_avg for o in optimizers])
        self.exp_avg_sq = stack_list([o.exp_avg_sq for o in optimizers])
        self.steps = torch.stack([o.steps[0] for o in optimizers])
        for m, o in enumerate(optimizers):
            o.steps = [self.steps[m]] * len(o.params)
        self.optimizers = optimizers
        groups: dict[tuple, list[int]] = {}
        for m, o in enumerate(optimizers):
            groups.setdefault((o.lr, o.betas, o.eps, o.weight_decay), []).append(m)
        self.groups = list(groups.items())

    def step(self, grads: list[torch.Tensor]) -> None:
        self.steps.add_(1)
        for (lr, (b1, b2), eps, wd), members in self.groups:
            if len(members) == len(self.optimizers):  # one call over the stacked tensors
                p, g, m1, m2 = self.params, grads, self.exp_avg, self.exp_avg_sq
                steps = [self.steps[0]] * len(p)  # every member has taken the same steps
            else:
                p, g, m1, m2 = ([t[m] for m in members for t in ts]
                                for ts in (self.params, grads, self.exp_avg, self.exp_avg_sq))
                steps = [self.steps[m] for m in members for _ in self.params]
            torch._fused_adam_(p, g, m1, m2, [], steps, lr=lr, beta1=b1, beta2=b2,
                               weight_decay=wd, eps=eps, amsgrad=False, maximize=False)


def member_column(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """Per-member scalars as an (M, 1, 1) tensor that broadcasts over (M, rows, cols)."""
    return torch.tensor(list(values), dtype=like.dtype, device=like.device).view(-1, 1, 1)


class StackedPolyak:
    """losses.polyak_update for stacked tensors, tau per member (one rate where all share it,
    else a (M, 1, ...) weight per parameter, made once)."""

    def __init__(self, taus: Sequence[float], params: list[torch.Tensor],
                 targets: list[torch.Tensor]) -> None:
        self.params, self.targets = params, targets
        if len(set(taus)) == 1:
            self.tau: float | list[torch.Tensor] = taus[0]
        else:
            col = member_column(taus, params[0])
            self.tau = [col.view(-1, *([1] * (p.ndim - 1))) for p in params]

    def __call__(self) -> None:
        polyak_update(self.params, self.targets, self.tau)


class StackedStep:
    """One DDPG or TD3 update of every member at once. Built from the members' Agents (their
    fast paths must apply: plain ReLU MLPs, ddpg.fast.select); takes a Batch whose tensors are
    (M, B, ...) and returns per-member (M,) tensors of the losses."""

    def __init__(self, agents: Sequence) -> None:
        a0 = agents[0]
        self.td3 = a0.config.algo == "td3"
        self.agents = agents
        self.actor = StackedMLP([a.actor.net for a in agents])
        self.actor_target = StackedMLP([a.actor_target.net for a in agents])
        if self.td3:
            self.q1 = StackedMLP([a.critic.q1.net for a in agents])
            self.q2 = StackedMLP([a.critic.q2.net for a in agents])
            self.q1_target = StackedMLP([a.critic_target.q1.net for a in agents])
            self.q2_target = StackedMLP([a.critic_target.q2.net for a in agents])
            critics, critic_targets = [self.q1, self.q2], [self.q1_target, self.q2_target]
        else:
            self.q1 = StackedMLP([a.critic.net for a in agents])
            self.q1_target = StackedMLP([a.critic_target.net for a in agents])
            critics, critic_targets = [self.q1], [self.q1_target]
        critic_params = [p for c in critics for p in c.params]
        self.critic_grads = [g for c in critics for g in c.grads]
        self.actor_optimizer = StackedAdam(self.actor.params,
                                           [a.actor_optimizer for a in agents])
        self.critic_optimizer = StackedAdam(critic_params, [a.critic_optimizer for a in agents])
        # max_action is a buffer of each actor (its bounds in normalised units: all ones)
        self.max_action = torch.stack([a.actor.max_action.reshape(-1, 1) for a in agents])
        self.target_max_action = torch.stack(
            [a.actor_target.max_action.reshape(-1, 1) for a in agents])
        like = self.actor.params[0]
        configs = [a.config for a in agents]
        self.gamma = member_column([c.gamma for c in configs], like)
        self.polyak = [
            StackedPolyak([c.tau for c in configs], critic_params,
                    [p for c in critic_targets for p in c.params]),
            StackedPolyak([c.tau for c in configs], self.actor.params, self.actor_target.params)]
        self.target_noise = member_column([c.td3.target_noise for c in configs], like)
        self.target_noise_clip = member_column([c.td3.target_noise_clip for c in configs], like)
        self.generators = [a.generator for a in agents]

    def policy_rows(self, states: torch.Tensor) -> torch.Tensor:
        """mu(s) of every member for states (M, n, obs): (M, n, act)."""
        return self.max_action.transpose(1, 2) * torch.tanh(self.actor.forward_rows(states))

    @torch.no_grad()
    def step(self, batch: Batch, update_actor: bool = True) -> dict[str, torch.Tensor]:
        """FastDDPG.step / FastTD3.step with the member dimension in front, through the same
        functions (ddpg.fast.mlp, ddpg.losses)."""
        states, actions, rewards, next_states, dones = batch  # (M, B, ...)
        x = torch.cat([states.transpose(1, 2), actions.transpose(1, 2)], 1)  # (M, obs+act, B)
        s = x[:, :states.shape[2]]
        next_s = next_states.transpose(1, 2)
        next_a = mu_cols(self.actor_target, self.target_max_action, next_s)
        if self.td3:  # each member's noise drawn by its own generator, as td3_step draws it
            next_a = smoothed_target_action(next_a.transpose(1, 2), self.target_noise,
                                            self.target_noise_clip,
                                            self.generators).transpose(1, 2)
        next_x = torch.cat([next_s, next_a], 1)
        next_q = self.q1_target.forward_cols(next_x).transpose(1, 2)  # (M, B, 1)
        if self.td3:
            y = clipped_double_q_target(rewards, dones, next_q,
                                        self.q2_target.forward_cols(next_x).transpose(1, 2),
                                        self.gamma)
        else:
            y = td_target(rewards, dones, next_q, self.gamma)
        y = y.transpose(1, 2)  # (M, 1, B), as Q is held
        q, loss_q = regress(self.q1, x, y)
        if self.td3:
            loss_q = loss_q + regress(self.q2, x, y)[1]
        self.critic_optimizer.step(self.critic_grads)
        info = {"critic_loss": loss_q, "q": q.mean(dim=(1, 2))}
        if not update_actor:
            zero = torch.zeros_like(loss_q)
            return {**info, "actor_loss": zero, "actor_updated": zero}
        info["actor_loss"] = actor_step_cols(self.actor, self.max_action, self.q1,
                                             self.actor_optimizer, s)
        for polyak in self.polyak:
            polyak()
        info["actor_updated"] = torch.ones_like(loss_q)
        return info
