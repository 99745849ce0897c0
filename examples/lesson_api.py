"""The lesson's DDPG loop written out with ddpg's parts (Actor, Critic, deep-copied targets, Adam,
ReplayBuffer, Gaussian noise with a decaying sigma, ddpg_update; no ddpg.train) on a small
environment, defined here, whose action bounds are asymmetric.

    python examples/lesson_api.py                 # 3,000 steps, about 10 s on a CPU
    python examples/lesson_api.py --steps 500     # quicker, less learned
"""

import argparse
import copy

import gymnasium as gym
import numpy as np
import torch

import ddpg


class ReachEnv(gym.Env):
    """Observe a target point, act a point, reward -|action - target|; the episode terminates
    when the action lands within 0.1 of the target."""

    action_space = observation_space = gym.spaces.Box(np.array([-1.0, 0.0], np.float32),
                                                      np.array([3.0, 0.5], np.float32))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        box = self.action_space
        self.target = self.np_random.uniform(box.low, box.high).astype(np.float32)
        return self.target, {}

    def step(self, action):
        distance = float(np.linalg.norm(action - self.target))
        return self.target, -distance, distance < 0.1, False, {}  # terminated, truncated


def mu(actor: ddpg.Actor, obs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return actor(torch.as_tensor(obs)[None])[0].numpy()


def to_env(a: np.ndarray, box: gym.spaces.Box) -> np.ndarray:
    """The actor's [-1, 1] to the environment's [low, high], per dimension."""
    return box.low + (a + 1) / 2 * (box.high - box.low)


def mean_return(actor: ddpg.Actor, env: gym.Env, episodes: int = 20) -> float:
    """Noise-free mean return, on episode seeds 10,000, 10,001, ... (apart from training's)."""
    total, box = 0.0, env.action_space
    for i in range(episodes):
        (obs, _), done = env.reset(seed=10_000 + i), False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(to_env(mu(actor, obs), box))
            total, done = total + reward, terminated or truncated
    return total / episodes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000, help="environment steps to train for")
    p.add_argument("--warmup", type=int, default=200, help="first steps: uniform random actions")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)  # networks this small run fastest on one thread
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    env = gym.wrappers.TimeLimit(ReachEnv(), max_episode_steps=5)  # truncates: not terminal
    n_obs, n_act = env.observation_space.shape[0], env.action_space.shape[0]

    actor = ddpg.Actor(n_obs, n_act, max_action=1.0, hidden_sizes=(64, 64))  # mu(s) in [-1, 1]
    critic = ddpg.Critic(n_obs, n_act, hidden_sizes=(64, 64))
    actor_target, critic_target = copy.deepcopy(actor), copy.deepcopy(critic)
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=1e-3)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3)
    buffer = ddpg.ReplayBuffer(a.steps, n_obs, n_act,
                               generator=torch.Generator().manual_seed(a.seed))  # sampling
    # sigma from 0.3 to 0.05 (in the actor's [-1, 1] units), linearly over the run
    noise = ddpg.GaussianNoise(1, n_act, ddpg.SigmaSchedule(0.3, "linear", 0.05, a.steps), rng)

    print(f"before training: mean return {mean_return(actor, env):.3f}")
    obs, _ = env.reset(seed=a.seed)
    for step in range(a.steps):
        action = (rng.uniform(-1.0, 1.0, n_act).astype(np.float32) if step < a.warmup
                  else np.clip(mu(actor, obs) + noise.sample(step)[0], -1.0, 1.0))
        next_obs, reward, terminated, truncated, _ = env.step(to_env(action, env.action_space))
        buffer.add(obs, action, reward, next_obs, terminated)  # normalised action; not truncated
        obs = env.reset()[0] if terminated or truncated else next_obs
        if step >= a.warmup:  # batch 64; gamma 0.9: the task's horizon is 5 steps
            ddpg.ddpg_update(actor, critic, actor_target, critic_target, actor_optimizer,
                             critic_optimizer, buffer, tau=0.005, gamma=0.9)
    print(f"after training:  mean return {mean_return(actor, env):.3f}")


if __name__ == "__main__":
    main()
