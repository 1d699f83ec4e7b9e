"""Resources: the skill's reference docs and the JSON Schema of every manifest type."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from mcp.server import MCPServer
from mcp.server.mcpserver.resources import FileResource, FunctionResource

import tfy_gateway
from tfy_gateway.manifests import MANIFEST_TYPES, json_schema

REFERENCE_URI = "gateway://references/{name}"
SCHEMA_URI = "gateway://schemas/{type}"


SKILL_NAME = "tfy-gateway"


def reference_dirs() -> list[Path]:
    """The skill shipped as package data first (installed wheels), then the repository's references/
    (a checkout, where the skill directory only holds copies of it)."""
    package = Path(tfy_gateway.__file__).resolve().parent
    return [package / "skill" / SKILL_NAME / "references", package.parent.parent / "references"]


def reference_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for directory in reference_dirs():
        if directory.is_dir():
            for path in sorted(directory.glob("*.md")):
                files.setdefault(path.stem, path)
    return files


def _title(path: Path) -> str:
    """The first Markdown heading, else the file name."""
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("#"):
                    return line.lstrip("#").strip()[:120]
    except OSError:
        pass
    return path.stem


def _schema_reader(manifest_type: str) -> Callable[[], str]:
    def read() -> str:
        return json.dumps(json_schema(manifest_type), indent=2)

    return read


def register(server: MCPServer) -> None:
    for name, path in reference_files().items():
        server.add_resource(
            FileResource(
                uri=REFERENCE_URI.format(name=name),
                name=f"reference-{name}",
                title=_title(path),
                description=f"Reference doc '{name}' of the tfy-gateway skill (Markdown).",
                mime_type="text/markdown",
                path=path,
            )
        )
    for manifest_type in MANIFEST_TYPES:
        server.add_resource(
            FunctionResource(
                uri=SCHEMA_URI.format(type=manifest_type),
                name=f"schema-{manifest_type.replace('/', '-')}",
                title=f"JSON Schema of {manifest_type}",
                description=f"JSON Schema of a '{manifest_type}' manifest.",
                mime_type="application/json",
                fn=_schema_reader(manifest_type),
            )
        )
