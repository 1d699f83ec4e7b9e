"""What a verification states before sending: small prompts, an upper bound, and no attempt it cannot finish."""

from __future__ import annotations

import pytest

from tfy_gateway.intents import BudgetIntent, RateLimitIntent, RouteIntent
from tfy_gateway.mcp.verify_spend import MAX_REQUESTS, SMALL_PROMPT, CannotReach, spend_for, statement


def test_a_request_limit_takes_one_more_request_than_it_allows() -> None:
    intent = RateLimitIntent(subjects=["team:backend"], limit=3, unit="requests_per_minute", applies_per=[])
    spend = spend_for(intent, requests=None, max_tokens=16, caller="someone")
    assert spend.requests == 4 and spend.prompt == SMALL_PROMPT and spend.tokens == 4 * (3 + 16)
    assert "shared" in spend.effects and "minute window" in spend.effects
    assert "up to 4 request(s)" in statement(spend, "m") and "confirm=true" in statement(spend, "m")


def test_a_token_limit_fills_in_about_a_hundred_small_requests() -> None:
    intent = RateLimitIntent(subjects=["*"], limit=20_000, unit="tokens_per_minute")
    spend = spend_for(intent, requests=None, max_tokens=16, caller="someone")
    assert len(spend.prompt) <= 1000 and spend.max_tokens == 64
    assert 90 <= spend.requests <= 110
    assert spend.tokens == spend.requests * (len(spend.prompt) // 4 + 64)  # the bound: every request at its cap


def test_a_limit_beyond_the_requests_a_check_may_send_is_refused_before_sending() -> None:
    with pytest.raises(CannotReach, match=f"more than the {MAX_REQUESTS}"):
        spend_for(RateLimitIntent(limit=5000, unit="requests_per_minute"), requests=None, max_tokens=16, caller="x")


def test_routes_and_budgets() -> None:
    assert spend_for(RouteIntent(model="m"), requests=None, max_tokens=16, caller="x").requests == 100
    assert spend_for(RouteIntent(model="m"), requests=40, max_tokens=16, caller="x").requests == 40
    assert spend_for(BudgetIntent(limit=5, unit="cost_per_day"), requests=None, max_tokens=16, caller="x").requests == 1
