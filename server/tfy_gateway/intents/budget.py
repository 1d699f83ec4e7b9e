"""Budget intent: cap spend (USD) or tokens per day/week/month/quarter, with optional alerts."""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tfy_gateway.intents.base import Findings, check_applies_per, check_models, check_subjects, slug
from tfy_gateway.intents.placement import routed_models
from tfy_gateway.intents.v2 import Version, check_v2, resolved_version, v2_manifest
from tfy_gateway.manifests.limits import BudgetUnit

BUDGET_UNITS: list[str] = list(typing.get_args(BudgetUnit))
BUDGET_APPLIES_PER = ["user", "team", "virtualaccount", "model"]
DEFAULT_THRESHOLDS = [75, 90, 100]


TargetType = Literal["email", "slack-webhook", "slack-bot", "pagerduty", "ms-teams-webhook"]
TARGET_TYPES: list[str] = list(typing.get_args(TargetType))


class AlertTarget(BaseModel):
    """One notification target, as the platform's budget alerts take them."""

    model_config = ConfigDict(extra="forbid")

    type: TargetType = Field(
        default="email", description="email, slack-webhook, slack-bot, pagerduty, ms-teams-webhook."
    )
    notification_channel: str | None = Field(
        default=None, description="The notification channel (its webhook URL, bot token or key is configured there)."
    )
    to_emails: list[str] | None = Field(default=None, description="email only: who receives the alerts.")
    channels: list[str] | None = Field(default=None, description="slack-bot only: the Slack channels to post in.")


class BudgetAlerts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_emails: list[str] | None = Field(
        default=None, description="Shorthand for one email target: who receives threshold alerts."
    )
    notification_channel: str | None = Field(default=None, description="The shorthand email target's channel name.")
    targets: list[AlertTarget] | None = Field(
        default=None, description="Any targets: email, Slack (webhook or bot), PagerDuty, Microsoft Teams."
    )
    thresholds: list[int] | None = Field(default=None, description="Percent of the budget; default 75/90/100.")


def notification_targets(alerts: BudgetAlerts) -> list[dict[str, Any]]:
    """Every target of `alerts` as manifest objects: the email shorthand first, then `targets`."""
    found: list[dict[str, Any]] = []
    if alerts.to_emails:
        found.append(
            {"type": "email", "notification_channel": alerts.notification_channel, "to_emails": alerts.to_emails}
        )
    for target in alerts.targets or []:
        item: dict[str, Any] = {"type": target.type, "notification_channel": target.notification_channel}
        if target.type == "email":
            item["to_emails"] = target.to_emails
        if target.type == "slack-bot":
            item["channels"] = target.channels
        found.append(item)
    return found


def _check_alerts(findings: Findings, alerts: BudgetAlerts) -> None:
    if not alerts.to_emails and not alerts.targets:
        findings.ask(
            "alerts.targets",
            "missing",
            "Who should get the alerts: emails (recommended), a Slack webhook or bot, PagerDuty, or Microsoft Teams?",
            TARGET_TYPES,
            "email",
        )
    if alerts.to_emails and alerts.notification_channel is None:
        findings.ask(
            "alerts.notification_channel", "missing", "Which email notification channel should send the alerts?", []
        )
    for index, target in enumerate(alerts.targets or []):
        where = f"alerts.targets[{index}]"
        if target.notification_channel is None:
            findings.ask(f"{where}.notification_channel", "missing", f"Which {target.type} notification channel?", [])
        if target.type == "email" and not target.to_emails:
            findings.ask(f"{where}.to_emails", "missing", "Which email addresses should receive the alerts?", [])
        if target.type == "slack-bot" and not target.channels:
            findings.ask(f"{where}.channels", "missing", "Which Slack channels should the bot post in?", [])
        if target.type != "email" and target.to_emails:
            findings.ask(f"{where}.to_emails", "invalid", f"A {target.type} target has no to_emails: remove them?", [])
        if target.type != "slack-bot" and target.channels:
            findings.ask(f"{where}.channels", "invalid", f"A {target.type} target has no channels: remove them?", [])
    if alerts.thresholds is None:
        findings.default("alerts.thresholds", DEFAULT_THRESHOLDS, "alert at 75%, 90% and 100% of the budget")
    elif any(not 0 < t <= 100 for t in alerts.thresholds):
        findings.ask(
            "alerts.thresholds",
            "invalid",
            "Thresholds are percentages between 1 and 100: use 75/90/100 (recommended)?",
            [DEFAULT_THRESHOLDS],
            DEFAULT_THRESHOLDS,
        )


