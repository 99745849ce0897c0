"""rl-baselines3-zoo hyperparameter files (ddpg.yml, td3.yml) read as ddpg configs, and presets
written back in that format.

A zoo file's top-level keys are environment ids and `default`; `ddpg train --config td3.yml
--env ID` takes the entry of ID, else `default` (YAML anchors and `<<` merges are resolved by
the YAML reader), and maps each key it can honour onto ddpg's config. A key it cannot honour
(a learning-rate schedule such as lin_7e-4, train_freq counted in episodes, env wrappers, reward
normalisation, ...) is refused by name with what to do instead, never silently dropped.
`policy_kwargs` is parsed as a literal (`dict(net_arch=[400, 300])`), never evaluated.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Callable

import yaml

from ddpg.errors import ConfigError

ENV_ID = re.compile(r"^[\w.:/-]+-v\d+$")
_NOISE = {"normal": "gaussian", "ornstein-uhlenbeck": "ou"}
_ACTIVATIONS = {"ReLU": "relu", "Tanh": "tanh", "ELU": "elu", "LeakyReLU": "leaky_relu"}


def is_zoo(data: Any, config_keys: set[str]) -> bool:
    """True for a mapping of environment ids (and `default`) to mappings, none of them a key
    of ddpg's own config files."""
    return (isinstance(data, dict) and bool(data) and not set(map(str, data)) & config_keys
            and all(isinstance(v, dict) for v in data.values())
            and any(k == "default" or ENV_ID.match(str(k)) for k in data))


def _number(key: str, value: Any, kind: type, where: str) -> Any:
    """An int or float, also from the strings YAML 1.1 leaves '1e-3' and '2e5' as."""
    if isinstance(value, str):
        if re.match(r"^(lin|linear|exp)_", value):
            raise ConfigError(f"{where}: {key}: {value!r} is a schedule, which ddpg does not "
                              f"take from zoo files; give a constant (e.g. {key}: 0.001).")
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{where}: {key}: {value!r} is not a number.") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: {key}: {value!r} is not a number.")
    if kind is int:
        if float(value) != int(value):
            raise ConfigError(f"{where}: {key}: {value!r} is not a whole number.")
        return int(value)
    return float(value)


