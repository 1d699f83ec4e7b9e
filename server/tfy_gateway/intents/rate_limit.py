"""Rate-limit intent: cap requests or tokens per minute/hour/day for some subjects and models."""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tfy_gateway.intents.base import Findings, check_applies_per, check_models, check_subjects, slug
from tfy_gateway.intents.placement import routed_models
from tfy_gateway.intents.v2 import Version, check_v2, resolved_version, v2_manifest
from tfy_gateway.manifests.limits import RateLimitUnit as RateUnit

RATE_UNITS: list[str] = list(typing.get_args(RateUnit))
RATE_APPLIES_PER = ["user", "virtualaccount", "model"]
RATE_APPLIES_PER_V2 = ["user", "team", "virtualaccount", "model"]  # V2 also counts per team


class RateLimitIntent(BaseModel):
    """Limit `subjects` calling `models` to `limit` per `unit`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["rate_limit"] = "rate_limit"
    subjects: list[str] | None = Field(default=None, description="'*', 'team:<t>', 'user:<email>', ...")
    models: list[str] | None = Field(default=None, description="Catalog model ids; default all models.")
    limit: int | None = Field(default=None, gt=0, description="Requests or tokens allowed per unit.")
    unit: RateUnit | None = Field(default=None, description="e.g. tokens_per_minute (input+output tokens).")
    applies_per: list[str] | None = Field(
        default=None,
        description="Count separately per user, virtualaccount, model or metadata.<key>; [] = shared.",
    )
    metadata: dict[str, str] | None = Field(default=None, description="Only requests with this x-tfy-metadata.")
    rule_id: str | None = None
    config_name: str | None = None
    version: Version | None = Field(
        default=None,
        description="v2 (a tenant-rate-limit-config/model of its own, the default) or v1 (a rule of the "
        "gateway-rate-limiting-config, which the platform retires on 2026-12-15).",
    )


def check_rate_limit(
    intent: RateLimitIntent,
    findings: Findings,
    catalog: Sequence[str] | None,
    routing: Mapping[str, Any] | None = None,
) -> None:
    """Model names may be catalog ids or the aliases live routing rules match (what clients send)."""
    check_subjects(findings, "subjects", intent.subjects, who="the rate limit")
    if intent.models is None:
        findings.default("models", ["*"], "the limit covers every model")
    else:
        check_models(findings, "models", intent.models, catalog, allow_star=True, aliases=routed_models(routing))
    if intent.limit is None:
        findings.ask("limit", "missing", "How many requests or tokens should be allowed per window?", [])
    if intent.unit is None:
        findings.ask(
            "unit",
            "missing",
            "Per what: requests per minute (recommended), tokens per minute, or per hour/day?",
            RATE_UNITS,
            "requests_per_minute",
        )
    check_applies_per(
        findings,
        "applies_per",
        intent.applies_per,
        intent.subjects,
        what="limit",
        allowed=RATE_APPLIES_PER_V2 if rate_limit_version(intent) == "v2" else RATE_APPLIES_PER,
    )
    if intent.rule_id is None:
        findings.default("rule_id", rate_limit_rule_id(intent), "derived from the subjects and models")
    check_v2(findings, "rate_limit", intent.version, intent.applies_per, intent.unit)


def rate_limit_version(intent: RateLimitIntent) -> Version:
    return resolved_version("rate_limit", intent.version, intent.unit)


def rate_limit_rule_id(intent: RateLimitIntent) -> str:
    if intent.rule_id:
        return intent.rule_id
    subjects = ["all" if s == "*" else s for s in intent.subjects or ["all"]]
    models = [m.rsplit("/", 1)[-1] for m in intent.models or [] if m != "*"]
    return slug("limit", *subjects[:2], *models[:2], (intent.unit or "").replace("_per_", "-"))


def rate_limit_context(intent: RateLimitIntent) -> dict[str, Any]:
    models = [m for m in intent.models or [] if m != "*"]
    return {
        "rule_id": rate_limit_rule_id(intent),
        "subjects": intent.subjects,
        "models": models,
        "metadata": intent.metadata,
        "limit": intent.limit,
        "unit": intent.unit,
        "applies_per": intent.applies_per or [],
    }


def rate_limit_v2(intent: RateLimitIntent) -> dict[str, Any]:
    """The intent as one `tenant-rate-limit-config/model` (see intents.v2)."""
    assert intent.limit is not None and intent.unit is not None  # checked complete before rendering
    return v2_manifest(
        "rate_limit",
        name=intent.config_name or rate_limit_rule_id(intent),
        subjects=intent.subjects,
        models=intent.models,
        metadata=intent.metadata,
        limit=intent.limit,
        unit=intent.unit,
        applies_per=intent.applies_per,
    )
