"""What a run will take in memory and on disk, checked before anything of its sizes is
allocated, so a config that cannot fit fails at once with the setting to change."""

from __future__ import annotations

import gymnasium as gym

from ddpg.buffer import estimate_bytes
from ddpg.checkpoint import estimate_checkpoint_bytes
from ddpg.config import Config
from ddpg.envs import EnvLike, make, prepare
from ddpg.errors import ConfigError
from ddpg.metrics import log
from ddpg.system import available_memory, human_bytes

# A population member beside its replay rows and networks: its environments, modules and logger
# as Python objects (up to 2 MB), and its share of the update's activations and their gradients
# (about 8 float32 (batch, hidden) arrays). Measured: 6.9 MB a member at the peak RSS of a
# pendulum-preset population of 300 steps (40 members against 10), where member_bytes says 7.4.
MEMBER_OBJECTS = 2 << 20
MEMBER_FILES = 2  # a member's metrics.csv and TensorBoard event file stay open
PROCESS_FILES = 64  # what the process itself keeps open: libraries, the terminal, torch


def n_params(c: Config, obs_dim: int, action_dim: int) -> int:
    """The parameters of the actor and the critic(s) (and TD7's encoders)."""
    dims = (*c.network.hidden_sizes,)

    def mlp(n_in: int, n_out: int) -> int:
        sizes = (n_in, *dims, n_out)
        return sum(a * b + b for a, b in zip(sizes, sizes[1:]))

    if c.algo == "td7":  # the actor, twin critics and SALE's two encoders (ddpg.td7)
        h, e, eh = dims[0], c.td7.embedding, c.td7.encoder_hidden

        def layers(*sizes: int) -> int:
            return sum(a * b + b for a, b in zip(sizes, sizes[1:]))

        actor = layers(obs_dim, h) + layers(h + e, h, h, action_dim)
        critic = layers(obs_dim + action_dim, h) + layers(h + 2 * e, h, h, 1)
        return actor + 2 * critic + layers(obs_dim, eh, eh, e) + layers(e + action_dim, eh, eh, e)
    return mlp(obs_dim, action_dim) + (2 if c.algo == "td3" else 1) * mlp(obs_dim + action_dim, 1)


def network_bytes(c: Config, obs_dim: int, action_dim: int) -> int:
    """float32 weights, targets, gradients, two Adam moments and slack: 6 copies of them all."""
    return 6 * 4 * n_params(c, obs_dim, action_dim)


def member_bytes(c: Config, obs_dim: int, action_dim: int, capacity: int) -> int:
    """What one member of a population takes in memory: replay rows, networks with their targets,
    gradients and Adam moments, the update's activations, its Python objects."""
    activations = 8 * 4 * c.batch_size * sum(c.network.hidden_sizes)
    return (estimate_bytes(capacity, obs_dim, action_dim) + network_bytes(c, obs_dim, action_dim)
            + activations + MEMBER_OBJECTS)


def check_population(c: Config, members: int, env: EnvLike) -> None:
    """ConfigError, before any member is built, when `members` members of `c` in `env` would
    not fit in the memory available or in the files this process may keep open, saying how
    many would."""
    probe = make(env) if isinstance(env, str) else env
    if not isinstance(probe, gym.Env):
        return  # a maker that failed, or not an environment: the run's own check says so
    try:
        spaces = prepare(probe, repr(probe))  # (a goal-conditioned env: its flat width)
        obs_dim, action_dim = spaces.observation_space.shape[0], spaces.action_space.shape[0]
    finally:
        if probe is not env:
            probe.close()
    each = member_bytes(c, obs_dim, action_dim, min(c.buffer_size, c.total_steps))
    avail = available_memory()
    if avail is not None and members * each > avail:
        fits = int(avail * 0.8) // each
        raise ConfigError(
            f"--seeds/--sweep: {members:,} members need about {human_bytes(members * each)} of "
            f"memory ({human_bytes(each)} each) but only {human_bytes(avail)} is available; "
            + (f"it fits about {fits:,}: train fewer seeds or swept values (or lower "
               f"buffer_size)." if fits else "not one member fits; lower buffer_size."))
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):  # pragma: no cover - not Unix
        return
    need = PROCESS_FILES + members * MEMBER_FILES
    if limit != resource.RLIM_INFINITY and need > limit:
        fits = max(0, (limit - PROCESS_FILES) // MEMBER_FILES)
        raise ConfigError(
            f"--seeds/--sweep: {members:,} members keep about {need:,} files open but this "
            f"process may open {limit:,} (ulimit -n); use at most {fits:,} members, or raise "
            f"the limit first (ulimit -n {need}).")


def check_memory(c: Config, obs_dim: int, action_dim: int, capacity: int,
                 show: bool = True) -> None:
    """Prints what the replay buffer and a checkpoint will take; ConfigError naming the setting
    to lower when the networks or the buffer would not fit in the memory available."""
    need = estimate_bytes(capacity, obs_dim, action_dim)
    dims = (*c.network.hidden_sizes,)
    networks = network_bytes(c, obs_dim, action_dim)
    disk = estimate_checkpoint_bytes(capacity, obs_dim, action_dim,
                                     n_params(c, obs_dim, action_dim), c.save_buffer)
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
