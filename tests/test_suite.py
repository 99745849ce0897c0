"""Suite files (ddpg.bench.suite): the repository's suites parse; bad keys and values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddpg.errors import BenchmarkError
from ddpg.bench.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]


def test_suite_files_in_the_repository_are_valid():
    import importlib.util

    robotics = importlib.util.find_spec("gymnasium_robotics") is not None
    for path in sorted((ROOT / "benchmarks" / "suites").glob("*.yaml")):
        if path.stem.startswith("fetch") and not robotics:  # the fetch extra's own venv
            with pytest.raises(BenchmarkError, match=r"pip install 'ddpg\[fetch\]'"):
                load_suite(path)
            continue
        suite = load_suite(path)
        assert suite.name == path.stem and suite.entries
    tiny = load_suite(ROOT / "benchmarks" / "suites" / "tiny.yaml").entries[0]
    assert (tiny.env, tiny.algos, tiny.seeds, tiny.steps, tiny.eval_every) == \
        ("Pendulum-v1", ("ddpg", "td3"), (0, 1), 300, 150)


@pytest.mark.parametrize("entry, message", [
    ("{env: Pendulum-v1, algos: [ddpg], seeds: 2, steps: 10, eval_every: 5, sed: 1}",
     r"runs\[0\]: unknown key 'sed'"),
    ("{env: Pendulum-v1, algos: [ddpg, ddpg], seeds: 2, steps: 10, eval_every: 5}",
     r"algos=\['ddpg', 'ddpg'\] is invalid: give a list of distinct"),
    ("{env: Pendulum-v1, algos: [td3], seeds: [1, 1], steps: 10, eval_every: 5}",
     r"seeds=\[1, 1\] is invalid"),
    ("{env: 'os:Pendulum-v1', algos: [td3], seeds: 1, steps: 10, eval_every: 5}",
     r"imports the module 'os'; ddpg does not import a module named in a file"),
    ("{env: Pendulum-v1, algos: [td3], seeds: 1, steps: 10, eval_every: 5, "
     "overrides: {seed: 3}}", r"'seed' cannot be overridden: use the entry's 'seeds' key"),
])
def test_bad_entries_name_the_key_and_value(tmp_path, entry, message):
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\nruns:\n  - {entry}\n")
    with pytest.raises(BenchmarkError, match=message):
        load_suite(path)
