"""Replay-buffer memory against the raw float32 size of what it stores, beside
stable-baselines3's buffer in the same run:

    python benchmarks/buffer_memory.py [--capacity 200000] [--markdown docs/benchmarks.md]

Each buffer is built and filled to capacity in a fresh process (HalfCheetah-v5's shapes: 17
observation and 6 action dimensions), and the process's resident memory is read before and
after (VmRSS; every page written, so nothing is left unmapped). Raw size: capacity x (2 x obs +
action + reward + termination) float32 values.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys

OBS, ACT = 17, 6


def rss() -> int:
    from ddpg.system import proc_field

    kb = proc_field("/proc/self/status", "VmRSS")
    if kb is None:
        raise RuntimeError("no VmRSS in /proc/self/status")
    return int(kb) * 1024


def fill(kind: str, capacity: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    chunk = 1000
    if kind == "ddpg":
        from ddpg.buffer import ReplayBuffer

        before = rss()  # after torch is loaded
        buf = ReplayBuffer(capacity, OBS, ACT)
        for _ in range(capacity // chunk):  # the trainer adds (num_envs, ...) rows per step
            buf.add(rng.normal(size=(chunk, OBS)), rng.uniform(-1, 1, (chunk, ACT)),
                    rng.normal(size=chunk), rng.normal(size=(chunk, OBS)),
                    rng.random(chunk) < 0.01)
        reported = buf.nbytes
    else:
        import gymnasium as gym
        from stable_baselines3.common.buffers import ReplayBuffer as SB3Buffer

        # HalfCheetah-v5's observation space is float64, and sb3 stores what the space says
        obs_space = gym.spaces.Box(-np.inf, np.inf, (OBS,), np.float64)
        act_space = gym.spaces.Box(-1.0, 1.0, (ACT,), np.float32)
        buf = SB3Buffer(capacity, obs_space, act_space, device="cpu")
        obs = rng.normal(size=(chunk, 1, OBS))
        act = rng.uniform(-1, 1, (chunk, 1, ACT)).astype(np.float32)
        rew, done = rng.normal(size=(chunk, 1)), rng.random((chunk, 1)) < 0.01
        before = rss()  # after gymnasium and stable-baselines3 are loaded
        for i in range(capacity):
            j = i % chunk
            buf.add(obs[j], obs[j], act[j], rew[j], done[j], [{}])
        reported = sum(getattr(buf, k).nbytes for k in (
            "observations", "next_observations", "actions", "rewards", "dones", "timeouts"))
    return {"kind": kind, "capacity": capacity, "rss_growth": rss() - before,
            "reported_bytes": reported}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--capacity", type=int, default=200_000)
    p.add_argument("--markdown", default=None, help="append the table to this markdown file")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(fill(a.child, a.capacity)))
        return 0
    raw = a.capacity * (2 * OBS + ACT + 2) * 4
    rows = []
    for kind in ("ddpg", "sb3"):
        r = subprocess.run([sys.executable, __file__, "--child", kind, "--capacity",
                            str(a.capacity)], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{kind}: failed\n{r.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    from ddpg.system import cpu_model

    lines = [f"capacity {a.capacity:,}, HalfCheetah-v5 shapes ({OBS} obs, {ACT} action); raw "
             f"float32 size {raw / 2**20:.1f} MiB; {cpu_model()}",
             "", "| buffer | resident growth (MiB) | its arrays (MiB) | growth / raw float32 |",
             "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['rss_growth'] / 2**20:.1f} | "
                     f"{r['reported_bytes'] / 2**20:.1f} | {r['rss_growth'] / raw:.3f}x |")
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        cmd = "python benchmarks/buffer_memory.py " + " ".join(sys.argv[1:])
        with open(a.markdown, "a") as f:
            f.write(f"\n### {datetime.date.today().isoformat()}: `{cmd}`\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
