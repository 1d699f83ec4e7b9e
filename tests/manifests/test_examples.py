"""Every example manifest validates cleanly here and against the platform SDK's own models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import EXAMPLES
from tfy_gateway.manifests import has_errors, load_file, parse_manifest, validate_documents

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def test_examples_are_in_the_repo() -> None:
    names = {path.name for path in EXAMPLE_FILES}
    assert {"routing-weighted.yaml", "budgets.yaml", "self-hosted.yaml", "provider-accounts.yaml"} <= names


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_has_no_errors(path: Path) -> None:
    providers = load_file(EXAMPLES / "provider-accounts.yaml")
    documents = load_file(path)
    findings = validate_documents([*providers, *documents] if path.name.startswith("routing") else documents)
    assert not has_errors(findings), [f.format() for f in findings]
    for document in documents:
        parse_manifest(document.data)


def test_budget_team_applies_per_is_a_documented_warning() -> None:
    findings = validate_documents(load_file(EXAMPLES / "budgets.yaml"))
    assert [(f.severity, f.code, f.path) for f in findings] == [
        ("warning", "applies-per-team", "rules[0].budget_applies_per[0]")
    ]


def test_list_form_and_multi_document_form_both_load() -> None:
    assert [d.data["name"] for d in load_file(EXAMPLES / "self-hosted.yaml")] == ["nvidia-external"]
    names = [d.data["name"] for d in load_file(EXAMPLES / "provider-accounts.yaml")]
    assert names == ["openai-main", "azure-backup", "anthropic-main"]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_examples_also_parse_with_the_platform_sdk(path: Path) -> None:
    """A peer check: our field names are the platform SDK's (truefoundry-sdk, a dev dependency)."""
    sdk = pytest.importorskip("truefoundry_sdk")
    from pydantic import TypeAdapter

    for document in load_file(path):
        data = {
            k: v for k, v in document.data.items() if k != "name" or not document.data["type"].startswith("gateway-")
        }
        TypeAdapter(sdk.TrueFoundryApplyRequestManifest).validate_python(data)
