"""The server as users run it: a stdio subprocess, streamable HTTP on loopback, and --local."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from mcp import Client, StdioServerParameters
from tests.helpers import SUBPROCESS_TIMEOUT_S, GatewayProcess, code_under_test_env, free_port, wait_until_up
from tests.mcp.conftest import call, call_error, connect, live_config
from tests.mcp.test_surface import EXPECTED_TOOLS

LIMITS = "name: limits\ntype: gateway-rate-limiting-config\nrules:\n  - {id: all, when: {}, limit_to: 7, unit: requests_per_day}\n"


def stdio_server(env: dict[str, str], *args: str) -> StdioServerParameters:
    # Only the given variables reach the server (plus the SDK's safe defaults such as PATH/HOME, and
    # PYTHONPATH so that it runs the code under test).
    command = ["-m", "tfy_gateway", "mcp", *args]
    return StdioServerParameters(command=sys.executable, args=command, env={**code_under_test_env(), **env})


async def test_stdio_subprocess_talks_to_the_gateway_named_by_tfy_base_url(gateway, tmp_path: Path):
    """Two gateways run; the server must use the one its environment names, over HTTP."""
    second = GatewayProcess(tmp_path / "second-gateway")
    second.start()
    try:
        async with Client(stdio_server(second.env)) as client:
            status = await call(client, "gateway_status")
            assert status["base_url"] == second.base_url and status["authenticated"]
            plan = await call(client, "gateway_plan", {"yaml_text": LIMITS})
            applied = await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
            assert applied["status"] == "applied"
            config = await call(client, "gateway_get_config", {"config_type": "gateway-rate-limiting-config"})
            assert config["rule_ids"] == ["all"]
        assert (await live_config(second, "gateway-rate-limiting-config"))["name"] == "limits"
        assert await live_config(gateway, "gateway-rate-limiting-config") is None
    finally:
        second.stop()


async def test_stdio_subprocess_without_credentials_still_starts_and_explains():
    async with Client(stdio_server({})) as client:
        status = await call(client, "gateway_status")
        error = await call_error(client, "gateway_plan", {"yaml_text": LIMITS})
    assert not status["configured"] and "TFY_API_KEY" in status["problem"]
    assert "not configured" in error


@contextmanager
def http_server(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    command = [sys.executable, "-m", "tfy_gateway", "mcp", "--transport", "http", "--port", str(port)]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("TFY_")}
    with log.open("wb") as output:
        process = subprocess.Popen(command, env={**base_env, **env}, stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        wait_until_up(url, process=process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)  # a hang guard: it stops at once on an idle machine
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_http_transport_serves_loopback_and_rejects_foreign_origins(gateway, tmp_path: Path):
    port = free_port()
    with http_server(gateway.env, port, tmp_path / "mcp-http.log") as url:
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        async with httpx.AsyncClient() as http:
            foreign = await http.post(url, json=request, headers={**headers, "Origin": "http://evil.example"})
            rebound = await http.post(url, json=request, headers={**headers, "Host": "evil.example"})
        assert foreign.status_code == 403
        assert rebound.status_code == 421
        async with Client(url) as client:
            status = await call(client, "gateway_status")
            tools = (await client.list_tools()).tools
    assert status["base_url"] == gateway.base_url and status["authenticated"]
    assert {tool.name for tool in tools} == EXPECTED_TOOLS
    assert gateway.admin_token not in (tmp_path / "mcp-http.log").read_text()


def test_http_transport_refuses_non_loopback_hosts():
    result = subprocess.run(
        [sys.executable, "-m", "tfy_gateway", "mcp", "--transport", "http", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert result.returncode == 2 and "invalid choice" in result.stderr


async def test_local_flag_runs_the_bundled_gateway_in_process(tmp_path: Path):
    async with connect({"TFY_GATEWAY_LOCAL_DATA_DIR": str(tmp_path / "local")}, local=True) as client:
        status = await call(client, "gateway_status")
        assert status["local_gateway"] and status["authenticated"]
        assert status["base_url"].startswith("http://127.0.0.1:")
        plan = await call(client, "gateway_plan", {"yaml_text": LIMITS})
        await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
        config = await call(client, "gateway_get_config", {"config_type": "gateway-rate-limiting-config"})
    assert config["exists"] and config["name"] == "limits"
    # The gateway lived only as long as the server.
    with httpx.Client() as http:
        try:
            http.get(status["base_url"] + "/api/svc/v1/min-cli-version", timeout=10)
            raise AssertionError("the local gateway is still running")
        except httpx.TransportError:
            pass


async def test_local_flag_defers_to_an_explicit_base_url(gateway):
    async with connect(gateway.env, local=True) as client:
        status = await call(client, "gateway_status")
    assert not status["local_gateway"] and status["base_url"] == gateway.base_url


async def test_stdio_local_keeps_stdout_for_the_protocol_only(tmp_path: Path):
    """--local starts a gateway inside the stdio server: any stray print would corrupt the wire."""
    async with Client(stdio_server({}, "--local", "--data-dir", str(tmp_path / "local"))) as client:
        status = await call(client, "gateway_status")
        plan = await call(client, "gateway_plan", {"yaml_text": LIMITS})
        applied = await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
    assert status["local_gateway"] and status["authenticated"]
    assert applied["status"] == "applied"
