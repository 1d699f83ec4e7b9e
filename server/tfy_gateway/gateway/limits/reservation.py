"""`Reservation`: what admission held for one request, handed back when it settles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reservation:
    """The counters a request was admitted against and the amounts held on each (request, tokens, cost)."""

    holds: tuple[Any, ...] = ()
