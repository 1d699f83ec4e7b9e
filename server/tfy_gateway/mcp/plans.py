"""Reviewed plans: what `gateway_plan` showed, kept until `gateway_apply_plan` applies exactly that.

A plan records each document and a fingerprint of the live resource it was diffed against. Applying
refuses a plan that expired or whose live resources changed since, so what gets applied is always
what was reviewed. Plans live in memory, per server process.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PLAN_ID_PATTERN = r"^plan_[A-Za-z0-9_-]{8,64}$"
DEFAULT_TTL_SECONDS = 15 * 60
MAX_PLANS = 200


def fingerprint(manifest: dict[str, Any] | None) -> str:
    """A stable digest of a live manifest ("absent" when the resource does not exist)."""
    if manifest is None:
        return "absent"
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass
class PlannedDocument:
    manifest: dict[str, Any]
    name: str
    type: str
    action: str
    diff: str
    live_fingerprint: str
    warnings: list[dict[str, Any]] = field(default_factory=list)  # the control plane's, as it sent them

    @property
    def changes(self) -> bool:
        return self.action == "CREATE" or bool(self.diff)


@dataclass
class Plan:
    plan_id: str
    created_at: float
    expires_at: float
    documents: list[PlannedDocument]
    applied_at: float | None = None
    applied: list[str] = field(default_factory=list)


class UnknownPlanError(LookupError):
    pass


class PlanStore:
    """Plans by id with an expiry; `clock` is injectable so tests can move time."""

    def __init__(self, clock: Callable[[], float], ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self._clock = clock
        self.ttl_seconds = ttl_seconds
        self._plans: dict[str, Plan] = {}

    def now(self) -> float:
        return self._clock()

    def add(self, documents: list[PlannedDocument]) -> Plan:
        self._prune()
        now = self._clock()
        plan = Plan(
            plan_id="plan_" + secrets.token_urlsafe(12),
            created_at=now,
            expires_at=now + self.ttl_seconds,
            documents=documents,
        )
        self._plans[plan.plan_id] = plan
        return plan

    def get(self, plan_id: str) -> Plan:
        plan = self._plans.get(plan_id)
        if plan is None:
            raise UnknownPlanError(plan_id)
        return plan

    def expired(self, plan: Plan) -> bool:
        return self._clock() >= plan.expires_at

    def _prune(self) -> None:
        """Forget plans long past expiry (kept a while so 'expired' can be told from 'unknown')."""
        horizon = self._clock() - self.ttl_seconds * 4
        for plan_id in [p.plan_id for p in self._plans.values() if p.expires_at < horizon]:
            del self._plans[plan_id]
        while len(self._plans) >= MAX_PLANS:
            del self._plans[next(iter(self._plans))]
