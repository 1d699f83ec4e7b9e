"""The ranges manifest numbers must fall in: finite, and small enough for every counter and clock.

The platform documents no upper bounds; these are the local gateway's (references/local-gateway.md,
"Security limits"), chosen far above any real configuration and below what its arithmetic carries
exactly: spend is counted in nano-USD in 64-bit integers (Redis, SQLite), so a cost limit of at most
a billion USD (1e18 nano-USD) always fits, as do token and request counts of at most a trillion.
`StrictModel` refuses `inf` and `nan` everywhere (YAML `.inf`, JSON `1e400`); these types add the
upper bounds, and the finding names the field and the range.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_USD = 1e9
"""A cost limit, in USD per period."""
MAX_COUNT = 10**12
"""A request or token limit, or a token count a price tier starts at."""
MAX_PRICE = 1e6
"""A price in USD per unit (per token, per 1000 tokens, per request, per page...)."""
MAX_MS = 86_400_000
"""A duration in milliseconds (a day)."""
MAX_SECONDS = 366 * 86_400
"""A duration in seconds (a year)."""
MAX_DAYS = 36_500
"""A duration in days (a century)."""

Usd = Annotated[float, Field(ge=0, le=MAX_USD)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Price = Annotated[float, Field(ge=0, le=MAX_PRICE)]
Percent = Annotated[float, Field(ge=0, le=1000)]
