"""Refresh `openai_openapi_subset.json` from OpenAI's published OpenAPI document.

    python tests/gateway/conformance/extract_spec.py /path/to/openai-openapi/openapi.json <commit>

Keeps the response schemas the gateway produces (and the chat request, whose parameter list the
Anthropic translator is checked against), with every schema they reference, so the fixture stays a
few hundred kilobytes instead of the whole 3 MB document. OpenAPI 3.0's `nullable: true`, which a
JSON Schema validator ignores, is rewritten as `anyOf [..., null]` so that `null` validates where
the spec allows it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOTS = (
    "ErrorResponse",
    "Model",
    "ListModelsResponse",
    "CreateChatCompletionRequest",
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "CreateCompletionResponse",
    "CreateEmbeddingResponse",
    "CreateModerationResponse",
    "ImagesResponse",
    "ImageGenStreamEvent",
    "CreateTranscriptionResponseJson",
    "CreateTranscriptionResponseVerboseJson",
    "CreateTranscriptionResponseStreamEvent",
    "Response",
    "ResponseStreamEvent",
)
PREFIX = "#/components/schemas/"
DROPPED_KEYS = ("x-oaiMeta", "example", "examples")


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(PREFIX):
            found.add(ref[len(PREFIX) :])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _normalise(node: Any) -> Any:
    if isinstance(node, list):
        return [_normalise(value) for value in node]
    if not isinstance(node, dict):
        return node
    cleaned = {key: _normalise(value) for key, value in node.items() if key not in DROPPED_KEYS}
    if cleaned.pop("nullable", False) is True:
        return {"anyOf": [cleaned, {"type": "null"}]}
    return cleaned


def extract(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    schemas = spec["components"]["schemas"]
    wanted: dict[str, Any] = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted[name] = schemas[name]
        pending.extend(_refs(schemas[name]) - wanted.keys())
    return {name: _normalise(wanted[name]) for name in sorted(wanted)}


def main() -> None:
    source, commit = Path(sys.argv[1]), sys.argv[2]
    spec = json.loads(source.read_text())
    fixture = {
        "source": "https://github.com/openai/openai-openapi/blob/" + commit + "/openapi.json",
        "license": "MIT, Copyright (c) OpenAI; see LICENSE-openai-openapi.txt beside this file",
        "openapi_version": spec["info"]["version"],
        "roots": list(ROOTS),
        "components": {"schemas": extract(spec)},
    }
    out = Path(__file__).with_name("openai_openapi_subset.json")
    out.write_text(json.dumps(fixture, indent=1, sort_keys=False) + "\n")
    print(f"{out}: {len(fixture['components']['schemas'])} schemas")


if __name__ == "__main__":
    main()
