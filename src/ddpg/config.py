"""One typed configuration: the defaults, the named presets, YAML files and their precedence.

Long because every default lives here with the docstring that becomes its --help text (about
half the file), and merging, YAML files and budget fitting sit beside them, so that one module
owns what a config is and how it is built.

Precedence, lowest first: the dataclass defaults < a named preset < a YAML config file < flags.
The dataclasses below are the single place that holds the defaults; the CLI, the trainer, the
saved run directory and the benchmarks all read them.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, get_args

import tyro
import yaml

from ddpg.errors import ConfigError
from ddpg.interop.zoo import from_zoo, is_zoo
from ddpg.presets import PRESETS, preset_for_env

Activation = Literal["relu", "tanh", "elu", "leaky_relu"]
Norm = Literal["none", "layer", "batch"]
HERStrategy = Literal["none", "future", "final", "episode"]
Init = Literal["default", "paper"]
NoiseKind = Literal["gaussian", "ou"]
ScheduleKind = Literal["constant", "linear", "exponential"]
NonFinite = Literal["stop", "skip"]
Precision = Literal["fp32", "bf16"]
Algo = Literal["ddpg", "td3", "td7"]
Replay = Literal["uniform", "lap"]
LearnerRate = Literal["ratio", "max"]


@dataclass(frozen=True)
class NetworkConfig:
    """Shape of the actor mu(s) and the critic Q(s, a)."""

    hidden_sizes: tuple[int, ...] = (400, 300)
    """Widths of the hidden layers, shared by actor and critic (the seed: 400 300)."""
    activation: Activation = "relu"
    """Hidden-layer activation."""
    norm: Norm = "none"
    """Normalisation after each hidden linear layer ('batch' also normalises the state input)."""
    critic_action_layer: int = 0
    """Hidden layer at which the action enters the critic: 0 concatenates (s, a) at the input
    (the seed), 1 after the first hidden layer (the 2015 paper)."""
    init: Init = "default"
    """'default': PyTorch's fan-in uniform init; 'paper': the same, with the output layers drawn
    from U(-3e-3, 3e-3) as in the 2015 paper."""


@dataclass(frozen=True)
class NoiseConfig:
    """Exploration noise added to mu(s) in the policy's normalised action units [-1, 1]."""

    kind: NoiseKind = "gaussian"
    """'gaussian': a = mu(s) + N(0, sigma); 'ou': Ornstein-Uhlenbeck, temporally correlated."""
    sigma: float = 0.1
    """Initial noise scale, per action dimension, in normalised units."""
    schedule: ScheduleKind = "constant"
    """How sigma decays with environment steps: constant, linear or exponential."""
    final_sigma: float = 0.0
    """Sigma reached after decay_steps (exponential decay needs final_sigma > 0)."""
    decay_steps: int = 100_000
    """Environment steps over which sigma goes from sigma to final_sigma."""
    theta: float = 0.15
    """OU mean-reversion rate."""
    dt: float = 1e-2
    """OU time step."""
    random_eps: float = 0.0
    """Share of actions replaced by uniform random ones after warm-up (the HER baselines'
    random_eps, 0.3 there): each environment's noisy action is, with this probability, drawn
    uniformly in the action box instead. 0: never (no draws made)."""


@dataclass(frozen=True)
class TD3Config:
    """TD3's own settings (used when algo is 'td3')."""

    policy_delay: int = 2
    """Update the actor and the targets every this many critic updates."""
    target_noise: float = 0.2
    """Std of the target policy smoothing noise, in normalised action units."""
    target_noise_clip: float = 0.5
    """Clip of the target policy smoothing noise."""


@dataclass(frozen=True)
class HERConfig:
    """Hindsight experience replay for goal-conditioned tasks (ddpg.her; Andrychowicz et al.
    2017): goals relabelled when a batch is drawn."""

    strategy: HERStrategy = "none"
    """Where relabelled goals come from: 'future' (a later step of the same episode), 'final'
    (its last step), 'episode' (any of its steps); 'none' turns hindsight replay off."""
    k: int = 4
    """Relabelled goals per original one: a row is relabelled with probability k / (k + 1)."""


