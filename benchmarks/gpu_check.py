"""One prepared GPU check, for a session that has a GPU machine (run it there in one call):

    python benchmarks/gpu_check.py --out "$OUT/gpu_check.json"

1. update rates at batch 256 and 64 (400-300 networks) on cuda: fp32 eager (the fast path with
   hand-written backward passes, and autograd's ddpg_step), bf16 eager, and fp32 with --compile
   (CUDA graphs through torch.compile 'reduce-overhead'); and whether the fast path leaves the
   same parameters as autograd on the GPU after 50 updates (largest difference);
2. the default Pendulum-v1 training on cuda in fp32 and in bf16: steps to reach -200, final
   return, wall time.
Fits in a few minutes of GPU time. Nothing here runs without a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch


def update_rate(precision: str, compile_: bool, batch: int, n: int = 300,
                fast_path: bool = True) -> float:
    from ddpg.speed import bench_config, ddpg_update_workload

    cfg = dataclasses.replace(bench_config("Pendulum-v1", batch, (400, 300), 300, 300,
                                           device="cuda", precision=precision), compile=compile_,
                              fast_path=fast_path)
    fn = ddpg_update_workload(3, 1, cfg)
    for _ in range(30 if compile_ else 5):  # compilation and graph capture happen here
        fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    torch.cuda.synchronize()
    return n / (time.perf_counter() - t)


def fast_path_parity(batch: int = 64, n: int = 50) -> float:
    """Largest parameter difference between the fast path and autograd after n updates."""
    from ddpg.agent import DDPGAgent
    from ddpg.speed import _random_buffer, bench_config

    cfg = bench_config("Pendulum-v1", batch, (400, 300), 300, 300, device="cuda")
    fast = DDPGAgent(3, 1, cfg)
    slow = DDPGAgent(3, 1, dataclasses.replace(cfg, fast_path=False))
    slow.load_state_dict(fast.state_dict())
    buf = _random_buffer(3, 1, device="cuda")
    for _ in range(n):
        batch_ = buf.sample(batch)
        fast.update(batch_)
        slow.update(batch_)
    return max(float((p - q).abs().max().detach()) for p, q in
               zip(fast.actor.parameters(), slow.actor.parameters()))


def pendulum(precision: str) -> dict:
    import ddpg
    from ddpg.config import from_preset

    cfg = dataclasses.replace(from_preset("pendulum"), device="cuda", precision=precision,
                              progress=False, tensorboard=False, out="/tmp/ddpg-gpu-check")
    t = time.perf_counter()
    res = ddpg.train(cfg)
    return {"precision": precision, "steps_to_solve": res.steps_to_solve(-200.0),
            "final_return": res.final_return, "wall_s": time.perf_counter() - t}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    a = p.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run this on the GPU machine.", file=sys.stderr)
        return 2
    out: dict = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                 "bf16": torch.cuda.is_bf16_supported(), "updates_per_s": {}, "pendulum": []}
    for batch in (256, 64):
        for precision, comp, fast in (("fp32", False, True), ("fp32", False, False),
                                      ("bf16", False, False), ("fp32", True, False)):
            key = (f"b{batch}-{precision}{'-compiled' if comp else ''}"
                   f"{'-autograd' if not fast and precision == 'fp32' and not comp else ''}")
            try:
                out["updates_per_s"][key] = update_rate(precision, comp, batch, fast_path=fast)
            except Exception as e:  # noqa: BLE001 - record and go on
                out["updates_per_s"][key] = f"failed: {type(e).__name__}: {e}"
            print(key, out["updates_per_s"][key], flush=True)
    try:
        out["fast_path_max_abs_diff"] = fast_path_parity()
    except Exception as e:  # noqa: BLE001 - record and go on
        out["fast_path_max_abs_diff"] = f"failed: {type(e).__name__}: {e}"
    print("fast path vs autograd, max |diff|:", out["fast_path_max_abs_diff"], flush=True)
    for precision in ("fp32", "bf16"):
        out["pendulum"].append(pendulum(precision))
        print(out["pendulum"][-1], flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
