"""The whole scale-out topology: two gateway replicas on one PostgreSQL and one Redis.

The control plane is shared through PostgreSQL (an apply through one replica is live on the other by
NOTIFY, the poll is off) and the limits through Redis: the issue's combined case, end to end.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from tests.gateway.test_scale_out_postgres import PROVIDER_KEY, account, apply, models
from tests.helpers import GatewayProcess, burst_client, wait_for
from tests.redis_server import RedisServer
from tfy_gateway.fakeprovider import running

DEADLINE_S = 60.0


def replica(data_dir: Path, database: str, redis_url: str, admin_token: str | None = None) -> GatewayProcess:
    env = {"TFY_GATEWAY_UPSTREAM_TIMEOUT_S": "60", "TFY_GATEWAY_STATE_TIMEOUT_MS": "5000"}
    args = ("--database-url", database, "--redis-url", redis_url, "--watch-interval-s", "0")
    process = GatewayProcess(data_dir, extra_args=args, env=env)
    if admin_token is not None:
        process.admin_token = admin_token
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "secrets.json").write_text(json.dumps({"fake-group": {"API_KEY": PROVIDER_KEY}}))
    return process


def test_two_replicas_on_postgresql_and_redis_share_config_and_an_exact_limit(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> None:
    with running(api_key=PROVIDER_KEY) as provider:
        a = replica(tmp_path / "a", postgres_url, redis_server.url)
        b = replica(tmp_path / "b", postgres_url, redis_server.url, a.admin_token)
        try:
            a.start()
            b.start()
            assert apply(a, account("shared", provider, ["gpt"])).status_code == 200
            rule = {
                "id": "shared-100",
                "when": {"models": ["shared/gpt"]},
                "limit_to": 100,
                "unit": "requests_per_minute",
            }
            limits = {"name": "limits", "type": "gateway-rate-limiting-config", "rules": [rule]}
            assert apply(a, limits).status_code == 200  # applied once, through A only

            def b_has_the_rule() -> bool:
                explained = httpx.post(
                    b.base_url + "/api/svc/v1/llm-gateway/explain",
                    json={"subject": "user:admin@local", "model": "shared/gpt", "metadata": {}},
                    headers={"Authorization": f"Bearer {b.admin_token}"},
                    timeout=30,
                ).json()
                return any(r["matched"] for r in explained["limits"]["rate_limits"])

            wait_for(lambda: models(b, "shared/") == ["shared/gpt"], "B serving A's account", timeout=DEADLINE_S)
            wait_for(b_has_the_rule, "B enforcing A's rate limit", timeout=DEADLINE_S)

            async def burst() -> list[int]:
                body = {"model": "shared/gpt", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
                headers = {"Authorization": f"Bearer {a.admin_token}", "x-tfy-request-timeout": "60000"}
                async with (
                    burst_client(max_connections=125, headers=headers, timeout=120) as to_a,
                    burst_client(max_connections=125, headers=headers, timeout=120) as to_b,
                ):
                    calls = [
                        (to_a if n % 2 else to_b).post(
                            (a if n % 2 else b).base_url + "/api/llm/chat/completions", json=body
                        )
                        for n in range(500)
                    ]
                    answers = await asyncio.gather(*calls)
                return [answer.status_code for answer in answers]

            statuses = asyncio.run(burst())
            assert statuses.count(200) == 100 and statuses.count(429) == 400, sorted(set(statuses))

            # Request logs of both replicas are in the one database: either replica lists all 500.
            def logged() -> int:
                page = httpx.get(
                    b.base_url + "/api/svc/v1/llm-gateway/logs",
                    params={"model": "shared/gpt", "limit": 1000},
                    headers={"Authorization": f"Bearer {b.admin_token}"},
                    timeout=30,
                ).json()
                return int(page["pagination"]["total"])

            wait_for(lambda: logged() == 500, "both replicas' request logs read through B", timeout=DEADLINE_S)
        finally:
            a.stop()
            b.stop()
