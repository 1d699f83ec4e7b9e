"""Route intent: send a requested model name to one or more targets (weighted, latency or priority)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tfy_gateway.intents.base import Findings, check_models, slug

Strategy = Literal["weight", "latency", "priority"]
ROUTING_TYPES: dict[str, str] = {
    "weight": "weight-based-routing",
    "latency": "latency-based-routing",
    "priority": "priority-based-routing",
}
DEFAULT_FALLBACK_CODES = ["401", "403", "404", "429", "500", "502", "503"]
DEFAULT_RETRY_CODES = ["429", "500", "502", "503"]
STRATEGY_QUESTION = (
    "How should traffic be split: by fixed weights (recommended), to the lowest-latency target, "
    "or by priority order (first healthy target, the rest as fallbacks)?"
)


class RouteTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(description="Catalog model id '<provider-account>/<model>', e.g. 'azure-backup/gpt-4o'.")
    weight: int | None = Field(default=None, ge=0, le=100, description="Share of traffic (weight routing).")
    priority: int | None = Field(default=None, ge=0, description="0 = tried first (priority routing).")


class RetryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=2, ge=0, le=10, description="Retries on the same target.")
    delay_ms: int = Field(default=100, ge=0, le=60_000)
    on_status_codes: list[str] = Field(default_factory=lambda: list(DEFAULT_RETRY_CODES))


class StickyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="Header or metadata key identifying a session, e.g. 'x-user-id'.")
    source: Literal["headers", "metadata"] = "headers"
    ttl_seconds: int = Field(default=3600, gt=0)


class RouteIntent(BaseModel):
    """Route requests for `model` to `targets`; omitted fields are reported by `check_intent`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["route"] = "route"
    model: str | None = Field(default=None, description="Model name clients request, e.g. 'openai/gpt-4o'.")
    strategy: Strategy | None = Field(default=None, description="weight, latency or priority.")
    targets: list[RouteTarget] | None = Field(default=None, description="Where requests go.")
    subjects: list[str] | None = Field(default=None, description="Who the route applies to; default '*'.")
    metadata: dict[str, str] | None = Field(default=None, description="Only requests with this x-tfy-metadata.")
    retries: RetryOptions | None = Field(default=None, description="Retry on the same target before fallback.")
    fallback: bool | None = Field(default=None, description="Targets may serve as fallbacks (default true).")
    fallback_status_codes: list[str] | None = Field(default=None, description="Statuses that trigger fallback.")
    sticky: StickyOptions | None = Field(default=None, description="Pin a session to a target (weight only).")
    rule_id: str | None = Field(default=None, description="Rule id; derived from the model when omitted.")
    config_name: str | None = Field(default=None, description="Config name; the live config's name is kept.")


def check_route(intent: RouteIntent, findings: Findings, catalog: Sequence[str] | None) -> None:
    if not intent.model:
        findings.ask(
            "model",
            "missing",
            "Which model name will clients send in requests (e.g. 'openai/gpt-4o')?",
            sorted(catalog or [])[:10],
        )
    targets = intent.targets or []
    if not targets:
        findings.ask(
            "targets",
            "missing",
            "Which models should serve these requests ('<provider-account>/<model>', one or more)?",
            sorted(catalog or [])[:10],
        )
    check_models(findings, "targets", [t.target for t in targets], catalog, allow_star=False)
    strategy = _strategy(intent, findings)
    if strategy == "weight":
        _check_weights(targets, findings)
    elif strategy is not None:
        for index, target in enumerate(targets):
            if target.weight is not None:
                findings.ask(
                    f"targets[{index}].weight",
                    "invalid",
                    f"Weights only apply to weight routing, not {strategy}. Switch to weight routing?",
                    ["weight", strategy],
                    "weight",
                )
                break
    if strategy == "priority" and targets and any(t.priority is None for t in targets):
        findings.default("targets[].priority", list(range(len(targets))), "priority follows the list order")
    if strategy == "latency" and any(t.priority is not None for t in targets):
        findings.ask(
            "targets[].priority",
            "invalid",
            "Priorities only apply to priority routing. Switch to priority routing?",
            ["priority", "latency"],
            "priority",
        )
    if intent.sticky is not None and strategy not in (None, "weight"):
        findings.ask(
            "sticky",
            "invalid",
            f"Sticky sessions need weight routing, not {strategy} routing. Use weight routing?",
            ["weight", strategy],
            "weight",
        )
    if intent.subjects is None:
        findings.default("subjects", ["*"], "the route applies to every caller")
    if intent.retries is None:
        findings.default("retries", None, "no retry_config: the gateway default (2 attempts, 100 ms) applies")
    if intent.fallback is None:
        findings.default("fallback", True, "every target may serve as a fallback for the others")
    if intent.fallback_status_codes is None:
        findings.default("fallback_status_codes", DEFAULT_FALLBACK_CODES, "gateway default fallback statuses")
    if intent.rule_id is None and intent.model:
        findings.default("rule_id", route_rule_id(intent), "derived from the model name")


