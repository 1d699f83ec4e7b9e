"""The tool surface is a contract: names, schemas and annotations change only on purpose.

Regenerate the snapshot after an intended change with `UPDATE_SNAPSHOTS=1 pytest tests/mcp`. On CI
(`CI=true`) the snapshot is never written: a missing one fails the run instead of being recreated
from whatever the code does today.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mcp import Client
from tests.helpers import REPO_ROOT
from tests.mcp.conftest import connect
from tfy_gateway.manifests import MANIFEST_TYPES
from tfy_gateway.mcp.resources import reference_files

SNAPSHOT = Path(__file__).with_name("tool_surface.json")
REFERENCES = REPO_ROOT / "references"
EXPECTED_TOOLS = {
    "gateway_status",
    "gateway_list_models",
    "gateway_get_config",
    "gateway_check_intent",
    "gateway_render_manifest",
    "gateway_validate_manifest",
    "gateway_plan",
    "gateway_apply_plan",
    "gateway_smoke_test",
    "gateway_explain",
    "gateway_usage",
    "gateway_migrate_limits",
    "gateway_test_policies",
}


async def surface(client: Client) -> list[dict[str, Any]]:
    tools = (await client.list_tools()).tools
    return [
        {
            "name": tool.name,
            "title": tool.title,
            "description": tool.description,
            "annotations": tool.annotations.model_dump(mode="json", by_alias=True, exclude_none=True)
            if tool.annotations
            else None,
            "inputSchema": tool.input_schema,
            "outputSchema": tool.output_schema,
        }
        for tool in sorted(tools, key=lambda t: t.name)
    ]


def check_snapshot(text: str, snapshot: Path, environ: Mapping[str, str]) -> None:
    """Compare `text` with the committed snapshot; locally, write a missing one (or any, on request)."""
    on_ci = environ.get("CI", "").lower() in ("true", "1")
    update = environ.get("UPDATE_SNAPSHOTS") == "1"
    if on_ci and (update or not snapshot.exists()):
        reason = "UPDATE_SNAPSHOTS is for local runs" if update else f"{snapshot} is missing"
        pytest.fail(
            f"{reason}: on CI the snapshot is compared, never written. Run `UPDATE_SNAPSHOTS=1 pytest "
            f"tests/mcp` locally and commit {snapshot.name}."
        )
    if update or not snapshot.exists():
        snapshot.write_text(text)
        pytest.skip(f"wrote {snapshot}: review it and commit it (nothing was compared)")
    assert text == snapshot.read_text(), (
        "The MCP tool surface changed. If intended, run `UPDATE_SNAPSHOTS=1 pytest tests/mcp` and commit "
        f"{snapshot.name}."
    )


async def test_tool_surface_matches_snapshot():
    async with connect() as client:
        current = await surface(client)
    check_snapshot(json.dumps(current, indent=2, sort_keys=True) + "\n", SNAPSHOT, os.environ)


def test_a_missing_snapshot_fails_on_ci_and_is_written_locally(tmp_path: Path) -> None:
    snapshot = tmp_path / "tool_surface.json"
    for ci in ("true", "True", "1"):
        with pytest.raises(pytest.fail.Exception, match="is missing: on CI the snapshot is compared, never written"):
            check_snapshot("[]\n", snapshot, {"CI": ci})
        assert not snapshot.exists()
    with pytest.raises(pytest.fail.Exception, match="UPDATE_SNAPSHOTS is for local runs"):
        check_snapshot("[]\n", snapshot, {"CI": "true", "UPDATE_SNAPSHOTS": "1"})
    assert not snapshot.exists()
    with pytest.raises(pytest.skip.Exception, match="review it and commit it"):
        check_snapshot("[]\n", snapshot, {"CI": "false"})
    assert snapshot.read_text() == "[]\n"
    check_snapshot("[]\n", snapshot, {"CI": "true"})  # present and equal: passes, on CI too
    with pytest.raises(AssertionError, match="The MCP tool surface changed"):
        check_snapshot("[1]\n", snapshot, {"CI": "true"})
    with pytest.raises(pytest.skip.Exception):
        check_snapshot("[1]\n", snapshot, {"UPDATE_SNAPSHOTS": "1"})
    assert snapshot.read_text() == "[1]\n"


async def test_every_tool_is_titled_described_and_fully_annotated():
    async with connect() as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == EXPECTED_TOOLS
    for tool in tools:
        assert len(tool.name) <= 64 and tool.name.startswith("gateway_")
        assert tool.title and tool.description and len(tool.description) > 80, tool.name
        hints = tool.annotations
        assert hints is not None, tool.name
        for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
            assert isinstance(getattr(hints, hint), bool), f"{tool.name} leaves {hint} unset"
        assert tool.output_schema is not None, f"{tool.name} has no output schema"
        properties = tool.input_schema.get("properties", {})
        assert not {"api_key", "token", "base_url", "TFY_API_KEY"} & set(properties), tool.name
    by_name = {t.name: t.annotations for t in tools}
    assert by_name["gateway_apply_plan"].destructive_hint and not by_name["gateway_apply_plan"].read_only_hint
    assert by_name["gateway_apply_plan"].idempotent_hint
    smoke = by_name["gateway_smoke_test"]
    assert not smoke.read_only_hint and smoke.open_world_hint and not smoke.destructive_hint
    assert all(by_name[n].read_only_hint for n in EXPECTED_TOOLS - {"gateway_apply_plan", "gateway_smoke_test"})


async def test_smoke_test_caps_max_tokens_in_its_schema():
    async with connect() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["gateway_smoke_test"].input_schema["properties"]["max_tokens"]["maximum"] == 64
        result = await client.call_tool("gateway_smoke_test", {"model": "m", "max_tokens": 500})
    assert result.is_error and "max_tokens" in result.content[0].text


async def test_resources_serve_reference_docs_and_schemas():
    async with connect() as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        for manifest_type in MANIFEST_TYPES:
            assert f"gateway://schemas/{manifest_type}" in uris
        schema = await client.read_resource("gateway://schemas/gateway-rate-limiting-config")
        document = json.loads(schema.contents[0].text)
        assert "rules" in json.dumps(document)
        files = reference_files()
        assert files, "no reference docs found: the resource loop below would pass on nothing"
        assert set(files) == {path.stem for path in REFERENCES.glob("*.md")}
        assert {uri for uri in uris if uri.startswith("gateway://references/")} == {
            f"gateway://references/{name}" for name in files
        }
        for name, path in files.items():
            uri = f"gateway://references/{name}"
            content = await client.read_resource(uri)
            assert content.contents[0].text == path.read_text(encoding="utf-8")


async def test_prompts_cover_the_common_workflows():
    async with connect() as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(prompts) == {"add_route", "add_rate_limit", "cap_spend", "onboard_provider"}
        result = await client.get_prompt("add_rate_limit", {"who": "team:backend", "limit": "20k tokens per minute"})
    text = result.messages[0].content.text
    assert "team:backend" in text and "gateway_plan" in text and "gateway_apply_plan" in text
