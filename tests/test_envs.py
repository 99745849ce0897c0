import gymnasium as gym
import numpy as np
import pytest

from ddpg.envs import SameStepVectorEnv, check_spaces, from_env_action, make, to_env_action
from ddpg.errors import EnvError


def test_rescaling_asymmetric_per_dimension_bounds():
    low, high = np.array([-2.0, 10.0]), np.array([0.0, 30.0])
    assert np.allclose(to_env_action(np.array([-1.0, -1.0]), low, high), low)
    assert np.allclose(to_env_action(np.array([1.0, 1.0]), low, high), high)
    assert np.allclose(to_env_action(np.array([0.0, 0.5]), low, high), [-1.0, 25.0])
    a = np.random.default_rng(0).uniform(-1, 1, (50, 2))
    assert np.allclose(from_env_action(to_env_action(a, low, high), low, high), a)
    assert np.allclose(to_env_action(np.array([3.0, -7.0]), low, high), [0.0, 10.0])  # clipped


def test_unknown_id_suggests_close_match():
    with pytest.raises(EnvError, match="unknown environment id 'Pendulum-v2'.*Pendulum-v1"):
        make("Pendulum-v2")


def test_discrete_action_space_rejected():
    with pytest.raises(EnvError, match="Discrete action space.*Box"):
        make("CartPole-v1")


class _Spaces(gym.Env):
    def __init__(self, action_space, observation_space=None):
        self.action_space = action_space
        self.observation_space = observation_space or gym.spaces.Box(-1, 1, (3,))


@pytest.mark.parametrize("space,match", [
    (gym.spaces.MultiDiscrete([2, 3]), "MultiDiscrete"),
    (gym.spaces.MultiBinary(3), "MultiBinary"),
    (gym.spaces.Dict({"a": gym.spaces.Box(-1, 1)}), "Dict"),
    (gym.spaces.Box(-np.inf, np.inf, (2,)), "non-finite action bounds"),
])
def test_bad_action_spaces(space, match):
    with pytest.raises(EnvError, match=match):
        check_spaces(_Spaces(space))


def test_image_observation_rejected_with_fix():
    env = _Spaces(gym.spaces.Box(-1, 1, (1,)), gym.spaces.Box(0, 255, (8, 8, 3), np.uint8))
    with pytest.raises(EnvError, match="FlattenObservation"):
        check_spaces(env)


def test_same_step_vector_env_matches_gymnasium_sync_vector_env():
    # Same observations, rewards, flags and final observations as SyncVectorEnv in SAME_STEP
    # autoreset mode, across episode ends at different steps (time limits of 150 and 200).
    fns = [lambda: make("Pendulum-v1", max_episode_steps=150), lambda: make("Pendulum-v1")]
    ref = gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    ours = SameStepVectorEnv(fns)
    o1, _ = ref.reset(seed=[3, 4])
    o2, _ = ours.reset(seed=[3, 4])
    assert np.array_equal(o1, o2)
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(450):
        a = rng.uniform(-2, 2, (2, 1)).astype(np.float32)
        r1, r2 = ref.step(a), ours.step(a)
        for x, y in zip(r1[:4], r2[:4]):
            assert np.array_equal(x, y) and x.dtype == y.dtype
        assert ("_final_obs" in r1[4]) == ("_final_obs" in r2[4])
        if "_final_obs" in r1[4]:
            ends += 1
            assert np.array_equal(r1[4]["_final_obs"], r2[4]["_final_obs"])
            for i in np.flatnonzero(r1[4]["_final_obs"]):
                assert np.array_equal(r1[4]["final_obs"][i], r2[4]["final_obs"][i])
    assert ends == 5  # steps 150, 200, 300, 400, 450
