"""What a training run gives back (TrainResult) and what its callbacks see (StepContext)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ddpg.agent import Agent
from ddpg.buffer import ReplayBuffer
from ddpg.policy import Policy


@dataclass
class StepContext:
    """What an `on_step` callback sees after each (vector) environment step."""

    step: int
    episodes: int
    rewards: np.ndarray
    agent: Agent


@dataclass(repr=False)
class TrainResult:
    agent: Agent
    policy: Policy
    run_dir: Path
    buffer: ReplayBuffer
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    wall_time_s: float = 0.0

    def __repr__(self) -> str:
        """A line, not every evaluation row and object the run holds."""
        last = f"{self.final_return:.1f}" if self.evaluations else None
        return (f"TrainResult(run_dir='{self.run_dir}', final_return={last}, "
                f"evaluations={len(self.evaluations)}, updates={self.agent.updates}, "
                f"wall_time_s={self.wall_time_s:.1f})")

    @property
    def final_return(self) -> float:
        return self.evaluations[-1]["eval_return_mean"]

    def steps_to_solve(self, threshold: float) -> int | None:
        """First evaluated step whose mean return is >= threshold."""
        return next((r["step"] for r in self.evaluations
                     if r["eval_return_mean"] >= threshold), None)
