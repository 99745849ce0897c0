"""The report of `ddpg benchmark`: per suite and environment, final and area-under-curve
returns (and, on goal-conditioned tasks, success rates) of each (library, algo) as interquartile
mean over seeds with 95 % stratified bootstrap CIs (ddpg.bench.stats), the ddpg-vs-sb3
verdict, published figures and the plots (ddpg.bench.plot). One report file holds a section per
suite; writing a suite's section keeps the others."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from ddpg.errors import BenchmarkError
from ddpg.fileio import atomic_write_bytes

if TYPE_CHECKING:
    from ddpg.bench.jobs import Job
    from ddpg.bench.suite import Suite

PUBLISHED = Path(__file__).resolve().parents[3] / "benchmarks" / "published.yaml"


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


def _overrides(job: Job) -> str:
    """The settings a suite entry gives beyond its preset, as `ddpg train` flags, e.g.
    'action-l2 1.0, noise.random-eps 0.3'; '' for none."""
    return ", ".join(f"{k} {v}" for k, v in sorted(job.entry.overrides.items()))


def _estimate(scores: list[float]) -> tuple[float, float, float]:
    from ddpg.bench.stats import iqm, stratified_bootstrap_ci

    est = stratified_bootstrap_ci({"runs": scores}, iqm, rng=np.random.default_rng(0))
    return est.point, est.low, est.high


def _fmt(est: tuple[float, float, float], digits: int = 1) -> str:
    return f"{est[0]:.{digits}f} [{est[1]:.{digits}f}, {est[2]:.{digits}f}]"


def _verdict(ours: tuple[float, float, float], theirs: tuple[float, float, float]) -> str:
    """Where one CI lies against another."""
    return "lies above" if ours[1] > theirs[2] else \
        "lies below" if ours[2] < theirs[1] else "overlaps"


def _last(values: np.ndarray) -> float:
    """The last finite value of a metrics column."""
    return float(values[np.isfinite(values)][-1])


def _auc(metrics: dict[str, np.ndarray], column: str) -> float:
    from ddpg.bench.stats import area_under_curve

    ok = np.isfinite(metrics[column])
    return float(area_under_curve(metrics["step"][ok], metrics[column][ok]))


def suite_section(suite: Suite, jobs: list[Job], report: Path, command_line: str,
                  published: list[dict[str, Any]]) -> tuple[list[str], list[Path]]:
    """The markdown lines of one suite's section, and the figures written for it next to
    `report`."""
    import importlib.metadata

    import torch

    from ddpg.bench.plot import plot_learning_curves, plot_q_diagnostics
    from ddpg.bench.rundata import SUCCESS, final_row, read_run
    from ddpg.bench.stats import area_under_curve
    from ddpg.system import available_cores, cpu_flags, cpu_model
    from ddpg.version import __version__

    finished = [j for j in jobs
                if (r := final_row(j.run_dir)) and r["step"] >= j.config.total_steps]
    flags = cpu_flags()
    try:
        sb3_version = importlib.metadata.version("stable-baselines3")
    except importlib.metadata.PackageNotFoundError:
        sb3_version = "not installed"
    lines = [f"## Suite: {suite.name}", "",
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
             "numpy generator seed 0). On goal-conditioned tasks the success rate (the share of "
             "evaluation episodes ending with info['is_success']) is summarised the same way.",
             ""]
    written: list[Path] = []
    runs = {j: read_run(j.run_dir) for j in finished}
    for env in dict.fromkeys(j.entry.env for j in jobs):
        env_jobs = [j for j in finished if j.entry.env == env]
        success = bool(env_jobs) and all(runs[j].has_success for j in env_jobs)
        extra = " final success IQM [95 % CI] | AUC success IQM [95 % CI] |" if success else ""
        lines += [f"### {env}", "", "| library | algo | preset | steps | runs | final return "
                  "IQM [95 % CI] | AUC return IQM [95 % CI] |" + extra,
                  "|---|---|---|---|---|---|---|" + ("---|---|" if success else "")]
        # entries that differ only in their overrides are not pooled
        groups: dict[tuple[str, str, str, int, str], list[Job]] = {}
        for j in env_jobs:
            groups.setdefault((j.library, j.algo, j.config.preset, j.config.total_steps,
                               _overrides(j)), []).append(j)
        final: dict[tuple[str, str, str, int, str], tuple[float, float, float]] = {}
        done: dict[tuple[str, str, str, int, str], tuple[float, float, float]] = {}  # success
        for key, members in groups.items():
            ms = [runs[j].metrics for j in members]
            final[key] = _estimate([m["eval_return_mean"][-1] for m in ms])
            auc = _estimate([float(area_under_curve(m["step"], m["eval_return_mean"]))
                             for m in ms])
            row = (f"| {key[0]} | {key[1].upper()} | {key[2]} | {key[3]} | {len(members)} "
                   f"| {_fmt(final[key])} | {_fmt(auc)} |")
            if success:
                done[key] = _estimate([_last(m[SUCCESS]) for m in ms])
                row += (f" {_fmt(done[key], 2)} | "
                        f"{_fmt(_estimate([_auc(m, SUCCESS) for m in ms]), 2)} |")
            lines.append(row)
        if not groups:
            lines.append("| (no finished run) | | | | | | |")
        lines.append("")
        for lib, algo, preset, steps, changed in groups:
            if changed and lib == "ddpg":
                lines.append(f"- {algo.upper()} ({preset or 'no preset'}, {steps} steps): "
                             f"beyond the preset, {changed}.")
        for (lib, algo, preset, steps, changed), est in final.items():
            other = final.get(("sb3", algo, preset, steps, changed))
            if lib != "ddpg" or other is None:
                continue
            verdict = _verdict(est, other)
            lines.append(f"- {algo.upper()} ({preset}, {steps} steps): ddpg's final-return CI "
                         f"[{est[1]:.1f}, {est[2]:.1f}] {verdict} sb3's [{other[1]:.1f}, "
                         f"{other[2]:.1f}].")
            ours = done.get((lib, algo, preset, steps, changed))
            theirs = done.get(("sb3", algo, preset, steps, changed))
            if ours is not None and theirs is not None:
                lines.append(f"- {algo.upper()} ({preset}, {steps} steps): ddpg's final-success "
                             f"CI [{ours[1]:.2f}, {ours[2]:.2f}] {_verdict(ours, theirs)} "
                             f"sb3's [{theirs[1]:.2f}, {theirs[2]:.2f}].")
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
            if success:
                rates = plot_learning_curves(env_runs, f"{prefix}_success",
                                             title=f"suite {suite.name}", column=SUCCESS,
                                             rng=np.random.default_rng(0))
                written += rates
                lines += ["", f"![success rate, {env}]({rates[0].name}) "
                          f"([svg]({rates[1].name}))"]
            if q:
                lines += ["", f"![critic estimate against Monte-Carlo return, {env}]({q[0].name}) "
                          f"([svg]({q[1].name}))"]
        lines.append("")
    return lines, written


HEADER = """# Benchmark results

