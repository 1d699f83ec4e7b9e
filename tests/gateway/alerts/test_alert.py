"""`Alert`: plain data, its dedupe key, and clear errors for values the outbox could not deliver."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.alerts.conftest import ALL_TARGETS, budget_alert
from tfy_gateway.gateway.alerts import Alert, AlertError
from tfy_gateway.gateway.alerts.alert import destinations
from tfy_gateway.manifests.common import SlackBot


def test_the_key_is_config_rule_entity_period_threshold_and_ignores_spend_and_time() -> None:
    first = budget_alert(ALL_TARGETS)
    again = budget_alert([], threshold=80.0, used=9.99, limit=20, occurred_at=1_900_000_000)
    assert (
        first.key == again.key == ("team-budgets", "daily-cost", "user user:alice@example.com", "day 2026-11-29", 80.0)
    )
    assert first.id == again.id and len(first.id) == 16
    for change in ({"threshold": 90}, {"entity": ""}, {"period": "day 2026-11-30"}, {"rule_id": "x"}, {"config": "y"}):
        assert budget_alert([], **change).key != first.key


def test_json_round_trip_keeps_everything() -> None:
    alert = budget_alert(ALL_TARGETS)
    assert Alert.from_json(alert.to_json()) == alert


def test_targets_may_be_manifest_models_and_are_kept_as_plain_dicts() -> None:
    model = SlackBot(type="slack-bot", notification_channel="bot", channels=["#a", "#b", "#a"])
    alert = budget_alert([model])
    assert alert.targets == ({"type": "slack-bot", "notification_channel": "bot", "channels": ["#a", "#b", "#a"]},)
    assert destinations(alert.targets[0]) == ["#a", "#b"]  # each channel once


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"type": "slack", "notification_channel": "c"}, "type 'slack'; allowed: email, slack-webhook, slack-bot"),
        ({"type": "pagerduty"}, "(pagerduty) needs a notification_channel name"),
        ({"type": "email", "notification_channel": "m", "to_emails": []}, "needs a non-empty list to_emails"),
        ({"type": "slack-bot", "notification_channel": "b", "channels": "#a"}, "needs a non-empty list channels"),
        ("slack", "must be a mapping, got str"),
    ],
)
def test_a_target_delivery_could_not_use_is_refused_with_what_is_wrong(target: Any, message: str) -> None:
    with pytest.raises(AlertError, match="notification target #1") as caught:
        budget_alert([target])
    assert message in str(caught.value)


def test_bad_fields_are_named() -> None:
    with pytest.raises(AlertError, match="alert threshold must be a number, got '80'"):
        budget_alert([], threshold="80")
    with pytest.raises(AlertError, match="alert rule_id must be a non-empty string"):
        budget_alert([], rule_id="")
    with pytest.raises(AlertError, match=r"alert kind 'rate' is not supported \(allowed: budget\)"):
        budget_alert([], kind="rate")
