"""Atomic file writes and checksums."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ddpg.system import proc_field


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    """The process's umask, read without changing it where Linux reports it (setting it to read
    it would, for a moment, give files another thread creates the wrong permissions)."""
    umask = proc_field("/proc/self/status", "Umask")
    if umask is not None:
        with contextlib.suppress(ValueError):
            return int(umask, 8)
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write to a temporary file in the same directory, flush and fsync, rename over `path`,
    then fsync the directory: a reader sees the old file or the new one, never a part. The file
    gets the permissions a plain open() would give it (an existing file's, else 0o666 less the
    umask), not the temporary file's private 0o600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def _compact(obj: Any) -> Any:
    """`obj` with every tensor that is a view into a larger storage copied out: torch.save
    writes a tensor's whole storage, and a population member's parameters are slices of the
    population's stacked tensors (ddpg.fast.mlp.stack_params)."""
    if isinstance(obj, torch.Tensor):
        whole = obj.untyped_storage().nbytes()
        return obj.clone() if whole > obj.numel() * obj.element_size() else obj
    if isinstance(obj, dict):
        out = type(obj)((k, _compact(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):  # a module's state_dict keeps its layers' versions
            out._metadata = obj._metadata
        return out
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_compact(v) for v in obj)
    return obj


def torch_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(_compact(obj), buf)
    return buf.getvalue()


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    return atomic_write_bytes(path, torch_bytes(obj))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
