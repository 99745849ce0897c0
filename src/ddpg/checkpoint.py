"""Full-state checkpoints: atomic, checksummed, the replay buffer saved incrementally.

A checkpoint at step S in `<run>/checkpoints/` is three kinds of file:
- `ckpt-<S>.pt`: the training state (networks, targets, optimizers, noise, every random
  generator, counters, the episode in progress), a torch file of tensors and plain values only,
  read with `torch.load(weights_only=True)`: loading never runs code from the file;
- `buffer-<a>-<b>.pt`: replay rows with absolute indices [a, b), written once, when new; a
  checkpoint references the chunks that hold its buffer's rows;
- `ckpt-<S>.json`: the manifest, written last: format and version, step, config, library and
  torch versions, and the SHA-256 of every file above that the checkpoint needs.
A checkpoint exists once its manifest does; it is valid when every checksum matches. Older
checkpoints beyond `keep` are deleted with the chunks no kept checkpoint needs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ddpg import __version__
from ddpg.buffer import ReplayBuffer, estimate_bytes
from ddpg.errors import CheckpointError
from ddpg.fileio import atomic_write_bytes, sha256, torch_bytes

FORMAT, VERSION = "ddpg-checkpoint", 1
_MANIFEST = re.compile(r"^ckpt-(\d+)\.json$")


@dataclass
class Loaded:
    step: int
    manifest: dict[str, Any]
    state: dict[str, Any]
    buffer: dict[str, Any] | None  # {"total", "start", "rows"} or None when not saved


def _read_verified(directory: Path, name: str, digest: str) -> bytes:
    path = directory / name
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path} is missing or unreadable ({e.strerror or e}).") from e
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
        self._saved_chunks: list[tuple[int, int, str, str]] = []  # (a, b, file, sha256)

    # --- writing --------------------------------------------------------------------------------

    def save(self, step: int, state: dict[str, Any], info: dict[str, Any],
             buffer: ReplayBuffer | None) -> Path:
        """Write the checkpoint for `step`; returns the manifest's path. On any OSError (disk
        full, unwritable directory) raises CheckpointError and leaves earlier checkpoints intact."""
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
        self._prune()
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

    def _prune(self) -> None:
        manifests = self._manifests()
        for _, path in manifests[: max(0, len(manifests) - self.keep)]:
            try:
                m = json.loads(path.read_text())
                path.unlink()
                (self.directory / m["state"]).unlink(missing_ok=True)
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
        needed: set[str] = set()
        for _, path in self._manifests():
            try:
                needed.update(json.loads(path.read_text())["files"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
        for chunk in self.directory.glob("buffer-*.pt"):
            if chunk.name not in needed:
                chunk.unlink(missing_ok=True)
        for tmp in self.directory.glob(".*.tmp"):  # left by a process killed mid-write
            tmp.unlink(missing_ok=True)

    # --- reading --------------------------------------------------------------------------------

    def _manifests(self) -> list[tuple[int, Path]]:
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir()
                 if (m := _MANIFEST.match(p.name))]
        return sorted(found)

    def steps(self) -> list[int]:
        """Steps of the checkpoints present (not verified), oldest first."""
        return [step for step, _ in self._manifests()]

    def load(self, manifest_path: str | Path) -> Loaded:
        """Load and verify one checkpoint; CheckpointError if anything is wrong with it."""
        path = Path(manifest_path)
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{path} is not a readable checkpoint manifest: {e}") from e
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not a ddpg checkpoint (no {FORMAT!r} header).")
        if manifest.get("version") != VERSION:
            raise CheckpointError(f"{path} has checkpoint format version "
                                  f"{manifest.get('version')!r}; this ddpg reads version "
                                  f"{VERSION}. Resume it with the ddpg version that wrote it.")
        try:
            files, state_name = dict(manifest["files"]), str(manifest["state"])
            state = _torch_load(_read_verified(path.parent, state_name, files[state_name]),
                                str(path.parent / state_name))
            buffer = None
            if manifest.get("buffer"):
                buffer = self._load_buffer(path.parent, manifest["buffer"], files)
            return Loaded(int(manifest["step"]), manifest, state, buffer)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise CheckpointError(f"{path} is a damaged checkpoint manifest: {e!r}") from e

    def _load_buffer(self, directory: Path, info: dict, files: dict) -> dict[str, Any]:
        total, start = int(info["total"]), int(info["start"])
        parts: dict[str, list[torch.Tensor]] = {k: [] for k in ReplayBuffer.FIELDS}
        at = start
        for a, b, name, digest in info["chunks"]:
            a, b = int(a), int(b)
            if files.get(name) != digest or not (a <= at < b or at == total):
                raise CheckpointError(f"buffer chunk {name} does not fit the manifest.")
            rows = _torch_load(_read_verified(directory, name, digest), str(directory / name))
            lo = at - a
            for k in ReplayBuffer.FIELDS:
                t = rows[k]
                if not isinstance(t, torch.Tensor) or t.shape[0] != b - a:
                    raise CheckpointError(f"buffer chunk {name} has a malformed field {k!r}.")
                parts[k].append(t[lo:])
            at = b
        if at != total:
            raise CheckpointError(f"buffer chunks end at row {at}, the manifest says {total}.")
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

    def adopt(self, loaded: Loaded) -> None:
        """Continue writing incrementally after the buffer chunks of a loaded checkpoint."""
        info = loaded.manifest.get("buffer") or {}
        self._saved_chunks = [(int(a), int(b), n, d) for a, b, n, d in info.get("chunks", [])]


def estimate_checkpoint_bytes(capacity: int, obs_dim: int, action_dim: int, n_params: int,
                              save_buffer: bool) -> int:
    """Disk size of a checkpoint: networks and targets (2x), Adam's two moments, the buffer."""
    return 4 * n_params * 4 + (estimate_bytes(capacity, obs_dim, action_dim) if save_buffer else 0)
