"""The intent union: one structured request per kind of change, discriminated by `kind`."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field, TypeAdapter

from tfy_gateway.intents.budget import BudgetIntent
from tfy_gateway.intents.guardrail import GuardrailIntent
from tfy_gateway.intents.provider_account import ProviderAccountIntent
from tfy_gateway.intents.rate_limit import RateLimitIntent
from tfy_gateway.intents.route import RouteIntent
from tfy_gateway.intents.virtual_account import VirtualAccountIntent

Intent = Annotated[
    Union[  # noqa: UP007
        RouteIntent, RateLimitIntent, BudgetIntent, ProviderAccountIntent, VirtualAccountIntent, GuardrailIntent
    ],
    Field(discriminator="kind"),
]
INTENT_ADAPTER: TypeAdapter[Intent] = TypeAdapter(Intent)

# The gateway config each singleton intent kind renders into.
CONFIG_TYPES: dict[str, str] = {
    "route": "gateway-load-balancing-config",
    "rate_limit": "gateway-rate-limiting-config",
    "budget": "gateway-budget-config",
    "guardrail": "gateway-guardrails-config",
}


def parse_intent(data: object) -> Intent:
    """Validate a JSON-like value into an intent (pydantic ValidationError when malformed)."""
    return INTENT_ADAPTER.validate_python(data)
