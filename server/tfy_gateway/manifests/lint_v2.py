"""Checks beyond the schema for the V2 limit configs (budgets, model and MCP rate limits).

Each finding names what will not behave as written: a filter that matches nothing, a window that can
never be the one that blocks, an override nobody reaches, a subject written in V1's `kind:name` form.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel

from tfy_gateway.manifests.budgets_v2 import BUDGET_PERIODS, BudgetV2Alert, TeamBudgetConfig, TenantBudgetConfig
from tfy_gateway.manifests.filters_v2 import InNotInFilter
from tfy_gateway.manifests.findings import Finding, finding
from tfy_gateway.manifests.rate_limits_mcp import MCP_RATE_WINDOWS, McpRateLimitConfig
from tfy_gateway.manifests.rate_limits_v2 import MODEL_RATE_WINDOWS, ModelRateLimitConfig
from tfy_gateway.manifests.schema_check import did_you_mean

Loc = tuple[str | int, ...]
V2Config = TenantBudgetConfig | TeamBudgetConfig | ModelRateLimitConfig | McpRateLimitConfig

SUBJECT_PREFIXES = {  # V1 prefixes people carry over -> the V2 subjects field they belong under
    "user": "users",
    "team": "teams",
    "virtualaccount": "virtual_accounts",
    "virtual-account": "virtual_accounts",
    "serviceaccount": "virtual_accounts",
}
BUDGET_CHAINS: tuple[tuple[str, ...], ...] = (BUDGET_PERIODS[:4],)


def lint_v2(model: BaseModel) -> list[Finding]:
    """Semantic findings for a schema-valid V2 budget or rate-limit manifest (others: none)."""
    if not isinstance(model, V2Config):
        return []
    is_budget = isinstance(model, TenantBudgetConfig | TeamBudgetConfig)
    chains = BUDGET_CHAINS if is_budget else MODEL_RATE_WINDOWS
    if isinstance(model, McpRateLimitConfig):
        chains = MCP_RATE_WINDOWS
    values = model.limits.model_dump(exclude_none=True)
    findings = [*_limits(values, chains, ("limits",), model.mode, is_budget)]
    if model.when is not None:
        findings += _when(model.when, ("when",))
    findings += _applies_to(model, values, chains, is_budget)
    if model.mode == "audit":
        findings.append(
            finding(
                "warning",
                "audit-mode",
                f"mode audit never blocks: '{model.name}' only records the requests that would exceed it",
                ("mode",),
                hint="switch to mode: enforce once a full period of usage looks right",
            )
        )
    if isinstance(model, TenantBudgetConfig | TeamBudgetConfig) and model.alerts is not None:
        findings += _alerts(model.alerts, ("alerts",))
    return findings


# --- limits -------------------------------------------------------------------------------------


def _limits(
    values: dict[str, Any], chains: Sequence[Sequence[str]], loc: Loc, mode: str, is_budget: bool
) -> Iterator[Finding]:
    what = "period" if is_budget else "window"
    if not values:
        allowed = ", ".join(name for chain in chains for name in chain)
        if is_budget:
            allowed += ", cost_per_lifetime"
        hint = f"set one of {allowed}"
        yield finding("error", "no-limits", f"no {what} is set, so nothing is limited", loc, hint=hint)
        return
    if is_budget and "cost_per_lifetime" in values and len(values) > 1:
        others = ", ".join(name for name in values if name != "cost_per_lifetime")
        yield finding(
            "warning",
            "lifetime-with-periods",
            f"cost_per_lifetime is combined with {others}: the platform SDK (0.6.0) documents the lifetime "
            "limit as mutually exclusive with day/week/month/quarter, so the platform may refuse this",
            (*loc, "cost_per_lifetime"),
            hint="make a separate budget for the lifetime cap",
        )
    for name, value in values.items():
        if value == 0 and mode != "audit":
            yield finding("warning", "zero-limit", f"{name} 0 blocks every matching request", (*loc, name))
    for chain in chains:
        yield from _never_binds(values, chain, loc, what)


def _never_binds(values: dict[str, Any], chain: Sequence[str], loc: Loc, what: str) -> Iterator[Finding]:
    """A shorter window whose limit is above a longer one's is never the one that blocks."""
    for index, shorter in enumerate(chain):
        if shorter not in values:
            continue
        for longer in chain[index + 1 :]:
            if longer in values and values[shorter] > values[longer]:
                yield finding(
                    "warning",
                    "window-never-binds",
                    f"{shorter} {values[shorter]:g} is above {longer} {values[longer]:g}: the {longer} limit "
                    f"always blocks first, so the {shorter} {what} never applies",
                    (*loc, shorter),
                    hint=f"lower {shorter} below {values[longer]:g}, or remove it",
                )
                break


