"""Full-state checkpoints: atomic, checksummed, the replay buffer saved incrementally.

A checkpoint at step S in `<run>/checkpoints/` is three kinds of file:
- `ckpt-<S>.pt`: the training state (networks, targets, optimizers, noise, every random
  generator, counters, the episode in progress), a torch file of tensors and plain values only,
  read with `torch.load(weights_only=True)`: loading never runs code from the file;
- `buffer-<a>-<b>.pt`: replay rows with absolute indices [a, b), written once, when new; a
  checkpoint references the chunks that hold its buffer's rows;
- `ckpt-<S>.json`: the manifest, written last: format and version, step, config, library and
  torch versions, and the SHA-256 of every file above that the checkpoint needs.
A checkpoint exists once its manifest does; it is valid when every name in it is a plain file
name of its kind (ddpg.untrusted: a manifest from elsewhere never reaches outside the checkpoint
directory), every declared row range is consistent, and every checksum matches. Pruning keeps
the newest `keep` manifests and deletes only files of the three kinds above, in the checkpoint
directory, that no kept manifest names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ddpg.buffer import ReplayBuffer, estimate_bytes
from ddpg.errors import CheckpointError
from ddpg.fileio import atomic_write_bytes, sha256, torch_bytes
from ddpg.untrusted import UnsafePathError, check_stays_inside, checked_name, read_regular
from ddpg.version import __version__

FORMAT, VERSION = "ddpg-checkpoint", 1
_MANIFEST = re.compile(r"ckpt-(\d{1,20})\.json")
_STATE = re.compile(r"ckpt-(\d{12,20})\.pt")
_CHUNK = re.compile(r"buffer-(\d{12,20})-(\d{12,20})\.pt")
_FILE = re.compile(f"{_STATE.pattern}|{_CHUNK.pattern}")
MANIFEST_LIMIT = 64 << 20  # bytes; a manifest is a few kB (the config and the chunk list)


@dataclass
class Loaded:
    step: int
    manifest: dict[str, Any]
    state: dict[str, Any]
    buffer: dict[str, Any] | None  # {"total", "start", "rows"} or None when not saved


def _read_verified(directory: Path, name: str, digest: str) -> bytes:
    path = directory / name
    try:
        data = read_regular(path)
    except OSError as e:  # missing, unreadable, a symbolic link or not a regular file
        raise CheckpointError(f"{path} is missing, unreadable, a symbolic link or not a regular "
                              f"file ({e.strerror or e}).") from e
    if sha256(data) != digest:
        raise CheckpointError(f"{path} does not match its checksum (corrupt or truncated).")
    return data


def _torch_load(data: bytes, what: str) -> Any:
    import io

    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # checksum matched, so this is a foreign or incompatible file
        raise CheckpointError(f"{what} cannot be read as a ddpg checkpoint: {e}") from e


class CheckpointManager:
    def __init__(self, directory: str | Path, keep: int = 3) -> None:
        if keep < 1:
            raise ValueError(f"keep={keep}: keep at least one checkpoint.")
        self.directory, self.keep = Path(directory), keep
        try:  # the directory is written to and pruned: it may not lead out of the run
            check_stays_inside(self.directory.parent, self.directory.name)
        except UnsafePathError as e:
            raise CheckpointError(str(e)) from e
        self._saved_chunks: list[tuple[int, int, str, str]] = []  # (a, b, file, sha256)

    # --- writing --------------------------------------------------------------------------------

    def save(self, step: int, state: dict[str, Any], info: dict[str, Any],
             buffer: ReplayBuffer | None, prune: bool = True) -> Path:
        """Write the checkpoint for `step`; returns the manifest's path. On any OSError (disk
        full, unwritable directory) raises CheckpointError and leaves earlier checkpoints intact.
        `prune=False` leaves older checkpoints for the caller's `prune(...)` (a population
        prunes once every member's checkpoint of the step is written)."""
        chunks_before = list(self._saved_chunks)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            files: dict[str, str] = {}
            buffer_info = None
            if buffer is not None:
                buffer_info = self._save_buffer(buffer)
                files.update({name: digest for _, _, name, digest in buffer_info["chunks"]})
            state_name = f"ckpt-{step:012d}.pt"
            data = torch_bytes(state)
            atomic_write_bytes(self.directory / state_name, data)
            files[state_name] = sha256(data)
            manifest = {"format": FORMAT, "version": VERSION, "step": step, "state": state_name,
                        "files": files, "buffer": buffer_info, "ddpg_version": __version__,
                        "torch_version": torch.__version__, **info}
            path = self.directory / f"ckpt-{step:012d}.json"
            atomic_write_bytes(path, json.dumps(manifest, indent=1).encode())
        except OSError as e:
            self._saved_chunks = chunks_before  # a chunk without a manifest is not saved
            raise CheckpointError(
                f"could not write the checkpoint for step {step} to {self.directory} "
                f"({e.strerror or e}); the previous checkpoint is intact. Free disk space or "
                f"choose a writable --out directory, then resume.") from e
        if prune:
            self.prune()
        return path

    def _save_buffer(self, buffer: ReplayBuffer) -> dict[str, Any]:
        """Write the rows added since the last chunk; reference the chunks covering the rows the
        buffer holds now."""
        start = max(0, buffer.total - buffer.capacity)
        self._saved_chunks = [c for c in self._saved_chunks if c[1] > start]
        saved_to = self._saved_chunks[-1][1] if self._saved_chunks else start
        saved_to = max(saved_to, start)
        if buffer.total > saved_to:
            name = f"buffer-{saved_to:012d}-{buffer.total:012d}.pt"
            data = torch_bytes(buffer.rows(saved_to, buffer.total))
            atomic_write_bytes(self.directory / name, data)
            self._saved_chunks.append((saved_to, buffer.total, name, sha256(data)))
        return {"total": buffer.total, "start": start, "capacity": buffer.capacity,
                "chunks": [list(c) for c in self._saved_chunks]}

    def prune(self, upto: int | None = None) -> None:
        """Delete the manifests older than the newest `keep` (of those at steps <= `upto`;
        newer ones, a population's uncommitted checkpoints, are deleted), then every state file
        and buffer chunk of this directory that no kept manifest names. Only files matching
        the checkpoint patterns are deleted, so a manifest naming other files deletes nothing."""
        manifests = self._manifests()
        if upto is not None:
            for _, path in [m for m in manifests if m[0] > upto]:
                path.unlink(missing_ok=True)
            manifests = [m for m in manifests if m[0] <= upto]
        kept = manifests[max(0, len(manifests) - self.keep):]
        for _, path in manifests[: len(manifests) - len(kept)]:
            path.unlink(missing_ok=True)
        needed = {f"ckpt-{step:012d}.pt" for step, _ in kept}  # even if its manifest is damaged
        for _, path in kept:
            try:
                needed.update(_manifest_files(read_manifest(path)))
            except CheckpointError:
                continue
        for entry in self.directory.iterdir():
            name = entry.name
            if _FILE.fullmatch(name) and name not in needed:
                entry.unlink(missing_ok=True)  # a symbolic link is removed, not its target
            elif name.startswith(".") and name.endswith(".tmp"):  # a write killed midway
                entry.unlink(missing_ok=True)

    # --- reading --------------------------------------------------------------------------------

    def _manifests(self) -> list[tuple[int, Path]]:
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir()
                 if (m := _MANIFEST.fullmatch(p.name))]
        return sorted(found)

    def steps(self) -> list[int]:
        """Steps of the checkpoints present (not verified), oldest first."""
        return [step for step, _ in self._manifests()]

    def load(self, manifest_path: str | Path) -> Loaded:
        """Load and verify one checkpoint; CheckpointError if anything is wrong with it."""
        path = Path(manifest_path)
        manifest = read_manifest(path)
        if manifest.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not a ddpg checkpoint (no {FORMAT!r} header).")
        if manifest.get("version") != VERSION:
            raise CheckpointError(f"{path} has checkpoint format version "
                                  f"{manifest.get('version')!r}; this ddpg reads version "
                                  f"{VERSION}. Resume it with the ddpg version that wrote it.")
        try:
            files = _manifest_files(manifest)
            state_name = checked_name(manifest["state"], _STATE, f"{path.name}: state file")
            step = int(manifest["step"])
            if state_name != f"ckpt-{step:012d}.pt":
                raise CheckpointError(f"{path} names the state file {state_name!r}, not the "
                                      f"one of its step {step}.")
            state = _torch_load(_read_verified(path.parent, state_name, files[state_name]),
                                str(path.parent / state_name))
            buffer = None
            if manifest.get("buffer"):
                buffer = self._load_buffer(path.parent, manifest["buffer"], files)
            return Loaded(step, manifest, state, buffer)
        except UnsafePathError as e:
            raise CheckpointError(f"{path} is a damaged checkpoint manifest: {e}") from e
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise CheckpointError(f"{path} is a damaged checkpoint manifest: {e!r}") from e

    def _load_buffer(self, directory: Path, info: dict, files: dict) -> dict[str, Any]:
        """The rows [start, total) from the chunks the manifest lists. Every declared range is
        checked against the chunk's name and the others before any chunk is read, and each
        chunk must hold exactly its rows, so what is allocated is what the files hold."""
        total, start, capacity = int(info["total"]), int(info["start"]), int(info["capacity"])
        if not (capacity >= 1 and 0 <= start <= total and start == max(0, total - capacity)):
            raise CheckpointError(f"the buffer's declared rows [{start}, {total}) do not fit "
                                  f"its capacity {capacity}.")
        chunks, at = [], start
        for a, b, name, digest in info["chunks"]:
            a, b = int(a), int(b)
            m = _CHUNK.fullmatch(checked_name(name, _CHUNK, "buffer chunk"))
            if (int(m[1]), int(m[2])) != (a, b) or files.get(name) != digest \
                    or not (a <= at < b <= total):
                raise CheckpointError(f"buffer chunk {name} (rows [{a}, {b})) does not fit the "
                                      f"manifest (rows [{start}, {total}), next row {at}).")
            chunks.append((a, b, name, digest))
            at = b
        if at != total:
            raise CheckpointError(f"buffer chunks end at row {at}, the manifest says {total}.")
        parts: dict[str, list[torch.Tensor]] = {k: [] for k in ReplayBuffer.FIELDS}
        at = start
        for a, b, name, digest in chunks:
            rows = _torch_load(_read_verified(directory, name, digest), str(directory / name))
            if not isinstance(rows, dict):
                raise CheckpointError(f"buffer chunk {name} is not a mapping of fields.")
            for k in ReplayBuffer.FIELDS:
                t = rows.get(k)
                if not isinstance(t, torch.Tensor) or t.ndim != 2 or t.shape[0] != b - a:
                    raise CheckpointError(f"buffer chunk {name} has a malformed field {k!r}.")
                parts[k].append(t[at - a:])
            at = b
        rows = {k: torch.cat(v) if v else torch.zeros(0) for k, v in parts.items()}
        return {"total": total, "start": start, "rows": rows}

    def latest(self) -> tuple[Loaded | None, list[str]]:
        """The newest checkpoint that verifies, and what was wrong with any newer ones."""
        problems: list[str] = []
        for _, path in reversed(self._manifests()):
            try:
                return self.load(path), problems
            except CheckpointError as e:
                problems.append(str(e))
        return None, problems

    def adopt(self, loaded: Loaded) -> None:  # names already checked by load()
        """Continue writing incrementally after the buffer chunks of a loaded checkpoint."""
        info = loaded.manifest.get("buffer") or {}
        self._saved_chunks = [(int(a), int(b), n, d) for a, b, n, d in info.get("chunks", [])]


