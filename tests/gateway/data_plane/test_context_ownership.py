"""One owner per request's state: only the pipeline writes a `RequestContext`.

Every other module (headers, relay, recording, policy hooks) gets the context read-only. The check
reads the source: any function outside pipeline.py that assigns to an attribute of a parameter
annotated `RequestContext` is reported with its place.
"""

from __future__ import annotations

import ast

from tests.helpers import REPO_ROOT

PACKAGE = REPO_ROOT / "server" / "tfy_gateway"
OWNER = PACKAGE / "gateway" / "data_plane" / "pipeline.py"


def context_writes(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        params = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        contexts = {a.arg for a in params if a.annotation is not None and "RequestContext" in ast.unparse(a.annotation)}
        if not contexts:
            continue
        for inner in ast.walk(node):
            targets: list[ast.expr] = []
            if isinstance(inner, ast.Assign):
                targets = list(inner.targets)
            elif isinstance(inner, (ast.AugAssign, ast.AnnAssign)):
                targets = [inner.target]
            for target in targets:
                for part in ast.walk(target):
                    name = part.value if isinstance(part, ast.Attribute) else None
                    if isinstance(name, ast.Name) and name.id in contexts:
                        found.append(f"{filename}:{inner.lineno} {ast.unparse(part)}")
    return found


def test_only_the_pipeline_writes_the_request_context() -> None:
    writes = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != OWNER:
            writes += context_writes(path.read_text(), str(path.relative_to(REPO_ROOT)))
    assert writes == [], "RequestContext written outside the pipeline:\n" + "\n".join(writes)


def test_the_check_sees_a_write() -> None:
    source = "def settle(request: RequestContext) -> None:\n    request.status = 500\n"
    assert context_writes(source, "x.py") == ["x.py:2 request.status"]
