"""`ddpg benchmark`: the tiny suite end to end with the sb3 baseline, skipping finished runs,
redoing and resuming unfinished ones, and clear errors for bad suite files."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from ddpg.bench.benchmark import benchmark_main
from ddpg.bench.report import merge_section
from ddpg.bench.jobs import PopulationJob, plan
from ddpg.bench.runner import Runner, train_flags
from ddpg.bench.suite import load_suite
from ddpg.metrics import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "benchmarks" / "suites" / "tiny.yaml"
NAMES = [f"{algo}-Pendulum-v1-s{seed}" for algo in ("ddpg", "td3") for seed in (0, 1)]


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def lines(text: str, verb: str) -> list[str]:
    return [line for line in text.splitlines() if line.split(" ", 1)[0] == verb]


def test_nested_overrides_become_one_flag_per_value(tmp_path):
    path = tmp_path / "nested.yaml"
    path.write_text("name: n\nruns:\n  - {env: Pendulum-v1, algos: [td3], seeds: 1, steps: 300, "
                    "eval_every: 0, overrides: {network: {hidden-sizes: [8]}, td3: "
                    "{policy_delay: 3}}}\n")
    entry = load_suite(path).entries[0]
    assert entry.overrides == {"network.hidden-sizes": [8], "td3.policy_delay": 3}
    assert train_flags(entry.overrides) == ["--network.hidden-sizes", "8",
                                            "--td3.policy-delay", "3"]


def test_train_flags_spell_overrides_as_tyro_does():
    assert train_flags({"network.hidden-sizes": [16, 16], "warmup_steps": 100,
                        "tensorboard": False, "obs-norm": True, "noise.kind": "ou"}) == [
        "--network.hidden-sizes", "16", "16", "--warmup-steps", "100", "--no-tensorboard",
        "--obs-norm", "--noise.kind", "ou"]


def test_tiny_suite_with_sb3_baseline_end_to_end(tmp_path, capsys):
    pytest.importorskip("stable_baselines3")
    results, report = tmp_path / "results", tmp_path / "docs" / "results.md"
    args = [str(TINY), "--no-population", "--baseline", "sb3", "--results", str(results),
            "--report", str(report), "--jobs", "2"]
    assert benchmark_main(args) == 0
    out = capsys.readouterr().out
    assert len(lines(out, "start")) == 8 and len(lines(out, "done")) == 8
    assert all("final return" in line for line in lines(out, "done"))
    first: dict[Path, list[dict[str, str]]] = {}
    for lib in ("ddpg", "sb3"):
        for name in NAMES:
            run = results / "tiny" / lib / name
            assert (run / "config.yaml").is_file()
            first[run] = rows(run / "metrics.csv")
            assert [int(r["step"]) for r in first[run]] == [150, 300]
    assert "library: sb3" in (results / "tiny/sb3/td3-Pendulum-v1-s0/config.yaml").read_text()

    text = report.read_text()
    assert "| library | algo | preset | steps | runs | final return IQM [95 % CI] |" in text
    for lib in ("ddpg", "sb3"):
        assert f"| {lib} | DDPG | pendulum | 300 | 2 |" in text
        assert f"| {lib} | TD3 | pendulum-td3 | 300 | 2 |" in text
    assert text.count("ddpg's final-return CI") == 2
    assert "rl-baselines3-zoo" in text  # published Pendulum figures
    assert "`ddpg benchmark " in text and "--baseline sb3" in text
    for figure in ("results_tiny_Pendulum-v1.png", "results_tiny_Pendulum-v1_q.svg"):
        assert (report.parent / figure).is_file() and figure in text

    # a rerun skips every finished run and changes none of their files
    metrics = sorted(results.rglob("metrics.csv"))
    before = {p: p.read_bytes() for p in metrics}
    assert benchmark_main(args) == 0
    out = capsys.readouterr().out
    skipped = lines(out, "skip")
    assert len(skipped) == 8 and all("final return" in line for line in skipped)
    assert not lines(out, "start") and not lines(out, "restart")
    assert {p: p.read_bytes() for p in metrics} == before

    # runs whose metrics.csv was cut short (killed after the first evaluation) are redone;
    # the tiny suite checkpoints only at the end, so the ddpg run cannot resume either
    cut = [results / "tiny" / lib / "td3-Pendulum-v1-s1" for lib in ("ddpg", "sb3")]
    for run in cut:
        text = (run / "metrics.csv").read_text().splitlines(keepends=True)
        (run / "metrics.csv").write_text("".join(text[:2]) + text[2][:20])  # a partial line
    assert benchmark_main(args + ["--dry-run"]) == 0
    assert len(lines(capsys.readouterr().out, "would")) == 8
    assert benchmark_main(args) == 0
    out = capsys.readouterr().out
    assert len(lines(out, "skip")) == 6 and len(lines(out, "restart")) == 2
    assert len(lines(out, "done")) == 2
    for run in cut:  # same seed, same settings, same thread count: the same run again
        redone = rows(run / "metrics.csv")
        assert [r["eval_return_mean"] for r in redone] == \
            [r["eval_return_mean"] for r in first[run]]

    # --report-only into a report that holds another suite's section: that section stays,
    # this suite's section is replaced, nothing runs (one run cut short is reported as missing)
    other = tmp_path / "all.md"
    other.write_text(merge_section("", "pendulum", "## Suite: pendulum\n\nkept as it was\n"))
    (cut[0] / "metrics.csv").write_text("".join(
        (cut[0] / "metrics.csv").read_text().splitlines(keepends=True)[:2]))
    assert benchmark_main([*args[:-4], "--report", str(other), "--report-only"]) == 0
    out = capsys.readouterr().out
    assert "report only, 7 finished" in out and not lines(out, "start")
    text = other.read_text()
    assert text.startswith("# Benchmark results") and "kept as it was" in text
    assert text.index("<!-- suite pendulum -->") < text.index("<!-- suite tiny -->")
    assert "(7 of 8 runs finished)" in text and "| ddpg | TD3 | pendulum-td3 | 300 | 1 |" in text
    assert benchmark_main([*args[:-4], "--report", str(other), "--report-only"]) == 0
    assert other.read_text().count("## Suite: tiny") == 1


def test_a_suite_entry_trains_its_seeds_as_one_population(tmp_path, capsys):
    """The default: each (env, algo) entry's seeds as one `ddpg train --seeds` population in
    <algo>-<env>/s<seed>; a rerun skips it; a population killed midway resumes from the step
    committed for all its members; the report reads the members as runs."""
    results, report = tmp_path / "results", tmp_path / "results.md"
    args = [str(TINY), "--results", str(results), "--report", str(report)]
    assert benchmark_main(args) == 0
    out = capsys.readouterr().out
    assert "ddpg seeds as populations" in out
    assert len(lines(out, "start")) == 2 and len(lines(out, "done")) == 2  # ddpg and td3
    assert all("final return IQM over 2 members" in line for line in lines(out, "done"))
    for algo in ("ddpg", "td3"):
        folder = results / "tiny" / "ddpg" / f"{algo}-Pendulum-v1"
        assert (folder / "population.json").is_file()
        for seed in (0, 1):
            assert [int(r["step"]) for r in rows(folder / f"s{seed}" / "metrics.csv")] == \
                [150, 300]
    assert "| ddpg | TD3 | pendulum-td3 | 300 | 2 |" in report.read_text()
    assert benchmark_main(args) == 0
    out = capsys.readouterr().out
    assert len(lines(out, "skip")) == 2 and not lines(out, "start")
    # a population stopped after its first commit resumes from it
    import json

    folder = results / "tiny" / "ddpg" / "td3-Pendulum-v1"
    manifest = json.loads((folder / "population.json").read_text())
    assert manifest["step"] == 300
    assert [m["status"] for m in manifest["members"]] == ["done", "done"]
    for m in manifest["members"]:
        m["status"] = "running"  # as an interrupted population leaves them
    (folder / "population.json").write_text(json.dumps(manifest))
    for seed in (0, 1):
        text = (folder / f"s{seed}" / "metrics.csv").read_text().splitlines(keepends=True)
        (folder / f"s{seed}" / "metrics.csv").write_text("".join(text[:2]))
    assert benchmark_main(args + ["--dry-run"]) == 0
    assert "would restart" in capsys.readouterr().out  # its only commit is the final step
    # a committed step whose checkpoints are gone (a clone: population.json is kept in git,
    # checkpoints are not) starts over instead of failing to resume
    for seed in (0, 1):
        assert (folder / f"s{seed}" / "checkpoints" / "ckpt-000000000300.json").is_file()
    manifest["step"] = 150
    (folder / "population.json").write_text(json.dumps(manifest))
    assert benchmark_main(args + ["--dry-run"]) == 0
    assert "the checkpoints of step 150 are missing (s0, s1): starting over" in \
        capsys.readouterr().out
    # only the running members load the committed step's checkpoints: a diverged member's last
    # good checkpoint is older, and the population still resumes
    (folder / "s1" / "checkpoints" / "ckpt-000000000300.json").rename(
        folder / "s1" / "checkpoints" / "ckpt-000000000150.json")
    assert benchmark_main(args + ["--dry-run"]) == 0
    assert "the checkpoints of step 150 are missing (s0): starting over" in \
        capsys.readouterr().out
    manifest["members"][0]["status"] = "diverged"
    (folder / "population.json").write_text(json.dumps(manifest))
    assert benchmark_main(args + ["--dry-run"]) == 0
    assert "would resume   ddpg td3-Pendulum-v1 (population, seeds 0,1)  unfinished, from the " \
        "step 150" in capsys.readouterr().out
    # a population whose members have all ended (done, diverged) is not run again
    manifest["step"], manifest["members"][1]["status"] = 300, "done"
    (folder / "population.json").write_text(json.dumps(manifest))
    assert benchmark_main(args + ["--dry-run"]) == 0
    assert "would skip     ddpg td3-Pendulum-v1 (population, seeds 0,1)  ended (every member " \
        "finished or stopped: s0 diverged)" in capsys.readouterr().out


def test_a_finished_population_prints_the_iqm_of_its_members(tmp_path, capsys, monkeypatch):
    """Its 'done' line gave member s0's return as the population's (issue 30): it gives the
    interquartile mean over the members, the statistic the report gives."""
    jobs = [j for j in plan(load_suite(TINY), tmp_path, ["ddpg"], population=True)
            if j.algo == "ddpg"]
    pop = PopulationJob(tuple(jobs))
    finals = {0: [-1600.0, -1356.9], 1: [-1500.0, -1551.5]}  # s0's is the better one
    for job in jobs:
        job.run_dir.mkdir(parents=True)
        with open(job.run_dir / "metrics.csv", "w", newline="") as f:
            w = csv.DictWriter(f, COLUMNS)
            w.writeheader()
            for step, ret in zip((150, 300), finals[job.seed]):
                w.writerow({c: 0 for c in COLUMNS} | {"step": step, "eval_return_mean": ret})
    runner = Runner(tmp_path, threads=1)
    monkeypatch.setattr(runner, "_attempt", lambda job, action: 0)  # the members ran already
    runner.run(pop, "start", "")
    done = lines(capsys.readouterr().out, "done")
    assert len(done) == 1
    assert "(population, seeds 0,1)  final return IQM over 2 members -1454.2 (" in done[0]


def test_td7_seeds_run_as_populations_and_have_no_sb3_baseline(tmp_path):
    """The td7-100k suite plans each env's 5 seeds as members of one population, the paper's
    preset of each env, and no stable-baselines3 run (it has no TD7)."""
    suite = load_suite(ROOT / "benchmarks" / "suites" / "td7-100k.yaml")
    jobs = plan(suite, tmp_path, ["ddpg", "sb3"], population=True)
    assert len(jobs) == 15 and {j.library for j in jobs} == {"ddpg"}
    assert {j.population.name for j in jobs} == {"td7-HalfCheetah-v5", "td7-Hopper-v5",
                                                 "td7-Walker2d-v5"}
    assert all(j.run_dir.parent == j.population for j in jobs)
    assert {j.config.preset for j in jobs} == {"halfcheetah-td7", "hopper-td7", "walker2d-td7"}
    assert all(j.config.algo == "td7" and j.config.total_steps == 100_000 for j in jobs)


def test_entries_that_differ_in_their_overrides_are_reported_apart(tmp_path, capsys):
    """Two entries of one env, preset and length that differ only in their overrides get a row
    each (not one pooled over both), each with the settings it gives beyond the preset."""
    suite = tmp_path / "apart.yaml"
    suite.write_text("name: apart\nruns:\n"
                     "  - {env: Pendulum-v1, algos: [ddpg], seeds: [0], steps: 300, "
                     "eval_every: 300, eval_episodes: 2, overrides: {network.hidden-sizes: "
                     "[16, 16], warmup-steps: 100}}\n"
                     "  - {env: Pendulum-v1, algos: [ddpg], seeds: [1], steps: 300, "
                     "eval_every: 300, eval_episodes: 2, overrides: {network.hidden-sizes: "
                     "[16, 16], warmup-steps: 150}}\n")
    report = tmp_path / "results.md"
    assert benchmark_main([str(suite), "--results", str(tmp_path / "results"), "--report",
                           str(report), "--no-population"]) == 0
    capsys.readouterr()
    text = report.read_text()
    assert text.count("| ddpg | DDPG | pendulum | 300 | 1 |") == 2
    for warmup in (100, 150):
        assert (f"- DDPG (pendulum, 300 steps): beyond the preset, network.hidden-sizes "
                f"[16, 16], warmup-steps {warmup}.") in text


def test_report_sections_are_replaced_in_place():
    one = merge_section("", "a", "A1")
    assert one.startswith("# Benchmark results")
    assert "<!-- suite a -->\nA1\n<!-- /suite a -->" in one
    two = merge_section(one, "b", "B1")
    three = merge_section(two, "a", "A2\nmore")
    assert "A1" not in three and "A2\nmore" in three and "B1" in three
    assert three.index("A2") < three.index("B1")  # the section keeps its place
    # an old single-suite report (no markers) is started anew
    assert merge_section("# Benchmark: x\nold\n", "a", "A") == merge_section("", "a", "A")


def test_interrupted_ddpg_run_resumes_from_its_checkpoint(tmp_path, capsys):
    suite = tmp_path / "resume.yaml"
    suite.write_text("""name: resume
