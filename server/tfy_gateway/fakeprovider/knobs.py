"""Behaviour knobs of the fake provider and the deterministic fault schedule.

The knob syntax is documented in the package docstring (`tfy_gateway.fakeprovider`). This module only
parses a spec string (`latency_ms=50,status=503`) into a `Knobs` value and decides, per request,
whether an error is injected.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any


class KnobError(ValueError):
    """A knob spec could not be parsed; the message names the knob and the allowed values."""


@dataclass(frozen=True)
class Knobs:
    latency_ms: float = 0.0
    ttft_ms: float = 0.0
    tpot_ms: float = 0.0
    tokens: int | None = None
    chunk_tokens: int = 1
    status: int | None = None
    error_every: int = 0
    error_rate: float = 0.0
    fail_first: int = 0
    seed: int = 0
    retry_after: float | None = None
    api_key: str | None = None
    drop_after: int | None = None
    cut_after: int | None = None
    linger_ms: float = 0.0
    cached_tokens: int = 0
    context_tokens: int | None = None
    error_after: int | None = None

    @property
    def injects_errors(self) -> bool:
        return self.status is not None or self.retry_after is not None or self.error_rate > 0

    @property
    def error_status(self) -> int:
        if self.status is not None:
            return self.status
        return 429 if self.retry_after is not None else 500


def _non_negative_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise KnobError(f"knob {name}={raw!r}: expected a number of milliseconds/seconds >= 0") from None
    if value < 0:
        raise KnobError(f"knob {name}={raw!r}: must be >= 0")
    return value


def _non_negative_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise KnobError(f"knob {name}={raw!r}: expected an integer >= 0") from None
    if value < 0:
        raise KnobError(f"knob {name}={raw!r}: must be >= 0")
    return value


def _positive_int(name: str, raw: str) -> int:
    value = _non_negative_int(name, raw)
    if value == 0:
        raise KnobError(f"knob {name}={raw!r}: must be >= 1")
    return value


def _status(name: str, raw: str) -> int:
    value = _non_negative_int(name, raw)
    if not 400 <= value <= 599:
        raise KnobError(f"knob {name}={raw!r}: expected an HTTP error status between 400 and 599")
    return value


def _rate(name: str, raw: str) -> float:
    value = _non_negative_float(name, raw)
    if value > 1:
        raise KnobError(f"knob {name}={raw!r}: expected a fraction between 0 and 1")
    return value


def _text(name: str, raw: str) -> str:
    if not raw:
        raise KnobError(f"knob {name}: expected a non-empty value")
    return raw


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "latency_ms": _non_negative_float,
    "ttft_ms": _non_negative_float,
    "tpot_ms": _non_negative_float,
    "tokens": _non_negative_int,
    "chunk_tokens": _positive_int,
    "status": _status,
    "error_every": _non_negative_int,
    "error_rate": _rate,
    "fail_first": _non_negative_int,
    "seed": _non_negative_int,
    "retry_after": _non_negative_float,
    "api_key": _text,
    "drop_after": _non_negative_int,
    "cut_after": _non_negative_int,
    "linger_ms": _non_negative_float,
    "cached_tokens": _non_negative_int,
    "context_tokens": _positive_int,
    "error_after": _non_negative_int,
}
assert set(_PARSERS) == {f.name for f in fields(Knobs)}

KNOB_NAMES = tuple(_PARSERS)


def parse_spec(spec: str) -> dict[str, Any]:
    """Parse `k=v,k=v` into typed values; an empty spec gives no knobs."""
    values: dict[str, Any] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep:
            raise KnobError(f"knob {item!r}: expected name=value (e.g. latency_ms=50)")
        parser = _PARSERS.get(name)
        if parser is None:
            raise KnobError(f"unknown knob {name!r}; known knobs: {', '.join(KNOB_NAMES)}")
        values[name] = parser(name, raw.strip())
    return values


def split_model(model: str) -> tuple[str, str]:
    """`gpt-4o@tokens=5` -> (`gpt-4o`, `tokens=5`)."""
    base, _, spec = model.partition("@")
    return base, spec


class KnobBook:
    """Parsed knobs (cached per spec pair) and the per-spec request counters behind fault injection.

    Counters are keyed by the exact spec strings, so each knob set has its own deterministic sequence;
    `reset()` restarts every sequence.
    """

    _MAX_CACHED = 4096

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Knobs] = {}
        self._counters: dict[tuple[str, str], int] = {}
        self._rngs: dict[tuple[str, str], random.Random] = {}

    def knobs(self, path_spec: str, model_spec: str) -> Knobs:
        key = (path_spec, model_spec)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        merged = parse_spec(path_spec)
        merged.update(parse_spec(model_spec))  # the model id is more specific than the path
        knobs = Knobs(**merged)
        if len(self._cache) >= self._MAX_CACHED:
            self._cache.clear()
        self._cache[key] = knobs
        return knobs

    def should_fail(self, path_spec: str, model_spec: str, knobs: Knobs) -> bool:
        """Decide deterministically whether this request gets the injected error.

        With `fail_first`, `error_every` or `error_rate` only those requests fail (any of them);
        with none of them every request fails.
        """
        if not knobs.injects_errors and not (knobs.fail_first or knobs.error_every):
            return False
        key = (path_spec, model_spec)
        n = self._counters.get(key, 0) + 1
        self._counters[key] = n
        sequenced = knobs.fail_first or knobs.error_every or knobs.error_rate
        if not sequenced:
            return True
        if knobs.fail_first and n <= knobs.fail_first:
            return True
        if knobs.error_every and n % knobs.error_every == 0:
            return True
        if knobs.error_rate:
            rng = self._rngs.get(key)
            if rng is None:
                rng = self._rngs[key] = random.Random(knobs.seed)
            return rng.random() < knobs.error_rate
        return False

    def reset(self) -> None:
        self._counters.clear()
        self._rngs.clear()