@dataclass(frozen=True)
class LAPConfig:
    """LAP's settings (used with --replay lap; Fujimoto et al. 2020, "An Equivalence between
    Loss Functions and Non-Uniform Sampling in Experience Replay"; TD7 samples with it)."""

    alpha: float = 0.4
    """Priority exponent: p = max(|td|, min_priority)^alpha."""
    min_priority: float = 1.0
    """Floor on priorities and the Huber loss's switch point."""


@dataclass(frozen=True)
class TD7Config:
    """TD7's own settings (used when algo is 'td7'; its smoothing and actor delay are td3's).
    The defaults are the paper's (Fujimoto et al. 2023, appendix; sfujim/TD7)."""

    embedding: int = 256
    """Width of SALE's embeddings z_s and z_sa."""
    encoder_hidden: int = 256
    """Hidden width of SALE's encoders f and g (three layers each, ELU)."""
    encoder_lr: float = 3e-4
    """Adam learning rate of the encoders."""
    target_every: int = 250
    """Updates between two refreshes of the target networks, the fixed encoders and the
    target values' clip range (TD7 copies them; tau is not used)."""
    checkpoints: bool = True
    """Policy checkpoints: evaluate and save the best recent policy by its worst training
    episode, holding updates back while a policy is assessed (ddpg.policy_checkpoints)."""
    max_episodes: int = 20
    """Episodes a policy is assessed over after switch_at updates (1 before)."""
    switch_at: int = 750_000
    """Updates after which assessments take max_episodes episodes and the bar is lowered."""
    reset_weight: float = 0.9
    """At switch_at, the checkpoint's bar (its worst return) is lowered by 1 - this of its size
    (multiplied by this where it is positive, as in the paper)."""


