"""One prepared GPU check, for a session that has a GPU machine (run it there in one call):

    python benchmarks/gpu_check.py --out "$OUT/gpu_check.json"

1. update rates at batch 256 and 64 (400-300 networks) on cuda: fp32 eager, bf16 eager, and
   fp32 with --compile (CUDA graphs through torch.compile 'reduce-overhead');
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


def update_rate(precision: str, compile_: bool, batch: int, n: int = 300) -> float:
    from ddpg.speed import bench_config, ddpg_update_workload

    cfg = dataclasses.replace(bench_config("Pendulum-v1", batch, (400, 300), 300, 300,
                                           device="cuda", precision=precision), compile=compile_)
    fn = ddpg_update_workload(3, 1, cfg)
    for _ in range(30 if compile_ else 5):  # compilation and graph capture happen here
        fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    torch.cuda.synchronize()
    return n / (time.perf_counter() - t)


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
        for precision, comp in (("fp32", False), ("bf16", False), ("fp32", True)):
            key = f"b{batch}-{precision}{'-compiled' if comp else ''}"
            try:
                out["updates_per_s"][key] = update_rate(precision, comp, batch)
            except Exception as e:  # noqa: BLE001 - record and go on
                out["updates_per_s"][key] = f"failed: {type(e).__name__}: {e}"
            print(key, out["updates_per_s"][key], flush=True)
    for precision in ("fp32", "bf16"):
        out["pendulum"].append(pendulum(precision))
        print(out["pendulum"][-1], flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
