"""A rule's name can never break the response it is named in: the server refuses names with control
characters (422, validate's finding), and `x-tfy-applied-configurations` is printable ASCII whatever
the names in it (a real uvicorn server, which refuses to send a header holding DEL)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.helpers import GatewayProcess
from tfy_gateway.fakeprovider import running
from tfy_gateway.gateway.data_plane.response_headers import header_json, header_text

PROVIDER_KEY = "sk-fakeprovider-header-names"


def budget(rule_id: str) -> dict[str, Any]:
    rule = {"id": rule_id, "when": {}, "limit_to": 100, "unit": "cost_per_day"}
    return {"name": "spend", "type": "gateway-budget-config", "rules": [rule]}


def account(provider: str) -> dict[str, Any]:
    return {
        "name": "named",
        "type": "provider-account/openai",
        "base_url": f"{provider}/v1",
        "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake-group:API_KEY"},
        "collaborators": [{"subject": "team:everyone", "role_id": "provider-account-access"}],
        "integrations": [
            {"type": "integration/model/openai", "name": "gpt", "model_id": "gpt-4o", "model_types": ["chat"]}
        ],
    }


def test_header_values_are_printable_ascii_whatever_the_names() -> None:
    value = {"budgets": [{"config": "spend", "rule_id": "r\x7fx"}, {"config": "é ✓ 𝄞", "rule_id": "\n\x00"}]}
    encoded = header_json(value)
    assert all(0x20 <= byte < 0x7F for byte in encoded), encoded
    assert json.loads(encoded) == value
    assert header_json({"a": "plain"}) == b'{"a":"plain"}'
    assert header_text("acct/m\x7fodel\u00e9") == b"acct/m?odel?"


def test_a_rule_id_with_del_is_refused_and_any_printable_one_reaches_the_header(tmp_path: Any) -> None:
    gateway = GatewayProcess(tmp_path / "data")
    gateway.data_dir.mkdir(parents=True)
    (gateway.data_dir / "secrets.json").write_text(json.dumps({"fake-group": {"API_KEY": PROVIDER_KEY}}))
    with running(api_key=PROVIDER_KEY) as provider:
        gateway.start()
        try:
            headers = {"Authorization": f"Bearer {gateway.admin_token}"}
            with httpx.Client(base_url=gateway.base_url, headers=headers, timeout=30) as client:
                assert client.put("/api/svc/v1/apply", json={"manifest": account(provider)}).status_code == 200
                refused = client.put("/api/svc/v1/apply", json={"manifest": budget("daily\x7fcap")})
                assert refused.status_code == 422, refused.text
                assert "rules[0].id" in refused.text and "U+007F" in refused.json()["message"]

                named = "Résumé cap ✓"
                assert client.put("/api/svc/v1/apply", json={"manifest": budget(named)}).status_code == 200
                body = {"model": "named/gpt", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
                answer = client.post("/api/llm/chat/completions", json=body)
                assert answer.status_code == 200, answer.text
                raw = answer.headers.raw if hasattr(answer.headers, "raw") else []
                applied = dict(raw)[b"x-tfy-applied-configurations"]
                assert applied.isascii()
                assert json.loads(applied)["budgets"] == [{"config": "spend", "rule_id": named}]
        finally:
            gateway.stop()
