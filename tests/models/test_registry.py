"""The modules of ``avsync.models`` import each other in one direction only (no circle, not even
one hidden in a function), and the named configs build what the package's face promises."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import avsync.models
from avsync.models import registry

PACKAGE = "avsync.models"
FOLDER = Path(avsync.models.__file__).parent


def _module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def _imported(node: ast.AST) -> set[str]:
    """The modules of the package one import statement loads (``from avsync.models import x``: the
    submodule ``x`` when there is one, else the package's ``__init__``)."""
    out: set[str] = set()
    if isinstance(node, ast.Import):
        out |= {a.name for a in node.names if a.name == PACKAGE or a.name.startswith(PACKAGE + ".")}
    elif isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if node.level:  # relative: from . import x / from .io import y
            module = PACKAGE + (f".{module}" if module else "")
        if module == PACKAGE:
            for a in node.names:
                out.add(f"{PACKAGE}.{a.name}" if (FOLDER / f"{a.name}.py").is_file() else PACKAGE)
        elif module.startswith(PACKAGE + "."):
            out.add(module)
    return out


def _graph() -> dict[str, set[str]]:
    """Module -> the modules of the package it imports anywhere in its source (functions included)."""
    graph = {}
    for path in sorted(FOLDER.glob("*.py")):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            deps |= _imported(node)
        graph[_module_name(path)] = deps - {_module_name(path)}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_models_package_has_no_import_circle() -> None:
    graph = _graph()
    assert PACKAGE + ".io" in graph and PACKAGE + ".registry" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_module_of_the_package_imports_it_inside_a_function() -> None:
    """Importing inside a function is how a circle hides: none of these modules does it for a module
    of its own package."""
    for path in sorted(FOLDER.glob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = set().union(*(_imported(n) for n in ast.walk(fn)))
                assert not inner, f"{path.name}: {fn.name}() imports {sorted(inner)}"


def test_io_works_on_its_own_and_the_package_reexports_the_registry() -> None:
    code = ("import avsync.models.io as io, avsync.models.registry as r, avsync.models as m; "
            "assert io.build_model is r.build_model is m.build_model; "
            "assert m.create is r.create and m.get_config is r.get_config and m.available_models is r.available_models")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert avsync.models.CONFIG_DIR == registry.CONFIG_DIR == FOLDER / "configs"
