"""What a run records (ddpg.metrics): --track sends the TensorBoard scalars to Weights & Biases,
here in wandb's offline mode (no network), as one W&B run continued on resume."""

from __future__ import annotations

import dataclasses
import re
import time

import pytest

import ddpg
from ddpg.config import Config, NetworkConfig

pytest.importorskip("wandb")


def test_track_writes_the_scalars_to_an_offline_wandb_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = dataclasses.replace(Config(), env="Pendulum-v1", total_steps=60, warmup_steps=40,
                              batch_size=8, eval_every=30, eval_episodes=1, track=True,
                              network=NetworkConfig(hidden_sizes=(8,)), out=str(tmp_path),
                              run_name="r", tensorboard=False, progress=False, threads=1)
    res = ddpg.train(cfg)
    runs = list((res.run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    keys = (b"eval/eval_return_mean", b"train/critic_loss", b"train/steps_per_s")
    # wandb's own service process writes the file; on a loaded machine it can still be
    # flushing after finish() returned (seen under the full suite: the header only)
    deadline = time.monotonic() + 60
    while True:
        data = b"".join(p.read_bytes() for p in runs[0].glob("*.wandb"))
        if all(k in data for k in keys) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for key in keys:
        assert key in data, key
    # resumed with more steps: the same W&B run goes on
    ddpg.resume(res.run_dir, total_steps=90)
    run_id = runs[0].name.rsplit("-", 1)[-1]
    after = sorted((res.run_dir / "wandb").glob("offline-run-*"))
    # one folder per W&B session, named by time and run id (and -1, -2 within one second)
    assert after and all(re.search(rf"-{run_id}(-\d+)?$", p.name) for p in after), after
