"""Run an exported policy with onnxruntime, numpy and gymnasium alone: ddpg is not imported (nor
torch), so this is what deployment needs. Make the file with ddpg first:

    ddpg train --out runs/p                       # trains Pendulum-v1 into runs/p/<run>/
    ddpg export runs/p --format onnx              # writes policy.onnx and policy.onnx.json there
    python examples/onnx_policy.py runs/p/*/policy.onnx --episodes 10

policy.onnx maps a raw observation (input "obs", float32, shape (batch, obs_dim)) to an action
in the environment's units (output "action"); policy.onnx.json beside it names the environment.
"""

import argparse
import json
import sys

import gymnasium as gym
import numpy as np
import onnxruntime as ort


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("policy", help="the exported policy.onnx (policy.onnx.json must be beside it)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=2_000_000,
                   help="seed of the first episode, episode i uses seed + i (default: the same "
                        "as `ddpg eval`, so the two print the same return)")
    p.add_argument("--env", default=None, help="environment id (default: the one in the .json)")
    a = p.parse_args()

    with open(a.policy + ".json") as f:
        meta = json.load(f)
    env_id = a.env or meta["env"]
    if ":" in env_id and a.env is None:  # gym.make would import the module named before ':'
        sys.exit(f"{a.policy}.json names {env_id!r}, which imports a module; pass --env {env_id} "
                 f"if you trust it.")
    session = ort.InferenceSession(a.policy, providers=["CPUExecutionProvider"])
    env = gym.make(env_id)

    returns = []
    for i in range(a.episodes):
        obs, _ = env.reset(seed=a.seed + i)
        total, done = 0.0, False
        while not done:
            batch = np.asarray(obs, dtype=np.float32).reshape(1, -1)  # a batch of one
            action = session.run([meta["output"]], {meta["input"]: batch})[0][0]
            obs, reward, terminated, truncated, _ = env.step(action)
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    print(f"{env_id}: mean return {np.mean(returns):.4f} +- {np.std(returns):.4f} over "
          f"{a.episodes} episodes (seeds {a.seed}..{a.seed + a.episodes - 1})")

    loaded = sorted(m for m in ("ddpg", "torch") if m in sys.modules)
    print(f"imported ddpg or torch: {', '.join(loaded) or 'neither'}")
    assert not loaded, "this script must run without ddpg and torch"


if __name__ == "__main__":
    main()
