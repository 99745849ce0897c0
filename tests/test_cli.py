import subprocess
import sys

import pytest

from ddpg.cli import main
from ddpg.errors import ConfigError

TINY = ["--total-steps", "120", "--warmup-steps", "60", "--batch-size", "8",
        "--network.hidden-sizes", "16", "16", "--eval-every", "60", "--eval-episodes", "1",
        "--no-tensorboard", "--no-progress"]


def test_top_level_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for cmd in ("train", "eval", "export", "presets"):
        assert f"\n  {cmd} " in out
    # the tooling's commands come from the entry-point group ddpg.commands, with their summaries
    assert "\n  plot      learning curves" in out and "\n  benchmark run a suite" in out
    assert "\n  speed     measure training speed" in out
    assert main([]) == 2


def test_console_script_and_train_help():
    out = subprocess.run([sys.executable, "-m", "ddpg.cli", "train", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for flag in ("--preset", "--config", "--env", "--seed", "--total-steps", "--out",
                 "--noise.kind", "--network.hidden-sizes", "--batch-size"):
        assert flag in out, flag
    assert "(default: 10000)" in out  # shows the pendulum preset's budget, not the bare default


def test_presets_lists_differences(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "seed:" in out and "pendulum:" in out and "total_steps = 10000" in out


def test_train_then_eval(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path), "--run-name", "r", *TINY]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "r" / "policy.pt") in out and "eval return:" in out
    cfg = (tmp_path / "r" / "config.yaml").read_text()
    assert "total_steps: 120" in cfg and "tau: 0.005" in cfg  # flags over the pendulum preset
    assert main(["eval", str(tmp_path / "r"), "--episodes", "2"]) == 0
    assert "Pendulum-v1: return" in capsys.readouterr().out


def test_config_file_and_flag_precedence(tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text("tau: 0.02\nseed: 7\n")
    assert main(["train", "--config", str(f), "--seed", "3", "--out", str(tmp_path),
                 "--run-name", "p", *TINY]) == 0
    cfg = (tmp_path / "p" / "config.yaml").read_text()
    assert "tau: 0.02" in cfg and "seed: 3" in cfg


@pytest.mark.parametrize("args,code,msg", [
    (["train", "--env", "Pendulum-v9"], 2, "unknown environment id 'Pendulum-v9'"),
    (["train", "--env", "CartPole-v1"], 2, "Discrete action space"),
    (["train", "--tau", "0"], 2, "tau=0.0"),
    (["train", "--preset", "nope"], 2, "unknown preset 'nope'"),
    (["eval", "/nonexistent/run"], 2, "no policy at '/nonexistent/run'"),
    (["trian"], 2, "Did you mean 'train'"),
    (["train", "--warmup-steps", "500", "--total-steps", "100"], 2, "warmup_steps=500"),
    (["train", "--batch-size", "512", "--buffer-size", "100"], 2, "buffer_size=100"),
    (["train", "--actor-lr", "-1"], 2, "actor_lr=-1.0"),
    (["train", "--gamma", "2"], 2, "gamma=2.0"),
    (["train", "--noise.kind", "pink"], 2, "pink"),
])
def test_errors_exit_codes_and_messages(tmp_path, capsys, args, code, msg):
    assert main([*args, *(["--out", str(tmp_path)] if args[0] == "train" else [])]) == code
    assert msg in capsys.readouterr().err


def test_eval_rejects_zero_episodes(tmp_path, capsys):
    assert main(["eval", str(tmp_path), "--episodes", "0"]) == 2
    assert "--episodes 0" in capsys.readouterr().err


def test_yaml_typo_via_cli(tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text("nosie:\n  sigma: 0.2\n")
    assert main(["train", "--config", str(f), "--out", str(tmp_path)]) == 2
    assert "unknown config key 'nosie'. Did you mean 'noise'?" in capsys.readouterr().err


def test_eval_corrupt_policy_file(tmp_path, capsys):
    (tmp_path / "policy.pt").write_bytes(b"not a policy")
    assert main(["eval", str(tmp_path)]) == 2
    assert "not a readable ddpg policy file" in capsys.readouterr().err


def test_missing_extra_names_the_install(tmp_path, capsys):
    pytest.importorskip("ddpg")
    try:
        import mujoco  # noqa: F401
        pytest.skip("mujoco is installed here")
    except ImportError:
        pass
    assert main(["train", "--env", "HalfCheetah-v5", "--out", str(tmp_path)]) == 2
    assert "pip install 'ddpg[mujoco]'" in capsys.readouterr().err


def test_resume_takes_only_flags_that_keep_the_run():
    from ddpg.cli import _resume_args

    a = _resume_args(["--resume", "r", "--address", "auto", "--no-progress", "--total-steps", "9",
                      "--threads", "1"])
    assert (a.address, a.progress, a.total_steps, a.threads) == ("auto", False, 9, 1)
    with pytest.raises(ConfigError, match="drop --seed"):
        _resume_args(["--resume", "r", "--seed", "3"])


STARTUP = """
import sys
from ddpg.cli import main
for argv in {argvs!r}:
    try:
        main(argv)
    except SystemExit:
        pass
    if "torch" in sys.modules:
        raise SystemExit(f"ddpg {{' '.join(argv)}} imported torch")
"""


def test_help_and_usage_errors_do_not_import_torch():
    """Importing torch is over a second of `ddpg --help` (issue 30): the help pages, a mistyped
    flag, a bad value and an unknown command answer before it (benchmarks/startup.py times it)."""
    argvs = [["--help"], ["train", "--help"], ["train", "--nope"], ["train", "--tau", "0"],
             ["eval", "--help"], ["export", "--help"], ["presets", "--help"], ["trian"]]
    done = subprocess.run([sys.executable, "-c", STARTUP.format(argvs=argvs)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-300:] + done.stderr[-600:]


def test_import_ddpg_is_lazy_and_keeps_its_public_api():
    code = """
import sys
import ddpg
assert "torch" not in sys.modules, "import ddpg imported torch"
from ddpg import Config, Policy, train, resume, load
import ddpg.resume                      # the module of the same name as the function
assert ddpg.resume is resume and callable(ddpg.resume), ddpg.resume
assert ddpg.train.__module__ == "ddpg.population.run"
assert set(ddpg.__all__) <= set(dir(ddpg))
try:
    ddpg.nope
except AttributeError as e:
    assert "'nope'" in str(e)
else:
    raise SystemExit("ddpg.nope did not raise")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-800:]


@pytest.fixture(scope="module")
def finished_population(tmp_path_factory):
    out = tmp_path_factory.mktemp("pop")
    assert main(["train", "--seeds", "0-1", "--out", str(out), "--run-name", "pop", *TINY]) == 0
    return out / "pop"


def test_a_refused_command_prints_one_line(tmp_path, capsys):
    """The fitted warm-up's notes came before the error: one mistake, three lines (issue 30)."""
    assert main(["train", "--total-steps", "500", "--tau", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ddpg train: error: tau=0.0") and err.count("\n") == 1, err
    assert main(["train", "--total-steps", "500", "--seeds", "3-1", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_resume_of_a_finished_population_says_to_raise_the_budget(finished_population,
                                                                  capsys):
    assert main(["train", "--resume", str(finished_population)]) == 2
    err = capsys.readouterr().err
    assert "has ended at step 120 (done, done)" in err
    assert f"ddpg train --resume {finished_population} --total-steps 240" in err


def test_resume_of_a_folder_that_is_no_run_says_what_a_run_folder_is(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a run")
    assert main(["train", "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"'{tmp_path}' is not a ddpg run folder" in err
    assert "config.yaml, checkpoints/ and policy.pt" in err and "population.json" in err


def test_export_of_a_population_names_a_member(finished_population, capsys):
    assert main(["export", str(finished_population)]) == 2
    err = capsys.readouterr().err
    assert "is a population (ddpg train --seeds)" in err
    assert f"ddpg export {finished_population / 's0'}" in err


def test_descending_seed_range_says_how_to_write_it(tmp_path, capsys):
    assert main(["train", "--seeds", "3-1", "--out", str(tmp_path)]) == 2
    assert "the range '3-1' is descending; write 1-3." in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["train", "--env", "Pendulum-v9"], ["train", "--resume", "/nonexistent/run"],
    ["eval", "/nonexistent/run"], ["export", "/nonexistent/run"],
    ["presets", "--show", "nope"], ["plot", "/nonexistent/run"],
    ["benchmark", "/nonexistent/suite.yaml"], ["speed", "--steps", "0"],
    ["sweep", "/nonexistent/sweep.yaml"], ["eval", "--nope"],
])
def test_bad_input_exits_2_in_every_command(args, capsys):
    """One rule for all commands (ddpg.errors.EXIT_STATUS): a missing path was 1 in eval and 2
    in plot, a bad environment 2 in train."""
    assert main(args) == 2
    assert capsys.readouterr().err.strip()


def test_failure_while_running_exits_1(monkeypatch, capsys):
    from ddpg import cli
    from ddpg.errors import CheckpointError, TrainingError

    for error in (TrainingError("non-finite loss"), CheckpointError("disk full")):
        def fails(argv, error=error):
            raise error
        monkeypatch.setitem(cli.COMMANDS, "train", fails)
        assert main(["train"]) == 1
        assert capsys.readouterr().err == f"ddpg train: error: {error}\n"


@pytest.mark.parametrize("command", ["train", "eval", "export", "presets", "plot", "benchmark",
                                     "speed", "sweep"])
def test_every_help_states_the_exit_status_rule(command, capsys):
    from ddpg.errors import EXIT_STATUS

    assert main([command, "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert " ".join(EXIT_STATUS.split()) in shown
