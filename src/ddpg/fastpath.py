"""DDPG's update with the backward passes written out, for plain ReLU networks.

The same math as `ddpg.update.ddpg_step` (a test checks both leave the same parameters to float32
rounding), with the gradients of the two losses computed by hand instead of by autograd:

    critic:  L_Q  = mean (Q(s, a) - y)^2        dL_Q/dQ      = 2 (Q(s, a) - y) / B
    actor:   L_mu = -mean Q(s, mu(s))           dL_mu/dQ     = -1 / B, carried back through the
             critic to its action input, then through tanh (1 - mu^2) into the actor.

Each layer h' = relu(h W^T + b) costs one addmm forward and, backward, one product for dW = d^T h,
one for d h = d W, a column sum for db and one threshold for relu. That is all the update does:
no autograd graph, no gradient for the critic's parameters during the actor step, gradients
written into preallocated tensors that the fused Adam reads. On a CPU at DDPG's sizes this
removes about half of the time that is not matrix products (see docs/benchmarks.md).

Used by the agent when the networks are plain MLPs (ReLU, no normalisation, the action entering
the critic at its input) in float32; everything else runs `ddpg_step` under autograd.
"""

from __future__ import annotations

import torch
from torch import nn

from ddpg.adam import FusedAdam
from ddpg.buffer import Batch
from ddpg.losses import polyak_update, td_target


class MLP:
    """A view of the Linear layers of a plain ReLU network (nn.Sequential of Linear, ReLU, ...,
    Linear[, Tanh]) with a preallocated gradient tensor per parameter."""

    def __init__(self, seq: nn.Sequential) -> None:
        self.layers: list[nn.Linear] = [m for m in seq if isinstance(m, nn.Linear)]
        self.weights = [m.weight for m in self.layers]
        self.biases = [m.bias for m in self.layers]
        # grads in nn.Module.parameters() order: weight, bias of each layer
        self.grads = [torch.empty_like(p) for m in self.layers for p in (m.weight, m.bias)]

    @staticmethod
    def supports(seq: nn.Module, last: type | None) -> bool:
        """True for Linear, ReLU, Linear, ReLU, ..., Linear (then `last`, if given)."""
        mods = list(seq) if isinstance(seq, nn.Sequential) else []
        if last is not None:
            if not mods or type(mods[-1]) is not last:
                return False
            mods = mods[:-1]
        return (len(mods) >= 1 and len(mods) % 2 == 1
                and all(type(m) is nn.Linear for m in mods[0::2])
                and all(type(m) is nn.ReLU for m in mods[1::2]))

    def forward(self, x: torch.Tensor, keep: list[torch.Tensor] | None = None) -> torch.Tensor:
        """The last Linear layer's output; `keep` collects each layer's input for backward."""
        h = x
        last = len(self.layers) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if keep is not None:
                keep.append(h)
            h = torch.addmm(b, h, w.t())
            if i < last:
                h.relu_()
        return h

    def backward(self, d: torch.Tensor, inputs: list[torch.Tensor], weight_grads: bool,
                 input_grad: bool) -> torch.Tensor | None:
        """Backpropagate d = dL/d(output) through the layers whose inputs `forward` kept.
        Writes dL/dW, dL/db into self.grads if `weight_grads`; returns dL/d(input) if asked."""
        for i in range(len(self.layers) - 1, -1, -1):
            h = inputs[i]
            if weight_grads:
                torch.mm(d.t(), h, out=self.grads[2 * i])
                torch.sum(d, 0, out=self.grads[2 * i + 1])
            if i > 0:
                # relu'(z) through its output h: zero where h == 0
                d = torch.ops.aten.threshold_backward(d.mm(self.weights[i]), h, 0)
            elif input_grad:
                return d.mm(self.weights[0])
        return None


