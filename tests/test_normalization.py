import numpy as np
import torch

from ddpg.normalization import RunningNorm


def test_running_statistics_match_batch_statistics():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(1000, 4))
    n = RunningNorm(4)
    for chunk in np.array_split(x, 7):
        n.update(chunk)
    assert np.allclose(n.mean, x.mean(0)) and np.allclose(n.var, x.var(0))
    z = n.normalize(x)
    assert np.allclose(z.mean(0), 0, atol=1e-6) and np.allclose(z.std(0), 1, atol=1e-4)
    t = n.normalize(torch.as_tensor(x, dtype=torch.float32))
    assert np.allclose(t.numpy(), z, atol=1e-5)
    assert n.normalize(np.full((1, 4), 1e9)).max() == 10.0  # clipped


def test_state_round_trip():
    n = RunningNorm(2)
    n.update(np.array([[1.0, 2.0], [3.0, 5.0]]))
    m = RunningNorm(2)
    m.load_state_dict(n.state_dict())
    assert np.array_equal(m.mean, n.mean) and m.count == 2
