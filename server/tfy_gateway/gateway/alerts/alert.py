"""`Alert`: one threshold crossing of a budget, as plain data the outbox can persist and deliver.

Budget enforcement builds one when a rule's spend crosses one of its alert thresholds and hands it to
`AlertOutbox.submit`. Its dedupe key (config, rule, entity, period, threshold) makes each threshold fire
once per period per entity, however many requests cross it. Targets are the rule's
`alerts.notification_target` entries as plain dicts (a manifest model's `model_dump()`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tfy_gateway.gateway.errors import ConfigError

TARGET_TYPES = ("email", "slack-webhook", "slack-bot", "pagerduty", "ms-teams-webhook")
KINDS = ("budget",)

AlertKey = tuple[str, str, str, str, float]


class AlertError(ConfigError, ValueError):
    """An `Alert` was built from values the outbox cannot deliver; the message says which and why."""


@dataclass(frozen=True)
class Alert:
    """A threshold crossing: `used` of `limit` (in `unit`) reached `threshold` percent.

    `entity` names whose counter crossed ("user user:a@x.com", or "" for a rule's shared counter);
    `period` names the budget window ("day 2026-11-29", "month 2026-11", "lifetime"); `occurred_at`
    is epoch seconds (UTC).
    """

    config: str
    rule_id: str
    entity: str
    period: str
    threshold: float
    used: float
    limit: float
    unit: str
    occurred_at: float
    targets: tuple[Mapping[str, Any], ...] = field(default=())
    kind: str = "budget"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise AlertError(f"alert kind {self.kind!r} is not supported (allowed: {', '.join(KINDS)})")
        for name in ("config", "rule_id", "period", "unit"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise AlertError(f"alert {name} must be a non-empty string, got {value!r}")
        if not isinstance(self.entity, str):
            raise AlertError(f"alert entity must be a string ('' for a rule's shared counter), got {self.entity!r}")
        for name in ("threshold", "used", "limit", "occurred_at"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise AlertError(f"alert {name} must be a number, got {value!r}")
            object.__setattr__(self, name, float(value))
        object.__setattr__(self, "targets", tuple(_target(t, i) for i, t in enumerate(self.targets)))

    @property
    def key(self) -> AlertKey:
        """What makes two alerts the same: one delivery per threshold, period and entity of a rule."""
        return (self.config, self.rule_id, self.entity, self.period, self.threshold)

    @property
    def key_text(self) -> str:
        """The key as stored (a JSON array, so no separator can make two keys collide)."""
        return orjson.dumps(list(self.key)).decode()

    @property
    def id(self) -> str:
        """A short stable id derived from the key (the same across restarts and processes)."""
        return hashlib.sha256(self.key_text.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "config": self.config,
            "rule_id": self.rule_id,
            "entity": self.entity,
            "period": self.period,
            "threshold": self.threshold,
            "used": self.used,
            "limit": self.limit,
            "unit": self.unit,
            "occurred_at": self.occurred_at,
            "targets": [dict(t) for t in self.targets],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Alert:
        values = dict(data)
        values["targets"] = tuple(values.get("targets") or ())
        return cls(**values)


def _target(target: Any, index: int) -> dict[str, Any]:
    """A notification target as a plain dict, checked for what delivery needs."""
    if hasattr(target, "model_dump"):
        target = target.model_dump(exclude_none=True)
    if not isinstance(target, Mapping):
        raise AlertError(f"notification target #{index + 1} must be a mapping, got {type(target).__name__}")
    data = dict(target)
    kind = data.get("type")
    if kind not in TARGET_TYPES:
        raise AlertError(f"notification target #{index + 1} has type {kind!r}; allowed: {', '.join(TARGET_TYPES)}")
    channel = data.get("notification_channel")
    if not isinstance(channel, str) or not channel:
        raise AlertError(f"notification target #{index + 1} ({kind}) needs a notification_channel name")
    listed = {"email": "to_emails", "slack-bot": "channels"}.get(kind)
    if listed is not None:
        values = data.get(listed)
        if not isinstance(values, Sequence) or isinstance(values, str) or not values:
            raise AlertError(f"notification target #{index + 1} ({kind}) needs a non-empty list {listed}")
        if not all(isinstance(v, str) and v for v in values):
            raise AlertError(f"notification target #{index + 1} ({kind}): every entry of {listed} must be a string")
        data[listed] = list(values)
    return data


def destinations(target: Mapping[str, Any]) -> list[str]:
    """Where one target sends, each delivered (and retried) on its own: an email per recipient and a
    Slack message per channel, so a retry never repeats a message that already went out."""
    if target["type"] == "email":
        return list(dict.fromkeys(target["to_emails"]))
    if target["type"] == "slack-bot":
        return list(dict.fromkeys(target["channels"]))
    return [""]
