"""Rate-limit and budget intents rendered as V2 manifests, the default (`version: v1` on request).

The platform retires V1 rate limiting (`gateway-rate-limiting-config`) on 2026-12-15, and V2 is the
model it documents for new limits, so an intent renders as V2 unless it asks for V1 or only V1 can
express it (a token budget: V2 budgets cap cost). A V2 manifest is one named rule of its own
(`tenant-rate-limit-config/model`, `tenant-budget-config`), so it is rendered whole, never merged into
a live config. The intent's fields map one to one: subjects `user:`/`team:`/`virtualaccount:` become
the `users`/`teams`/`virtual_accounts` `in` filters (bare names), models and metadata become `in`
filters, `applies_per` becomes `applies_to` (one entry at most), audit becomes `mode: audit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from tfy_gateway.intents.base import Findings
from tfy_gateway.manifests.lint import MIGRATE_COMMAND, V1_RATE_LIMIT_RETIREMENT

Version = Literal["v1", "v2"]

_SUBJECT_KINDS = {"user": "users", "team": "teams", "virtualaccount": "virtual_accounts"}
_RATE_APPLIES = {"user": "per-user", "team": "per-team", "virtualaccount": "per-virtual-account", "model": "per-model"}
_BUDGET_APPLIES = {"user": "per-user", "virtualaccount": "per-virtual-account", "model": "per-model"}


def resolved_version(kind: Literal["rate_limit", "budget"], version: Version | None, unit: str | None) -> Version:
    """The version an intent renders as: the one asked for, else V2 unless only V1 can express it."""
    if version is not None:
        return version
    if kind == "budget" and unit is not None and not unit.startswith("cost_"):
        return "v1"  # V2 budgets cap cost only; a token budget stays a V1 rule
    return "v2"


def check_v2(
    findings: Findings,
    kind: Literal["rate_limit", "budget"],
    version: Version | None,
    applies_per: Sequence[str] | None,
    unit: str | None,
) -> None:
    """Questions a V2 rendering needs answered, and which version was chosen when none was asked for."""
    resolved = resolved_version(kind, version, unit)
    config = "tenant-rate-limit-config/model" if kind == "rate_limit" else "tenant-budget-config"
    v1_note = (
        f" (V1 rate limits retire on {V1_RATE_LIMIT_RETIREMENT}; `{MIGRATE_COMMAND}` moves live ones to V2)"
        if kind == "rate_limit"
        else ""
    )
    if version is None and resolved == "v1":
        findings.default("version", "v1", "V2 budgets cap cost only: a token budget is a V1 gateway-budget-config rule")
        return
    if version is None:
        findings.default(
            "version", "v2", f"rendered as V2: one named {config} (several windows, in/not_in filters); "
            f"version=v1 for a rule of the V1 config{v1_note}",
        )  # fmt: skip
    if resolved != "v2":
        return
    or_v1 = "" if version == "v2" else " (or version=v1)"
    allowed = _RATE_APPLIES if kind == "rate_limit" else _BUDGET_APPLIES
    per = list(applies_per or [])
    if len(per) > 1:
        findings.ask(
            "applies_per", "invalid", f"A V2 rule counts per one dimension only: which one{or_v1}?", per, per[0]
        )
    elif per and per[0] not in allowed and not per[0].startswith("metadata."):
        options = [*allowed, "metadata.<key>", "(shared: none)"]
        findings.ask("applies_per", "invalid", f"V2 cannot count per {per[0]!r}: per what instead{or_v1}?", options)
    if kind == "budget" and unit is not None and not unit.startswith("cost_"):
        findings.ask(
            "unit", "invalid", "V2 budgets cap cost (USD) only: per day, week, month, quarter or lifetime?",
            ["cost_per_month", "cost_per_day", "cost_per_week", "cost_per_quarter", "cost_per_lifetime"],
            "cost_per_month",
        )  # fmt: skip


def v2_manifest(
    kind: Literal["rate_limit", "budget"],
    *,
    name: str,
    subjects: Sequence[str] | None,
    models: Sequence[str] | None,
    metadata: dict[str, str] | None,
    limit: float,
    unit: str,
    applies_per: Sequence[str] | None,
    audit: bool = False,
    alerts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    when: dict[str, Any] = {}
    by_kind: dict[str, list[str]] = {}
    for subject in subjects or []:
        prefix, _, bare = subject.partition(":")
        if subject != "*" and prefix in _SUBJECT_KINDS:
            by_kind.setdefault(_SUBJECT_KINDS[prefix], []).append(bare)
    if by_kind:
        when["subjects"] = {field: {"in": values} for field, values in by_kind.items()}
    named = [model for model in models or [] if model != "*"]
    if named:
        when["models"] = {"in": named}
    if metadata:
        when["metadata"] = {key: {"in": [value]} for key, value in metadata.items()}
    per = applies_per[0] if applies_per else None
    applies_to: dict[str, Any]
    if per is None:
        applies_to = {"type": "aggregate"}
    elif per.startswith("metadata."):
        applies_to = {"type": "metadata", "metadata": per.removeprefix("metadata.")}
    else:
        applies_to = {"type": (_RATE_APPLIES if kind == "rate_limit" else _BUDGET_APPLIES)[per]}
    manifest: dict[str, Any] = {
        "name": name,
        "type": "tenant-rate-limit-config/model" if kind == "rate_limit" else "tenant-budget-config",
    }
    if when:
        manifest["when"] = when
    value: float = int(limit) if float(limit).is_integer() else limit
    manifest["limits"] = {unit: value}
    manifest["applies_to"] = applies_to
    manifest["mode"] = "audit" if audit else "enforce"
    if alerts:
        manifest["alerts"] = alerts
    return manifest
