"""`ddpg sweep SWEEP.yaml`: a search over hyperparameters on Ray Tune, every trial's seeds trained
as one population, then a results table, the best configuration and plots.

Ray does the scheduling, placement and fault tolerance: a local Ray with the cores available
(dashboard off) unless --address joins a cluster; trials are placed with their `resources`;
a trial whose worker dies restarts from its last checkpoint (`max_failures`); an interrupted
sweep continues with --resume, finished trials kept. The sweep folder (--out/<name>):
tune/ (Ray Tune's experiment), trials/<trial id>/ (each trial's population: a run directory per
seed), results.md and results.csv (every trial: values, metric over seeds with a 95 % bootstrap
interval, status, steps trained; best first), best.yaml (the best trial's config, for
`ddpg train --config`), curves.png (the best trials' learning curves) and metric.png (the metric
against each searched field).
"""

from __future__ import annotations

import argparse
import dataclasses
import csv
import io
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ddpg import config as cfgmod
from ddpg.distributed.cluster import join_ray
from ddpg.errors import EXIT_STATUS, ConfigError
from ddpg.fileio import atomic_write_bytes
from ddpg.sweep.spec import Sweep, load_sweep
from ddpg.sweep.trial import run_trial

TUNE_DIR = "tune"


def _distribution(kind: str, values: list[Any]) -> Any:
    from ray import tune

    return {"grid": tune.grid_search, "choice": tune.choice}[kind](values) \
        if kind in ("grid", "choice") else \
        {"uniform": tune.uniform, "loguniform": tune.loguniform,
         "randint": tune.randint}[kind](*values)


def _trainable(sweep: Sweep, folder: Path) -> Any:
    from ray import tune

    # torch threads: the trial's CPUs, not the machine's cores (trials share the machine)
    threads = max(1, int(sweep.resources.get("cpu", 1)))
    base = cfgmod.to_dict(dataclasses.replace(sweep.base, threads=threads))
    fn = tune.with_parameters(run_trial, base=base, seeds=sweep.seeds, metric=sweep.metric,
                              reduce=sweep.reduce, folder=str(folder))
    return tune.with_resources(fn, dict(sweep.resources))


