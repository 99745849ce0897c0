"""What a training run gives back and what it is made of: its random streams, what callbacks
see, the result, and the interruption that ends it with a checkpoint (its directory:
ddpg.rundir)."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ddpg.agent import Agent
from ddpg.buffer import ReplayBuffer
from ddpg.errors import DDPGError
from ddpg.policy import Policy


class Interrupted(DDPGError):
    """SIGINT or SIGTERM stopped training after a checkpoint was written."""

    def __init__(self, signum: int, run_dir: Path, step: int) -> None:
        self.signum, self.run_dir, self.step = signum, run_dir, step
        self.exit_code = 128 + signum
        super().__init__(f"{signal.Signals(signum).name} at step {step}: checkpoint written. "
                         f"Resume with: ddpg train --resume {run_dir}")


@dataclass
class StepContext:
    """What an `on_step` callback sees after each (vector) environment step."""

    step: int
    episodes: int
    rewards: np.ndarray
    agent: Agent


@dataclass
class TrainResult:
    agent: Agent
    policy: Policy
    run_dir: Path
    buffer: ReplayBuffer
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def final_return(self) -> float:
        return self.evaluations[-1]["eval_return_mean"]

    def steps_to_solve(self, threshold: float) -> int | None:
        """First evaluated step whose mean return is >= threshold."""
        return next((r["step"] for r in self.evaluations
                     if r["eval_return_mean"] >= threshold), None)


def seed_streams(seed: int, device: str = "cpu") -> dict[str, Any]:
    """Independent random streams derived from one seed; replay sampling draws on `device`."""
    warmup, noise, sampling = np.random.SeedSequence(seed).spawn(3)
    gen = torch.Generator(torch.device(device))
    gen.manual_seed(int(sampling.generate_state(1, np.uint64)[0] >> np.uint64(1)))
    return {"warmup": np.random.default_rng(warmup), "noise": np.random.default_rng(noise),
            "sampling": gen}
