from __future__ import annotations

import pytest

from tests.helpers import REPO_ROOT
from tfy_gateway.manifests import MANIFEST_TYPES, json_schema
from tfy_gateway.manifests.schema import markdown_reference


def test_committed_reference_is_fresh() -> None:
    committed = (REPO_ROOT / "references" / "manifest-schema.md").read_text()
    assert committed == markdown_reference(), "references/manifest-schema.md is stale: run `make schema`"


@pytest.mark.parametrize("manifest_type", MANIFEST_TYPES)
def test_json_schema_names_the_type_and_forbids_unknown_fields(manifest_type: str) -> None:
    schema = json_schema(manifest_type)
    assert schema["title"] == manifest_type
    assert schema["additionalProperties"] is False
    assert "type" in schema["required"]


def test_unknown_type_has_no_schema() -> None:
    with pytest.raises(KeyError):
        json_schema("gateway-nope")
