"""A population's files beside its members' run directories: population.json (the members,
their seeds and swept values, their status, and the last checkpoint step committed for all of
them: what `--resume` reads), and summary.md / summary.csv (a row per member: status, step,
final and best noise-free evaluation return); and what training a population returns
(PopulationResult)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ddpg.fileio import atomic_write_bytes
from ddpg.results import TrainResult
from ddpg.untrusted import read_regular

MANIFEST = "population.json"
FORMAT, VERSION = "ddpg-population", 1


def committed(directory: Path) -> tuple[int | None, dict[str, str]]:
    """The step population.json in `directory` names as committed, and each member's status by
    name ("running" members resume from that step's checkpoints; "done", "diverged" and
    "stopped" ones have ended); (None, {}) when there is no such file, it cannot be read, or
    nothing was committed yet. The names are data to compare with, never paths."""
    try:
        manifest = json.loads(read_regular(directory / MANIFEST, 16 << 20))
        step = manifest.get("step")
        status = {m["name"]: m["status"] for m in manifest.get("members", [])
                  if isinstance(m["name"], str) and isinstance(m["status"], str)}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return None, {}
    if not isinstance(step, int) or isinstance(step, bool):
        return None, {}
    return step, status


def committed_step(directory: Path) -> int | None:
    """The step population.json in `directory` names as committed for every member; None when
    there is no such file, it cannot be read, or nothing was committed yet."""
    return committed(directory)[0]


def write_summary(directory: Path, manifest: dict[str, Any], members: dict[str, Any]) -> None:
    """Write the three files atomically; `members` maps names to their Trainers (a member not
    running in this process has no row values beyond its manifest entry)."""
    rows = []
    for entry in manifest["members"]:
        m = members.get(entry["name"])
        evals = m.evaluations if m is not None else []
        final = evals[-1]["eval_return_mean"] if evals else None
        best = max((r["eval_return_mean"] for r in evals), default=None)
        rows.append({"member": entry["name"], "seed": entry["seed"], **entry["values"],
                     "status": entry["status"], "step": m.step if m is not None else "",
                     "final_eval": "" if final is None else f"{final:.1f}",
                     "best_eval": "" if best is None else f"{best:.1f}"})
    atomic_write_bytes(directory / MANIFEST, json.dumps(manifest, indent=1).encode())
    keys = list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, restval="")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(directory / "summary.csv", out.getvalue().encode())
    finals = [float(r["final_eval"]) for r in rows if r["final_eval"] != ""]
    lines = [f"# Population {directory.name}", "",
             f"{manifest.get('env')}, {len(rows)} members; final noise-free evaluation return: "
             + (f"mean {np.mean(finals):.1f}, min {min(finals):.1f}, max {max(finals):.1f}"
                if finals else "none yet"), "",
             "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    atomic_write_bytes(directory / "summary.md", ("\n".join(lines) + "\n").encode())


@dataclass(repr=False)
class PopulationResult:
    """Every member's TrainResult (None for one that diverged), in member order."""

    directory: Path
    names: list[str]
    results: list[TrainResult | None]
    status: dict[str, str] = field(default_factory=dict)
    wall_time_s: float = 0.0

    def __repr__(self) -> str:
        finals = {n: None if r is None else round(r, 1) for n, r in self.final_returns().items()}
        return (f"PopulationResult(directory='{self.directory}', status={self.status}, "
                f"final_returns={finals}, wall_time_s={self.wall_time_s:.1f})")

    def final_returns(self) -> dict[str, float | None]:
        return {n: (r.final_return if r is not None and r.evaluations else None)
                for n, r in zip(self.names, self.results)}
