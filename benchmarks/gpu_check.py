"""One prepared GPU check, for a session that has a GPU machine (run it there in one call):

    python benchmarks/gpu_check.py --out "$OUT"

In order of importance, each part recorded as it finishes (a later failure or the deadline
keeps what came before), into OUT/gpu_check.json, with the speed table in OUT/speed_cuda.md:
1. tests/test_cudagraph.py, test_fastpath.py, test_agent.py and test_adam.py under pytest on
   the GPU machine (the CUDA graph's parity with the eager update, TD3's two graphs, in-place
   checkpoint loads, --compile);
2. update rates at batch 256 and 64 (400-300 networks): the fast path replayed as a CUDA graph
   (the default on a GPU), the fast path eager, autograd's ddpg_step in fp32 and under bf16
   autocast; and the fast path's largest parameter difference from autograd after 50 updates;
3. the pendulum preset trained on cuda (fp32: CUDA graph), steps to reach -200, final return,
   wall time; then `ddpg speed --device cuda` on Pendulum-v1 (limit, seed-style update, ddpg's
   update and loop, stable-baselines3 on cuda); the full loop at batch 256 in bf16 against fp32;
   pendulum in bf16 and pendulum-td3; torch.compile 'reduce-overhead' update rates;
4. on the host CPU at 2 threads (where it has native bf16): the update's products, update and
   loop in fp32 against bf16, and the pendulum preset trained in bf16.
The population parts run first, right after the tests (docs/populations.md): a population of
32 at batch 256 against one member alone on the GPU (bar >= 8x), its host and device time per
step under torch.profiler next to the update's FLOPs, the pendulum preset as a
population of 32 (bar: every member solves), the same speed comparison with tanh + layer-norm
networks (updated through torch.func vmap), then the device checks of docs/howto/gpu.md:
`ddpg train --seeds 0-1 --device cuda` on the command line, its resume on `cuda`, `cuda:0` and
the CPU, and a policy trained on the GPU loaded on the CPU; then TD7 (issue 32: `ddpg speed
--algo td3 td7`, the pendulum-td7 preset as a population of 5, each member to solve) and
hindsight replay (issue 33: a DDPG+HER population on the test goal task, relabelling on the
GPU). Each bar gets a one-line verdict (VERDICT lines, and "verdicts" in the JSON).
Nothing here runs without a GPU; it stops starting new parts after --budget seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DEVICE = "cuda"  # --device cpu: a dry run of the script itself on a machine without a GPU


def update_rate(batch: int, n: int = 300, **overrides) -> float:
    from ddpg.bench.workloads import bench_config, ddpg_update_workload, rate

    cfg = dataclasses.replace(bench_config("Pendulum-v1", batch, (400, 300), 300, 300,
                                           device=DEVICE), **overrides)
    fn = ddpg_update_workload(3, 1, cfg)
    return rate(fn, n, warmup=30 if cfg.compile else 5, device=DEVICE)


def fast_path_parity(batch: int = 64, n: int = 50) -> float:
    """Largest parameter difference between the fast path and autograd after n updates."""
    from ddpg.agent import Agent
    from ddpg.bench.workloads import bench_config, random_buffer

    cfg = bench_config("Pendulum-v1", batch, (400, 300), 300, 300, device=DEVICE)
    fast = Agent(3, 1, cfg)
    slow = Agent(3, 1, dataclasses.replace(cfg, fast_path=False))
    slow.load_state_dict(fast.state_dict())
    buf = random_buffer(3, 1, device=DEVICE)
    for _ in range(n):
        batch_ = buf.sample(batch)
        fast.update(batch_)
        slow.update(batch_)
    return max(float((p - q).abs().max().detach()) for p, q in
               zip(fast.actor.parameters(), slow.actor.parameters()))


def pendulum(preset: str, precision: str, device: str | None = None, threads: int = 0) -> dict:
    import ddpg
    from ddpg.config import from_preset

    cfg = dataclasses.replace(from_preset(preset), device=device or DEVICE, precision=precision,
                              threads=threads, progress=False, tensorboard=False,
                              out="/tmp/ddpg-gpu-check")
    t = time.perf_counter()
    res = ddpg.train(cfg)
    return {"preset": preset, "precision": precision,
            "steps_to_solve": res.steps_to_solve(-200.0), "final_return": res.final_return,
            "train_wall_s": res.wall_time_s, "wall_s": time.perf_counter() - t,
            "graphs_captured": getattr(res.agent.fast_step, "captured", None),
            "graph_fell_back_to_eager": getattr(res.agent.fast_step, "eager", None)}


def population_speed(members: int = 32, batch: int = 256, steps: int = 500,
                     network: dict | None = None) -> dict:
    """The populations bar on a GPU: a population of `members` at `batch` (400-300 networks,
    its update one CUDA graph) against one member trained alone on the same GPU, aggregate env
    steps/s after warm-up, interleaved twice. Bar: >= 8x. With `network` (NetworkConfig fields
    the fast path does not cover, e.g. tanh and layer norm): the population's VmapStep
    (torch.func vmap of the autograd update, no CUDA graph) against one member's autograd
    update."""
    from ddpg.bench.workloads import bench_config, ddpg_loop_rate

    cfg = bench_config("Pendulum-v1", batch, (400, 300), 300, steps, device=DEVICE)
    if network:
        cfg = dataclasses.replace(cfg, network=dataclasses.replace(cfg.network, **network))
    out: dict = {"members": members, "batch": batch, "network": network, "population": [],
                 "one": []}
    for _ in range(2):
        out["population"].append(ddpg_loop_rate(cfg, members))
        out["one"].append(ddpg_loop_rate(cfg))
    out["ratio"] = min(out["population"]) / max(out["one"])
    return out


def population_profile(members: int = 32, batch: int = 256, steps: int = 60,
                       warmup: int = 300) -> dict:
    """Where a population's step goes (issue 31): torch.profiler over `steps` steps after warm-up
    and 20 steps of updates, of `members` members at `batch` (400-300 networks): host time per
    step (the wall clock between the first and last profiled step: Python, dispatch, the
    environments) and device time per step (the sum of the GPU kernels' own times), next to the
    FLOPs of one update of every member's products and the rate they would run at."""
    from torch.profiler import ProfilerActivity, profile

    from ddpg.bench.workloads import bench_config, update_flops
    from ddpg.population import train_population

    gpu = DEVICE.startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])
    cfg = bench_config("Pendulum-v1", batch, (400, 300), warmup, warmup + 20 + steps + 5,
                       device=DEVICE)
    first, last = warmup + 20, warmup + 20 + steps
    prof = profile(activities=activities)
    marks: dict[str, float] = {}

    def on_step(ctx) -> None:  # every member calls it each step: act on the first call only
        if marks.get("last") == ctx.step:
            return
        marks["last"] = ctx.step
        if ctx.step == first:
            prof.start()
            marks["start"] = time.perf_counter()
        elif ctx.step == last:
            if gpu:
                torch.cuda.synchronize()
            marks["end"] = time.perf_counter()
            prof.stop()

    with tempfile.TemporaryDirectory() as tmp:
        train_population(dataclasses.replace(cfg, out=tmp), seeds=range(members),
                         on_step=on_step)
    events = prof.key_averages()
    device_us = sum(getattr(e, "self_device_time_total", 0.0) or 0.0 for e in events)
    host_ms = (marks["end"] - marks["start"]) * 1e3 / steps
    flops = members * update_flops(3, 1, (400, 300), batch)
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:12]
    return {"members": members, "batch": batch, "steps": steps,
            "host_ms_per_step": host_ms, "device_ms_per_step": device_us / 1e3 / steps,
            "update_gflop": flops / 1e9,
            "update_gflops_at_host_rate": flops / (host_ms * 1e-3) / 1e9,
            "top_host_ops": [{"op": e.key, "calls": e.count,
                              "self_cpu_us_per_step": e.self_cpu_time_total / steps}
                             for e in top]}


