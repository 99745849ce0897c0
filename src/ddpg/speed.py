"""`ddpg speed`: how fast DDPG trains on this machine, against its physical limit and baselines.

Measured at the benchmark configuration (the seed's 400-300 networks, one update per environment
step, Gaussian noise), per environment and batch size, median of `repeats`, the measurements
interleaved so that drift on a noisy machine hits all of them alike:
1. limit: the update's own matrix products (forward and backward: 4 passes over the actor's
   weights and 6 over the critic's, 2*B*(4A + 6C) FLOPs) as plain torch.mm on random float32
   tensors of the same shapes;
2. seed: the update written like the seed's code (default Adam, .data Polyak), updates/s;
3. ddpg: the update alone (ddpg_step on the agent) and ddpg's full training loop, env steps/s
   after warm-up;
4. sb3: stable-baselines3's DDPG full loop at the same settings (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ddpg.config import Config, NetworkConfig, NoiseConfig
from ddpg.system import available_cores, cpu_flags, cpu_model


def layer_shapes(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> list[tuple[int, int]]:
    dims = [in_dim, *hidden, out_dim]
    return list(zip(dims[:-1], dims[1:]))


def update_flops(obs_dim: int, action_dim: int, hidden: tuple[int, ...], batch: int) -> float:
    """2 B (4 A + 6 C), A and C the weight counts of actor and critic."""
    a = sum(i * o for i, o in layer_shapes(obs_dim, hidden, action_dim))
    c = sum(i * o for i, o in layer_shapes(obs_dim + action_dim, hidden, 1))
    return 2.0 * batch * (4 * a + 6 * c)


def matmul_workload(obs_dim: int, action_dim: int, hidden: tuple[int, ...], batch: int,
                    device: str = "cpu", dtype: torch.dtype = torch.float32
                    ) -> Callable[[], None]:
    """The matrix products of one update, each as torch.mm on its own random tensors, in the
    layouts nn.Linear uses (weights stored (out, in)): per layer, a forward X(B,in) W^T, an input
    gradient dY(B,out) W and a weight gradient dY^T X. Actor: 2 forwards (online, target), 1
    input and 1 weight gradient (4 passes); critic: 3 forwards (online, target, actor step),
    2 input and 1 weight gradient (6 passes). Every product reads operands of its own, as in the
    update, where no two products share both (re-using one pair would time a warm cache)."""
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g).to(device, dtype)  # noqa: E731
    products: list[tuple[torch.Tensor, torch.Tensor]] = []
    for shapes, fwd, dx, dw in ((layer_shapes(obs_dim, hidden, action_dim), 2, 1, 1),
                                (layer_shapes(obs_dim + action_dim, hidden, 1), 3, 2, 1)):
        for i, o in shapes:
            products += [(r(batch, i), r(o, i).t()) for _ in range(fwd)]
            products += [(r(batch, o), r(o, i)) for _ in range(dx)]
            products += [(r(batch, o).t(), r(batch, i)) for _ in range(dw)]

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


def _random_buffer(obs_dim: int, action_dim: int, n: int = 10_000, device: str = "cpu"):
    from ddpg.buffer import ReplayBuffer

    g = np.random.default_rng(0)
    buf = ReplayBuffer(n, obs_dim, action_dim,
                       torch.Generator(torch.device(device)).manual_seed(0), device)
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
    buf, tau = _random_buffer(obs_dim, action_dim, device=device), 0.005

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
    from ddpg.agent import DDPGAgent

    torch.manual_seed(0)
    agent = DDPGAgent(obs_dim, action_dim, cfg)
    buf = _random_buffer(obs_dim, action_dim, device=cfg.device)

    def run() -> None:
        agent.update(buf.sample(cfg.batch_size))

    return run


def ddpg_loop_rate(cfg: Config) -> float:
    """Env steps/s of ddpg's full loop (act, step, store, update), timed after warm-up."""
    import os
    import tempfile

    from ddpg.trainer import train

    marks: dict[str, float] = {}

    def on_step(ctx) -> None:
        if ctx.step == cfg.warmup_steps:
            marks["start"] = time.perf_counter()
        elif ctx.step == cfg.total_steps:
            marks["end"] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as null:
        import contextlib

        with contextlib.redirect_stderr(null):
            train(dataclasses.replace(cfg, out=tmp), on_step=on_step)
    return (cfg.total_steps - cfg.warmup_steps) / (marks["end"] - marks["start"])


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


