"""The agent: actor, critic(s), their targets, optimizers, exploration noise and observation
statistics as one state, for DDPG, TD3 or TD7 (whose networks and update live in ddpg.td7)."""

from __future__ import annotations

import copy
import warnings
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Sequence

import numpy as np
import torch

from ddpg.buffer import Batch
from ddpg.config import Config
from ddpg.devices import canonical_device
from ddpg.errors import ConfigError
from ddpg.fast import FusedAdam, select_update
from ddpg.fast.steps import Nets
from ddpg.losses import Regression
from ddpg.networks import Critic, build
from ddpg.noise import make_noise, with_random_actions
from ddpg.normalization import RunningNorm
from ddpg.seeding import restore_generator
from ddpg.system import native_bf16
from ddpg.td3 import TwinCritic, actor_due, td3_step
from ddpg.td7 import TD7
from ddpg.update import ddpg_step


def resolve_device(config: Config) -> torch.device:
    """The torch device of `config` in canonical form (ddpg.devices: `cpu`, or `cuda:N`),
    checked: it exists here, and bf16 runs natively on it."""
    device = canonical_device(config.device)
    if config.precision == "bf16":
        ok, why = native_bf16(device.type)
        if not ok:
            raise ConfigError(f"precision='bf16': {why}. Use --precision fp32 here, or a machine "
                              f"with native bf16 (AVX-512 BF16 / AMX CPU, or a GPU).")
    return device


@contextmanager
def bf16_matmuls():
    """Float32 matrix products on a CPU computed by oneDNN from bf16 operands with float32
    accumulation and output (torch.backends.mkldnn.matmul.fp32_precision = 'bf16'); the
    previous setting is restored on exit."""
    m = torch.backends.mkldnn.matmul
    previous = m.fp32_precision
    m.fp32_precision = "bf16"
    try:
        yield
    finally:
        m.fp32_precision = previous