def population_pendulum(members: int = 32) -> dict:
    """The default pendulum preset as one population of `members` on the GPU: every member must
    solve (final noise-free evaluation >= -200)."""
    from ddpg.config import from_preset
    from ddpg.population import train_population

    cfg = dataclasses.replace(from_preset("pendulum"), device=DEVICE, progress=False,
                              tensorboard=False, out="/tmp/ddpg-gpu-check-pop")
    t = time.perf_counter()
    res = train_population(cfg, seeds=range(members))
    finals = res.final_returns()
    return {"members": members, "solved": sum(v is not None and v >= -200
                                              for v in finals.values()),
            "finals": finals, "wall_s": time.perf_counter() - t}


def td7_speed(out_dir: Path, steps: int = 500, warmup: int = 300, hidden: int = 256) -> dict:
    """Issue 32's speed comparison on the GPU: `ddpg speed --algo td3 td7` (TD7's update and loop
    rates beside TD3's, 256-wide networks, batch 256) on Pendulum-v1: how long td7-100k's 75k
    updates a run would take there."""
    cmd = [sys.executable, "-m", "ddpg.cli", "speed", "--device", DEVICE, "--env",
           "Pendulum-v1", "--algo", "td3", "td7", "--batch", "256", "--hidden", str(hidden),
           str(hidden),
           "--repeats", "2", "--steps", str(steps), "--warmup", str(warmup), "--no-baseline",
           "--json", str(out_dir / "speed_td7.json"),
           "--markdown", str(out_dir / "speed_td7.md")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    print(r.stdout[-3000:], r.stderr[-2000:], flush=True)
    return {"rc": r.returncode, "tail": r.stdout[-1500:]}


def td7_pendulum_population(members: int = 5, **overrides) -> dict:
    """Issue 32's Pendulum bar on the GPU: the pendulum-td7 preset (10k steps) as one
    population of seeds 0..members-1; every member must solve (a noise-free evaluation of its
    checkpoint policy >= -200)."""
    from ddpg.config import from_preset
    from ddpg.population import train_population

    cfg = dataclasses.replace(from_preset("pendulum-td7"), **{
        "device": DEVICE, "progress": False, "tensorboard": False,
        "out": "/tmp/ddpg-gpu-check-td7", **overrides})
    t = time.perf_counter()
    res = train_population(cfg, seeds=range(members))
    solved = {name: None if m is None else m.steps_to_solve(-200.0)
              for name, m in zip(res.names, res.results)}
    return {"members": members, "solved": sum(v is not None for v in solved.values()),
            "steps_to_solve": solved, "wall_s": time.perf_counter() - t}


def her_population(out_dir: Path, members: int = 2, total_steps: int = 1500) -> dict:
    """Hindsight replay on the GPU (issue 33): DDPG+HER on the test suite's goal task
    (tests/goalenv.py, PointReach-v0, at tests/test_her.py's settings) as a population of
    `members`, the replay rows on the GPU (their relabelling by tensor indexing there). Bar:
    every member's last noise-free success rate >= 0.9, as tests/test_her.py asks of a CPU run."""
    sys.path.insert(0, str(ROOT / "tests"))
    from goalenv import small_her_config  # registers PointReach-v0

    from ddpg.population import train_population

    cfg = small_her_config(str(out_dir / "her"), total_steps=total_steps, device=DEVICE)
    t = time.perf_counter()
    res = train_population(cfg, seeds=range(members))
    rates = [None if m is None else m.evaluations[-1].get("eval_success_rate")
             for m in res.results]
    return {"members": members, "success": rates, "wall_s": time.perf_counter() - t}


def device_cli(out_dir: Path) -> dict:
    """`ddpg train --seeds 0-1 --device cuda` as a user types it, then its resume on `cuda`,
    on `cuda:0` and on the CPU (a checkpoint written on cuda:0 goes on anywhere), a single run
    with the same, and the GPU-trained policy loaded and run on a CPU-only load."""
    runs = out_dir / "device_cli"
    base = [sys.executable, "-m", "ddpg.cli", "train", "--total-steps", "1500",
            "--warmup-steps", "300", "--eval-every", "1500", "--eval-episodes", "2",
            "--no-progress", "--no-tensorboard", "--out", str(runs)]
    steps = {
        "population_cuda": base + ["--seeds", "0-1", "--device", "cuda", "--run-name", "pop"],
        "population_resume_cuda": ["--resume", "pop", "--total-steps", "1800"],
        "population_resume_cuda0": ["--resume", "pop", "--total-steps", "2100", "--device",
                                    "cuda:0"],
        "population_resume_cpu": ["--resume", "pop", "--total-steps", "2400", "--device", "cpu"],
        "td3_population_cuda": base + ["--seeds", "0-1", "--device", "cuda", "--algo", "td3",
                                       "--run-name", "pop-td3"],
        "single_cuda": base + ["--device", "cuda", "--run-name", "one"],
        "single_resume_cpu": ["--resume", "one", "--total-steps", "1800", "--device", "cpu"],
        "bad_cuda_index": base + ["--device", "cuda:7", "--run-name", "bad"],
    }
    res: dict = {}
    for name, args in steps.items():
        if args[0] == "--resume":
            args = [sys.executable, "-m", "ddpg.cli", "train", "--resume",
                    str(runs / args[1]), *args[2:], "--no-progress"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=240)
        res[name] = {"rc": r.returncode, "stderr_tail": r.stderr[-600:]}
        print(name, r.returncode, r.stderr[-300:], flush=True)
    res["bad_cuda_index_left_nothing"] = not (runs / "bad").exists()
    load = subprocess.run([sys.executable, "-c", (
        "import ddpg, numpy as np; p = ddpg.load(%r); "
        "print(p.act(np.zeros(3, dtype=np.float32)))") % str(runs / "one")],
        capture_output=True, text=True, timeout=120, env={**os.environ,
                                                           "CUDA_VISIBLE_DEVICES": ""})
    res["policy_loads_without_gpu"] = {"rc": load.returncode, "out": load.stdout[-200:],
                                       "err": load.stderr[-400:]}
    return res


def loop_rates() -> dict:
    from ddpg.bench.workloads import bench_config, ddpg_loop_rate

    out = {}
    for rep in range(3):  # interleaved
        for precision in ("fp32", "bf16"):
            cfg = bench_config("Pendulum-v1", 256, (400, 300), 300, 500, device=DEVICE,
                               precision=precision)
            out.setdefault(precision, []).append(ddpg_loop_rate(cfg))
    return out


def cpu_bf16(threads: int = 2, repeats: int = 3, n: int = 200) -> dict:
    """On this machine's CPU at `threads` threads (where it has native bf16), batch 256,
    Pendulum-v1, 400-300, medians of interleaved repeats: the update's matrix products in fp32
    (a row and a column per sample), in fp32 with oneDNN's bf16 products (what --precision bf16
    does on a CPU) and in bf16 tensors; ddpg's update (fast path fp32 / bf16, autograd bf16)
    and full loop (fp32, bf16); and the relative error of a product under bf16 products (about 1e-3 if they are in effect,
    1e-7 if not)."""
    import statistics

    from ddpg.agent import bf16_matmuls
    from ddpg.bench.workloads import (bench_config, ddpg_loop_rate, ddpg_update_workload,
                            matmul_workload, rate)

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(256, 400, generator=g), torch.randn(300, 400, generator=g),
               torch.randn(300, generator=g))
    ref = torch.addmm(b.double(), x.double(), w.double().t())
    with bf16_matmuls():
        got = torch.addmm(b, x, w.t())
    rel_err = float((got.double() - ref).norm() / ref.norm())
    limit = matmul_workload(3, 1, (400, 300), 256)

    def limit_bf16_math() -> None:
        with bf16_matmuls():
            limit()

    cfg = dataclasses.replace(bench_config("Pendulum-v1", 256, (400, 300), 300, 500),
                              threads=threads)
    bf16 = dataclasses.replace(cfg, precision="bf16")
    work = {"limit_fp32": limit,
            "limit_fp32_columns": matmul_workload(3, 1, (400, 300), 256, layout="columns"),
            "limit_fp32_bf16_products": limit_bf16_math,
            "limit_bf16_tensors": matmul_workload(3, 1, (400, 300), 256, dtype=torch.bfloat16),
            "update_fast_fp32": ddpg_update_workload(3, 1, cfg),
            "update_fast_bf16": ddpg_update_workload(3, 1, bf16),
            "update_autograd_bf16": ddpg_update_workload(
                3, 1, dataclasses.replace(bf16, fast_path=False))}
    samples: dict[str, list[float]] = {k: [] for k in (*work, "loop_fp32", "loop_bf16")}
    for _ in range(repeats):
        for name, fn in work.items():
            samples[name].append(rate(fn, n))
        for c in (cfg, bf16):
            samples[f"loop_{c.precision}"].append(ddpg_loop_rate(c))
        print({k: round(v[-1]) for k, v in samples.items()}, flush=True)
    return {"threads": threads, "addmm_rel_err_bf16_products": rel_err, "samples": samples,
            "median": {k: statistics.median(v) for k, v in samples.items()},
            "loop_bf16_over_fp32_paired": statistics.median(
                a / b for a, b in zip(samples["loop_bf16"], samples["loop_fp32"]))}


