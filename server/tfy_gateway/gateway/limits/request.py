"""`LimitRequest`: what rate limiting needs to know about a request, as plain data.

The data plane builds it from its request context, so this package never depends on the data plane.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tfy_gateway.gateway.accounting.cost import UNPRICED, ModelPricing

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class LimitRequest:
    model: str  # as requested (a model, virtual model or routing alias), like rule `models`
    caller: str  # the caller's own subject: `user:<email>` or `virtualaccount:<name>`
    subjects: tuple[str, ...] = ()  # the caller's subjects, teams included
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    body: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # for the token estimate
    generates: bool = True  # the endpoint produces completion tokens (chat, completions)
    # How the costliest target the request may be routed to is priced, for the budget hold.
    pricing: ModelPricing = UNPRICED
