"""The outbox against real receivers: shapes, exactly-once, retries, restarts, missing settings, secrets."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.alerts.conftest import (
    ALL_TARGETS,
    BOT_TOKEN,
    PD_KEY,
    SECRETS,
    WEBHOOK_TOKEN,
    OutboxFactory,
    budget_alert,
)
from tests.gateway.alerts.receivers import Answer, Receiver, SmtpSink
from tests.helpers import free_port
from tfy_gateway.gateway.alerts import ALERTS_FILE, AlertFilter, ManualClock, read_alerts

SLACK = [{"type": "slack-webhook", "notification_channel": "ops-slack"}]


def listed(data_dir: Path, **where: Any) -> list[dict[str, Any]]:
    items, _ = read_alerts(data_dir / ALERTS_FILE, AlertFilter(**where), limit=100, offset=0)
    return items


async def test_every_target_type_receives_the_alert_once_in_its_documented_shape(
    make_outbox: OutboxFactory, receiver: Receiver, smtp: SmtpSink, clock: ManualClock, tmp_path: Path
) -> None:
    outbox = make_outbox()
    await outbox.start()
    outbox.submit(budget_alert(ALL_TARGETS))
    await outbox.settled()

    [slack] = receiver.at("/slack/hook/")
    assert set(slack.body) == {"text"}
    assert "team-budgets/daily-cost reached 80%" in slack.body["text"]
    assert "user user:alice@example.com" in slack.body["text"] and "$8.12 used of $10.00" in slack.body["text"]

    [teams] = receiver.at("/teams/")
    assert teams.body["type"] == "message"
    [attachment] = teams.body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"]
    assert card["body"][0]["type"] == "TextBlock" and "reached 80%" in card["body"][0]["text"]
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Threshold"] == "80%" and facts["Limit"] == "$10.00" and facts["Period"] == "day 2026-11-29"

    [page] = receiver.at("/pd/")
    assert page.body["routing_key"] == PD_KEY
    assert page.body["event_action"] == "trigger"
    assert (
        page.body["dedup_key"]
        == "tfy-gateway/budget/team-budgets/daily-cost/user user:alice@example.com/day 2026-11-29/80"
    )
    payload = page.body["payload"]
    assert payload["source"] == "tfy-gateway" and payload["severity"] == "warning"
    assert "reached 80%" in payload["summary"]
    assert payload["custom_details"]["rule_id"] == "daily-cost" and payload["custom_details"]["used"] == 8.125

    bot = receiver.at("/slack/api/")
    assert sorted(r.body["channel"] for r in bot) == ["#budgets", "#finance"]
    assert all(r.headers["Authorization"] == f"Bearer {BOT_TOKEN}" for r in bot)
    assert all("reached 80%" in r.body["text"] for r in bot)

    assert sorted(to for _, [to], _ in smtp.messages) == ["a@example.com", "b@example.com"]
    sender, _, message = smtp.messages[0]
    assert sender == "gateway@example.com" and message["From"] == "gateway@example.com"
    assert message["Subject"].startswith("Budget alert: team-budgets/daily-cost reached 80%")
    assert "Used: $8.12" in message.get_content()

    [item] = listed(tmp_path / "data")
    assert item["status"] == "delivered"
    assert len(item["targets"]) == 7 and all(t["status"] == "delivered" and t["attempts"] == 1 for t in item["targets"])

    # Nothing is sent again, however long the worker keeps running.
    clock.advance(10_000)
    outbox.submit(budget_alert(ALL_TARGETS))
    await outbox.settled()
    assert len(receiver.requests) == 5 and len(smtp.messages) == 2


async def test_a_duplicate_submit_is_a_no_op_also_after_a_restart(
    make_outbox: OutboxFactory, receiver: Receiver, tmp_path: Path
) -> None:
    first = make_outbox()
    await first.start()
    first.submit(budget_alert(SLACK))
    first.submit(budget_alert(SLACK, used=9.5, occurred_at=1_800_000_100.0))  # same key: same threshold crossing
    await first.settled()
    await first.stop()

    second = make_outbox()
    await second.start()
    second.submit(budget_alert(SLACK, threshold=80.0))
    await second.settled()
    assert len(receiver.at("/slack/hook/")) == 1

    # Another threshold, entity or period is another alert.
    second.submit(budget_alert(SLACK, threshold=90))
    second.submit(budget_alert(SLACK, entity=""))
    second.submit(budget_alert(SLACK, period="day 2026-11-30"))
    await second.settled()
    assert len(receiver.at("/slack/hook/")) == 4
    assert len(listed(tmp_path / "data")) == 4


async def test_a_receiver_that_is_down_gets_the_alert_once_it_is_back(
    make_outbox: OutboxFactory, environ: dict[str, str], clock: ManualClock, tmp_path: Path
) -> None:
    late = Receiver()  # not started yet: connections are refused
    environ["TFY_SECRET_NOTIFY_LATE_WEBHOOK_URL"] = late.url(f"/slack/hook/{WEBHOOK_TOKEN}")
    outbox = make_outbox()
    await outbox.start()
    outbox.submit(budget_alert([{"type": "slack-webhook", "notification_channel": "late"}]))
    await outbox.settled()

    [item] = listed(tmp_path / "data")
    [target] = item["targets"]
    assert (item["status"], target["status"], target["attempts"]) == ("pending", "pending", 1)
    assert f"could not connect to 127.0.0.1:{late.port}" in target["last_error"]

    clock.advance(1.0)  # the first backoff delay: a second attempt, still refused
    await outbox.settled()
    [target] = listed(tmp_path / "data")[0]["targets"]
    assert (target["status"], target["attempts"]) == ("pending", 2)

    await late.start()
    try:
        clock.advance(1.0)  # not yet due: the second delay is 2 s
        await outbox.settled()
        assert late.requests == []
        clock.advance(1.0)
        await outbox.settled()
        [target] = listed(tmp_path / "data")[0]["targets"]
        assert (target["status"], target["attempts"], target["last_error"]) == ("delivered", 3, None)
        assert len(late.requests) == 1
        clock.advance(100.0)
        await outbox.settled()
        assert len(late.requests) == 1
    finally:
        await late.stop()


async def test_a_restart_delivers_what_was_pending_once_and_never_repeats_a_delivered_alert(
    make_outbox: OutboxFactory, receiver: Receiver, environ: dict[str, str], clock: ManualClock, tmp_path: Path
) -> None:
    late = Receiver()
    environ["TFY_SECRET_NOTIFY_LATE_WEBHOOK_URL"] = late.url("/slack/hook/late")
    first = make_outbox()
    await first.start()
    first.submit(budget_alert(SLACK))
    first.submit(budget_alert([{"type": "slack-webhook", "notification_channel": "late"}], threshold=90))
    await first.settled()
    await first.stop()

    # Submitted and stopped before the worker ran: stop() persists the queue.
    unstarted = make_outbox()
    await unstarted.start()
    unstarted.submit(budget_alert(SLACK, threshold=100))
    await unstarted.stop()
    assert {i["threshold"]: i["status"] for i in listed(tmp_path / "data")} == {
        80.0: "delivered",
        90.0: "pending",
        100.0: "pending",
    }
    assert len(receiver.at("/slack/hook/")) == 1

    await late.start()
    try:
        clock.advance(1.0)
        again = make_outbox()
        await again.start()
        await again.settled()
        assert len(late.requests) == 1
        assert sorted(r.body["text"].split(" reached ")[1][:4] for r in receiver.at("/slack/hook/")) == ["100%", "80% "]
        assert {i["status"] for i in listed(tmp_path / "data")} == {"delivered"}
        await again.stop()

        final = make_outbox()
        await final.start()
        clock.advance(1000.0)
        await final.settled()
        assert len(late.requests) == 1 and len(receiver.at("/slack/hook/")) == 2
    finally:
        await late.stop()


async def test_a_channel_without_settings_fails_with_what_to_set_and_the_worker_goes_on(
    make_outbox: OutboxFactory, receiver: Receiver, clock: ManualClock, tmp_path: Path
) -> None:
    outbox = make_outbox()
    await outbox.start()
    targets = [
        {"type": "slack-webhook", "notification_channel": "nobody"},
        {"type": "pagerduty", "notification_channel": "fixed-later"},
        *SLACK,
    ]
    outbox.submit(budget_alert(targets))
    await outbox.settled()
    nobody, later, slack = listed(tmp_path / "data")[0]["targets"]
    assert slack["status"] == "delivered"
    assert nobody["status"] == "pending" and nobody["attempts"] == 1
    assert "slack-webhook channel 'nobody' is not configured: no webhook_url" in nobody["last_error"]
    assert "TFY_SECRET_NOTIFY_NOBODY_WEBHOOK_URL" in nobody["last_error"]
    assert '{"notify-nobody": {"webhook_url": "..."}}' in nobody["last_error"]
    assert str(tmp_path / "data" / "secrets.json") in nobody["last_error"]
    assert "TFY_SECRET_NOTIFY_FIXED_LATER_INTEGRATION_KEY" in later["last_error"]

    # The secrets file is read again for each round: fixing it needs no restart.
    (tmp_path / "data" / "secrets.json").write_text(
        json.dumps({"notify-fixed-later": {"integration_key": PD_KEY, "integration_url": receiver.url("/pd/enqueue")}})
    )
    for delay in (1.0, 2.0, 4.0):
        clock.advance(delay)
        await outbox.settled()
    item = listed(tmp_path / "data")[0]
    nobody, later, slack = item["targets"]
    assert later["status"] == "delivered" and len(receiver.at("/pd/")) == 1
    assert (nobody["status"], nobody["attempts"], nobody["next_attempt_at"]) == ("failed", 4, None)
    assert item["status"] == "failed"
    assert listed(tmp_path / "data", status="failed")[0]["id"] == item["id"]
    assert listed(tmp_path / "data", status="pending") == []


async def test_no_secret_reaches_a_log_line_an_error_or_the_listing(
    make_outbox: OutboxFactory,
    receiver: Receiver,
    environ: dict[str, str],
    clock: ManualClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = f"bad request for {receiver.url('/slack/hook/' + WEBHOOK_TOKEN)} key {PD_KEY}".encode()
    receiver.answers["/slack/hook/"] = Answer(500, echo)
    receiver.answers["/teams/"] = Answer(302, b"", "text/plain")  # a redirect is not followed
    receiver.answers["/pd/"] = Answer(400, f'{{"status": "invalid event", "routing_key": "{PD_KEY}"}}'.encode())
    receiver.answers["/slack/api"] = Answer(200, f'{{"ok": false, "error": "invalid_auth {BOT_TOKEN}"}}'.encode())
    closed_port = free_port()
    environ["TFY_SECRET_NOTIFY_OPS_MAIL_PORT"] = str(closed_port)  # nothing listens there
    outbox = make_outbox()
    await outbox.start()
    outbox.submit(budget_alert(ALL_TARGETS))
    await outbox.settled()
    for delay in (1.0, 2.0, 4.0):
        clock.advance(delay)
        await outbox.settled()

    [item] = listed(tmp_path / "data")
    assert item["status"] == "failed" and all(t["status"] == "failed" for t in item["targets"])
    errors = {t["type"]: t["last_error"] for t in item["targets"]}
    assert errors["slack-webhook"].startswith(f"127.0.0.1:{receiver.port} answered 500: bad request for")
    assert errors["ms-teams-webhook"] == f"127.0.0.1:{receiver.port} answered 302"
    assert "answered 400" in errors["pagerduty"]
    assert errors["slack-bot"] == "Slack refused the message: invalid_auth ***"
    assert errors["email"].startswith(f"SMTP 127.0.0.1:{closed_port}: ConnectionRefusedError")
    answer = json.dumps(item)
    assert "failed after 4 attempt(s)" in caplog.text
    for secret in SECRETS:
        assert secret not in caplog.text, secret
        assert secret not in answer, secret


async def test_alerts_db_is_private(make_outbox: OutboxFactory, tmp_path: Path) -> None:
    outbox = make_outbox()
    await outbox.start()
    outbox.submit(budget_alert([]))
    await outbox.settled()
    assert stat.S_IMODE(os.stat(tmp_path / "data" / ALERTS_FILE).st_mode) == 0o600
    [item] = listed(tmp_path / "data")
    assert (item["status"], item["targets"]) == ("recorded", [])


async def test_a_recipient_the_email_package_refuses_fails_that_delivery_only(
    make_outbox: OutboxFactory, smtp: SmtpSink, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = make_outbox()
    await outbox.start()
    recipients = ["ok@example.com", "evil@example.com\nBcc: all@example.com"]
    outbox.submit(budget_alert([{"type": "email", "notification_channel": "ops-mail", "to_emails": recipients}]))
    await outbox.settled()
    bad, good = listed(tmp_path / "data")[0]["targets"]  # ordered by destination
    assert good["status"] == "delivered" and [to for _, to, _ in smtp.messages] == [["ok@example.com"]]
    assert bad["status"] == "pending"
    assert bad["last_error"].startswith("email channel 'ops-mail': cannot build the message: ")
    assert "(evil@example.com\\nBcc" in caplog.text  # one log line per event, even with a line break in a name
