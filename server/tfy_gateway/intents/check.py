"""`check_intent`: what an intent still needs before it can be rendered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tfy_gateway.intents.base import Findings, IntentCheck
from tfy_gateway.intents.budget import BudgetIntent, check_budget
from tfy_gateway.intents.guardrail import GuardrailIntent, check_guardrail
from tfy_gateway.intents.models import Intent
from tfy_gateway.intents.provider_account import ProviderAccountIntent, check_provider_account
from tfy_gateway.intents.rate_limit import RateLimitIntent, check_rate_limit
from tfy_gateway.intents.route import RouteIntent, check_route
from tfy_gateway.intents.virtual_account import VirtualAccountIntent, check_virtual_account


def check_intent(
    intent: Intent, catalog: Iterable[str] | None = None, *, routing: Mapping[str, Any] | None = None
) -> IntentCheck:
    """Questions for every missing, ambiguous or invalid field, and the defaults rendering would use.

    `catalog` is the list of known model ids ('<account>/<integration>'); with it, bare or unknown
    model names become questions listing the candidates. Without it only the id shape is checked.
    `routing` is the live load-balancing config: a route intent for a model it already routes changes
    that rule (or goes before it), recommendations follow its targets, and limits and budgets accept
    the model names its rules match.
    """
    known = sorted(set(catalog)) if catalog is not None else None
    findings = Findings()
    if isinstance(intent, RouteIntent):
        check_route(intent, findings, known, routing)
    elif isinstance(intent, RateLimitIntent):
        check_rate_limit(intent, findings, known, routing)
    elif isinstance(intent, BudgetIntent):
        check_budget(intent, findings, known, routing)
    elif isinstance(intent, ProviderAccountIntent):
        check_provider_account(intent, findings)
    elif isinstance(intent, VirtualAccountIntent):
        check_virtual_account(intent, findings, known)
    elif isinstance(intent, GuardrailIntent):
        check_guardrail(intent, findings, known)
    else:  # pragma: no cover - the union is closed
        raise TypeError(f"not an intent: {type(intent).__name__}")
    return findings.result(intent.kind, catalog_checked=known is not None, routing_checked=routing is not None)
