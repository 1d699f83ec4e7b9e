"""The GenAI metrics of the semantic conventions (gen-ai-metrics.md), as one interface with two
homes: the Prometheus registry every gateway has (`metrics.GatewayMetrics`), and OTLP export when a
configuration asks for it (`otlp_metrics.OtlpMetrics`). The observe stage measures a request once and
hands the same figures to both. Label values are bounded by the caller: models and targets are names
of the applied configuration (else "other"), providers their account types, errors a type or status.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import NamedTuple, Protocol

DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
"""The bucket boundaries the conventions advise for each instrument."""


FOLD_AT = 1024
"""Requests whose values may wait in a home's lists before they are counted (`count_sorted`): a bound on
the memory they hold between two readings."""


def count_sorted(counts: list[float], first: int, bounds: tuple[float, ...], ordered: list[float]) -> None:
    """Add sorted numbers to bucket counts `counts[first:]` (one more than `bounds`, the last one above
    them), each to the first bucket whose bound is >= it, as a histogram counts one value: as many of
    them fall in the buckets up to a bound's as are <= it, which `bisect_right` finds."""
    counted = 0
    for position, bound in enumerate(bounds, first):
        upto = bisect_right(ordered, bound)
        counts[position] += upto - counted
        counted = upto
    counts[first + len(bounds)] += len(ordered) - counted


class GenAILabels(NamedTuple):
    """The GenAI labels of a request shape (`data_plane.request_series`): both homes find the series its
    requests write once per shape from these."""

    operation: str
    model: str
    error: str  # the request's error type; "" when it succeeded
    ttft: bool  # a streamed answer's time to first token is observed
    calls: tuple[tuple[str, str, str] | None, ...]
    """Each upstream call's provider, target and error type ("" when it answered); None: a target
    outside the catalog, not observed."""
    tokens: tuple[str, str] | None  # the served target's provider and name, when its usage is observed


class GenAISink(Protocol):
    def server_duration(self, seconds: float, operation: str, model: str, error_type: str | None) -> None:
        """gen_ai.server.request.duration: one data-plane request, arrival to last byte."""

    def time_to_first_token(self, seconds: float, operation: str, model: str) -> None:
        """gen_ai.server.time_to_first_token: a streamed request, arrival to its first chunk sent."""

    def token_usage(self, tokens: int, operation: str, provider: str, model: str, token_type: str) -> None:
        """gen_ai.client.token.usage: tokens of the answering upstream call (`token_type` input|output)."""

    def client_duration(
        self, seconds: float, operation: str, provider: str, model: str, error_type: str | None
    ) -> None:
        """gen_ai.client.operation.duration: one upstream call (a stream: until it ended)."""
