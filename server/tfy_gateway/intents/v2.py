"""Rate-limit and budget intents rendered as V2 manifests (`version: v2`).

V1 (`gateway-rate-limiting-config`, `gateway-budget-config`) is the default, since it is what most
tenants run today; the platform retires V1 rate limiting on 2026-12-15, so the checkers mention V2.
A V2 manifest is one named rule of its own (`tenant-rate-limit-config/model`,
`tenant-budget-config`), so it is rendered whole, never merged into a live config. The intent's
fields map one to one: subjects `user:`/`team:`/`virtualaccount:` become the `users`/`teams`/
`virtual_accounts` `in` filters (bare names), models and metadata become `in` filters, `applies_per`
becomes `applies_to` (one entry at most), audit becomes `mode: audit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from tfy_gateway.intents.base import Findings

Version = Literal["v1", "v2"]

_SUBJECT_KINDS = {"user": "users", "team": "teams", "virtualaccount": "virtual_accounts"}
_RATE_APPLIES = {"user": "per-user", "team": "per-team", "virtualaccount": "per-virtual-account", "model": "per-model"}
_BUDGET_APPLIES = {"user": "per-user", "virtualaccount": "per-virtual-account", "model": "per-model"}


def check_v2(
    findings: Findings,
    kind: Literal["rate_limit", "budget"],
    version: Version | None,
    applies_per: Sequence[str] | None,
    unit: str | None,
) -> None:
    """Questions a V2 rendering needs answered; the default version is V1, said as a default."""
    if version is None:
        findings.default(
            "version", "v1", "rendered as V1; V2 (one named rule, several windows, in/not_in filters) with version=v2"
        )
        return
    if version != "v2":
        return
    allowed = _RATE_APPLIES if kind == "rate_limit" else _BUDGET_APPLIES
    per = list(applies_per or [])
    if len(per) > 1:
        findings.ask("applies_per", "invalid", "A V2 rule counts per one dimension only: which one?", per, per[0])
    elif per and per[0] not in allowed and not per[0].startswith("metadata."):
        options = [*allowed, "metadata.<key>", "(shared: none)"]
        findings.ask("applies_per", "invalid", f"V2 cannot count per {per[0]!r}: per what instead?", options)
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
