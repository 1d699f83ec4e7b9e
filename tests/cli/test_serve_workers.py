"""`serve --workers N`: several processes on one port sharing limits through Redis, or a refusal."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.gateway.data_plane.conftest import apply
from tests.gateway.test_scale_out_redis import account, limits
from tests.helpers import SUBPROCESS_TIMEOUT_S, GatewayProcess, burst_client, wait_for, workers_agree
from tests.redis_server import RedisServer
from tfy_gateway.fakeprovider import running


def test_more_than_one_worker_without_redis_is_refused_with_the_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFY_GATEWAY_")}
    result = subprocess.run(
        [sys.executable, "-m", "tfy_gateway", "serve", "--workers", "2", "--data-dir", str(tmp_path / "d")],
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert result.returncode == 2
    assert "2 workers need --redis-url" in result.stderr and "admit that many times the limit" in result.stderr
    assert not (tmp_path / "d").exists(), "nothing was started or created"


def worker_pids(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(entry.name))
    return children


def test_two_workers_on_one_port_share_a_limit_exactly(tmp_path: Path, redis_server: RedisServer) -> None:
    with running() as provider:
        # A Redis timeout takes the fail-open path (local counting): a loaded CI box must not get there.
        env = {"TFY_GATEWAY_UPSTREAM_TIMEOUT_S": "60", "TFY_GATEWAY_STATE_TIMEOUT_MS": "5000"}
        gateway = GatewayProcess(
            tmp_path / "data", extra_args=("--workers", "2", "--redis-url", redis_server.url), env=env
        )
        gateway.start()
        try:
            assert gateway.process is not None
            wait_for(lambda: len(worker_pids(gateway.process.pid)) >= 2, "two worker processes")  # type: ignore[union-attr]
            apply(gateway, account("counted", f"{provider}/v1"))
            apply(gateway, limits("workers-20", 20))
            headers = {"Authorization": f"Bearer {gateway.admin_token}", "x-tfy-request-timeout": "60000"}

            wait_for(workers_agree(gateway.base_url, 2), "both workers loading the rate limit")

            async def burst() -> list[int]:
                body = {"model": "counted/gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
                async with burst_client(max_connections=60, headers=headers, timeout=60) as c:
                    answers = await asyncio.gather(
                        *(c.post(gateway.base_url + "/api/llm/chat/completions", json=body) for _ in range(60))
                    )
                return [answer.status_code for answer in answers]

            statuses = asyncio.run(burst())
            assert statuses.count(200) == 20 and statuses.count(429) == 40, sorted(set(statuses))
        finally:
            gateway.stop()


def test_a_burst_of_connections_is_served_by_both_workers(tmp_path: Path, redis_server: RedisServer) -> None:
    """Connections opened at once reach both workers, not all the one that woke first (with one
    socket shared by the workers, 32 connections went 32/0 in six bursts of ten)."""
    gateway = GatewayProcess(tmp_path / "data", extra_args=("--workers", "2", "--redis-url", redis_server.url))
    gateway.start()
    try:
        wait_for(workers_agree(gateway.base_url, 2), "both workers serving")
        burst = [http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30) for _ in range(32)]
        try:
            for connection in burst:
                connection.connect()
            workers = {_worker(connection) for connection in burst}
        finally:
            for connection in burst:
                connection.close()
        assert len(workers) == 2, workers  # hashed over two sockets: 2**-31 for all on one
    finally:
        gateway.stop()


def _worker(connection: http.client.HTTPConnection) -> int:
    """The worker that answers `/api/llm/health` on `connection`."""
    connection.request("GET", "/api/llm/health")
    answer = connection.getresponse()
    assert answer.status == 200
    worker: int = json.loads(answer.read())["worker"]
    return worker
