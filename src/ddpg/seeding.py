"""The independent random streams of a run, all derived from its one seed."""

from __future__ import annotations

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
