"""ddpg: Deep Deterministic Policy Gradient for continuous control, correct to the math."""

from ddpg.version import __version__  # noqa: E402

from ddpg.buffer import Batch, ReplayBuffer  # noqa: E402
from ddpg.config import Config, NetworkConfig, NoiseConfig  # noqa: E402
from ddpg.losses import actor_loss, critic_loss, polyak_update, td_target  # noqa: E402
from ddpg.networks import Actor, Critic  # noqa: E402
from ddpg.noise import GaussianNoise, OUNoise, SigmaSchedule  # noqa: E402
from ddpg.policy import Policy, load  # noqa: E402
from ddpg.results import StepContext, TrainResult  # noqa: E402
from ddpg.resume import resume  # noqa: E402
from ddpg.population import PopulationResult  # noqa: E402
from ddpg.population.run import train  # noqa: E402
from ddpg.update import ddpg_step, ddpg_update  # noqa: E402

__all__ = [
    "Actor", "Batch", "Config", "Critic", "GaussianNoise", "NetworkConfig", "NoiseConfig",
    "OUNoise", "Policy", "PopulationResult", "ReplayBuffer", "SigmaSchedule", "StepContext",
    "TrainResult", "actor_loss", "critic_loss", "ddpg_step", "ddpg_update", "load",
    "polyak_update", "resume", "td_target", "train",
]
