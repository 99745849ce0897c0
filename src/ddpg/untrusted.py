"""Files from elsewhere are data: names read from them are checked before they become paths.

Run directories, checkpoints and policies are shared (a colleague's results, a benchmark's
runs), so nothing read from such a file is trusted as a path. A name read from a file must be a
plain file name of the expected pattern (no separator, no absolute path, no '..', no NUL) and
is looked up only inside the directory it belongs to; files named by a checkpoint are opened
without following symbolic links and must be regular files (not a FIFO that would block, not
a device); files ddpg writes or deletes in a run directory may not be symbolic links that lead
out of it. Whatever fails a check makes the file it came from invalid (UnsafePathError, a
CheckpointError where a checkpoint is concerned) and nothing is touched.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ddpg.errors import USAGE, DDPGError


class UnsafePathError(DDPGError, ValueError):
    """A name read from a file that would reach outside the directory it belongs to."""

    exit_code = USAGE


def checked_name(name: object, pattern: re.Pattern[str], what: str) -> str:
    """`name` if it is a plain file name matching `pattern` in full; else UnsafePathError
    naming it. Plain: a str, not '.' or '..', no '/', '\\' or NUL."""
    if not isinstance(name, str):
        raise UnsafePathError(f"{what} is {name!r}, not a file name.")
    plain = name not in ("", ".", "..") and not any(c in name for c in "/\\\0")
    if not plain or not pattern.fullmatch(name):
        raise UnsafePathError(f"{what} {name!r} is not a plain file name of the form "
                              f"{pattern.pattern!r} inside its directory; the file that names "
                              f"it is not used.")
    return name


def is_within(path: Path, root: Path) -> bool:
    """Whether `path`, symbolic links resolved, lies in `root` (resolved too)."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False


def check_stays_inside(root: Path, *names: str) -> None:
    """UnsafePathError if any of root/name exists as a symbolic link that leads out of `root`:
    what ddpg writes or deletes there must stay in the directory the user named."""
    for name in names:
        path = root / name
        if path.is_symlink() and not is_within(path, root):
            raise UnsafePathError(
                f"{path} is a symbolic link to {os.readlink(path)!r}, outside {root}; ddpg "
                f"writes there and does not follow it. Replace the link by the directory or "
                f"file itself, or copy the run without links.")


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of `path`, opened without following a symbolic link and only if it is a
    regular file of at most `limit` bytes. OSError (ELOOP for a link) otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, "not a regular file", str(path))
        if limit is not None and info.st_size > limit:
            raise OSError(0, f"{info.st_size} bytes, more than the {limit} such a file can hold",
                          str(path))
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def env_from_file(env_id: object, source: str) -> str:
    """An environment id read from a file. An id of the form 'module:Id' makes gymnasium
    import `module`, that is run code a file chose; such ids must come from the user."""
    if not isinstance(env_id, str) or not env_id:
        raise UnsafePathError(f"{source} names no environment ({env_id!r}); pass --env ID.")
    if ":" in env_id:
        raise UnsafePathError(
            f"{source} names the environment {env_id!r}, which imports the module "
            f"{env_id.split(':')[0]!r}; ddpg does not import a module named in a file. If you "
            f"trust it, pass --env {env_id} yourself.")
    return env_id
