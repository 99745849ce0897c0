"""Run directories from elsewhere: no name, link or size read from them makes ddpg read, write or
delete anything outside them (ddpg.untrusted, and the checks in checkpoint, trainer, policy,
rundata and cli that use it)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import ddpg
from ddpg.cli import main
from ddpg.config import Config, NetworkConfig
from ddpg.errors import PolicyFileError
from ddpg.trainer import train
from ddpg.untrusted import UnsafePathError, checked_name, env_from_file

CANARY_TEXT = b"a file of the user's own, elsewhere on the disk\n"
_STATE = re.compile(r"ckpt-\d{12}\.pt")


# --- watching the canary directory ------------------------------------------------------------

class Watch:
    """Every audited file operation (open, remove, rename, ...) whose path, links resolved,
    lies in `root`, except those on a link itself: opens with O_NOFOLLOW (refused by the
    kernel) and removing or renaming the link."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.touched: list[tuple[str, str]] = []

    def __call__(self, event: str, args: tuple) -> None:
        if self.root is None or not (event == "open" or event.startswith(("os.", "shutil."))):
            return
        if not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        path = os.fsdecode(args[0])
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self.root + os.sep):
            return
        if os.path.islink(path):
            if event in ("os.remove", "os.rename", "os.replace"):
                return  # acts on the link itself, not on what it points to
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            if event == "open" and flags & os.O_NOFOLLOW:
                return  # refused by the kernel (ELOOP)
        self.touched.append((event, path))


WATCH = Watch()
sys.addaudithook(WATCH)  # audit hooks cannot be removed; WATCH.root None turns it off


@contextlib.contextmanager
def watching(canary: Path):
    WATCH.root, WATCH.touched = os.path.realpath(canary), []
    try:
        yield WATCH.touched
    finally:
        WATCH.root = None


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file() and not p.is_symlink()}


# --- a small finished run to attack -----------------------------------------------------------

@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    config = Config(env="Pendulum-v1", total_steps=400, warmup_steps=50, batch_size=32,
                    checkpoint_every=100, keep_checkpoints=3, eval_every=200, eval_episodes=1,
                    network=NetworkConfig(hidden_sizes=(16, 16)), tensorboard=False,
                    progress=False, threads=1, out=str(out), run_name="run")
    result = train(config)
    return result.run_dir


def manifests(run: Path) -> list[Path]:
    return sorted((run / "checkpoints").glob("ckpt-*.json"))


def edit(path: Path, change) -> None:
    m = json.loads(path.read_text())
    change(m)
    path.write_text(json.dumps(m))


