"""The layers hold: no import cycle in server/, handlers/, ws/; handlers only translate HTTP (no other
handler module, no SQL names); the core knows nothing of sockets except in the app factory.

Imports are read with `ast` from the source, function-level ones included, relative ones resolved;
imports under `if TYPE_CHECKING:` never run, so they are left out.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "handlers", "ws")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (the most specific one that exists)
    line: int


def modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """{dotted module name: file} for every .py file of the packages."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every Import/ImportFrom at any depth (functions, try blocks, ...), except TYPE_CHECKING blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        if _type_checking_only(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative levels counted from the importer's package)."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[Import]:
    """Every import from one of the packages' modules to another of them."""
    known = modules(root, packages)
    edges = []

    def known_prefix(name: str) -> str | None:
        parts = name.split(".")
        while parts:
            if ".".join(parts) in known:
                return ".".join(parts)
            parts.pop()
        return None

    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in _import_nodes(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve(module, path.name == "__init__.py", node)
                # `from pkg import mod` imports the submodule mod; `from mod import name` the module.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                           for alias in node.names]
            for target in targets:
                resolved = known_prefix(target)
                if resolved is not None and resolved != module:
                    edges.append(Import(module, resolved, node.lineno))
    return edges


def find_cycle(edges: list[Import]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None."""
    graph: dict[str, list[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge.target)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(set(graph.get(node, ()))):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def _where(edge: Import) -> str:
    return f"{edge.source} (line {edge.line}) imports {edge.target}"


# --- the rules -----------------------------------------------------------------------------------

def test_no_import_cycle():
    cycle = find_cycle(imports(ROOT))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_handler_modules_do_not_import_each_other():
    bad = [_where(e) for e in imports(ROOT)
           if e.source.startswith("handlers.") and (e.target == "handlers" or e.target.startswith("handlers."))]
    assert not bad, "a handler module imports another one (move the shared code into a service):\n" + "\n".join(bad)


def test_handlers_touch_no_sql_names():
    bad = [_where(e) for e in imports(ROOT) if e.source.split(".")[0] == "handlers" and e.target == "server.queries"]
    for module, path in modules(ROOT, ("handlers",)).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Q":
                bad.append(f"{module} (line {node.lineno}) uses Q.{node.attr}")
    assert not bad, "handlers run SQL only through services:\n" + "\n".join(bad)


def test_only_the_app_factory_imports_ws():
    bad = [_where(e) for e in imports(ROOT)
           if e.source.split(".")[0] == "server" and e.target.split(".")[0] == "ws" and e.source != "server.app"]
    assert not bad, "the core must not depend on the socket package:\n" + "\n".join(bad)


def test_sockets_do_not_import_handlers():
    bad = [_where(e) for e in imports(ROOT)
           if e.source.split(".")[0] == "ws" and e.target.split(".")[0] == "handlers"]
    assert not bad, "ws/ moves frames and calls services; it never reaches into HTTP handlers:\n" + "\n".join(bad)


# --- the checker itself --------------------------------------------------------------------------

def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("files, expected", [
    # A function-level import closes the circle.
    ({"server/__init__.py": "", "server/a.py": "from server import b\n",
      "server/b.py": "def f():\n    from server.a import x\n"},
     ["server.a", "server.b", "server.a"]),
    # Relative imports, through a sub-package and back.
    ({"server/__init__.py": "", "server/http/__init__.py": "", "server/http/c.py": "from ..d import y\n",
      "server/d.py": "from .http import c\n"},
     ["server.d", "server.http.c", "server.d"]),
    # Across packages: core -> handlers -> core.
    ({"server/__init__.py": "", "handlers/__init__.py": "", "ws/__init__.py": "",
      "server/e.py": "import handlers.h\n", "handlers/h.py": "from server.e import z\n"},
     ["handlers.h", "server.e", "handlers.h"]),
])
def test_checker_finds_cycles(tmp_path, files, expected):
    assert find_cycle(imports(_tree(tmp_path, files))) == expected


def test_checker_ignores_type_checking_imports_and_outside_modules(tmp_path):
    root = _tree(tmp_path, {
        "server/__init__.py": "",
        "server/a.py": "import json\nfrom typing import TYPE_CHECKING\nfrom server import b\n",
        "server/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from server.a import x\n",
    })
    assert [(e.source, e.target) for e in imports(root)] == [("server.a", "server.b")]
    assert find_cycle(imports(root)) is None