def measure(envs: list[str], batches: list[int], steps: int, warmup: int, repeats: int,
            hidden: tuple[int, ...] = (400, 300), baseline: bool = True,
            log: Callable[[str], None] = print, device: str = "cpu") -> list[dict[str, Any]]:
    import gymnasium as gym

    torch.set_num_threads(available_cores())
    results = []
    for env_id in envs:
        probe = gym.make(env_id)
        obs_dim, action_dim = probe.observation_space.shape[0], probe.action_space.shape[0]
        probe.close()
        for batch in batches:
            cfg = bench_config(env_id, batch, hidden, warmup, steps, device=device)
            work = {
                "limit": matmul_workload(obs_dim, action_dim, hidden, batch, device),
                "seed": seed_update_workload(obs_dim, action_dim, hidden, batch, device),
                "update": ddpg_update_workload(obs_dim, action_dim, cfg),
            }
            samples: dict[str, list[float]] = {k: [] for k in (*work, "loop", "sb3")}
            for rep in range(repeats):
                for name, fn in work.items():
                    samples[name].append(rate(fn, steps, device=device))
                samples["loop"].append(ddpg_loop_rate(cfg))
                if baseline:
                    r = sb3_loop_rate(cfg)
                    if r is not None:
                        samples["sb3"].append(r)
                log(f"{env_id} batch {batch} repeat {rep + 1}/{repeats}: " + ", ".join(
                    f"{k} {v[-1]:.0f}" for k, v in samples.items() if v))
            flops = update_flops(obs_dim, action_dim, hidden, batch)
            results.append({"env": env_id, "batch": batch, "hidden": list(hidden),
                            "steps": steps, "repeats": repeats, **summarize(samples, flops)})
    return results


def paired(samples: dict[str, list[float]], num: str, den: str) -> float | None:
    """Median over repeats of num_i / den_i: each repeat measures both back to back, so the
    ratio cancels the slow swings of a shared machine (seen: the same product 280 to 690
    updates/s within minutes), which a ratio of the two medians does not."""
    pairs = list(zip(samples[num], samples[den]))
    return statistics.median(a / b for a, b in pairs) if pairs else None


def summarize(samples: dict[str, list[float]], flops: float) -> dict[str, Any]:
    """Medians of the rates and the ratios the bars are stated in, from the per-repeat samples
    (keys limit, seed, update, loop, sb3; sb3 may be empty)."""
    med = {k: statistics.median(v) if v else None for k, v in samples.items()}
    return {
        "limit_updates_per_s": med["limit"], "limit_gflops": med["limit"] * flops / 1e9,
        "seed_updates_per_s": med["seed"], "ddpg_updates_per_s": med["update"],
        "ddpg_loop_steps_per_s": med["loop"], "sb3_loop_steps_per_s": med["sb3"],
        "loop_fraction_of_limit": med["loop"] / med["limit"],
        "loop_fraction_of_limit_paired": paired(samples, "loop", "limit"),
        "loop_vs_sb3": med["loop"] / med["sb3"] if med["sb3"] else None,
        "loop_vs_sb3_paired": paired(samples, "loop", "sb3"),
        "loop_vs_seed": med["loop"] / med["seed"],
        "samples": samples,
    }


