"""What each notification target receives for an alert: pure functions from an `Alert` to a payload.

Shapes follow each receiver's documented API (sources in references/local-gateway.md, "Alerts"); the
wording is ours (the platform does not document its alert text).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any

from tfy_gateway.gateway.alerts.alert import Alert

SOURCE = "tfy-gateway"
PAGERDUTY_DEDUP_MAX = 255


def amount(value: float, unit: str) -> str:
    if unit.startswith("cost"):
        return f"${value:,.2f}"
    if unit.startswith("tokens"):
        return f"{value:,.0f} tokens"
    return f"{value:,g}"


def percent(value: float) -> str:
    return f"{value:g}%"


def when(alert: Alert) -> str:
    return datetime.fromtimestamp(alert.occurred_at, tz=timezone.utc).isoformat(timespec="seconds")


def title(alert: Alert) -> str:
    """One line (it is an email subject too): control characters become spaces."""
    who = f" for {alert.entity}" if alert.entity else ""
    line = f"Budget alert: {alert.config}/{alert.rule_id} reached {percent(alert.threshold)}{who}"
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in line)


def text(alert: Alert) -> str:
    """One paragraph that says everything (Slack, email body, PagerDuty summary's long form)."""
    return (
        f"{title(alert)} ({alert.period}): {amount(alert.used, alert.unit)} used of "
        f"{amount(alert.limit, alert.unit)} ({alert.unit})."
    )


def facts(alert: Alert) -> dict[str, str]:
    return {
        "Budget config": alert.config,
        "Rule": alert.rule_id,
        "Applies to": alert.entity or "everyone matching the rule (shared budget)",
        "Period": alert.period,
        "Threshold": percent(alert.threshold),
        "Used": amount(alert.used, alert.unit),
        "Limit": amount(alert.limit, alert.unit),
        "Unit": alert.unit,
        "At": when(alert),
    }


def slack_webhook(alert: Alert) -> dict[str, Any]:
    """Slack incoming webhook: a JSON body with `text`."""
    return {"text": text(alert)}


def slack_bot(alert: Alert, channel: str) -> dict[str, Any]:
    """Slack Web API `chat.postMessage` (the bot token goes in the Authorization header)."""
    return {"channel": channel, "text": text(alert)}


def ms_teams(alert: Alert) -> dict[str, Any]:
    """A Teams webhook message carrying one Adaptive Card (Workflows webhooks and incoming webhooks)."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": title(alert), "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": text(alert), "wrap": True},
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts(alert).items()]},
        ],
    }
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def pagerduty_dedup_key(alert: Alert) -> str:
    """Stable per alert key, so PagerDuty folds a repeated trigger into the same incident."""
    key = f"{SOURCE}/{alert.kind}/{alert.config}/{alert.rule_id}/{alert.entity}/{alert.period}/{alert.threshold:g}"
    if len(key) <= PAGERDUTY_DEDUP_MAX:
        return key
    return f"{SOURCE}/{alert.kind}/{hashlib.sha256(key.encode()).hexdigest()}"


def pagerduty_severity(alert: Alert) -> str:
    return "critical" if alert.threshold >= 100 else "warning"


def pagerduty(alert: Alert, routing_key: str) -> dict[str, Any]:
    """PagerDuty Events API v2 trigger event."""
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": pagerduty_dedup_key(alert),
        "payload": {
            "summary": text(alert)[:1024],
            "source": SOURCE,
            "severity": pagerduty_severity(alert),
            "timestamp": when(alert),
            "component": alert.config,
            "group": alert.rule_id,
            "class": f"{alert.kind}-alert",
            "custom_details": {k: v for k, v in alert.to_json().items() if k != "targets"},
        },
    }


def email(alert: Alert, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = title(alert)
    message["From"] = sender
    message["To"] = recipient
    body = [text(alert), "", *(f"{k}: {v}" for k, v in facts(alert).items())]
    message.set_content("\n".join(body) + "\n")
    return message
