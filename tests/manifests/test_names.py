"""Names that become model ids, paths and headers: a bounded, safe alphabet, checked everywhere."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import GatewayProcess
from tfy_gateway.manifests import load_text, validate_documents

BAD_ACCOUNT_NAMES = [
    "../../etc/passwd",
    "a/b",
    "nul\x00byte",
    "esc\x1b[31m",
    "two\r\nlines",
    "x" * 5000,
    "Upper",
    "-lead",
]
BAD_MODEL_NAMES = ["open/m", "m\r\nX-Injected: yes", "..", "a..b", "trail-", "m" * 65]


def account(name: str, integration: str = "gpt-4o") -> dict[str, object]:
    return {
        "name": name,
        "type": "provider-account/openai",
        "integrations": [
            {"type": "integration/model/openai", "name": integration, "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }


def findings(manifest: dict[str, object]) -> list[tuple[str, str, str]]:
    import json

    docs = load_text(json.dumps(manifest), "m.yaml")
    return [(f.severity, f.path, f.message) for f in validate_documents(docs)]


@pytest.mark.parametrize("name", BAD_ACCOUNT_NAMES)
def test_bad_account_and_team_names_are_errors_at_their_path(name: str) -> None:
    for manifest in (account(name), {"name": name, "type": "team", "members": []}):
        errors = [f for f in findings(manifest) if f[0] == "error"]
        assert [path for _, path, _ in errors] == ["name"], errors
        message = errors[0][2]
        assert "lowercase letters, digits" in message or "at most 64" in message
        assert "\r" not in message and "\x00" not in message and "\x1b" not in message and len(message) < 400


@pytest.mark.parametrize("name", BAD_MODEL_NAMES)
def test_bad_model_names_are_errors_at_their_path(name: str) -> None:
    errors = [f for f in findings(account("coll", name)) if f[0] == "error"]
    assert [path for _, path, _ in errors] == ["integrations[0].name"], errors


@pytest.mark.parametrize("name", ["gpt-4o", "gpt-4.1", "llama_3-8b", "a", "claude-3-5-sonnet-20241022"])
def test_ordinary_model_names_stay_valid(name: str) -> None:
    assert [f for f in findings(account("openai-main", name)) if f[0] == "error"] == []


def test_apply_refuses_a_bad_name_and_stores_nothing(gateway: GatewayProcess) -> None:
    headers = {"Authorization": f"Bearer {gateway.admin_token}"}
    url = gateway.base_url + "/api/svc/v1/apply"
    for manifest in (account("../../etc/passwd"), account("coll", "m\r\nX-Injected: yes"), account("coll/open", "m")):
        response = httpx.put(url, json={"manifest": manifest}, headers=headers, timeout=30)
        assert response.status_code == 422, response.text
        assert "name" in response.json()["message"]
    listed = httpx.get(gateway.base_url + "/api/svc/v1/provider-accounts", headers=headers, timeout=30)
    assert listed.status_code == 200 and listed.json()["data"] == []
