"""The module graph of `rustbox` and `judge`: every module imports alone, and
no module imports one that imports it back, even lazily (inside a function).

The graph is read from the source (every `import`/`from ... import`
statement, wherever it stands), so an import hidden in a function body
counts as an edge too: a leaf module must not reach back to its user.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("rustbox", "judge")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module of ours that `name` names (a module, or a name in a package)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from . import x` may import the module x; `from .m import f` imports m.
            names = [f"{prefix}.{alias.name}" for alias in node.names] + [prefix]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    graph = {module: _imports(module, path) for module, path in MODULES.items()}
    # A package's __init__ re-exporting its modules is how a package is built,
    # not a cycle: the edge from a submodule to its own package is dropped.
    for module, edges in graph.items():
        edges -= {p for p in edges if module.startswith(p + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
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


def test_the_graph_reader_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    cycles = _cycles(_graph())
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith("__main__")))
def test_each_module_imports_alone(module):
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_classify_loads_no_sandbox_machinery():
    """The verdict logic is a pure function: importing it must not load
    prctl, libseccomp or the run machinery (a judge classifying a stored
    result, or a test table, needs none of them)."""
    code = ("import sys; from rustbox.verdict import classify, Verdict; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('prctl', '_prctl', "
            "'seccomp', 'pyseccomp', 'cgroupspy') or m in ('rustbox.running', "
            "'rustbox.running.runner', 'rustbox.running.child')); print(','.join(bad))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "", f"importing classify loaded: {proc.stdout.strip()}"


def test_no_module_hides_a_public_name_of_its_package():
    """Importing a submodule sets it as an attribute of its package: a
    module named like a public name (rustbox/run/ beside rustbox.run())
    would replace that name for everyone once anything imports it."""
    code = ("import importlib, sys\n"
            f"modules = {sorted(m for m in MODULES if not m.endswith('__main__'))!r}\n"
            "packages = {m: importlib.import_module(m) for m in ('rustbox', 'judge')}\n"
            "public = {m: {n: getattr(p, n) for n in getattr(p, '__all__', ())}\n"
            "          for m, p in packages.items()}\n"
            "for m in modules:\n    importlib.import_module(m)\n"
            "bad = [f'{m}.{n}' for m, names in public.items() for n, v in names.items()\n"
            "       if getattr(packages[m], n) is not v]\n"
            "print(','.join(bad))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "", f"replaced by a submodule: {proc.stdout.strip()}"
