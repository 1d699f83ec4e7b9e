"""Status and catalog tools against a real gateway process, and every way the connection can fail."""

from __future__ import annotations

from tests.helpers import free_port
from tests.mcp.conftest import call, call_error, connect, seed


async def test_status_reports_control_plane_and_user(gateway):
    async with connect(gateway.env) as client:
        status = await call(client, "gateway_status")
    assert status["configured"] and status["reachable"] and status["authenticated"]
    assert status["base_url"] == gateway.base_url
    assert status["user"] == "admin@local" and "tenant-admin" in status["roles"]
    assert status["min_cli_version"] == "0.0.0" and status["problem"] is None
    assert gateway.admin_token not in str(status)


async def test_status_without_configuration_says_what_to_set():
    async with connect({}) as client:
        status = await call(client, "gateway_status")
        error = await call_error(client, "gateway_list_models")
    assert not status["configured"] and not status["reachable"]
    assert "TFY_BASE_URL" in status["problem"] and "TFY_API_KEY" in status["problem"]
    assert "TFY_BASE_URL" in error and "restart" in error


async def test_unreachable_control_plane_is_reported_with_next_step():
    env = {"TFY_BASE_URL": f"http://127.0.0.1:{free_port()}", "TFY_API_KEY": "tfy_unused_key_123456"}
    async with connect(env) as client:
        status = await call(client, "gateway_status")
        assert status["configured"] and not status["reachable"]
        assert "tfy-gateway serve" in status["next_step"]
        for tool, args in [
            ("gateway_list_models", {}),
            ("gateway_get_config", {"config_type": "gateway-budget-config"}),
            ("gateway_plan", {"yaml_text": "name: x\ntype: team\nmembers: []\n"}),
            ("gateway_smoke_test", {"model": "openai-main/gpt-4o"}),
            ("gateway_explain", {"subject": "user:a@b.c", "model": "m"}),
            ("gateway_usage", {}),
        ]:
            error = await call_error(client, tool, args)
            assert "reach" in error and "gateway_status" in error, (tool, error)


async def test_bad_token_is_a_tool_error_that_never_echoes_the_key(gateway):
    bad_key = "tfy_wrong_" + "x" * 30
    env = {**gateway.env, "TFY_API_KEY": bad_key}
    async with connect(env) as client:
        status = await call(client, "gateway_status")
        assert status["reachable"] and not status["authenticated"] and "TFY_API_KEY" in status["problem"]
        errors = [
            await call_error(client, "gateway_list_models"),
            await call_error(client, "gateway_get_config", {"config_type": "gateway-rate-limiting-config"}),
            await call_error(client, "gateway_render_manifest", {"intent": {"kind": "budget"}}),
        ]
    for error in errors:
        assert "TFY_API_KEY" in error and "401" in error
        assert bad_key not in error and bad_key not in str(status)


async def test_list_models_pages_and_filters(gateway):
    await seed(gateway, "provider-accounts.yaml")
    async with connect(gateway.env) as client:
        first = await call(client, "gateway_list_models", {"limit": 2})
        assert first["total"] == 5 and first["has_more"] and first["next_offset"] == 2
        ids = [m["id"] for m in first["models"]]
        assert ids == ["anthropic-main/claude-sonnet", "azure-backup/gpt-4o"]
        rest = await call(client, "gateway_list_models", {"limit": 10, "offset": first["next_offset"]})
        assert not rest["has_more"] and rest["next_offset"] is None and len(rest["models"]) == 3
        openai = await call(client, "gateway_list_models", {"provider": "openai"})
        assert {m["id"] for m in openai["models"]} == {
            "openai-main/gpt-4o",
            "openai-main/gpt-4o-mini",
            "openai-main/text-embedding-3-small",
        }
        embeddings = await call(client, "gateway_list_models", {"model_type": "embedding"})
        assert [m["id"] for m in embeddings["models"]] == ["openai-main/text-embedding-3-small"]
        by_account = await call(client, "gateway_list_models", {"provider": "azure-backup"})
        assert by_account["models"][0]["provider"] == "azure-openai"
        bad = await client.call_tool("gateway_list_models", {"limit": 0})
        assert bad.is_error


async def test_get_config_absent_then_present(gateway):
    async with connect(gateway.env) as client:
        absent = await call(client, "gateway_get_config", {"config_type": "gateway-rate-limiting-config"})
        assert absent == {**absent, "exists": False, "yaml": None, "manifest": None}
        await seed(gateway, "provider-accounts.yaml", "rate-limits.yaml")
        present = await call(client, "gateway_get_config", {"config_type": "gateway-rate-limiting-config"})
        unknown = await client.call_tool("gateway_get_config", {"config_type": "gateway-nope"})
    assert present["exists"] and present["name"] == "rate-limits"
    assert present["rule_ids"] == ["team-rpm-limit", "user-daily-limit", "per-project-hourly", "global-fallback"]
    assert "type: gateway-rate-limiting-config" in present["yaml"]
    assert present["manifest"]["rules"][0]["limit_to"] == 20000
    assert unknown.is_error and "gateway-budget-config" in unknown.content[0].text
