"""The house rules of docs/ARCHITECTURE.md, read off the source: imports run downwards, no circles.

Every ``import`` in every module under ``src/ecglab`` counts, those inside functions included (a
lazy import is still a dependency), so a circle cannot hide behind a deferred import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Top to bottom. A package may import the packages of its own layer and of every layer below;
# "ecglab" is the public face (ecglab/__init__.py), a thin lazy layer that only the command line sits on.
LAYERS = [
    ("cli",),
    ("ecglab", "api"),
    ("experiments",),
    ("training",),
    ("evaluation", "inference", "serve", "measure", "viz"),
    ("datasets",),
    ("inputs",),
    ("signal", "records"),
    ("models", "pretrained"),
    ("errors", "version", "configs"),
]
# The exception DESIGN.md makes: models depend on torch alone, so of ecglab they see only these.
MODELS_MAY_IMPORT = {"models", "errors"}
# Imports that break the rules today and the branch that removes them. Delete a line when it lands;
# test_known_exceptions_still_exist fails once an entry is stale, so none outlives its fix.
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()  # (importer, imported) pairs tolerated while a move is under way


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "ecglab").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The ecglab modules ``name`` imports: ``from a.b import c`` is ``a.b.c`` when that is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
    return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}
EDGES = {(a, b) for a, targets in GRAPH.items() for b in targets}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "ecglab"


def _rank(package: str) -> int:
    for rank, layer in enumerate(reversed(LAYERS)):
        if package in layer:
            return rank
    raise AssertionError(f"package {package!r} is in no layer of tests/test_architecture.py; add it to LAYERS")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _allowed(edges) -> set[tuple[str, str]]:
    return {edge for edge in edges if edge not in KNOWN_EXCEPTIONS}


def test_every_package_has_a_layer():
    for module in MODULES:
        _rank(_package(module))


def test_no_circle_between_modules():
    graph = {}
    for a, b in _allowed(EDGES):
        graph.setdefault(a, set()).add(b)
    assert _cycles(graph) == []


def test_no_circle_between_packages():
    graph = {}
    for a, b in _allowed(EDGES):
        if _package(a) != _package(b):
            graph.setdefault(_package(a), set()).add(_package(b))
    assert _cycles(graph) == []


def test_imports_run_downwards():
    upwards = sorted(f"{a} imports {b}" for a, b in _allowed(EDGES)
                     if _rank(_package(b)) > _rank(_package(a)))
    assert upwards == []


def test_models_depend_on_torch_alone():
    outside = sorted(f"{a} imports {b}" for a, b in EDGES
                     if _package(a) == "models" and _package(b) not in MODELS_MAY_IMPORT)
    assert outside == []


def test_core_never_imports_the_command_line():
    assert sorted(f"{a} imports {b}" for a, b in EDGES if _package(b) == "cli" and _package(a) != "cli") == []


def test_dataset_machinery_knows_no_source():
    """datasets/core/ serves every source module and names none of them (it finds them by name)."""
    reached = sorted(f"{a} imports {b}" for a, b in EDGES if a.startswith("ecglab.datasets.core")
                     and b.startswith("ecglab.datasets") and not b.startswith("ecglab.datasets.core"))
    assert reached == []


def test_known_exceptions_still_exist():
    stale = [f"{a} no longer imports {b}" for a, b in sorted(KNOWN_EXCEPTIONS) if (a, b) not in EDGES]
    assert not stale, f"remove them from KNOWN_EXCEPTIONS: {stale}"


def test_the_rules_catch_a_circle_and_an_upward_import():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _rank("cli") > _rank("training") > _rank("evaluation") > _rank("datasets") > _rank("inputs") > _rank("signal")
    assert _rank("measure") == _rank("evaluation")


LIGHTNING_FREE = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from use_fixtures import record_bundle
from ecglab.datasets.core.registry import prepare

root = Path({root!r})
data = prepare("synthetic", root / "data", n=12, workers=1)
bundle = record_bundle(root / "bundle", classes=data.classes, fs=data.fs, leads=data.leads)
{action}
heavy = sorted(name for name in ("lightning", "pytorch_lightning", "torchmetrics") if name in sys.modules)
assert not heavy, heavy
"""
SERVE = "from ecglab.serve.app import create_app\ncreate_app([bundle])"
EVALUATE = "from ecglab.training.evaluate import evaluate_bundle\nevaluate_bundle(bundle, data.path, n_boot=0)"


@pytest.mark.parametrize("action", [
    SERVE,
    EVALUATE,
], ids=["serve", "evaluate"])
def test_serving_and_evaluating_a_bundle_never_import_lightning(tmp_path, action):
    """Lightning (~5 s to import) is for training: serving a bundle and scoring it do without it."""
    import subprocess
    import sys

    script = LIGHTNING_FREE.format(tests=str(Path(__file__).parent), root=str(tmp_path), action=action)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