@dataclass(frozen=True)
class Config:
    """Everything a DDPG training run needs. Saved as config.yaml in each run directory."""

    env: str = "Pendulum-v1"
    """Gymnasium environment id (Box action space)."""
    algo: Algo = "ddpg"
    """'ddpg', 'td3' (twin critics, clipped double-Q target, smoothing, delayed actor) or 'td7'
    (TD3 with SALE embeddings, fixed encoders, clipped target values, LAP replay and policy
    checkpoints; ddpg.td7)."""
    replay: Replay = "uniform"
    """'uniform' sampling, or 'lap': prioritised by TD error with LAP's loss (--lap.*; any
    algorithm; td7 needs it)."""
    preset: Annotated[str, tyro.conf.Suppress] = ""
    """Name of the preset this config started from (recorded in config.yaml; set by --preset)."""
    seed: int = 0
    """Seeds torch, numpy, the environments, warm-up actions, noise and replay sampling."""
    total_steps: int = 100_000
    """Environment steps to train for (summed over all environments)."""
    warmup_steps: int = 10_000
    """Steps of uniform random actions before the policy acts and updates begin."""
    batch_size: int = 64
    """Transitions per gradient update."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity in transitions."""
    gamma: float = 0.99
    """Discount factor in y = r + gamma (1 - terminated) Q'(s', mu'(s'))."""
    tau: float = 0.001
    """Polyak rate of the target networks: theta' <- tau theta + (1 - tau) theta'."""
    actor_lr: float = 1e-3
    """Adam learning rate of the actor."""
    critic_lr: float = 1e-3
    """Adam learning rate of the critic."""
    critic_weight_decay: float = 0.0
    """L2 weight decay on the critic only (the 2015 paper: 1e-2)."""
    target_min: float = -math.inf
    """Clip the TD target y to [target_min, target_max] (the HER baselines' clip_return: -1 /
    (1 - gamma) to 0 where rewards are -1 or 0, which keeps the critic from diverging past
    values no return can have); -inf / inf: no clip (the lesson's). DDPG and TD3."""
    target_max: float = math.inf
    """The upper end of the TD target's clip (see target_min)."""
    action_l2: float = 0.0
    """Weight of the actor loss's action penalty, -E[Q(s, mu(s))] + action_l2 E[mu(s)^2] in
    normalised action units (the HER baselines' action_l2, 1.0 there; keeps the tanh out of
    saturation). 0: the lesson's loss. DDPG and TD3."""
    updates_per_step: int = 1
    """Gradient updates per environment step after warm-up."""
    num_envs: int = 1
    """Environments stepped together (the buffer and loop carry this leading dimension)."""
    eval_every: int = 5_000
    """Evaluate the noise-free policy every this many environment steps (0: only at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation, on seeds eval_seed, eval_seed + 1, ..."""
    eval_max_steps: int = 1_000
    """Cut evaluation episodes after this many steps where the environment has no time limit
    of its own (a warning says so); environments with one end their episodes themselves."""
    eval_seed: int = 1_000_000
    """First episode seed of the fixed evaluation list (the same in every run)."""
    device: str = "cpu"
    """Torch device for networks and the replay buffer: 'cpu', 'cuda' (the current GPU) or
    'cuda:N'; recorded as 'cpu' or 'cuda:N'."""
    threads: int = 0
    """Torch intra-op threads; 0 uses one per available core."""
    precision: Precision = "fp32"
    """'bf16': the networks' matrix products in bfloat16 (float32 accumulation), with float32
    master weights, optimizer state and TD target; needs native bf16 (a GPU, where it is
    autocast, or a CPU with AVX-512 BF16 or AMX, where oneDNN computes the float32 products from
    bf16 operands, layers narrower than 64 kept exact, and the fast path applies). On a GPU it
    is about 5x slower than fp32 (no fast path, no CUDA graph; docs/howto/gpu.md)."""
    compile: bool = False
    """Compile the update with torch.compile (mode 'reduce-overhead' on a GPU); falls back to
    eager execution with a warning if compilation fails. On a GPU about 9x slower than the
    default graphed fast path (docs/howto/gpu.md): leave it off there."""
    cuda_graph: bool = True
    """On a GPU, replay the fast update as a CUDA graph (captured after 3 eager updates; same
    math, one launch instead of ~60); falls back to eager with a warning if capture fails.
    Ignored on a CPU, with --compile, and where the fast path does not apply."""
    fast_path: bool = True
    """Plain ReLU networks in fp32 (DDPG and TD3): the update with hand-written backward passes
    (ddpg.fast.steps; same math as the autograd update, which --no-fast-path uses)."""
    obs_norm: bool = False
    """Normalise observations with running mean and variance (saved with the policy)."""
    obs_norm_clip: float = 10.0
    """With --obs-norm: normalised observations are clipped to [-this, this] (the HER papers
    clip observations and goals at 5)."""
    actors: int = 0
    """Distributed collection (the ray extra): this many Ray actors step their own environments
    with a recent copy of the policy and stream transitions to the learner (Ape-X). 0: one
    process, no Ray. A distributed run is not bit-reproducible (chunks arrive in timing order)."""
    address: str = ""
    """With --actors: the Ray cluster to join ('auto' or HOST:PORT); empty: a local Ray with the
    cores available."""
    actor_cpus: float = 0.0
    """With --actors: CPUs Ray reserves for each actor; 0: the cluster's CPUs / actors, at
    most 1."""
    actor_sigma_spread: float = 2.0
    """With --actors: actor i explores with sigma * spread^(2 i / (actors - 1) - 1), from
    sigma / spread to sigma * spread, as Ape-X spreads its actors' exploration."""
    chunk_steps: int = 50
    """With --actors: environment steps an actor collects per message to the learner."""
    sync_every: int = 100
    """With --actors: learner updates between two sends of the policy's weights to the actors."""
    learner_rate: LearnerRate = "ratio"
    """With --actors: 'ratio' keeps updates_per_step updates per collected transition (curves
    compare with single-process runs at equal steps); 'max' updates as fast as it can."""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    td3: TD3Config = field(default_factory=TD3Config)
    td7: TD7Config = field(default_factory=TD7Config)
    lap: LAPConfig = field(default_factory=LAPConfig)
    her: HERConfig = field(default_factory=HERConfig)
    out: str = "runs"
    """Parent directory of run directories."""
    run_name: str = ""
    """Run directory name under out; empty: <env>-<algo>-s<seed>-<timestamp>."""
    checkpoint_every: int = 10_000
    """Write a full-state checkpoint every this many environment steps (0: only at the end)."""
    keep_checkpoints: int = 3
    """How many of the newest checkpoints to keep."""
    save_buffer: bool = True
    """Save the replay buffer in checkpoints (incrementally), so a resumed run is exact."""
    on_nonfinite: NonFinite = "stop"
    """A NaN or infinite observation or reward from the environment: 'stop' training with the
    step number, or 'skip' the transition and reset that environment."""
    tensorboard: bool = True
    """Write TensorBoard event files."""
    track: bool = False
    """Also send the metrics that go to TensorBoard to Weights & Biases (the track extra:
    pip install -e '.[track]'; WANDB_MODE=offline keeps them on disk, in RUN_DIR/wandb)."""
    track_project: str = "ddpg"
    """The Weights & Biases project of --track."""
    progress: bool = True
    """Show a live progress display on the terminal."""

    def __post_init__(self) -> None:
        validate(self)


