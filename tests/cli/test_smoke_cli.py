"""`tfy-gateway smoke` as a subprocess against a real gateway and fake provider: exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.helpers import SUBPROCESS_TIMEOUT_S, GatewayProcess, free_port
from tests.platform.test_smoke import start_smoke_gateway
from tfy_gateway.fakeprovider import running

ENV_NAMES = ("TFY_BASE_URL", "TFY_HOST", "TFY_API_HOST", "TFY_API_KEY")
BAD_KEY = "tfy_wrong_cli_smoke_key_" + "q" * 20


def smoke(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    return subprocess.run(
        [sys.executable, "-m", "tfy_gateway", "smoke", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def smoke_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with running() as provider:
        gateway = start_smoke_gateway(tmp_path_factory.mktemp("smoke-cli") / "data", provider)
        try:
            yield gateway
        finally:
            gateway.stop()


def fields(stdout: str) -> dict[str, str]:
    """The `label: value` lines of the text report."""
    return {label: value.strip() for label, _, value in (line.partition(":") for line in stdout.splitlines())}


def test_chat_report(smoke_gateway: GatewayProcess) -> None:
    result = smoke("--model", "chat", "--prompt", "ping", "--metadata", "env=dev", "team=ml", env=smoke_gateway.env)
    assert result.returncode == 0, result.stderr
    report = fields(result.stdout)
    assert report["status"] == "200 ok"
    assert report["model"] == "chat -> fake/gpt-4o"
    assert report["applied"] == "routing rule 'chat-alias' of 'smoke-routing' (weight-based-routing) -> fake/gpt-4o"
    assert report["latency"].endswith(" ms") and "ttft" not in report
    assert report["tokens"].endswith("completion = " + str(1 + 16))
    assert report["cost"].startswith("$0.000")
    assert report["reply"].startswith("Fake reply from gpt-4o: ping")
    assert smoke_gateway.admin_token not in result.stdout + result.stderr


def test_stream_as_json(smoke_gateway: GatewayProcess) -> None:
    result = smoke("--model", "fake/paced", "--stream", "--max-tokens", "4", "--format", "json", env=smoke_gateway.env)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["ok"] and outcome["stream"] and outcome["ttft_ms"] >= 140
    assert outcome["usage"]["completion_tokens"] == 4 and outcome["resolved_model"] == "fake/paced"


def test_embedding(smoke_gateway: GatewayProcess) -> None:
    result = smoke("--model", "fake/embed", "--kind", "embedding", env=smoke_gateway.env)
    assert result.returncode == 0, result.stderr
    assert fields(result.stdout)["reply"].startswith("1 embedding(s) of ")


def test_failures_exit_1_and_never_print_the_key(smoke_gateway: GatewayProcess) -> None:
    unknown = smoke("--model", "fake/nope", env=smoke_gateway.env)
    assert unknown.returncode == 1 and fields(unknown.stdout)["status"] == "404 FAILED"
    assert "fake/nope" in fields(unknown.stdout)["error"] and "status 404" in unknown.stderr

    bad_key = smoke("--model", "fake/gpt-4o", env={**smoke_gateway.env, "TFY_API_KEY": BAD_KEY})
    assert bad_key.returncode == 1 and fields(bad_key.stdout)["status"] == "401 FAILED"
    assert "TFY_API_KEY" in bad_key.stderr and BAD_KEY not in bad_key.stdout + bad_key.stderr

    url = f"http://127.0.0.1:{free_port()}"
    unreachable = smoke("--model", "m", env={"TFY_BASE_URL": url, "TFY_API_KEY": BAD_KEY})
    assert unreachable.returncode == 1 and url in unreachable.stderr and unreachable.stdout == ""
    assert BAD_KEY not in unreachable.stderr


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--model", "m"], {}, "TFY_BASE_URL"),
        (["--model", "m"], {"TFY_BASE_URL": "http://127.0.0.1:1"}, "TFY_API_KEY"),
        (["--model", "m", "--max-tokens", "65"], {}, "between 1 and 64"),
        (["--model", "m", "--metadata", "oops"], {}, "KEY=VALUE"),
        (["--model", "m", "--kind", "image"], {}, "invalid choice"),
    ],
)
def test_usage_errors_exit_2(args: list[str], env: dict[str, str], says: str) -> None:
    result = smoke(*args, env=env)
    assert result.returncode == 2 and says in result.stderr
