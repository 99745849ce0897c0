"""The population's own overhead on a CPU (issue 31, "One engine for one run and for many"):
what collecting, acting and bookkeeping cost per member-step, against the environments alone.

    python benchmarks/population_overhead.py --json docs/population-overhead-DATE.json \\
        [--markdown FILE] [--members 32] [--repeats 3]

A population of `--members` Pendulum-v1 members (hidden sizes 32-32, batch 32, one torch
thread, so the update is cheap) is timed after warm-up with 1 and with 2 updates per step; the
difference is one update. Per member-step:

    update   = loop(2) - loop(1)
    overhead = loop(1) - update          (collection, acting, noise, storing, bookkeeping)
    envs     = the same environments stepped alone with random actions in a plain loop

Bar (issue 31): overhead <= 2 x envs. The three measurements are interleaved, `--repeats`
times; derived figures are medians of each repeat's own. Timed window: from the first member's
`on_step` at step warmup + settle to the last member's at the final step, so neither the buffer's
warm-up, the first updates, nor the evaluation and checkpoint at the end (eval_every=0: at the
end only) fall inside it. One more run of loop(1) under cProfile, enabled only inside that
window, says where the overhead goes (top functions by total and cumulative time; cProfile
inflates Python-heavy code, so read its shares, not its absolute times).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import datetime
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ddpg.system import cpu_model  # the CPU's model name, from /proc/cpuinfo

ENV = "Pendulum-v1"
EPISODE = 200  # Pendulum-v1's time limit: timed windows are whole episodes of every env


def envs_alone(members: int, steps: int, warmup: int = EPISODE, seed: int = 0) -> float:
    """Seconds per member-step of `members` gymnasium.make(ENV) environments stepped in a plain
    loop, each with a uniform random action (one numpy draw per step for all), reset at the end
    of an episode; timed over `steps` steps after `warmup`."""
    import gymnasium as gym
    import numpy as np

    envs = [gym.make(ENV) for _ in range(members)]
    for i, env in enumerate(envs):
        env.reset(seed=seed + i)
    space = envs[0].action_space
    rng = np.random.default_rng(seed)

    def run(n: int) -> None:
        for _ in range(n):
            actions = rng.uniform(space.low, space.high, (members, *space.shape)).astype(
                space.dtype)
            for env, a in zip(envs, actions):
                _, _, terminated, truncated, _ = env.step(a)
                if terminated or truncated:
                    env.reset()

    try:
        run(warmup)
        start = time.perf_counter()
        run(steps)
        return (time.perf_counter() - start) / (members * steps)
    finally:
        for env in envs:
            env.close()


def loop_config(updates: int, warmup: int, settle: int, steps: int, hidden: tuple[int, ...],
                batch: int):
    """The benchmark configuration (ddpg.bench.workloads.bench_config) with one torch thread,
    `updates` updates per step and no evaluation before the end."""
    from ddpg.bench.workloads import bench_config

    cfg = bench_config(ENV, batch, hidden, warmup, settle + steps)
    return dataclasses.replace(cfg, threads=1, updates_per_step=updates, eval_every=0)


def loop_time(members: int, updates: int, *, warmup: int, settle: int, steps: int,
              hidden: tuple[int, ...] = (32, 32), batch: int = 32,
              profiler: cProfile.Profile | None = None) -> float:
    """Seconds per member-step of a population's loop (act, step, store, `updates` updates
    per step), timed over its last `steps` steps, after `warmup` steps of buffer warm-up and
    `settle` steps with updates. With `profiler`, it runs only inside the timed window."""
    from ddpg.population import train_population

    cfg = loop_config(updates, warmup, settle, steps, hidden, batch)
    first = warmup + settle
    marks: dict[str, float] = {}
    ended: list[int] = []

    def on_step(ctx) -> None:  # called for every member: the first starts, the last ends
        if ctx.step == first and "start" not in marks:
            marks["start"] = time.perf_counter()
            if profiler is not None:
                profiler.enable()
        elif ctx.step == cfg.total_steps:
            marks["end"] = time.perf_counter()
            ended.append(ctx.step)
            if profiler is not None and len(ended) == members:  # not the final evaluation
                profiler.disable()

    with (tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as null,
          contextlib.redirect_stderr(null)):
        try:
            train_population(dataclasses.replace(cfg, out=tmp), seeds=range(members),
                             on_step=on_step)
        finally:
            if profiler is not None:
                profiler.disable()
    return (marks["end"] - marks["start"]) / (members * steps)


def _where(filename: str, line: int, name: str) -> str:
    """A profile row's function, its file shortened to the package path."""
    for root in ("site-packages/", "/src/", "/lib/python"):
        if root in filename:
            filename = filename.split(root, 1)[1]
            break
    return f"{filename}:{line}({name})" if line else name


