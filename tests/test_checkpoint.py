import errno
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from ddpg.buffer import ReplayBuffer
from ddpg.checkpoint import CheckpointManager
from ddpg.errors import CheckpointError


def add_rows(buf, start, n):
    r = np.arange(start, start + n, dtype=np.float32)
    buf.add(np.stack([r, r], 1), r[:, None], r, np.stack([r, r], 1), np.zeros(n))


def state(step):
    return {"w": torch.full((3,), float(step)), "step": step, "rng": {"big": 2**100 + step}}


def test_round_trip_incremental_buffer_and_keep(tmp_path):
    mgr = CheckpointManager(tmp_path, keep=2)
    buf = ReplayBuffer(10, 2, 1)
    for step in (1, 2, 3):
        add_rows(buf, (step - 1) * 4, 4)
        mgr.save(step, state(step), {"config": {}}, buf)
    # only two checkpoints kept; each buffer chunk holds only the rows new at its checkpoint
    assert sorted(p.name for p in tmp_path.glob("ckpt-*.json")) == [
        "ckpt-000000000002.json", "ckpt-000000000003.json"]
    chunks = sorted(p.name for p in tmp_path.glob("buffer-*.pt"))
    assert chunks == ["buffer-000000000000-000000000004.pt",  # rows 2..3 still held (cap 10)
                      "buffer-000000000004-000000000008.pt",
                      "buffer-000000000008-000000000012.pt"]
    loaded, problems = mgr.latest()
    assert problems == [] and loaded.step == 3
    assert torch.equal(loaded.state["w"], torch.full((3,), 3.0))
    assert loaded.state["rng"]["big"] == 2**100 + 3
    restored = ReplayBuffer(10, 2, 1)
    restored.restore(loaded.buffer["total"], loaded.buffer["start"], loaded.buffer["rows"])
    assert (restored.total, restored.pos, restored.size) == (buf.total, buf.pos, buf.size)
    assert torch.equal(restored.states, buf.states) and torch.equal(restored.rewards, buf.rewards)


def test_damaged_newest_checkpoint_falls_back_to_older(tmp_path):
    mgr = CheckpointManager(tmp_path, keep=3)
    buf = ReplayBuffer(100, 2, 1)
    for step in (1, 2):
        add_rows(buf, step * 10, 5)
        mgr.save(step, state(step), {}, buf)
    newest = tmp_path / "ckpt-000000000002.pt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    loaded, problems = CheckpointManager(tmp_path).latest()
    assert loaded.step == 1 and "checksum" in problems[0]
    chunk = next(tmp_path.glob("buffer-000000000005-*.pt"))
    chunk.write_bytes(chunk.read_bytes()[:10])  # the newest chunk: only step 2 needs it
    assert CheckpointManager(tmp_path).latest()[0].step == 1


def test_disk_full_keeps_previous_checkpoint(tmp_path, monkeypatch):
    mgr = CheckpointManager(tmp_path, keep=1)
    buf = ReplayBuffer(100, 2, 1)
    add_rows(buf, 0, 5)
    mgr.save(1, state(1), {}, buf)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    add_rows(buf, 5, 5)
    import ddpg.checkpoint as ck

    real = ck.atomic_write_bytes

    def full(path, data):
        if str(path).endswith(".json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(ck, "atomic_write_bytes", full)
    with pytest.raises(CheckpointError, match="step 2.*No space left.*previous checkpoint is intact"):
        mgr.save(2, state(2), {}, buf)
    monkeypatch.setattr(ck, "atomic_write_bytes", real)
    assert CheckpointManager(tmp_path).latest()[0].step == 1
    for name, data in before.items():
        assert (tmp_path / name).read_bytes() == data
    mgr.save(3, state(3), {}, buf)  # the failed chunk is written again, not assumed saved
    loaded = CheckpointManager(tmp_path).latest()[0]
    assert loaded.step == 3 and loaded.buffer["rows"]["rewards"].shape[0] == 10


def test_version_and_foreign_manifests(tmp_path):
    mgr = CheckpointManager(tmp_path)
    path = mgr.save(1, state(1), {}, None)
    m = json.loads(path.read_text())
    path.write_text(json.dumps(dict(m, version=7)))
    with pytest.raises(CheckpointError, match="version 7"):
        mgr.load(path)
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match="not a ddpg checkpoint"):
        mgr.load(path)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("ck")
    buf = ReplayBuffer(50, 2, 1)
    add_rows(buf, 0, 20)
    CheckpointManager(d).save(5, state(5), {}, buf)
    return d, {p.name: p.read_bytes() for p in d.iterdir()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["json", "state", "chunk"]),
       how=st.sampled_from(["random", "truncate", "flip"]), data=st.data())
def test_fuzz_reader_only_raises_checkpoint_error(saved, tmp_path, which, how, data):
    src, files = saved
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    for name, content in files.items():
        (d / name).write_bytes(content)
    name = next(n for n in files if (which == "json" and n.endswith(".json"))
                or (which == "state" and n.startswith("ckpt") and n.endswith(".pt"))
                or (which == "chunk" and n.startswith("buffer")))
    content = files[name]
    if how == "random":
        content = data.draw(st.binary(max_size=400))
    elif how == "truncate":
        content = content[: data.draw(st.integers(0, len(content) - 1))]
    else:
        i = data.draw(st.integers(0, len(content) - 1))
        content = content[:i] + bytes([content[i] ^ (1 << data.draw(st.integers(0, 7)))]) + \
            content[i + 1:]
    (d / name).write_bytes(content)
    try:
        loaded = CheckpointManager(d).load(d / "ckpt-000000000005.json")
    except CheckpointError:
        return
    # a change that still loads must be one the manifest does not checksum (JSON whitespace)
    assert which == "json" and loaded.step == 5
