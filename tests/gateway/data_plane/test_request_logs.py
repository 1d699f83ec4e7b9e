"""Request logs over HTTP and the CLI: filters, scoping, bodies only on request, no secrets anywhere.

The CLI and the server-log checks run against a real gateway process (`dp_process`): the CLI
talks HTTP, and a server log is what a process writes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from typing import Any

from tests.gateway.data_plane.conftest import PROVIDER_KEY, DataPlane, DataPlaneProcess
from tests.helpers import SUBPROCESS_TIMEOUT_S


async def test_one_record_per_request_with_metadata_and_routing(dp: DataPlane) -> None:
    metadata = {"team": "search", "ticket": "T-1"}
    assert (await dp.chat(headers={"x-tfy-metadata": json.dumps(metadata)})).status_code == 200
    assert (await dp.chat("fake/broken", headers={"x-tfy-metadata": json.dumps(metadata)})).status_code == 500
    records = [r for r in (await dp.logs(limit=100))["data"] if r["metadata"] == metadata]
    assert [r["status"] for r in records] == [500, 200]  # newest first
    failed, served = records
    assert served["subject"] == "user:admin@local" and served["token_name"]
    assert served["requested_model"] == served["resolved_model"] == "fake/gpt-4o"
    assert served["latency_ms"] > 0 and served["provider_ms"] > 0 and served["tries"] == [["fake/gpt-4o", 200]]
    assert failed["error"] and failed["error_origin"] == "api_error" and failed["cost"] is None
    assert "request_body" not in served


async def test_filters_and_pagination(dp: DataPlane) -> None:
    for _ in range(3):
        await dp.chat("fake/public", body={"max_tokens": 2})
    assert (await dp.chat("fake/broken")).status_code == 500  # for the status filter (a gateway of its own)
    page = await dp.logs(model="fake/public", limit=2)
    assert len(page["data"]) == 2 and page["pagination"]["total"] >= 3 and page["pagination"]["limit"] == 2
    assert all(r["requested_model"] == "fake/public" for r in page["data"])
    second = (await dp.logs(model="fake/public", limit=2, offset=2))["data"]
    assert second and {r["id"] for r in second}.isdisjoint({r["id"] for r in page["data"]})
    errors = (await dp.logs(status="5xx"))["data"]
    assert errors and all(500 <= r["status"] < 600 for r in errors)
    assert (await dp.logs(since="1h", model="fake/public"))["pagination"]["total"] >= 3
    assert (await dp.logs(since="2999-01-01T00:00:00Z"))["data"] == []
    bad = await dp.http.get("/api/svc/v1/llm-gateway/logs", params={"since": "yesterday"}, headers=dp.auth())
    assert bad.status_code == 400 and "since='yesterday'" in bad.json()["message"]


async def test_users_see_only_their_own_logs(dp: DataPlane) -> None:
    token = await dp.add_user("carol@example.com")
    assert (await dp.chat(token=token)).status_code == 200
    own = (await dp.logs(token))["data"]
    assert own and {r["subject"] for r in own} == {"user:carol@example.com"}
    others = await dp.http.get(
        "/api/svc/v1/llm-gateway/logs",
        params={"subject": "user:admin@local"},
        headers=dp.auth(token),
    )
    assert others.status_code == 403
    summary = (await dp.http.get("/api/svc/v1/llm-gateway/usage/summary", headers=dp.auth(token))).json()
    assert [row["subject"] for row in summary["by_subject"]] == ["user:carol@example.com"]


async def test_bodies_are_logged_only_when_asked(dp: DataPlane) -> None:
    secret_prompt = "remember the word pineapple-42"
    body = {"messages": [{"role": "user", "content": secret_prompt}], "max_tokens": 3}
    logging_on = {"x-tfy-logging-config": '{"enabled": true}', "x-tfy-metadata": '{"case": "bodies"}'}
    assert (await dp.chat(body=body, headers=logging_on)).status_code == 200
    assert (await dp.chat(body={**body, "stream": True}, headers=logging_on)).status_code == 200
    assert (await dp.chat(body=body, headers={"x-tfy-metadata": '{"case": "no-bodies"}'})).status_code == 200
    records = (await dp.logs(limit=100))["data"]
    logged = [r for r in records if r["metadata"] == {"case": "bodies"}]
    assert len(logged) == 2 and all(secret_prompt in r["request_body"] for r in logged)
    assert all(r["response_body"].startswith(("Fake reply", '{"id"')) for r in logged)
    plain = [r for r in records if r["metadata"] == {"case": "no-bodies"}]
    assert plain and "request_body" not in plain[0] and "response_body" not in plain[0]


async def test_usage_summary(dp: DataPlane) -> None:
    await dp.chat(body={"max_tokens": 2})
    summary = (await dp.http.get("/api/svc/v1/llm-gateway/usage/summary", headers=dp.auth())).json()
    assert summary["total"]["requests"] >= 1 and summary["window"]["since"]
    by_model = {row["model"]: row for row in summary["by_model"]}
    assert by_model["fake/gpt-4o"]["cost"] > 0 and by_model["fake/gpt-4o"]["total_tokens"] > 0


async def test_teams_metadata_rule_filters_groupings_and_series(dp: DataPlane) -> None:
    token = await dp.add_user("dana@example.com", teams=["search", "ml"])
    tagged = {"x-tfy-metadata": json.dumps({"project": "p-7"})}
    assert (await dp.chat(token=token, headers=tagged)).status_code == 200
    assert (await dp.chat(headers=tagged)).status_code == 200
    dana = (await dp.logs(team="search"))["data"]
    assert [r["subject"] for r in dana] == ["user:dana@example.com"] and dana[0]["teams"] == ["ml", "search"]
    assert (await dp.logs(metadata="project:p-7"))["pagination"]["total"] == 2
    assert (await dp.logs(id=dana[0]["id"]))["data"] == dana
    assert (await dp.logs(token, metadata="project:p-7"))["pagination"]["total"] == 1  # still only her own
    bad = await dp.http.get("/api/svc/v1/llm-gateway/logs", params={"metadata": "p-7"}, headers=dp.auth())
    assert bad.status_code == 400 and "KEY:VALUE" in bad.json()["message"]

    async def get(path: str, **params: str) -> dict[str, Any]:
        response = await dp.http.get(f"/api/svc/v1/llm-gateway/usage/{path}", params=params, headers=dp.auth())
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    teams = {row["key"]: row["requests"] for row in (await get("summary", group_by="team"))["by_team"]}
    assert teams == {"ml": 1, "search": 1}
    projects = (await get("summary", group_by="metadata:project"))["by_metadata"]
    assert projects["key"] == "project" and [(r["key"], r["requests"]) for r in projects["data"]] == [("p-7", 2)]
    series = await get("series", since="10m", bucket="60")
    assert series["bucket_s"] == 60 and len(series["data"]) == 10
    assert (
        sum(point["requests"] for point in series["data"]) == (await get("summary", since="10m"))["total"]["requests"]
    )
    too_many = await dp.http.get(
        "/api/svc/v1/llm-gateway/usage/series", params={"since": "30d", "bucket": "1"}, headers=dp.auth()
    )
    assert too_many.status_code == 400


def test_logs_cli(dp_process: DataPlaneProcess) -> None:
    dp = dp_process
    dp.chat(body={"max_tokens": 2})
    env = {**os.environ, **dp.gateway.env}
    result = subprocess.run(
        [sys.executable, "-m", "tfy_gateway", "logs", "--limit", "3", "--model", "fake/gpt-4o", "--status", "200"],
        capture_output=True,
        text=True,
        env=env,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["time", "status", "subject", "model"]
    assert 2 <= len(lines) <= 4 and all("fake/gpt-4o" in line and " 200 " in line for line in lines[1:])
    bad = subprocess.run(
        [sys.executable, "-m", "tfy_gateway", "logs"],
        capture_output=True,
        text=True,
        env={**env, "TFY_API_KEY": "tfy_wrong_key_1234567890"},
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert bad.returncode == 1 and "401" in bad.stderr and "TFY_API_KEY" in bad.stderr


async def test_metrics(dp: DataPlane) -> None:
    await dp.chat(body={"max_tokens": 2})
    text = (await dp.http.get("/metrics")).text
    assert 'tfy_gateway_requests_total{endpoint="chat",model="fake/gpt-4o",status="200"}' in text
    for name in (
        "tfy_gateway_request_duration_seconds_bucket",
        "tfy_gateway_overhead_seconds_bucket",
        "tfy_gateway_tokens_total",
        "tfy_gateway_cost_usd_total",
        "tfy_gateway_in_flight_requests",
        "tfy_gateway_time_to_first_token_seconds",
    ):
        assert name in text
    assert 'model="fake/does-not-exist"' not in text  # unknown models never become label values


def test_no_token_or_provider_key_in_logs_db_or_server_log(dp_process: DataPlaneProcess) -> None:
    dp = dp_process
    # Requests that carry the secrets in every place they could leak from.
    dp.chat(headers={"x-tfy-logging-config": '{"enabled": true}'})
    dp.chat("fake/broken")
    dp.chat(token="tfy_wrong_" + "z" * 24)
    dp.logs()  # flushes the writer
    database = dp.gateway.data_dir / "logs.sqlite3"
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT * FROM request_logs").fetchall()
    dump = json.dumps(rows) + "".join(
        path.read_bytes().decode("latin-1") for path in dp.gateway.data_dir.glob("logs.sqlite3*")
    )
    log = dp.gateway.server_log()
    for secret in (dp.token, PROVIDER_KEY, "z" * 24):
        assert secret not in dump
        assert secret not in log