class Agent:
    """Acts in normalised action units [-1, 1]; the trainer rescales to the env's bounds.
    `config.algo` picks the update: ddpg_step (DDPG), td3_step (TD3, with twin critics) or
    TD7's (ddpg.td7: `td7` holds its networks; `actor` is its acting policy)."""

    def __init__(self, obs_dim: int, action_dim: int, config: Config,
                 rng: np.random.Generator | None = None) -> None:
        self.config, self.obs_dim, self.action_dim = config, obs_dim, action_dim
        self.device = resolve_device(config)
        # bf16 (updates only; acting and evaluation run in fp32, as they do under autocast here):
        # on a GPU, autocast; on a CPU, float32 tensors and bf16 matrix products in oneDNN (no
        # casts, so the fast path applies; at batch 1 converting the weights would cost more
        # than the products)
        cpu_bf16 = config.precision == "bf16" and self.device.type == "cpu"
        self._autocast = (partial(torch.autocast, self.device.type, dtype=torch.bfloat16)
                          if config.precision == "bf16" and not cpu_bf16 else nullcontext)
        self.precision = bf16_matmuls if cpu_bf16 else nullcontext  # the update runs under it
        self.obs_norm = RunningNorm(obs_dim, clip=config.obs_norm_clip) if config.obs_norm \
            else None
        # TD3's (and TD7's) target smoothing noise; seeded from the run's seed, saved in
        # checkpoints
        self.generator = torch.Generator(self.device)
        self.generator.manual_seed(self._smoothing_seed)
        self.td7 = TD7(obs_dim, action_dim, config, self.device) if config.algo == "td7" else None
        if self.td7 is not None:
            n = self.td7.nets
            self.actor, self.critic = self.td7.acting, n.critic
            self.actor_target, self.critic_target = n.actor_target, n.critic_target
            self.actor_optimizer, self.critic_optimizer = n.actor_optimizer, n.critic_optimizer
        else:
            self.actor, self.critic = build(obs_dim, action_dim, config.network,
                                            TwinCritic if config.algo == "td3" else Critic)
            self.actor.to(self.device)
            self.critic.to(self.device)
            self.actor_target = copy.deepcopy(self.actor).requires_grad_(False).eval()
            self.critic_target = copy.deepcopy(self.critic).requires_grad_(False).eval()
            # Adam as one fused kernel per network, without torch.optim's per-step Python (same
            # math as torch.optim.Adam; see ddpg.fast.adam), for either update.
            self.actor_optimizer = FusedAdam(self.actor.parameters(), lr=config.actor_lr)
            self.critic_optimizer = FusedAdam(self.critic.parameters(), lr=config.critic_lr,
                                              weight_decay=config.critic_weight_decay)
        self.rng = rng if rng is not None else np.random.default_rng(config.seed)
        self.noise = make_noise(config.noise, config.num_envs, action_dim, self.rng)
        self._has_batch_norm = config.network.norm == "batch"
        self.updates = 0
        self.choose_update()
        self._step = self._compiled_step if config.compile else self._update_step

    def choose_update(self) -> None:
        """The update that runs: the fast path (ddpg.fast) where it computes the same math, else
        the reference autograd update (ddpg_step / td3_step). Called again when the parameters
        move (a population stacks its members' parameters: ddpg.population)."""
        if self.td7 is not None:  # (no fast path for TD7's networks yet)
            self.fast, self.fast_step, self.how = None, None, "autograd (ddpg.td7.td7_step)"
            return
        choice = select_update(self.config, self.device, self.actor, self.critic,
                               self.actor_target, self.critic_target, self.actor_optimizer,
                               self.critic_optimizer, self.generator)
        self.fast, self.fast_step, self.how = choice  # how: which update, in words

    @property
    def _smoothing_seed(self) -> int:
        """The seed of TD3's target smoothing noise (a stream of its own beside the run's)."""
        return self.config.seed + 7919

    def nets(self) -> Nets:
        """The networks, optimizers and hyperparameters the fast update reads (ddpg.fast.steps:
        a population stacks its members' into one FastStep)."""
        c = self.config
        return Nets(self.actor, self.critic, self.actor_target, self.critic_target,
                    self.actor_optimizer, self.critic_optimizer, c.tau, c.gamma,
                    c.td3.target_noise, c.td3.target_noise_clip, self.generator)

    def actor_due(self) -> bool:
        """Whether the next update moves the actor (and, for TD3, the targets): TD3's and TD7's
        delayed policy update; always for DDPG."""
        return self.config.algo == "ddpg" or actor_due(self.updates, self.config.td3.policy_delay)

    @property
    def policy_module(self) -> torch.nn.Module:
        """The noise-free policy that is evaluated and saved: the actor, or TD7's checkpoint
        policy."""
        return self.actor if self.td7 is None else self.td7.checkpoint

    @property
    def holds_updates(self) -> bool:
        """Whether updates wait for episodes to end (TD7's policy checkpoints) rather than
        following the steps: then `episode_ended` says how many to run."""
        return self.td7 is not None and self.td7.rule is not None

    def episode_ended(self, length: int, episode_return: float) -> int:
        """A training episode ended after warm-up: the held-back updates to run now (TD7's
        checkpoint rule; 0 for updates that follow the steps)."""
        return 0 if self.td7 is None else self.td7.episode_ended(length, episode_return)

    def describe(self) -> str:
        """Which update runs, in words, e.g. 'DDPG update: fast path (hand-written backward
        passes), CUDA graph after 3 updates, fp32 on cuda'."""
        c = self.config
        return f"{c.algo.upper()} update: {self.how}, {c.precision} on {self.device}"

    def _update_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One update on `batch` (observations normalised first with --obs-norm): the fast
        step (or its CUDA-graph replay) when one was selected, else ddpg_step / td3_step."""
        c = self.config
        if self.obs_norm is not None:
            batch = self.obs_norm.normalize_batch(batch)
        if self.td7 is not None:
            with self._autocast():
                return self.td7.update(batch, self.updates, self.actor_due(), self.generator)
        nets = (self.actor, self.critic, self.actor_target, self.critic_target,
                self.actor_optimizer, self.critic_optimizer, batch, c.tau, c.gamma)
        if c.algo == "td3":
            update_actor = self.actor_due()
            if self.fast_step is not None:
                return self.fast_step(batch, update_actor)
            return td3_step(*nets, update_actor=update_actor, target_noise=c.td3.target_noise,
                            target_noise_clip=c.td3.target_noise_clip,
                            generator=self.generator, autocast=self._autocast,
                            regression=Regression.of(c), action_l2=c.action_l2)
        info = (self.fast_step(batch) if self.fast_step is not None
                else ddpg_step(*nets, self._autocast, Regression.of(c), c.action_l2))
        info["actor_updated"] = torch.ones((), device=self.device)
        return info

    @torch.no_grad()
    def q_value(self, obs: np.ndarray) -> np.ndarray:
        """The critic's estimate Q(s, mu(s)) (Q1 for TD3) for a batch of raw observations."""
        o = np.asarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)
        if self.obs_norm is not None:
            o = self.obs_norm.normalize(o)
        s = torch.as_tensor(o, device=self.device)
        if self.td7 is not None:
            return self.td7.q_value(s).float().cpu().numpy()[:, 0]
        critic = self.critic.q1 if isinstance(self.critic, TwinCritic) else self.critic
        was_training = critic.training
        critic.eval()
        self.actor.eval()
        q = critic(s, self.actor(s)).float().cpu().numpy()[:, 0]
        critic.train(was_training)
        self.actor.train()
        return q

    def _compiled_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """torch.compile'd update ('reduce-overhead': CUDA graphs on a GPU); on any failure,
        warn once and use the eager update from then on."""
        if not hasattr(self, "_compiled"):
            mode = "reduce-overhead" if self.device.type == "cuda" else "default"
            self._compiled = torch.compile(self._update_step, mode=mode)
        try:
            return self._compiled(batch)
        except Exception as e:  # noqa: BLE001 - any compiler failure falls back to eager
            warnings.warn(f"torch.compile failed ({type(e).__name__}: {e}); using the eager "
                          f"update.", RuntimeWarning, stacklevel=2)
            self._step = self._update_step
            return self._update_step(batch)

    def act(self, obs: np.ndarray, step: int | None = None) -> np.ndarray:
        """mu(s) for a batch of observations (N, obs_dim); with `step`, plus exploration noise at
        that step's sigma, clipped to [-1, 1]. Without `step` the policy is the one evaluated
        and saved (`policy_module`: TD7's checkpoint; the actor otherwise)."""
        s = torch.as_tensor(self.normalized(obs), device=self.device)
        with torch.no_grad():
            if self.td7 is not None:
                a = (self.actor if step is not None else self.policy_module)(s)
            elif self.fast is not None:  # called once per environment step: no Module overhead
                a = self.fast.policy(s)
            elif self._has_batch_norm:  # running statistics, not the batch's, when acting
                self.actor.eval()
                a = self.actor(s)
                self.actor.train()
            else:
                a = self.actor(s)
        a = a.cpu().numpy()
        return a if step is None else self.explore(a, step)

    def normalized(self, obs: np.ndarray) -> np.ndarray:
        """Observations as the networks take them: float32 (N, obs_dim), normalised with
        --obs-norm."""
        o = np.asarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)
        return o if self.obs_norm is None else self.obs_norm.normalize(o)

    def explore(self, a: np.ndarray, step: int) -> np.ndarray:
        """Policy actions `a` (num_envs, act) plus exploration noise at `step`'s sigma,
        clipped to [-1, 1] (`explore` of this agent alone)."""
        return explore([self], a[None], step)[0]

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One DDPG gradient step on `batch` (see ddpg.update.ddpg_step)."""
        with self.precision():
            info = self._step(batch)
        if self._has_batch_norm:  # running statistics are copied, not averaged
            for net, target in ((self.actor, self.actor_target), (self.critic, self.critic_target)):
                for b, tb in zip(net.buffers(), target.buffers()):
                    tb.copy_(b)
        self.updates += 1
        return info

    _NETS = ("actor", "critic", "actor_target", "critic_target", "actor_optimizer",
             "critic_optimizer")  # DDPG's and TD3's, by attribute (TD7's: its own state_dict)

    def state_dict(self) -> dict:
        nets = ({"td7": self.td7.state_dict()} if self.td7 is not None
                else {name: getattr(self, name).state_dict() for name in self._NETS})
        return {
            **nets,
            "noise": self.noise.state_dict(), "updates": self.updates,
            "generator": self.generator.get_state(),
            "obs_norm": None if self.obs_norm is None else self.obs_norm.state_dict(),
        }

    def load_state_dict(self, d: dict) -> None:
        if self.td7 is not None:
            self.td7.load_state_dict(d["td7"])
        for name in (() if self.td7 is not None else self._NETS) + ("noise",):
            getattr(self, name).load_state_dict(d[name])
        self.updates = int(d["updates"])
        restore_generator(self.generator, d["generator"], self._smoothing_seed, self.updates,
                          "TD3's target smoothing noise")
        if self.obs_norm is not None:
            self.obs_norm.load_state_dict(d["obs_norm"])


# --8<-- [start:explore]
def explore(agents: Sequence[Agent], a: np.ndarray, step: int) -> np.ndarray:
    """Policy actions `a` (members, num_envs, act) plus each member's exploration noise at
    `step`'s sigma (from its own stream), clipped to [-1, 1]; with --noise.random-eps, some
    replaced by uniform random actions (from the same stream)."""
    noise = np.stack([agent.noise.sample(step) for agent in agents])
    if noise.shape != a.shape:
        raise ValueError(f"act() got {a.shape[1]} observations but the noise is kept for "
                         f"num_envs={noise.shape[1]} environments; pass one per env.")
    out = np.clip(a + noise, -1.0, 1.0)
    for i, agent in enumerate(agents):
        if agent.config.noise.random_eps > 0:
            out[i] = with_random_actions(out[i], agent.config.noise.random_eps, agent.noise.rng)
    return out
# --8<-- [end:explore]
