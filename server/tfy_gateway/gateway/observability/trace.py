"""`Trace`: what the pipeline's stages tell tracing about one request, and the trace it belongs to.

This base class is the trace of a gateway that records no spans but was handed a `traceparent`: it
passes the client's context on to the provider unchanged (as the W3C spec asks of a system that does
not take part) and gives the request log the client's trace id, at no further cost. `tracing.SpanTrace`
records the spans. A request with neither has no trace at all (`RequestContext.trace is None`), and
the pipeline skips every call below.

The stages call: `reserve` around the limit check, `attempt` before each upstream call (its `headers`
go upstream) with `failed`/`answered` after it, `guardrails` with the request's guardrail runs (the
seam for the guardrails stage: an `apply_guardrail` span each), and `finish` once, from the observe stage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from tfy_gateway.gateway.applied import AppliedRule
from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.config import CatalogEntry
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.limits import Reservation
from tfy_gateway.gateway.observability.trace_context import TraceParent
from tfy_gateway.gateway.providers import UpstreamResponse, UpstreamStream, Usage
from tfy_gateway.gateway.routing import Attempt, PlanResult, RoutePlan

R = TypeVar("R")
Answer = UpstreamResponse | UpstreamStream


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _Options(Protocol):
    @property
    def metadata(self) -> Mapping[str, str]: ...


class GuardrailRun(Protocol):
    """What tracing reads of one guardrail run (`guardrails.checks.Check` has it all); `started` is
    its `time.perf_counter()` when it began."""

    @property
    def guardrail(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def result(self) -> str: ...
    @property
    def operation(self) -> str | None: ...
    @property
    def strategy(self) -> str | None: ...
    @property
    def message(self) -> str | None: ...
    @property
    def started(self) -> float: ...
    @property
    def latency_ms(self) -> float: ...


class RequestFacts(Protocol):
    """What tracing reads of a request when it ends (`data_plane.context.RequestContext` has it all)."""

    @property
    def id(self) -> str: ...
    @property
    def endpoint(self) -> _Named: ...
    @property
    def model(self) -> str | None: ...
    @property
    def body(self) -> dict[str, Any]: ...
    @property
    def raw(self) -> bytes: ...
    @property
    def principal(self) -> Principal | None: ...
    @property
    def options(self) -> _Options: ...
    @property
    def stream(self) -> bool: ...
    @property
    def plan(self) -> RoutePlan | None: ...
    @property
    def result(self) -> PlanResult | None: ...
    @property
    def status(self) -> int: ...
    @property
    def error(self) -> ApiError | None: ...
    @property
    def usage(self) -> Usage | None: ...
    @property
    def cost(self) -> float | None: ...
    @property
    def ttft_s(self) -> float | None: ...
    @property
    def limits_applied(self) -> tuple[AppliedRule, ...]: ...


class AttemptTrace:
    """One upstream call: `headers` go with it (the trace context the provider continues)."""

    __slots__ = ("headers",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = headers

    def failed(self, status: int, error: ApiError) -> None:
        return None

    def answered(self, answer: Answer) -> None:
        return None


NO_HEADERS: Mapping[str, str] = {}


class Trace:
    """A request's trace context, passed through (see the module docstring)."""

    __slots__ = ("_attempt", "parent")

    def __init__(self, parent: TraceParent | None) -> None:
        self.parent = parent
        self._attempt = AttemptTrace(parent.headers() if parent is not None else NO_HEADERS)

    @property
    def trace_id(self) -> str | None:
        """The id of the trace the request belongs to (32 hex digits), for the request log."""
        return self.parent.trace_id if self.parent is not None else None

    @property
    def records_request_data(self) -> bool:
        """Prompts and completions go into the trace (the config's `exclude_request_data: false`)."""
        return False

    def streamed_output(self, text: str | None) -> None:
        """The text a stream sent, kept when `records_request_data`."""
        return None

    async def reserve(self, reserve: Callable[[R], Awaitable[Reservation | None]], request: R) -> Reservation | None:
        return await reserve(request)

    def attempt(self, attempt: Attempt, entry: CatalogEntry, request: RequestFacts) -> AttemptTrace:
        return self._attempt

    def guardrails(self, checks: Iterable[GuardrailRun]) -> None:
        """The guardrails that ran on the request, all at once (one call a request, not one a check)."""
        return None

    def finish(self, request: RequestFacts) -> None:
        return None