Written by `ddpg benchmark` (`ddpg benchmark --help`): one section per suite, each replaced
when its suite is run or reported again (`ddpg benchmark SUITE.yaml --report-only`); the other
suites' sections are kept. Raw per-run metrics are under `benchmarks/results/<suite>/`.
"""


def _marks(name: str) -> tuple[str, str]:
    return f"<!-- suite {name} -->", f"<!-- /suite {name} -->"


def merge_section(text: str, name: str, section: str) -> str:
    """`text` (a report file's content, possibly empty) with the section of suite `name`
    replaced by, or else added as, `section`. Text outside the suite markers is kept, except
    that a file without any markers (an older single-suite report) is started anew."""
    start, end = _marks(name)
    block = f"{start}\n{section.rstrip()}\n{end}\n"
    if "<!-- suite " not in text:
        return f"{HEADER}\n{block}"
    i, j = text.find(start), text.find(end)
    if i >= 0 and j > i:
        return text[:i] + block + text[j + len(end):].lstrip("\n")
    return text.rstrip("\n") + "\n\n" + block


def write_report(suite: Suite, jobs: list[Job], report: Path, command_line: str,
                 published: list[dict[str, Any]]) -> list[Path]:
    """Write (replace) the suite's section of the markdown report, atomically, and its figures;
    returns the paths written."""
    lines, figures = suite_section(suite, jobs, report, command_line, published)
    try:
        old = report.read_text()
    except FileNotFoundError:
        old = ""
    report.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(report, merge_section(old, suite.name, "\n".join(lines)).encode())
    return [report, *figures]


