"""Run directories: making a new one under --out, and finding the one a path means."""

from __future__ import annotations

import time
from pathlib import Path

from ddpg.config import Config
from ddpg.errors import ConfigError

RUN_MARKERS = ("config.yaml", "policy.pt", "checkpoints")


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any((path / m).exists() for m in RUN_MARKERS)


def locate_run(path: str | Path, what: str) -> Path:
    """`path` if it is a run directory, else the one run directory directly inside it (the
    `--out` folder of one run). Several: ConfigError listing them; none: `path` unchanged, for
    the caller's own 'no run here' message."""
    p = Path(path)
    if not p.is_dir() or is_run_dir(p):
        return p
    runs = sorted(d for d in p.iterdir() if not d.is_symlink() and is_run_dir(d))
    if len(runs) == 1:
        return runs[0]
    if len(runs) > 1:
        shown = "\n  ".join(str(d) for d in runs[:20])
        more = f"\n  ... and {len(runs) - 20} more" if len(runs) > 20 else ""
        raise ConfigError(f"{what} {str(p)!r} holds {len(runs)} runs; name one of them:\n  "
                          f"{shown}{more}")
    return p


def make_run_dir(config: Config, env_name: str, kind: str = "") -> Path:
    """out/run_name, or a new out/<env>-<algo>-s<seed>-<time> (a population's: `kind` 'pop',
    out/<env>-<algo>-pop-<time>), created and checked writable; an earlier one is never
    reused."""
    label = kind or f"s{config.seed}"
    name = config.run_name or (f"{env_name.replace('/', '_')}-{config.algo}-{label}-"
                               f"{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir = Path(config.out) / name
    suffix = 1
    while run_dir.exists() and not config.run_name:  # never overwrite an earlier run
        run_dir = Path(config.out) / f"{name}-{suffix}"
        suffix += 1
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"out={config.out!r}: cannot create or write the run directory "
                          f"{str(run_dir)!r} ({e.strerror or e}); choose a writable --out.") from e
    return run_dir
