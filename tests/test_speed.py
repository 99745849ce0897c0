"""`ddpg speed`: the limit's products are the update's, and the command measures and reports."""

from __future__ import annotations

import json

import pytest
import torch

from ddpg.bench.speed import speed_main, summarize
from ddpg.bench.workloads import matmul_workload, update_flops


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_limit_times_exactly_the_updates_products(monkeypatch, layout):
    """The products the limit times add up to the FLOP formula 2 B (4 A + 6 C), and none of
    them shares both operands with another (a shared pair would time a warm cache). The column
    layout multiplies the same matrices in the other orientation."""
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    real_mm = torch.mm
    monkeypatch.setattr(torch, "mm", lambda x, w: seen.append((x, w)) or real_mm(x, w))
    matmul_workload(17, 6, (40, 30), 8, layout=layout)()
    flops = sum(2 * x.shape[0] * x.shape[1] * w.shape[1] for x, w in seen)
    assert flops == update_flops(17, 6, (40, 30), 8)
    assert len({(x.data_ptr(), w.data_ptr()) for x, w in seen}) == len(seen) == 3 * 10
    if layout == "columns":  # the same products (m x k times k x n, up to orientation)
        rows: list[tuple[torch.Tensor, torch.Tensor]] = []
        monkeypatch.setattr(torch, "mm", lambda x, w: rows.append((x, w)) or real_mm(x, w))
        matmul_workload(17, 6, (40, 30), 8, layout="rows")()
        dims = lambda ps: sorted((*sorted((x.shape[0], w.shape[1])), x.shape[1])  # noqa: E731
                                 for x, w in ps)
        assert dims(seen) == dims(rows)
    with pytest.raises(ValueError, match="layout='cols'"):
        matmul_workload(17, 6, (40, 30), 8, layout="cols")


def test_paired_ratio_cancels_machine_swings():
    # The machine runs twice as fast from the third repeat on, but the third loop still met
    # the slow phase: every other repeat's loop is 60 % of its own limit. The paired ratio
    # says 60 %; the ratio of the medians (60 / 200) says 30 %.
    samples = {"limit": [100.0, 100.0, 200.0, 200.0, 200.0],
               "loop": [60.0, 60.0, 60.0, 120.0, 120.0],
               "seed": [50.0] * 5, "update": [70.0] * 5, "sb3": []}
    row = summarize(samples, flops=1e9)
    assert row["loop_fraction_of_limit_paired"] == pytest.approx(0.6)
    assert row["loop_fraction_of_limit"] == pytest.approx(0.3)
    assert row["limit_gflops"] == pytest.approx(200.0)
    assert row["loop_vs_sb3"] is None and row["loop_vs_sb3_paired"] is None


def test_speed_command_measures_and_reports(tmp_path, capsys):
    pytest.importorskip("stable_baselines3")
    out, md = tmp_path / "speed.json", tmp_path / "bench.md"
    md.write_text("# earlier\n")
    assert speed_main(["--env", "Pendulum-v1", "--batch", "8", "--hidden", "16", "16",
                       "--steps", "20", "--warmup", "30", "--repeats", "1",
                       "--json", str(out), "--markdown", str(md)]) == 0
    (row,) = json.loads(out.read_text())["results"]
    assert row["hidden"] == [16, 16] and row["batch"] == 8
    for key in ("limit_updates_per_s", "seed_updates_per_s", "ddpg_updates_per_s",
                "ddpg_loop_steps_per_s", "sb3_loop_steps_per_s"):
        assert row[key] > 0, key
    assert row["loop_fraction_of_limit"] == pytest.approx(
        row["ddpg_loop_steps_per_s"] / row["limit_updates_per_s"])
    assert row["loop_fraction_of_limit_paired"] == pytest.approx(
        row["samples"]["loop"][0] / row["samples"]["limit"][0])
    assert row["limit_updates_per_s"] == max(row["limit_rows_updates_per_s"],
                                             row["limit_columns_updates_per_s"])
    text = md.read_text()
    assert text.startswith("# earlier\n") and "Networks 16-16" in text
    assert "| Pendulum-v1 | 8 |" in text and "loop / limit" in capsys.readouterr().out


def test_speed_compares_algorithms_side_by_side(tmp_path, capsys):
    """`ddpg speed --algo td3 td7`: each one's update and loop rates at the same networks, the
    ratios to the first, and the updates the loop ran per step (whole episodes in the window:
    TD7's checkpoints release one update per step of each episode that ended)."""
    out, md = tmp_path / "speed.json", tmp_path / "bench.md"
    assert speed_main(["--algo", "td3", "td7", "--env", "Pendulum-v1", "--batch", "8",
                       "--hidden", "16", "16", "--steps", "200", "--warmup", "200",
                       "--repeats", "1", "--json", str(out), "--markdown", str(md)]) == 0
    (row,) = json.loads(out.read_text())["results"]
    m = row["medians"]
    assert row["algos"] == ["td3", "td7"] and row["hidden"] == [16, 16]
    for a in ("td3", "td7"):
        assert m[f"{a}_update"] > 0 and m[f"{a}_loop"] > 0
        assert m[f"{a}_updates_per_step"] == 1.0  # 200 steps: one episode, its 200 updates
    text = capsys.readouterr().out
    assert "| Pendulum-v1 | 8 | td7 |" in text and "loop / td3's" in text
    assert "| Pendulum-v1 | 8 | td3 |" in md.read_text()


@pytest.mark.parametrize("args, message", [(["--steps", "0"], "--steps 0"),
                                           (["--batch", "0"], "--batch 0"),
                                           (["--hidden", "0"], "--hidden 0")])
def test_bad_arguments_exit_2_naming_the_value(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        speed_main(args)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_unusable_device_is_refused_naming_it(capsys):
    """`ddpg speed --device ...` checks the device before measuring anything."""
    from ddpg.cli import main

    assert main(["speed", "--device", "gpu0"]) == 2
    assert "device='gpu0' is not a torch device" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["speed", "--device", "cuda"]) == 2
        assert "no CUDA GPU is usable here" in capsys.readouterr().err
