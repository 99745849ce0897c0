"""Named presets: partial configs (nested dicts of Config fields) merged over the defaults.

Each documents where its values come from. `ENV_PRESETS` says which preset `ddpg train --env ID
--algo A` uses when no --preset is given.
"""

from __future__ import annotations

from typing import Any

# The benchmark settings of rl-baselines3-zoo for DDPG/TD3 on MuJoCo, with tau 0.005.
_MUJOCO = {
    "total_steps": 1_000_000,
    "warmup_steps": 10_000,
    "batch_size": 256,
    "buffer_size": 1_000_000,
    "tau": 0.005,
    "gamma": 0.99,
    "actor_lr": 1e-3,
    "critic_lr": 1e-3,
    "network": {"hidden_sizes": (400, 300)},
    "noise": {"kind": "gaussian", "sigma": 0.1},
    "eval_every": 10_000,
    "checkpoint_every": 50_000,
}
_MUJOCO_ENVS = {"halfcheetah": "HalfCheetah-v5", "hopper": "Hopper-v5",
                "walker2d": "Walker2d-v5", "ant": "Ant-v5"}
_PENDULUM = {
    "env": "Pendulum-v1",
    "total_steps": 10_000,
    "warmup_steps": 1_000,
    "batch_size": 128,
    "buffer_size": 100_000,
    "tau": 0.005,
    "gamma": 0.98,
    "actor_lr": 5e-4,  # 1e-3 dipped to about -800 around step 6000 on 3 of 4 seeds
    "critic_lr": 1e-3,
    "network": {"hidden_sizes": (256, 256)},
    "noise": {"kind": "gaussian", "sigma": 0.1},
    "eval_every": 1_000,
}

# General-purpose settings for an environment without a tuned preset: those of Fujimoto et al.
# 2018 (the TD3 paper, section 6.1 and its repository), for TD3 and for their re-tuned DDPG
# ("OurDDPG"): 400-300, Adam 1e-3 for both networks, batch 100, tau 0.005, gamma 0.99, Gaussian
# exploration 0.1, 1,000 steps of uniform random actions (the paper's value for all but
# HalfCheetah and Ant); TD3's smoothing 0.2 clipped at 0.5 and actor delay 2 are its defaults.
_GENERAL = {
    "warmup_steps": 1_000,
    "batch_size": 100,
    "buffer_size": 1_000_000,
    "tau": 0.005,
    "gamma": 0.99,
    "actor_lr": 1e-3,
    "critic_lr": 1e-3,
    "network": {"hidden_sizes": (400, 300)},
    "noise": {"kind": "gaussian", "sigma": 0.1},
}

# TD7 (Fujimoto et al. 2023, appendix B and sfujim/TD7's hyperparameters): 256-wide networks
# and embeddings, Adam 3e-4 for all three, batch 256, gamma 0.99, targets copied every 250
# updates (td7.target_every; tau unused), TD3's smoothing 0.2 clipped at 0.5 and actor delay 2,
# Gaussian exploration 0.1, LAP alpha 0.4 with min priority 1, 25k steps before training,
# evaluation every 5k steps.
_TD7 = {
    "algo": "td7",
    "replay": "lap",
    "total_steps": 1_000_000,
    "warmup_steps": 25_000,
    "batch_size": 256,
    "buffer_size": 1_000_000,
    "gamma": 0.99,
    "actor_lr": 3e-4,
    "critic_lr": 3e-4,
    "network": {"hidden_sizes": (256, 256)},
    "noise": {"kind": "gaussian", "sigma": 0.1},
    "eval_every": 5_000,
    "checkpoint_every": 50_000,
}

# DDPG+HER on the Fetch robots (gymnasium-robotics, the fetch extra). Plappert et al. 2018
# ("Multi-Goal Reinforcement Learning: Challenging Robotics Environments and Request for
# Research", the HER baselines' settings): three hidden layers of 256, Adam 1e-3 for both
# networks, batch 256, tau 0.05 (their polyak 0.95), replay 1e6, 'future' relabelling with
# k = 4, observations and goals normalised and clipped at 5, Gaussian exploration 0.2, gamma
# 0.98. FetchReach: gamma 0.95 and 1,000 steps before training, as rl-baselines3-zoo's
# FetchReach entries (and the stable-baselines3 DDPG+HER run of issue 33). Not set here (the
# recorded runs used these presets without them): their action L2 penalty (--action-l2 1.0)
# and their 30 % uniformly random actions (--noise.random-eps 0.3), both available as flags,
# and their 40 updates per 2 episodes and worker (here one update per step).
_FETCH = {
    "warmup_steps": 1_000,
    "batch_size": 256,
    "buffer_size": 1_000_000,
    "tau": 0.05,
    "gamma": 0.98,
    "actor_lr": 1e-3,
    "critic_lr": 1e-3,
    "network": {"hidden_sizes": (256, 256, 256)},
    "noise": {"kind": "gaussian", "sigma": 0.2},
    "obs_norm": True,
    "obs_norm_clip": 5.0,
    "her": {"strategy": "future", "k": 4},
    "eval_episodes": 20,
}
_FETCH_ENVS = {"fetchreach": ("FetchReach-v4", {"gamma": 0.95, "total_steps": 10_000,
                                                "eval_every": 1_000}),
               "fetchpush": ("FetchPush-v4", {"total_steps": 1_000_000, "eval_every": 10_000,
                                              "checkpoint_every": 50_000}),
               "fetchpickandplace": ("FetchPickAndPlace-v4",
                                     {"total_steps": 1_000_000, "eval_every": 10_000,
                                      "checkpoint_every": 50_000}),
               "fetchslide": ("FetchSlide-v4", {"total_steps": 1_000_000, "eval_every": 10_000,
                                                "checkpoint_every": 50_000})}

PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "general": _GENERAL,
    "general-td3": {**_GENERAL, "algo": "td3"},
    "td7": _TD7,
    # The lesson's values: 400-300 networks, batch 64, tau 0.001, gamma 0.99, Gaussian noise.
    "seed": {
        "network": {"hidden_sizes": (400, 300)},
        "batch_size": 64,
        "tau": 0.001,
        "gamma": 0.99,
        "actor_lr": 1e-3,
        "critic_lr": 1e-3,
        "noise": {"kind": "gaussian", "sigma": 0.1},
    },
    # Lillicrap et al. 2015, section 7: Adam with actor 1e-4 and critic 1e-3, critic-only L2 1e-2,
    # gamma 0.99, tau 0.001, batch 64, replay 1e6, 400-300, the action entering the critic at its
    # second layer, output layers U(-3e-3, 3e-3), batch normalisation, OU theta 0.15 sigma 0.2
    # (dt 1, as in the paper's process x += theta (mu - x) + sigma N(0, 1)).
    "paper-2015": {
        "actor_lr": 1e-4,
        "critic_lr": 1e-3,
        "critic_weight_decay": 1e-2,
        "gamma": 0.99,
        "tau": 0.001,
        "batch_size": 64,
        "buffer_size": 1_000_000,
        "network": {"hidden_sizes": (400, 300), "critic_action_layer": 1, "init": "paper",
                    "norm": "batch"},
        "noise": {"kind": "ou", "theta": 0.15, "sigma": 0.2, "dt": 1.0},
    },
    # Tuned to solve Pendulum-v1 (eval >= -200) within 10k steps in well under 90 s on 2 cores.
    "pendulum": _PENDULUM,
    "pendulum-td3": {**_PENDULUM, "algo": "td3"},
    # TD7 on Pendulum: the paper's networks and rates with the pendulum run's length, warm-up
    # and discount
    "pendulum-td7": {**_TD7, **{k: _PENDULUM[k] for k in (
        "env", "total_steps", "warmup_steps", "buffer_size", "gamma", "eval_every")},
        "checkpoint_every": 10_000},
    **{name: {**_MUJOCO, "env": env} for name, env in _MUJOCO_ENVS.items()},
    **{f"{name}-td3": {**_MUJOCO, "env": env, "algo": "td3"}
       for name, env in _MUJOCO_ENVS.items()},
    **{f"{name}-td7": {**_TD7, "env": env} for name, env in _MUJOCO_ENVS.items()},
    **{name: {**_FETCH, "env": env, **own} for name, (env, own) in _FETCH_ENVS.items()},
    **{f"{name}-td3": {**_FETCH, "env": env, **own, "algo": "td3"}
       for name, (env, own) in _FETCH_ENVS.items()},
}
PRESET_DESCRIPTIONS: dict[str, str] = {
    "default": "the dataclass defaults",
    "general": "DDPG for any environment: the TD3 paper's re-tuned DDPG (400-300, batch 100, "
               "tau 0.005, lr 1e-3, 1k warm-up)",
    "general-td3": "TD3 for any environment: Fujimoto et al. 2018's settings",
    "td7": "TD7 for any environment: Fujimoto et al. 2023's settings (256 wide, batch 256, "
           "lr 3e-4, LAP, policy checkpoints, 25k warm-up)",
    "seed": "the lesson's values (400-300, batch 64, tau 0.001, gamma 0.99)",
    "paper-2015": "the DDPG paper exactly (Lillicrap et al. 2015, section 7)",
    "pendulum": "DDPG tuned to solve Pendulum-v1 within 10k steps in under 90 s on 2 cores",
    "pendulum-td3": "TD3 with the pendulum settings",
    "pendulum-td7": "TD7 (the paper's networks) with the pendulum run's length and warm-up",
    **{name: f"DDPG on {env}, rl-zoo settings (400-300, batch 256, 10k warm-up, 1M steps)"
       for name, env in _MUJOCO_ENVS.items()},
    **{f"{name}-td3": f"TD3 on {env}, rl-zoo settings" for name, env in _MUJOCO_ENVS.items()},
    **{f"{name}-td7": f"TD7 on {env}, the paper's settings" for name, env in _MUJOCO_ENVS.items()},
    **{name: f"DDPG+HER on {env}, the HER baselines' settings (3x256, batch 256, future k=4)"
       for name, (env, _) in _FETCH_ENVS.items()},
    **{f"{name}-td3": f"TD3+HER on {env}, the fetch settings"
       for name, (env, _) in _FETCH_ENVS.items()},
}
# The preset `ddpg train --env ID [--algo A]` uses when no --preset is given.
ENV_PRESETS: dict[tuple[str, str], str] = {
    ("Pendulum-v1", "ddpg"): "pendulum", ("Pendulum-v1", "td3"): "pendulum-td3",
    ("Pendulum-v1", "td7"): "pendulum-td7",
    **{(env, "ddpg"): name for name, env in _MUJOCO_ENVS.items()},
    **{(env, "td3"): f"{name}-td3" for name, env in _MUJOCO_ENVS.items()},
    **{(env, "td7"): f"{name}-td7" for name, env in _MUJOCO_ENVS.items()},
    **{(env, "ddpg"): name for name, (env, _) in _FETCH_ENVS.items()},
    **{(env, "td3"): f"{name}-td3" for name, (env, _) in _FETCH_ENVS.items()},
}
GENERAL_PRESETS = {"ddpg": "general", "td3": "general-td3", "td7": "td7"}


def preset_for_env(env_id: str, algo: str = "ddpg") -> str:
    """The tuned preset of (env_id, algo), else the algorithm's general-purpose one."""
    return ENV_PRESETS.get((env_id, algo), GENERAL_PRESETS.get(algo, "general"))