def _fail(name: str, value: Any, rule: str) -> None:
    raise ConfigError(f"{name}={value!r} is invalid: {rule}.")


def validate(c: Config) -> None:
    """Raise ConfigError naming the first invalid value and what to use instead."""
    checks: list[tuple[str, Any, bool, str]] = [
        ("total_steps", c.total_steps, c.total_steps > 0, "use a positive number of steps"),
        ("warmup_steps", c.warmup_steps, 0 <= c.warmup_steps < c.total_steps,
         f"use 0 <= warmup_steps < total_steps ({c.total_steps}), e.g. warmup_steps="
         f"{c.total_steps // 10} (a tenth of the run), or a preset made for short runs such "
         f"as 'pendulum' (10,000 steps)"),
        ("batch_size", c.batch_size, c.batch_size > 0, "use a positive batch size"),
        ("buffer_size", c.buffer_size, c.buffer_size >= c.batch_size,
         f"use buffer_size >= batch_size ({c.batch_size})"),
        ("gamma", c.gamma, 0.0 <= c.gamma <= 1.0, "use a discount in [0, 1]"),
        ("tau", c.tau, 0.0 < c.tau <= 1.0, "use a Polyak rate in (0, 1]"),
        ("actor_lr", c.actor_lr, c.actor_lr > 0 and math.isfinite(c.actor_lr),
         "use a positive learning rate such as 1e-3"),
        ("critic_lr", c.critic_lr, c.critic_lr > 0 and math.isfinite(c.critic_lr),
         "use a positive learning rate such as 1e-3"),
        ("critic_weight_decay", c.critic_weight_decay, c.critic_weight_decay >= 0,
         "use a non-negative weight decay"),
        ("target_max", c.target_max, not math.isnan(c.target_max), "use a number or inf"),
        ("target_min", c.target_min, c.target_min < c.target_max,
         f"use target_min < target_max ({c.target_max}), e.g. --target-min -50 --target-max 0 "
         f"for rewards of -1 or 0 and gamma 0.98"),
        ("target_min", c.target_min, (c.target_min, c.target_max) == (-math.inf, math.inf)
         or c.algo != "td7", "TD7 clips its target values to the range seen; leave the "
         "target clip off with --algo td7"),
        ("action_l2", c.action_l2, c.action_l2 >= 0 and math.isfinite(c.action_l2),
         "use a non-negative weight (the HER baselines use 1.0; 0 turns it off)"),
        ("action_l2", c.action_l2, c.action_l2 == 0 or c.algo != "td7",
         "TD7's actor loss has no action penalty; use 0 with --algo td7"),
        ("updates_per_step", c.updates_per_step, c.updates_per_step >= 1, "use 1 or more"),
        ("num_envs", c.num_envs, c.num_envs >= 1, "use 1 or more"),
        ("obs_norm_clip", c.obs_norm_clip, c.obs_norm_clip > 0, "use a positive bound such "
         "as 5 or 10"),
        ("actors", c.actors, c.actors >= 0, "use 0 (one process) or a positive count"),
        ("actor_cpus", c.actor_cpus, c.actor_cpus >= 0, "use 0 (auto) or a positive share"),
        ("actor_sigma_spread", c.actor_sigma_spread, c.actor_sigma_spread >= 1.0,
         "use 1 (every actor the same sigma) or more"),
        ("chunk_steps", c.chunk_steps, c.chunk_steps >= 1, "use 1 or more"),
        ("sync_every", c.sync_every, c.sync_every >= 1, "use 1 or more"),
        ("eval_every", c.eval_every, c.eval_every >= 0, "use 0 (end only) or a positive interval"),
        ("eval_episodes", c.eval_episodes, c.eval_episodes >= 1, "use 1 or more"),
        ("eval_max_steps", c.eval_max_steps, c.eval_max_steps >= 1, "use 1 or more"),
        ("threads", c.threads, c.threads >= 0, "use 0 (auto) or a positive count"),
        ("checkpoint_every", c.checkpoint_every, c.checkpoint_every >= 0,
         "use 0 (end only) or a positive interval"),
        ("keep_checkpoints", c.keep_checkpoints, c.keep_checkpoints >= 1, "keep at least 1"),
        ("run_name", c.run_name, c.run_name == "" or (
            c.run_name not in (".", "..") and not any(ch in c.run_name for ch in "/\\\0")),
         "give a plain directory name (no '/', no '..'); --out names the parent directory"),
        ("network.hidden_sizes", c.network.hidden_sizes,
         len(c.network.hidden_sizes) >= 1 and all(h > 0 for h in c.network.hidden_sizes),
         "give one or more positive widths, e.g. 400 300"),
        ("network.critic_action_layer", c.network.critic_action_layer,
         0 <= c.network.critic_action_layer < len(c.network.hidden_sizes),
         f"use 0 .. {len(c.network.hidden_sizes) - 1} (the number of hidden layers - 1)"),
        ("noise.sigma", c.noise.sigma, c.noise.sigma >= 0, "use a non-negative sigma"),
        ("noise.final_sigma", c.noise.final_sigma, c.noise.final_sigma >= 0,
         "use a non-negative sigma"),
        ("noise.final_sigma", c.noise.final_sigma,
         c.noise.schedule != "exponential" or c.noise.final_sigma > 0,
         "exponential decay needs final_sigma > 0; use the linear schedule to reach 0"),
        ("noise.decay_steps", c.noise.decay_steps, c.noise.decay_steps > 0, "use a positive count"),
        ("noise.theta", c.noise.theta, c.noise.theta >= 0, "use a non-negative rate"),
        ("noise.dt", c.noise.dt, c.noise.dt > 0, "use a positive time step"),
        ("noise.random_eps", c.noise.random_eps, 0 <= c.noise.random_eps <= 1,
         "use a probability in [0, 1] (the HER baselines use 0.3; 0 turns it off)"),
        ("td3.policy_delay", c.td3.policy_delay, c.td3.policy_delay >= 1, "use 1 or more"),
        ("td3.target_noise", c.td3.target_noise, c.td3.target_noise >= 0,
         "use a non-negative std"),
        ("td3.target_noise_clip", c.td3.target_noise_clip, c.td3.target_noise_clip >= 0,
         "use a non-negative clip"),
    ]
    for name, value, kind in (("network.activation", c.network.activation, Activation),
                              ("network.norm", c.network.norm, Norm),
                              ("network.init", c.network.init, Init),
                              ("noise.kind", c.noise.kind, NoiseKind),
                              ("noise.schedule", c.noise.schedule, ScheduleKind),
                              ("on_nonfinite", c.on_nonfinite, NonFinite),
                              ("precision", c.precision, Precision),
                              ("algo", c.algo, Algo),
                              ("replay", c.replay, Replay)):
        choices = get_args(kind)
        checks.append((name, value, value in choices,
                       f"use one of {', '.join(choices)}{suggest(str(value), list(choices))}"))
    for name, value, ok, rule in checks:
        if not ok:
            _fail(name, value, rule)
    _validate_td7(c)
    her = c.her
    strategies = get_args(HERStrategy)
    checks = [("her.k", her.k, her.k >= 1, "use 1 or more relabelled goals per original (the "
               "HER paper's 4)"),
              ("her.strategy", her.strategy, her.strategy in strategies,
               f"use one of {', '.join(strategies)}")]
    for name, value, ok, rule in checks:
        if not ok:
            _fail(name, value, rule)