class BudgetIntent(BaseModel):
    """Cap what `subjects` may spend on `models` per `unit`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["budget"] = "budget"
    subjects: list[str] | None = Field(default=None, description="'*', 'team:<t>', 'user:<email>', ...")
    models: list[str] | None = Field(default=None, description="Catalog model ids; default all models.")
    limit: float | None = Field(default=None, gt=0, description="USD for cost_* units, tokens for tokens_*.")
    unit: BudgetUnit | None = None
    applies_per: list[str] | None = Field(
        default=None, description="Separate budget per user, team, virtualaccount, model or metadata.<key>."
    )
    alerts: BudgetAlerts | None = None
    audit_mode: bool | None = Field(default=None, description="Track spend without blocking.")
    metadata: dict[str, str] | None = None
    rule_id: str | None = None
    config_name: str | None = None
    version: Version | None = Field(
        default=None,
        description="v2 (a tenant-budget-config of its own, the default for cost budgets) or v1 (a rule of the "
        "gateway-budget-config; the default for token budgets, which V2 cannot express).",
    )


def check_budget(
    intent: BudgetIntent,
    findings: Findings,
    catalog: Sequence[str] | None,
    routing: Mapping[str, Any] | None = None,
) -> None:
    """Model names may be catalog ids or the aliases live routing rules match (what clients send)."""
    check_subjects(findings, "subjects", intent.subjects, who="the budget")
    if intent.models is None:
        findings.default("models", ["*"], "the budget covers every model")
    else:
        check_models(findings, "models", intent.models, catalog, allow_star=True, aliases=routed_models(routing))
    if intent.limit is None:
        findings.ask("limit", "missing", "How much may be spent per period (USD)?", [])
    if intent.unit is None:
        findings.ask(
            "unit",
            "missing",
            "Per what period: month (recommended), day, week or quarter? (Token budgets are also possible.)",
            ["cost_per_month", *[u for u in BUDGET_UNITS if u != "cost_per_month"]],
            "cost_per_month",
        )
    check_applies_per(
        findings,
        "applies_per",
        intent.applies_per,
        intent.subjects,
        what="budget",
        allowed=BUDGET_APPLIES_PER,
    )
    if intent.alerts is None:
        findings.default("alerts", None, "no alerts: spend is enforced without notifications")
    else:
        _check_alerts(findings, intent.alerts)
    if intent.audit_mode is None:
        findings.default("audit_mode", False, "requests over budget are blocked")
    if intent.rule_id is None:
        findings.default("rule_id", budget_rule_id(intent), "derived from the subjects and period")
    check_v2(findings, "budget", intent.version, intent.applies_per, intent.unit)


def budget_version(intent: BudgetIntent) -> Version:
    return resolved_version("budget", intent.version, intent.unit)


def budget_rule_id(intent: BudgetIntent) -> str:
    if intent.rule_id:
        return intent.rule_id
    subjects = ["all" if s == "*" else s for s in intent.subjects or ["all"]]
    per = [f"per-{p}" for p in intent.applies_per or []]
    return slug("budget", *subjects[:2], *per[:1], (intent.unit or "").replace("_per_", "-"))


def budget_context(intent: BudgetIntent) -> dict[str, Any]:
    alerts = None
    if intent.alerts is not None:
        alerts = {
            "thresholds": intent.alerts.thresholds or DEFAULT_THRESHOLDS,
            "targets": notification_targets(intent.alerts),
        }
    return {
        "rule_id": budget_rule_id(intent),
        "subjects": intent.subjects,
        "models": [m for m in intent.models or [] if m != "*"],
        "metadata": intent.metadata,
        "limit": int(intent.limit) if intent.limit is not None and intent.limit.is_integer() else intent.limit,
        "unit": intent.unit,
        "applies_per": intent.applies_per or [],
        "audit_mode": bool(intent.audit_mode),
        "alerts": alerts,
    }


def budget_v2(intent: BudgetIntent) -> dict[str, Any]:
    """The intent as one `tenant-budget-config` (see intents.v2)."""
    context = budget_context(intent)
    alerts = None
    if context["alerts"] is not None:
        alerts = {"thresholds": context["alerts"]["thresholds"], "notification_target": context["alerts"]["targets"]}
    assert intent.limit is not None and intent.unit is not None  # checked complete before rendering
    return v2_manifest(
        "budget",
        name=intent.config_name or context["rule_id"],
        subjects=intent.subjects,
        models=intent.models,
        metadata=intent.metadata,
        limit=intent.limit,
        unit=intent.unit,
        applies_per=intent.applies_per,
        audit=bool(intent.audit_mode),
        alerts=alerts,
    )
