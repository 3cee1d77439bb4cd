"""The training modules' imports: each one imports on its own, and none of them comes back round.

Imports inside functions count too: a module that needs another only lazily still depends on it,
and two modules that need each other (even lazily) are one concept split in two.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import webagent.train

TRAIN = Path(webagent.train.__file__).parent


def module_name(path: Path) -> str:
    rel = path.relative_to(TRAIN.parent.parent).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


MODULES = sorted(module_name(p) for p in TRAIN.rglob("*.py"))


def train_imports(path: Path, modules: set[str]) -> set[str]:
    """The ``webagent.train`` modules ``path`` imports, at the top or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` the module mod
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    return {m for m in found if m in modules and m != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                return path[path.index(d):] + [d]
            if d not in state and (cycle := visit(d)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def train_graph() -> dict[str, set[str]]:
    modules = set(MODULES)
    return {module_name(p): train_imports(p, modules) for p in TRAIN.rglob("*.py")}


def test_no_import_cycle_among_the_training_modules():
    graph = train_graph()
    # the check sees the edges that matter: a lazy import inside a function, and a package's submodule
    assert "webagent.train.drill" in graph["webagent.train.sft"]
    assert "webagent.train.pipeline.report" in graph["webagent.train.pipeline.card"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_lazy_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


@pytest.mark.parametrize("module", MODULES)
def test_each_training_module_imports_alone(module):
    # A fresh interpreter per module: an import that only works after some other module ran first fails here.
    src = str(TRAIN.parent.parent)  # this checkout's modules, whatever else is installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_pipeline_package_reexports_what_the_stages_use():
    from webagent.train import pipeline
    from webagent.train.pipeline import config, data, driver, report, ship

    # the names other code imports from the package are the very objects the modules use
    assert pipeline.make_config is config.make_config and pipeline.run_pipeline is driver.run_pipeline
    assert pipeline.ship_checkpoint is ship.ship_checkpoint and pipeline._stratified is data._stratified
    assert pipeline._scores is report._scores
    assert all(hasattr(pipeline, n) for n in pipeline.__all__)
