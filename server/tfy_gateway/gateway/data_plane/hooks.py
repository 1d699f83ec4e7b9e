"""The pipeline's extension points for policies that admit or inspect every request.

`Limits` (rate limits and budgets) reserve at admission and settle once the request ended;
`Guardrails` start a `GuardrailSession` for a request they apply to: it checks (and may rewrite) the
input before the model call, finishes input validation alongside it, and checks the answer before it
goes out. Both get the request context read-only and refuse by raising an `ApiError` (429, 400,
...); what a session rewrites it returns, and the pipeline writes it into the context. The data
plane's defaults are `limiting.PolicyLimits` and `guarding.PolicyGuardrails` (the applied rate
limits, budgets and guardrails); `AdmitAll` and `NoGuardrails` admit everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Protocol, TypeVar

from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.guardrails.checks import GuardrailReport
from tfy_gateway.gateway.limits import Reservation

T = TypeVar("T")


class Limits(Protocol):
    async def reserve(self, request: RequestContext) -> Reservation | None:
        """Admit the request (holding 1 request, estimated tokens and cost) or raise a 429 ApiError."""

    def settle(self, reservation: Reservation, request: RequestContext) -> Awaitable[None] | None:
        """Replace the held amounts by the real usage; with no usage (a failure) release them.

        Called exactly once per reservation, whatever happened to the request. Returns None when the
        work is done, or an awaitable (an `async def settle` returns one) that the pipeline awaits to
        its end, shielded from cancellation (which costs a task: the in-memory store needs none).
        """


class GuardrailSession(Protocol):
    """The guardrails of one request, from admission to the answer."""

    @property
    def report(self) -> GuardrailReport:
        """What ran and how it went (the request log, /metrics and the response headers read it)."""
        ...

    @property
    def checks_output(self) -> bool:
        """Whether the answer is checked (a stream is then held until its checks pass)."""
        ...

    async def check_input(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Before the model call: the rewritten body (None: unchanged), or raise an ApiError."""

    async def alongside(self, work: Awaitable[T]) -> T:
        """`work` (routing and the model call) while input checks still running finish; raise an
        ApiError to discard its answer."""
        ...

    async def check_output(self, body: Mapping[str, Any], answer: dict[str, Any]) -> dict[str, Any] | None:
        """The rewritten answer (None: unchanged), or raise an ApiError to withhold it."""

    def close(self) -> None:
        """The request ended: stop whatever still runs."""


class Guardrails(Protocol):
    def start(self, request: RequestContext) -> GuardrailSession | None:
        """The request's guardrails, or None when none apply (then the stage costs nothing more)."""


class AdmitAll:
    """No rate limits or budgets: nothing is reserved, so there is nothing to settle."""

    async def reserve(self, request: RequestContext) -> Reservation | None:
        return None

    def settle(self, reservation: Reservation, request: RequestContext) -> Awaitable[None] | None:
        return None


class NoGuardrails:
    def start(self, request: RequestContext) -> GuardrailSession | None:
        return None
