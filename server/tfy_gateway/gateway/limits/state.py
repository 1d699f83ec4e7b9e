"""The state interface of rate limits and budgets: reserve, adjust, read, over integer counters.

Every limit is a counter of integer amounts (requests, tokens, or cost in nano-USD) kept in buckets:
a sliding window sums its last `span` buckets, a budget period is one bucket. The limiter turns a
request into `Charge`s and hands them all to the store in one call; the store checks and adds them
atomically, so a store shared by many gateway replicas (Redis, one Lua script) decides exactly what a
single process would. The in-memory store (`memory.MemoryLimitState`) is the default.

A store never reads a clock and never interprets a rule: callers pass the bucket indexes and the
expiry times, so an implementation is nothing but arithmetic on counters, kept within
[0, MAX_AMOUNT] per bucket and per window total (`bounds`), whatever amounts it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from tfy_gateway.gateway.limits.bounds import MAX_AMOUNT, NANO_USD

__all__ = ["MAX_AMOUNT", "NANO_USD", "Adjustment", "Admission", "Charge", "LimitState", "Probe"]

# The values crossing the interface are named tuples: a request makes several, and they are cheap.


class Charge(NamedTuple):
    """Add `amount` to bucket `bucket` of counter `key`, if `need` more still fits in `limit`.

    The window of `bucket` is the buckets (bucket - span, ...]: newer buckets (a replica whose clock
    runs ahead) count too. `limit` None: the amount is counted but never checked (spend on a budget
    rule that does not decide). `enforce` False: checked and reported, never refused (audit modes).
    `expires_at` (epoch s): when the counter is empty if nothing is added after this charge.
    """

    key: str
    bucket: int
    span: int
    amount: int
    need: int
    limit: int | None
    enforce: bool
    expires_at: float


class Admission(NamedTuple):
    """The answer to `reserve`, with one entry per charge in the order given.

    `used`: what the window held before this request. `refused`: indexes of the charges whose check
    failed, enforced or not; the request was admitted (every amount added) unless one of them is
    enforced. `frees`: per refused index, the oldest bucket whose expiry leaves room, or None if
    nothing held can expire in time (the need alone exceeds the limit). `oldest`: per charge, the
    oldest bucket holding something once admitted (None: empty), for "resets in" answers.
    """

    admitted: bool
    used: tuple[int, ...]
    refused: tuple[int, ...] = ()
    frees: tuple[int | None, ...] = ()
    oldest: tuple[int | None, ...] = ()
    # A shared store's name for what was held (its settlement names it), or None.
    ticket: str | None = None


class Adjustment(NamedTuple):
    """Add `delta` (negative to give back) to a bucket a request was charged in; never below 0."""

    key: str
    bucket: int
    span: int
    delta: int


class Probe(NamedTuple):
    """Read the window of `bucket` (span buckets) of counter `key`."""

    key: str
    bucket: int
    span: int


class LimitState(Protocol):
    async def reserve(self, charges: Sequence[Charge]) -> Admission:
        """Check every charge and, unless an enforced one fails, add every amount; atomically."""

    async def adjust(self, adjustments: Sequence[Adjustment], ticket: str | None = None) -> tuple[int, ...]:
        """Apply settlements; returns each window's total afterwards (for alert thresholds). `ticket`:
        the admission's, when the settlement is of a reservation (a shared store applies it once)."""

    async def read(self, probes: Sequence[Probe]) -> tuple[int, ...]:
        """The window totals, for usage and headroom answers."""

    async def scan(self, prefix: str, bucket: int, span: int) -> list[tuple[str, int]]:
        """(key, window total) of every live counter whose key starts with `prefix`: the entities
        of one rule, for usage listings (a control-plane read, never on the request path)."""
