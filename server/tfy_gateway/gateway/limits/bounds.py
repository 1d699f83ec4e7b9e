"""The range of every amount a limit counter holds, and the refusal of a request that cannot fit it.

Counters hold integers (requests, tokens, nano-USD) from 0 to `MAX_AMOUNT` = 2**53 - 1: the largest
integer a double holds exactly, which is what Redis's Lua sums in, and far below int64's overflow
(one `max_tokens: 1e18` request once wrapped a shared budget to -$9.2e9 and refused everybody until
the period ended). In nano-USD it is about $9M per counter bucket. Admission refuses a request whose
own amount would not fit (`AmountTooLarge`, a 400 naming the field to lower); the stores clamp every
bucket and window total into the range as well, so nothing anyone sends, a provider reports or a
manifest says can take a counter out of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfy_gateway.gateway.errors import RequestError
from tfy_gateway.gateway.providers.output_tokens import CAP_FIELDS

MAX_AMOUNT = 2**53 - 1
NANO_USD = 1_000_000_000
"""Cost amounts are integers in 1e-9 USD: exact sums, and a $9M budget still fits a double's integers."""


class AmountTooLarge(RequestError):
    """A request whose worst case cannot be held by a counter: the data plane answers 400, naming `param`."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def bounded(amount: int) -> int:
    """`amount` clamped into a counter's range [0, MAX_AMOUNT]."""
    return 0 if amount < 0 else MAX_AMOUNT if amount > MAX_AMOUNT else amount


def nano_usd(cost: float, body: Mapping[str, Any]) -> int:
    """A request's estimated cost in nano-USD; `AmountTooLarge` if no counter can hold it, naming
    the request's output cap as `body` spells it (the field that makes a worst case large)."""
    amount = cost * NANO_USD
    if amount <= MAX_AMOUNT:  # False for NaN too
        return round(amount) if amount > 0 else 0
    param = next((name for name in CAP_FIELDS if body.get(name) is not None), "max_tokens")
    raise AmountTooLarge(
        f"The request's worst case costs ${cost:,.2f}, more than one budget counter can hold "
        f"(${MAX_AMOUNT / NANO_USD:,.0f}): lower '{param}'.",
        param,
    )
