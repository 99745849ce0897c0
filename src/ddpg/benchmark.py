"""`ddpg benchmark SUITE.yaml`: every (env, algo, seed, library) of a suite as its own subprocess,
resumable, then a markdown report of final and area-under-curve returns (IQM with 95 % stratified
bootstrap CIs, ddpg.stats), published figures and the learning-curve and Q plots (ddpg.plot).

A suite file:

    name: pendulum
    runs:
      - env: Pendulum-v1
        algos: [ddpg, td3]
        seeds: 10            # seeds 0..9, or a list such as [0, 3, 7]
        steps: 20000
        eval_every: 1000
        eval_episodes: 10    # optional; else the preset's
        preset: pendulum     # optional; else each algo's tuned preset for the env
        overrides: {network.hidden-sizes: [64, 64], warmup-steps: 500}   # optional

Run directories: RESULTS/<suite>/ddpg/<algo>-<env>-s<seed> (`ddpg train`) and
RESULTS/<suite>/sb3/<algo>-<env>-s<seed> (`python -m ddpg.baselines`); their output goes to
RESULTS/<suite>/logs/. A run whose metrics.csv reached its final step is skipped; an unfinished
ddpg run with a checkpoint before the end is continued with `ddpg train --resume`; any other
unfinished run starts over.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml

from ddpg import config as cfgmod
from ddpg.baselines import override_args, resolve_config
from ddpg.config import Config
from ddpg.errors import ConfigError

LIBRARIES = ("ddpg", "sb3")
ALGOS = ("ddpg", "td3")
PUBLISHED = Path(__file__).resolve().parents[2] / "benchmarks" / "published.yaml"
# Config keys a suite sets through its own keys, or that only say where and how a run is shown.
SET_BY_SUITE = {"env": "env", "algo": "algos", "seed": "seeds", "total_steps": "steps",
                "eval_every": "eval_every", "eval_episodes": "eval_episodes", "preset": "preset",
                "out": "--results", "run_name": None, "threads": "--jobs", "progress": None}
RUNTIME_KEYS = {"out", "run_name", "threads", "progress", "tensorboard"}  # not compared


class BenchmarkError(ConfigError):
    """A bad suite or published-figures file, or results that do not fit the suite."""


@dataclass(frozen=True)
class Entry:
    env: str
    algos: tuple[str, ...]
    seeds: tuple[int, ...]
    steps: int
    eval_every: int
    eval_episodes: int | None = None
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    entries: tuple[Entry, ...]
    path: Path


@dataclass(frozen=True, eq=False)
class Job:
    """One run: a (library, algo, env, seed) of a suite entry, its config and its directory."""

    library: str
    entry: Entry
    algo: str
    seed: int
    config: Config
    run_dir: Path

    @property
    def label(self) -> str:
        return f"{self.library:<4} {self.run_dir.name}"


# --- the suite file ------------------------------------------------------------------------------

def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _flatten(overrides: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{network: {hidden-sizes: [8]}} -> {network.hidden-sizes: [8]}: one flag per value."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _entry(i: int, e: Any, where: str) -> Entry:
    at = f"{where}: runs[{i}]"
    if not isinstance(e, dict):
        raise BenchmarkError(f"{at} is {e!r}; each entry is a mapping with env, algos, seeds, "
                             f"steps and eval_every.")
    required, optional = ("env", "algos", "seeds", "steps", "eval_every"), \
        ("eval_episodes", "preset", "overrides")
    for key in e:
        if key not in required + optional:
            hint = cfgmod._suggest(str(key), [*required, *optional])
            raise BenchmarkError(f"{at}: unknown key {key!r}.{hint} Valid keys: "
                                 f"{', '.join(required + optional)}.")
    for key in required:
        if key not in e:
            raise BenchmarkError(f"{at}: the key {key!r} is missing.")

    def bad(key: str, rule: str) -> BenchmarkError:
        return BenchmarkError(f"{at}: {key}={e[key]!r} is invalid: {rule}.")

    if not isinstance(e["env"], str) or not e["env"]:
        raise bad("env", "give a gymnasium environment id such as Pendulum-v1")
    import gymnasium as gym

    if e["env"] not in gym.registry:
        hint = cfgmod._suggest(e["env"], list(gym.registry))
        raise BenchmarkError(f"{at}: env={e['env']!r} is not a registered gymnasium id.{hint} "
                             f"Use an id such as Pendulum-v1 or HalfCheetah-v5.")
    algos = e["algos"] if isinstance(e["algos"], list) else [e["algos"]]
    if not algos or any(a not in ALGOS for a in algos) or len(set(algos)) < len(algos):
        raise bad("algos", f"give a list of distinct algorithms out of {', '.join(ALGOS)}")
    seeds = e["seeds"]
    if _int(seeds) and seeds >= 1:
        seeds = list(range(seeds))
    elif not (isinstance(seeds, list) and seeds and all(_int(s) and s >= 0 for s in seeds)
              and len(set(seeds)) == len(seeds)):
        raise bad("seeds", "give a count N >= 1 (seeds 0..N-1) or a list of distinct seeds >= 0")
    for key, low in (("steps", 1), ("eval_every", 0), ("eval_episodes", 1)):
        if key in e and not (_int(e[key]) and e[key] >= low):
            raise bad(key, f"use an integer >= {low}")
    if "preset" in e and e["preset"] not in cfgmod.PRESETS:
        hint = cfgmod._suggest(str(e["preset"]), list(cfgmod.PRESETS))
        raise BenchmarkError(f"{at}: preset={e['preset']!r} is not a preset.{hint} Use one of "
                             f"{', '.join(cfgmod.PRESETS)} (see `ddpg presets`).")
    overrides = e.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise bad("overrides", "give a mapping of `ddpg train` flags without the dashes, e.g. "
                  "{network.hidden-sizes: [64, 64], warmup-steps: 100}")
    overrides = _flatten(overrides)
    for key in overrides:
        name = str(key).replace("-", "_")
        if name in SET_BY_SUITE:
            own = SET_BY_SUITE[name]
            hint = f"use the entry's {own!r} key" if own and not own.startswith("--") else \
                f"the benchmark sets it ({own})" if own else "the benchmark sets it"
            raise BenchmarkError(f"{at}: overrides: {key!r} cannot be overridden: {hint}.")
    return Entry(e["env"], tuple(algos), tuple(seeds), e["steps"], e["eval_every"],
                 e.get("eval_episodes"), e.get("preset"), dict(overrides))


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite file; BenchmarkError names the bad key and value."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as e:
        raise BenchmarkError(f"cannot read the suite file {str(p)!r}: {e.strerror or e}.") from e
    except yaml.YAMLError as e:
        raise BenchmarkError(f"the suite file {str(p)!r} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise BenchmarkError(f"{p}: expected a mapping with the keys name and runs, got {data!r}.")
    for key in data:
        if key not in ("name", "runs", "description"):
            hint = cfgmod._suggest(str(key), ["name", "runs", "description"])
            raise BenchmarkError(f"{p}: unknown key {key!r}.{hint} A suite has the keys name, "
                                 f"runs and optionally description.")
    name = data.get("name")
    if not (isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name)):
        raise BenchmarkError(f"{p}: name={name!r} is invalid: give a name of letters, digits, "
                             f"'_', '.' or '-' that starts with a letter or digit (it names the "
                             f"results directory).")
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs:
        raise BenchmarkError(f"{p}: runs={runs!r} is invalid: give a list of one or more "
                             f"entries with env, algos, seeds, steps and eval_every.")
    return Suite(name, tuple(_entry(i, e, str(p)) for i, e in enumerate(runs)), p)


def plan(suite: Suite, results: Path, libraries: Sequence[str]) -> list[Job]:
    """Every (entry, algo, seed, library) as a Job with its resolved config; the config is the
    one `ddpg train` resolves from the same flags, so invalid overrides fail here."""
    jobs: list[Job] = []
    seen: dict[Path, int] = {}
    for i, e in enumerate(suite.entries):
        for algo in e.algos:
            for seed in e.seeds:
                flags = {**e.overrides, "seed": seed, "total-steps": e.steps,
                         "eval-every": e.eval_every}
                if e.eval_episodes is not None:
                    flags["eval-episodes"] = e.eval_episodes
                try:
                    config = resolve_config(e.env, algo, e.preset, flags, "overrides")
                except ConfigError as err:
                    raise BenchmarkError(f"{suite.path}: runs[{i}] ({algo}, seed {seed}): {err}")
                name = f"{algo}-{e.env.replace('/', '_')}-s{seed}"
                for lib in libraries:
                    run_dir = results / suite.name / lib / name
                    if run_dir in seen:
                        raise BenchmarkError(f"{suite.path}: runs[{i}] repeats {algo} on {e.env} "
                                             f"with seed {seed} of runs[{seen[run_dir]}].")
                    seen[run_dir] = i
                    jobs.append(Job(lib, e, algo, seed, config, run_dir))
    return jobs


# --- state of a run directory --------------------------------------------------------------------

def final_row(run_dir: Path) -> dict[str, float] | None:
    """The metrics.csv row with the largest step, of the rows with every column (a killed run
    can leave a partial last line); None without one."""
    import csv

    try:
        with open(run_dir / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    best = None
    for r in rows:
        if None in r or None in r.values():  # too many or too few fields
            continue
        try:
            row = {"step": float(r["step"]), "eval_return_mean": float(r["eval_return_mean"])}
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(row["eval_return_mean"]) and (best is None
                                                       or row["step"] >= best["step"]):
            best = row
    return best


def _differences(job: Job) -> list[str]:
    """Settings in which the run directory's config.yaml differs from the job's config."""
    try:
        saved = yaml.safe_load((job.run_dir / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return []
    if not isinstance(saved, dict):
        return []
    out: list[str] = []

    def walk(want: dict, have: dict, prefix: str) -> None:
        for k, v in want.items():
            if prefix == "" and k in RUNTIME_KEYS:
                continue
            if isinstance(v, dict) and isinstance(have.get(k), dict):
                walk(v, have[k], f"{prefix}{k}.")
            elif have.get(k, v) != v:
                out.append(f"{prefix}{k}: {have.get(k)!r} there, {v!r} in the suite")

    walk(cfgmod.to_dict(job.config), saved, "")
    return out


def inspect(job: Job) -> tuple[str, str]:
    """(action, why): 'skip' a finished run, 'resume' a ddpg run from its checkpoint, 'restart'
    an unfinished one, 'start' a new one."""
    if not job.run_dir.exists():
        return "start", ""
    differ = _differences(job)
    if differ:
        raise BenchmarkError(
            f"{job.run_dir} was run with other settings ({'; '.join(differ[:3])}); delete it or "
            f"pass another --results directory.")
    row = final_row(job.run_dir)
    total = job.config.total_steps
    if row is not None and row["step"] >= total:
        return "skip", f"finished, final return {row['eval_return_mean']:.1f}"
    reached = f"step {int(row['step'])} of {total}" if row else f"no evaluation yet, {total} " \
        f"steps planned"
    if job.library == "ddpg":
        from ddpg.checkpoint import CheckpointManager

        steps = CheckpointManager(job.run_dir / "checkpoints").steps()
        if steps and max(steps) < total:
            return "resume", f"unfinished ({reached}), from the checkpoint of step {max(steps)}"
        return "restart", f"unfinished ({reached}), no checkpoint to resume from: starting over"
    return "restart", f"unfinished ({reached}), sb3 runs cannot be resumed: starting over"


# --- running -------------------------------------------------------------------------------------

def command(job: Job, action: str, threads: int) -> list[str]:
    """The subprocess that runs (or, with action 'resume', continues) the job."""
    e = job.entry
    if job.library == "ddpg" and action == "resume":
        return [sys.executable, "-m", "ddpg.cli", "train", "--resume", str(job.run_dir)]
    common = ["--env", e.env, "--algo", job.algo, *(["--preset", e.preset] if e.preset else []),
              "--seed", str(job.seed), "--total-steps", str(e.steps),
              "--eval-every", str(e.eval_every),
              *(["--eval-episodes", str(e.eval_episodes)] if e.eval_episodes else [])]
    if job.library == "sb3":
        return [sys.executable, "-m", "ddpg.baselines", *common, *override_args(e.overrides),
                "--threads", str(threads), "--run-dir", str(job.run_dir)]
    return [sys.executable, "-m", "ddpg.cli", "train", *common, *train_flags(e.overrides),
            "--out", str(job.run_dir.parent), "--run-name", job.run_dir.name, "--no-progress",
            "--threads", str(threads)]


def train_flags(overrides: dict[str, Any]) -> list[str]:
    """`ddpg train` flags for {flag name without dashes: value}, as tyro spells them."""
    out: list[str] = []
    for key, value in overrides.items():
        parts = [p.replace("_", "-") for p in str(key).split(".")]
        if isinstance(value, bool):
            if not value:
                parts[-1] = f"no-{parts[-1]}"
            out.append("--" + ".".join(parts))
        elif isinstance(value, (list, tuple)):
            out += ["--" + ".".join(parts), *map(str, value)]
        else:
            out += ["--" + ".".join(parts), str(value)]
    return out


class Runner:
    """Runs jobs in parallel subprocesses and prints one line per run event. The subprocesses
    have their own sessions: a Ctrl-C or SIGTERM reaches them once, through `interrupt`."""

    def __init__(self, log_dir: Path, threads: int) -> None:
        self.log_dir, self.threads = log_dir, threads
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.failed: list[Job] = []
        self.live: set[subprocess.Popen] = set()

    def interrupt(self) -> None:
        """Start no more runs; SIGINT to the running ones (ddpg checkpoints and exits; a second
        call makes it exit at once)."""
        self.stop.set()
        with self.lock:
            for proc in self.live:
                proc.send_signal(signal.SIGINT)

    def say(self, verb: str, job: Job, text: str = "") -> None:
        with self.lock:
            print(f"{verb:<8} {job.label}  {text}".rstrip(), flush=True)

    def _attempt(self, job: Job, action: str) -> int:
        if action == "restart":
            shutil.rmtree(job.run_dir, ignore_errors=True)
        log = self.log_dir / f"{job.library}-{job.run_dir.name}.log"
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads)}
        cmd = command(job, action, self.threads)
        with open(log, "a") as f:
            f.write(f"$ {shlex.join(cmd)}\n")
            f.flush()
            with self.lock:
                if self.stop.is_set():
                    return 130
                proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env,
                                        start_new_session=True)
                self.live.add(proc)
            try:
                return proc.wait()
            finally:
                with self.lock:
                    self.live.discard(proc)

    def run(self, job: Job, action: str, why: str) -> None:
        if self.stop.is_set():
            return
        start = time.perf_counter()
        self.say(action, job, why)
        rc = self._attempt(job, action)
        row = final_row(job.run_dir)
        done = rc == 0 and row is not None and row["step"] >= job.config.total_steps
        if not done and action == "resume" and rc not in (130, 143) and not self.stop.is_set():
            self.say("restart", job, f"resuming failed (exit {rc}): starting over")
            rc = self._attempt(job, "restart")
            row = final_row(job.run_dir)
            done = rc == 0 and row is not None and row["step"] >= job.config.total_steps
        seconds = time.perf_counter() - start
        if done:
            self.say("done", job, f"final return {row['eval_return_mean']:.1f} ({seconds:.1f} s)")
            return
        if rc in (130, 143) or self.stop.is_set():
            self.say("stopped", job, f"interrupted (exit {rc}) after {seconds:.1f} s")
            return
        with self.lock:
            self.failed.append(job)
        log = self.log_dir / f"{job.library}-{job.run_dir.name}.log"
        last = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        self.say("failed", job, f"exit {rc} after {seconds:.1f} s; see {log}"
                 + (f" (last line: {last[0][:200]})" if last else ""))


# --- the report ----------------------------------------------------------------------------------

def load_published(path: Path) -> list[dict[str, Any]]:
    """Entries {source, algo, env, steps, value[, note]} of the published-figures file."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError:
        return []
    except yaml.YAMLError as e:
        raise BenchmarkError(f"{path} is not valid YAML: {e}") from e
    entries = data.get("published") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise BenchmarkError(f"{path}: expected a key 'published' with a list of entries.")
    for i, p in enumerate(entries):
        missing = [k for k in ("source", "algo", "env", "steps", "value")
                   if not isinstance(p, dict) or k not in p]
        if missing:
            raise BenchmarkError(f"{path}: published[{i}] lacks {', '.join(missing)}.")
    return entries