# --- when ---------------------------------------------------------------------------------------


def _when(when: Any, loc: Loc) -> Iterator[Finding]:
    subjects = getattr(when, "subjects", None)
    if subjects is not None:
        for field in type(subjects).model_fields:
            found = getattr(subjects, field)
            if found is not None:
                yield from _filter(found, (*loc, "subjects", field), subject_field=field)
    for field in ("models", "provider_accounts", "mcp_servers"):
        found = getattr(when, field, None)
        if found is not None:
            yield from _filter(found, (*loc, field))
            if field == "models":
                for part, items in (("in", found.in_), ("not_in", found.not_in)):
                    yield from _model_ids(items or [], (*loc, field, part))
    for key, found in (getattr(when, "metadata", None) or {}).items():
        yield from _filter(found, (*loc, "metadata", key))


def _filter(value: InNotInFilter, loc: Loc, subject_field: str | None = None) -> Iterator[Finding]:
    for part, items in (("in", value.in_), ("not_in", value.not_in)):
        if items is None:
            continue
        if not items:
            meaning = "matches nothing or everything depending on the reader" if part == "in" else "excludes nothing"
            yield finding(
                "warning",
                "empty-filter-list",
                f"'{part}' is an empty list, which {meaning}",
                (*loc, part),
                hint=f"remove '{part}' to match every value, or list the values",
            )
        yield from _duplicates(items, (*loc, part))
        for index, item in enumerate(items):
            if item == "*":
                yield finding(
                    "warning",
                    "wildcard-filter",
                    "'*' is not a wildcard in V2 filters; it matches only the literal value '*'",
                    (*loc, part, index),
                    hint=f"remove '{part}' to match every value",
                )
            elif subject_field is not None:
                yield from _subject_value(item, subject_field, (*loc, part, index))
    if value.in_ and value.not_in:
        excluded = sorted(set(value.in_) & set(value.not_in), key=value.in_.index)
        if len(excluded) == len(set(value.in_)):
            yield finding(
                "error",
                "filter-matches-nothing",
                "every value in 'in' is also in 'not_in', so this filter matches no request",
                (*loc, "not_in"),
                hint="remove the values from not_in (or the whole filter)",
            )
        elif excluded:
            yield finding(
                "warning",
                "filter-overlap",
                f"{', '.join(repr(e) for e in excluded)}: in both 'in' and 'not_in'; not_in wins, so never matched",
                (*loc, "not_in"),
            )


def _subject_value(item: str, subject_field: str, loc: Loc) -> Iterator[Finding]:
    """V2 subjects are bare; a `kind:` prefix (V1's form) makes the value match nobody."""
    kind, sep, name = item.partition(":")
    if not sep:
        return
    belongs = SUBJECT_PREFIXES.get(kind)
    if belongs == subject_field:
        yield finding(
            "warning",
            "subject-prefix",
            f"'{item}': values under {subject_field} are bare; write '{name}' without '{kind}:'",
            loc,
            hint="V1 wrote subjects as kind:name; V2 groups them by kind instead",
        )
    elif belongs is not None:
        yield finding(
            "error",
            "subject-kind",
            f"'{item}' is not one of the {subject_field}; list '{name}' under subjects.{belongs}",
            loc,
        )
    else:
        guess = did_you_mean(kind, SUBJECT_PREFIXES)
        yield finding(
            "warning",
            "unknown-subject-prefix",
            f"'{item}' has an unknown prefix '{kind}'"
            + (f" (did you mean '{guess}'?)" if guess else "")
            + f"; values under {subject_field} are bare names",
            loc,
            hint=f"write the bare {subject_field.rstrip('s').replace('_', ' ')} name",
        )


def _model_ids(items: Sequence[str], loc: Loc) -> Iterator[Finding]:
    """Model ids are `<provider-account>/<model>`; a bare `gpt-4o` never equals a requested model id."""
    for index, item in enumerate(items):
        account, sep, model = item.partition("/")
        if item != "*" and not (sep and account and model):
            yield finding(
                "warning",
                "model-format",
                f"'{item}' is not a model id '<provider-account>/<model>', so it matches no request",
                (*loc, index),
                hint="e.g. openai-main/gpt-4o",
            )


def _duplicates(items: Sequence[str], loc: Loc) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item in seen:
            yield finding("warning", "duplicate-value", f"'{item}' is listed twice", (*loc, index))
        seen.setdefault(item, index)


# --- applies_to and overrides -------------------------------------------------------------------


