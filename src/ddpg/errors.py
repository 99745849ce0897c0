"""Exception types raised for bad input. Each message names the value and what to do instead."""


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
