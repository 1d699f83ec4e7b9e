"""gateway_migrate_limits: V2 YAML, per-rule notes and the grouped equivalence report, applying nothing."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import yaml

from tests.helpers import EXAMPLES, GatewayProcess
from tests.mcp.conftest import call, call_error, connect
from tfy_gateway.platform import ControlPlaneClient


async def test_migrating_v1_yaml_returns_v2_yaml_notes_and_differences() -> None:
    text = (EXAMPLES / "rate-limits.yaml").read_text() + "\n---\n" + (EXAMPLES / "budgets.yaml").read_text()
    async with connect() as client:  # no control plane: the YAML is all it needs
        result = await call(client, "gateway_migrate_limits", {"yaml_text": text})
    assert result["valid"] is True
    names = [m["name"] for m in yaml.safe_load_all(result["rate_limits_yaml"]) if m]
    assert "user-daily-limit" in names
    assert {"team-monthly-budget-engineering", "user-daily-budget"} <= {
        m["name"] for m in yaml.safe_load_all(result["budgets_yaml"]) if m
    }
    rules = {rule["v1_rule"]: rule for rule in result["rules"]}
    assert rules["team-rpm-limit"]["exact"] is True
    assert any(note.startswith("overlap:") for note in rules["global-fallback"]["notes"])
    rate_limits, budgets = result["equivalence"]
    assert rate_limits["traffic"] == "generated" and rate_limits["differing"] == sum(
        group["requests"] for group in rate_limits["groups"]
    )
    assert rate_limits["groups"][0]["examples"][0].startswith("request ")
    assert budgets["differing"] == 0 and budgets["groups"] == []
    assert "gateway_plan" in result["next_step"]


async def test_nothing_to_migrate_is_a_tool_error() -> None:
    async with connect() as client:
        message = await call_error(
            client, "gateway_migrate_limits", {"yaml_text": (EXAMPLES / "budgets-v2.yaml").read_text()}
        )
    assert "Nothing to migrate" in message


SUITE = """
name: limits
collaborators: ["team:everyone"]
callers:
  dev: {user: dev@example.com, teams: [backend]}
cases:
  - name: team backend shares 20,000 gpt-4o tokens a minute
    request: {caller: dev, model: openai-main/gpt-4o, prompt_tokens: 1990, max_tokens: 10}
    count: 11
    expect:
      limited: {after: LIMIT, by: team-rpm-limit}
"""


async def test_a_suite_runs_against_proposed_manifests_and_reports_failures() -> None:
    manifests = "\n---\n".join((EXAMPLES / name).read_text() for name in ("provider-accounts.yaml", "rate-limits.yaml"))
    async with connect() as client:  # no control plane: the proposed manifests are the whole config
        passing = await call(
            client, "gateway_test_policies", {"suite_yaml": SUITE.replace("LIMIT", "10"), "manifests_yaml": manifests}
        )
        failing = await call(
            client, "gateway_test_policies", {"suite_yaml": SUITE.replace("LIMIT", "9"), "manifests_yaml": manifests}
        )
    assert (passing["passed"], passing["failed"], passing["config_from"]) == (1, 0, ["proposed"])
    assert failing["failed"] == 1
    (failure,) = failing["cases"][0]["failures"]
    assert failure.startswith(
        "step 1: expected 9 requests admitted, then 429 by 'team-rpm-limit'; actual request 10: 200"
    )
    assert "FAIL: team backend shares" in failing["text"]


async def test_a_plan_shows_what_it_would_have_done_to_recent_traffic(tmp_path: Path) -> None:
    server = GatewayProcess(tmp_path / "data", extra_args=("--offline",))
    server.start()
    try:
        async with ControlPlaneClient(server.base_url, server.admin_token) as client:
            await client.apply(yaml.safe_load((EXAMPLES / "rate-limits.yaml").read_text()), dry_run=False)
            # `serve --offline` applies its starter accounts once it is up: wait until the model exists.
            deadline = anyio.current_time() + 60
            while "openai-main/gpt-4o-mini" not in {m.get("id") for m in await client.list_models()}:
                assert anyio.current_time() < deadline, "the offline starter accounts never appeared"
                await anyio.sleep(0.05)
        body = {"model": "openai-main/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            for _ in range(8):
                answer = await http.post(
                    "/api/llm/chat/completions", json=body, headers={"Authorization": f"Bearer {server.admin_token}"}
                )
                assert answer.status_code == 200, answer.text
        lowered = yaml.safe_load((EXAMPLES / "rate-limits.yaml").read_text())
        lowered["rules"][-1]["limit_to"] = 5  # global-fallback: 500 -> 5 requests a minute per user
        async with connect(server.env) as client:
            plan = await call(client, "gateway_plan", {"yaml_text": yaml.safe_dump(lowered)})
    finally:
        server.stop()
    impact = plan["impact"]
    assert impact["requests"] == 8 and impact["newly_refused"] == 3
    assert impact["by_rule"] == {"global-fallback": 3} and "3 newly refused" in impact["summary"]
