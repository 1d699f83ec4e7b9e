"""`CheckSeries`: what one guardrail outcome writes (its metric series and its log text), found once.

Reporting a check took three label-child lookups and a dict built and encoded into the request's log
row (~2 µs a check, two checks a guarded request). A check's outcome (guardrail, stage, operation,
mode, result, message) repeats request after request: everything but its latency is resolved once
per outcome, and the row's text is the outcome's text joined around the latency's. A series is still
created (and shown on /metrics) only when a request writes it.
"""

from __future__ import annotations

from collections.abc import Sequence

from tfy_gateway.gateway.guardrails.checks import Check, latency_text
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.tallies import ShapeCache, Spread, Tally


class CheckSeries:
    """One outcome's children (checks, blocks, latency) and its row text around the latency."""

    __slots__ = ("blocks", "checks", "head", "latency", "tail")

    def __init__(self, metrics: GatewayMetrics, check: Check) -> None:
        child = metrics.child
        self.checks: Tally = child(metrics.guardrail_checks, check.guardrail, check.stage, check.result)
        self.blocks: Tally | None = None
        if check.blocks:
            self.blocks = child(metrics.guardrail_blocks, check.guardrail, check.stage)
        self.latency: Spread | None = None
        if check.result != "skipped":
            self.latency = child(metrics.guardrail_latency, check.guardrail)
        self.head, self.tail = check.text_around_latency()


def observe_checks(checks: Sequence[Check], metrics: GatewayMetrics, known: ShapeCache, config: object) -> str:
    """Every check's metrics; returns the row's `guardrails` column (`[check.to_dict(), ...]` in JSON).
    `known` keeps the series per outcome for `config` (a new one starts it over)."""
    if not checks:
        return "[]"
    found = known.under(config)
    texts = []
    for check in checks:
        # Every field `to_dict` reports but the latency: checks alike in it report alike.
        outcome = (check.guardrail, check.stage, check.operation, check.strategy, check.result, check.message)
        series: CheckSeries | None = found.get(outcome)
        if series is None:
            series = CheckSeries(metrics, check)
            known.put(outcome, series)
        latency_ms = check.latency_ms
        series.checks.inc()
        if series.blocks is not None:
            series.blocks.inc()
        if series.latency is not None:
            series.latency.observe(latency_ms / 1000)
        texts.append(series.head + latency_text(latency_ms) + series.tail)
    return "[" + ",".join(texts) + "]"