def read_manifest(path: Path) -> dict[str, Any]:
    """A checkpoint manifest as JSON (no file it names is read or verified: `load` does that)."""
    try:
        manifest = json.loads(read_regular(path, MANIFEST_LIMIT))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable checkpoint manifest: "
                              f"{getattr(e, 'strerror', None) or e}") from e
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{path} is not a ddpg checkpoint (not a JSON object).")
    return manifest


def _manifest_files(manifest: dict[str, Any]) -> dict[str, str]:
    """The manifest's {file name: sha256}, every name checked to be a state file or chunk."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise CheckpointError(f"the manifest's files are {files!r}, not a mapping.")
    for name, digest in files.items():
        try:
            checked_name(name, _FILE, "checkpoint file")
        except UnsafePathError as e:
            raise CheckpointError(str(e)) from e
        if not isinstance(digest, str):
            raise CheckpointError(f"the checksum of {name!r} is {digest!r}, not a string.")
    return dict(files)


def estimate_checkpoint_bytes(capacity: int, obs_dim: int, action_dim: int, n_params: int,
                              save_buffer: bool) -> int:
    """Disk size of a checkpoint: networks and targets (2x), Adam's two moments, the buffer."""
    return 4 * n_params * 4 + (estimate_bytes(capacity, obs_dim, action_dim) if save_buffer else 0)
