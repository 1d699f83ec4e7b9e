"""Fixtures for the alert outbox tests: real receivers, channel settings pointing at them, a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.alerts.receivers import Receiver, SmtpSink
from tfy_gateway.gateway.alerts import Alert, AlertOutbox, Endpoints, ManualClock, RetryPolicy

# Secret values: each must never show up in a log line, an error or an API answer.
WEBHOOK_TOKEN = "T0001/B0002/webhooksecret9f3a"
TEAMS_TOKEN = "teamsSecretSig-77ab"
PD_KEY = "pdroutingkey-0123456789abcdef"
BOT_TOKEN = "xoxb-bot-secret-4242"
SECRETS = (WEBHOOK_TOKEN, TEAMS_TOKEN, PD_KEY, BOT_TOKEN)

RETRY = RetryPolicy(base_s=1.0, max_s=8.0, max_attempts=4)

ALL_TARGETS: list[dict[str, Any]] = [
    {"type": "slack-webhook", "notification_channel": "ops-slack"},
    {"type": "ms-teams-webhook", "notification_channel": "ops-teams"},
    {"type": "pagerduty", "notification_channel": "ops-pd"},
    {"type": "slack-bot", "notification_channel": "ops-bot", "channels": ["#budgets", "#finance"]},
    {"type": "email", "notification_channel": "ops-mail", "to_emails": ["a@example.com", "b@example.com"]},
]


def budget_alert(targets: list[dict[str, Any]], **changes: Any) -> Alert:
    values: dict[str, Any] = {
        "config": "team-budgets",
        "rule_id": "daily-cost",
        "entity": "user user:alice@example.com",
        "period": "day 2026-11-29",
        "threshold": 80,
        "used": 8.125,
        "limit": 10,
        "unit": "cost_per_day",
        "occurred_at": 1_800_000_000.0,
        "targets": targets,
    }
    return Alert(**{**values, **changes})


def channel_environ(receiver: Receiver, smtp: SmtpSink) -> dict[str, str]:
    return {
        "TFY_SECRET_NOTIFY_OPS_SLACK_WEBHOOK_URL": receiver.url(f"/slack/hook/{WEBHOOK_TOKEN}"),
        "TFY_SECRET_NOTIFY_OPS_TEAMS_WEBHOOK_URL": receiver.url(f"/teams/hook?sig={TEAMS_TOKEN}"),
        "TFY_SECRET_NOTIFY_OPS_PD_INTEGRATION_KEY": PD_KEY,
        "TFY_SECRET_NOTIFY_OPS_PD_INTEGRATION_URL": receiver.url("/pd/v2/enqueue"),
        "TFY_SECRET_NOTIFY_OPS_BOT_BOT_TOKEN": BOT_TOKEN,
        "TFY_SECRET_NOTIFY_OPS_BOT_API_URL": receiver.url("/slack/api/chat.postMessage"),
        "TFY_SECRET_NOTIFY_OPS_MAIL_HOST": "127.0.0.1",
        "TFY_SECRET_NOTIFY_OPS_MAIL_PORT": str(smtp.port),
        "TFY_SECRET_NOTIFY_OPS_MAIL_FROM_EMAIL": "gateway@example.com",
        "TFY_SECRET_NOTIFY_OPS_MAIL_TLS": "false",
    }


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def environ(receiver: Receiver, smtp: SmtpSink) -> dict[str, str]:
    return channel_environ(receiver, smtp)


OutboxFactory = Callable[..., AlertOutbox]


@pytest.fixture
async def make_outbox(tmp_path: Path, environ: dict[str, str], clock: ManualClock) -> AsyncIterator[OutboxFactory]:
    """`make_outbox(**overrides)`: an outbox on tmp_path/data (the same dir each call: a restart)."""
    made: list[AlertOutbox] = []

    def make(**overrides: Any) -> AlertOutbox:
        options: dict[str, Any] = {
            "retry": RETRY,
            "endpoints": Endpoints(timeout_s=10.0),
            "clock": clock,
            "environ": environ,
        }
        outbox = AlertOutbox(tmp_path / "data", **{**options, **overrides})
        made.append(outbox)
        return outbox

    yield make
    for outbox in made:
        await outbox.stop()
