"""mkdocs hooks: the command-line reference is the real `ddpg ... --help` output, and the
equations are MathML written at build time.

A page line `<!-- ddpg-cli: train --help -->` becomes a text block holding what
`python -m ddpg.cli train --help` prints at build time (100 columns), so the reference cannot
disagree with the code. Only these comment lines of our own pages run anything, and only the
`ddpg` command of the interpreter that runs mkdocs.

An equation, `\\( ... \\)` inline or `$$ ... $$` displayed (pymdownx.arithmatex in generic
mode keeps it from Markdown), becomes MathML (latex2mathml), in the page and in its table of
contents: browsers typeset MathML themselves (Chromium >= 109, Firefox, Safari), so the site
needs no script and no network (docs/architecture.md: the guide renders offline)."""

from __future__ import annotations

import html
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from latex2mathml.converter import convert

MARKER = re.compile(r"^<!-- ddpg-cli: (?P<args>[^>]*?) -->$", re.MULTILINE)
# what arithmatex (generic) makes of an equation: the TeX, HTML-escaped, in its delimiters
ARITHMATEX = re.compile(r'<(?P<tag>span|div) class="arithmatex">\s*(?:\\\((?P<inline>.*?)\\\)|'
                        r'\\\[(?P<display>.*?)\\\])\s*</(?P=tag)>', re.DOTALL)
INLINE = re.compile(r"\\\((?P<tex>.*?)\\\)", re.DOTALL)  # in a heading's plain-text title
# latex2mathml writes s' as s with a superscript prime, which browsers raise a second time
# (the glyph is a raised one already): the prime goes after s instead, as TeX sets it
PRIME = re.compile(r"<msup>(<mi>[^<]*</mi>)<mi>&#x02032;</mi></msup>")


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


def mathml(tex: str, display: bool) -> str:
    """The equation `tex` (HTML-escaped as the page holds it) as a MathML <math> element."""
    tex = html.unescape(tex).strip()
    try:
        math = convert(tex, display="block" if display else "inline")
    except Exception as e:  # latex2mathml's errors have no common base class
        raise RuntimeError(f"cannot typeset the equation {tex!r} ({type(e).__name__}: {e}); "
                           f"write it in the TeX subset latex2mathml reads.") from e
    return PRIME.sub(r'<mrow>\1<mo lspace="0" rspace="0">&#x02032;</mo></mrow>', math)


def on_page_content(html_text, page, config, files):
    """Every equation of the page, and of its table of contents, as MathML."""
    def equation(m: re.Match) -> str:
        return mathml(m["display"] if m["display"] is not None else m["inline"],
                      m["display"] is not None)

    def retitle(items) -> None:
        for item in items:
            item.title = INLINE.sub(lambda m: mathml(m["tex"], False), item.title)
            retitle(item.children)

    retitle(page.toc.items)
    return ARITHMATEX.sub(equation, html_text)