def table(results: list[dict[str, Any]]) -> str:
    head = ("| env | batch | limit (upd/s) | seed-style update (upd/s) | ddpg update (upd/s) | "
            "ddpg loop (steps/s) | sb3 loop (steps/s) | loop / limit | loop / limit, paired | "
            "loop / sb3 | loop / seed update |\n|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    fmt = lambda x, p=0: "-" if x is None else f"{x:.{p}f}"  # noqa: E731
    for r in results:
        rows.append(f"| {r['env']} | {r['batch']} | {fmt(r['limit_updates_per_s'])} | "
                    f"{fmt(r['seed_updates_per_s'])} | {fmt(r['ddpg_updates_per_s'])} | "
                    f"{fmt(r['ddpg_loop_steps_per_s'])} | {fmt(r['sb3_loop_steps_per_s'])} | "
                    f"{r['loop_fraction_of_limit']:.0%} | "
                    f"{r['loop_fraction_of_limit_paired']:.0%} | "
                    f"{fmt(r['loop_vs_sb3'], 2)}x | "
                    f"{r['loop_vs_seed']:.2f}x |")
    return "\n".join([head, *rows])


def bar_chart(results: list[dict[str, Any]]) -> str:
    """A text bar chart (fits markdown): each configuration's rates relative to the limit."""
    lines = ["```"]
    for r in results:
        lines.append(f"{r['env']} batch {r['batch']} (relative to the limit = 100 %)")
        for name, key in (("limit", "limit_updates_per_s"), ("ddpg loop", "ddpg_loop_steps_per_s"),
                          ("ddpg update", "ddpg_updates_per_s"),
                          ("seed update", "seed_updates_per_s"), ("sb3 loop", "sb3_loop_steps_per_s")):
            v = r[key]
            if v is None:
                continue
            frac = v / r["limit_updates_per_s"]
            lines.append(f"  {name:<12} {'#' * round(40 * min(frac, 1.5)):<60} {frac:5.0%}")
    lines.append("```")
    return "\n".join(lines)


def speed_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="ddpg speed", description=(
        "Measure DDPG training speed on this machine: the update's own matrix products (the "
        "limit), the seed-style update, ddpg's update and full loop, and stable-baselines3's "
        "loop (if installed: pip install -e '.[bench]'), at 400-300 networks and one update per "
        "environment step. Prints a table (ratios of the medians, and paired: the median over "
        "repeats of each repeat's loop / limit), writes JSON, and appends the table to a "
        "markdown file."))
    p.add_argument("--env", nargs="+", default=["Pendulum-v1", "HalfCheetah-v5"],
                   help="environment ids (default: Pendulum-v1 HalfCheetah-v5)")
    p.add_argument("--batch", nargs="+", type=int, default=[256, 64],
                   help="batch sizes (default: 256 64)")
    p.add_argument("--steps", type=int, default=500,
                   help="timed environment steps / updates per measurement (default: 500)")
    p.add_argument("--warmup", type=int, default=300,
                   help="random-action steps before the loops' timing starts (default: 300)")
    p.add_argument("--repeats", type=int, default=5, help="interleaved repeats (default: 5)")
    p.add_argument("--hidden", nargs="+", type=int, default=[400, 300],
                   help="hidden layer sizes of actor and critic (default: the seed's 400 300)")
    p.add_argument("--no-baseline", action="store_true", help="skip stable-baselines3")
    p.add_argument("--device", default="cpu",
                   help="torch device of every measurement, stable-baselines3's too (default: "
                        "cpu; 'cuda' on a GPU, where ddpg replays its update as a CUDA graph)")
    p.add_argument("--json", type=Path, default=Path("speed.json"),
                   help="JSON output (default: speed.json)")
    p.add_argument("--markdown", type=Path, default=None,
                   help="append the results to this markdown file (e.g. docs/benchmarks.md)")
    a = p.parse_args(argv)
    for name in ("steps", "warmup", "repeats"):
        if getattr(a, name) < 1:
            p.error(f"--{name} {getattr(a, name)}: use 1 or more")
    if min(a.batch) < 1:
        p.error(f"--batch {min(a.batch)}: use positive batch sizes")
    if min(a.hidden) < 1:
        p.error(f"--hidden {min(a.hidden)}: use positive layer sizes")
    from ddpg.agent import resolve_device
    from ddpg.envs import make

    resolve_device(Config(device=a.device))  # a missing GPU fails here, with the fix

    for env_id in a.env:
        make(env_id).close()  # unknown ids and missing extras fail here, with the fix
    flags = cpu_flags()
    machine = (f"{cpu_model()}, {available_cores()} cores, "
               f"{'AVX-512' if 'avx512f' in flags else 'AVX2' if 'avx2' in flags else 'no AVX2'}"
               f"{', native bf16' if flags & {'avx512_bf16', 'amx_bf16'} else ''}; "
               f"torch {torch.__version__}"
               + (f"; device {torch.cuda.get_device_name(a.device)}" if a.device != "cpu" else ""))
    print(f"machine: {machine}", flush=True)
    results = measure(a.env, a.batch, a.steps, a.warmup, a.repeats, tuple(a.hidden),
                      baseline=not a.no_baseline, device=a.device)
    text = table(results)
    print(text)
    a.json.write_text(json.dumps({"machine": machine, "date": datetime.date.today().isoformat(),
                                  "results": results}, indent=1))
    if a.markdown:
        cmd = "ddpg speed " + " ".join(argv)
        with open(a.markdown, "a") as f:
            f.write(f"\n### {datetime.date.today().isoformat()}: `{cmd}`\n\nMachine: {machine}. "
                    f"Networks {'-'.join(map(str, a.hidden))}; median of {a.repeats} interleaved "
                    f"repeats, {a.steps} timed steps each.\n\n"
                    f"{text}\n\n{bar_chart(results)}\n")
    return 0
