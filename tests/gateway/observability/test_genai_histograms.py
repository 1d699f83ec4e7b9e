"""`GenAIHistograms` keeps its own bucket lists: a scrape must read exactly what prometheus_client's own
`Histogram` shows for the same observations (buckets with `le`, count, sum)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from tfy_gateway.gateway.observability.genai_histograms import GenAIHistograms
from tfy_gateway.gateway.observability.genai_metrics import DURATION_BUCKETS, TOKEN_BUCKETS

OBSERVED = [0.0, 0.01, 0.015, 0.3, 0.32, 2.0, 81.92, 100.0]  # on a bound, between bounds, above the last


def samples(registry: CollectorRegistry) -> list[str]:
    """The exposition lines but `_created` (prometheus_client's own timestamp of a series)."""
    return sorted(
        line
        for line in generate_latest(registry).decode().splitlines()
        if line and not line.startswith("#") and "_created" not in line
    )


def test_a_scrape_reads_as_prometheus_clients_own_histogram() -> None:
    lean_registry, native_registry = CollectorRegistry(), CollectorRegistry()
    lean = GenAIHistograms(lean_registry)
    duration = Histogram(
        "gen_ai_client_operation_duration_seconds",
        "same",
        ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"),
        buckets=DURATION_BUCKETS,
        registry=native_registry,
    )
    tokens = Histogram(
        "gen_ai_client_token_usage",
        "same",
        ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"),
        buckets=TOKEN_BUCKETS,
        registry=native_registry,
    )
    for seconds in OBSERVED:
        lean.client_duration.observe(seconds, ("chat", "openai", "a/gpt-4o", ""))
        duration.labels("chat", "openai", "a/gpt-4o", "").observe(seconds)
    lean.client_duration.observe(0.5, ("chat", "openai", "a/gpt-4o", "503"))
    duration.labels("chat", "openai", "a/gpt-4o", "503").observe(0.5)
    for count in (0, 1, 5, 4096, 10**9):
        lean.tokens.observe(count, ("chat", "openai", "a/gpt-4o", "input"))
        tokens.labels("chat", "openai", "a/gpt-4o", "input").observe(count)
    assert samples(lean_registry) == samples(native_registry)
    assert lean_registry.get_sample_value(
        "gen_ai_client_operation_duration_seconds_count",
        {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai", "gen_ai_request_model": "a/gpt-4o",
         "error_type": ""},
    ) == len(OBSERVED)  # fmt: skip


def test_a_series_appears_once_observed() -> None:
    registry = CollectorRegistry()
    histograms = GenAIHistograms(registry)
    assert not any("gen_ai_server_request_duration_seconds_count" in line for line in samples(registry))
    histograms.server_duration.observe(0.2, ("chat", "-", ""))
    assert 'gen_ai_server_request_duration_seconds_count{error_type="",gen_ai_operation_name="chat",' in "".join(
        samples(registry)
    )
