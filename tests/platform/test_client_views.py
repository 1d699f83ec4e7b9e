"""explain / query_logs / usage_summary on the wire: what they send, and how their failures map.

Behaviour against the real gateway is in test_smoke.py (test_client_explain_logs_and_usage_summary).
"""

from __future__ import annotations

import pytest

from tests.platform.conftest import ScriptedServer
from tfy_gateway.platform import (
    AuthenticationError,
    ControlPlaneClient,
    PermissionDeniedError,
    UnsupportedFeatureError,
    ValidationFailed,
)

KEY = "tfy_views_test_key_0123456789"
GATEWAY = "/api/svc/v1/llm-gateway"


async def test_explain_sends_subject_model_metadata_and_lowercased_headers(scripted: ScriptedServer) -> None:
    scripted.reply("POST", f"{GATEWAY}/explain", body={"matched_rule": "r1"})
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        plain = await client.explain("team:ml", "m")
        full = await client.explain("team:ml", "m", {"env": "dev"}, {"X-Session-Id": "s1"})
    assert plain == full == {"matched_rule": "r1"}
    assert scripted.seen[0].body == {"subject": "team:ml", "model": "m", "metadata": {}}
    assert scripted.seen[1].body == {
        "subject": "team:ml",
        "model": "m",
        "metadata": {"env": "dev"},
        "headers": {"x-session-id": "s1"},
    }
    assert scripted.seen[1].headers["authorization"] == f"Bearer {KEY}"


async def test_logs_and_summary_send_only_the_filters_given(scripted: ScriptedServer) -> None:
    scripted.reply("GET", f"{GATEWAY}/logs", body={"data": [{"id": "a"}], "pagination": {"total": 1}})
    scripted.reply("GET", f"{GATEWAY}/usage/summary", body={"total": {"requests": 1}})
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        page = await client.query_logs(limit=5, status="5xx", since="15m")
        summary = await client.usage_summary(subject="user:a@x")
    assert page["data"] == [{"id": "a"}] and summary == {"total": {"requests": 1}}
    assert scripted.seen[0].path == f"{GATEWAY}/logs?limit=5&status=5xx&since=15m"
    assert scripted.seen[1].path == f"{GATEWAY}/usage/summary?subject=user%3Aa%40x"


async def test_a_control_plane_without_the_endpoints_is_unsupported(scripted: ScriptedServer) -> None:
    # The scripted server answers 404 to everything unscripted, like an older control plane.
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        for call, feature in (
            (client.explain("team:ml", "m"), "explain"),
            (client.query_logs(), "request logs"),
            (client.usage_summary(), "usage summaries"),
        ):
            with pytest.raises(UnsupportedFeatureError) as caught:
                await call
            assert caught.value.feature == feature and caught.value.status == 404
            assert f"does not serve {feature}" in str(caught.value) and scripted.base_url in str(caught.value)
    assert all("/session" not in seen.path for seen in scripted.seen), "no extra probe: the 404 says it all"


async def test_errors_reuse_the_client_mapping(scripted: ScriptedServer) -> None:
    message = {"status": "failure", "message": f"'subject' is required (you sent {KEY})"}
    scripted.reply("POST", f"{GATEWAY}/explain", status=400, body=message)
    scripted.reply("GET", f"{GATEWAY}/logs", status=401, body={"message": "bad token"})
    scripted.reply("GET", f"{GATEWAY}/usage/summary", status=403, body={"message": "only your own"})
    async with ControlPlaneClient(scripted.base_url, KEY) as client:
        with pytest.raises(ValidationFailed) as refused:
            await client.explain("nobody", "m")
        with pytest.raises(AuthenticationError, match="TFY_API_KEY"):
            await client.query_logs()
        with pytest.raises(PermissionDeniedError, match="summarise usage"):
            await client.usage_summary(subject="user:other@x")
    assert refused.value.status == 400 and "'subject' is required" in str(refused.value)
    assert KEY not in str(refused.value), "the key is scrubbed from echoed messages"
