"""DDPG's update with the backward passes written out, for plain ReLU networks.

The same math as `ddpg.update.ddpg_step` (a test checks both leave the same parameters to float32
rounding), with the gradients of the two losses computed by hand instead of by autograd:

    critic:  L_Q  = mean (Q(s, a) - y)^2        dL_Q/dQ      = 2 (Q(s, a) - y) / B
    actor:   L_mu = -mean Q(s, mu(s))           dL_mu/dQ     = -1 / B, carried back through the
             critic to its action input, then through tanh (1 - mu^2) into the actor.

Inside the update the activations are held feature-major, one column per sample: a layer is
H' = relu(W H + b) with H of shape (features, batch), so the forward is one addmm W H, and
backward is one product for dW = D H^T, one for dH = W^T D, a row sum for db and one threshold
for relu. These are nn.Linear's products (X W^T, dY^T X, dY W) in the other orientation and give
the same numbers up to float32 rounding, but MKL runs them faster at DDPG's shapes: on a Zen 3
CPU the update's products took 13 % less time at batch 256, and the whole update ran 4-6 %
(batch 256) and 20-22 % (batch 64) faster than with a row per sample (docs/benchmarks.md).
Acting, one observation at a time, keeps nn.Linear's orientation (`MLP.forward`), so the policy
the fast path acts with equals the actor module's output bit for bit.

That is all the update does: no autograd graph, no gradient for the critic's parameters during
the actor step, gradients written into preallocated tensors that the fused Adam reads, and the
hidden activations and their gradients in tensors kept per batch size (no allocator traffic, no
page faults). On a CPU at DDPG's sizes this removes about half of the time that is not matrix
products.

`FastDDPG` and `FastTD3` are used by the agent when the networks are plain MLPs (ReLU, no
normalisation, the action entering the critic at its input) in float32 (on a CPU also under
--precision bf16, where oneDNN takes the products' operands to bf16); everything else runs
`ddpg_step` / `td3_step` under autograd. TD3's target and update keep their own equations here too.
"""

from __future__ import annotations

import torch
from torch import nn

from ddpg.adam import FusedAdam
from ddpg.buffer import Batch
from ddpg.losses import (clipped_double_q_target, polyak_update, smoothed_target_action,
                         td_target)

# aten's backward kernels, looked up once (through torch.ops each call costs microseconds)
_threshold_backward_into = torch.ops.aten.threshold_backward.grad_input
_tanh_backward = torch.ops.aten.tanh_backward.default


