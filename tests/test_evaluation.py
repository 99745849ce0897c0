import gymnasium as gym
import numpy as np
import pytest

from ddpg.evaluation import discounted_returns_to_go, episode_seeds, evaluate

from conftest import LineEnv


def test_fixed_seeds_give_identical_evaluations():
    env = gym.make("Pendulum-v1")
    act = lambda o: np.array([np.clip(-2 * o[2], -2, 2)], np.float32)  # noqa: E731
    a = evaluate(act, env, episode_seeds(100, 3)).returns
    b = evaluate(act, env, episode_seeds(100, 3)).returns
    c = evaluate(act, env, episode_seeds(200, 3)).returns
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert episode_seeds(5, 3) == [5, 6, 7]


def test_returns_to_go():
    g = discounted_returns_to_go([1.0, 2.0, 3.0], 0.5)
    assert g.tolist() == [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0]


def test_q_diagnostics_use_states_with_enough_horizon():
    env = LineEnv(max_steps=100, terminate_at=1e9)  # truncated after 100 steps, reward -|x|
    seen = []

    def q_fn(obs):
        seen.append(obs)
        return np.zeros(len(obs))

    ev = evaluate(lambda o: np.array([0.0, 20.0], np.float32), env, [0], q_fn, gamma=0.9)
    horizon = 44  # ceil(log(0.01) / log(0.9))
    assert len(seen[0]) == 100 - horizon
    assert ev.q_estimate == 0.0 and ev.mc_return < 0
    x0 = abs(seen[0][0][0])  # x never changes: G = -|x| / (1 - 0.9) up to the cut tail
    assert ev.mc_return == pytest.approx(-x0 * 10, rel=0.02)


def test_terminated_episodes_use_every_state():
    env = LineEnv(max_steps=100, terminate_at=2.5)
    seen = []
    evaluate(lambda o: np.array([-1.0, 20.0], np.float32), env, [0],
             lambda o: seen.append(o) or np.zeros(len(o)), gamma=0.99)
    assert 2 <= len(seen[0]) <= 5  # terminates within a few steps; all states kept


def test_a_time_limit_put_on_by_hand_counts_as_the_environment_s_own():
    """An env made without gymnasium.make has no spec; its TimeLimit wrapper still ends its
    episodes, so no evaluation cap (and no warning that it has no time limit)."""
    from gymnasium.envs.classic_control.pendulum import PendulumEnv
    from gymnasium.wrappers import ClipAction, TimeLimit

    from ddpg.evaluation import episode_cap

    assert episode_cap(PendulumEnv(), 1000) == 1000
    assert episode_cap(TimeLimit(PendulumEnv(), max_episode_steps=200), 1000) is None
    assert episode_cap(ClipAction(TimeLimit(PendulumEnv(), max_episode_steps=200)), 1000) is None
    assert episode_cap(gym.make("Pendulum-v1"), 1000) is None
