"""What this machine offers: cores, memory."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import signal
import threading
from pathlib import Path
from typing import Any, Iterator


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def proc_field(path: str, key: str) -> str | None:
    """The first word after `key:` in a Linux /proc file of "Key: value" lines (/proc/meminfo,
    /proc/self/status); None where the file or the key is missing."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(f"{key}:"):
                    return line.split()[1]
    except (OSError, IndexError):
        pass
    return None


def available_memory() -> int | None:
    """Bytes this process can still allocate: the smaller of MemAvailable and what the cgroup
    limit leaves (cgroup v2 or v1); None where neither can be read."""
    candidates: list[int] = []
    mem_available = proc_field("/proc/meminfo", "MemAvailable")  # in kB
    if mem_available is not None and mem_available.isdigit():
        candidates.append(int(mem_available) * 1024)
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and limit < 1 << 60:
            candidates.append(max(limit - (usage or 0), 0))
            break
    return min(candidates) if candidates else None


def human_bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> set[str]:
    try:
        m = re.search(r"^flags\s*:(.*)$", Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        return set()
    return set(m.group(1).split()) if m else set()


def native_bf16(device: str = "cpu") -> tuple[bool, str]:
    """Whether bf16 matrix products run natively on `device`, and if not, why."""
    import torch

    if device.startswith("cuda"):
        ok = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return ok, "this GPU does not support bf16"
    flags = cpu_flags()
    ok = bool(flags & {"avx512_bf16", "amx_bf16"})
    return ok, (f"this CPU ({cpu_model()}) lacks native bf16 (neither avx512_bf16 nor amx_bf16 "
                f"is in /proc/cpuinfo), where bf16 matrix products run about 70x slower than "
                f"fp32")


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signum)  # the signal, for an exit code of 128 + signum


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise KeyboardInterrupt in the main thread.

    Needed because a process started in the background by a non-interactive shell inherits
    SIGINT as *ignored*, and Python then never turns a Ctrl-C or `kill -INT` into
    KeyboardInterrupt; SIGTERM would otherwise end the process without any clean-up. Off the
    main thread (where handlers cannot be set) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_interrupt)
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
