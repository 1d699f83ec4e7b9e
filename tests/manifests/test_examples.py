"""Every example manifest validates cleanly here and against the platform SDK's own models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import EXAMPLES
from tfy_gateway.manifests import has_errors, load_file, parse_manifest, validate_documents

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
NOT_IN_THE_SDK = ("tenant-rate-limit-config/",)  # V2 rate limits: documented, absent from truefoundry-sdk 0.6.0


def test_examples_are_in_the_repo() -> None:
    names = {path.name for path in EXAMPLE_FILES}
    assert {"routing-weighted.yaml", "budgets.yaml", "self-hosted.yaml", "provider-accounts.yaml"} <= names
    assert {"budgets-v2.yaml", "team-budget-v2.yaml", "rate-limits-v2.yaml"} <= names


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
        if document.data["type"].startswith(NOT_IN_THE_SDK):
            continue
        data = {
            k: v for k, v in document.data.items() if k != "name" or not document.data["type"].startswith("gateway-")
        }
        TypeAdapter(sdk.TrueFoundryApplyRequestManifest).validate_python(data)


def test_v2_examples_show_what_they_claim() -> None:
    """budgets-v2: two periods, a lifetime cap, a per-user override, soft_enforce and audit, alerts."""
    budgets = [d.data for d in load_file(EXAMPLES / "budgets-v2.yaml")]
    assert any(len(b["limits"]) == 2 for b in budgets)
    assert any("cost_per_lifetime" in b["limits"] for b in budgets)
    assert any(b["applies_to"]["type"] == "per-user" and b["applies_to"]["overrides"] for b in budgets)
    assert {"soft_enforce", "audit"} <= {b["mode"] for b in budgets}
    assert all(b.get("alerts") or b["mode"] == "soft_enforce" for b in budgets)
    (limit,) = [d.data for d in load_file(EXAMPLES / "rate-limits-v2.yaml")]
    assert len(limit["limits"]) >= 2 and limit["applies_to"]["overrides"]
    assert any("not_in" in f for f in limit["when"]["subjects"].values())


def test_v2_examples_warn_only_about_audit_mode() -> None:
    files = [EXAMPLES / name for name in ("budgets-v2.yaml", "team-budget-v2.yaml", "rate-limits-v2.yaml")]
    findings = validate_documents([doc for path in files for doc in load_file(path)])
    assert [(f.code, f.path) for f in findings] == [("audit-mode", "mode")]
