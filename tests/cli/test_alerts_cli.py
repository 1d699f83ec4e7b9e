"""`tfy-gateway alerts`: the control plane's alert listing as a table or JSON, against a real server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.alerts.conftest import WEBHOOK_TOKEN, budget_alert
from tests.gateway.alerts.receivers import Receiver
from tests.helpers import ServerThread, free_port
from tfy_gateway.cli.main import main
from tfy_gateway.gateway import GatewaySettings, create_app
from tfy_gateway.gateway.alerts import AlertOutbox, ManualClock, RetryPolicy

TOKEN = "tfy_alerts_cli_admin_" + "b" * 24
ENV_NAMES = ("TFY_BASE_URL", "TFY_HOST", "TFY_API_HOST", "TFY_API_KEY")


async def record_alerts(data_dir: Path) -> None:
    """Two alerts in alerts.db: one delivered to a real receiver, one failed (its channel is not set)."""
    receiver = Receiver()
    await receiver.start()
    environ = {"TFY_SECRET_NOTIFY_OPS_WEBHOOK_URL": receiver.url(f"/slack/hook/{WEBHOOK_TOKEN}")}
    outbox = AlertOutbox(data_dir, retry=RetryPolicy(max_attempts=1), clock=ManualClock(), environ=environ)
    try:
        async with outbox:
            outbox.submit(budget_alert([{"type": "slack-webhook", "notification_channel": "ops"}]))
            outbox.submit(
                budget_alert(
                    [{"type": "email", "notification_channel": "mail", "to_emails": ["fin@example.com"]}],
                    threshold=100,
                    entity="",
                    used=150_000,
                    limit=150_000,
                    unit="tokens_per_month",
                    period="month 2027-01",
                    occurred_at=1_800_000_060,
                )
            )
            await outbox.settled()
    finally:
        await receiver.stop()
    assert len(receiver.requests) == 1


@pytest.fixture
def control_plane_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    data_dir = tmp_path / "data"
    asyncio.run(record_alerts(data_dir))
    settings = GatewaySettings(data_dir=data_dir, admin_token=TOKEN, watch_interval_s=0)
    with ServerThread(create_app(settings)) as server:
        for name in ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("TFY_BASE_URL", server.base_url)
        monkeypatch.setenv("TFY_API_KEY", TOKEN)
        yield server.base_url


def test_the_table_shows_each_alert_and_where_it_went(
    control_plane_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "time",
        "status",
        "budget",
        "entity",
        "period",
        "threshold",
        "used/limit",
        "targets",
        "last",
        "error",
    ]
    newest, oldest = lines[1], lines[2]
    assert newest.startswith("2027-01-15 08:01:00  failed ")
    assert "team-budgets/daily-cost  (shared)" in newest and "month 2027-01" in newest and "100%" in newest
    assert "150,000/150,000" in newest and "email:mail/fin@example.com failed(1)" in newest
    assert "TFY_SECRET_NOTIFY_MAIL_HOST" in newest  # the last error says what to set
    assert oldest.startswith("2027-01-15 08:00:00  delivered")
    assert "user user:alice@example.com" in oldest and "$8.12/$10.00" in oldest
    assert "slack-webhook:ops delivered" in oldest


def test_json_and_filters(control_plane_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "--json", "--status", "delivered"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["pagination"]["total"] == 1
    [item] = body["data"]
    assert item["status"] == "delivered" and item["targets"][0]["status"] == "delivered"
    assert WEBHOOK_TOKEN not in json.dumps(body)

    assert main(["alerts", "--rule", "no-such-rule"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no budget alerts match" in captured.err
    assert main(["alerts", "--limit", "1"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2 and "(1 of 2; use --limit or filters)" in captured.err


def test_bad_input_and_a_rejected_key_are_explained(
    control_plane_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["alerts", "--limit", "0"]) == 2
    assert "--limit must be between 1 and 1000, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["alerts", "--status", "sent"])
    assert exited.value.code == 2
    assert "invalid choice: 'sent'" in capsys.readouterr().err
    monkeypatch.setenv("TFY_API_KEY", "tfy_not_a_known_token_000000")
    assert main(["alerts"]) == 1
    assert "rejected TFY_API_KEY (401)" in capsys.readouterr().err


def test_an_unreachable_control_plane_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TFY_BASE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("TFY_API_KEY", TOKEN)
    assert main(["alerts"]) == 1
    assert "could not reach the control plane" in capsys.readouterr().err
