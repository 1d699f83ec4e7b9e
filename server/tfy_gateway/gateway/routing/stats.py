"""Per-target latency samples for latency-based routing (local to this process)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class LatencyView:
    samples: int
    mean_tpot_ms: float | None


class _Window:
    """Samples of one target: at most `max_calls`, none older than `max_age_s`; running sum."""

    __slots__ = ("_samples", "_sum")

    def __init__(self, max_calls: int) -> None:
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_calls)
        self._sum = 0.0

    def add(self, now: float, value: float) -> None:
        if len(self._samples) == self._samples.maxlen:
            self._sum -= self._samples[0][1]
        self._samples.append((now, value))
        self._sum += value

    def view(self, now: float, max_age_s: float) -> LatencyView:
        samples = self._samples
        horizon = now - max_age_s
        while samples and samples[0][0] < horizon:
            self._sum -= samples.popleft()[1]
        if not samples:
            self._sum = 0.0  # no float drift survives an empty window
            return LatencyView(0, None)
        return LatencyView(len(samples), self._sum / len(samples))


class LatencyStats:
    def __init__(self, *, max_calls: int, max_age_s: float) -> None:
        self._windows: dict[str, _Window] = {}
        self._max_calls = max_calls
        self._max_age_s = max_age_s

    def record(self, target: str, now: float, tpot_ms: float) -> None:
        window = self._windows.get(target)
        if window is None:
            window = self._windows[target] = _Window(self._max_calls)
        window.add(now, tpot_ms)

    def view(self, target: str, now: float) -> LatencyView:
        window = self._windows.get(target)
        return window.view(now, self._max_age_s) if window is not None else LatencyView(0, None)
