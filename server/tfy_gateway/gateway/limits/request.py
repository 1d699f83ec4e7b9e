"""`LimitRequest`: what rate limiting needs to know about a request, as plain data.

The data plane builds it from its request context, so this package never depends on the data plane.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from tfy_gateway.gateway.accounting.cost import UNPRICED, ModelPricing
from tfy_gateway.gateway.limits.tokens import AS_OPENAI, Send

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class LimitRequest:
    """Built once per request; `identity` is computed on first use (V2 filters read it per rule)."""

    model: str  # as requested (a model, virtual model or routing alias), like rule `models`
    caller: str  # the caller's own subject: `user:<email>` or `virtualaccount:<name>`
    subjects: tuple[str, ...] = ()  # the caller's subjects, teams included
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    body: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # for the token estimate
    generates: bool = True  # the endpoint produces completion tokens (chat, completions)
    # How the request may go out (wire format and body per kind of target it may be routed to), for
    # the output tokens its adapters will ask for; empty: `body` as it came, in OpenAI's format.
    sends: tuple[Send, ...] = AS_OPENAI
    # How the costliest target the request may be routed to is priced, for the budget hold.
    pricing: ModelPricing = UNPRICED

    @cached_property
    def identity(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """(user email,), (virtual-account name,), (team names...) of the caller, bare (no prefix);
        `everyone` is not a team here."""
        kind, _, name = self.caller.partition(":")
        teams = tuple([s[5:] for s in self.subjects if s.startswith("team:") and s != "team:everyone"])
        return ((name,) if kind == "user" else (), (name,) if kind == "virtualaccount" else (), teams)
