"""Folders a command makes for a run, removed again when it fails while setting the run up.

A bad input found while a run or a population is being built (an environment that does not
exist or is refused, a device, a member's config, Ctrl-C) must not leave an empty run folder
behind. Inside `removed_on_failure()`, `mkdir` notes which folders it created; if the block
raises, those are removed again: the run folders themselves with what is in them, the folders
above them (`--out`) only if they are empty. A run folder that existed before (a given
--run-name) keeps what it held: only the files and folders that appeared in it are removed.
"""

from __future__ import annotations

import contextlib
import shutil
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

# (folder, what it held before: None for a folder made here, "parent" for a folder above one)
_made: ContextVar[list[tuple[Path, frozenset[str] | str | None]] | None] = \
    ContextVar("ddpg_new_dirs", default=None)


def mkdir(path: Path) -> Path:
    """`path.mkdir(parents=True, exist_ok=True)`, noting (inside `removed_on_failure`) the
    folders this call created, or what `path` held if it existed."""
    new = []
    p = path
    while not p.exists() and p != p.parent:
        new.append(p)
        p = p.parent
    made = _made.get()
    held = frozenset(e.name for e in path.iterdir()) \
        if made is not None and not new and path.is_dir() else None
    path.mkdir(parents=True, exist_ok=True)
    if made is not None:
        made.extend((d, None if d == path else "parent") for d in reversed(new))
        if held is not None:
            made.append((path, held))
    return path


@contextlib.contextmanager
def removed_on_failure() -> Iterator[None]:
    """Folders `mkdir` creates within the block (and what appeared in an existing one it was
    given) are removed if the block raises, anything, KeyboardInterrupt included."""
    made: list[tuple[Path, frozenset[str] | str | None]] = []
    token = _made.set(made)
    try:
        yield
    except BaseException:
        for path, held in reversed(made):
            if held is None:
                shutil.rmtree(path, ignore_errors=True)
            elif held == "parent":  # (--out): another run may have appeared in it meanwhile
                with contextlib.suppress(OSError):
                    path.rmdir()
            else:
                with contextlib.suppress(OSError):
                    for entry in [e for e in path.iterdir() if e.name not in held]:
                        _remove(entry)
        raise
    finally:
        _made.reset(token)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()
