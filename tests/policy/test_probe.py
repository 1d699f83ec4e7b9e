"""The limits probe against the local gateway with a known config, in virtual time: it finds the limit
and the window within a bucket, sees the sliding window's steps, and never passes its ceiling."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway.inprocess import GATEWAY_URL, running_gateway
from tests.gateway.routing.conftest import Clock
from tests.helpers import EXAMPLES
from tfy_gateway.cli.main import main
from tfy_gateway.gateway.data_plane import DataPlaneOptions
from tfy_gateway.gateway.data_plane.limiting import PolicyLimits
from tfy_gateway.gateway.limits import Limiter, MemoryLimitState
from tfy_gateway.gateway.providers import Transport
from tfy_gateway.policy.config import load_config
from tfy_gateway.policy.expected import expected_request_limit
from tfy_gateway.policy.probe import Prober, format_probe

START = 1_796_083_203.0  # 3 s into a minute: requests do not sit on bucket boundaries
LIMITS = {
    "name": "limits",
    "type": "gateway-rate-limiting-config",
    "rules": [{"id": "everyone", "when": {}, "limit_to": 5, "unit": "requests_per_minute"}],
}


async def probe(tmp_path: Path, *, max_requests: int) -> tuple[Prober, str]:
    clock = Clock(START)

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    def plane(transport: Transport) -> DataPlaneOptions:
        return DataPlaneOptions(limits=PolicyLimits(Limiter(MemoryLimitState(clock), clock=clock)), transport=transport)

    async with running_gateway(tmp_path / "data", data_plane=plane) as gateway:
        await gateway.apply(LIMITS)
        prober = Prober(
            f"{GATEWAY_URL}/api/llm", gateway.token, "openai-main/gpt-4o-mini",
            max_requests=max_requests, max_tokens=4 * max_requests, clock=clock, sleep=sleep, client=gateway.client,
        )  # fmt: skip
        result = await prober.run()
    return prober, format_probe(result, expected=(5, 60.0))


async def test_the_probe_finds_the_limit_and_the_sliding_window_within_a_bucket(tmp_path: Path) -> None:
    prober, text = await probe(tmp_path, max_requests=200)
    result = prober.result
    assert result.limit == 5 and result.declared_limit == 5
    assert result.window_s is not None and 50 <= result.window_s <= 60 + result.resolution_s
    assert result.shape == "sliding" and result.step_s is not None and 10 <= result.step_s <= 10 + result.resolution_s
    assert sum(step.freed for step in result.steps) >= 5
    error = result.retry_after_error_s
    assert error is not None and abs(error) <= result.resolution_s + 1
    assert {"retry-after", "x-ratelimit-limit-requests", "x-ratelimit-reset-requests"} <= set(result.headers)
    assert result.sent <= 200 and result.stopped is None
    assert "the config says: 5 requests per 60 s: limit matches; window matches within a bucket" in text
    print("\n" + text)


async def test_the_probe_stops_at_its_ceiling(tmp_path: Path) -> None:
    prober, text = await probe(tmp_path, max_requests=12)
    assert prober.result.sent == 12 and prober.result.stopped is not None
    assert "stopped early: the announced ceiling (12 requests, 48 tokens) is reached" in text


def test_the_config_side_is_the_limiter_s_own_answer() -> None:
    config = load_config([EXAMPLES / "rate-limits.yaml"])
    assert expected_request_limit(config, "user:bob@example.com", "openai-main/gpt-4o") == (1000, 86_400.0)
    assert expected_request_limit(config, "user:carol@example.com", "openai-main/gpt-4o") == (500, 60.0)
    assert expected_request_limit(config, "user:dev@example.com", "other/model") == (500, 60.0)


def test_probe_cli_usage_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("PROBE_TOKEN", raising=False)
    args = ["probe", "limits", "http://127.0.0.1:9/api/llm", "--model", "m/x", "--token-env", "PROBE_TOKEN"]
    assert main(args) == 2 and "set PROBE_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("PROBE_TOKEN", "tfy_x")
    assert main([*args, "--config", str(EXAMPLES / "rate-limits.yaml")]) == 2
    assert "--config needs --subject" in capsys.readouterr().err
