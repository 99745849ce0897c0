"""Where the time of `ddpg export --format onnx` goes, each repeat in a fresh process:

    python benchmarks/export_time.py [--repeats 3] [--markdown docs/benchmarks.md]

A tiny Pendulum run is trained once in a temporary folder; then each repeat times, in a new
process, the phases of an ONNX export in the order the CLI meets them (the imports, the
exporter's first call, the onnx checker, the file writes), and the whole `ddpg export RUN
--format onnx` command. Median over the repeats (min-max).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ddpg.system import cpu_model  # the CPU's model name, from /proc/cpuinfo

PHASES = r"""
import json, sys, time
t = [time.perf_counter()]
laps = {}
def lap(name):
    now = time.perf_counter(); laps[name] = now - t[0]; t[0] = now
import torch; lap("import torch")
from ddpg.export import DeployedPolicy, describe, _quiet_onnx_exporter
from ddpg.policy import load; lap("import ddpg.export, ddpg.policy")
policy = load(sys.argv[1]); lap("load the policy")
import onnx; lap("import onnx")
import onnxscript; lap("import onnxscript")
module, example = DeployedPolicy(policy), torch.zeros(2, policy.obs_dim)
batch = torch.export.Dim("batch")
with _quiet_onnx_exporter():
    ep = torch.export.export(module, (example,), dynamic_shapes=({0: batch},))
lap("torch.export.export: capture (imports torch._dynamo)")
with _quiet_onnx_exporter():
    program = torch.onnx.export(module, (example,), input_names=["obs"],
                                output_names=["action"], dynamic_shapes=({0: batch},),
                                dynamo=True, verbose=False)
lap("torch.onnx.export: torchlib registry, capture again, translate")
with _quiet_onnx_exporter():
    torch.onnx.export(module, (example,), input_names=["obs"], output_names=["action"],
                      dynamic_shapes=({0: batch},), dynamo=True, verbose=False)
lap("(torch.onnx.export again in the same process)")
onnx.checker.check_model(program.model_proto, full_check=True); lap("onnx checker")
print(json.dumps(laps))
"""


def tiny_run(folder: str) -> Path:
    import dataclasses

    import ddpg
    from ddpg.config import Config, NetworkConfig

    cfg = dataclasses.replace(Config(), env="Pendulum-v1", total_steps=60, warmup_steps=40,
                              batch_size=8, eval_every=60, eval_episodes=1,
                              network=NetworkConfig(hidden_sizes=(8,)), out=folder,
                              run_name="r", tensorboard=False, progress=False, threads=1)
    return ddpg.train(cfg).run_dir


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="fresh processes (default: 3)")
    p.add_argument("--markdown", default=None, help="append the table to this markdown file")
    a = p.parse_args()
    ddpg_cli = str(Path(sys.executable).with_name("ddpg"))
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        run = tiny_run(folder)
        for _ in range(a.repeats):
            out = subprocess.run([sys.executable, "-c", PHASES, str(run)], capture_output=True,
                                 text=True, check=True).stdout
            for name, s in json.loads(out.splitlines()[-1]).items():
                samples.setdefault(name, []).append(s)
            t = time.perf_counter()
            subprocess.run([ddpg_cli, "export", str(run), "--format", "onnx"], check=True,
                           capture_output=True)
            samples.setdefault("whole `ddpg export RUN --format onnx`", []).append(
                time.perf_counter() - t)
    table = [f"### {datetime.date.today()}: `python benchmarks/export_time.py --repeats "
             f"{a.repeats}{' --markdown ' + a.markdown if a.markdown else ''}`", "",
             f"{cpu_model()}, {os.cpu_count()} CPUs; median of {a.repeats} fresh processes "
             f"(min-max).", "", "| phase | median (s) | min-max (s) |", "|---|---|---|"]
    table += [f"| {name} | {statistics.median(v):.2f} | {min(v):.2f}-{max(v):.2f} |"
              for name, v in samples.items()]
    print("\n".join(table))
    if a.markdown:
        with open(a.markdown, "a") as f:
            f.write("\n" + "\n".join(table) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
