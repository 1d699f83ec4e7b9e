"""`tfy-gateway fake-provider` serves on the requested port until stopped."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.helpers import free_port, wait_until_up
from tfy_gateway.cli.main import main


def test_help_describes_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fake-provider", "--help"])
    assert exit_info.value.code == 0
    assert "--port" in capsys.readouterr().out


def test_require_api_key_without_env_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TFY_FAKE_PROVIDER_API_KEY", raising=False)
    assert main(["fake-provider", "--require-api-key"]) == 2


def test_serves_until_terminated() -> None:
    port = free_port()
    env = {**os.environ, "TFY_FAKE_PROVIDER_API_KEY": "sk-cli-key"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tfy_gateway", "fake-provider", "--port", str(port), "--require-api-key"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with process:  # closes the pipes and reaps the process
        try:
            wait_until_up(f"http://127.0.0.1:{port}/health", process=process)
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            assert httpx.post(url, json=body).status_code == 401
            assert httpx.post(url, json=body, headers={"authorization": "Bearer sk-cli-key"}).status_code == 200
        finally:
            process.terminate()
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise  # it ignored SIGTERM
