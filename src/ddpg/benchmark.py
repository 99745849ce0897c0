"""`ddpg benchmark SUITE.yaml`: every (env, algo, seed, library) of a suite as its own subprocess,
resumable, then a markdown report of final and area-under-curve returns (IQM with 95 % stratified
bootstrap CIs, ddpg.stats), published figures and the learning-curve and Q plots (ddpg.plot).

The suite file's format: ddpg.suite.

Run directories: RESULTS/<suite>/ddpg/<algo>-<env>-s<seed> (`ddpg train`) and
RESULTS/<suite>/sb3/<algo>-<env>-s<seed> (`python -m ddpg.baselines`); their output goes to
RESULTS/<suite>/logs/. A run whose metrics.csv reached its final step is skipped; an unfinished
ddpg run with a checkpoint before the end is continued with `ddpg train --resume`; any other
unfinished run starts over.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from ddpg import config as cfgmod
from ddpg.baselines import override_args, resolve_config
from ddpg.config import Config
from ddpg.errors import BenchmarkError, ConfigError
from ddpg.report import PUBLISHED, final_row, load_published, write_report
from ddpg.suite import Entry, Suite, load_suite
from ddpg.untrusted import is_within, read_regular

LIBRARIES = ("ddpg", "sb3")
# Not compared: where and how a run is shown, and settings that do not change its results
RUNTIME_KEYS = {"out", "run_name", "threads", "progress", "tensorboard", "fast_path", "cuda_graph"}


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

def _differences(job: Job) -> list[str]:
    """Settings in which the run directory's config.yaml differs from the job's config."""
    try:
        saved = yaml.safe_load(read_regular(job.run_dir / "config.yaml").decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
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
    results = job.run_dir.parents[2]  # RESULTS/<suite>/<library>/<run>
    if not is_within(job.run_dir, results):  # it is deleted and written: never elsewhere
        raise BenchmarkError(f"{job.run_dir} leads out of {results} through a symbolic link; "
                             f"replace the link by a directory or pass another --results.")
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


# --- command line --------------------------------------------------------------------------------

DESCRIPTION = """Run a benchmark suite: every (env, algo, seed) of SUITE.yaml as a `ddpg train`
subprocess into RESULTS/<suite>/ddpg/<algo>-<env>-s<seed>, and with --baseline sb3 also as
stable-baselines3 with the same settings (python -m ddpg.baselines) into RESULTS/<suite>/sb3/.
Resumable: finished runs are skipped, an interrupted ddpg run with a checkpoint is continued
(ddpg train --resume), other unfinished runs start over. Then writes a markdown report: per env
and (library, algo), the final and area-under-curve returns as interquartile mean over seeds
with 95 % stratified bootstrap CIs, published figures, and learning-curve and Q plots next to
the report. The report keeps one section per suite: running (or --report-only) a suite replaces
its section and keeps the other suites'. Each run's output goes to RESULTS/<suite>/logs/."""

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
  ddpg benchmark benchmarks/suites/halfcheetah.yaml --baseline sb3 --report-only

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
    [--report-only] [--dry-run]`."""
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
    p.add_argument("--report-only", action="store_true",
                   help="write the report from the runs finished so far; run nothing")
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
    finished = sum(act == "skip" for _, act, _ in actions)
    doing = (f"report only, {finished} finished" if a.report_only else
             f"{len(todo)} to run, {jobs_n} at a time with {threads} "
             f"thread{'s' if threads > 1 else ''} each" if todo else "all finished")
    print(f"suite {suite.name}: {len(jobs)} runs ({', '.join(libraries)}) in "
          f"{a.results / suite.name}; {doing}", flush=True)
    if a.dry_run:
        for job, act, why in actions:
            print(f"{'would ' + act:<14} {job.label}  {why}".rstrip())
        return 0
    runner = Runner(a.results / suite.name / "logs", threads)
    if not a.report_only:
        for job, act, why in actions:
            if act == "skip":
                print(f"{'skip':<8} {job.label}  {why}", flush=True)
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
