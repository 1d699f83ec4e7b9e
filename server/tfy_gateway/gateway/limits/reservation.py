"""`Reservation`: what admission held for one request, handed back when it settles."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from tfy_gateway.gateway.limits.window import Period


@dataclass(frozen=True)
class Hold:
    """`amount` added to bucket `bucket` of counter (`period`, `key`); `tokens` for token units."""

    period: Period
    key: Hashable
    bucket: int
    amount: int
    tokens: bool


@dataclass(frozen=True)
class Reservation:
    """The counters a request was admitted against and the amounts held on each (request, tokens, cost),
    with the rule that admitted it (for the `x-tfy-applied-configurations` header)."""

    holds: tuple[Any, ...] = ()
    rule_id: str | None = None
    config_name: str | None = None
