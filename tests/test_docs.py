"""The user guide: it builds with `mkdocs build --strict`, the code it shows is included from
src/ by region markers that exist, every equation of the lesson is on "The algorithm" page,
the tests it names exist, and the API and CLI references cover every public name and command."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ddpg

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SNIPPET = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[^"]+))?"$', re.MULTILINE)
TEST_REF = re.compile(r"tests/(test_\w+\.py)::(test_\w+)")

# Each equation of the lesson, and the regions of src/ that compute it: all must be included on
# "The algorithm" page.
LESSON = {
    "the deterministic actor a = mu(s)": ["ddpg/networks.py:actor"],
    "the critic Q(s, a)": ["ddpg/networks.py:critic"],
    "the replay buffer's mini-batches": ["ddpg/buffer.py:sample"],
    "the TD target y = r + gamma (1 - d) Q'(s', mu'(s'))": ["ddpg/losses.py:td_target"],
    "the critic's mean squared error": ["ddpg/losses.py:critic_loss", "ddpg/update.py:critic_step"],
    "the deterministic policy gradient, the actor loss": ["ddpg/losses.py:actor_loss",
                                                          "ddpg/update.py:actor_step"],
    "the soft update": ["ddpg/losses.py:polyak_update", "ddpg/update.py:soft_update"],
    "ddpg_update with the lesson's signature": ["ddpg/update.py:ddpg_update"],
    "a = mu(s) + N(0, sigma)": ["ddpg/agent.py:explore", "ddpg/noise.py:gaussian"],
    "Ornstein-Uhlenbeck noise": ["ddpg/noise.py:ou"],
    "sigma decay": ["ddpg/noise.py:sigma_schedule"],
    "TD3: clipped double-Q": ["ddpg/losses.py:clipped_double_q_target"],
    "TD3: target policy smoothing": ["ddpg/losses.py:smoothed_target_action"],
    "TD3: delayed policy updates": ["ddpg/td3.py:policy_delay", "ddpg/td3.py:td3_delayed"],
}


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def snippets(page: Path) -> list[tuple[str, str | None]]:
    return [(m["path"], m["section"]) for m in SNIPPET.finditer(page.read_text())]


def resolve(path: str) -> Path:
    """As pymdownx.snippets' base_path [src, "."] finds it."""
    for base in (ROOT / "src", ROOT):
        if (base / path).is_file():
            return base / path
    raise AssertionError(f"{path} is included in the docs but is neither under src/ nor the "
                         f"repository root")


def missing_markers(source: str, section: str) -> list[str]:
    """The markers of region `section` that `source` lacks."""
    return [edge for edge in ("start", "end") if f"--8<-- [{edge}:{section}]" not in source]


def test_every_included_region_has_both_markers_in_its_source():
    included = [(page, path, section) for page in pages() for path, section in snippets(page)]
    assert len(included) >= 20
    for page, path, section in included:
        if section is None or re.fullmatch(r"\d+(:\d+)?", section):  # whole file or lines
            continue
        gone = missing_markers(resolve(path).read_text(), section)
        assert not gone, (f"{page.relative_to(ROOT)} includes region {section!r} of {path}, but "
                          f"its {' and '.join(gone)} marker is gone from the source: put it back "
                          f"or change the page")


def test_a_region_whose_marker_disappeared_is_reported():
    source = (ROOT / "src/ddpg/losses.py").read_text()
    assert missing_markers(source, "td_target") == []
    assert missing_markers(source.replace("# --8<-- [end:td_target]", ""), "td_target") == ["end"]
    assert missing_markers(source, "no_such_region") == ["start", "end"]


def test_every_equation_of_the_lesson_is_on_the_algorithm_page():
    on_page = {f"{p}:{s}" for p, s in snippets(DOCS / "algorithm.md")}
    missing = {eq: [r for r in regions if r not in on_page] for eq, regions in LESSON.items()}
    assert not {eq: r for eq, r in missing.items() if r}, missing


def test_tests_named_in_the_docs_exist():
    named = {(f, t) for page in pages() for f, t in TEST_REF.findall(page.read_text())}
    assert len(named) >= 15
    for file, test in named:
        path = ROOT / "tests" / file
        assert path.is_file(), f"the docs name tests/{file}, which does not exist"
        assert re.search(rf"^def {test}\(", path.read_text(), re.MULTILINE), (
            f"the docs name tests/{file}::{test}, which does not exist")


def test_api_page_covers_every_public_name():
    page = (DOCS / "reference/api.md").read_text()
    documented = set(re.findall(r"^::: ddpg\.(?:[\w.]+\.)?(\w+)$", page, re.MULTILINE))
    assert set(ddpg.__all__) - documented == set()


def test_cli_page_covers_every_command():
    from ddpg.cli import COMMANDS, plugins

    page = (DOCS / "reference/cli.md").read_text()
    shown = set(re.findall(r"^<!-- ddpg-cli: (\w+) --help -->$", page, re.MULTILINE))
    assert {*COMMANDS, *plugins()} - shown == set()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(out)], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def text_of(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text()


def test_site_builds_strict_with_the_code_included_from_src(site):
    html = text_of(site, "algorithm")
    assert "--8&lt;--" not in html and "--8<--" not in html  # every include was resolved
    for name in ("td_target", "critic_loss", "actor_loss", "polyak_update", "ddpg_update"):
        assert f"{name}</span><span class=\"p\">(" in html, name  # `def name(` as highlighted


def test_cli_reference_is_the_real_help_output(site):
    from ddpg.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["eval", "--help"]) == 0
    html = text_of(site, "reference/cli")
    for option in re.findall(r"--[a-z][a-z-]+", out.getvalue()):
        assert option in html, option
    assert "--total-steps" in html and "--seeds" in html and "ddpg sweep" in html


