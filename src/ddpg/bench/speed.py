"""`ddpg speed`: how fast DDPG trains on this machine, against its physical limit and baselines.

Measured at the benchmark configuration (the seed's 400-300 networks, one update per environment
step, Gaussian noise), per environment and batch size, median of `repeats`, the measurements
interleaved so that drift on a noisy machine hits all of them alike:
1. limit: the update's own matrix products (forward and backward: 4 passes over the actor's
   weights and 6 over the critic's, 2*B*(4A + 6C) FLOPs) as plain torch.mm on random float32
   tensors of the same shapes, timed in both orientations (nn.Linear's, a row per sample, and
   transposed, a column per sample, as ddpg's fast path computes them); the limit of a repeat
   is the faster of the two;
2. seed: the update written like the seed's code (default Adam, .data Polyak), updates/s;
3. ddpg: the update alone (ddpg_step on the agent) and ddpg's full training loop, env steps/s
   after warm-up;
4. sb3: stable-baselines3's DDPG full loop at the same settings (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import statistics
from pathlib import Path
from typing import Any, Callable

import torch

from ddpg.config import Config, TD7Config
from ddpg.errors import EXIT_STATUS
from ddpg.bench.stats import paired
from ddpg.system import available_cores, cpu_flags, cpu_model
from ddpg.bench.workloads import (bench_config, ddpg_loop_rate, ddpg_update_workload, env_dims,
                            matmul_workload, rate, sb3_loop_rate, seed_update_workload,
                            update_flops)



def measure(envs: list[str], batches: list[int], steps: int, warmup: int, repeats: int,
            hidden: tuple[int, ...] = (400, 300), baseline: bool = True,
            log: Callable[[str], None] = print, device: str = "cpu") -> list[dict[str, Any]]:
    torch.set_num_threads(available_cores())
    results = []
    for env_id in envs:
        obs_dim, action_dim = env_dims(env_id)
        for batch in batches:
            cfg = bench_config(env_id, batch, hidden, warmup, steps, device=device)
            work = {
                "limit_rows": matmul_workload(obs_dim, action_dim, hidden, batch, device),
                "limit_columns": matmul_workload(obs_dim, action_dim, hidden, batch, device,
                                                 layout="columns"),
                "seed": seed_update_workload(obs_dim, action_dim, hidden, batch, device),
                "update": ddpg_update_workload(obs_dim, action_dim, cfg),
            }
            samples: dict[str, list[float]] = {k: [] for k in ("limit", *work, "loop", "sb3")}
            for rep in range(repeats):
                for name, fn in work.items():
                    samples[name].append(rate(fn, steps, device=device))
                samples["limit"].append(max(samples["limit_rows"][-1],
                                            samples["limit_columns"][-1]))
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


def measure_algos(envs: list[str], batches: list[int], algos: list[str], steps: int, warmup: int,
                  repeats: int, hidden: tuple[int, ...], log: Callable[[str], None] = print,
                  device: str = "cpu") -> list[dict[str, Any]]:
    """Each algorithm's update alone (updates/s, LAP's sampling and priority feedback included
    for TD7) and its full loop (env steps/s after warm-up, and the updates it ran per step in
    that window: TD7's policy checkpoints run updates in bursts when episodes end), at the same
    networks and batch (TD7's encoders and embeddings as wide as the hidden layers), the
    algorithms interleaved within each repeat."""
    torch.set_num_threads(available_cores())
    results = []
    for env_id in envs:
        obs_dim, action_dim = env_dims(env_id)
        for batch in batches:
            base = bench_config(env_id, batch, hidden, warmup, steps, device=device)
            td7 = TD7Config(embedding=hidden[0], encoder_hidden=hidden[0])  # (256: the paper's)
            cfgs = {a: dataclasses.replace(base, algo=a, replay="lap" if a == "td7" else
                                           "uniform", td7=td7) for a in algos}
            work = {a: ddpg_update_workload(obs_dim, action_dim, cfg) for a, cfg in cfgs.items()}
            samples: dict[str, list[float]] = {}
            for rep in range(repeats):
                for a, cfg in cfgs.items():
                    samples.setdefault(f"{a}_update", []).append(rate(work[a], steps,
                                                                      device=device))
                    loop, per_step = ddpg_loop_rate(cfg, updates_per_step=True)
                    samples.setdefault(f"{a}_loop", []).append(loop)
                    samples.setdefault(f"{a}_updates_per_step", []).append(per_step)
                log(f"{env_id} batch {batch} repeat {rep + 1}/{repeats}: " + ", ".join(
                    f"{k} {v[-1]:.2f}" for k, v in samples.items()))
            med = {k: statistics.median(v) for k, v in samples.items()}
            results.append({"env": env_id, "batch": batch, "hidden": list(hidden),
                            "steps": steps, "repeats": repeats, "algos": list(algos),
                            "medians": med, "samples": samples})
    return results


def algo_table(results: list[dict[str, Any]]) -> str:
    algos = results[0]["algos"]
    first = algos[0]
    head = ("| env | batch | algo | update (upd/s) | loop (steps/s) | updates per step in the "
            f"loop's window | update / {first}'s | loop / {first}'s |\n"
            "|---|---|---|---|---|---|---|---|")
    rows = []
    for r in results:
        m = r["medians"]
        for a in algos:
            rows.append(
                f"| {r['env']} | {r['batch']} | {a} | {m[f'{a}_update']:.0f} | "
                f"{m[f'{a}_loop']:.0f} | {m[f'{a}_updates_per_step']:.2f} | "
                f"{paired(r['samples'], f'{a}_update', f'{first}_update'):.2f}x | "
                f"{paired(r['samples'], f'{a}_loop', f'{first}_loop'):.2f}x |")
    return "\n".join([head, *rows])


def summarize(samples: dict[str, list[float]], flops: float) -> dict[str, Any]:
    """Medians of the rates and the ratios the bars are stated in, from the per-repeat samples
    (keys limit, seed, update, loop, sb3, and optionally limit_rows and limit_columns, the two
    orientations whose faster one is the limit; sb3 may be empty)."""
    med = {k: statistics.median(v) if v else None for k, v in samples.items()}
    return {
        "limit_updates_per_s": med["limit"], "limit_gflops": med["limit"] * flops / 1e9,
        "limit_rows_updates_per_s": med.get("limit_rows"),
        "limit_columns_updates_per_s": med.get("limit_columns"),
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
    head = ("| env | batch | limit (upd/s) | limit, rows / columns (upd/s) | "
            "seed-style update (upd/s) | ddpg update (upd/s) | "
            "ddpg loop (steps/s) | sb3 loop (steps/s) | loop / limit | loop / limit, paired | "
            "loop / sb3 | loop / seed update |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    fmt = lambda x, p=0: "-" if x is None else f"{x:.{p}f}"  # noqa: E731
    for r in results:
        rows.append(f"| {r['env']} | {r['batch']} | {fmt(r['limit_updates_per_s'])} | "
                    f"{fmt(r['limit_rows_updates_per_s'])} / "
                    f"{fmt(r['limit_columns_updates_per_s'])} | "
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
        for name, key in (("limit", "limit_updates_per_s"),
                          ("ddpg loop", "ddpg_loop_steps_per_s"),
                          ("ddpg update", "ddpg_updates_per_s"),
                          ("seed update", "seed_updates_per_s"),
                          ("sb3 loop", "sb3_loop_steps_per_s")):
            v = r[key]
            if v is None:
                continue
            frac = v / r["limit_updates_per_s"]
            lines.append(f"  {name:<12} {'#' * round(40 * min(frac, 1.5)):<60} {frac:5.0%}")
    lines.append("```")
    return "\n".join(lines)


def speed_main(argv: list[str]) -> int:
    """measure training speed against the machine's limit and stable-baselines3."""
    p = argparse.ArgumentParser(prog="ddpg speed", epilog=EXIT_STATUS, description=(
        "Measure DDPG training speed on this machine: the update's own matrix products (the "
        "limit: the faster of nn.Linear's orientation and the transposed one ddpg computes "
        "them in), the seed-style update, ddpg's update and full loop, and stable-baselines3's "
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
    p.add_argument("--hidden", nargs="+", type=int, default=None,
                   help="hidden layer sizes of actor and critic (default: the seed's 400 300)")
    p.add_argument("--no-baseline", action="store_true", help="skip stable-baselines3")
    p.add_argument("--population", type=int, default=0, metavar="N",
                   help="instead: a population of N seeds in one process against two single "
                        "runs at a time (ddpg benchmark --jobs 2), against one run after "
                        "another, and against the per-core limit of the update's products "
                        "(ddpg.bench.population_speed)")
    p.add_argument("--algo", nargs="+", choices=["ddpg", "td3", "td7"], default=None,
                   help="instead: these algorithms' update and loop rates side by side at the "
                        "same networks (--hidden, here default 256 256, TD7's width; its "
                        "encoders and embeddings as wide) and batch, "
                        "interleaved, with each one's ratio to the first (e.g. --algo td3 td7); "
                        "the loop's window holds whole episodes when --warmup and --steps are "
                        "multiples of the episode length (TD7 updates when episodes end)")
    p.add_argument("--device", default="cpu",
                   help="torch device of every measurement, stable-baselines3's too (default: "
                        "cpu; 'cuda' on a GPU, where ddpg replays its update as a CUDA graph)")
    p.add_argument("--json", type=Path, default=Path("speed.json"),
                   help="JSON output (default: speed.json)")
    p.add_argument("--markdown", type=Path, default=None,
                   help="append the results to this markdown file (e.g. docs/benchmarks.md)")
    a = p.parse_args(argv)
    if a.hidden is None:
        a.hidden = [256, 256] if a.algo else [400, 300]
    for name in ("steps", "warmup", "repeats"):
        if getattr(a, name) < 1:
            p.error(f"--{name} {getattr(a, name)}: use 1 or more")
    if min(a.batch) < 1:
        p.error(f"--batch {min(a.batch)}: use positive batch sizes")
    if min(a.hidden) < 1:
        p.error(f"--hidden {min(a.hidden)}: use positive layer sizes")
    from ddpg.agent import resolve_device
    from ddpg.envs import make

    a.device = str(resolve_device(Config(device=a.device)))  # `cpu` or `cuda:N`; a missing
    # GPU fails here, with the fix

    for env_id in a.env:
        make(env_id).close()  # unknown ids and missing extras fail here, with the fix
    flags = cpu_flags()
    machine = (f"{cpu_model()}, {available_cores()} cores, "
               f"{'AVX-512' if 'avx512f' in flags else 'AVX2' if 'avx2' in flags else 'no AVX2'}"
               f"{', native bf16' if flags & {'avx512_bf16', 'amx_bf16'} else ''}; "
               f"torch {torch.__version__}"
               + (f"; device {torch.cuda.get_device_name(a.device)}"
                  if a.device.startswith("cuda") else ""))
    print(f"machine: {machine}", flush=True)
    if a.population:
        from ddpg.bench import population_speed

        results = population_speed.measure(a.env, a.batch, a.population, a.steps, a.warmup,
                                           a.repeats, tuple(a.hidden))
        _report(a, argv, machine, results, population_speed.table(results), (
            f"Networks {'-'.join(map(str, a.hidden))}, one update per step; median over "
            f"{a.repeats} interleaved repeats of {a.steps} timed steps per member after "
            f"{a.warmup} warm-up steps; ratios are medians of each repeat's own ratio."))
    elif a.algo:
        results = measure_algos(a.env, a.batch, a.algo, a.steps, a.warmup, a.repeats,
                                tuple(a.hidden), device=a.device)
        _report(a, argv, machine, results, algo_table(results), (
            f"Networks {'-'.join(map(str, a.hidden))} for every algorithm; median over "
            f"{a.repeats} interleaved repeats of {a.steps} timed steps after {a.warmup} warm-up "
            f"steps; ratios are medians of each repeat's own ratio."))
    else:
        results = measure(a.env, a.batch, a.steps, a.warmup, a.repeats, tuple(a.hidden),
                          baseline=not a.no_baseline, device=a.device)
        _report(a, argv, machine, results, table(results), (
            f"Networks {'-'.join(map(str, a.hidden))}; median of {a.repeats} interleaved "
            f"repeats, {a.steps} timed steps each."), f"\n\n{bar_chart(results)}")
    return 0


def _report(a: argparse.Namespace, argv: list[str], machine: str, results: list[dict[str, Any]],
            text: str, how: str, after: str = "") -> None:
    """Print the table, write the JSON and, with --markdown, append a section: the date and
    command, the machine, `how` it was measured, the table and `after` it."""
    print(text)
    today = datetime.date.today().isoformat()
    a.json.write_text(json.dumps({"machine": machine, "date": today, "results": results},
                                 indent=1))
    if a.markdown:
        with open(a.markdown, "a") as f:
            f.write(f"\n### {today}: `ddpg speed {' '.join(argv)}`\n\nMachine: {machine}. "
                    f"{how}\n\n{text}{after}\n")