def _strategy(intent: RouteIntent, findings: Findings) -> Strategy | None:
    if intent.strategy is not None:
        return intent.strategy
    targets = intent.targets or []
    if len(targets) == 1:
        findings.default("strategy", "weight", "a single target takes all traffic (weight 100)")
        return "weight"
    weights = any(t.weight is not None for t in targets)
    priorities = any(t.priority is not None for t in targets)
    if weights and not priorities:
        findings.default("strategy", "weight", "weights were given")
        return "weight"
    if priorities and not weights:
        findings.default("strategy", "priority", "priorities were given")
        return "priority"
    findings.ask("strategy", "missing", STRATEGY_QUESTION, ["weight", "latency", "priority"], "weight")
    return None


def _check_weights(targets: list[RouteTarget], findings: Findings) -> None:
    if not targets:
        return
    if len(targets) == 1 and targets[0].weight is None:
        findings.default("targets[0].weight", 100, "the only target takes all traffic")
        return
    given = [t.weight for t in targets if t.weight is not None]
    missing = [i for i, t in enumerate(targets) if t.weight is None]
    if missing:
        rest = 100 - sum(given)
        share = max(rest, 0) // len(missing)
        proposal = [t.weight if t.weight is not None else share for t in targets]
        proposal[missing[-1]] += max(rest, 0) - share * len(missing)
        split = "/".join(str(w) for w in proposal)
        findings.ask(
            f"targets[{missing[0]}].weight",
            "missing",
            f"What traffic split should the targets get: {split} (recommended) or another adding up to 100?",
            [proposal],
            proposal,
        )
        return
    total = sum(given)
    if total != 100:
        proposal = _normalise(given)
        findings.ask(
            "targets[].weight",
            "invalid",
            f"Weights must add up to 100 (they add up to {total}). Use "
            f"{'/'.join(map(str, proposal))} (recommended) or another split?",
            [proposal],
            proposal,
        )


def _normalise(weights: list[int]) -> list[int]:
    total = sum(weights) or len(weights)
    scaled = [w * 100 // total if sum(weights) else 100 // len(weights) for w in weights]
    scaled[-1] += 100 - sum(scaled)
    return scaled


def route_rule_id(intent: RouteIntent) -> str:
    return intent.rule_id or slug("route", intent.model or "")


def route_context(intent: RouteIntent) -> dict[str, Any]:
    """Template variables for a complete route intent (defaults applied as reported by the check)."""
    targets = intent.targets or []
    priorities = any(t.priority is not None for t in targets)
    weights = any(t.weight is not None for t in targets)
    strategy = intent.strategy or ("priority" if priorities and not weights else "weight")
    if strategy == "weight" and len(targets) == 1 and targets[0].weight is None:
        targets = [targets[0].model_copy(update={"weight": 100})]
    rendered_targets = []
    for index, target in enumerate(targets):
        entry: dict[str, Any] = {"target": target.target, "weight": None, "priority": None}
        if strategy == "weight":
            entry["weight"] = target.weight
        if strategy == "priority":
            entry["priority"] = target.priority if target.priority is not None else index
        rendered_targets.append(entry)
    return {
        "routing_type": ROUTING_TYPES[strategy],
        "rule_id": route_rule_id(intent),
        "subjects": intent.subjects if intent.subjects is not None else ["*"],
        "model": intent.model,
        "metadata": intent.metadata,
        "sticky": intent.sticky.model_dump() if intent.sticky else None,
        "targets": rendered_targets,
        "fallback": intent.fallback if intent.fallback is not None else True,
        "fallback_status_codes": intent.fallback_status_codes,
        "retries": intent.retries.model_dump() if intent.retries else None,
    }
