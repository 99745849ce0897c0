"""Exception types ddpg raises: bad input (each message names the value and what to do instead)
and the interruption that ends a run with a checkpoint. Each carries the exit status the CLI
returns for it, one rule for every command (EXIT_STATUS)."""

from __future__ import annotations

import signal
from pathlib import Path


# Every command's --help ends with this, and docs/reference/cli.md explains it.
EXIT_STATUS = ("exit status: 0 done; 2 bad input (a flag, value, path, file or environment that\n"
               "cannot be used: nothing was run); 1 failed while running (training stopped, a\n"
               "file could not be written, a run of a benchmark failed); 130 interrupted by\n"
               "Ctrl-C, 143 by SIGTERM (ddpg train writes a checkpoint first).")
USAGE, FAILED = 2, 1


class DDPGError(Exception):
    """Base class of every error ddpg raises on purpose; by default a failure while running."""

    exit_code = FAILED


class ConfigError(DDPGError, ValueError):
    """An invalid configuration value, preset name or config file."""

    exit_code = USAGE


class EnvError(DDPGError, ValueError):
    """An environment ddpg cannot train on (unknown id, wrong action or observation space)."""

    exit_code = USAGE


class PolicyFileError(DDPGError, ValueError):
    """A policy or checkpoint file that is missing, corrupt, foreign or of another version."""

    exit_code = USAGE


class TrainingError(DDPGError, RuntimeError):
    """Training cannot go on (non-finite observations, rewards or losses)."""


class CheckpointError(DDPGError):
    """A checkpoint that cannot be written or read (disk full, corrupt, foreign, other version)."""


class NotResumable(CheckpointError):
    """What --resume was given holds nothing to continue: no ddpg run or population folder, no
    valid checkpoint, or every member has ended."""

    exit_code = USAGE


class BenchmarkError(ConfigError):
    """A bad suite or published-figures file, or results that do not fit the suite."""


class Interrupted(DDPGError):
    """SIGINT or SIGTERM stopped training after a checkpoint was written."""

    def __init__(self, signum: int, run_dir: Path, step: int) -> None:
        self.signum, self.run_dir, self.step = signum, run_dir, step
        self.exit_code = 128 + signum
        super().__init__(f"{signal.Signals(signum).name} at step {step}: checkpoint written. "
                         f"Resume with: ddpg train --resume {run_dir}")
