"""Atomic writes: all or nothing, with the permissions a plain write would give."""

from __future__ import annotations

import os

import pytest

from ddpg.fileio import atomic_write_bytes


def test_new_file_gets_the_umask_permissions_and_an_existing_file_keeps_its_own(tmp_path):
    old = os.umask(0o022)
    try:
        new = atomic_write_bytes(tmp_path / "new.md", b"x")
        assert new.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0o600
        kept = tmp_path / "kept.md"
        kept.write_bytes(b"old")
        kept.chmod(0o640)
        atomic_write_bytes(kept, b"new")
        assert kept.read_bytes() == b"new" and kept.stat().st_mode & 0o777 == 0o640
        os.umask(0o027)  # the umask of the moment, not one read earlier
        assert atomic_write_bytes(tmp_path / "other.md", b"x").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.bin"]
