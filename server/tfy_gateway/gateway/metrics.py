"""Prometheus metrics of the data plane, in a registry owned by one app (never the global one), so
two gateways in one process (tests) never share counters.

Labels are bounded: `model` and `target` take only names the applied configuration knows (a model
of a provider account, a virtual model, a name a routing rule lists); any other name a request
carries (a `*` rule lets anything through) is counted as "other", and requests that never reached a
model they may use as "-". `endpoint` is one of the data-plane endpoints, `status` the HTTP status. Subjects
and metadata are never labels (unbounded cardinality); they are in the request logs.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from tfy_gateway.gateway.observability.genai_histograms import GenAIHistograms
from tfy_gateway.gateway.tallies import Level, ShapeCache, Spread, Tally

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class GatewayMetrics:
    """Every data-plane metric, registered in `registry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "tfy_gateway_requests", "Data-plane requests by outcome.", ("endpoint", "model", "status"), registry=r
        )
        self.errors = Counter(
            "tfy_gateway_request_errors",
            "Data-plane requests answered with status >= 400, by where the error came from.",
            ("endpoint", "model", "origin"),
            registry=r,
        )
        self.latency = Histogram(
            "tfy_gateway_request_duration_seconds",
            "Time from request arrival to the last byte of the response.",
            ("endpoint", "model"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "tfy_gateway_time_to_first_token_seconds",
            "Streaming: time from request arrival to the first chunk sent to the client.",
            ("model",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "tfy_gateway_overhead_seconds",
            "Non-streaming: request duration minus time spent waiting for upstreams.",
            ("endpoint",),
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("tfy_gateway_tokens", "Tokens reported by upstreams.", ("model", "kind"), registry=r)
        self.cost = Counter("tfy_gateway_cost_usd", "Cost of served requests in USD.", ("model",), registry=r)
        # Changed twice per request on the loop: a plain number, read when the gauge renders.
        self.in_flight = Level()
        Gauge("tfy_gateway_in_flight_requests", "Data-plane requests being served.", registry=r).set_function(
            self.in_flight.get
        )
        self.upstream_tries = Counter(
            "tfy_gateway_upstream_tries", "Upstream calls by target and status.", ("target", "status"), registry=r
        )
        # Guardrail labels are `<group>/<integration>` names of the applied config (a request can only
        # name configured ones), the stage (input/output) and one of five results: bounded.
        self.guardrail_checks = Counter(
            "tfy_gateway_guardrail_checks",
            "Guardrail checks by guardrail, stage and result (pass, fail, mutate, error, skipped).",
            ("guardrail", "stage", "result"),
            registry=r,
        )
        self.guardrail_blocks = Counter(
            "tfy_gateway_guardrail_blocks",
            "Requests or answers a guardrail blocked, by guardrail and stage.",
            ("guardrail", "stage"),
            registry=r,
        )
        self.guardrail_latency = Histogram(
            "tfy_gateway_guardrail_duration_seconds",
            "Time one guardrail took to check a request or an answer.",
            ("guardrail",),
            buckets=OVERHEAD_BUCKETS + LATENCY_BUCKETS[LATENCY_BUCKETS.index(0.25) :],
            registry=r,
        )
        self.logs_dropped = Gauge(
            "tfy_gateway_request_logs_dropped", "Request logs dropped because the writer queue was full.", registry=r
        )
        self.state_store_up = Gauge(
            "tfy_gateway_state_store_up",
            "1 while the shared state store answers, 0 while its circuit breaker is open (only with Redis).",
            ("store",),
            registry=r,
        )
        self.state_store_errors = Counter(
            "tfy_gateway_state_store_errors",
            "Calls to the shared state store that failed or timed out, by operation.",
            ("store", "operation"),
            registry=r,
        )
        self.state_store_fallbacks = Counter(
            "tfy_gateway_state_store_fallbacks",
            "Limit-store calls answered by the failure policy (local counters, or a 503) instead of Redis.",
            ("store", "operation"),
            registry=r,
        )
        self.limit_counters_unreadable = Gauge(
            "tfy_gateway_limit_counters_unreadable",
            "Rate-limit and budget counters in limits.sqlite3 that could not be read at start-up: they "
            "started from zero (0 without the file, and with Redis).",
            registry=r,
        )
        self.limit_state_emptied = Gauge(
            "tfy_gateway_limit_state_emptied",
            "1 when limits.sqlite3 was found empty (0 bytes) at start-up: every counter it held started from zero.",
            registry=r,
        )
        # --- the GenAI conventions' metrics (observability/genai_histograms.py), and span export ---
        self.genai = GenAIHistograms(r)
        self.spans_exported = Counter(
            "tfy_gateway_trace_spans_exported", "Spans the OTLP collector accepted.", registry=r
        )
        self.spans_filtered = Counter(
            "tfy_gateway_trace_spans_filtered", "Spans left out by the otel config's `when` filters.", registry=r
        )
        self.spans_dropped = Counter(
            "tfy_gateway_trace_spans_dropped",
            "Spans lost: export queue full, collector failed or refused them, or still queued at shutdown.",
            ("reason",),
            registry=r,
        )
        # Label children by (metric, values): `labels()` validates and locks on every call (about 1 µs
        # each, 7 per request); the values are bounded (see above), and so is this map. Each counts
        # without a lock until a rendering (tallies.py): only the event loop writes them.
        self._children: dict[tuple[int, tuple[str, ...]], Tally | Spread] = {}
        # The series each request shape writes (`data_plane.request_series`), found with one lookup.
        self.shapes = ShapeCache()
        # The series and log text of each guardrail check outcome (`data_plane.check_series`).
        self.checks = ShapeCache()

    # --- the shared state store's observer (shared.redis.LinkObserver) ---------------------------

    def state_changed(self, up: bool) -> None:
        self.state_store_up.labels("redis").set(1 if up else 0)

    def call_failed(self, operation: str) -> None:
        self.state_store_errors.labels("redis", operation).inc()

    def state_fallback(self, operation: str) -> None:
        self.state_store_fallbacks.labels("redis", operation).inc()

    # --- GenAISink (a measurement at a time; the observe stage appends to a request shape's held lists,
    # data_plane.request_series) and the span queue's counts -----------------------------------------

    def server_duration(self, seconds: float, operation: str, model: str, error_type: str | None) -> None:
        self.genai.server_duration.observe(seconds, (operation, model, error_type or ""))

    def time_to_first_token(self, seconds: float, operation: str, model: str) -> None:
        self.genai.ttft.observe(seconds, (operation, model))

    def token_usage(self, tokens: int, operation: str, provider: str, model: str, token_type: str) -> None:
        self.genai.tokens.observe(tokens, (operation, provider, model, token_type))

    def client_duration(
        self, seconds: float, operation: str, provider: str, model: str, error_type: str | None
    ) -> None:
        self.genai.client_duration.observe(seconds, (operation, provider, model, error_type or ""))

    def span_outcome(self, outcome: str, count: int) -> None:
        """`observability.export.ExportCounts`' report (from the export thread, or the loop for drops)."""
        if outcome == "exported":
            self.spans_exported.inc(count)
        elif outcome == "filtered":
            self.spans_filtered.inc(count)
        else:
            self.spans_dropped.labels(outcome.removeprefix("dropped_")).inc(count)

    def child(self, metric: Counter | Histogram, *values: str) -> Any:
        """`metric.labels(*values)` as a lock-free child of its own (`Tally`, `Spread`), remembered.
        Only the event loop may write it; `render` adds what it counted to the Prometheus child."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            labelled: Any = metric.labels(*values)
            tally = Spread(labelled, labelled._upper_bounds) if isinstance(metric, Histogram) else Tally(labelled)
            found = self._children[key] = tally
        return found

    def render(self) -> bytes:
        for tally in self._children.values():
            tally.flush()
        return generate_latest(self.registry)