def speed(out_dir: Path) -> dict:
    cmd = [sys.executable, "-m", "ddpg.cli", "speed", "--device", DEVICE, "--env",
           "Pendulum-v1", "--repeats", "3", "--json", str(out_dir / "speed_cuda.json"),
           "--markdown", str(out_dir / "speed_cuda.md")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    print(r.stdout[-3000:], r.stderr[-2000:], flush=True)
    return {"rc": r.returncode, "tail": r.stdout[-1500:]}


def pytest_gpu() -> dict:
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "tests/test_devices.py", "tests/test_cudagraph.py",
                        "tests/test_fastpath.py", "tests/test_agent.py", "tests/test_adam.py"],
                       capture_output=True, text=True, cwd=ROOT, timeout=240)
    print(r.stdout[-3000:], r.stderr[-1000:], flush=True)
    return {"rc": r.returncode, "tail": r.stdout[-1500:]}


def judge(res: dict, verdict) -> None:
    """A one-line verdict per bar of the population and device work, from what was recorded."""
    def get(name: str) -> dict | None:
        v = res.get(name)
        return v if isinstance(v, dict) else None

    if (t := get("pytest")) is not None:
        verdict("gpu tests pass", t["rc"] == 0, t["tail"].strip().splitlines()[-1:])
    for name, bar in (("population_32_b256_vs_one", 8.0), ("population_32_vmap_b256_vs_one",
                                                           None)):
        p = get(name)
        if p is not None:
            verdict(f"{name} >= {bar or 1}x", p["ratio"] >= (bar or 1.0),
                    f"{p['ratio']:.1f}x ({min(p['population']):.0f} vs "
                    f"{max(p['one']):.0f} env steps/s)")
        else:
            verdict(f"{name} runs", False, str(res.get(name))[:200])
    p = get("population_32_pendulum")
    verdict("pendulum preset x32 solves on every member",
            p is not None and p["solved"] == p["members"],
            f"{p['solved']} of {p['members']} in {p['wall_s']:.0f} s" if p
            else str(res.get("population_32_pendulum"))[:200])
    if (t := get("td7_speed")) is not None:
        verdict("ddpg speed --algo td3 td7 runs", t["rc"] == 0, t["tail"].strip()[-300:])
    p = get("td7_pendulum_population")
    verdict("pendulum-td7 population solves on every member within 10k steps",
            p is not None and p["solved"] == p["members"],
            f"{p['solved']} of {p['members']} ({p['steps_to_solve']}) in {p['wall_s']:.0f} s"
            if p else str(res.get("td7_pendulum_population"))[:200])
    p = get("her_population")
    verdict("HER population on the GPU reaches success >= 0.9 on every member",
            p is not None and all(r is not None and r >= 0.9 for r in p["success"]),
            f"success {p['success']} in {p['wall_s']:.0f} s" if p
            else str(res.get("her_population"))[:200])
    d = get("device_cli")
    if d is not None:
        ok = {k: v["rc"] == 0 for k, v in d.items() if isinstance(v, dict) and "rc" in v}
        ok["bad_cuda_index"] = d["bad_cuda_index"]["rc"] == 2 and d["bad_cuda_index_left_nothing"]
        verdict("every device form trains and resumes; cuda:7 is exit 2", all(ok.values()),
                ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in ok.items()))


