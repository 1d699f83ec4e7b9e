"""Payload details the receiver tests do not reach: long PagerDuty keys, severity, one-line subjects."""

from __future__ import annotations

from tests.gateway.alerts.conftest import budget_alert
from tfy_gateway.gateway.alerts import messages


def test_a_pagerduty_dedup_key_over_255_characters_is_hashed_and_stays_stable() -> None:
    alert = budget_alert([], entity="metadata.project " + "p" * 300)
    key = messages.pagerduty_dedup_key(alert)
    assert len(key) <= 255 and key.startswith("tfy-gateway/budget/")
    assert key == messages.pagerduty_dedup_key(budget_alert([], entity="metadata.project " + "p" * 300, used=99))
    assert key != messages.pagerduty_dedup_key(budget_alert([], entity="metadata.project " + "q" * 300))


def test_severity_is_critical_from_100_percent() -> None:
    assert messages.pagerduty(budget_alert([], threshold=95), "k")["payload"]["severity"] == "warning"
    assert messages.pagerduty(budget_alert([], threshold=100), "k")["payload"]["severity"] == "critical"


def test_token_units_and_a_shared_counter_read_naturally() -> None:
    alert = budget_alert([], entity="", used=75_000, limit=100_000, unit="tokens_per_month", threshold=75)
    assert messages.text(alert) == (
        "Budget alert: team-budgets/daily-cost reached 75% (day 2026-11-29): "
        "75,000 tokens used of 100,000 tokens (tokens_per_month)."
    )
    assert messages.facts(alert)["Applies to"] == "everyone matching the rule (shared budget)"


def test_the_title_is_one_line() -> None:
    assert "\n" not in messages.title(budget_alert([], entity="user user:a@x.com\nBcc: b@x.com"))