def _family(env: str) -> str:
    return env.split("-v")[0]


def _estimate(scores: list[float]) -> tuple[float, float, float]:
    from ddpg.stats import iqm, stratified_bootstrap_ci

    est = stratified_bootstrap_ci({"runs": scores}, iqm, rng=np.random.default_rng(0))
    return est.point, est.low, est.high


def _fmt(est: tuple[float, float, float]) -> str:
    return f"{est[0]:.1f} [{est[1]:.1f}, {est[2]:.1f}]"


def write_report(suite: Suite, jobs: list[Job], report: Path, command_line: str,
                 published: list[dict[str, Any]]) -> list[Path]:
    """Write the markdown report and its figures; returns the paths written."""
    import importlib.metadata

    import torch

    from ddpg import __version__
    from ddpg.plot import plot_learning_curves, plot_q_diagnostics, read_run
    from ddpg.stats import area_under_curve
    from ddpg.system import available_cores, cpu_flags, cpu_model

    finished = [j for j in jobs
                if (r := final_row(j.run_dir)) and r["step"] >= j.config.total_steps]
    flags = cpu_flags()
    try:
        sb3_version = importlib.metadata.version("stable-baselines3")
    except importlib.metadata.PackageNotFoundError:
        sb3_version = "not installed"
    lines = [f"# Benchmark: {suite.name}", "",
             f"- suite: `{suite.path}` ({len(finished)} of {len(jobs)} runs finished)",
             f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
             f"- machine: {cpu_model()} (AVX-512: {'avx512f' in flags}, native bf16: "
             f"{bool(flags & {'avx512_bf16', 'amx_bf16'})}), {available_cores()} cores "
             f"available; ddpg {__version__}, "
             f"torch {torch.__version__}, stable-baselines3 {sb3_version}",
             f"- command: `{command_line}`",
             "- final return: each run's last evaluation (mean noise-free return over its "
             "evaluation episodes); AUC return: the mean evaluation return over training (area "
             "under the learning curve divided by its span of steps). Both: interquartile mean "
             "over seeds with a 95 % stratified bootstrap confidence interval (2000 resamples, "
             "numpy generator seed 0).", ""]
    written: list[Path] = []
    runs = {j: read_run(j.run_dir) for j in finished}
    for env in dict.fromkeys(j.entry.env for j in jobs):
        env_jobs = [j for j in finished if j.entry.env == env]
        lines += [f"## {env}", "", "| library | algo | preset | steps | runs | final return "
                  "IQM [95 % CI] | AUC return IQM [95 % CI] |", "|---|---|---|---|---|---|---|"]
        groups: dict[tuple[str, str, str, int], list[Job]] = {}
        for j in env_jobs:
            groups.setdefault((j.library, j.algo, j.config.preset, j.config.total_steps),
                              []).append(j)
        final: dict[tuple[str, str, str, int], tuple[float, float, float]] = {}
        for key, members in groups.items():
            ms = [runs[j].metrics for j in members]
            final[key] = _estimate([m["eval_return_mean"][-1] for m in ms])
            auc = _estimate([float(area_under_curve(m["step"], m["eval_return_mean"]))
                             for m in ms])
            lines.append(f"| {key[0]} | {key[1].upper()} | {key[2]} | {key[3]} | {len(members)} "
                         f"| {_fmt(final[key])} | {_fmt(auc)} |")
        if not groups:
            lines.append("| (no finished run) | | | | | | |")
        lines.append("")
        for (lib, algo, preset, steps), est in final.items():
            other = final.get(("sb3", algo, preset, steps))
            if lib != "ddpg" or other is None:
                continue
            verdict = "lies above" if est[1] > other[2] else \
                "lies below" if est[2] < other[1] else "overlaps"
            lines.append(f"- {algo.upper()} ({preset}, {steps} steps): ddpg's final-return CI "
                         f"[{est[1]:.1f}, {est[2]:.1f}] {verdict} sb3's [{other[1]:.1f}, "
                         f"{other[2]:.1f}].")
        pub = [p for p in published if _family(str(p["env"])) == _family(env)]
        if pub:
            lines += ["", f"Published figures for {_family(env)} (`benchmarks/published.yaml`; "
                      f"other env versions and step counts are not directly comparable):", "",
                      "| source | algo | env | steps | return |", "|---|---|---|---|---|"]
            lines += [f"| {p['source']} | {str(p['algo']).upper()} | {p['env']} | {p['steps']} | "
                      f"{p['value']}{' (' + p['note'] + ')' if p.get('note') else ''} |"
                      for p in pub]
        if env_jobs:
            prefix = report.parent / f"{report.stem}_{suite.name}_{env.replace('/', '_')}"
            refs = {f"{p['source'].split(',')[0]} {str(p['algo']).upper()}": float(p["value"])
                    for p in pub if p["env"] == env and int(p["steps"]) in
                    {j.config.total_steps for j in env_jobs}}
            env_runs = [runs[j] for j in env_jobs]
            curves = plot_learning_curves(env_runs, prefix, refs, title=f"suite {suite.name}",
                                          rng=np.random.default_rng(0))
            q = plot_q_diagnostics(env_runs, f"{prefix}_q", title=f"suite {suite.name}")
            written += curves + q
            lines += ["", f"![learning curves, {env}]({curves[0].name}) ([svg]({curves[1].name}))"]
            if q:
                lines += ["", f"![critic estimate against Monte-Carlo return, {env}]({q[0].name}) "
                          f"([svg]({q[1].name}))"]
        lines.append("")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(lines))
    return [report, *written]


