"""Running a suite's jobs: each as a `ddpg train` (or stable-baselines3) subprocess with its own
log, resumed from its checkpoint where it can be, and stopped once on Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ddpg.bench.overrides import override_args, train_flags
from ddpg.bench.jobs import Job, PopulationJob
from ddpg.evaluation import iqm


def command(job: Job | PopulationJob, action: str, threads: int) -> list[str]:
    """The subprocess that runs (or, with action 'resume', continues) the job."""
    e = job.entry
    if job.library == "ddpg" and action == "resume":
        return [sys.executable, "-m", "ddpg.cli", "train", "--resume", str(job.run_dir)]
    seeds = (["--seeds", ",".join(map(str, job.seeds))] if isinstance(job, PopulationJob)
             else ["--seed", str(job.seed)])
    common = ["--env", e.env, "--algo", job.algo, *(["--preset", e.preset] if e.preset else []),
              *seeds, "--total-steps", str(e.steps),
              "--eval-every", str(e.eval_every),
              *(["--eval-episodes", str(e.eval_episodes)] if e.eval_episodes else [])]
    if job.library == "sb3":
        return [sys.executable, "-m", "ddpg.bench.baselines", *common, *override_args(e.overrides),
                "--threads", str(threads), "--run-dir", str(job.run_dir)]
    return [sys.executable, "-m", "ddpg.cli", "train", *common, *train_flags(e.overrides),
            "--out", str(job.run_dir.parent), "--run-name", job.run_dir.name, "--no-progress",
            "--threads", str(threads)]


def final_return(job: Job | PopulationJob, row: dict[str, float]) -> str:
    """What a finished job's 'done' line says it reached: a run's final return, a population's
    interquartile mean of its members' final returns (the statistic the report gives)."""
    if isinstance(job, PopulationJob):
        finals = [r["eval_return_mean"] for r in (m.final() for m in job.members) if r]
        return f"final return IQM over {len(finals)} members {iqm(finals):.1f}"
    return f"final return {row['eval_return_mean']:.1f}"


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
        row = job.final()
        done = rc == 0 and row is not None and row["step"] >= job.config.total_steps
        if not done and action == "resume" and rc not in (130, 143) and not self.stop.is_set():
            self.say("restart", job, f"resuming failed (exit {rc}): starting over")
            rc = self._attempt(job, "restart")
            row = job.final()
            done = rc == 0 and row is not None and row["step"] >= job.config.total_steps
        seconds = time.perf_counter() - start
        if done:
            self.say("done", job, f"{final_return(job, row)} ({seconds:.1f} s)")
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
