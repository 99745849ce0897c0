"""The package's layout, read from the modules' own import statements: no import cycles, the
core never imports the tooling (ddpg.bench), and a long module says at its top why it is long."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "ddpg"
LONG = 320  # lines; a module past this says why in its docstring ("Long because ...")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """The ddpg modules `name` imports anywhere in its file (at the top, inside functions, under
    TYPE_CHECKING): `from ddpg.x import y` is ddpg.x.y when that is a module, else ddpg.x."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports(name) for name in MODULES}


def test_the_graph_sees_the_imports_it_should():
    """The reader itself: known edges are found (a broken reader would pass everything)."""
    assert "ddpg.fast" in GRAPH["ddpg.agent"]
    assert "ddpg.config" in GRAPH["ddpg.trainer"]  # `from ddpg import config as cfgmod`
    assert "ddpg.bench.rundata" in GRAPH["ddpg.bench.report"]  # inside a function
    assert "ddpg.bench.jobs" in GRAPH["ddpg.bench.report"]  # under TYPE_CHECKING


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state and (cycle := visit(m)):
                return cycle
        path.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (cycle := visit(n)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH))


def is_tooling(name: str) -> bool:
    """ddpg.bench, and ddpg.sweep (a command on Ray Tune that reports with bench's statistics)."""
    return any(name == p or name.startswith(p + ".") for p in ("ddpg.bench", "ddpg.sweep"))


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not is_tooling(n)))
def test_core_never_imports_the_tooling(name):
    assert not {m for m in GRAPH[name] if is_tooling(m)}, name


def test_each_idea_in_its_folder():
    """The lesson's math at the top, the accelerated update in ddpg.fast, tooling in ddpg.bench."""
    top = {n.split(".")[1] for n in MODULES if n.count(".") == 1}
    assert {"networks", "losses", "update", "td3", "buffer", "noise", "agent", "trainer"} <= top
    assert {"ddpg.fast.steps", "ddpg.fast.adam", "ddpg.fast.cudagraph",
            "ddpg.fast.select"} <= set(MODULES)
    assert not top & {"benchmark", "report", "plot", "speed", "baselines", "stats", "logging",
                      "run", "fastpath", "adam", "cudagraph"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_long_module_says_why(name):
    text = MODULES[name].read_text()
    if len(text.splitlines()) > LONG:
        doc = ast.get_docstring(ast.parse(text)) or ""
        assert "Long because" in doc, (f"{MODULES[name]} has {len(text.splitlines())} lines: "
                                       f"split it, or say at its top why not ('Long because')")
