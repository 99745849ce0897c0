import csv

import numpy as np
import pytest

from ddpg.bench.plot import plot_learning_curves, plot_main, plot_q_diagnostics
from ddpg.bench.rundata import RunDirError, common_curves, group_runs, load_runs

COLUMNS = ["step", "episodes", "updates", "eval_return_mean", "eval_return_std",
           "train_return_last", "critic_loss", "actor_loss", "q_mean", "sigma", "time_s",
           "steps_per_s"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_run(run_dir, config: str, steps, seed: int, q: bool = False, start: float = -1200):
    """A run directory with a learning curve rising from `start` towards -150, noise by seed."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(config + f"seed: {seed}\ntotal_steps: {steps[-1]}\n")
    gen = np.random.default_rng(seed)
    with open(run_dir / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS + (["q_estimate", "mc_return"] if q else []))
        for i, s in enumerate(steps):
            ret = -150 + (start + 150) * np.exp(-s / 3000) + gen.normal(0, 40)
            row = [s, i, s, ret, 30, ret, 1.0, -ret, -ret / 2, 0.1, s / 500, 500]
            w.writerow(row + ([ret / 10 + 20 * (1 - np.exp(-s / 5000)), ret / 10] if q else []))
    return run_dir


@pytest.fixture
def runs_root(tmp_path):
    """Three groups on two environments: ddpg TD3 (pendulum preset, Q columns, 3 seeds),
    sb3 TD3 (no preset, 2 seeds of different lengths), ddpg DDPG on HalfCheetah (2 seeds)."""
    root = tmp_path / "runs"
    steps = list(range(1000, 10001, 1000))
    for seed in range(3):
        write_run(root / "ddpg" / f"td3-{seed}", "env: Pendulum-v1\nalgo: td3\npreset: pendulum\n",
                  steps, seed, q=True)
    for seed, last in ((10, 10000), (11, 8000)):
        write_run(root / "sb3" / f"s{seed}", "env: Pendulum-v1\nlibrary: sb3\nalgo: td3\n",
                  [s for s in steps if s <= last], seed, start=-1400)
    for seed in (20, 21):
        write_run(root / "cheetah" / f"c{seed}", "env: HalfCheetah-v5\n",
                  steps, seed, start=-300)
    return root


def test_load_runs_finds_every_run_once_and_groups_them(runs_root):
    runs = load_runs([runs_root, runs_root / "ddpg" / "td3-0"])  # the second is inside the first
    assert len(runs) == 7
    groups = group_runs(runs)
    assert {k: [r.seed for r in v] for k, v in groups.items()} == {
        ("HalfCheetah-v5", "ddpg DDPG (HalfCheetah-v5)"): [20, 21],  # no algo/library: ddpg
        ("Pendulum-v1", "ddpg TD3 (pendulum)"): [0, 1, 2],
        ("Pendulum-v1", "sb3 TD3 (Pendulum-v1)"): [10, 11],  # no preset: the env names it
    }


def test_common_curves_cover_the_steps_every_run_has(runs_root):
    sb3 = group_runs(load_runs([runs_root / "sb3"]))[("Pendulum-v1", "sb3 TD3 (Pendulum-v1)")]
    grid, curves = common_curves(sb3, "eval_return_mean")
    assert grid[0] == 1000 and grid[-1] == 8000  # the shorter seed stops at 8000
    assert curves.shape == (2, 8)
    np.testing.assert_allclose(curves[1], sb3[1].metrics["eval_return_mean"])


def test_common_curves_interpolate_other_evaluation_steps(tmp_path):
    a = write_run(tmp_path / "a", "env: E-v0\n", [0, 100, 200], 0)
    b = write_run(tmp_path / "b", "env: E-v0\n", [50, 150], 1)
    runs = load_runs([a, b])
    grid, curves = common_curves(runs, "eval_return_mean")
    np.testing.assert_array_equal(grid, [50, 100, 150])
    ra = runs[0].metrics["eval_return_mean"]
    assert curves[0, 0] == pytest.approx((ra[0] + ra[1]) / 2)


def test_learning_curves_written_as_png_and_svg(runs_root, tmp_path):
    out = tmp_path / "fig" / "curves"
    written = plot_learning_curves(load_runs([runs_root]), out, {"solved": -200.0},
                                   title="test")
    assert written == [out.with_suffix(".png"), out.with_suffix(".svg")]
    png = written[0].read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 5_000
    svg = written[1].read_text()
    assert "<svg" in svg and "environment steps" in svg and "evaluation return" in svg
    assert "ddpg TD3 (pendulum), 3 seeds" in svg and "solved (-200)" in svg


def test_q_diagnostics_only_for_runs_with_the_columns(runs_root, tmp_path):
    runs = load_runs([runs_root])
    written = plot_q_diagnostics(runs, tmp_path / "q")
    assert written[0].read_bytes().startswith(PNG_SIGNATURE)
    svg = written[1].read_text()
    assert "ddpg TD3 (pendulum)" in svg and "sb3" not in svg  # one panel: the runs with Q
    assert plot_q_diagnostics([r for r in runs if r.library == "sb3"], tmp_path / "none") == []
    assert not (tmp_path / "none.png").exists()


def test_plot_main_writes_both_figures(runs_root, tmp_path, capsys):
    out = tmp_path / "out" / "p"
    assert plot_main([str(runs_root), "--out", str(out), "--reference", "SB3 TD3=-150",
                      "--title", "Pendulum"]) == 0
    printed = capsys.readouterr()
    for name in ("p.png", "p.svg", "p_q.png", "p_q.svg"):
        assert (out.parent / name).stat().st_size > 1000
        assert name in printed.out
    assert "leaves out 4 run(s)" in printed.err  # sb3 and HalfCheetah runs have no Q columns


def test_plot_main_skips_q_plot_with_a_message(runs_root, tmp_path, capsys):
    out = tmp_path / "p"
    assert plot_main([str(runs_root / "sb3"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped the Q plot" in err and "q_estimate and mc_return" in err
    assert out.with_suffix(".png").exists() and not (tmp_path / "p_q.png").exists()


def test_plot_main_empty_directory_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert plot_main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "empty") in err and "no run directory" in err


@pytest.mark.parametrize("content,match", [
    ("step,eval_return_mean\n1000,-1200\n2000,oops\n", "not 2 numbers"),
    ("step,episodes\n1000,1\n", "no column eval_return_mean"),
    (b"\xff\xfe\x00garbage", "unreadable CSV"),
])
def test_plot_main_bad_csv_names_the_file(tmp_path, capsys, content, match):
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.yaml").write_text("env: Pendulum-v1\n")
    path = run / "metrics.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert plot_main([str(run), "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and match in err


def test_plot_main_usage_errors_and_help(tmp_path, capsys):
    assert plot_main([str(tmp_path / "missing")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert plot_main([str(tmp_path), "--reference", "nameonly"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert plot_main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--reference NAME=VALUE" in out and "q_estimate" in out and "--out PREFIX" in out


def test_load_runs_rejects_config_without_env(tmp_path):
    run = write_run(tmp_path / "r", "seed_only: true\n", [1000], 0)
    with pytest.raises(RunDirError, match="no 'env' key"):
        load_runs([run])


def test_partial_last_line_is_skipped(tmp_path, capsys):
    from ddpg.bench.rundata import _read_metrics

    f = tmp_path / "metrics.csv"
    f.write_text("step,eval_return_mean\n100,-5\n200,-4\n300,-")
    m = _read_metrics(f)
    assert m["step"].tolist() == [100.0, 200.0]
    assert "partial last line" in capsys.readouterr().err


def test_plot_main_draws_success_rates_of_goal_runs(runs_root, tmp_path, capsys):
    """Runs with eval_success_rate (goal-conditioned tasks) get a success-rate figure of their
    own; runs without the column are left out of it, and without any such run none is written."""
    for seed in (30, 31):
        run = write_run(runs_root / "fetch" / f"f{seed}", "env: FetchReach-v4\n",
                        list(range(1000, 5001, 1000)), seed)
        lines = run.joinpath("metrics.csv").read_text().splitlines()
        rates = [0.0, 0.25, 0.5, 0.9, 1.0]
        run.joinpath("metrics.csv").write_text("\n".join(
            [lines[0] + ",eval_success_rate"] +
            [f"{line},{rate}" for line, rate in zip(lines[1:], rates)]) + "\n")
    out = tmp_path / "g"
    assert plot_main([str(runs_root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    svg = tmp_path / "g_success.svg"
    assert str(svg) in printed and (tmp_path / "g_success.png").stat().st_size > 1000
    text = svg.read_text()
    assert "FetchReach-v4" in text and "Pendulum-v1" not in text  # only the goal runs
    grid, curves = common_curves(load_runs([runs_root / "fetch"]), "eval_success_rate")
    assert curves.tolist() == [[0.0, 0.25, 0.5, 0.9, 1.0]] * 2
    assert plot_main([str(runs_root / "sb3"), "--out", str(tmp_path / "n")]) == 0
    assert not (tmp_path / "n_success.png").exists()