def run_cli(argv: list[str]) -> tuple[int, str]:
    """`ddpg ...` in this process: its exit code and stderr. An uncaught exception (a
    traceback for the user) fails the test."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    assert isinstance(rc, int)
    return rc, err.getvalue()


def attack_everything(run: Path, canary: Path, tmp: Path) -> dict[str, tuple[int, str]]:
    """Resume past keep_checkpoints (so it prunes), eval, load and plot the run."""
    outcome = {"resume": run_cli(["train", "--resume", str(run), "--total-steps", "700"]),
               "eval": run_cli(["eval", str(run), "--episodes", "1"]),
               "plot": run_cli(["plot", str(run), "--out", str(tmp / "plot" / "curves")])}
    try:
        ddpg.load(run)
        outcome["load"] = (0, "")
    except PolicyFileError as e:
        outcome["load"] = (1, str(e))
    return outcome


# --- the attack from the issue, as a regression test ------------------------------------------

def test_a_manifest_naming_a_file_elsewhere_does_not_delete_it(clean_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(clean_run, run)
    canary = tmp_path / "home"
    canary.mkdir()
    victim = canary / "thesis.tex"
    victim.write_bytes(CANARY_TEXT)
    oldest, *_, newest = manifests(run)

    def point_at_victim(m):
        m["files"][str(victim)] = hashlib.sha256(CANARY_TEXT).hexdigest()
        m["state"] = str(victim)

    edit(oldest, point_at_victim)
    before = snapshot(canary)
    with watching(canary) as touched:
        rc, err = run_cli(["train", "--resume", str(run), "--total-steps", "700"])
    assert rc == 0, err
    assert "from step 400" in err and newest.name == "ckpt-000000000400.json"
    assert victim.read_bytes() == CANARY_TEXT and snapshot(canary) == before
    assert touched == []
    # pruning went on: the attacked manifest and every checkpoint older than the kept 3 are gone
    assert [p.name for p in manifests(run)] == [f"ckpt-{s:012d}.json" for s in (500, 600, 700)]


# --- hostile run directories, generated -------------------------------------------------------

NAME_FIELDS = ("state", "files", "chunk")


def hostile_names(canary: Path) -> st.SearchStrategy[str]:
    target = canary / "thesis.tex"
    return st.one_of(
        st.just(str(target)),                                    # absolute
        st.integers(1, 6).map(lambda k: "../" * k + "home/thesis.tex"),   # .. chains
        st.just("../../home/thesis.tex"),
        st.sampled_from(["sub/ckpt-000000000400.pt", "..", ".", "", "ckpt-000000000400.pt\0x",
                         "ckpt-000000000400.pt/..", "buffer-1-2.pt", "\\..\\x"]),
        st.text(min_size=1, max_size=12).filter(lambda s: "/" in s or s.startswith(".")),
    )


@st.composite
def attacks(draw, canary: Path):
    kind = draw(st.sampled_from(["name", "symlink-file", "symlink-dir", "rows", "run-file"]))
    which = draw(st.integers(0, 2))  # which of the 3 kept checkpoints (2: the newest)
    if kind == "name":
        return kind, which, draw(st.sampled_from(NAME_FIELDS)), draw(hostile_names(canary))
    if kind == "symlink-file":
        return kind, which, draw(st.sampled_from(["json", "pt", "chunk"])), None
    if kind == "rows":
        return kind, which, draw(st.sampled_from(["total", "capacity", "chunk"])), \
            draw(st.sampled_from([10**6, 10**12, 2**62, -5]))
    if kind == "run-file":
        return kind, which, draw(st.sampled_from(["metrics.csv", "config.yaml", "policy.pt",
                                                  "tb"])), None
    return kind, which, None, None


def apply_attack(run: Path, canary: Path, attack) -> set[int]:
    """Make the attack on the run; returns the steps of the checkpoints it damages."""
    kind, which, field, value = attack
    ckpts = run / "checkpoints"
    manifest = manifests(run)[which]
    step = json.loads(manifest.read_text())["step"]
    damaged = {step}
    victim_hash = hashlib.sha256(CANARY_TEXT).hexdigest()
    if kind == "name":
        def change(m):
            if field == "state":
                m["state"] = value
                m["files"][value] = victim_hash
            elif field == "files":
                m["files"][value] = victim_hash
            else:
                chunk = m["buffer"]["chunks"][-1]
                m["files"][value] = m["files"].pop(chunk[2])
                chunk[2] = value
        edit(manifest, change)
    elif kind == "symlink-file":
        m = json.loads(manifest.read_text())
        name = {"json": manifest.name, "pt": m["state"], "chunk": m["buffer"]["chunks"][-1][2]}
        src = ckpts / name[field]
        copy = canary / f"copy-{src.name}"  # the same bytes: a followed link would verify
        shutil.copyfile(src, copy)
        src.unlink()
        src.symlink_to(copy)
        if field == "chunk":  # every checkpoint that needs the chunk is damaged
            damaged = {json.loads(p.read_text())["step"] for p in manifests(run)
                       if p.name != manifest.name and src.name in json.loads(p.read_text())[
                           "files"]} | {step}
    elif kind == "symlink-dir":
        shutil.copytree(ckpts, canary / "checkpoints")
        shutil.rmtree(ckpts)
        ckpts.symlink_to(canary / "checkpoints")
    elif kind == "rows":
        def change(m):
            b = m["buffer"]
            if field == "total":
                b["total"], b["start"] = value, max(0, value - b["capacity"])
            elif field == "capacity":
                b["capacity"] = value
                if value >= b["total"]:  # a larger declared capacity is still consistent
                    damaged.clear()
            else:
                b["chunks"][-1][1] = value
        edit(manifest, change)
    else:
        src = run / field
        if src.is_dir():
            shutil.copytree(src, canary / field)
            shutil.rmtree(src)
        else:
            if src.exists():
                shutil.copyfile(src, canary / field)
                src.unlink()
            else:
                (canary / field).write_bytes(CANARY_TEXT)
        src.symlink_to(canary / field)
    return damaged


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_run_directories_touch_nothing_outside(clean_run, tmp_path, data):
    case = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
    run, canary = case / "run", case / "home"
    shutil.copytree(clean_run, run)
    canary.mkdir(parents=True)
    (canary / "thesis.tex").write_bytes(CANARY_TEXT)
    attack = data.draw(attacks(canary))
    steps = [json.loads(p.read_text())["step"] for p in manifests(run)]
    damaged = apply_attack(run, canary, attack)
    before = snapshot(canary)
    with watching(canary) as touched:
        outcome = attack_everything(run, canary, case)
    assert touched == [], (attack, touched)
    assert snapshot(canary) == before, attack
    kind, which, field, _ = attack
    rc, err = outcome["resume"]
    assert "Traceback" not in err
    if kind in ("name", "symlink-file", "rows"):
        valid = [s for s in steps if s not in damaged]
        if valid:  # the newest valid checkpoint is used; damaged newer ones are reported
            assert rc == 0 and f"from step {max(valid)}" in err, (attack, err)
            assert ("skipping a damaged checkpoint" in err) == (max(steps) in damaged), err
        else:
            assert rc == 2 and "no valid checkpoint" in err, (attack, err)
    elif kind == "symlink-dir" or field in ("metrics.csv", "tb", "policy.pt"):
        assert rc != 0 and "symbolic link" in err, (attack, err)  # refused, nothing done
    for what in ("eval", "plot", "load"):
        rc, err = outcome[what]
        assert "Traceback" not in err
        if rc != 0:
            assert err.strip(), (what, attack)


# --- the checks themselves --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["/etc/passwd", "../ckpt-000000000001.pt", "a/ckpt-1.pt", "..",
                                  ".", "", "ckpt-000000000001.pt\0", "ckpt-1.pt", 7, None,
                                  "ckpt-000000000001.pt/"])
def test_checked_name_refuses_anything_but_a_plain_name_of_the_pattern(name):
    with pytest.raises(UnsafePathError, match="file name|not a file name"):
        checked_name(name, _STATE, "state file")


def test_checked_name_accepts_the_pattern():
    assert checked_name("ckpt-000000000001.pt", _STATE, "state file") == "ckpt-000000000001.pt"


def test_an_env_id_that_imports_a_module_must_come_from_the_user():
    assert env_from_file("Pendulum-v1", "x") == "Pendulum-v1"
    with pytest.raises(UnsafePathError, match="pass --env evil:Env-v0 yourself"):
        env_from_file("evil:Env-v0", "the policy p")


def test_eval_does_not_import_a_module_named_in_a_policy(clean_run, tmp_path):
    policy = ddpg.load(clean_run)
    policy.metadata["env"] = "ddpg_test_never_imported:Env-v0"
    policy.save(tmp_path / "policy.pt")
    rc, err = run_cli(["eval", str(tmp_path / "policy.pt"), "--episodes", "1"])
    assert rc == 2 and "does not import a module" in err
    assert "ddpg_test_never_imported" not in sys.modules


def test_policy_metadata_cannot_declare_layers_its_weights_do_not_hold(clean_run, tmp_path):
    policy = ddpg.load(clean_run)
    policy.metadata["network"] = dict(policy.metadata["network"], hidden_sizes=[10**6, 10**6])
    policy.save(tmp_path / "policy.pt")
    with pytest.raises(PolicyFileError, match="declares layers"):
        ddpg.load(tmp_path / "policy.pt")


def test_a_resumed_run_lives_where_it_was_found_not_where_its_config_says(clean_run, tmp_path):
    run = tmp_path / "moved"
    shutil.copytree(clean_run, run)
    for path in manifests(run):
        edit(path, lambda m: m["config"].update(out=str(tmp_path / "elsewhere"),
                                                run_name="x"))
    rc, err = run_cli(["train", "--resume", str(run), "--total-steps", "500", "--no-progress"])
    assert rc == 0, err
    assert not (tmp_path / "elsewhere").exists()
    assert json.loads(manifests(run)[-1].read_text())["config"]["run_name"] == "moved"


def test_pruning_deletes_only_checkpoint_files_no_kept_manifest_names(tmp_path):
    from ddpg.checkpoint import CheckpointManager

    mgr = CheckpointManager(tmp_path / "checkpoints", keep=1)
    mgr.save(1, {"x": 1}, {}, None)
    mine = tmp_path / "checkpoints" / "notes.txt"
    mine.write_text("mine")
    orphan = tmp_path / "checkpoints" / "ckpt-000000000000.pt"  # a state without manifest
    orphan.write_bytes(b"")
    mgr.save(2, {"x": 2}, {}, None)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["ckpt-000000000002.json", "ckpt-000000000002.pt", "notes.txt"]
