"""A webhook URL's userinfo, secret path segments and query values never reach the alert listing (what
`GET /alerts` answers), the gateway log or `alerts.db`, whatever the receiver echoes or the network does."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.gateway.alerts.conftest import OutboxFactory, budget_alert
from tests.gateway.alerts.receivers import Answer, Receiver
from tests.helpers import free_port
from tfy_gateway.gateway.alerts import ALERTS_FILE, AlertFilter, ManualClock, read_alerts

PASSWORD = "hookP4ssw0rd"
SEGMENT = "PathSecretSeg0042"
QUERY = "QuerySecret7788"
SECRETS = (PASSWORD, SEGMENT, QUERY)


def webhook(origin: str) -> str:
    return f"http://hookuser:{PASSWORD}@{origin}/slack/hook/T0001/{SEGMENT}?token={QUERY}"


async def test_no_part_of_a_webhook_url_reaches_the_listing_the_log_or_the_database(
    make_outbox: OutboxFactory,
    receiver: Receiver,
    environ: dict[str, str],
    clock: ManualClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # The receiver echoes each piece on its own, as a proxy or a framework error page may.
    receiver.answers["/slack/hook/"] = Answer(500, f"no route {SEGMENT} for token={QUERY} user {PASSWORD}".encode())
    environ["TFY_SECRET_NOTIFY_ECHO_WEBHOOK_URL"] = webhook(f"127.0.0.1:{receiver.port}")
    environ["TFY_SECRET_NOTIFY_DOWN_WEBHOOK_URL"] = webhook(f"127.0.0.1:{free_port()}")  # refused
    environ["TFY_SECRET_NOTIFY_TEAMS_WEBHOOK_URL"] = webhook(f"127.0.0.1:{receiver.port}")
    targets = [
        {"type": "slack-webhook", "notification_channel": "echo"},
        {"type": "slack-webhook", "notification_channel": "down"},
        {"type": "ms-teams-webhook", "notification_channel": "teams"},
    ]
    outbox = make_outbox()
    await outbox.start()
    outbox.submit(budget_alert(targets))
    await outbox.settled()
    for delay in (1.0, 2.0, 4.0):
        clock.advance(delay)
        await outbox.settled()
    await outbox.stop()

    items, _ = read_alerts(tmp_path / "data" / ALERTS_FILE, AlertFilter(), limit=10, offset=0)
    errors = [t["last_error"] for t in items[0]["targets"]]
    assert all(error for error in errors), errors
    assert any(f"127.0.0.1:{receiver.port} answered 500" in error for error in errors), errors
    assert any("could not connect to 127.0.0.1:" in error for error in errors), errors
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob(ALERTS_FILE + "*"))
    for secret in SECRETS:
        assert secret not in str(items), secret
        assert secret not in caplog.text, secret
        assert secret.encode() not in stored, secret
    assert "hookuser" not in str(errors) and "hookuser" not in caplog.text
