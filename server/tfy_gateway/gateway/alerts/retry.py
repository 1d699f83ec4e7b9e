"""`RetryPolicy`: how long a failed delivery waits before its next attempt, and when to give up.

Exponential backoff: `base_s`, then twice that, and so on, capped at `max_s`; after `max_attempts`
attempts the delivery is marked failed and stays visible with its last error.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 5.0
    max_s: float = 600.0
    max_attempts: int = 10

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.max_s < self.base_s or self.max_attempts < 1:
            raise ValueError(
                f"retry policy needs 0 < base_s <= max_s and max_attempts >= 1, got base_s={self.base_s}, "
                f"max_s={self.max_s}, max_attempts={self.max_attempts}"
            )

    def delay(self, attempts: int) -> float | None:
        """Seconds to wait after the `attempts`-th failed attempt; None when no attempt is left."""
        if attempts >= self.max_attempts:
            return None
        return min(self.max_s, self.base_s * 2.0 ** min(attempts - 1, 60))