def run_sweep(sweep: Sweep, out: str | Path, *, address: str | None = None,
              resume: bool = False, num_cpus: int | None = None, verbose: int = 1) -> Path:
    """Run (or with `resume`, continue) the sweep; returns its folder with the results."""
    from ray import tune

    folder = (Path(out) / sweep.name).resolve()
    experiment = folder / TUNE_DIR
    if resume and not experiment.is_dir():
        raise ConfigError(f"--resume: {experiment} holds no sweep to continue; run it without "
                          f"--resume first.")
    if not resume and experiment.exists():
        raise ConfigError(f"{folder} already holds this sweep; continue it with --resume, or "
                          f"give it another name (the file's name: key) or --out.")
    join_ray(address or "", num_cpus)  # an unreachable --address fails before the folder exists
    folder.mkdir(parents=True, exist_ok=True)
    trainable = _trainable(sweep, folder)
    if resume:
        tuner = tune.Tuner.restore(str(experiment), trainable, resume_unfinished=True,
                                   resume_errored=True)
    else:
        search_alg = scheduler = None
        if sweep.search == "optuna":
            from ray.tune.search.optuna import OptunaSearch

            search_alg = OptunaSearch(seed=0)
        if sweep.asha is not None:
            from ray.tune.schedulers import ASHAScheduler

            scheduler = ASHAScheduler(time_attr="training_iteration",
                                      max_t=max(1, sweep.base.total_steps
                                                // sweep.base.eval_every),
                                      **sweep.asha)
        space = {k: _distribution(kind, v) for k, (kind, v) in sweep.space.items()}
        tuner = tune.Tuner(
            trainable, param_space=space,
            tune_config=tune.TuneConfig(metric="score", mode="max", search_alg=search_alg,
                                        scheduler=scheduler, num_samples=sweep.samples),
            run_config=tune.RunConfig(name=TUNE_DIR, storage_path=str(folder), verbose=verbose,
                                      failure_config=tune.FailureConfig(
                                          max_failures=sweep.max_failures)))
    grid = tuner.fit()
    write_results(sweep, folder, [_row(sweep, r) for r in grid])
    return folder


def _row(sweep: Sweep, result: Any) -> dict[str, Any]:
    m = result.metrics or {}
    params = {k: (result.config or {}).get(k) for k in sweep.space}
    step = int(m.get("step") or 0)
    status = ("error" if result.error is not None else
              "finished" if step >= sweep.base.total_steps else "stopped early")
    return {"params": params, "score": m.get("score", -math.inf),
            "returns": list(m.get("returns") or []), "status": status, "step": step,
            "population": m.get("population"), "node": m.get("node")}


def _interval(returns: list[float], reduce: str) -> tuple[float, float]:
    from ddpg.bench.stats import iqm, stratified_bootstrap_ci

    if len(returns) < 2:
        return (returns[0], returns[0]) if returns else (math.nan, math.nan)
    est = stratified_bootstrap_ci({"trial": returns}, iqm if reduce == "iqm" else np.mean,
                                  rng=np.random.default_rng(0))
    return est.low, est.high


def write_results(sweep: Sweep, folder: Path, rows: list[dict[str, Any]]) -> None:
    rows = sorted(rows, key=lambda r: (-r["score"] if math.isfinite(r["score"]) else math.inf))
    keys = list(sweep.space)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rank", *keys, "metric", "ci_low", "ci_high", "seeds", "status", "steps",
                     "trial", "node"])
    label = f"{sweep.metric} return, {sweep.reduce} over {len(sweep.seeds)} seeds"
    lines = [f"# Sweep {sweep.name}", "",
             f"{sweep.base.env}, {sweep.base.algo.upper()}, {sweep.base.total_steps} steps per "
             f"seed, seeds {sweep.seeds}; search {sweep.search}"
             + (f", ASHA {sweep.asha}" if sweep.asha else "") + f"; metric: {label} "
             "[95 % bootstrap interval over seeds]. Best first.", "",
             "| rank | " + " | ".join(keys) + " | metric [95 % CI] | status | steps | trial |",
             "|---|" + "---|" * (len(keys) + 4)]
    for i, r in enumerate(rows, 1):
        low, high = _interval(r["returns"], sweep.reduce)
        trial = Path(r["population"]).name if r["population"] else ""
        values = [_fmt(r["params"][k]) for k in keys]
        writer.writerow([i, *values, r["score"], low, high, len(r["returns"]), r["status"],
                         r["step"], trial, r["node"] or ""])
        lines.append(f"| {i} | " + " | ".join(values) + f" | {r['score']:.1f} [{low:.1f}, "
                     f"{high:.1f}] | {r['status']} | {r['step']} | {trial} |")
    atomic_write_bytes(folder / "results.csv", out.getvalue().encode())
    finished = [r for r in rows if math.isfinite(r["score"])]
    if finished:
        best = sweep.config_for(finished[0]["params"])
        best = dataclasses.replace(best, out="runs", run_name="", progress=True)
        best_path = folder / "best.yaml"
        atomic_write_bytes(best_path, (
            f"# best of sweep {sweep.name} ({label}: {finished[0]['score']:.1f}); "
            f"ddpg train --config best.yaml\n" + cfgmod.to_yaml(best)).encode())
        if best_path.is_relative_to(Path.cwd()):  # as the user would type it from here
            best_path = best_path.relative_to(Path.cwd())
        lines += ["", f"Best configuration: [best.yaml](best.yaml) "
                      f"(`ddpg train --config {best_path}`)."]
        lines += _plots(sweep, folder, finished)
    atomic_write_bytes(folder / "results.md", ("\n".join(lines) + "\n").encode())


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _plots(sweep: Sweep, folder: Path, rows: list[dict[str, Any]], k: int = 3) -> list[str]:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return ["", "(no plots: matplotlib is not installed)"]
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.subplots()
    for r in rows[:k]:
        steps, means = _curve(r["population"])
        if steps.size:
            ax.plot(steps, means, label=", ".join(f"{n}={_fmt(v)}" for n, v in r["params"].items()))
    ax.set_xlabel("environment steps")
    ax.set_ylabel("noise-free evaluation return (mean over seeds)")
    ax.legend(fontsize=7)
    fig.savefig(folder / "curves.png", dpi=120)
    fig = Figure(figsize=(4.2 * len(sweep.space), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(sweep.space)))
    for ax, (name, (kind, _)) in zip(axes, sweep.space.items()):
        xs = [r["params"][name] for r in rows]
        if all(isinstance(x, (int, float)) for x in xs):
            ax.scatter(xs, [r["score"] for r in rows])
            if kind == "loguniform" or (min(xs) > 0 and max(xs) / min(xs) >= 10):
                ax.set_xscale("log")
        else:
            labels = sorted({str(x) for x in xs})
            ax.scatter([labels.index(str(x)) for x in xs], [r["score"] for r in rows])
            ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel(name)
        ax.set_ylabel(f"{sweep.metric} return ({sweep.reduce})")
    fig.savefig(folder / "metric.png", dpi=120)
    return ["", f"Learning curves of the best {min(k, len(rows))} trials: ![](curves.png)", "",
            "The metric against each searched field: ![](metric.png)"]


def _curve(population: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean evaluation return over a trial's members at the steps they all evaluated."""
    if not population:
        return np.zeros(0), np.zeros(0)
    curves = []
    for metrics in sorted(Path(population).glob("*/metrics.csv")):
        with open(metrics, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("eval_return_mean")]
        curves.append({int(r["step"]): float(r["eval_return_mean"]) for r in rows})
    common = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    return np.array(common), np.array([np.mean([c[s] for c in curves]) for s in common])


def sweep_main(argv: list[str]) -> int:
    """search hyperparameters on Ray Tune (the ray extra), each trial's seeds as one population.

    `ddpg sweep SWEEP.yaml [--out DIR] [--address auto|HOST:PORT] [--resume]`."""
    p = argparse.ArgumentParser(prog="ddpg sweep", description=__doc__.split("\n\n")[0] + (
        " The file's format: ddpg/sweep/spec.py (python -c 'import ddpg.sweep.spec as s; "
        "print(s.__doc__)')."), formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1] + "\n" + EXIT_STATUS)
    p.add_argument("sweep", type=Path, metavar="SWEEP.yaml")
    p.add_argument("--out", type=Path, default=Path("sweeps"),
                   help="parent of the sweep's folder (default: sweeps)")
    p.add_argument("--address", default=None,
                   help="join this Ray cluster ('auto' or HOST:PORT); default: a local Ray "
                        "with the cores available")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted sweep; finished trials are kept")
    p.add_argument("--cpus", type=int, default=None,
                   help="CPUs of the local Ray (default: the cores available)")
    a = p.parse_args(argv)
    try:
        from ray import tune
    except ImportError:
        print("ddpg sweep: error: Ray Tune is not installed; pip install -e '.[ray]'.",
              file=sys.stderr)
        return 2
    del tune
    sweep = load_sweep(a.sweep)
    folder = run_sweep(sweep, a.out, address=a.address, resume=a.resume, num_cpus=a.cpus)
    print((folder / "results.md").read_text())
    print(f"sweep: {folder} (results.md, results.csv, best.yaml, trials/)")
    return 0
