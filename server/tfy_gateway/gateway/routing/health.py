"""Which targets are out of selection: failure bursts and SLA breaches, marked in the backend.

Failure counts are local to this process; the resulting marks go through the `RoutingBackend` so
that replicas sharing it share them.
"""

from __future__ import annotations

from collections import deque

from tfy_gateway.gateway.routing.backend import RoutingBackend
from tfy_gateway.gateway.routing.settings import RoutingSettings
from tfy_gateway.gateway.routing.types import Attempt, Outcome


def is_failure(status: int) -> bool:
    """Statuses that count against a target's health: timeouts, rate limits, server errors."""
    return status in (408, 429) or status >= 500


def sla_key(rule_key: str, target: str) -> str:
    """SLA marks are per rule: a cutoff written in one rule does not bench the target elsewhere."""
    return f"sla\x1f{rule_key}\x1f{target}"


def sla_breach(attempt: Attempt, outcome: Outcome) -> str | None:
    if attempt.sla_tpot_ms is not None and outcome.tpot_ms is not None and outcome.tpot_ms > attempt.sla_tpot_ms:
        return "time_per_output_token_ms"
    if attempt.sla_ttft_ms is not None and outcome.ttft_ms is not None and outcome.ttft_ms > attempt.sla_ttft_ms:
        return "time_to_first_token_ms"
    return None


class Health:
    def __init__(self, backend: RoutingBackend, settings: RoutingSettings) -> None:
        self._backend = backend
        self._settings = settings
        self._failures: dict[str, deque[float]] = {}

    def unhealthy_until(self, target: str, sla_mark: str | None, now: float) -> float | None:
        """When the later of the target's marks ends, or None if it is healthy now.

        `sla_mark` is the target's `sla_key` in its rule, or None when it has no SLA cutoff.
        """
        until = self._backend.unhealthy_until(target)
        if sla_mark is not None:
            sla_until = self._backend.unhealthy_until(sla_mark)
            if sla_until is not None and (until is None or sla_until > until):
                until = sla_until
        return until if until is not None and until > now else None

    def record(self, attempt: Attempt, outcome: Outcome, now: float) -> None:
        if outcome.local:  # a configuration problem of this gateway, not a failing target
            return
        if is_failure(outcome.status):
            self._failure(attempt.target, now)
        elif outcome.status < 400 and attempt.rule_key is not None and sla_breach(attempt, outcome):
            self._backend.mark_unhealthy(sla_key(attempt.rule_key, attempt.target), now + self._settings.sla_cooldown_s)

    def _failure(self, target: str, now: float) -> None:
        settings = self._settings
        times = self._failures.get(target)
        if times is None:
            times = self._failures[target] = deque(maxlen=max(settings.failure_threshold, 1))
        times.append(now)
        while times and times[0] <= now - settings.failure_window_s:
            times.popleft()
        if len(times) >= settings.failure_threshold:
            self._backend.mark_unhealthy(target, now + settings.failure_cooldown_s)
            times.clear()
