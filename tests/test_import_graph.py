"""The package's modules import each other without cycles.

A cycle means neither module can be understood (or loaded) without the other, and lazy imports that
paper over one still make the import order matter. The checker here is deliberately self-contained: it
parses every module of `server/tfy_gateway` with `ast` and counts every import statement wherever it
is (module level, inside functions, under `if TYPE_CHECKING:`). `from x import y` depends on the
submodule `x.y` when there is one, otherwise on `x`. Edges into a package's `__init__` count like any
other; the implicit "importing a.b.c first runs a/__init__ and a/b/__init__" does not, since that holds
for every submodule and is not a design choice.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

PACKAGE = REPO_ROOT / "server" / "tfy_gateway"


@dataclass(frozen=True)
class Edge:
    target: str
    where: str  # file:line of the import statement, for the failure message


def _module_files(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package rooted at `package_dir`."""
    base = package_dir.parent
    modules: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        name = ".".join(path.relative_to(base).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def import_graph(package_dir: Path) -> dict[str, dict[str, str]]:
    """module -> {imported module of the same package -> where the first such import is}."""
    modules = _module_files(package_dir)

    def owner(name: str) -> str | None:
        """The module `name` lives in: itself, or the longest enclosing module (an attribute's owner)."""
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, str]] = {name: {} for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):  # every statement: function bodies and TYPE_CHECKING blocks too
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [owner(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    source = ".".join(parts[: len(parts) - node.level + 1])
                    if node.module:
                        source = f"{source}.{node.module}"
                else:
                    source = node.module or ""
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    targets.append(submodule if submodule in modules else owner(source))
            else:
                continue
            where = f"{path.relative_to(package_dir.parent)}:{node.lineno}"
            for target in targets:
                if target is not None and target != name:
                    graph[name].setdefault(target, where)
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    work: list[tuple[str, Iterator[str]]] = []  # the depth-first path, each node with its unvisited successors

    def enter(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(sorted(graph[node]))))

    for start in graph:
        if start in index:
            continue
        enter(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    enter(successor)
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
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
    return sorted(found)


def describe(graph: dict[str, dict[str, str]], component: list[str]) -> str:
    members = set(component)
    lines = [f"cycle among {', '.join(component)}:"]
    for module in component:
        for target, where in sorted(graph[module].items()):
            if target in members:
                lines.append(f"    {module} -> {target}  ({where})")
    return "\n".join(lines)


def test_the_package_has_no_import_cycles() -> None:
    graph = import_graph(PACKAGE)
    assert len(graph) > 100, "the checker should see every module of the package"
    assert "tfy_gateway.manifests.schema_check" in graph["tfy_gateway.manifests.validate"]
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(describe(graph, component) for component in found)


def _write_package(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    for relative, text in {"__init__.py": "", **files}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


CLOSING_IMPORTS = {
    "module level": "import pkg.sub.a\n",
    "module level, aliased": "import pkg.sub.a as a\n",
    "from package import submodule": "from pkg.sub import a\n",
    "from module import name": "from pkg.sub.a import VALUE\n",
    "relative submodule": "from .sub import a\n",
    "relative name": "from .sub.a import VALUE\n",
    "inside a function": "def f():\n    from pkg.sub.a import VALUE\n    return VALUE\n",
    "under TYPE_CHECKING": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub import a\n",
}


@pytest.mark.parametrize("closing_import", CLOSING_IMPORTS.values(), ids=list(CLOSING_IMPORTS))
def test_the_checker_finds_a_cycle_closed_by_any_kind_of_import(tmp_path: Path, closing_import: str) -> None:
    package = _write_package(
        tmp_path,
        {
            "sub/__init__.py": "",
            "sub/a.py": "from ..b import helper\nVALUE = 1\n",  # a -> b
            "b.py": "import os\nhelper = os.getcwd\n" + closing_import,  # b -> a
            "c.py": "from pkg.sub.a import VALUE\n",  # depends on the cycle, not part of it
        },
    )
    graph = import_graph(package)
    assert cycles(graph) == [["pkg.b", "pkg.sub.a"]]
    message = describe(graph, ["pkg.b", "pkg.sub.a"])
    assert "pkg.sub.a -> pkg.b  (pkg/sub/a.py:1)" in message


def test_the_checker_finds_no_cycle_in_an_acyclic_package(tmp_path: Path) -> None:
    package = _write_package(
        tmp_path,
        {
            "__init__.py": "from pkg.b import helper\n",  # a package face re-exporting is fine
            "a.py": "VALUE = 1\n",
            "b.py": "from pkg.a import VALUE\n\ndef helper():\n    from . import a\n    return a.VALUE\n",
            "c.py": "import pkg.a\nimport json\nfrom typing import TYPE_CHECKING\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg.b"] == {"pkg.a": "pkg/b.py:1"}
    assert set(graph["pkg"]) == {"pkg.b"}
    assert cycles(graph) == []


def test_the_checker_finds_every_cycle_of_a_longer_loop_and_a_package_face_loop(tmp_path: Path) -> None:
    package = _write_package(
        tmp_path,
        {
            "__init__.py": "VERSION = 1\nfrom pkg.face import X\n",
            "face.py": "from pkg import VERSION\nX = VERSION\n",  # imports its own package's face: a loop
            "x.py": "import pkg.y\n",
            "y.py": "import pkg.z\n",
            "z.py": "def f():\n    import pkg.x\n",
        },
    )
    assert cycles(import_graph(package)) == [["pkg", "pkg.face"], ["pkg.x", "pkg.y", "pkg.z"]]


# Layers that must not import each other (DESIGN.md): (importer prefix, forbidden prefix, allowed, why).
FORBIDDEN = [
    ("tfy_gateway.gateway.data_plane", "tfy_gateway.gateway.control_plane", (), "the data plane serves requests; the control plane's routes are adapters over it"),
    # mcp.local starts a whole local gateway (create_app and its settings) when no TFY_HOST is set.
    ("tfy_gateway.mcp", "tfy_gateway.gateway", ("tfy_gateway.gateway.app", "tfy_gateway.gateway.settings"), "the MCP server talks HTTP to a control plane, never to the gateway's internals"),
    ("tfy_gateway.manifests", "tfy_gateway.gateway", (), "manifests are the bottom layer; the gateway compiles them"),
    ("tfy_gateway.gateway", "tfy_gateway.platform", (), "the gateway depends on manifests only (the dashboard's diff is manifests/diff.py)"),
    ("tfy_gateway.gateway.data_plane", "tfy_gateway.gateway.dashboard", (), "the dashboard reads the data plane, never the reverse"),
]  # fmt: skip


@pytest.mark.parametrize(("importer", "forbidden", "allowed", "why"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_layers_import_downwards_only(importer: str, forbidden: str, allowed: tuple[str, ...], why: str) -> None:
    graph = import_graph(PACKAGE)
    crossing = [
        f"{module} -> {target}  ({where})"
        for module, targets in sorted(graph.items())
        if module == importer or module.startswith(importer + ".")
        for target, where in sorted(targets.items())
        if (target == forbidden or target.startswith(forbidden + ".")) and target not in allowed
    ]
    assert not crossing, f"{importer} must not import {forbidden} ({why}):\n" + "\n".join(crossing)
