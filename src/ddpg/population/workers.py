"""The population update: a Worker holds members' FastStep (the fast path's update, the one
a single run takes, with a member dimension) or VmapStep (any other network, through autograd),
samples their replay batches and runs their updates; on a GPU either is replayed as one CUDA
graph (ddpg.fast.cudagraph.GraphedStep, which falls back to the eager update, with a warning,
where capture fails).

One worker runs all members, its operations on every core (torch's intra-op threads). Measured
on a 2-core Xeon (AVX-512), 400-300 networks, 10 members, Pendulum-v1, the full loop in
environment steps/s, two repeats each: two workers on threads of their own (one core and half
of the members each; torch releases the GIL inside its operations) against one worker on both
cores ran 760 and 682 against 818 and 840 at batch 64, and 298 and 297 against 279 and 294 at
batch 256 (the update alone: 11.9 against 11.3-11.9 ms per update of all members at batch 64,
31.7-32.6 against 37.9-38.5 ms at 256). One worker it is; the batched products already run near
the cores' peak, and what the population loses to `ddpg benchmark --jobs 2` (docs/populations.md)
is memory traffic, which a split does not change.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ddpg.buffer import Batch
from ddpg.devices import graphs_update, to_device
from ddpg.fast.cudagraph import GraphedStep
from ddpg.fast.steps import FastStep
from ddpg.normalization import RunningNorm
from ddpg.population.functional import VmapStep
from ddpg.priorities import priority_indices
from ddpg.seeding import IndexStream, uniform_indices
from ddpg.trainer import loss_sums


class Worker:
    """The population's members: their FastStep or VmapStep, sampling from the stacked replay rows
    (members, capacity, width) and the loss sums (members, 4)."""

    def __init__(self, members: Sequence[Any], rows: torch.Tensor, sums: torch.Tensor) -> None:
        self.members, self.rows, self.sums = list(members), rows, sums
        agents = [m.agent for m in self.members]
        fast = all(a.fast is not None for a in agents)
        c = self.members[0].config
        self.stacked: FastStep | VmapStep = (FastStep.of_agents(agents) if fast
                                             else VmapStep(agents))
        self.step = self.stacked.step
        if graphs_update(rows.device, c):  # either update, as one CUDA graph
            generators = tuple(self.stacked.generators) if c.algo == "td3" else ()
            self.step = GraphedStep(self.stacked.step, generators)
        self._offsets = (torch.arange(len(self.members), device=rows.device)
                         * self.rows.shape[1]).unsqueeze(1)
        # every member's replay stream as a row of two arrays: one draw for all of them
        self._keys, self._counters = IndexStream.stack([m.buffer.generator
                                                        for m in self.members])
        # LAP: every member's priorities as a row of one (members, capacity) tensor
        self.priorities: torch.Tensor | None = None
        if self.members[0].buffer.priorities is not None:
            held = [m.buffer.priorities for m in self.members]
            self.priorities = torch.stack([p.p for p in held])
            for i, p in enumerate(held):
                p.p = self.priorities[i]

    def sample(self, batch_size: int) -> tuple[Batch, torch.Tensor]:
        """Each member's batch, its indices drawn from its own stream exactly as
        ReplayBuffer.sample_indices draws them (uniformly, or by LAP's priorities; all members'
        in one call), gathered from the stacked rows in one call. Returns the batch and the
        rows' indices into the stacked rows, (M, B)."""
        if self.priorities is not None:
            idx = priority_indices(self.priorities, self._keys, self._counters, batch_size)
        else:
            sizes = np.array([m.buffer.size for m in self.members])
            idx = to_device(uniform_indices(self._keys, self._counters, sizes, batch_size),
                            self.rows.device)
        idx = idx + self._offsets
        data = self.rows.reshape(-1, self.rows.shape[2]).index_select(0, idx.view(-1))
        widths = self.members[0].buffer.widths
        rows = data.view(len(self.members), batch_size, -1)
        if self.members[0].buffer.hindsight is not None:  # each member relabels its own rows
            local = idx - self._offsets
            for i, m in enumerate(self.members):
                m.buffer.hindsight.relabel(rows[i], local[i], m.buffer.storage, widths)
        batch = Batch(*rows.split(widths, dim=2))
        if self.members[0].agent.obs_norm is not None:  # each member's own statistics
            batch = RunningNorm.normalize_members([m.agent.obs_norm for m in self.members],
                                                  batch)
        return batch, idx

    def learned(self, idx: torch.Tensor, info: dict[str, torch.Tensor]) -> None:
        """LAP: the sampled rows' new priorities, each member's largest grown with them, as
        each member's ReplayBuffer.learned does (one host sync for all members)."""
        if self.priorities is None:
            return
        self.priorities.view(-1)[idx.view(-1)] = info["priority"].reshape(-1).to(
            self.priorities.dtype)
        for m, top in zip(self.members, info["priority"].amax(dim=1).tolist()):
            m.buffer.priorities.max_priority = max(m.buffer.priorities.max_priority, top)

    def update(self, n: int) -> None:
        """`n` updates of every member of this worker."""
        c = self.members[0].config
        agent = self.members[0].agent
        for _ in range(n):
            batch, idx = self.sample(c.batch_size)
            update_actor = agent.actor_due()
            with agent.precision():
                info = self.step(batch, update_actor)
            self.learned(idx, info)
            self.sums += loss_sums(info, dim=1)
            for m in self.members:
                m.n_sums += 1
                m.agent.updates += 1

    def policy(self, states: torch.Tensor) -> torch.Tensor:
        """mu(s) of this worker's members for states (m, n, obs)."""
        with torch.no_grad():
            return self.stacked.policy(states)
