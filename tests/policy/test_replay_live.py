"""Replay predicts the live gateway: recorded traffic replayed against a config with one lowered limit
reports exactly the requests a gateway with that config refuses when the same traffic is sent."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from tests.gateway.inprocess import InProcessGateway, running_gateway
from tests.helpers import EXAMPLES
from tfy_gateway.policy.config import load_config
from tfy_gateway.policy.recorded import recorded_traffic
from tfy_gateway.policy.replay import replay
from tfy_gateway.policy.replay_text import format_replay

TEAM = {"name": "backend", "type": "team", "members": ["dev@example.com"]}
USERS = ("carol@example.com", "dev@example.com", "bob@example.com", "eve@example.com")
# (user, model, metadata, max_tokens): interleaved, so a lowered limit bites in the middle of the traffic
TRAFFIC: list[tuple[str, str, dict[str, str], int]] = [
    *[("carol@example.com", "openai-main/gpt-4o-mini", {}, 8)] * 4,
    *[("dev@example.com", "openai-main/gpt-4o", {}, 16)] * 3,
    *[("eve@example.com", "openai-main/gpt-4o-mini", {"project_id": "p-1"}, 16)] * 3,
    *[("carol@example.com", "openai-main/gpt-4o-mini", {}, 8), ("bob@example.com", "openai-main/gpt-4o", {}, 4)] * 5,
    *[("dev@example.com", "openai-main/gpt-4o-mini", {}, 16)] * 6,
    *[("eve@example.com", "openai-main/gpt-4o", {}, 12)] * 7,
]


def limits(global_per_minute: int) -> dict[str, Any]:
    config = copy.deepcopy(yaml.safe_load((EXAMPLES / "rate-limits.yaml").read_text()))
    (fallback,) = [rule for rule in config["rules"] if rule["id"] == "global-fallback"]
    fallback["limit_to"] = global_per_minute
    return config


async def send_traffic(gateway: InProcessGateway, config: dict[str, Any]) -> list[int]:
    """Apply `config`, then send TRAFFIC in order; the statuses."""
    await gateway.apply(TEAM)
    await gateway.apply(config)
    tokens = {email: await gateway.add_user(email) for email in USERS}
    statuses = []
    for email, model, metadata, max_tokens in TRAFFIC:
        headers = gateway.auth(tokens[email])
        if metadata:
            headers["x-tfy-metadata"] = json.dumps(metadata)
        body = {
            "model": model,
            "messages": [{"role": "user", "content": "how many tokens is this?"}],
            "max_tokens": max_tokens,
        }
        statuses.append((await gateway.http.post("/api/llm/chat/completions", json=body, headers=headers)).status_code)
    return statuses


async def test_replaying_a_lowered_limit_predicts_exactly_what_the_gateway_then_refuses(tmp_path: Path) -> None:
    current, lowered = limits(500), limits(5)
    async with running_gateway(tmp_path / "recorded") as gateway:
        recorded_statuses = await send_traffic(gateway, current)
        answer = await gateway.http.get("/api/svc/v1/llm-gateway/logs", params={"limit": 1000}, headers=gateway.auth())
        records = answer.json()["data"]
        async with gateway.control_plane() as client:
            accounts = await client.list_provider_accounts()
    assert recorded_statuses == [200] * len(TRAFFIC), "the current limits refuse nothing of this traffic"

    files = tmp_path / "config"
    files.mkdir()
    (files / "live.yaml").write_text(yaml.safe_dump_all([*accounts, TEAM, current]))
    (files / "proposed.yaml").write_text(yaml.safe_dump(lowered))
    report = await replay(
        recorded_traffic(records),
        load_config([files / "live.yaml"]),
        load_config([files / "live.yaml", files / "proposed.yaml"]),
    )
    assert report.requests == len(TRAFFIC) and report.reproduced == report.recorded == len(TRAFFIC)
    predicted = {change.index for change in report.of("newly-refused")}
    assert {change.proposed.refused_by for change in report.of("newly-refused")} == {"global-fallback"}
    assert [c.kind for c in report.changes if c.kind != "newly-refused"] == []

    async with running_gateway(tmp_path / "lowered") as gateway:
        live_statuses = await send_traffic(gateway, lowered)
    refused = {index for index, status in enumerate(live_statuses, start=1) if status == 429}
    assert refused, "the lowered limit must refuse some of this traffic"
    assert predicted == refused
    print(f"\n{len(refused)} of {len(TRAFFIC)} requests refused live, as predicted\n" + format_replay(report))