def _applies_to(
    model: V2Config, base: dict[str, Any], chains: Sequence[Sequence[str]], is_budget: bool
) -> Iterator[Finding]:
    applies = model.applies_to
    loc: Loc = ("applies_to",)
    yield from _unreachable_type(model, loc)
    overrides = getattr(applies, "overrides", None) or []
    owner: dict[str, int] = {}
    for index, override in enumerate(overrides):
        where: Loc = (*loc, "overrides", index)
        field = next(name for name in type(override).model_fields if name != "limits")
        entities: list[str] = getattr(override, field)
        values = override.limits.model_dump(exclude_none=True)
        yield from _limits(values, chains, (*where, "limits"), model.mode, is_budget)
        if field == "models":
            yield from _model_ids(entities, (*where, field))
        dropped = [name for name in base if name not in values]
        if values and dropped:
            yield finding(
                "warning",
                "override-drops-limit",
                f"this override sets {', '.join(values)} only, so {', '.join(dropped)} no longer limits "
                f"{', '.join(entities)} (an override replaces all of the rule's limits)",
                (*where, "limits"),
                hint=f"repeat {', '.join(dropped)} in the override to keep them",
            )
        for e_index, entity in enumerate(entities):
            at: Loc = (*where, field, e_index)
            if entity in owner:
                yield finding(
                    "error",
                    "duplicate-override",
                    f"'{entity}' is in overrides[{owner[entity]}] and overrides[{index}]; each entity may have one",
                    at,
                )
                continue
            owner[entity] = index
            if field in SUBJECT_PREFIXES.values():
                yield from _subject_value(entity, field, at)
            excluded = _excluded_by_when(model, field, entity)
            if excluded:
                yield finding(
                    "warning",
                    "override-unreachable",
                    f"the override for '{entity}' never applies: {excluded} excludes it",
                    at,
                )


def _excluded_by_when(model: V2Config, field: str, entity: str) -> str | None:
    """Which `when` filter rules `entity` out, or None when a request from/for it can match."""
    when = model.when
    if when is None:
        return None
    found: InNotInFilter | None
    if field == "metadata_values":
        key = getattr(model.applies_to, "metadata", "")
        found = (getattr(when, "metadata", None) or {}).get(key)
        path = f"when.metadata.{key}"
    elif field == "models":
        found, path = getattr(when, "models", None), "when.models"
    else:
        subjects = getattr(when, "subjects", None)
        found = getattr(subjects, field, None) if subjects is not None else None
        path = f"when.subjects.{field}"
    return path if found is not None and not found.matches([entity]) else None


def _unreachable_type(model: V2Config, loc: Loc) -> Iterator[Finding]:
    """Per-user counters on a rule only virtual accounts match, and the reverse: nothing is counted."""
    subjects = getattr(model.when, "subjects", None) if model.when is not None else None
    if subjects is None:
        return
    users = getattr(subjects, "users", None)
    teams = getattr(subjects, "teams", None)
    accounts = getattr(subjects, "virtual_accounts", None)
    kind = model.applies_to.type
    if kind in ("per-user", "per-team") and users is None and teams is None and accounts and accounts.in_:
        yield finding(
            "warning",
            "applies-to-unreachable",
            f"applies_to {kind} counts per {kind.removeprefix('per-')}, but this rule matches only virtual "
            "accounts, whose requests have none: nothing is counted",
            (*loc, "type"),
            hint="use per-virtual-account, or widen when.subjects",
        )
    if kind == "per-virtual-account" and accounts is None and ((users and users.in_) or (teams and teams.in_)):
        yield finding(
            "warning",
            "applies-to-unreachable",
            "applies_to per-virtual-account counts per virtual account, but this rule matches only users: "
            "nothing is counted",
            (*loc, "type"),
            hint="use per-user, or widen when.subjects",
        )


# --- alerts -------------------------------------------------------------------------------------


def _alerts(alerts: BudgetV2Alert, loc: Loc) -> Iterator[Finding]:
    if not alerts.thresholds:
        yield finding("warning", "alerts-no-thresholds", "no thresholds: no alert is ever sent", (*loc, "thresholds"))
    for index, threshold in enumerate(alerts.thresholds):
        if not 0 <= threshold <= 100:
            yield finding(
                "error",
                "threshold-range",
                f"threshold {threshold:g} is outside 0..100 (percent of each limit)",
                (*loc, "thresholds", index),
            )
    yield from _duplicates([f"{t:g}" for t in alerts.thresholds], (*loc, "thresholds"))
    if not alerts.notification_target:
        yield finding(
            "warning",
            "alerts-no-target",
            "alerts have no notification_target: thresholds are crossed silently",
            (*loc, "notification_target"),
            hint="add an email, slack-webhook, slack-bot, pagerduty or ms-teams-webhook target",
        )
