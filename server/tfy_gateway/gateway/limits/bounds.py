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

from tfy_gateway.gateway.errors import RequestError

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


def nano_usd(cost: float, param: str) -> int:
    """An estimated cost in nano-USD; `AmountTooLarge` (naming `param`) if no counter can hold it."""
    if not cost == cost or cost * NANO_USD > MAX_AMOUNT:  # NaN, or too large
        raise AmountTooLarge(
            f"The request's worst case costs ${cost:,.2f}, more than one budget counter can hold "
            f"(${MAX_AMOUNT / NANO_USD:,.0f}): lower '{param}'.",
            param,
        )
    return max(round(cost * NANO_USD), 0)