def profile_rows(profiler: cProfile.Profile, member_steps: int, key: str,
                 top: int = 15) -> list[dict[str, Any]]:
    """The `top` functions by `key` ('tottime' or 'cumtime'), with per-member-step times."""
    stats = pstats.Stats(profiler, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in stats.items():
        rows.append({"function": _where(filename, line, name), "calls": ncalls,
                     "tottime_s": tottime, "cumtime_s": cumtime,
                     "tottime_us_per_member_step": 1e6 * tottime / member_steps,
                     "cumtime_us_per_member_step": 1e6 * cumtime / member_steps})
    rows.sort(key=lambda r: r[f"{key}_s"], reverse=True)
    return rows[:top]


def profile_loop(members: int, *, warmup: int, settle: int, steps: int,
                 hidden: tuple[int, ...] = (32, 32), batch: int = 32,
                 top: int = 15) -> dict[str, Any]:
    """loop(1) once more under cProfile, inside the timed window only."""
    profiler = cProfile.Profile()
    seconds = loop_time(members, 1, warmup=warmup, settle=settle, steps=steps, hidden=hidden,
                        batch=batch, profiler=profiler)
    n = members * steps
    return {"loop_us_per_member_step_under_cprofile": 1e6 * seconds,
            "by_tottime": profile_rows(profiler, n, "tottime", top),
            "by_cumtime": profile_rows(profiler, n, "cumtime", top)}


def measure(members: int = 32, repeats: int = 3, *, warmup: int = 200, settle: int = 200,
            steps: int = 1000, hidden: tuple[int, ...] = (32, 32), batch: int = 32,
            profile: bool = True, verbose: bool = True) -> dict[str, Any]:
    """The three measurements interleaved (the order rotates each repeat), the derived figures
    per repeat and their medians, in microseconds per member-step; the profile; the machine."""
    import torch

    kinds = {"envs": lambda: envs_alone(members, steps),
             "loop1": lambda: loop_time(members, 1, warmup=warmup, settle=settle, steps=steps,
                                        hidden=hidden, batch=batch),
             "loop2": lambda: loop_time(members, 2, warmup=warmup, settle=settle, steps=steps,
                                        hidden=hidden, batch=batch)}
    order = list(kinds)
    samples: dict[str, list[float]] = {k: [0.0] * repeats for k in kinds}
    start = time.perf_counter()
    for r in range(repeats):
        for k in order[r % 3:] + order[:r % 3]:
            samples[k][r] = 1e6 * kinds[k]()
            if verbose:
                print(f"repeat {r + 1}: {k:<5} {samples[k][r]:7.1f} us per member-step "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
    samples["update"] = [b - a for a, b in zip(samples["loop1"], samples["loop2"])]
    samples["overhead"] = [a - u for a, u in zip(samples["loop1"], samples["update"])]
    samples["ratio"] = [o / e for o, e in zip(samples["overhead"], samples["envs"])]
    median = {k: statistics.median(v) for k, v in samples.items()}
    result: dict[str, Any] = {
        "what": "us per member-step; update = loop2 - loop1, overhead = loop1 - update, "
                "ratio = overhead / envs (per repeat, then the median)",
        "env": ENV, "members": members, "hidden": list(hidden), "batch": batch, "threads": 1,
        "warmup_steps": warmup, "settle_steps": settle, "timed_steps": steps,
        "repeats": repeats, "median": median, "samples": samples,
        "bar": "overhead <= 2 x envs",
        "verdict": "met" if median["ratio"] <= 2 else "not met",
        "measure_s": time.perf_counter() - start,
        "machine": {"cpu_model": cpu_model(), "cpus": os.cpu_count(),
                    "load_average_before": list(os.getloadavg())},
        "torch": torch.__version__, "python": platform.python_version(),
        "date": datetime.date.today().isoformat(), "commit": _commit(),
        "ddpg_from": str(Path(__import__("ddpg").__file__).resolve().parent)}
    if profile:
        t = time.perf_counter()
        result["profile"] = profile_loop(members, warmup=warmup, settle=settle, steps=steps,
                                         hidden=hidden, batch=batch)
        result["profile_s"] = time.perf_counter() - t
    result["machine"]["load_average_after"] = list(os.getloadavg())
    return result


def _commit() -> str:
    """The commit of the ddpg that is imported, noting uncommitted changes under its src/."""
    import ddpg

    root = Path(ddpg.__file__).resolve().parents[2]
    try:
        git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True,  # noqa: E731
                                        cwd=root).stdout.strip()
        commit, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "src")
    except OSError:
        return "unknown"
    return (commit + (" (src/ with uncommitted changes)" if dirty else "")) or "unknown"


