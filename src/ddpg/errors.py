"""Exception types ddpg raises: bad input (each message names the value and what to do instead)
and the interruption that ends a run with a checkpoint."""

from __future__ import annotations

import signal
from pathlib import Path


class DDPGError(Exception):
    """Base class of every error ddpg raises on purpose."""


class ConfigError(DDPGError, ValueError):
    """An invalid configuration value, preset name or config file."""


class EnvError(DDPGError, ValueError):
    """An environment ddpg cannot train on (unknown id, wrong action or observation space)."""


class PolicyFileError(DDPGError, ValueError):
    """A policy or checkpoint file that is missing, corrupt, foreign or of another version."""


class TrainingError(DDPGError, RuntimeError):
    """Training cannot go on (non-finite observations, rewards or losses)."""


class CheckpointError(DDPGError):
    """A checkpoint that cannot be written or read (disk full, corrupt, foreign, other version)."""


class BenchmarkError(ConfigError):
    """A bad suite or published-figures file, or results that do not fit the suite."""


class Interrupted(DDPGError):
    """SIGINT or SIGTERM stopped training after a checkpoint was written."""

    def __init__(self, signum: int, run_dir: Path, step: int) -> None:
        self.signum, self.run_dir, self.step = signum, run_dir, step
        self.exit_code = 128 + signum
        super().__init__(f"{signal.Signals(signum).name} at step {step}: checkpoint written. "
                         f"Resume with: ddpg train --resume {run_dir}")
