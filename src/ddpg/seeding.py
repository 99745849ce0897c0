"""The independent random streams of a run, all derived from its one seed.

Replay sampling draws from `IndexStream`, a counter-based generator (SplitMix64: draw j of the
stream with key k is a fixed function of k + j * gamma): its state is two integers, the same on
every device, and any number of members' streams are drawn in one vectorised call
(`uniform_indices`) with each member still drawing exactly its own sequence.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
import torch


_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment and mixing constants
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
INDEX_LIMIT = 1 << 32  # uniform_indices draws from ranges below this


def uniform_indices(keys: np.ndarray, counters: np.ndarray, sizes: np.ndarray,
                    n: int) -> np.ndarray:
    """The next `n` draws of M SplitMix64 streams (keys and counters: (M,) uint64, the draws
    made so far; advanced in place), each as a uniform integer in [0, sizes[m]) (sizes < 2^32,
    by the top 32 bits times the size: a bias below size / 2^32). Returns (M, n) int64."""
    z = (keys + counters * _GAMMA)[:, None] + _gammas(n)  # key + j gamma, j = counter + 1..n
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    z ^= z >> np.uint64(31)
    counters += np.uint64(n)
    z >>= np.uint64(32)
    z *= sizes.astype(np.uint64)[:, None]
    z >>= np.uint64(32)
    return z.view(np.int64)  # (below 2^32: the same numbers)


@functools.lru_cache(maxsize=16)
def _gammas(n: int) -> np.ndarray:
    """1..n times SplitMix64's increment (read-only: shared between calls)."""
    g = np.arange(1, n + 1, dtype=np.uint64) * _GAMMA
    g.flags.writeable = False
    return g


class IndexStream:
    """One member's stream of uniform indices (replay sampling): a key and the count of draws
    made. A population shares its members' streams as rows of two arrays (`stack`), so that
    one call draws for all of them; a stream is the row of one on its own."""

    def __init__(self, key: int) -> None:
        self.keys = np.array([key], dtype=np.uint64)
        self.counters = np.zeros(1, dtype=np.uint64)

    def draw(self, size: int, n: int) -> np.ndarray:
        """`n` uniform integers in [0, size): (n,) int64."""
        return uniform_indices(self.keys, self.counters, np.array([size]), n)[0]

    @staticmethod
    def stack(streams: list[IndexStream]) -> tuple[np.ndarray, np.ndarray]:
        """Every stream's key and counter as rows of two (M,) arrays, each stream keeping views
        of its row (its draws and state unchanged). Returns (keys, counters)."""
        keys = np.concatenate([s.keys for s in streams])
        counters = np.concatenate([s.counters for s in streams])
        for m, s in enumerate(streams):
            s.keys, s.counters = keys[m:m + 1], counters[m:m + 1]
        return keys, counters

    def state_dict(self) -> dict[str, int]:
        return {"key": int(self.keys[0]), "counter": int(self.counters[0])}

    def load_state_dict(self, d: Any, seed: int = 0, step: int = 0, what: str = "") -> bool:
        """Set the stream to a saved state. A checkpoint written before replay sampling was
        counter-based holds a torch generator's state instead: the stream then continues from
        a fresh key derived from (seed, step), with a warning that the run goes on but is no
        longer bit-identical to an uninterrupted one. Returns whether the state was carried
        over."""
        if isinstance(d, dict):
            key, counter = int(d["key"]), int(d["counter"])
            if not (0 <= key < 1 << 64 and 0 <= counter < 1 << 64):
                raise ValueError(f"index stream state {d!r}: key and counter must be 64-bit "
                                 f"unsigned integers.")
            self.keys[0], self.counters[0] = key, counter
            return True
        self.keys[0] = np.random.SeedSequence([seed, step, 7]).generate_state(1, np.uint64)[0]
        self.counters[0] = 0
        warnings.warn(f"{what or 'replay sampling'}: the checkpoint holds a torch generator's "
                      f"state (written by ddpg before replay sampling was counter-based); it "
                      f"continues from a fresh stream seeded from seed {seed} and step {step}, so "
                      f"the run goes on but is not bit-identical to an uninterrupted one.",
                      RuntimeWarning, stacklevel=2)
        return False


def seed_streams(seed: int) -> dict[str, Any]:
    """Independent random streams derived from one seed: warm-up actions and exploration noise
    (numpy Generators), replay sampling and hindsight relabelling (IndexStreams). (Spawned
    children depend on their index only: a stream added at the end leaves the others as they
    were.)"""
    warmup, noise, sampling, hindsight = np.random.SeedSequence(seed).spawn(4)
    return {"warmup": np.random.default_rng(warmup), "noise": np.random.default_rng(noise),
            "sampling": IndexStream(int(sampling.generate_state(1, np.uint64)[0])),
            "hindsight": IndexStream(int(hindsight.generate_state(1, np.uint64)[0]))}


def restore_generator(generator: torch.Generator, state: torch.Tensor, seed: int, step: int,
                      what: str) -> bool:
    """Set `generator` to a checkpoint's `state`. A state saved on another kind of device (a
    GPU's Philox counter and a CPU's Mersenne Twister cannot stand for each other: a run
    written on cuda:0 resumed on a CPU) cannot be carried over: the generator is seeded afresh
    from (seed, step), with a warning that the run goes on but is no longer bit-identical to
    one that stayed on its device. Returns whether the state was carried over."""
    if state.numel() == generator.get_state().numel():
        generator.set_state(state)
        return True
    fresh = np.random.SeedSequence([seed, step, 7]).generate_state(1, np.uint64)[0]
    generator.manual_seed(int(fresh >> np.uint64(1)))
    warnings.warn(f"{what}: the checkpoint's random state was written on another kind of device "
                  f"than {generator.device}; it continues from a fresh stream seeded from seed "
                  f"{seed} and step {step}, so the run goes on but is not bit-identical to one "
                  f"resumed on the device it was written on.", RuntimeWarning, stacklevel=2)
    return False
