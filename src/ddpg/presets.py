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

PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "general": _GENERAL,
    "general-td3": {**_GENERAL, "algo": "td3"},
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
    **{name: {**_MUJOCO, "env": env} for name, env in _MUJOCO_ENVS.items()},
    **{f"{name}-td3": {**_MUJOCO, "env": env, "algo": "td3"}
       for name, env in _MUJOCO_ENVS.items()},
}
PRESET_DESCRIPTIONS: dict[str, str] = {
    "default": "the dataclass defaults",
    "general": "DDPG for any environment: the TD3 paper's re-tuned DDPG (400-300, batch 100, "
               "tau 0.005, lr 1e-3, 1k warm-up)",
    "general-td3": "TD3 for any environment: Fujimoto et al. 2018's settings",
    "seed": "the lesson's values (400-300, batch 64, tau 0.001, gamma 0.99)",
    "paper-2015": "the DDPG paper exactly (Lillicrap et al. 2015, section 7)",
    "pendulum": "DDPG tuned to solve Pendulum-v1 within 10k steps in under 90 s on 2 cores",
    "pendulum-td3": "TD3 with the pendulum settings",
    **{name: f"DDPG on {env}, rl-zoo settings (400-300, batch 256, 10k warm-up, 1M steps)"
       for name, env in _MUJOCO_ENVS.items()},
    **{f"{name}-td3": f"TD3 on {env}, rl-zoo settings" for name, env in _MUJOCO_ENVS.items()},
}
# The preset `ddpg train --env ID [--algo A]` uses when no --preset is given.
ENV_PRESETS: dict[tuple[str, str], str] = {
    ("Pendulum-v1", "ddpg"): "pendulum", ("Pendulum-v1", "td3"): "pendulum-td3",
    **{(env, "ddpg"): name for name, env in _MUJOCO_ENVS.items()},
    **{(env, "td3"): f"{name}-td3" for name, env in _MUJOCO_ENVS.items()},
}


def preset_for_env(env_id: str, algo: str = "ddpg") -> str:
    """The tuned preset of (env_id, algo), else the algorithm's general-purpose one."""
    return ENV_PRESETS.get((env_id, algo), "general-td3" if algo == "td3" else "general")
