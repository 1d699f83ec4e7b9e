"""Route intent: send a requested model name to one or more targets (weighted, latency or priority)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tfy_gateway.intents.base import Findings, check_models, slug
from tfy_gateway.intents.placement import Placement, place_route, rule_targets

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


def check_route(
    intent: RouteIntent,
    findings: Findings,
    catalog: Sequence[str] | None,
    routing: Mapping[str, Any] | None = None,
) -> None:
    """`routing` is the live load-balancing config: it decides where the rule goes and what to recommend."""
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
        _check_weights(intent, findings, catalog, routing)
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
    if intent.model:
        placement = route_placement(intent, routing)
        if placement.existing is not None or intent.rule_id is None:
            findings.default("rule_id", placement.rule_id, placement.note(intent.model))


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


def _check_weights(
    intent: RouteIntent,
    findings: Findings,
    catalog: Sequence[str] | None,
    routing: Mapping[str, Any] | None,
) -> None:
    targets = intent.targets or []
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
    if total < 100:
        _ask_for_the_rest(intent, findings, catalog, routing, 100 - total)
    elif total > 100:
        proposal = _normalise(given)
        findings.ask(
            "targets[].weight",
            "invalid",
            f"Weights must add up to 100 (they add up to {total}). Use "
            f"{'/'.join(map(str, proposal))} (the same proportions, recommended) or another split?",
            [proposal],
            proposal,
        )


def _ask_for_the_rest(
    intent: RouteIntent,
    findings: Findings,
    catalog: Sequence[str] | None,
    routing: Mapping[str, Any] | None,
    rest: int,
) -> None:
    """ "30% to Azure" says nothing about the other 70%: ask, never scale 30 up to 100.

    The recommendation keeps today's behaviour for the rest: the targets of the live rule that
    routes this model now (in their current proportions), or the model itself when clients call a
    catalog model directly. Without either, nothing is recommended.
    """
    given = [t.model_dump(exclude_none=True) for t in intent.targets or []]
    named = {t["target"] for t in given}
    model = intent.model or ""
    placement = route_placement(intent, routing) if model else None
    current: list[dict[str, Any]] = []
    if placement is not None and placement.existing is not None:
        current = [t for t in rule_targets(placement.existing) if t["target"] not in named]
    elif model and catalog is not None and model in catalog and model not in named:
        current = [{"target": model, "weight": 100}]
    options: list[Any] = []
    recommended: list[dict[str, Any]] | None = None
    where = ""
    if current:
        recommended = given + _spread(current, rest)
        options.append(recommended)
        where = " and ".join(t["target"] for t in current)
        where = f" {where} (where it goes now, recommended)"
    extra = [
        m
        for m in catalog or []
        if m.rsplit("/", 1)[-1] == model.rsplit("/", 1)[-1]
        and m not in named
        and all(m != t["target"] for t in current)
    ]
    options += [[*given, {"target": m, "weight": rest}] for m in extra[:5]]
    alternatives = (" or " if where else " ") + ", ".join(f"'{m}'" for m in extra[:5]) if extra else ""
    findings.ask(
        "targets",
        "missing",
        f"The weights add up to {100 - rest}: where should the other {rest}% of '{model}' go:"
        f"{where}{alternatives}{'' if where or extra else ' which target'}?",
        options,
        recommended,
    )


def _spread(targets: list[dict[str, Any]], total: int) -> list[dict[str, Any]]:
    """`total` percent over `targets` in proportion to their current weights (equal when unweighted)."""
    weights: list[int] = [w if isinstance(w := t.get("weight"), int) and w > 0 else 0 for t in targets]
    if not sum(weights):
        weights = [1] * len(targets)
    shares = [total * w // sum(weights) for w in weights]
    shares[0] += total - sum(shares)
    return [{"target": t["target"], "weight": share} for t, share in zip(targets, shares, strict=True)]


def _normalise(weights: list[int]) -> list[int]:
    total = sum(weights) or len(weights)
    scaled = [w * 100 // total if sum(weights) else 100 // len(weights) for w in weights]
    scaled[-1] += 100 - sum(scaled)
    return scaled


def route_rule_id(intent: RouteIntent) -> str:
    return intent.rule_id or slug("route", intent.model or "")


def route_placement(intent: RouteIntent, routing: Mapping[str, Any] | None) -> Placement:
    """Change the live rule that routes this model already, or go before a broader one."""
    return place_route(
        routing,
        intent.model or "",
        intent.subjects,
        intent.metadata,
        derived_id=slug("route", intent.model or ""),
        explicit_id=intent.rule_id,
    )


def route_context(intent: RouteIntent, placement: Placement | None = None) -> dict[str, Any]:
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
        "rule_id": placement.rule_id if placement else route_rule_id(intent),
        "subjects": intent.subjects if intent.subjects is not None else ["*"],
        "model": intent.model,
        "metadata": intent.metadata,
        "sticky": intent.sticky.model_dump() if intent.sticky else None,
        "targets": rendered_targets,
        "fallback": intent.fallback if intent.fallback is not None else True,
        "fallback_status_codes": intent.fallback_status_codes,
        "retries": intent.retries.model_dump() if intent.retries else None,
    }
