"""`tfy-gateway replay`: recorded traffic against the current config and a proposed one; what changes.

Both replays run the same requests in recorded order, each through its own `Simulator` (the
gateway's routing, access check and limiter) on a clock that follows the recorded arrival times, so
sliding windows and budget periods see the traffic as the gateway saw it. Routing draws use one seed
on both sides: an unchanged routing rule routes every request the same way on both. The report:
requests newly refused (by which rule) or newly admitted, newly denied, rerouted (from -> to); tokens
and cost per team, user and model on each side; budgets exhausted earlier (or only) under the
proposal; and how many recorded outcomes the replay of the current config reproduces.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tfy_gateway.policy.clock import SimClock
from tfy_gateway.policy.config import PolicyConfig
from tfy_gateway.policy.simulator import Simulator
from tfy_gateway.policy.traffic import SimOutcome, SimRequest

ChangeKind = Literal[
    "newly-refused", "newly-admitted", "refused-by-another-rule", "newly-denied", "newly-allowed", "rerouted"
]


@dataclass(frozen=True)
class Change:
    index: int  # position in the replayed traffic, from 1
    request: SimRequest
    current: SimOutcome
    proposed: SimOutcome
    kind: ChangeKind

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": self.index,
            "id": self.request.label,
            "at": self.request.at,
            "caller": self.request.caller,
            "model": self.request.model,
            "metadata": dict(self.request.metadata),
            "kind": self.kind,
            "current": self.current.describe(),
            "proposed": self.proposed.describe(),
            "rule": self.proposed.refused_by or self.current.refused_by,
        }


@dataclass
class Totals:
    requests: int = 0
    admitted: int = 0
    tokens: int = 0
    cost: float = 0.0

    def add(self, outcome: SimOutcome) -> None:
        self.requests += 1
        if outcome.admitted and outcome.status < 400:
            self.admitted += 1
            self.tokens += outcome.tokens
            self.cost += outcome.cost or 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "admitted": self.admitted,
            "tokens": self.tokens,
            "cost": round(self.cost, 6),
        }


@dataclass
class ReplayReport:
    requests: int = 0
    changes: list[Change] = field(default_factory=list)
    totals: dict[str, dict[str, tuple[Totals, Totals]]] = field(default_factory=dict)  # team/user/model -> key -> sides
    exhausted: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # budget -> first refusals
    reproduced: int = 0  # recorded outcomes the current config's replay gives again
    recorded: int = 0  # requests with a recorded outcome
    elapsed_s: float = 0.0

    def of(self, kind: ChangeKind) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def earlier(self) -> dict[str, tuple[float | None, float | None]]:
        """Budgets the proposal exhausts earlier than the current config does (or at all)."""
        return {
            rule: (now, then)
            for rule, (now, then) in self.exhausted.items()
            if then is not None and (now is None or then < now)
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "reproduced": {"matching": self.reproduced, "recorded": self.recorded},
            "changes": [c.to_dict() for c in self.changes],
            "totals": {
                dimension: {
                    key: {"current": now.to_dict(), "proposed": then.to_dict()}
                    for key, (now, then) in sorted(rows.items())
                }
                for dimension, rows in self.totals.items()
            },
            "budgets_exhausted_earlier": {
                rule: {"current": now, "proposed": then} for rule, (now, then) in self.earlier.items()
            },
            "elapsed_s": round(self.elapsed_s, 3),
        }


async def replay(
    traffic: Sequence[SimRequest], current: PolicyConfig, proposed: PolicyConfig, *, seed: int = 0
) -> ReplayReport:
    """Every request of `traffic` (in recorded order) against both configs; what differs."""
    started = time.perf_counter()
    report = ReplayReport()
    if not traffic:
        return report
    start = traffic[0].at
    old = Simulator(current, SimClock(start), seed=seed)
    new = Simulator(proposed, SimClock(start), seed=seed)
    for key in ("team", "user", "model"):
        report.totals[key] = {}
    for index, request in enumerate(traffic, start=1):
        before = await old.send(request)
        after = await new.send(request)
        report.requests = index
        if request.recorded is not None:
            report.recorded += 1
            report.reproduced += _same(request.recorded, before)
        kind = _change(before, after)
        if kind is not None:
            report.changes.append(Change(index, request, before, after, kind))
        for dimension, key in _keys(request, current):
            sides = report.totals[dimension].setdefault(key, (Totals(), Totals()))
            sides[0].add(before)
            sides[1].add(after)
        for side, outcome in ((0, before), (1, after)):
            if outcome.refused_kind == "budget" and outcome.refused_by is not None:
                pair = list(report.exhausted.get(outcome.refused_by, (None, None)))
                if pair[side] is None:
                    pair[side] = request.at
                report.exhausted[outcome.refused_by] = (pair[0], pair[1])
    report.elapsed_s = time.perf_counter() - started
    return report


def _change(before: SimOutcome, after: SimOutcome) -> ChangeKind | None:
    if before.status == 403 and after.status != 403:
        return "newly-allowed"
    if after.status == 403 and before.status != 403:
        return "newly-denied"
    if before.status != 429 and after.status == 429:
        return "newly-refused"
    if before.status == 429 and after.status != 429:
        return "newly-admitted"
    if before.status == 429 and before.refused_by != after.refused_by:
        return "refused-by-another-rule"
    if before.served_by != after.served_by and before.served_by and after.served_by:
        return "rerouted"
    return None


def _same(recorded: int, outcome: SimOutcome) -> bool:
    """Whether the replay answered what the gateway answered (by class: 2xx, 403, 429, other)."""

    def bucket(status: int) -> str:
        return "ok" if status < 400 else str(status) if status in (403, 429) else "error"

    return bucket(recorded) == bucket(outcome.status)


def _keys(request: SimRequest, config: PolicyConfig) -> Iterable[tuple[str, str]]:
    yield "user", request.caller
    if request.caller.startswith("user:"):
        principal = config.principal(request.caller, request.teams)
        for team in principal.teams:
            if team != "everyone":
                yield "team", team
    yield "model", request.model
