"""`ddpg benchmark SUITE.yaml`: every (env, algo, seed, library) of a suite as its own subprocess,
resumable, then a markdown report of final and area-under-curve returns (IQM with 95 % stratified
bootstrap CIs, ddpg.bench.stats), published figures and the learning-curve and Q plots
(ddpg.bench.plot).

The suite file's format: ddpg.bench.suite.

Run directories: RESULTS/<suite>/ddpg/<algo>-<env>/s<seed> (an entry's seeds as one population,
`ddpg train --seeds`; with --no-population RESULTS/<suite>/ddpg/<algo>-<env>-s<seed>, a process
per seed) and
RESULTS/<suite>/sb3/<algo>-<env>-s<seed> (`python -m ddpg.bench.baselines`); their output goes to
RESULTS/<suite>/logs/. A run whose metrics.csv reached its final step is skipped; an unfinished
ddpg run with a checkpoint before the end is continued with `ddpg train --resume`; any other
unfinished run starts over.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ddpg.bench.jobs import Job, PopulationJob, inspect, plan, populations
from ddpg.bench.report import PUBLISHED, load_published, write_report
from ddpg.bench.runner import Runner
from ddpg.bench.suite import load_suite
from ddpg.errors import EXIT_STATUS, BenchmarkError
from ddpg.system import available_cores, interruptible

DESCRIPTION = """Run a benchmark suite: the seeds of every (env, algo) of SUITE.yaml as one `ddpg
train --seeds` population into RESULTS/<suite>/ddpg/<algo>-<env>/s<seed> (--no-population: a
subprocess per seed into RESULTS/<suite>/ddpg/<algo>-<env>-s<seed>), and with --baseline sb3 also as
stable-baselines3 with the same settings (python -m ddpg.bench.baselines) into RESULTS/<suite>/sb3/.
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

""" + EXIT_STATUS + """
After 1 (a run failed: the report covers the finished ones) or 130, run the same command
again to retry or continue."""


def _run_all(runner: Runner, todo: list[tuple[Job | PopulationJob, str, str]],
             jobs: int) -> bool:
    """Run the jobs, `jobs` at a time; False if interrupted by SIGINT or SIGTERM (also when the
    benchmark was started in the background, where SIGINT arrives ignored)."""
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
    """run a suite (envs x algos x seeds) resumably, beside stable-baselines3 if asked, and
    write a results table (IQM with bootstrap CIs) with plots.

    `ddpg benchmark SUITE.yaml [--results DIR] [--baseline sb3] [--jobs N] [--report FILE]
    [--report-only] [--dry-run]`."""
    cores = available_cores()
    p = argparse.ArgumentParser(prog="ddpg benchmark", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("suite", type=Path, metavar="SUITE.yaml", help="the suite file")
    p.add_argument("--results", type=Path, default=Path("benchmarks/results"), metavar="DIR",
                   help="parent of the suite's results directory (default: benchmarks/results)")
    p.add_argument("--baseline", choices=("sb3",), default=None,
                   help="also run stable-baselines3 with the same settings (default: ddpg only)")
    p.add_argument("--jobs", type=int, default=cores, metavar="N",
                   help=f"runs in parallel, each with max(1, cores // N) torch threads (N at most "
                        f"the runs left to do) "
                        f"(default: the {cores} available cores)")
    p.add_argument("--report", type=Path, default=Path("docs/results.md"), metavar="FILE",
                   help="markdown report to write; its figures go next to it as "
                        "<FILE stem>_<suite>_<env>.png/.svg (default: docs/results.md)")
    p.add_argument("--published", type=Path, default=PUBLISHED, metavar="FILE",
                   help="published figures to quote (default: benchmarks/published.yaml of "
                        "the ddpg source tree)")
    p.add_argument("--no-population", action="store_true",
                   help="run each ddpg seed as its own process into <algo>-<env>-s<seed> "
                        "(default: an (env, algo) entry's seeds train as one population, "
                        "`ddpg train --seeds`, into <algo>-<env>/s<seed>)")
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
        jobs = plan(suite, a.results, libraries, population=not a.no_population)
        actions = populations([(job, *inspect(job)) for job in jobs])
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
    jobs_n = max(1, min(a.jobs, len(todo)))
    threads = max(1, cores // jobs_n)  # the cores of jobs that are not needed go to those that run
    finished = sum(act == "skip" for _, act, _ in actions)
    doing = (f"report only, {finished} finished" if a.report_only else
             f"{len(todo)} to run, {jobs_n} at a time with {threads} "
             f"thread{'s' if threads > 1 else ''} each" if todo else "all finished")
    print(f"suite {suite.name}: {len(jobs)} runs ({', '.join(libraries)}"
          f"{'' if a.no_population else '; ddpg seeds as populations'}) in "
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
