import numpy as np
import pytest
import torch

import ddpg
from ddpg.errors import PolicyFileError
from ddpg.networks import Actor
from ddpg.policy import Policy


def make_policy():
    torch.manual_seed(0)
    actor = Actor(2, 2, 1.0, (16, 16))
    meta = {"env": "Line", "obs_dim": 2, "action_dim": 2,
            "network": {"hidden_sizes": [16, 16], "activation": "relu", "norm": "none",
                        "critic_action_layer": 0, "init": "default"}}
    return Policy(actor, np.array([-2.0, 10.0]), np.array([0.0, 30.0]), meta)


def test_save_load_round_trip_single_and_batched(tmp_path):
    pol = make_policy()
    pol.save(tmp_path / "policy.pt")
    loaded = ddpg.load(tmp_path)  # a run directory works as well as the file
    obs = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    assert np.array_equal(loaded.act(obs), pol.act(obs))
    single = loaded.act(obs[0])
    assert single.shape == (2,) and np.allclose(single, pol.act(obs)[0])
    acts = loaded.act(obs * 100)
    assert np.all(acts >= [-2.0, 10.0]) and np.all(acts <= [0.0, 30.0])
    assert loaded.metadata["env"] == "Line"
    with pytest.raises(ValueError, match="expected \\(2,\\)"):
        loaded.act(np.zeros(3))


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(PolicyFileError, match="no policy at"):
        ddpg.load(tmp_path / "nothing")
    make_policy().save(tmp_path / "policy.pt")
    data = (tmp_path / "policy.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(PolicyFileError, match="not a readable ddpg policy"):
        ddpg.load(tmp_path / "trunc.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(PolicyFileError, match="not a ddpg policy file"):
        ddpg.load(tmp_path / "foreign.pt")
    torch.save({"format": "ddpg-policy", "version": 99}, tmp_path / "future.pt")
    with pytest.raises(PolicyFileError, match="version 99"):
        ddpg.load(tmp_path / "future.pt")


def test_loading_never_unpickles_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": "ddpg-policy", "version": 1, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(PolicyFileError):
        ddpg.load(tmp_path / "evil.pt")