def _literal(node: ast.AST, where: str) -> Any:
    """A Python literal, also `dict(a=1)`, without evaluating anything; names such as nn.ReLU
    come back as their dotted text."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" \
            and not node.args:
        return {kw.arg: _literal(kw.value, where) for kw in node.keywords}
    if isinstance(node, (ast.Name, ast.Attribute)):
        return ast.unparse(node)
    if isinstance(node, ast.Dict):
        return {_literal(k, where): _literal(v, where) for k, v in zip(node.keys, node.values)}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, where) for e in node.elts]
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ConfigError(f"{where}: policy_kwargs holds {ast.unparse(node)!r}, which is not a "
                          f"literal; write plain values (dict(net_arch=[400, 300])).") from None


def _policy_kwargs(value: Any, algo: str, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = _literal(ast.parse(value, mode="eval").body, where)
        except SyntaxError as e:
            raise ConfigError(f"{where}: policy_kwargs {value!r} is not a Python expression "
                              f"({e.msg}).") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: policy_kwargs {value!r} is not a mapping such as "
                          f"dict(net_arch=[400, 300]).")
    network: dict[str, Any] = {}
    for key, v in value.items():
        if key == "net_arch":
            if isinstance(v, dict):  # SB3's dict(pi=[...], qf=[...])
                if v.get("pi") != v.get("qf") or set(v) != {"pi", "qf"}:
                    raise ConfigError(f"{where}: policy_kwargs net_arch {v!r}: ddpg's actor and "
                                      f"critic share one hidden_sizes; give one list.")
                v = v["pi"]
            if not (isinstance(v, list) and v and all(isinstance(n, int) and n > 0 for n in v)):
                raise ConfigError(f"{where}: policy_kwargs net_arch {v!r} is not a list of "
                                  f"layer widths such as [400, 300].")
            network["hidden_sizes"] = v
        elif key == "activation_fn":
            name = str(v).rsplit(".", 1)[-1]
            if name not in _ACTIVATIONS:
                raise ConfigError(f"{where}: policy_kwargs activation_fn {v!r}: ddpg has "
                                  f"{', '.join('nn.' + a for a in _ACTIVATIONS)}.")
            network["activation"] = _ACTIVATIONS[name]
        elif key == "n_critics" and v == (2 if algo == "td3" else 1):
            continue  # what the algorithm has anyway
        else:
            raise ConfigError(f"{where}: policy_kwargs {key}={v!r} has no ddpg equivalent; "
                              f"drop it (ddpg takes net_arch and activation_fn).")
    return network


def _train_freq(entry: dict[str, Any], where: str) -> int:
    """updates_per_step from train_freq and gradient_steps, where training is per step."""
    freq = entry.get("train_freq", 1)
    if isinstance(freq, list) and len(freq) == 2 and freq[1] == "step":
        freq = freq[0]
    if freq != 1:
        raise ConfigError(f"{where}: train_freq: {freq!r}: ddpg trains after every environment "
                          f"step; use train_freq: 1 with gradient_steps for updates per step.")
    steps = entry.get("gradient_steps", 1)
    if steps == -1:  # as many as steps collected: one per step
        return 1
    return _number("gradient_steps", steps, int, where)


def from_zoo(data: dict[str, Any], env: str, algo: str, where: str) -> dict[str, Any]:
    """The nested config overrides of the zoo entry for `env` (else `default`)."""
    key = env if env in data else "default" if "default" in data else None
    if key is None:
        raise ConfigError(f"{where} is an rl-zoo file without an entry for {env!r} or a "
                          f"'default' one; it has {', '.join(map(str, data))}.")
    entry, at = data[key], f"{where} [{key}]"
    out: dict[str, Any] = {"env": env} if key == "default" else {"env": key}
    td3: dict[str, Any] = {}
    noise: dict[str, Any] = {}

    def number(name: str, kind: type) -> Callable[[Any], Any]:
        return lambda v: _number(name, v, kind, at)

    simple = {"n_timesteps": ("total_steps", number("n_timesteps", int)),
              "learning_starts": ("warmup_steps", number("learning_starts", int)),
              "batch_size": ("batch_size", number("batch_size", int)),
              "buffer_size": ("buffer_size", number("buffer_size", int)),
              "gamma": ("gamma", number("gamma", float)),
              "tau": ("tau", number("tau", float)),
              "n_envs": ("num_envs", number("n_envs", int))}
    for name, value in entry.items():
        if name in simple:
            field, convert = simple[name]
            out[field] = convert(value)
        elif name == "learning_rate":
            out["actor_lr"] = out["critic_lr"] = _number(name, value, float, at)
        elif name == "noise_type":
            if value not in _NOISE:
                raise ConfigError(f"{at}: noise_type {value!r}: use normal or "
                                  f"ornstein-uhlenbeck.")
            noise["kind"] = _NOISE[value]
        elif name == "noise_std":
            noise["sigma"] = _number(name, value, float, at)
        elif name in ("train_freq", "gradient_steps"):
            out["updates_per_step"] = _train_freq(entry, at)
        elif name in ("policy_delay", "target_policy_noise", "target_noise_clip"):
            if algo != "td3":
                raise ConfigError(f"{at}: {name} is a TD3 setting; train with --algo td3, or "
                                  f"drop it for DDPG.")
            field = {"policy_delay": "policy_delay", "target_policy_noise": "target_noise",
                     "target_noise_clip": "target_noise_clip"}[name]
            td3[field] = _number(name, value, int if name == "policy_delay" else float, at)
        elif name == "policy_kwargs":
            if network := _policy_kwargs(value, algo, at):
                out["network"] = network
        elif name == "policy":
            if value != "MlpPolicy":
                raise ConfigError(f"{at}: policy {value!r}: ddpg's networks are MlpPolicy's "
                                  f"(vector observations); use MlpPolicy.")
        elif name == "normalize":
            out["obs_norm"] = _normalize(value, at)
        else:
            raise ConfigError(f"{at}: {name}: {value!r} has no ddpg equivalent ({_why(name)}); "
                              f"drop it from the entry, or set ddpg's own keys in a ddpg "
                              f"config file (see `ddpg train --help`).")
    if noise:
        out["noise"] = noise
    if td3:
        out["td3"] = td3
    return out


def _normalize(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            value = _literal(ast.parse(value, mode="eval").body, where)
        except SyntaxError:
            pass
    if isinstance(value, dict) and set(value) <= {"norm_obs", "norm_reward", "gamma"}:
        if value.get("norm_reward"):
            raise ConfigError(f"{where}: normalize {value!r}: ddpg does not normalise rewards; "
                              f"use norm_reward: False (observations only) or scale the "
                              f"reward in the environment.")
        return bool(value.get("norm_obs", True))
    raise ConfigError(f"{where}: normalize {value!r}: use true, false or "
                      f"\"{{'norm_obs': True, 'norm_reward': False}}\".")


def _why(name: str) -> str:
    return {"env_wrapper": "wrap the environment yourself and register it",
            "frame_stack": "stack frames in an environment wrapper",
            "callback": "pass callbacks to ddpg.train",
            "use_sde": "DDPG and TD3 are deterministic",
            "replay_buffer_class": "ddpg has one replay buffer",
            "replay_buffer_kwargs": "ddpg has one replay buffer",
            "optimize_memory_usage": "ddpg's buffer stores each transition once already",
            "env_kwargs": "register the environment with its arguments"}.get(
        name, "not a key ddpg maps")


def to_zoo(config: dict[str, Any], env: str) -> str:
    """The rl-zoo entry for `env` of a config (as ddpg.config.to_dict gives it), with the
    settings zoo files cannot express listed as comments."""
    c, n, t = config, config["network"], config["td3"]
    entry: dict[str, Any] = {
        "n_timesteps": c["total_steps"], "policy": "MlpPolicy",
        "learning_starts": c["warmup_steps"], "batch_size": c["batch_size"],
        "buffer_size": c["buffer_size"], "gamma": c["gamma"], "tau": c["tau"],
        "learning_rate": c["critic_lr"],
        "noise_type": {v: k for k, v in _NOISE.items()}[c["noise"]["kind"]],
        "noise_std": c["noise"]["sigma"], "train_freq": 1,
        "gradient_steps": c["updates_per_step"],
        "policy_kwargs": f"dict(net_arch={list(n['hidden_sizes'])}"
                         + ("" if n["activation"] == "relu" else ", activation_fn=nn."
                            + {v: k for k, v in _ACTIVATIONS.items()}[n["activation"]]) + ")"}
    if c["algo"] == "td3":
        entry.update(policy_delay=t["policy_delay"], target_policy_noise=t["target_noise"],
                     target_noise_clip=t["target_noise_clip"])
    if c["num_envs"] != 1:
        entry["n_envs"] = c["num_envs"]
    if c["obs_norm"]:
        entry["normalize"] = "{'norm_obs': True, 'norm_reward': False}"
    lost = []
    if c["actor_lr"] != c["critic_lr"]:
        lost.append(f"actor_lr={c['actor_lr']} (one learning_rate in SB3: the critic's)")
    for key, default in (("critic_weight_decay", 0.0),):
        if c[key] != default:
            lost.append(f"{key}={c[key]}")
    for key, default in (("norm", "none"), ("init", "default"), ("critic_action_layer", 0)):
        if n[key] != default:
            lost.append(f"network.{key}={n[key]!r}")
    if c["noise"]["kind"] == "ou":
        for key, sb3 in (("theta", 0.15), ("dt", 1e-2)):  # SB3's OrnsteinUhlenbeckActionNoise
            if c["noise"][key] != sb3:
                lost.append(f"noise.{key}={c['noise'][key]} (SB3's OU noise has {sb3})")
    if c["noise"]["schedule"] != "constant":
        lost.append(f"noise.schedule={c['noise']['schedule']!r}")
    text = yaml.safe_dump({env: entry}, sort_keys=False)
    notes = "".join(f"# not expressible in rl-zoo: {x}\n" for x in lost)
    return notes + text
