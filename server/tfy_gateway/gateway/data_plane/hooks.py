"""The pipeline's extension points for policies that admit or inspect every request.

`Limits` (rate limits and budgets) reserve at admission and settle once the request ended;
`Guardrails` inspect the input before any upstream call and the output before it is returned. Both
get the request context read-only and refuse by raising an `ApiError` (429, 400, ...). The data
plane's limits default to `limiting.PolicyLimits` (rate limits and budgets); `AdmitAll` and `NoGuardrails`
admit everything.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.limits import Reservation


class Limits(Protocol):
    async def reserve(self, request: RequestContext) -> Reservation | None:
        """Admit the request (holding 1 request, estimated tokens and cost) or raise a 429 ApiError."""

    def settle(self, reservation: Reservation, request: RequestContext) -> Awaitable[None] | None:
        """Replace the held amounts by the real usage; with no usage (a failure) release them.

        Called exactly once per reservation, whatever happened to the request. Returns None when the
        work is done, or an awaitable (an `async def settle` returns one) that the pipeline awaits to
        its end, shielded from cancellation (which costs a task: the in-memory store needs none).
        """


class Guardrails(Protocol):
    async def check_input(self, request: RequestContext) -> None:
        """Raise an ApiError to refuse the request before any upstream call."""

    async def check_output(self, request: RequestContext, output: Any) -> None:
        """Raise an ApiError to withhold a non-streamed answer (`output` is the OpenAI-format body)."""


class AdmitAll:
    """No rate limits or budgets: nothing is reserved, so there is nothing to settle."""

    async def reserve(self, request: RequestContext) -> Reservation | None:
        return None

    def settle(self, reservation: Reservation, request: RequestContext) -> Awaitable[None] | None:
        return None


class NoGuardrails:
    async def check_input(self, request: RequestContext) -> None:
        return None

    async def check_output(self, request: RequestContext, output: Any) -> None:
        return None