def markdown(result: dict[str, Any], command: str) -> str:
    """The figures as a markdown table with its command, machine and date."""
    s, m = result["samples"], result["median"]
    fmt = lambda v: ", ".join(f"{x:.1f}" for x in v)  # noqa: E731
    ma = result["machine"]
    lines = [f"`{command}` ({result['date']}, {ma['cpu_model']}, {ma['cpus']} CPUs, torch "
             f"{result['torch']}, commit {result['commit']}; load average "
             f"{ma['load_average_before'][0]:.2f} before, {ma['load_average_after'][0]:.2f} "
             f"after; {result['members']} members, {ENV}, hidden "
             f"{'-'.join(map(str, result['hidden']))}, batch {result['batch']}, 1 thread, "
             f"{result['timed_steps']} steps timed after {result['warmup_steps']} of warm-up and "
             f"{result['settle_steps']} with updates; {result['repeats']} interleaved repeats):",
             "", "| per member-step | median (us) | repeats (us) |", "|---|---|---|"]
    names = {"envs": "the environments alone, random actions",
             "loop1": "loop, 1 update per step", "loop2": "loop, 2 updates per step",
             "update": "one update = loop(2) - loop(1)",
             "overhead": "the loop's own overhead = loop(1) - update"}
    lines += [f"| {label} | {m[k]:.1f} | {fmt(s[k])} |" for k, label in names.items()]
    lines.append(f"| overhead / envs (bar <= 2x) | {m['ratio']:.2f}x: {result['verdict']} | "
                 f"{', '.join(f'{x:.2f}x' for x in s['ratio'])} |")
    if "profile" in result:
        p = result["profile"]
        lines += ["", f"cProfile of loop(1) inside the timed window "
                      f"({p['loop_us_per_member_step_under_cprofile']:.1f} us per member-step "
                      f"under the profiler), top functions by own time:", "",
                  "| function | calls | own us per member-step | cumulative |", "|---|---|---|---|"]
        lines += [f"| `{r['function']}` | {r['calls']} | {r['tottime_us_per_member_step']:.1f} | "
                  f"{r['cumtime_us_per_member_step']:.1f} |" for r in p["by_tottime"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=200, help="buffer warm-up steps (random actions)")
    p.add_argument("--settle", type=int, default=200,
                   help="steps with updates before the timed window")
    p.add_argument("--steps", type=int, default=1000, help="timed steps (whole episodes: a "
                   f"multiple of {EPISODE} resets every env as often as the envs-alone loop)")
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    p.add_argument("--markdown", type=Path, default=None, help="write the table here")
    a = p.parse_args()
    result = measure(a.members, a.repeats, warmup=a.warmup, settle=a.settle, steps=a.steps,
                     profile=not a.no_profile)
    command = "python benchmarks/population_overhead.py " + " ".join(
        f"--{k} {v}" for k, v in (("members", a.members), ("repeats", a.repeats),
                                  ("steps", a.steps)))
    result["command"] = command
    table = markdown(result, command)
    print(table)
    if a.json:
        a.json.write_text(json.dumps(result, indent=1) + "\n")
    if a.markdown:
        a.markdown.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