# --- command line --------------------------------------------------------------------------------

DESCRIPTION = """Run a benchmark suite: every (env, algo, seed) of SUITE.yaml as a `ddpg train`
subprocess into RESULTS/<suite>/ddpg/<algo>-<env>-s<seed>, and with --baseline sb3 also as
stable-baselines3 with the same settings (python -m ddpg.baselines) into RESULTS/<suite>/sb3/.
Resumable: finished runs are skipped, an interrupted ddpg run with a checkpoint is continued
(ddpg train --resume), other unfinished runs start over. Then writes a markdown report: per env
and (library, algo), the final and area-under-curve returns as interquartile mean over seeds
with 95 % stratified bootstrap CIs, published figures, and learning-curve and Q plots next to
the report. Each run's output goes to RESULTS/<suite>/logs/."""

EPILOG = """suite file (YAML):
  name: pendulum
  runs:
    - env: Pendulum-v1
      algos: [ddpg, td3]
      seeds: 10                 # seeds 0..9, or a list such as [0, 3]
      steps: 20000
      eval_every: 1000
      eval_episodes: 10         # optional (default: the preset's)
      preset: pendulum          # optional (default: each algo's tuned preset for the env)
      overrides: {network.hidden-sizes: [64, 64], warmup-steps: 500}   # optional train flags

examples:
  ddpg benchmark benchmarks/suites/pendulum.yaml --baseline sb3
  ddpg benchmark benchmarks/suites/tiny.yaml --results /tmp/bench --report /tmp/bench/tiny.md
  ddpg benchmark benchmarks/suites/halfcheetah.yaml --baseline sb3 --dry-run

exit status: 0 all runs finished, 1 a run failed (the report covers the finished ones),
2 bad input (suite file, results that were run with other settings), 130 interrupted (run the
same command again to continue)."""


