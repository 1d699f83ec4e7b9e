"""`--against`: a suite's cases sent to a running gateway give the outcomes the simulation gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gateway.inprocess import GATEWAY_URL, running_gateway
from tests.helpers import EXAMPLES
from tfy_gateway.policy.live import LiveError, cannot_run_live, live
from tfy_gateway.policy.runner import run_suite
from tfy_gateway.policy.suite import Suite

SUITE = EXAMPLES / "policy-tests" / "examples.yaml"
LIVE_CASES = ("openai/gpt-4o is split", "team backend", "a project gets", "when OpenAI fails", "everyone else")


def suite(*, keep: tuple[str, ...] = LIVE_CASES) -> Suite:
    data: dict[str, Any] = yaml.safe_load(SUITE.read_text())
    data["cases"] = [c for c in data["cases"] if c["name"].startswith(keep)]
    return Suite.model_validate(data)


async def test_live_cases_pass_against_the_gateway_and_time_moving_ones_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_gateway(tmp_path / "data") as gateway:
        for name in ("routing-weighted.yaml", "rate-limits.yaml", "budgets.yaml"):
            await gateway.apply(yaml.safe_load((EXAMPLES / name).read_text()))
        monkeypatch.setenv("CAROL_TOKEN", await gateway.add_user("carol@example.com"))
        monkeypatch.setenv("DEV_TOKEN", await gateway.add_user("dev@example.com", teams=["backend"]))
        monkeypatch.setenv("BOB_TOKEN", await gateway.add_user("bob@example.com"))
        cases = suite()
        result = await run_suite(cases, live(GATEWAY_URL, cases, client=gateway.client), skip=cannot_run_live)
    outcome = {c.name: ("skip" if c.skipped else "pass" if c.passed else c.failures) for c in result.cases}
    assert outcome == {
        "openai/gpt-4o is split 70/30 between OpenAI and Azure": "pass",
        "when OpenAI fails, Azure serves every request": "skip",
        "team backend shares 20,000 gpt-4o tokens a minute": "pass",
        "everyone else gets 500 requests a minute, and the window slides": "skip",
        "a project gets 50,000 tokens an hour, whoever sends them": "pass",
    }


def test_a_caller_without_a_token_stops_a_live_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEV_TOKEN", raising=False)
    with pytest.raises(LiveError, match="caller 'backend-dev' needs `token_env`"):
        live(GATEWAY_URL, suite(keep=("team backend",)))
