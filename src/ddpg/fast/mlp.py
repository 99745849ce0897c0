"""Plain ReLU networks run with their backward passes written out: the building blocks of the
fast update (ddpg.fast.steps).

Inside the update the activations are held feature-major, one column per sample: a layer is
H' = relu(W H + b) with H of shape (features, batch), so the forward is one addmm W H, and
backward is one product for dW = D H^T, one for dH = W^T D, a row sum for db and one threshold
for relu. These are nn.Linear's products (X W^T, dY^T X, dY W) in the other orientation and give
the same numbers up to float32 rounding, but MKL runs them faster at DDPG's shapes: on a Zen 3
CPU the update's products took 13 % less time at batch 256, and the whole update ran 4-6 %
(batch 256) and 20-22 % (batch 64) faster than with a row per sample (docs/benchmarks.md).
Acting, one observation at a time, keeps nn.Linear's orientation (`MLP.forward`), so the policy
the fast path acts with equals the actor module's output bit for bit.

No autograd graph, no gradient for the critic's parameters during the actor step, gradients
written into preallocated tensors that the fused Adam reads, and the hidden activations and their
gradients in tensors kept per batch size (no allocator traffic, no page faults).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Sequence

import torch
from torch import nn

from ddpg.fast.adam import FusedAdam
from ddpg.losses import MSE, Regression, action_l2_grad, actor_loss, actor_loss_grad

# aten's backward kernels, looked up once (through torch.ops each call costs microseconds)
_threshold_backward_into = torch.ops.aten.threshold_backward.grad_input
_tanh_backward = torch.ops.aten.tanh_backward.default
_ONEDNN = torch.backends.mkldnn.matmul
# Under --precision bf16 on a CPU (oneDNN takes float32 products' operands to bf16), a layer
# with fewer inputs or outputs than this keeps exact float32 products: there the conversion
# costs more than bf16 saves (at batch 256 on a 2-core AMX Xeon, a (256 x 20) @ (20 x 256)
# product took 19 us in fp32 and 47 us from bf16 operands; a 256 x 256 x 256 one 115 and 75 us)
NARROW = 64


class _Exact:
    """Float32 products exact inside (oneDNN's fp32_precision 'ieee') when a bf16 setting is in
    force; nothing otherwise."""

    __slots__ = ("previous",)

    def __enter__(self) -> None:
        self.previous = _ONEDNN.fp32_precision
        if self.previous == "bf16":
            _ONEDNN.fp32_precision = "ieee"

    def __exit__(self, *exc: object) -> None:
        if self.previous == "bf16":
            _ONEDNN.fp32_precision = "bf16"


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


class MLP:
    """The Linear layers of M plain ReLU networks of one shape (nn.Sequential of Linear, ReLU,
    ..., Linear[, Tanh]), with a preallocated gradient tensor per parameter.

    One network (M = 1, a single run) is used as it is: weights (out, in), activations
    (features, batch), 2-D products (addmm, mm). Several (a population) are stacked with a
    member dimension in front (`stack_params`: each member's own modules become views of their
    slice): weights (M, out, in), activations (M, features, batch), batched products (baddbmm,
    bmm). Everything else is the same code for both."""

    def __init__(self, seqs: Sequence[nn.Sequential] | nn.Sequential) -> None:
        """One network (an nn.Sequential) as it is, or a list of M (one included) stacked."""
        single = isinstance(seqs, nn.Sequential)
        seqs = [seqs] if single else list(seqs)
        self.members = 1 if single else len(seqs)
        per_member = [[p for layer in _linears(s) for p in (layer.weight, layer.bias)]
                      for s in seqs]
        self.out_features = [layer.out_features for layer in _linears(seqs[0])]
        self.stacked = not single
        # weight, bias of each layer, in nn.Module.parameters() order
        self.params = per_member[0] if single else stack_params(per_member)
        self.weights, self.biases = self.params[0::2], self.params[1::2]
        # W^T as views made once: they follow the in-place optimizer steps, and save a
        # transpose per product (several microseconds each at DDPG's sizes)
        self.weights_t = [w.transpose(-2, -1) for w in self.weights]
        self.bias_cols = [b.unsqueeze(-1) for b in self.biases]  # (..., out, 1), for columns
        self.bias_rows = [b.unsqueeze(1) for b in self.biases] if self.stacked else self.biases
        self.grads = [torch.empty_like(p) for p in self.params]
        # per layer: products exact under a bf16 setting (a narrow layer), or as set
        self._precision = [_Exact() if min(w.shape[-2:]) < NARROW else nullcontext()
                           for w in self.weights]
        self._mm, self._addmm = ((torch.bmm, torch.baddbmm) if self.stacked
                                 else (torch.mm, torch.addmm))
        # hidden layers' outputs and their gradients, (..., features, batch), each list for the
        # last batch size it served (the gradients only once backward runs: targets never need
        # them)
        self._hidden: list[torch.Tensor] = []
        self._d_hidden: list[torch.Tensor] = []

    def _buffers(self, kept: list[torch.Tensor], batch: int) -> list[torch.Tensor]:
        """`kept` (self._hidden or self._d_hidden), refilled with the hidden layers' tensors for
        `batch` columns when the batch size changed. Allocated once per batch size: at DDPG's
        sizes these are 100-400 KB each, and allocating ~16 of them per update could make glibc
        unmap and re-fault them every time (in some processes 420-490 page faults and 1-2 ms
        of system time per update at batch 256; docs/benchmarks.md)."""
        if not kept or kept[0].shape[-1] != batch:
            w = self.weights[0]
            lead = (self.members,) if self.stacked else ()
            kept[:] = [w.new_empty((*lead, out, batch)) for out in self.out_features[:-1]]
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
        """The last Linear layer's output for x of shape (..., batch, in), one row per sample,
        as the module computes it (for acting: the policy equals the actor module's output bit
        for bit)."""
        h = x
        last = len(self.weights) - 1
        for i, (w_t, b) in enumerate(zip(self.weights_t, self.bias_rows)):
            with self._precision[i]:
                h = self._addmm(b, h, w_t)
            if i < last:
                h.relu_()
        return h

    def forward_cols(self, h: torch.Tensor, keep: list[torch.Tensor] | None = None
                     ) -> torch.Tensor:
        """The same for h of shape (..., in, batch), one column per sample: returns
        (..., out, batch). `keep` collects each layer's input for `backward_cols`. The hidden
        layers' outputs live in this MLP's buffers: the next call with the same batch size
        overwrites them."""
        last = len(self.weights) - 1
        hidden = self._buffers(self._hidden, h.shape[-1])
        for i, (w, b) in enumerate(zip(self.weights, self.bias_cols)):
            if keep is not None:
                keep.append(h)
            with self._precision[i]:
                h = self._addmm(b, w, h, out=hidden[i]) if i < last else self._addmm(b, w, h)
            if i < last:
                h.relu_()
        return h

    def backward_cols(self, d: torch.Tensor, inputs: list[torch.Tensor], weight_grads: bool,
                      input_rows: slice | None = None) -> torch.Tensor | None:
        """Backpropagate d = dL/d(output), shaped (..., out, batch), through the layers whose
        inputs `forward_cols` kept: dW = D H^T, db = sum D, dH = W^T D through relu. Writes
        dL/dW, dL/db into self.grads if `weight_grads`; with `input_rows`, returns those rows of
        dL/d(input) (only they are computed)."""
        d_hidden = self._buffers(self._d_hidden, d.shape[-1])
        for i in range(len(self.weights) - 1, -1, -1):
            h = inputs[i]
            with self._precision[i]:
                if weight_grads:
                    self._mm(d, h.transpose(-2, -1), out=self.grads[2 * i])
                    torch.sum(d, -1, out=self.grads[2 * i + 1])
                if i > 0:
                    # relu'(z) through its output h: zero where h == 0, in place in W^T d
                    dh = self._mm(self.weights_t[i], d, out=d_hidden[i - 1])
                    d = _threshold_backward_into(dh, h, 0, grad_input=dh)
                elif input_rows is not None:
                    return self._mm(self.weights_t[0][..., input_rows, :], d)
        return None


def mu_cols(net: MLP, max_action: torch.Tensor, s: torch.Tensor,
            keep: list[torch.Tensor] | None = None) -> torch.Tensor:
    """mu(s) = max_action * tanh(f(s)) for s of shape (obs, batch) and max_action (act, 1);
    with `keep`, also tanh(f(s)) as its last entry. Also for a population's StackedMLP, with
    a member dimension in front of every shape."""
    t = torch.tanh(net.forward_cols(s, keep))
    if keep is not None:
        keep.append(t)
    return max_action * t


def regress(critic: MLP, x: torch.Tensor, y: torch.Tensor,
            regression: Regression = MSE) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward Q(x) for x of shape (obs + act, batch) and write the gradients of the critic's
    loss (`regression`: losses.critic_loss, mean (Q(x) - y)^2, or LAP's) into critic.grads
    (dL/dQ from Regression.loss_grad). Returns (Q, the loss), Q and y shaped (1, batch); for a
    StackedMLP (M, 1, batch), and the loss per member."""
    kept: list[torch.Tensor] = []
    q = critic.forward_cols(x, kept)
    loss, d_q = regression.loss_grad(q, y)
    critic.backward_cols(d_q, kept, weight_grads=True)
    return q, loss


def actor_step_cols(actor: MLP, max_action: torch.Tensor, critic: MLP, optimizer,
                    states: torch.Tensor, action_l2: float = 0.0) -> torch.Tensor:
    """Minimise losses.actor_loss, -mean Q(s, mu(s)) (+ action_l2 mean mu^2), over states
    shaped (obs, batch) ((M, obs, batch) for StackedMLPs): dL/dQ (losses.actor_loss_grad)
    carried back through the critic to its action input only (the critic's parameters get no
    gradient), plus the penalty's dL/dmu (losses.action_l2_grad), then through
    mu = max_action tanh(z) into the actor, and one step of `optimizer` (FusedAdam, a
    population's stacked over its members). Returns the loss."""
    kept_mu: list[torch.Tensor] = []
    mu = mu_cols(actor, max_action, states, kept_mu)
    tanh_out = kept_mu.pop()
    kept: list[torch.Tensor] = []
    q_pi = critic.forward_cols(torch.cat([states, mu], dim=-2), kept)
    d_action = critic.backward_cols(actor_loss_grad(q_pi), kept, weight_grads=False,
                                    input_rows=slice(states.shape[-2], None))
    if action_l2:
        d_action = d_action + action_l2_grad(mu, action_l2)
    d_z = _tanh_backward(d_action * max_action, tanh_out)
    actor.backward_cols(d_z, kept_mu, weight_grads=True)
    optimizer.step(actor.grads)
    return actor_loss(q_pi, mu, action_l2)


def check_order(optimizer: FusedAdam, *seqs: nn.Sequential) -> None:
    """The optimizer must hold exactly the networks' parameters, in the order of their grads."""
    params = [p for seq in seqs for layer in _linears(seq) for p in (layer.weight, layer.bias)]
    if len(params) != len(optimizer.params) or any(
            p is not q for p, q in zip(params, optimizer.params)):
        raise ValueError("the optimizer does not hold the network's parameters in "
                         "nn.Module.parameters() order; build it as FusedAdam(net.parameters()).")


def plain_critic(critic: nn.Module) -> bool:
    state_net = getattr(critic, "state_net", None)
    return (MLP.supports(getattr(critic, "net", None), None)
            and isinstance(state_net, nn.Sequential) and len(state_net) == 0)


def plain_actor(actor: nn.Module) -> bool:
    return (MLP.supports(getattr(actor, "net", None), nn.Tanh)
            and isinstance(getattr(actor, "max_action", None), torch.Tensor))