runs:
  - env: Pendulum-v1
    algos: [td3]
    seeds: [3]
    steps: 300
    eval_every: 150
    eval_episodes: 2
    overrides: {network.hidden-sizes: [16, 16], warmup-steps: 100, checkpoint-every: 150,
                tensorboard: false}
""")
    results = tmp_path / "results"
    args = [str(suite), "--no-population", "--results", str(results), "--report",
            str(tmp_path / "r.md"), "--jobs", "2"]  # one thread for the one run
    assert benchmark_main(args) == 0
    run = results / "resume" / "ddpg" / "td3-Pendulum-v1-s3"
    full = rows(run / "metrics.csv")
    assert not (run / "tb").exists()  # the override reached `ddpg train` as --no-tensorboard
    # as if killed after the checkpoint of step 150: no final checkpoint, no final row
    for f in (run / "checkpoints").iterdir():  # ckpt-<step>.*, buffer-<from>-<to>.pt
        if int(f.stem.split("-")[-1]) == 300:
            f.unlink()
    text = (run / "metrics.csv").read_text().splitlines(keepends=True)
    (run / "metrics.csv").write_text("".join(text[:2]))
    capsys.readouterr()
    assert benchmark_main(args) == 0
    out = capsys.readouterr().out
    assert len(lines(out, "resume")) == 1 and "checkpoint of step 150" in out
    assert len(lines(out, "done")) == 1 and not lines(out, "restart")
    resumed = rows(run / "metrics.csv")
    assert [int(r["step"]) for r in resumed] == [150, 300]
    assert resumed[1]["eval_return_mean"] == full[1]["eval_return_mean"]  # an exact resume


GOOD = {"env": "Pendulum-v1", "algos": ["ddpg"], "seeds": 1, "steps": 300, "eval_every": 150}


@pytest.mark.parametrize("suite, expected", [
    ({"name": "x", "runz": [GOOD]}, ["'runz'", "Did you mean 'runs'"]),
    ({"name": "a b", "runs": [GOOD]}, ["name='a b'"]),
    ({"name": "..", "runs": [GOOD]}, ["name='..'"]),
    ({"name": "x", "runs": []}, ["runs=[]"]),
    ({"name": "x", "runs": [{**GOOD, "seeds": 0}]}, ["runs[0]", "seeds=0"]),
    ({"name": "x", "runs": [{**GOOD, "algos": ["ddpg", "sac"]}]}, ["algos=['ddpg', 'sac']"]),
    ({"name": "x", "runs": [{**GOOD, "env": "Pendulum-v9"}]}, ["'Pendulum-v9'", "Pendulum-v1"]),
    ({"name": "x", "runs": [{k: v for k, v in GOOD.items() if k != "steps"}]}, ["'steps'"]),
    ({"name": "x", "runs": [{**GOOD, "stepz": 3}]}, ["'stepz'"]),
    ({"name": "x", "runs": [{**GOOD, "preset": "pendullum"}]}, ["'pendullum'", "'pendulum'"]),
    ({"name": "x", "runs": [{**GOOD, "overrides": {"seed": 3}}]}, ["'seed'", "seeds"]),
    ({"name": "x", "runs": [{**GOOD, "overrides": {"network.hidden-sizez": [8]}}]},
     ["runs[0]", "hidden_sizez"]),
    ({"name": "x", "runs": [{**GOOD, "overrides": {"warmup-steps": 1000}}]},
     ["runs[0]", "warmup_steps=1000"]),
])
def test_bad_suite_exits_2_naming_the_key(tmp_path, capsys, suite, expected):
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(suite))
    results = tmp_path / "results"
    assert benchmark_main([str(path), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ddpg benchmark: error: ") and "Traceback" not in err
    for part in expected:
        assert part in err
    assert not results.exists()


def test_unreadable_suite_exits_2(tmp_path, capsys):
    (tmp_path / "broken.yaml").write_text("name: x\nruns: [\n")
    assert benchmark_main([str(tmp_path / "broken.yaml")]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    assert benchmark_main([str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read the suite file" in capsys.readouterr().err


def test_results_run_with_other_settings_are_not_mixed_in(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nruns:\n  - {env: Pendulum-v1, algos: [ddpg], seeds: 1, "
                     "steps: 300, eval_every: 150, overrides: {warmup-steps: 100}}\n")
    run = tmp_path / "results" / "s" / "ddpg" / "ddpg-Pendulum-v1-s0"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("env: Pendulum-v1\nalgo: ddpg\ntotal_steps: 999\n")
    assert benchmark_main([str(suite), "--results", str(tmp_path / "results"), "--dry-run",
                           "--no-population"]) == 2
    err = capsys.readouterr().err
    assert "total_steps: 999 there, 300 in the suite" in err and (run / "config.yaml").exists()


def test_the_cores_go_to_the_runs_left_to_do(tmp_path, capsys, monkeypatch):
    """--jobs 2 on 2 cores with one run left gives that run both cores, not one."""
    import ddpg.bench.benchmark as bench
    monkeypatch.setattr(bench, "available_cores", lambda: 2)
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nruns:\n  - {env: Pendulum-v1, algos: [ddpg], seeds: 2, "
                     "steps: 300, eval_every: 150, overrides: {warmup-steps: 100}}\n")
    assert bench.benchmark_main([str(suite), "--results", str(tmp_path / "r"), "--dry-run"]) == 0
    assert "1 to run, 1 at a time with 2 threads each" in capsys.readouterr().out
    assert bench.benchmark_main([str(suite), "--results", str(tmp_path / "r"), "--dry-run",
                       "--no-population"]) == 0
    assert "2 to run, 2 at a time with 1 thread each" in capsys.readouterr().out


def test_sigint_stops_a_background_benchmark_and_its_runs(tmp_path):
    """Started from a non-interactive shell in the background, a process inherits SIGINT as
    ignored; `kill -INT` must still stop the benchmark: both running runs (ddpg and sb3) stop,
    no further run starts, and the exit status says interrupted."""
    import signal
    import subprocess
    import sys
    import time

    suite = tmp_path / "long.yaml"
    suite.write_text("""name: long