def test_api_reference_renders_the_docstrings(site):
    html = text_of(site, "reference/api")
    assert "The seed's <code>ddpg_update</code>" in html  # ddpg_update's docstring
    assert "Polyak rate of the target networks" in html  # a Config field's docstring


PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_configs_written_in_the_docs_python_blocks_are_valid():
    """Every Config(...) / ddpg.Config(...) / from_preset(...) with literal arguments in a
    Python block of the docs or the README builds (a guide example once set total_steps below
    the default warm-up and failed as written)."""
    import ast

    from ddpg.config import Config, from_preset

    makers = {"Config": Config, "from_preset": from_preset}
    checked = 0
    for page in [ROOT / "README.md", *pages()]:
        for block in PYTHON_BLOCK.findall(page.read_text()):
            for node in ast.walk(ast.parse(block)):
                if not isinstance(node, ast.Call):
                    continue
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if name not in makers:
                    continue
                try:
                    args = [ast.literal_eval(a) for a in node.args]
                    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
                except ValueError:
                    continue  # built from variables: the block's own test covers it
                makers[name](*args, **kwargs)  # raises ConfigError naming the value
                checked += 1
    assert checked >= 3  # the README's preset, the quickstart's, the populations page's


COPY = re.compile(r"^<!-- copy of (?P<path>\S+) [^>]*-->\n```\w*\n(?P<body>.*?)^```$",
                  re.MULTILINE | re.DOTALL)


def test_files_copied_into_the_docs_are_the_files():
    """An example shown inline (readable as Markdown, on GitHub, unlike an include marker) and
    marked `<!-- copy of PATH ... -->` is that file, byte for byte."""
    copies = [(page, m["path"], m["body"]) for page in pages()
              for m in COPY.finditer(page.read_text())]
    assert ("benchmarks/sweeps/pendulum.yaml" in {path for _, path, _ in copies})
    for page, path, body in copies:
        assert body == (ROOT / path).read_text(), (
            f"{page.relative_to(ROOT)} shows a copy of {path} that differs from the file: "
            f"copy the file into the page again")
    changed = (DOCS / "howto/sweeps.md").read_text().replace("seeds: 3", "seeds: 4")
    assert [m["body"] for m in COPY.finditer(changed)][0] != \
        (ROOT / "benchmarks/sweeps/pendulum.yaml").read_text()


EQUATION = re.compile(r"\\\(.+?\\\)|\$\$.+?\$\$", re.DOTALL)


def test_equations_are_mathml_written_when_the_site_is_built(site):
    """No page needs a script or a network to show its equations (the guide renders offline):
    every one is a <math> element, nothing is left for MathJax, nothing loads from elsewhere."""
    html = text_of(site, "algorithm")
    source = (DOCS / "algorithm.md").read_text()
    article = html[html.index("<article"):html.index("</article>")]
    assert article.count("<math ") == len(EQUATION.findall(source)) >= 20
    assert html.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">') == 2
    for page in site.rglob("*.html"):
        text = page.read_text()
        rel = page.relative_to(site)
        prose = re.sub(r"<(pre|code)\b.*?</\1>", "", text, flags=re.DOTALL)
        assert "\\(" not in prose and "\\[" not in prose and "arithmatex" not in text, rel
        assert not re.search(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', text), rel
        assert "mathjax" not in text.lower(), rel


TYPESET_CHECK = """<script>
(() => {
  const box = e => e.getBoundingClientRect();
  const maths = [...document.querySelectorAll("article math")];
  const [num, den] = document.querySelector("article math mfrac").children;
  const [base, sub] = document.querySelector("article math msub").children;
  const out = document.createElement("pre");
  out.id = "typeset-check";
  out.textContent = JSON.stringify({
    maths: maths.length,
    drawn: maths.filter(m => box(m).width > 0 && box(m).height > 0).length,
    fraction: box(num).bottom <= box(den).top + 0.5,  // the numerator over the denominator
    subscript: box(sub).top > box(base).top + 0.5 && box(sub).left >= box(base).right - 0.5});
  document.body.appendChild(out);
})();
</script>
"""


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                    reason="needs Chromium (Debian: apt-get install chromium)")
def test_a_browser_typesets_the_equations_offline(site, tmp_path):
    """Headless Chromium, without a network, lays out the algorithm page's equations as
    mathematics: a fraction's numerator above its denominator, a subscript lower and after its
    base (the raw TeX or unsupported MathML would sit on one line)."""
    import json

    page = site / "algorithm" / "typeset-check.html"
    page.write_text(text_of(site, "algorithm").replace("</body>", TYPESET_CHECK + "</body>"))
    proc = subprocess.run(
        ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
         f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=127.0.0.1:9",
         "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="typeset-check">(.*?)</pre>', proc.stdout)
    assert found, proc.stderr[-2000:]
    result = json.loads(found[1].replace("&quot;", '"'))
    assert result["maths"] >= 20 and result["drawn"] == result["maths"], result
    assert result["fraction"] and result["subscript"], result