class FastDDPG:
    """`ddpg_step` for an Actor and Critic from ddpg.networks that `supports` accepts, with
    FusedAdam optimizers. Call `step(batch)`; returns the same tensors as ddpg_step."""

    def __init__(self, actor: nn.Module, critic: nn.Module, actor_target: nn.Module,
                 critic_target: nn.Module, actor_optimizer: FusedAdam,
                 critic_optimizer: FusedAdam, tau: float, gamma: float) -> None:
        if not self.supports(actor, critic):
            raise ValueError("FastDDPG needs plain ReLU networks with the action entering the "
                             "critic at its input; use ddpg.update.ddpg_step for others.")
        self.actor, self.critic = MLP(actor.net), MLP(critic.net)
        self.actor_target, self.critic_target = MLP(actor_target.net), MLP(critic_target.net)
        self.actor_module, self.actor_target_module = actor, actor_target
        self.actor_optimizer, self.critic_optimizer = actor_optimizer, critic_optimizer
        self.tau, self.gamma = tau, gamma
        self._pairs = [(list(critic.parameters()), list(critic_target.parameters())),
                       (list(actor.parameters()), list(actor_target.parameters()))]

    @staticmethod
    def supports(actor: nn.Module, critic: nn.Module) -> bool:
        state_net = getattr(critic, "state_net", None)
        return (MLP.supports(getattr(actor, "net", None), nn.Tanh)
                and MLP.supports(getattr(critic, "net", None), None)
                and isinstance(state_net, nn.Sequential) and len(state_net) == 0
                and isinstance(getattr(actor, "max_action", None), torch.Tensor))

    def _mu(self, net: MLP, max_action: torch.Tensor, s: torch.Tensor,
            keep: list[torch.Tensor] | None = None) -> torch.Tensor:
        """mu(s) = max_action * tanh(f(s)); with `keep`, also tanh(f(s)) as its last entry."""
        t = torch.tanh(net.forward(s, keep))
        if keep is not None:
            keep.append(t)
        return max_action * t

    @torch.no_grad()
    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        states, actions, rewards, next_states, dones = batch
        batch_size = states.shape[0]
        max_action = self.actor_module.max_action

        # Critic: y = r + gamma (1 - done) Q'(s', mu'(s')); minimise mean (Q(s, a) - y)^2.
        next_actions = self._mu(self.actor_target, self.actor_target_module.max_action,
                                next_states)
        next_q = self.critic_target.forward(torch.cat([next_states, next_actions], dim=1))
        y = td_target(rewards, dones, next_q, self.gamma)
        kept: list[torch.Tensor] = []
        q = self.critic.forward(torch.cat([states, actions], dim=1), kept)
        diff = q - y
        loss_q = diff.square().mean()
        self.critic.backward(diff.mul(2.0 / batch_size), kept, weight_grads=True,
                             input_grad=False)
        self.critic_optimizer.step(self.critic.grads)

        # Actor: minimise -mean Q(s, mu(s)) through the updated critic; the critic's parameters
        # get no gradient, only its input does.
        kept_mu: list[torch.Tensor] = []
        mu = self._mu(self.actor, max_action, states, kept_mu)
        tanh_out = kept_mu.pop()
        kept = []
        q_pi = self.critic.forward(torch.cat([states, mu], dim=1), kept)
        loss_pi = -q_pi.mean()
        d_q = torch.full_like(q_pi, -1.0 / batch_size)
        d_input = self.critic.backward(d_q, kept, weight_grads=False, input_grad=True)
        d_mu = d_input[:, states.shape[1]:]
        # through mu = max_action * tanh(z): dz = d_mu * max_action * (1 - tanh^2)
        d_z = torch.ops.aten.tanh_backward(d_mu * max_action, tanh_out)
        self.actor.backward(d_z, kept_mu, weight_grads=True, input_grad=False)
        self.actor_optimizer.step(self.actor.grads)

        # Targets: theta' <- tau theta + (1 - tau) theta'.
        for params, target_params in self._pairs:
            polyak_update(params, target_params, self.tau)
        return {"critic_loss": loss_q, "actor_loss": loss_pi, "q": q.mean()}
