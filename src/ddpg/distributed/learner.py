"""The learner's side of distributed collection: K collectors as Ray actors, their chunks of
transitions taken as they arrive, and the policy's weights sent back every `sync_every` updates.

Each collector always has one `collect` call in flight, so environments keep stepping while the
learner updates. Weights go out as one object (`ray.put`) that every actor reads from the
object store. An actor that dies (its process killed, its node lost) is restarted by Ray
(`max_restarts`) with fresh environments; its lost chunk is skipped, it is sent the current
weights and it collects again, and the run goes on with the others meanwhile. A distributed run
is not bit-reproducible: which actor's chunk arrives first depends on timing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ddpg.config import Config
from ddpg.distributed.cluster import join_ray, leave_ray, where
from ddpg.distributed.collector import Collector, collector_sigma
from ddpg.errors import EnvError
from ddpg.fileio import atomic_write_bytes
from ddpg.metrics import log

ACTORS_FILE = "actors.json"  # in the run directory: where each collector ran, its sigma


class RemoteCollection:
    """The collectors of one run and the learner's view of them."""

    def __init__(self, config: Config, env: Any, low: np.ndarray, high: np.ndarray,
                 config_dict: dict[str, Any], run_dir: Path) -> None:
        c = self.config = config
        join_ray(c.address)  # done already by the Trainer, before the run directory existed
        import ray

        self.ray = ray
        cpus = ray.cluster_resources().get("CPU", 1.0)
        per_actor = c.actor_cpus or min(1.0, cpus / c.actors)
        remote = ray.remote(max_restarts=-1, max_task_retries=0)(Collector)
        self.sigmas = [collector_sigma(c.noise.sigma, i, c.actors, c.actor_sigma_spread)
                       for i in range(c.actors)]
        self.actors = [remote.options(num_cpus=per_actor, scheduling_strategy="SPREAD",
                                      name=f"ddpg-collector-{run_dir.name}-{i}",
                                      namespace="ddpg", lifetime=None).remote(
            env, config_dict, i, self.sigmas[i], low, high) for i in range(c.actors)]
        self.run_dir, self.restarts = run_dir, [0] * c.actors
        self.pending: dict[Any, int] = {}  # object ref of a collect call -> actor index
        self._moved: set[int] = set()  # restarted actors
        self.weights_ref = None
        self.collected = 0  # transitions received since the last stats()
        self.lags: list[int] = []
        self.updates_at_stats, self.time_at_stats = 0, time.perf_counter()
        try:
            self.where = ray.get([a.where.remote() for a in self.actors])
        except ray.exceptions.RayError as e:
            self.close()
            cause = str(e).strip().splitlines()[-1]
            raise EnvError(f"the collectors could not start: {cause}. Each actor makes its own "
                           f"environment: an id must be makeable on every node (its package "
                           f"installed there); a function or instance is pickled to them, so "
                           f"define it in a module the nodes can import.") from None
        self._write_actors()
        sigmas = ", ".join(f"{x:.3g}" for x in self.sigmas)
        log.info(f"{c.actors} actor{'s' * (c.actors != 1)} collecting on {where(c.address)}, "
                 f"{per_actor:g} CPU each; exploration sigmas {sigmas} (actors.json)")

    def _write_actors(self) -> None:
        """actors.json: each collector's index, node, process, sigma and restarts so far."""
        rows = [{**w, "sigma": s, "restarts": r}
                for w, s, r in zip(self.where, self.sigmas, self.restarts)]
        atomic_write_bytes(self.run_dir / ACTORS_FILE,
                           (json.dumps(rows, indent=2) + "\n").encode())

    def send_weights(self, weights: dict[str, Any]) -> None:
        """One copy into the object store; every actor reads that one."""
        self.weights_ref = self.ray.put(weights)
        for a in self.actors:
            a.set_weights.remote(self.weights_ref)

    def _submit(self, i: int) -> None:
        """Actor i's next call: the run's next chunk_steps x num_envs steps in the order they
        are asked for, uniform random where they fall in warm-up, so that the run collects
        warmup_steps random transitions in all, whichever actor's chunks arrive first (asking
        with the learner's own count, K - 1 chunks in flight were random past warm-up)."""
        c = self.config
        ref = self.actors[i].collect.remote(c.chunk_steps, self.asked,
                                            max(0, c.warmup_steps - self.asked))
        self.asked += c.chunk_steps * c.num_envs
        self.pending[ref] = i

    def start(self, step: int) -> None:
        """The first call of every actor, from the run's step `step`."""
        self.asked = step  # environment steps asked of the actors so far (lost chunks included)
        for i in range(len(self.actors)):
            self._submit(i)

    def next_chunk(self, timeout: float | None) -> dict[str, Any] | None:
        """The next chunk to arrive (None if none within `timeout` seconds); its actor is given
        its next collect call at once. A dead actor's call is dropped, and Ray's restart of it
        gets the current weights and a new call."""
        ray = self.ray
        while True:
            ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=timeout)
            if not ready:
                return None
            i = self.pending.pop(ready[0])
            try:
                chunk = ray.get(ready[0])
            except ray.exceptions.RayTaskError as e:
                raise e.as_instanceof_cause() from None  # a TrainingError of the collector
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                self.where[i] = {**self.where[i], "pid": None}  # the next chunk tells
                self._restarted(i)  # its call died with it: ask the restarted one again
                self._submit(i)
                continue
            if chunk["pid"] != self.where[i]["pid"]:
                if self.where[i]["pid"] is not None:  # died between calls and came back
                    self._restarted(i)
                self.where[i] = {**self.where[i], "pid": chunk["pid"]}
            self._submit(i)
            self.collected += chunk["steps"]
            return chunk

    def _restarted(self, i: int) -> None:
        """Actor i died and Ray restarts it with fresh environments: it gets the current
        weights (its next calls queue behind them) and the run goes on meanwhile."""
        self.restarts[i] += 1
        log.warning(f"warning: collector {i} died (restart {self.restarts[i]}); Ray restarts it "
                    f"with fresh environments and the run goes on.")
        if self.weights_ref is not None:
            self.actors[i].set_weights.remote(self.weights_ref)
        self._moved.add(i)  # where it runs now is read again at close
        self._write_actors()

    def note_lag(self, updates: int, version: int) -> None:
        if version >= 0:
            self.lags.append(updates - version)

    def stats(self, updates: int, buffer_size: int, capacity: int) -> dict[str, Any]:
        """Since the last call: transitions collected per second, updates per second, the mean
        policy lag (updates between the weights a chunk was collected with and the learner's),
        and the buffer's fill now."""
        now = time.perf_counter()
        dt = max(now - self.time_at_stats, 1e-9)
        out = {"collect_steps_per_s": round(self.collected / dt, 2),
               "updates_per_s": round((updates - self.updates_at_stats) / dt, 2),
               "policy_lag": float(np.mean(self.lags)) if self.lags else "",
               "buffer_fill": round(buffer_size / capacity, 4)}
        self.collected, self.lags = 0, []
        self.updates_at_stats, self.time_at_stats = updates, now
        return out

    def close(self) -> None:
        """actors.json brought up to date (where restarted actors run now), then the actors
        stop, and the local Ray if this run started it."""
        for i in self._moved if hasattr(self, "where") else ():
            try:
                self.where[i] = self.ray.get(self.actors[i].where.remote(), timeout=30)
            except self.ray.exceptions.RayError:
                pass  # not back: its last known place stays
        if hasattr(self, "where"):
            self._write_actors()
        for a in self.actors:
            try:
                self.ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass
        leave_ray()
