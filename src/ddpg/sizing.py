"""What a run will take in memory and on disk, checked before anything of its sizes is
allocated, so a config that cannot fit fails at once with the setting to change."""

from __future__ import annotations

from ddpg.buffer import estimate_bytes
from ddpg.checkpoint import estimate_checkpoint_bytes
from ddpg.config import Config
from ddpg.errors import ConfigError
from ddpg.metrics import log
from ddpg.system import available_memory, human_bytes


def check_memory(c: Config, obs_dim: int, action_dim: int, capacity: int,
                 show: bool = True) -> None:
    """Prints what the replay buffer and a checkpoint will take; ConfigError naming the setting
    to lower when the networks or the buffer would not fit in the memory available."""
    need = estimate_bytes(capacity, obs_dim, action_dim)
    dims = (*c.network.hidden_sizes,)

    def mlp(n_in: int, n_out: int) -> int:
        sizes = (n_in, *dims, n_out)
        return sum(a * b + b for a, b in zip(sizes, sizes[1:]))

    n_params = mlp(obs_dim, action_dim) + \
        (2 if c.algo == "td3" else 1) * mlp(obs_dim + action_dim, 1)
    networks = 6 * 4 * n_params  # float32 weights, targets, gradients, two Adam moments, slack
    disk = estimate_checkpoint_bytes(capacity, obs_dim, action_dim, n_params,
                                     c.save_buffer)
    avail = available_memory()
    if show:
        log.info(f"replay buffer: {capacity:,} transitions, {human_bytes(need)} in memory "
                 f"({human_bytes(avail)} available); checkpoint: about {human_bytes(disk)} on "
                 f"disk")
    if avail is not None and networks > avail:
        raise ConfigError(
            f"network.hidden_sizes={list(dims)}: the networks, their targets and optimizer "
            f"state need about {human_bytes(networks)} but only {human_bytes(avail)} of "
            f"memory is available; use smaller hidden layers.")
    if avail is not None and need > avail:
        fits = int(avail * 0.8) // max(need // capacity, 1)
        raise ConfigError(
            f"buffer_size={c.buffer_size}: the replay buffer needs {human_bytes(need)} but "
            f"only {human_bytes(avail)} of memory is available; use buffer_size <= {fits:,}.")
