"""Start-up time of the CLI's quick paths and of `import ddpg`, each in a fresh process:

    python benchmarks/startup.py [--repeats 5] [--markdown docs/benchmarks.md]

Wall time from starting the process to its exit (the console script `ddpg` beside this Python),
median, min and max over the repeats, after one unmeasured run that warms the file cache; and
whether the process imported torch, read with `-X importtime`. `import torch` alone is timed
too: it is what the help pages, a mistyped flag and `import ddpg` no longer pay. Bar (issue 30):
`ddpg --help` under 1 s, median of 5.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ddpg.system import cpu_model  # the CPU's model name (ddpg is imported lazily: no torch)

DDPG = str(Path(sys.executable).with_name("ddpg"))
CASES = {
    "ddpg --help": [DDPG, "--help"],
    "ddpg train --help": [DDPG, "train", "--help"],
    "ddpg train --nope (usage error)": [DDPG, "train", "--nope"],
    "ddpg eval --help": [DDPG, "eval", "--help"],
    "ddpg export --help": [DDPG, "export", "--help"],
    "python -c 'import ddpg'": [sys.executable, "-c", "import ddpg"],
    "python -c 'import torch' (for scale)": [sys.executable, "-c", "import torch"],
}


def once(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def imports_torch(cmd: list[str]) -> bool:
    """Whether the command's process imports torch (-X importtime lists every import)."""
    py = [sys.executable, "-X", "importtime"]
    full = py + (["-m", "ddpg.cli"] + cmd[1:] if cmd[0] == DDPG else cmd[1:])
    err = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
    return any(line.split("|")[-1].strip() == "torch" for line in err.splitlines())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="fresh processes per case (default: 5)")
    p.add_argument("--markdown", default=None, help="append the table to this markdown file")
    a = p.parse_args()
    rows = []
    for name, cmd in CASES.items():
        once(cmd)  # the file cache
        times = [once(cmd) for _ in range(a.repeats)]
        rows.append((name, statistics.median(times), min(times), max(times), imports_torch(cmd)))
        print(f"{name:<40} median {rows[-1][1]:.2f} s (min {rows[-1][2]:.2f}, max "
              f"{rows[-1][3]:.2f}), torch imported: {rows[-1][4]}", flush=True)
    import os

    table = [f"### {datetime.date.today()}: `python benchmarks/startup.py --repeats {a.repeats}"
             f"{' --markdown ' + a.markdown if a.markdown else ''}`", "",
             f"{cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
             f"median of {a.repeats} fresh processes (min-max).", "",
             "| command | median (s) | min-max (s) | imports torch |", "|---|---|---|---|"]
    table += [f"| `{n}` | {med:.2f} | {lo:.2f}-{hi:.2f} | {'yes' if t else 'no'} |"
              for n, med, lo, hi, t in rows]
    print("\n".join(table))
    if a.markdown:
        with open(a.markdown, "a") as f:
            f.write("\n" + "\n".join(table) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
