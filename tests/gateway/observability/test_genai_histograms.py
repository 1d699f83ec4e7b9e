"""`GenAIHistograms` keeps its own bucket lists: a scrape must read exactly what prometheus_client's own
`Histogram` shows for the same observations (buckets with `le`, count, sum)."""

from __future__ import annotations

import random
from bisect import bisect_left

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from tfy_gateway.gateway.observability.genai_histograms import GenAIHistograms, fold
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


def test_a_held_list_is_shown_once_it_counted_a_value_and_read_at_each_scrape() -> None:
    """A shape holds a series' list of waiting values before its first observation: the series is not
    shown until a value was counted, and a scrape counts what waits (no value is left out)."""
    registry = CollectorRegistry()
    histograms = GenAIHistograms(registry)
    waiting = histograms.client_duration.held(("chat", "openai", "a/gpt-4o", ""))
    assert not any("gen_ai_client_operation_duration_seconds_count" in line for line in samples(registry))
    waiting.extend([0.2, 0.3])
    assert (
        'gen_ai_client_operation_duration_seconds_count{error_type="",gen_ai_operation_name="chat",'
        'gen_ai_provider_name="openai",gen_ai_request_model="a/gpt-4o"} 2.0'
    ) in samples(registry)
    waiting.append(0.4)
    assert any(line.endswith("} 3.0") and "operation_duration_seconds_count" in line for line in samples(registry))


@pytest.mark.parametrize("bounds", [DURATION_BUCKETS, TOKEN_BUCKETS])
def test_folding_values_together_counts_them_as_one_by_one(bounds: tuple[float, ...]) -> None:
    """The sum (to the last bit) and the buckets of values folded in batches of any size are those of
    adding each in turn: values on a bound, between, below the first and above the last, repeated."""
    floats = tuple(float(bound) for bound in bounds)
    draw = random.Random(10)
    pool = [*bounds, 0, *(draw.uniform(0, bounds[-1] * 1.5) for _ in range(40)), bounds[0] / 3, bounds[-1] * 2]
    if bounds is TOKEN_BUCKETS:
        pool = [int(value) for value in pool]
    one_by_one, together = [0.0] + [0] * (len(bounds) + 1), [0.0] + [0] * (len(bounds) + 1)
    for size in (1, 9, 100, 1, 250):
        values = [draw.choice(pool) for _ in range(size)]
        for value in values:
            one_by_one[0] += value
            one_by_one[bisect_left(floats, value) + 1] += 1
        fold(together, floats, values)
        assert values == []
        assert together == one_by_one
    assert sum(together[1:]) == 361


def test_a_series_appears_once_observed() -> None:
    registry = CollectorRegistry()
    histograms = GenAIHistograms(registry)
    assert not any("gen_ai_server_request_duration_seconds_count" in line for line in samples(registry))
    histograms.server_duration.observe(0.2, ("chat", "-", ""))
    assert 'gen_ai_server_request_duration_seconds_count{error_type="",gen_ai_operation_name="chat",' in "".join(
        samples(registry)
    )
