"""`CircuitBreaker`: stop calling a store that keeps failing, and probe it again after a cool-down.

Closed: every call goes through; `failures` consecutive failures open it. Open: no call goes
through (callers take their fallback at once, never waiting on a dead store) until `cooldown_s`
has passed; then exactly one call, the probe, goes through (half-open). Its success closes the
breaker, its failure opens it for another cool-down. The breaker reads no clock but the one given,
so tests drive it by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    def __init__(self, failures: int = 3, cooldown_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1:
            raise ValueError("failures must be at least 1")
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.state: BreakerState = "closed"
        self._consecutive = 0
        self._opened_at = 0.0

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    def allow(self) -> bool:
        """May a call go through now? In the open state, the first call after the cool-down is the probe."""
        if self.state == "closed":
            return True
        if self.state == "open" and self.clock() - self._opened_at >= self.cooldown_s:
            self.state = "half-open"
            return True
        return False

    def success(self) -> bool:
        """Record a call that worked; True when this closes an open breaker (the store is back)."""
        self._consecutive = 0
        if self.state == "closed":
            return False
        self.state = "closed"
        return True

    def failure(self) -> bool:
        """Record a call that failed; True when this opens a closed breaker (the store is gone)."""
        self._consecutive += 1
        if self.state == "half-open" or (self.state == "closed" and self._consecutive >= self.failures):
            opening = self.state == "closed"
            self.state = "open"
            self._opened_at = self.clock()
            return opening
        return False

    def abandon(self) -> None:
        """A call that ended without an answer (cancelled): a probe gives its turn to the next call."""
        if self.state == "half-open":
            self.state = "open"
