"""The state interface of rate limits and budgets: reserve, adjust, read, over integer counters.

Every limit is a counter of integer amounts (requests, tokens, or cost in nano-USD) kept in buckets:
a sliding window sums its last `span` buckets, a budget period is one bucket. The limiter hands a
request's charges to the store in one call (a `Batch`); the store checks and adds them atomically,
so a store shared by many gateway replicas (Redis, one Lua script) decides exactly what a single
process would. The in-memory store (`memory.MemoryLimitState`) is the default.

A request's counters never change between requests of the same shape: their keys, spans, limits
and enforcement are one `Counters` object, built once per plan and shared by every request of that
shape, and a request adds only its own figures (buckets, amounts), one sequence each. So a request
with seven counters builds a handful of objects, not an object per counter, and a store may prepare
what it sends per `Counters` once (`Counters.prepared`).

A store never reads a clock and never interprets a rule: callers pass the bucket indexes and the
expiry times, so an implementation is nothing but arithmetic on counters, kept within
[0, MAX_AMOUNT] per bucket and per window total (`bounds`), whatever amounts it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from tfy_gateway.gateway.limits.bounds import MAX_AMOUNT, NANO_USD

__all__ = [
    "MAX_AMOUNT",
    "NANO_USD",
    "Adjustment",
    "Admission",
    "Batch",
    "Charge",
    "Counters",
    "LimitState",
    "Probe",
    "Settlement",
    "SyncLimitState",
]


class Counters:
    """The static part of counters charged together, in charge order: what every request of one
    plan shares. `limits[i]` None: counted, never checked (spend on a budget rule that does not
    decide); `enforced[i]` False: checked and reported, never refused (audit modes). Compared by
    identity: a store may keep what it derives from one (`prepared`) for as long as it lives."""

    __slots__ = ("distinct", "enforced", "fixed_expiry", "keys", "limits", "prepared", "spans")

    def __init__(
        self,
        keys: Sequence[str],
        spans: Sequence[int],
        limits: Sequence[int | None],
        enforced: Sequence[bool],
        *,
        fixed_expiry: bool = False,
    ) -> None:
        self.keys = tuple(keys)
        self.spans = tuple(spans)
        self.limits = tuple(limits)
        self.enforced = tuple(enforced)
        self.distinct = len(set(self.keys)) == len(self.keys)  # no counter twice
        # Every batch's expiry of a counter is a function of its bucket (a bucket stops counting at a
        # fixed time), so a store need not extend a counter's life when it adds to a bucket it holds.
        self.fixed_expiry = fixed_expiry
        self.prepared: object = None  # a store's own form of these counters (Redis: its keys and arguments)

    def __len__(self) -> int:
        return len(self.keys)


class Batch(NamedTuple):
    """One reservation: add `amounts[i]` to bucket `buckets[i]` of counter i, if `needs[i]` more
    still fits in its limit. The window of a bucket is the buckets (bucket - span, ...]: newer
    buckets (a replica whose clock runs ahead) count too. `expiries[i]` (epoch s): when counter i is
    empty if nothing is added after this. `dry`: check and report only; nothing is added or refused.
    Callers may pass the same `buckets` and `expiries` objects to many batches (they are the same
    for every request of a plan within one bucket of time)."""

    counters: Counters
    buckets: Sequence[int]
    expiries: Sequence[float]
    amounts: Sequence[int]
    needs: Sequence[int]
    dry: bool = False

    @classmethod
    def of(cls, charges: Sequence[Charge]) -> Batch:
        """The batch of charges described one by one (tests, and paths off the request's)."""
        counters = Counters([c.key for c in charges], [c.span for c in charges], [c.limit for c in charges],
                            [c.enforce for c in charges])  # fmt: skip
        return cls(counters, [c.bucket for c in charges], [c.expires_at for c in charges],
                   [c.amount for c in charges], [c.need for c in charges])  # fmt: skip


class Settlement(NamedTuple):
    """Add `deltas[i]` (negative to give back; 0: leave alone) to bucket `buckets[i]` of counter i
    if that bucket is still held; never below 0. `watched`: the positions whose window totals the
    store returns afterwards, in that order (for budget alert thresholds)."""

    counters: Counters
    buckets: Sequence[int]
    deltas: Sequence[int]
    watched: Sequence[int] = ()

    @classmethod
    def of(cls, adjustments: Sequence[Adjustment]) -> Settlement:
        """The settlement of adjustments described one by one, every total returned."""
        counters = Counters([a.key for a in adjustments], [a.span for a in adjustments], [None] * len(adjustments),
                            [False] * len(adjustments))  # fmt: skip
        return cls(counters, [a.bucket for a in adjustments], [a.delta for a in adjustments], range(len(adjustments)))

    def adjustments(self) -> tuple[Adjustment, ...]:
        """The non-zero deltas one by one (what a shared store keeps to send again)."""
        counters = self.counters
        return tuple(
            Adjustment(counters.keys[i], self.buckets[i], counters.spans[i], delta)
            for i, delta in enumerate(self.deltas)
            if delta
        )


class Charge(NamedTuple):
    """One counter of a `Batch`, described on its own (see `Batch.of`)."""

    key: str
    bucket: int
    span: int
    amount: int
    need: int
    limit: int | None
    enforce: bool
    expires_at: float


class Admission(NamedTuple):
    """The answer to `reserve`, with one entry per counter in the order given.

    `used`: what the window held before this request. `refused`: indexes of the counters whose check
    failed, enforced or not; the request was admitted (every amount added) unless one of them is
    enforced. `frees`: per refused index, the oldest bucket whose expiry leaves room, or None if
    nothing held can expire in time (the need alone exceeds the limit). `oldest`: per counter, the
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
    """One delta of a `Settlement`, described on its own."""

    key: str
    bucket: int
    span: int
    delta: int


class Probe(NamedTuple):
    """Read the window of `bucket` (span buckets) of counter `key`."""

    key: str
    bucket: int
    span: int


class SyncLimitState(Protocol):
    """A store that also answers without an await (the in-memory one): the limiter admits and
    settles requests of a known shape at once, with nothing able to run in between."""

    def hold_now(self, batch: Batch) -> list[int] | None:
        """`reserve_now` when every counter has room: what each checked window held before (0 where
        the limit is None); None, with nothing changed, for anything else (then `reserve_now` answers)."""

    def oldest_now(self, key: str, bucket: int, span: int) -> int | None:
        """The oldest bucket of `bucket`'s window holding something (`Admission.oldest`)."""

    def reserve_now(self, batch: Batch) -> Admission: ...

    def adjust_now(self, settlement: Settlement) -> tuple[int, ...]: ...


class LimitState(Protocol):
    async def reserve(self, batch: Batch) -> Admission:
        """Check every counter and, unless an enforced one fails, add every amount; atomically."""

    async def adjust(self, settlement: Settlement, ticket: str | None = None) -> tuple[int, ...]:
        """Apply a settlement; returns the window totals of its `watched` counters afterwards. `ticket`:
        the admission's, when the settlement is of a reservation (a shared store applies it once)."""

    async def read(self, probes: Sequence[Probe]) -> tuple[int, ...]:
        """The window totals, for usage and headroom answers."""

    async def scan(self, prefix: str, bucket: int, span: int) -> list[tuple[str, int]]:
        """(key, window total) of every live counter whose key starts with `prefix`: the entities
        of one rule, for usage listings (a control-plane read, never on the request path)."""
