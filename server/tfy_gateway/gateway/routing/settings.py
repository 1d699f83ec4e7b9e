"""The engine's tunables, with the documented defaults (references/routing.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoutingSettings:
    # Latency-based routing: mean time per output token over a window that is the smaller of
    # `latency_window_s` and the last `latency_window_calls` successful calls of a target.
    latency_window_s: float = 20 * 60
    latency_window_calls: int = 100
    latency_min_samples: int = 3
    latency_fast_ratio: float = 1.2
    # Health: `failure_threshold` failures (408, 429, 5xx) within `failure_window_s` mark a target
    # unhealthy for `failure_cooldown_s`; one response above a priority target's sla_cutoff marks it
    # unhealthy (for that rule) for `sla_cooldown_s`.
    failure_threshold: int = 3
    failure_window_s: float = 60.0
    failure_cooldown_s: float = 60.0
    sla_cooldown_s: float = 60.0
    # Retries and fallback: upstream calls per request, retries and fallbacks included.
    max_total_attempts: int = 10
    # An upstream `retry-after` longer than this is waited for this long only.
    retry_after_cap_s: float = 5.0
    # Requested models whose candidate rules are memoised (cleared when full; refilled on demand).
    model_cache_size: int = 10_000
