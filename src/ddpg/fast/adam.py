"""Adam for the fast update path: torch's fused Adam kernel called directly.

The math is torch.optim.Adam's (L2 weight decay added to the gradient); what goes is the
per-step Python bookkeeping of torch.optim.Optimizer (state lookup, grouping, hooks), which costs
about as much as the kernel itself at DDPG's sizes on a CPU. Gradients are set to None between
steps, so backward writes them without an extra accumulate pass.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch


class FusedAdam:
    """Adam over a fixed list of parameters, one fused kernel call per step. Duck-types the
    parts of torch.optim.Optimizer that ddpg_step uses: zero_grad() and step()."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        # one step counter shared by every parameter (they all step together): one add per step
        step = torch.zeros((), dtype=torch.float32, device=self.params[0].device) \
            if self.params else None
        self.steps = [step] * len(self.params)
        self._fused = all(p.device.type in ("cpu", "cuda") for p in self.params)

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
        if self.steps:
            self.steps[0].add_(1)
        b1, b2 = self.betas
        # torch's fused kernel walks each tensor's memory in storage order: where a parameter,
        # its gradient and moments are laid out differently (a transposed view, a slice) it
        # silently computes other steps (torch.optim.Adam(fused=True) does too, checked on
        # torch 2.13 CPU); anything not contiguous takes the tensor-op path below
        if (self._fused and not torch.compiler.is_compiling()
                and all(p.is_contiguous() for p in self.params)
                and all(g.is_contiguous() for g in grads)):
            torch._fused_adam_(self.params, grads, self.exp_avg, self.exp_avg_sq, [], self.steps,
                               lr=self.lr, beta1=b1, beta2=b2, weight_decay=self.weight_decay,
                               eps=self.eps, amsgrad=False, maximize=False)
            return
        # Other devices, strided tensors, and under torch.compile (which cannot functionalize the
        # fused op on these torch versions): the same math in tensor ops, the step count kept on
        # the device
        if not self.params:
            return
        t = self.steps[0]
        step_size = self.lr / (1 - b1**t)
        bias2_sqrt = (1 - b2**t).sqrt()
        for p, g, m, v in zip(self.params, grads, self.exp_avg, self.exp_avg_sq):
            g = g + self.weight_decay * p if self.weight_decay else g
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.sub_(step_size * m / (v.sqrt() / bias2_sqrt + self.eps))

    def state_dict(self) -> dict:
        return {"exp_avg": [t.clone() for t in self.exp_avg],
                "exp_avg_sq": [t.clone() for t in self.exp_avg_sq],
                "steps": [t.clone() for t in self.steps], "lr": self.lr,
                "betas": list(self.betas), "eps": self.eps, "weight_decay": self.weight_decay}

    def load_state_dict(self, d: dict) -> None:
        shapes = [tuple(t.shape) for t in d["exp_avg"]]
        if shapes != [tuple(p.shape) for p in self.params]:
            raise ValueError(f"optimizer state for parameter shapes {shapes} does not fit "
                             f"{[tuple(p.shape) for p in self.params]}.")
        if len({float(t) for t in d["steps"]}) > 1:
            raise ValueError(f"optimizer state with different step counts per parameter "
                             f"({[float(t) for t in d['steps']]}); ddpg steps them together.")
        for name in ("exp_avg", "exp_avg_sq", "steps"):
            for dst, src in zip(getattr(self, name), d[name]):
                dst.copy_(src)
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


class StackedAdam:
    """FusedAdam's step for several members' optimizers at once, over their stacked parameters
    (ddpg.fast.mlp.stack_params): their moments and step counts are stacked the same way, each
    member's FusedAdam keeping views of its slices (so its state_dict is that member's own).
    Members with equal (lr, betas, eps, weight_decay) step in one fused call."""

    def __init__(self, params: list[torch.Tensor], optimizers: Sequence[FusedAdam]) -> None:
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
