"""The independent random streams of a run, all derived from its one seed."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch


def seed_streams(seed: int, device: str = "cpu") -> dict[str, Any]:
    """Independent random streams derived from one seed; replay sampling draws on `device`."""
    warmup, noise, sampling = np.random.SeedSequence(seed).spawn(3)
    gen = torch.Generator(torch.device(device))
    gen.manual_seed(int(sampling.generate_state(1, np.uint64)[0] >> np.uint64(1)))
    return {"warmup": np.random.default_rng(warmup), "noise": np.random.default_rng(noise),
            "sampling": gen}


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