def _validate_td7(c: Config) -> None:
    """TD7's settings, and what TD7 and LAP replay do not combine with."""
    t, net = c.td7, c.network
    checks = [
        ("td7.embedding", t.embedding, t.embedding >= 1, "use a positive width"),
        ("td7.encoder_hidden", t.encoder_hidden, t.encoder_hidden >= 1, "use a positive width"),
        ("td7.encoder_lr", t.encoder_lr, t.encoder_lr > 0 and math.isfinite(t.encoder_lr),
         "use a positive learning rate such as 3e-4"),
        ("td7.target_every", t.target_every, t.target_every >= 1, "use 1 or more"),
        ("lap.alpha", c.lap.alpha, 0 <= c.lap.alpha <= 1, "use an exponent in [0, 1]"),
        ("lap.min_priority", c.lap.min_priority, c.lap.min_priority > 0,
         "use a positive floor"),
        ("td7.max_episodes", t.max_episodes, t.max_episodes >= 1, "use 1 or more"),
        ("td7.switch_at", t.switch_at, t.switch_at >= 0, "use 0 or more updates"),
        ("td7.reset_weight", t.reset_weight, 0 < t.reset_weight <= 1, "use a weight in (0, 1]"),
    ]
    if c.algo == "td7":
        checks += [
            ("replay", c.replay, c.replay == "lap", "TD7 samples with LAP; use --replay lap "
             "(the td7 presets set it)"),
            ("network.hidden_sizes", net.hidden_sizes, len(set(net.hidden_sizes)) == 1
             and len(net.hidden_sizes) == 2, "TD7's actor and critics are two hidden layers "
             "of one width after their input layer; give two equal widths, e.g. 256 256"),
            ("network.norm", net.norm, net.norm == "none", "TD7 normalises with AvgL1Norm; "
             "use none"),
            ("network.critic_action_layer", net.critic_action_layer,
             net.critic_action_layer == 0, "TD7's critic takes the action at its input; use 0"),
            ("network.init", net.init, net.init == "default", "use default"),
            ("network.activation", net.activation, net.activation == "relu", "TD7's actor "
             "uses ReLU and its critics and encoders ELU, as in the paper; leave relu"),
            ("critic_weight_decay", c.critic_weight_decay, c.critic_weight_decay == 0,
             "TD7 has no weight decay; use 0"),
            ("actors", c.actors, c.actors == 0, "distributed collection does not run TD7 "
             "yet; use 0"),
        ]
    for name, value, ok, rule in checks:
        if not ok:
            _fail(name, value, rule)


