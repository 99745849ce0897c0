"""Every command of the README runs, as a newcomer would run it after cloning.

The README's shell lines run in order in a fresh working folder that links to this checkout's
files (so `runs/` and `site/` are the test's own) and to its `.venv` (set up by `make test`,
which is what CI runs: `.ci/run` is exactly the README's test command, checked below). The one
change: a `ddpg train` line beyond `make train` gets `--total-steps 1500`, since its full budget
is a learning benchmark (recorded in docs/), not a test. The Python example runs as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```(?P<lang>\w+)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
SHORT = ["--total-steps", "1500"]


def blocks(lang: str) -> list[str]:
    return [m["body"] for m in BLOCK.finditer(README) if m["lang"] == lang]


def shell_lines() -> list[str]:
    lines = []
    for body in blocks("bash"):
        for line in body.splitlines():
            line = line.split("  #")[0].strip()
            if line:
                lines.append(line)
    return lines


def test_readme_fits_on_a_screen_or_two():
    assert len(README.splitlines()) <= 85


def test_ci_runs_the_readme_test_command():
    assert "make test" in shell_lines()
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines()
          if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci == ["make test"]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A working folder with this checkout's files linked in, its own runs/ and site/."""
    work = tmp_path_factory.mktemp("clone")
    for entry in ROOT.iterdir():
        if entry.name not in ("runs", "site", ".git", ".pytest_cache"):
            (work / entry.name).symlink_to(entry)
    return work


def run(line: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    script = f"set -e\n{line}" if line.startswith("source ") else (
        f"set -e\nsource .venv/bin/activate\n{line}")
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_every_readme_command_runs(clone):
    lines = shell_lines()
    assert lines[:2] == ["make train", "make test"]
    out = {}  # each line as run -> its stdout
    for line in lines:
        if line == "make test":  # CI itself (test above); running it here would recurse
            continue
        argv = shlex.split(line)
        if argv[:2] == ["ddpg", "train"]:
            line = f"{line} {' '.join(SHORT)}"
        proc = run(line, clone)
        assert proc.returncode == 0, f"`{line}` failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        out[line] = proc.stdout
    # make train: the default solved, its policy where it says
    trained = out["make train"]
    assert (clone / re.search(r"^policy:\s+(\S+)", trained, re.MULTILINE)[1]).is_file()
    assert float(re.search(r"^eval return:\s+(-?[\d.]+)", trained, re.MULTILINE)[1]) >= -200
    # the others: what each says it makes is there
    evaluated = next(v for k, v in out.items() if k.startswith("ddpg eval"))
    assert float(re.search(r"(-?\d+\.\d+) \+- ", evaluated)[1]) >= -200, evaluated
    assert (clone / "curves.png").is_file()
    assert len(list((clone / "runs").glob("Pendulum-v1-ddpg-s0-*/policy.onnx"))) == 1
    assert len(list((clone / "runs").glob("*/s[0-4]/policy.pt"))) == 5  # the population
    assert (clone / "site" / "index.html").is_file()


def test_readme_python_example_runs_as_written(tmp_path):
    (code,) = blocks("python")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ret = float(re.search(r"return (-?[\d.]+)", proc.stdout)[1])
    assert ret >= -200, proc.stdout  # the pendulum preset solves it
    action = [float(x) for x in re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?", proc.stdout.split("action")[1])]
    assert len(action) == 1 and -2.0 <= action[0] <= 2.0
