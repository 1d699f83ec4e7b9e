"""OpenAI's published response schemas (a subset of openai/openai-openapi, see the fixture's `source`)
as a validator: `conform(instance, "CreateChatCompletionResponse")` fails the test with every place
where the gateway's answer differs from what the spec allows, paths included."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

FIXTURE = Path(__file__).with_name("openai_openapi_subset.json")


@functools.cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FIXTURE.read_text())
    return loaded


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource("urn:openai-openapi", Resource(contents=spec(), specification=DRAFT202012))


def validator(name: str) -> Draft202012Validator:
    """The validator of one schema of the fixture (its `$ref`s resolve inside the fixture)."""
    schema = {"$ref": f"urn:openai-openapi#/components/schemas/{name}"}
    return Draft202012Validator(schema, registry=_registry())


def conform(instance: Any, name: str) -> None:
    """Assert that `instance` is valid for the spec's schema `name`."""
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors[:10]]
        raise AssertionError(f"not a valid {name} per OpenAI's OpenAPI spec:\n" + "\n".join(lines))


def chat_request_parameters() -> frozenset[str]:
    """Every top-level parameter of the spec's CreateChatCompletionRequest (allOf included)."""
    schemas = spec()["components"]["schemas"]

    def properties(node: dict[str, Any]) -> set[str]:
        ref = node.get("$ref")
        if isinstance(ref, str):
            return properties(schemas[ref.rsplit("/", 1)[-1]])
        found = set(node.get("properties", {}))
        for part in node.get("allOf", ()):
            found |= properties(part)
        return found

    return frozenset(properties(schemas["CreateChatCompletionRequest"]))
