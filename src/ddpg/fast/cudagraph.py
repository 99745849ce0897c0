"""The fast update replayed as a CUDA graph.

On a GPU, DDPG's update at its usual sizes (400-300 networks, batch 64-256) is about sixty small
kernels whose launches from Python cost far more than their arithmetic. Captured once as a CUDA
graph, the same kernels are replayed with one launch: the same math on the same memory, so the
parameters come out as the eager update leaves them.

`GraphedStep` wraps a step function `step(batch, *flags) -> dict of tensors` (ddpg.fast.steps:
FastStep.step, of one member or of a population's members, whose tensors then hold a value per
member; a population's VmapStep.step). It runs the first `warmup` calls eagerly on a
side stream (CUDA graph capture wants libraries' lazy set-up done before it), then captures one
graph per combination of flags (TD3: with and without the delayed actor step). Each later call
copies the batch into the graph's input tensors, replays, and copies the outputs out, so the
returned tensors stay valid after the next call. If capture fails, it warns once and runs eagerly
from then on. Everything a graph reads or writes must stay at the same address: the parameters,
the optimizer state and the gradient tensors all do (loading a checkpoint copies in place). The
batch keeps the shapes of the first captured call (the trainer's always does); an agent fed
other batch sizes on a GPU should be built with cuda_graph=False.
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch

from ddpg.buffer import Batch

Step = Callable[..., dict[str, torch.Tensor]]


class GraphedStep:
    """`step` captured as CUDA graphs after `warmup` eager calls, with an eager fallback.
    `generators` are the CUDA generators `step` draws from besides the default one (TD3's
    target smoothing noise); each graph registers them so replays advance them as eager calls
    would."""

    def __init__(self, step: Step, generators: tuple[torch.Generator, ...] = (),
                 warmup: int = 3) -> None:
        self.step, self.generators, self.warmup = step, generators, warmup
        self.calls = 0
        self.eager = False  # set when capture failed: run `step` directly from then on
        self._inputs: list[torch.Tensor] | None = None
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, list[str], torch.Tensor]] = {}
        self._side: torch.cuda.Stream | None = None

    @property
    def captured(self) -> int:
        """How many graphs are captured (one per combination of flags seen)."""
        return len(self._graphs)

    def __call__(self, batch: Batch, *flags: bool) -> dict[str, torch.Tensor]:
        self.calls += 1
        if self.eager:
            return self.step(batch, *flags)
        if self.calls <= self.warmup:
            return self._warm(batch, flags)
        if flags not in self._graphs:
            try:
                self._capture(batch, flags)
            except Exception as e:  # noqa: BLE001 - any capture failure falls back to eager
                self.eager = True
                self._graphs.clear()
                warnings.warn(f"CUDA graph capture of the update failed ({type(e).__name__}: "
                              f"{e}); using the eager update.", RuntimeWarning, stacklevel=2)
                return self.step(batch, *flags)
        graph, keys, out = self._graphs[flags]
        torch._foreach_copy_(self._inputs, list(batch))
        graph.replay()
        values = out.clone()
        return {k: values[i] for i, k in enumerate(keys)}

    def _warm(self, batch: Batch, flags: tuple) -> dict[str, torch.Tensor]:
        if self._side is None:
            self._side = torch.cuda.Stream()
        main = torch.cuda.current_stream()
        self._side.wait_stream(main)
        with torch.cuda.stream(self._side):
            info = self.step(batch, *flags)
        main.wait_stream(self._side)
        return info

    def _capture(self, batch: Batch, flags: tuple) -> None:
        """Capture `step` on static inputs; the capture records without computing, so this call's
        update happens at the replay that follows."""
        if any(t.device.type != "cuda" for t in batch):
            # capturing work on another device records an empty graph that replays as nothing
            raise ValueError(f"the batch is on {batch[0].device}, not on a CUDA device")
        if self._inputs is None:  # contiguous copies, outside any graph's memory pool
            self._inputs = [t.clone(memory_format=torch.contiguous_format) for t in batch]
        graph = torch.cuda.CUDAGraph()
        register = getattr(graph, "register_generator_state", None)
        for g in self.generators:
            if register is None:
                raise RuntimeError("this torch cannot register extra generators with a graph")
            register(g)
        torch.cuda.synchronize()
        with torch.cuda.graph(graph):
            info = self.step(Batch(*self._inputs), *flags)
            keys = list(info)
            out = torch.stack([info[k].float() for k in keys])
        self._graphs[flags] = (graph, keys, out)