runs:
  - env: Pendulum-v1
    algos: [ddpg]
    seeds: 3
    steps: 200000
    eval_every: 100000
    eval_episodes: 1
    overrides: {network.hidden-sizes: [16, 16], warmup-steps: 100, tensorboard: false}
""")
    results = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ddpg.cli", "benchmark", str(suite), "--baseline", "sb3",
         "--jobs", "2", "--no-population", "--results", str(results), "--report", str(tmp_path / "r.md")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    out: list[str] = []
    logs = results / "long" / "logs"
    try:
        assert proc.stdout is not None
        while len(lines("".join(out), "start")) < 2:
            line = proc.stdout.readline()
            assert line, "".join(out)
            out.append(line)
        # let both runs get past their imports and into training
        deadline = time.monotonic() + 60
        run_dirs = [results / "long" / lib / "ddpg-Pendulum-v1-s0" for lib in ("ddpg", "sb3")]
        while time.monotonic() < deadline and not all(d.exists() for d in run_dirs):
            time.sleep(0.2)
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
        text = "".join(out) + rest
        assert proc.returncode == 130, text
        assert len(lines(text, "start")) == 2 and len(lines(text, "stopped")) == 2, text
        assert not lines(text, "done") and "interrupted" in text
    finally:  # never leave runs behind, also when an assertion fails
        if proc.poll() is None:
            proc.kill()
        # the runs have sessions of their own: find any left by the test's directory
        subprocess.run(["pkill", "-KILL", "-f", str(tmp_path)], check=False)
    assert logs.is_dir()


def test_a_goal_suite_reports_success_rates_beside_sb3s(tmp_path, capsys, monkeypatch):
    """A goal-conditioned suite (the tests' PointReach task, hindsight replay) run with the sb3
    baseline: both libraries' metrics.csv carry eval_success_rate, and the report gains the
    success IQM columns, a success verdict and a success-rate figure."""
    pytest.importorskip("stable_baselines3")
    import goalenv  # noqa: F401 - registers PointReach-v0 here, as sitecustomize does in the runs

    site = tmp_path / "site"  # the runs' Python registers the task at start-up, as a user's would
    site.mkdir()
    (site / "sitecustomize.py").write_text("import goalenv\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(site), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    suite = tmp_path / "goal.yaml"
    suite.write_text("name: goal\nruns:\n  - {env: PointReach-v0, algos: [ddpg], "
                     "seeds: 2, steps: 300, eval_every: 150, eval_episodes: 4, overrides: "
                     "{her.strategy: future, network.hidden-sizes: [16, 16], warmup-steps: 100, "
                     "batch-size: 32}}\n")
    results, report = tmp_path / "results", tmp_path / "docs" / "results.md"
    assert benchmark_main([str(suite), "--baseline", "sb3", "--results", str(results),
                           "--report", str(report), "--jobs", "2"]) == 0
    capsys.readouterr()
    for lib in ("ddpg", "sb3"):
        found = sorted((results / "goal" / lib).rglob("metrics.csv"))
        assert len(found) == 2, found
        for path in found:
            with open(path, newline="") as f:
                got = list(csv.DictReader(f))
            assert [int(r["step"]) for r in got] == [150, 300]
            assert all(0.0 <= float(r["eval_success_rate"]) <= 1.0 for r in got)
    text = report.read_text()
    assert "final success IQM [95 % CI] | AUC success IQM [95 % CI] |" in text
    assert text.count("| ddpg | DDPG |") == 1 and text.count("| sb3 | DDPG |") == 1
    assert "ddpg's final-success CI" in text
    figure = "results_goal_PointReach-v0_success.png"
    assert (report.parent / figure).is_file() and figure in text
