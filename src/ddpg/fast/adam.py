"""Adam for the fast update path, for one run and for a population: torch's fused Adam kernel
called directly.

The math is torch.optim.Adam's (L2 weight decay added to the gradient); what goes is the
per-step Python bookkeeping of torch.optim.Optimizer (state lookup, grouping, hooks), which costs
about as much as the kernel itself at DDPG's sizes on a CPU. Gradients are set to None between
steps, so backward writes them without an extra accumulate pass.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch


Hyper = tuple[float, tuple[float, float], float, float]  # lr, betas, eps, weight_decay


class FusedAdam:
    """Adam over a fixed list of parameters, one fused kernel call per step. Duck-types the
    parts of torch.optim.Optimizer that ddpg_step uses: zero_grad() and step().

    The same class steps a population (`FusedAdam.stacked`): parameters with a member dimension
    in front, each member's moments and step count stacked the same way, members with equal
    hyperparameters in one call. A single run is the member of one."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        # one step counter shared by every parameter (they all step together): one add per step
        self.count = torch.zeros((), dtype=torch.float32, device=self.params[0].device) \
            if self.params else None
        self.steps = [self.count] * len(self.params)
        self.members: list[FusedAdam] | None = None  # stacked: the members' own optimizers
        self._groups: list[tuple[Hyper, list[int] | None]] | None = None
        self._fused = all(p.device.type in ("cpu", "cuda") for p in self.params)

    @classmethod
    def stacked(cls, params: list[torch.Tensor], members: Sequence[FusedAdam]) -> FusedAdam:
        """One optimizer for several members' optimizers, over their stacked parameters
        (ddpg.fast.mlp.stack_params): their moments and step counts are stacked the same way,
        each member's optimizer keeping views of its slices (so its state_dict is that
        member's own). Members with equal hyperparameters step in one fused call."""
        self = cls.__new__(cls)
        self.params, self.members = params, list(members)
        self.lr = self.betas = self.eps = self.weight_decay = None  # per member
        self.exp_avg = stack_list([o.exp_avg for o in members])
        self.exp_avg_sq = stack_list([o.exp_avg_sq for o in members])
        self.count = torch.stack([o.count for o in members])  # (M,)
        for m, o in enumerate(members):
            o.count = self.count[m]
            o.steps = [o.count] * len(o.params)
        self.steps = [self.count[0]] * len(params)  # every member has taken the same steps
        groups: dict[Hyper, list[int]] = {}
        for m, o in enumerate(members):
            groups.setdefault(o.hyper, []).append(m)
        self._groups = [(h, None if len(ms) == len(members) else ms) for h, ms in groups.items()]
        self._fused = all(p.device.type in ("cpu", "cuda") for p in params)
        return self

    @property
    def hyper(self) -> Hyper:
        return (self.lr, tuple(self.betas), self.eps, self.weight_decay)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    def step(self, grads: list[torch.Tensor] | None = None) -> None:
        """One Adam step with the parameters' .grad, or with `grads` (one per parameter, in
        order) where the gradients were computed without autograd (ddpg.fast.steps)."""
        if torch.is_grad_enabled():  # (the fast path calls it with grad off: no context there)
            with torch.no_grad():
                return self._step(grads)
        return self._step(grads)

    def _step(self, grads: list[torch.Tensor] | None) -> None:
        if grads is None:
            grads = [p.grad for p in self.params]
            if any(g is None for g in grads):
                raise RuntimeError("FusedAdam.step() before backward(): a parameter has no "
                                   "gradient.")
        elif len(grads) != len(self.params):
            raise ValueError(f"FusedAdam.step() got {len(grads)} gradients for "
                             f"{len(self.params)} parameters.")
        if not self.params:
            return
        self.count.add_(1)
        for hyper, members in self._groups or [(self.hyper, None)]:
            if members is None:  # every member (a single run: the one)
                self._adam(self.params, grads, self.exp_avg, self.exp_avg_sq, self.steps, hyper)
            else:  # these members' slices, each with its own step count
                p, g, m1, m2 = ([t[m] for m in members for t in ts]
                                for ts in (self.params, grads, self.exp_avg, self.exp_avg_sq))
                steps = [self.count[m] for m in members for _ in self.params]
                self._adam(p, g, m1, m2, steps, hyper)

    def _adam(self, params: list[torch.Tensor], grads: list[torch.Tensor],
              exp_avg: list[torch.Tensor], exp_avg_sq: list[torch.Tensor],
              steps: list[torch.Tensor], hyper: Hyper) -> None:
        lr, (b1, b2), eps, weight_decay = hyper
        # torch's fused kernel walks each tensor's memory in storage order: where a parameter,
        # its gradient and moments are laid out differently (a transposed view, a slice) it
        # silently computes other steps (torch.optim.Adam(fused=True) does too, checked on
        # torch 2.13 CPU); anything not contiguous takes the tensor-op path below
        if (self._fused and not torch.compiler.is_compiling()
                and all(p.is_contiguous() for p in params)
                and all(g.is_contiguous() for g in grads)):
            torch._fused_adam_(params, grads, exp_avg, exp_avg_sq, [], steps, lr=lr, beta1=b1,
                               beta2=b2, weight_decay=weight_decay, eps=eps, amsgrad=False,
                               maximize=False)
            return
        # Other devices, strided tensors, and under torch.compile (which cannot functionalize the
        # fused op on these torch versions): the same math in tensor ops, the step count kept on
        # the device
        for p, g, m, v, t in zip(params, grads, exp_avg, exp_avg_sq, steps):
            step_size = lr / (1 - b1**t)
            bias2_sqrt = (1 - b2**t).sqrt()
            g = g + weight_decay * p if weight_decay else g
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.sub_(step_size * m / (v.sqrt() / bias2_sqrt + eps))

    def state_dict(self) -> dict:
        if self.members is not None:
            raise TypeError("a stacked FusedAdam has no state of its own: save each member's "
                            "optimizer (their state lives in its slices).")
        return {"exp_avg": [t.clone() for t in self.exp_avg],
                "exp_avg_sq": [t.clone() for t in self.exp_avg_sq],
                "steps": [t.clone() for t in self.steps], "lr": self.lr,
                "betas": list(self.betas), "eps": self.eps, "weight_decay": self.weight_decay}

    def load_state_dict(self, d: dict) -> None:
        if self.members is not None:
            raise TypeError("a stacked FusedAdam has no state of its own: load each member's "
                            "optimizer.")
        shapes = [tuple(t.shape) for t in d["exp_avg"]]
        if shapes != [tuple(p.shape) for p in self.params]:
            raise ValueError(f"optimizer state for parameter shapes {shapes} does not fit "
                             f"{[tuple(p.shape) for p in self.params]}.")
        if len({float(t) for t in d["steps"]}) > 1:
            raise ValueError(f"optimizer state with different step counts per parameter "
                             f"({[float(t) for t in d['steps']]}); ddpg steps them together.")
        for name in ("exp_avg", "exp_avg_sq"):
            for dst, src in zip(getattr(self, name), d[name]):
                dst.copy_(src)
        if self.count is not None and d["steps"]:
            self.count.copy_(d["steps"][0])
        self.lr, self.betas = float(d["lr"]), tuple(d["betas"])
        self.eps, self.weight_decay = float(d["eps"]), float(d["weight_decay"])


def stack_list(lists: Sequence[list[torch.Tensor]]) -> list[torch.Tensor]:
    """lists[m][i]: member m's i-th tensor (an optimizer's moments). Returns one tensor per i of
    shape (M, ...) and replaces every member's entries by views of their slice (values unchanged;
    ddpg.fast.mlp.stack_params does the same for parameters)."""
    stacked = [torch.stack([member[i] for member in lists]) for i in range(len(lists[0]))]
    for m, member in enumerate(lists):
        member[:] = [s[m] for s in stacked]
    return stacked
