"""What `ddpg speed` times: each measurement as a function to call repeatedly (the limit's
matrix products, the seed-style update, ddpg's update) or a rate to measure (ddpg's and
stable-baselines3's full loops), at the benchmark configuration (`bench_config`)."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import tempfile
import time
from typing import Callable

import numpy as np
import torch
from torch import nn

from ddpg.config import Config, NetworkConfig, NoiseConfig
from ddpg.system import available_cores


def env_dims(env_id: str) -> tuple[int, int]:
    """(observation size, action size) of an environment id."""
    import gymnasium as gym

    probe = gym.make(env_id)
    try:
        return probe.observation_space.shape[0], probe.action_space.shape[0]
    finally:
        probe.close()


def layer_shapes(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> list[tuple[int, int]]:
    dims = [in_dim, *hidden, out_dim]
    return list(zip(dims[:-1], dims[1:]))


def update_flops(obs_dim: int, action_dim: int, hidden: tuple[int, ...], batch: int) -> float:
    """2 B (4 A + 6 C), A and C the weight counts of actor and critic."""
    a = sum(i * o for i, o in layer_shapes(obs_dim, hidden, action_dim))
    c = sum(i * o for i, o in layer_shapes(obs_dim + action_dim, hidden, 1))
    return 2.0 * batch * (4 * a + 6 * c)


def matmul_workload(obs_dim: int, action_dim: int, hidden: tuple[int, ...], batch: int,
                    device: str = "cpu", dtype: torch.dtype = torch.float32,
                    layout: str = "rows") -> Callable[[], None]:
    """The matrix products of one update, each as torch.mm on its own random tensors. Actor:
    2 forwards (online, target), 1 input and 1 weight gradient (4 passes over its weights);
    critic: 3 forwards (online, target, actor step), 2 input and 1 weight gradient (6 passes).
    Every product reads operands of its own, as in the update, where no two products share both
    (re-using one pair would time a warm cache).

    layout "rows": nn.Linear's orientation, a row per sample and weights stored (out, in): per
    layer a forward X(B,in) W^T, an input gradient dY(B,out) W and a weight gradient dY^T X.
    layout "columns": a column per sample, as ddpg.fast.steps computes them: W H(in,B), W^T
    dY(out,B) and dY H^T (the first two are the row layout's products transposed; the weight
    gradient is the same product with its operands stored the other way). Same FLOPs, same
    results up to rounding; BLAS runs the two at different speeds."""
    if layout not in ("rows", "columns"):
        raise ValueError(f"layout={layout!r}: use 'rows' or 'columns'.")
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g).to(device, dtype)  # noqa: E731
    products: list[tuple[torch.Tensor, torch.Tensor]] = []
    for shapes, fwd, dx, dw in ((layer_shapes(obs_dim, hidden, action_dim), 2, 1, 1),
                                (layer_shapes(obs_dim + action_dim, hidden, 1), 3, 2, 1)):
        for i, o in shapes:
            if layout == "rows":
                products += [(r(batch, i), r(o, i).t()) for _ in range(fwd)]
                products += [(r(batch, o), r(o, i)) for _ in range(dx)]
                products += [(r(batch, o).t(), r(batch, i)) for _ in range(dw)]
            else:
                products += [(r(o, i), r(i, batch)) for _ in range(fwd)]
                products += [(r(o, i).t(), r(o, batch)) for _ in range(dx)]
                products += [(r(o, batch), r(i, batch).t()) for _ in range(dw)]

    def run() -> None:
        for x, w in products:
            torch.mm(x, w)

    return run


def rate(fn: Callable[[], None], n: int, warmup: int = 5, device: str = "cpu") -> float:
    """Calls per second of fn over n calls, after `warmup` calls (on a GPU, until the queued
    work has finished)."""
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    sync()
    return n / (time.perf_counter() - t)


class _SeedActor(nn.Module):
    def __init__(self, s: int, a: int, h: tuple[int, ...]) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(s, h[0]), nn.ReLU(), nn.Linear(h[0], h[1]), nn.ReLU(),
                                 nn.Linear(h[1], a), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _SeedCritic(nn.Module):
    def __init__(self, s: int, a: int, h: tuple[int, ...]) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(s + a, h[0]), nn.ReLU(), nn.Linear(h[0], h[1]),
                                 nn.ReLU(), nn.Linear(h[1], 1))

    def forward(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([s, a], dim=1))


def random_buffer(obs_dim: int, action_dim: int, n: int = 10_000, device: str = "cpu",
                  lap: bool = False):
    """A buffer of `n` random transitions (`lap`: sampled by LAP's priorities)."""
    from ddpg.buffer import ReplayBuffer
    from ddpg.priorities import Priorities
    from ddpg.seeding import IndexStream

    g = np.random.default_rng(0)
    stream = IndexStream(0) if lap else torch.Generator(torch.device(device)).manual_seed(0)
    buf = ReplayBuffer(n, obs_dim, action_dim, stream, device,
                       priorities=Priorities(n, device) if lap else None)
    buf.add(g.normal(size=(n, obs_dim)), g.uniform(-1, 1, (n, action_dim)), g.normal(size=n),
            g.normal(size=(n, obs_dim)), g.random(n) < 0.01)
    return buf


def seed_update_workload(obs_dim: int, action_dim: int, hidden: tuple[int, ...],
                         batch: int, device: str = "cpu") -> Callable[[], None]:
    """The seed's ddpg_update, verbatim but for the batch size (and the device)."""
    torch.manual_seed(0)
    actor = _SeedActor(obs_dim, action_dim, hidden).to(device)
    critic = _SeedCritic(obs_dim, action_dim, hidden).to(device)
    actor_t, critic_t = copy.deepcopy(actor), copy.deepcopy(critic)
    a_opt, c_opt = torch.optim.Adam(actor.parameters()), torch.optim.Adam(critic.parameters())
    buf, tau = random_buffer(obs_dim, action_dim, device=device), 0.005

    def run() -> None:
        states, actions, rewards, next_states, dones = buf.sample(batch)
        with torch.no_grad():
            target_q = rewards + 0.99 * (1 - dones) * critic_t(next_states, actor_t(next_states))
        critic_loss = nn.MSELoss()(critic(states, actions), target_q)
        c_opt.zero_grad()
        critic_loss.backward()
        c_opt.step()
        actor_loss = -critic(states, actor(states)).mean()
        a_opt.zero_grad()
        actor_loss.backward()
        a_opt.step()
        for p, tp in zip(critic.parameters(), critic_t.parameters()):
            tp.data.copy_(tau * p.data + (1 - tau) * tp.data)
        for p, tp in zip(actor.parameters(), actor_t.parameters()):
            tp.data.copy_(tau * p.data + (1 - tau) * tp.data)

    return run


def bench_config(env: str, batch: int, hidden: tuple[int, ...], warmup: int, steps: int,
                 device: str = "cpu", precision: str = "fp32") -> Config:
    return dataclasses.replace(
        Config(), env=env, batch_size=batch, network=NetworkConfig(hidden_sizes=hidden),
        noise=NoiseConfig(kind="gaussian", sigma=0.1), warmup_steps=warmup,
        total_steps=warmup + steps, buffer_size=max(warmup + steps, batch), tau=0.005, eval_every=0,
        eval_episodes=1, checkpoint_every=0, save_buffer=False, tensorboard=False,
        progress=False, out="/tmp/ddpg-speed", device=device, precision=precision)


def ddpg_update_workload(obs_dim: int, action_dim: int, cfg: Config) -> Callable[[], None]:
    from ddpg.agent import Agent

    torch.manual_seed(0)
    agent = Agent(obs_dim, action_dim, cfg)
    buf = random_buffer(obs_dim, action_dim, device=cfg.device, lap=cfg.replay == "lap")

    def run() -> None:  # as the loop updates (Trainer.update): LAP's priorities fed back
        idx = buf.sample_indices(cfg.batch_size)
        buf.learned(idx, agent.update(buf.gather(idx)))

    return run


def ddpg_loop_rate(cfg: Config, members: int = 0,
                   updates_per_step: bool = False) -> float | tuple[float, float]:
    """Env steps/s of ddpg's full loop (act, step, store, update), timed after warm-up; with
    `members`, of a population of that many seeds, in aggregate (every member's steps). With
    `updates_per_step`, also the updates run per step in the timed window (a single run)."""
    from ddpg.population import train_population
    from ddpg.trainer import train

    marks: dict[str, float] = {}

    def on_step(ctx) -> None:  # a population calls it for every member: the first starts
        if ctx.step == cfg.warmup_steps and "start" not in marks:
            marks["start"] = time.perf_counter()
            marks["updates_start"] = ctx.agent.updates
        elif ctx.step == cfg.total_steps:
            marks["end"] = time.perf_counter()
            marks["updates_end"] = ctx.agent.updates

    with (tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as null,
          contextlib.redirect_stderr(null)):
        config = dataclasses.replace(cfg, out=tmp)
        if members:
            train_population(config, seeds=range(members), on_step=on_step)
        else:
            train(config, on_step=on_step)
    steps = cfg.total_steps - cfg.warmup_steps
    steps_per_s = max(members, 1) * steps / (marks["end"] - marks["start"])
    if updates_per_step:
        return steps_per_s, (marks["updates_end"] - marks["updates_start"]) / steps
    return steps_per_s


def sb3_loop_rate(cfg: Config) -> float | None:
    """Env steps/s of stable-baselines3's DDPG at the same settings; None if not installed."""
    try:
        from stable_baselines3 import DDPG
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.noise import NormalActionNoise
    except ImportError:
        return None
    import gymnasium as gym

    env = gym.make(cfg.env)
    a = env.action_space.shape[0]
    marks: dict[str, float] = {}

    class Timer(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps == cfg.warmup_steps + 1:
                marks["start"] = time.perf_counter()
            return True

    model = DDPG("MlpPolicy", env, learning_rate=1e-3, buffer_size=cfg.buffer_size,
                 learning_starts=cfg.warmup_steps, batch_size=cfg.batch_size, tau=cfg.tau,
                 gamma=cfg.gamma, train_freq=1, gradient_steps=1,
                 action_noise=NormalActionNoise(np.zeros(a), 0.1 * np.ones(a)),
                 policy_kwargs={"net_arch": list(cfg.network.hidden_sizes)}, seed=0,
                 device=cfg.device, verbose=0)
    torch.set_num_threads(cfg.threads or available_cores())
    model.learn(cfg.total_steps, callback=Timer())
    return (cfg.total_steps - cfg.warmup_steps - 1) / (time.perf_counter() - marks["start"])