def _run_all(runner: Runner, todo: list[tuple[Job, str, str]], jobs: int) -> bool:
    """Run the jobs, `jobs` at a time; False if interrupted by SIGINT or SIGTERM (also when the
    benchmark was started in the background, where SIGINT arrives ignored)."""
    from ddpg.system import interruptible

    with interruptible():
        pool = ThreadPoolExecutor(jobs)
        try:
            for f in [pool.submit(runner.run, *t) for t in todo]:
                f.result()
            pool.shutdown()
            return True
        except KeyboardInterrupt:
            runner.interrupt()
            while True:
                try:
                    pool.shutdown(wait=True, cancel_futures=True)
                    return False
                except KeyboardInterrupt:  # again: the runs stop without their checkpoint
                    runner.interrupt()


def benchmark_main(argv: list[str]) -> int:
    """`ddpg benchmark SUITE.yaml [--results DIR] [--baseline sb3] [--jobs N] [--report FILE]
    [--dry-run]`."""
    from ddpg.system import available_cores

    cores = available_cores()
    p = argparse.ArgumentParser(prog="ddpg benchmark", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("suite", type=Path, metavar="SUITE.yaml", help="the suite file")
    p.add_argument("--results", type=Path, default=Path("benchmarks/results"), metavar="DIR",
                   help="parent of the suite's results directory (default: benchmarks/results)")
    p.add_argument("--baseline", choices=("sb3",), default=None,
                   help="also run stable-baselines3 with the same settings (default: ddpg only)")
    p.add_argument("--jobs", type=int, default=cores, metavar="N",
                   help=f"runs in parallel, each with max(1, cores // N) torch threads "
                        f"(default: the {cores} available cores)")
    p.add_argument("--report", type=Path, default=Path("docs/results.md"), metavar="FILE",
                   help="markdown report to write; its figures go next to it as "
                        "<FILE stem>_<suite>_<env>.png/.svg (default: docs/results.md)")
    p.add_argument("--published", type=Path, default=PUBLISHED, metavar="FILE",
                   help="published figures to quote (default: benchmarks/published.yaml of "
                        "the ddpg source tree)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs and whether each would be skipped, resumed or started; "
                        "run nothing, write nothing")
    try:
        a = p.parse_args(list(argv))
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    if a.jobs < 1:
        print(f"ddpg benchmark: error: --jobs {a.jobs}: use 1 or more.", file=sys.stderr)
        return 2
    libraries = ("ddpg", *([a.baseline] if a.baseline else []))
    try:
        suite = load_suite(a.suite)
        jobs = plan(suite, a.results, libraries)
        actions = [(job, *inspect(job)) for job in jobs]
        published = load_published(a.published)
    except BenchmarkError as e:
        print(f"ddpg benchmark: error: {e}", file=sys.stderr)
        return 2
    if a.baseline == "sb3":
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            print("ddpg benchmark: error: --baseline sb3 needs stable-baselines3; "
                  "pip install -e '.[bench]'.", file=sys.stderr)
            return 2
    todo = [(j, act, why) for j, act, why in actions if act != "skip"]
    jobs_n, threads = max(1, min(a.jobs, len(todo))), max(1, cores // a.jobs)
    doing = f"{len(todo)} to run, {jobs_n} at a time with {threads} " \
        f"thread{'s' if threads > 1 else ''} each" if todo else "all finished"
    print(f"suite {suite.name}: {len(jobs)} runs ({', '.join(libraries)}) in "
          f"{a.results / suite.name}; {doing}", flush=True)
    if a.dry_run:
        for job, act, why in actions:
            print(f"{'would ' + act:<14} {job.label}  {why}".rstrip())
        return 0
    for job, act, why in actions:
        if act == "skip":
            print(f"{'skip':<8} {job.label}  {why}", flush=True)
    runner = Runner(a.results / suite.name / "logs", threads)
    runner.log_dir.mkdir(parents=True, exist_ok=True)
    if not _run_all(runner, todo, jobs_n):
        print("ddpg benchmark: interrupted; run the same command again to continue.",
              file=sys.stderr)
        return 130
    command_line = shlex.join(["ddpg", "benchmark", *argv])
    try:
        written = write_report(suite, jobs, a.report, command_line, published)
    except OSError as e:
        print(f"ddpg benchmark: error: cannot write the report {a.report}: {e.strerror or e}.",
              file=sys.stderr)
        return 1
    print(f"report: {written[0]}" + (f" (figures: {', '.join(str(w) for w in written[1:])})"
                                     if written[1:] else ""))
    if runner.failed:
        print(f"ddpg benchmark: {len(runner.failed)} run(s) failed; their logs are in "
              f"{runner.log_dir}. Run the same command again to retry them.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(benchmark_main(sys.argv[1:]))
