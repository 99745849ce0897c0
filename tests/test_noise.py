import numpy as np
import pytest

from ddpg.config import NoiseConfig
from ddpg.noise import GaussianNoise, OUNoise, SigmaSchedule, make_noise, with_random_actions


def test_schedules():
    const = SigmaSchedule(0.3)
    assert const(0) == const(10**6) == 0.3
    lin = SigmaSchedule(0.4, "linear", 0.1, 100)
    assert lin(0) == pytest.approx(0.4) and lin(50) == pytest.approx(0.25)
    assert lin(100) == pytest.approx(0.1) and lin(10**6) == pytest.approx(0.1)
    exp = SigmaSchedule(0.4, "exponential", 0.1, 100)
    assert exp(50) == pytest.approx(0.2)  # geometric midpoint
    assert exp(100) == pytest.approx(0.1) and exp(500) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="final_sigma > 0"):
        SigmaSchedule(0.4, "exponential", 0.0, 100)


def test_gaussian_statistics_per_dimension():
    noise = GaussianNoise(4, 3, SigmaSchedule(0.2), np.random.default_rng(0))
    x = np.stack([noise.sample(0) for _ in range(5000)])  # (T, envs, dims)
    assert x.shape == (5000, 4, 3) and x.dtype == np.float32
    assert np.allclose(x.std(axis=0), 0.2, rtol=0.06)
    assert np.allclose(x.mean(axis=0), 0.0, atol=0.02)
    c = np.corrcoef(x[:, 0, 0], x[:, 1, 1])[0, 1]
    assert abs(c) < 0.05  # independent across envs and dimensions


def test_gaussian_follows_schedule():
    noise = GaussianNoise(1, 1, SigmaSchedule(1.0, "linear", 0.0, 100), np.random.default_rng(0))
    late = np.array([noise.sample(100) for _ in range(100)])
    assert np.all(late == 0.0)


def test_ou_mean_reversion_and_stationary_variance():
    theta, dt, sigma, envs = 1.0, 0.1, 0.5, 4000
    noise = OUNoise(envs, 1, SigmaSchedule(sigma), np.random.default_rng(0), theta, dt)
    noise.x[:] = 3.0
    noise.sample(0)
    means = [noise.sample(0).mean() for _ in range(9)]  # 10 steps in total
    expected = 3.0 * (1 - theta * dt) ** 10
    assert means[-1] == pytest.approx(expected, abs=0.03)
    for _ in range(200):  # forgets the start
        x = noise.sample(0)
    stationary_var = sigma**2 * dt / (1 - (1 - theta * dt) ** 2)
    assert x.var() == pytest.approx(stationary_var, rel=0.08)
    assert abs(x.mean()) < 0.03
    # temporally correlated: lag-1 correlation 1 - theta dt
    y = noise.sample(0)
    assert np.corrcoef(x[:, 0], y[:, 0])[0, 1] == pytest.approx(1 - theta * dt, abs=0.03)


def test_ou_resets_only_masked_envs():
    noise = OUNoise(3, 2, SigmaSchedule(0.3), np.random.default_rng(1))
    for _ in range(50):
        noise.sample(0)
    before = noise.x.copy()
    noise.reset(np.array([False, True, False]))
    assert np.all(noise.x[1] == 0.0)
    assert np.array_equal(noise.x[[0, 2]], before[[0, 2]])


def test_state_dict_round_trip():
    cfg = NoiseConfig(kind="ou", sigma=0.3)
    a = make_noise(cfg, 2, 2, np.random.default_rng(5))
    for _ in range(10):
        a.sample(0)
    b = make_noise(cfg, 2, 2, np.random.default_rng(6))
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.sample(0), b.sample(0))


def test_random_actions_replace_a_share_eps_of_the_actions_from_the_noise_stream():
    """The HER baselines' random_eps: each environment's action is, with probability eps,
    replaced by a uniform one in [-1, 1]; eps = 0 draws nothing from the stream."""
    rng = np.random.default_rng(0)
    a = np.full((20_000, 3), 0.5, np.float32)
    state = rng.bit_generator.state
    assert with_random_actions(a, 0.0, rng) is a and rng.bit_generator.state == state
    out = with_random_actions(a, 0.3, rng)
    replaced = (out != 0.5).any(axis=1)
    assert abs(replaced.mean() - 0.3) < 0.015
    assert (np.abs(out[replaced]) <= 1).all() and abs(float(out[replaced].mean())) < 0.02
    assert (out[~replaced] == 0.5).all() and out.dtype == np.float32