class MLP:
    """A view of the Linear layers of a plain ReLU network (nn.Sequential of Linear, ReLU, ...,
    Linear[, Tanh]) with a preallocated gradient tensor per parameter."""

    def __init__(self, seq: nn.Sequential) -> None:
        self.layers: list[nn.Linear] = [m for m in seq if isinstance(m, nn.Linear)]
        self.weights = [m.weight for m in self.layers]
        # W^T as views made once: they follow the in-place optimizer steps, and save a
        # transpose per product (several microseconds each at DDPG's sizes)
        self.weights_t = [w.t() for w in self.weights]
        self.biases = [m.bias for m in self.layers]
        self.bias_cols = [b.unsqueeze(1) for b in self.biases]  # (out, 1) views, for columns
        # grads in nn.Module.parameters() order: weight, bias of each layer
        self.grads = [torch.empty_like(p) for m in self.layers for p in (m.weight, m.bias)]
        # hidden layers' outputs and their gradients, (features, batch), each list for the last
        # batch size it served (the gradients only once backward runs: targets never need them)
        self._hidden: list[torch.Tensor] = []
        self._d_hidden: list[torch.Tensor] = []

    def _buffers(self, kept: list[torch.Tensor], batch: int) -> list[torch.Tensor]:
        """`kept` (self._hidden or self._d_hidden), refilled with the hidden layers' tensors for
        `batch` columns when the batch size changed. Allocated once per batch size: at DDPG's
        sizes these are 100-400 KB each, and allocating ~16 of them per update could make glibc
        unmap and re-fault them every time (in some processes 420-490 page faults and 1-2 ms
        of system time per update at batch 256; docs/benchmarks.md)."""
        if not kept or kept[0].shape[1] != batch:
            w = self.weights[0]
            kept[:] = [w.new_empty((m.out_features, batch)) for m in self.layers[:-1]]
        return kept

    @staticmethod
    def supports(seq: nn.Module, last: type | None) -> bool:
        """True for Linear, ReLU, Linear, ReLU, ..., Linear (then `last`, if given), every
        Linear with a bias."""
        mods = list(seq) if isinstance(seq, nn.Sequential) else []
        if last is not None:
            if not mods or type(mods[-1]) is not last:
                return False
            mods = mods[:-1]
        return (len(mods) >= 1 and len(mods) % 2 == 1
                and all(type(m) is nn.Linear and m.bias is not None for m in mods[0::2])
                and all(type(m) is nn.ReLU for m in mods[1::2]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The last Linear layer's output for x of shape (batch, in), as the module computes it
        (for acting)."""
        h = x
        last = len(self.layers) - 1
        for i, (w_t, b) in enumerate(zip(self.weights_t, self.biases)):
            h = torch.addmm(b, h, w_t)
            if i < last:
                h.relu_()
        return h

    def forward_cols(self, h: torch.Tensor, keep: list[torch.Tensor] | None = None
                     ) -> torch.Tensor:
        """The same for h of shape (in, batch), one column per sample: returns (out, batch).
        `keep` collects each layer's input for `backward_cols`. The hidden layers' outputs live
        in this MLP's buffers: the next call with the same batch size overwrites them."""
        last = len(self.layers) - 1
        hidden = self._buffers(self._hidden, h.shape[1])
        for i, (w, b) in enumerate(zip(self.weights, self.bias_cols)):
            if keep is not None:
                keep.append(h)
            if i < last:
                h = torch.addmm(b, w, h, out=hidden[i]).relu_()
            else:
                h = torch.addmm(b, w, h)
        return h

    def backward_cols(self, d: torch.Tensor, inputs: list[torch.Tensor], weight_grads: bool,
                      input_rows: slice | None = None) -> torch.Tensor | None:
        """Backpropagate d = dL/d(output), shaped (out, batch), through the layers whose inputs
        `forward_cols` kept. Writes dL/dW, dL/db into self.grads if `weight_grads`; with
        `input_rows`, returns those rows of dL/d(input) (only they are computed)."""
        d_hidden = self._buffers(self._d_hidden, d.shape[1])
        for i in range(len(self.layers) - 1, -1, -1):
            h = inputs[i]
            if weight_grads:
                torch.mm(d, h.t(), out=self.grads[2 * i])
                torch.sum(d, 1, out=self.grads[2 * i + 1])
            if i > 0:
                # relu'(z) through its output h: zero where h == 0, in place in W^T d
                dh = torch.mm(self.weights_t[i], d, out=d_hidden[i - 1])
                d = _threshold_backward_into(dh, h, 0, grad_input=dh)
            elif input_rows is not None:
                return self.weights_t[0][input_rows].mm(d)
        return None


def _mu(net: MLP, max_action: torch.Tensor, s: torch.Tensor,
        keep: list[torch.Tensor] | None = None) -> torch.Tensor:
    """mu(s) = max_action * tanh(f(s)) for s of shape (obs, batch) and max_action (act, 1);
    with `keep`, also tanh(f(s)) as its last entry."""
    t = torch.tanh(net.forward_cols(s, keep))
    if keep is not None:
        keep.append(t)
    return max_action * t


def _regress(critic: MLP, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward Q(x) for x of shape (obs + act, batch) and write the gradients of
    mean (Q(x) - y)^2 into critic.grads: dL/dQ = 2 (Q - y) / B. Returns (Q, the loss), Q and y
    shaped (1, batch)."""
    kept: list[torch.Tensor] = []
    q = critic.forward_cols(x, kept)
    diff = q - y
    critic.backward_cols(diff.mul(2.0 / q.shape[1]), kept, weight_grads=True)
    return q, diff.square().mean()


def _actor_step(actor: MLP, max_action: torch.Tensor, critic: MLP, optimizer: FusedAdam,
                states: torch.Tensor) -> torch.Tensor:
    """Minimise -mean Q(s, mu(s)) over states shaped (obs, batch): dL/dQ = -1/B, carried back
    through the critic to its action input only (the critic's parameters get no gradient), then
    through mu = max_action tanh(z) into the actor. Returns the loss."""
    kept_mu: list[torch.Tensor] = []
    mu = _mu(actor, max_action, states, kept_mu)
    tanh_out = kept_mu.pop()
    kept: list[torch.Tensor] = []
    q_pi = critic.forward_cols(torch.cat([states, mu]), kept)
    d_q = torch.full_like(q_pi, -1.0 / q_pi.shape[1])
    d_action = critic.backward_cols(d_q, kept, weight_grads=False,
                                    input_rows=slice(states.shape[0], None))
    d_z = _tanh_backward(d_action * max_action, tanh_out)
    actor.backward_cols(d_z, kept_mu, weight_grads=True)
    optimizer.step(actor.grads)
    return -q_pi.mean()


def _columns(states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """[s; a] of shape (obs + act, batch), contiguous, from the batch's (batch, ...) rows."""
    return torch.cat([states.t(), actions.t()])


def _check_order(optimizer: FusedAdam, *nets: MLP) -> None:
    """The optimizer must hold exactly the networks' parameters, in the order of their grads."""
    params = [p for net in nets for layer in net.layers for p in (layer.weight, layer.bias)]
    if len(params) != len(optimizer.params) or any(
            p is not q for p, q in zip(params, optimizer.params)):
        raise ValueError("the optimizer does not hold the network's parameters in "
                         "nn.Module.parameters() order; build it as FusedAdam(net.parameters()).")


def _plain_critic(critic: nn.Module) -> bool:
    state_net = getattr(critic, "state_net", None)
    return (MLP.supports(getattr(critic, "net", None), None)
            and isinstance(state_net, nn.Sequential) and len(state_net) == 0)


def _plain_actor(actor: nn.Module) -> bool:
    return (MLP.supports(getattr(actor, "net", None), nn.Tanh)
            and isinstance(getattr(actor, "max_action", None), torch.Tensor))


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
        _check_order(actor_optimizer, self.actor)
        _check_order(critic_optimizer, self.critic)
        self.actor_optimizer, self.critic_optimizer = actor_optimizer, critic_optimizer
        self.tau, self.gamma = tau, gamma
        self._pairs = [(list(critic.parameters()), list(critic_target.parameters())),
                       (list(actor.parameters()), list(actor_target.parameters()))]

    @staticmethod
    def supports(actor: nn.Module, critic: nn.Module) -> bool:
        return _plain_actor(actor) and _plain_critic(critic)

    def policy(self, states: torch.Tensor) -> torch.Tensor:
        """mu(s), as actor(states) computes it, without nn.Module call overhead (for acting;
        call it under torch.no_grad())."""
        return self.max_action * torch.tanh(self.actor.forward(states))

    @torch.no_grad()
    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        states, actions, rewards, next_states, dones = batch
        x = _columns(states, actions)  # [s; a], one column per sample
        s = x[:states.shape[1]]

        # Critic: minimise (Q(s, a) - y)^2 with y = r + gamma (1 - done) Q'(s', mu'(s')).
        next_s = next_states.t()
        next_a = _mu(self.actor_target, self.target_max_action_col, next_s)
        next_q = self.critic_target.forward_cols(torch.cat([next_s, next_a]))
        y = td_target(rewards, dones, next_q.t(), self.gamma).t()
        q, loss_q = _regress(self.critic, x, y)
        self.critic_optimizer.step(self.critic.grads)

        # Actor: maximise Q(s, mu(s)) through the updated critic.
        loss_pi = _actor_step(self.actor, self.max_action_col, self.critic,
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
        _check_order(actor_optimizer, self.actor)
        _check_order(critic_optimizer, self.q1, self.q2)
        self.actor_optimizer, self.critic_optimizer = actor_optimizer, critic_optimizer
        self.tau, self.gamma = tau, gamma
        self.target_noise, self.target_noise_clip = target_noise, target_noise_clip
        self.generator = generator
        self._pairs = [(list(critic.parameters()), list(critic_target.parameters())),
                       (list(actor.parameters()), list(actor_target.parameters()))]

    @staticmethod
    def supports(actor: nn.Module, critic: nn.Module) -> bool:
        return (_plain_actor(actor) and all(_plain_critic(getattr(critic, q, None))
                                            for q in ("q1", "q2")))

    policy = FastDDPG.policy

    @torch.no_grad()
    def step(self, batch: Batch, update_actor: bool) -> dict[str, torch.Tensor]:
        states, actions, rewards, next_states, dones = batch

        x = _columns(states, actions)  # [s; a], one column per sample

        # Critics: y = r + gamma (1 - done) min_i Q_i'(s', clip(mu'(s') + clip(eps, -c, c), -1, 1)).
        next_s = next_states.t()
        next_a = smoothed_target_action(  # noise drawn in the (batch, act) shape td3_step uses
            _mu(self.actor_target, self.target_max_action_col, next_s).t(), self.target_noise,
            self.target_noise_clip, self.generator).t()
        next_x = torch.cat([next_s, next_a])
        y = clipped_double_q_target(rewards, dones, self.q1_target.forward_cols(next_x).t(),
                                    self.q2_target.forward_cols(next_x).t(), self.gamma).t()
        q1, loss_q1 = _regress(self.q1, x, y)
        _, loss_q2 = _regress(self.q2, x, y)
        self.critic_optimizer.step(self.q1.grads + self.q2.grads)

        zero = torch.zeros((), device=states.device)
        info = {"critic_loss": loss_q1 + loss_q2, "q": q1.mean(), "actor_loss": zero,
                "actor_updated": zero}
        if not update_actor:
            return info

        # Actor (delayed): maximise Q1(s, mu(s)); no gradient into either critic.
        info["actor_loss"] = _actor_step(self.actor, self.max_action_col, self.q1,
                                         self.actor_optimizer, x[:states.shape[1]])
        # Targets (delayed, with the actor).
        for params, target_params in self._pairs:
            polyak_update(params, target_params, self.tau)
        info["actor_updated"] = torch.ones_like(zero)
        return info