def judge_costs(res: dict, verdict) -> None:
    """bf16 and --compile on a GPU: slower than the default, and ddpg train says so."""
    import statistics

    lo, graph, compiled = (res.get(k) for k in ("loop_b256_fp32_vs_bf16", "b256_graph",
                                                "b256_compiled"))
    if isinstance(lo, dict):
        slower = statistics.median(lo["fp32"]) / statistics.median(lo["bf16"])
        verdict("bf16 on a GPU no slower than fp32, or said to be", True,
                f"the bf16 loop is {slower:.1f}x slower than fp32 at batch 256; ddpg train "
                f"warns (ddpg.devices.gpu_cost)")
    if isinstance(graph, float) and isinstance(compiled, float):
        verdict("--compile on a GPU no slower, or said to be", True,
                f"the compiled update is {graph / compiled:.1f}x slower than the graphed fast "
                f"path ({compiled:.0f} vs {graph:.0f} updates/s); ddpg train warns")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("."))
    p.add_argument("--budget", type=float, default=300.0,
                   help="seconds after which no new part starts (default: 300)")
    p.add_argument("--only", default="",
                   help="comma-separated prefixes of the parts to run (default: all)")
    p.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    a = p.parse_args()
    global DEVICE
    DEVICE = a.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run this on the GPU machine.", file=sys.stderr)
        return 2
    from ddpg.system import available_cores, cpu_model

    start = time.perf_counter()
    a.out.mkdir(parents=True, exist_ok=True)
    gpu = DEVICE == "cuda"
    res: dict = {"device": torch.cuda.get_device_name(0) if gpu else DEVICE,
                 "torch": torch.__version__, "bf16": gpu and torch.cuda.is_bf16_supported(),
                 "cpu": cpu_model(),
                 "cores": available_cores(), "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                 time.gmtime())}

    only = [x for x in a.only.split(",") if x]

    def part(name: str, fn, *args, **kw) -> None:
        if only and not any(name.startswith(x) for x in only):
            return
        if time.perf_counter() - start > a.budget:
            res[name] = "skipped: over budget"
            return
        t = time.perf_counter()
        try:
            res[name] = fn(*args, **kw)
        except Exception as e:  # noqa: BLE001 - record and go on
            res[name] = f"failed: {type(e).__name__}: {e}"
        print(f"[{time.perf_counter() - start:.0f} s] {name} ({time.perf_counter() - t:.0f} s):",
              res[name] if not isinstance(res[name], dict) or "tail" not in res[name]
              else res[name]["rc"], flush=True)
        (a.out / "gpu_check.json").write_text(json.dumps(res, indent=1, default=str))

    print(res, flush=True)
    verdicts: dict[str, str] = {}
    res["verdicts"] = verdicts

    def verdict(bar: str, ok: bool | None, what: str) -> None:
        verdicts[bar] = f"{'PASS' if ok else 'FAIL' if ok is not None else 'N/A'}: {what}"
        print(f"VERDICT {bar}: {verdicts[bar]}", flush=True)

    part("pytest", pytest_gpu)
    part("population_32_b256_vs_one", population_speed)
    part("population_32_profile", population_profile)
    part("population_32_pendulum", population_pendulum)
    part("population_32_vmap_b256_vs_one", population_speed,
         network={"activation": "tanh", "norm": "layer"})
    part("device_cli", device_cli, a.out)
    part("td7_speed", td7_speed, a.out)
    part("td7_pendulum_population", td7_pendulum_population)
    part("her_population", her_population, a.out)
    judge(res, verdict)
    # what bf16 and --compile cost on a GPU (ddpg train warns of both: ddpg.devices.gpu_cost)
    part("b256_graph", update_rate, 256)
    part("b256_autograd_bf16", update_rate, 256, precision="bf16")
    part("b256_compiled", update_rate, 256, compile=True)
    part("loop_b256_fp32_vs_bf16", loop_rates)
    part("pendulum_fp32", pendulum, "pendulum", "fp32")
    part("pendulum_bf16", pendulum, "pendulum", "bf16")
    judge_costs(res, verdict)
    (a.out / "gpu_check.json").write_text(json.dumps(res, indent=1, default=str))
    part("b256_fast_eager", update_rate, 256, cuda_graph=False)
    part("b256_autograd_fp32", update_rate, 256, fast_path=False)
    for batch in (64,):
        part(f"b{batch}_graph", update_rate, batch)
        part(f"b{batch}_fast_eager", update_rate, batch, cuda_graph=False)
        part(f"b{batch}_autograd_fp32", update_rate, batch, fast_path=False)
        part(f"b{batch}_autograd_bf16", update_rate, batch, precision="bf16")
        part(f"b{batch}_compiled", update_rate, batch, compile=True)
    part("fast_vs_autograd_max_abs_diff", fast_path_parity)
    part("pendulum_td3_fp32", pendulum, "pendulum-td3", "fp32")
    part("speed", speed, a.out)
    part("cpu_bf16", cpu_bf16)
    part("cpu_pendulum_bf16", pendulum, "pendulum", "bf16", device="cpu", threads=2)
    (a.out / "gpu_check.json").write_text(json.dumps(res, indent=1, default=str))
    print(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
