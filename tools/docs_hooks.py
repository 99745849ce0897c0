"""mkdocs hook: the command-line reference is the real `ddpg ... --help` output.

A page line `<!-- ddpg-cli: train --help -->` becomes a text block holding what
`python -m ddpg.cli train --help` prints at build time (100 columns), so the reference cannot
disagree with the code. Only these comment lines of our own pages run anything, and only the
`ddpg` command of the interpreter that runs mkdocs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

MARKER = re.compile(r"^<!-- ddpg-cli: (?P<args>[^>]*?) -->$", re.MULTILINE)


@lru_cache(maxsize=None)
def ddpg_output(args: str) -> str:
    env = dict(os.environ, COLUMNS="100", NO_COLOR="1", TERM="dumb")
    proc = subprocess.run([sys.executable, "-m", "ddpg.cli", *shlex.split(args)],
                          capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"`ddpg {args}` exited with {proc.returncode} while building the "
                           f"docs:\n{proc.stderr[-2000:]}")
    return proc.stdout.rstrip()


def on_files(files, config):
    """Start every page's commands at once (each imports torch: about a second apiece)."""
    wanted = set()
    for f in files.documentation_pages():
        with open(f.abs_src_path, encoding="utf-8") as fh:
            wanted.update(m["args"] for m in MARKER.finditer(fh.read()))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(ddpg_output, sorted(wanted)))
    return files


def on_page_markdown(markdown, page, config, files):
    def block(m: re.Match) -> str:
        return f"```text\n$ ddpg {m['args']}\n{ddpg_output(m['args'])}\n```"
    return MARKER.sub(block, markdown)