# --- presets: ddpg/presets.py holds the data --------------------------------------------------

def suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def merge(base: Config, overrides: Mapping[str, Any], source: str = "overrides") -> Config:
    """Return base with the (possibly nested) overrides applied; unknown keys are an error."""
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{source}: expected a mapping of config keys, got {overrides!r}.")
    changes: dict[str, Any] = {}
    fields = {f.name: f for f in dataclasses.fields(base)}
    for key, value in overrides.items():
        name = str(key).replace("-", "_")
        if name not in fields:
            raise ConfigError(
                f"{source}: unknown config key {key!r}.{suggest(name, list(fields))} "
                f"Valid keys: {', '.join(fields)}."
            )
        current = getattr(base, name)
        if dataclasses.is_dataclass(current):
            changes[name] = (value if isinstance(value, type(current))
                             else merge(current, value, f"{source}: {name}"))
        elif isinstance(current, tuple):
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{source}: {name}={value!r} must be a list, e.g. [400, 300].")
            changes[name] = tuple(value)
        else:
            changes[name] = _coerce(name, current, value, source)
    try:
        return dataclasses.replace(base, **changes)
    except TypeError as e:  # pragma: no cover - defensive
        raise ConfigError(f"{source}: {e}") from e


def _coerce(name: str, current: Any, value: Any, source: str) -> Any:
    """Check a YAML value against the type of the default it replaces."""
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(current, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(current, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif isinstance(current, str):
        if isinstance(value, str):
            return value
    raise ConfigError(
        f"{source}: {name}={value!r} has the wrong type; expected {type(current).__name__} "
        f"like the default {current!r}."
    )


def from_preset(name: str, base: Config | None = None, **overrides: Any) -> Config:
    """The preset `name` (see `ddpg presets`) applied to `base` (default: Config()), then
    `overrides` (config fields, nested ones as dicts or as their dataclass). A shorter
    total_steps than the preset was made for is fitted as `ddpg train --total-steps` fits it: a
    warm-up of more than half the run becomes a tenth of it, evaluations further apart than
    the run five in it, unless given too (`fit_budget`; each change is logged)."""
    if name not in PRESETS:
        raise ConfigError(
            f"unknown preset {name!r}.{suggest(name, list(PRESETS))} "
            f"Available presets: {', '.join(PRESETS)} (see `ddpg presets`)."
        )
    c = merge(base or Config(), {**PRESETS[name], "preset": name}, f"preset {name!r}")
    source = f"from_preset({name!r}, ...)"
    changes: dict[str, int] = {}
    notes: list[str] = []
    if "total_steps" in overrides:
        steps = _coerce("total_steps", c.total_steps, overrides["total_steps"], source)
        changes, notes = _budget_changes(c, steps, set(overrides))
    c = merge(c, {**overrides, **changes}, source)  # one replace: checked as a whole
    for note in notes:
        logging.getLogger("ddpg").info(note)
    return c


def _read_yaml(path: str | Path, base: Config, env: str | None = None) -> Any:
    """A config file's values: a ddpg YAML file as it is, an rl-zoo hyperparameter file as the
    overrides of its entry for `env` (default base.env) and base.algo (ddpg.interop.zoo)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(p)!r}: {e.strerror or e}.") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {str(p)!r} is not valid YAML: {e}") from e
    if is_zoo(data, {f.name for f in dataclasses.fields(Config)}):
        return from_zoo(data, env or base.env, base.algo, f"config file {str(p)!r}")
    return data


def load_yaml(path: str | Path, base: Config, env: str | None = None) -> Config:
    """Apply a YAML config file (ddpg's, or an rl-zoo hyperparameter file, whose entry for
    `env` applies) on top of base."""
    data = _read_yaml(path, base, env)
    if data is None:
        return base
    return merge(base, data, f"config file {str(path)!r}")


def resolve(preset: str | None = None, config_file: str | Path | None = None,
            env: str | None = None, algo: str | None = None) -> Config:
    """defaults < preset (or the tuned preset of env and algo) < config file. Flags are applied
    by the CLI. A preset made for another algorithm keeps the requested one (with the replay
    TD7 needs, LAP, when that is td7)."""
    name = preset or preset_for_env(env or Config.env, algo or Config.algo)
    cfg = from_preset(name)
    if algo is not None and cfg.algo != algo:
        replay = "lap" if algo == "td7" else "uniform" if cfg.algo == "td7" else cfg.replay
        cfg = dataclasses.replace(cfg, algo=algo, replay=replay)
    if config_file is not None:
        cfg = load_yaml(config_file, cfg, env)
    return cfg


def file_keys(path: str | Path | None, base: Config, env: str | None = None) -> set[str]:
    """The top-level keys a config file sets (it has been read by load_yaml already)."""
    if path is None:
        return set()
    data = _read_yaml(path, base, env)
    return {str(k).replace("-", "_") for k in data} if isinstance(data, dict) else set()


def fit_budget(c: Config, total_steps: int, explicit: set[str]) -> tuple[Config, list[str]]:
    """`c` with `total_steps`, and the settings that only make sense for longer runs (a
    warm-up of more than half the run: a tenth of it; evaluations further apart than its end:
    five in the run) fitted to it, unless
    the user set them (`explicit`, field names). Returns the config and one line per change."""
    changes, notes = _budget_changes(c, total_steps, explicit)
    return dataclasses.replace(c, total_steps=total_steps, **changes), notes


def _budget_changes(c: Config, total_steps: int, explicit: set[str]
                    ) -> tuple[dict[str, int], list[str]]:
    """fit_budget's changes to `c` (its settings not in `explicit`) and a line for each."""
    changes: dict[str, int] = {}
    if "warmup_steps" not in explicit and c.warmup_steps > total_steps // 2:  # mostly random
        changes["warmup_steps"] = min(c.warmup_steps, total_steps // 10)
    if "eval_every" not in explicit and c.eval_every > total_steps:
        changes["eval_every"] = max(1, total_steps // 5)
    source = f"the {c.preset or 'default'} preset"
    notes = [f"{k}={v} (from {getattr(c, k)} in {source}: it does not fit total_steps="
             f"{total_steps}; set --{k.replace('_', '-')} or {k}= to choose)"
             for k, v in changes.items()]
    return changes, notes


def to_dict(c: Config) -> dict[str, Any]:
    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return list(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(c))


def to_yaml(c: Config) -> str:
    return yaml.safe_dump(to_dict(c), sort_keys=False)


def diff_from_defaults(c: Config) -> dict[str, Any]:
    """Flattened keys whose value differs from the dataclass defaults."""
    out: dict[str, Any] = {}

    def walk(cur: Any, ref: Any, prefix: str) -> None:
        for f in dataclasses.fields(cur):
            a, b = getattr(cur, f.name), getattr(ref, f.name)
            if dataclasses.is_dataclass(a):
                walk(a, b, f"{prefix}{f.name}.")
            elif a != b:
                out[prefix + f.name] = a

    walk(c, Config(), "")
    out.pop("preset", None)
    return out
