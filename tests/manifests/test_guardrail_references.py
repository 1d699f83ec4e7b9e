"""The manifests shown in references/guardrails.md validate, and the local gateway applies them."""

from __future__ import annotations

import re
from pathlib import Path

from tests.gateway.inprocess import running_gateway
from tests.helpers import REPO_ROOT
from tfy_gateway.manifests import Document, has_errors, load_text, validate_documents

YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def documents() -> list[Document]:
    text = (REPO_ROOT / "references" / "guardrails.md").read_text(encoding="utf-8")
    return [doc for index, block in enumerate(YAML_BLOCK.findall(text)) for doc in load_text(block, f"#{index}")]


def test_the_reference_shows_every_guardrail_manifest_type_and_the_common_asks() -> None:
    docs = documents()
    assert {doc.data["type"] for doc in docs} == {
        "provider-account/guardrail-config-group",
        "gateway-guardrails-config",
        "gateway-global-settings",
    }
    kinds = {item["type"].rsplit("/", 1)[1] for doc in docs for item in doc.data.get("integrations") or []}
    assert {"tfy-pii", "regex", "custom", "opa", "openai-moderations", "sql-sanitizer", "tfy-metadata"} <= kinds


def test_each_manifest_in_the_reference_validates() -> None:
    findings = validate_documents(documents())
    assert not has_errors(findings), [f.format() for f in findings]
    assert {f.code for f in findings} <= {"plaintext-secret"}, [f.format() for f in findings]


async def test_the_local_gateway_applies_them_without_errors(tmp_path: Path) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        for doc in documents():
            response = await gateway.http.put(
                "/api/svc/v1/apply", json={"manifest": doc.data, "dryRun": False}, headers=gateway.auth()
            )
            assert response.status_code == 200, response.text
