"""Lean records of the spans every traced request ends with, built on the event loop with the raw
values their attributes come from; `otlp_encoding` writes them straight to protobuf in the export
thread. A `RecordedSpan` with its attribute dicts stays the general form (errors, streams, request
data, tests); these are what a request that went well leaves behind, at a fraction of the objects:
one tuple a span, whatever repeats from request to request kept in a shared shape.

Each record's `attributes()` is what the `RecordedSpan` of the same span would hold (start
attributes and end attributes together, in order): the slow path of export filters, and what tests
compare the encoder's output with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tfy_gateway.gateway.observability import genai as g
from tfy_gateway.gateway.observability.spans import CLIENT, SERVER, RecordedSpan, SharedAttributes

if TYPE_CHECKING:
    from tfy_gateway.gateway.applied import Headroom
    from tfy_gateway.gateway.providers import Usage

GuardrailTemplate = tuple[Callable[..., bytes], bytes, bytes, bytes, bytes]
"""A guardrail shape's encoding: a struct's pack and the constant parts it is called with."""


class GuardrailShape:
    """What every `apply_guardrail` span of one guardrail, stage, result and message shares: its name,
    start attributes and result event's attributes. `template` is the encoder's (its export thread's
    only): the span's encoding around the few fields that change from run to run."""

    __slots__ = ("attributes", "event", "name", "template")

    def __init__(self, name: str, attributes: SharedAttributes, event: SharedAttributes) -> None:
        self.name = name
        self.attributes = attributes
        self.event = event
        self.template: GuardrailTemplate | None = None


class GuardrailSpan(tuple[int, int, int, str, int, int, float, int, GuardrailShape]):
    """An ended `apply_guardrail` span as one tuple: (trace_id, span_id, parent_id, trace_state,
    start_ns, end_ns, latency_ms, event_ns, shape). A request's guardrail runs were a `RecordedSpan`,
    an attribute dict and an event list each; this is one object the encoder fills its shape's
    template with (read by position there)."""

    __slots__ = ()

    def recorded(self) -> RecordedSpan:
        trace_id, span_id, parent_id, state, start_ns, end_ns, latency_ms, event_ns, shape = self
        span = RecordedSpan(shape.name, CLIENT, trace_id, span_id, parent_id, start_ns, shape.attributes)
        span.trace_state = state
        span.end_ns = end_ns
        span.end_attributes = {g.TFY_GUARDRAIL_LATENCY_MS: latency_ms}
        span.events = [(g.GUARDRAIL_RESULT_EVENT, event_ns, shape.event)]
        return span

    def get(self, key: str) -> Any:
        """An attribute's value (None: not set): the slow path of export filters."""
        return self.recorded().get(key)


LimitEvent = tuple[int, SharedAttributes, "tuple[Headroom, ...]"]
"""The limit check's event on the request's span: its time, the outcome and rules' shared attributes,
and what was left under each kind of limit."""


class ServerSpan(tuple[Any, ...]):
    """The request's span when it ended below 400 and its request data is not recorded: (trace_id,
    span_id, parent_id, trace_state, start_ns, end_ns, name, shape, request_id, ttft_ms, cost, usage,
    limits). `shape` holds every attribute that repeats for the request's shape (`SharedAttributes`),
    `limits` is a `LimitEvent` or None; a parent id means a client's (remote) parent."""

    __slots__ = ()

    def recorded(self) -> RecordedSpan:
        trace_id, span_id, parent_id, state, start_ns, end_ns, name, shape, request_id, ttft_ms, cost, usage, limits = (
            self
        )
        span = RecordedSpan(
            name, SERVER, trace_id, span_id, parent_id, start_ns, shape, remote_parent=parent_id != 0, trace_state=state
        )
        attributes: dict[str, Any] = {g.REQUEST_ID: request_id}
        if ttft_ms is not None:
            attributes[g.TFY_TTFT_MS] = ttft_ms
        if cost is not None:
            attributes[g.TFY_COST] = cost
        usage_attributes(attributes, usage, tfy=False)
        span.end(end_ns, attributes)
        if limits is not None:
            span.add_event(g.LIMIT_EVENT, limits[0], limit_attributes(limits))
        return span

    def get(self, key: str) -> Any:
        """An attribute's value (None: not set): the slow path of export filters."""
        return self.recorded().get(key)


class AnsweredSpan(tuple[Any, ...]):
    """An upstream call's span when the provider answered a plain (not streamed) call: (trace_id,
    span_id, parent_id, trace_state, start_ns, end_ns, name, start, response, status, usage, latency_ms).
    `start` are its start attributes (a route and target's `SharedAttributes`, or those with the
    request's parameters), `response` the answer's `gen_ai.response.*` pairs (taken on the loop: the
    answer itself, possibly large, is not kept until the export)."""

    __slots__ = ()

    def recorded(self) -> RecordedSpan:
        trace_id, span_id, parent_id, state, start_ns, end_ns, name, start, response, status, usage, latency_ms = self
        span = RecordedSpan(name, CLIENT, trace_id, span_id, parent_id, start_ns, start, trace_state=state)
        attributes = dict(response)
        attributes["http.response.status_code"] = status
        usage_attributes(attributes, usage)
        attributes[g.TFY_LATENCY_MS] = latency_ms
        span.end(end_ns, attributes)
        return span

    def get(self, key: str) -> Any:
        """An attribute's value (None: not set): the slow path of export filters."""
        return self.recorded().get(key)


class RequestSpans(tuple[AnsweredSpan, tuple[GuardrailSpan, ...], ServerSpan]):
    """Every span of a request that went well, as one queued item: (call, guardrails, server), the
    upstream call's answered span, its guardrail runs' spans and the request's own span, all of one
    trace without trace state, the call and the guardrail runs children of the request's span. The
    queue takes and frees one object a request instead of four, and the encoder writes the request
    from one template per request shape (`otlp_requests`). `spans()` are the same spans one by one, in
    the order they ended: the general path (filters, a queue with room for some of them only, a shape
    the template does not cover) and what tests compare with."""

    __slots__ = ()

    @property
    def span_count(self) -> int:
        """How many spans it stands for (what the queue's size and batches count)."""
        return len(self[1]) + 2

    def spans(self) -> list[SpanRecord]:
        call, guardrails, server = self
        return [call, *guardrails, server]


SpanRecord = RecordedSpan | GuardrailSpan | ServerSpan | AnsweredSpan
"""One span, as the encoder writes it."""

QueuedSpan = SpanRecord | RequestSpans
"""What the export queue holds: a span, or every span of a request."""


def usage_attributes(attributes: dict[str, Any], usage: Usage | None, *, tfy: bool = True) -> None:
    """Add the usage attributes (the conventions', and the platform's unless `tfy` is false)."""
    if usage is not None:
        attributes.update(usage_items(usage, tfy=tfy))


def usage_items(usage: Usage, *, tfy: bool = True) -> list[tuple[str, Any]]:
    """The usage attributes in order: the conventions' token counts (cache and reasoning ones when not
    zero), then the platform's unless `tfy` is false."""
    prompt, completion = usage.prompt_tokens, usage.completion_tokens
    cached, cache_write = usage.cached_tokens, usage.cache_write_tokens
    found: list[tuple[str, Any]] = [(g.INPUT_TOKENS, prompt), (g.OUTPUT_TOKENS, completion)]
    if cached or cache_write or usage.reasoning_tokens:
        if cached:
            found.append((g.CACHE_READ_TOKENS, cached))
        if cache_write:
            found.append((g.CACHE_CREATION_TOKENS, cache_write))
        if usage.reasoning_tokens:
            found.append((g.REASONING_TOKENS, usage.reasoning_tokens))
    if tfy:
        found += ((g.TFY_INPUT_TOKENS, prompt), (g.TFY_OUTPUT_TOKENS, completion))
        if cached:
            found.append((g.TFY_CACHE_READ_TOKENS, cached))
        if cache_write:
            found.append((g.TFY_CACHE_CREATION_TOKENS, cache_write))
    return found


def limit_attributes(event: LimitEvent) -> dict[str, Any]:
    """The limit event's attributes: outcome and rules, then what is left of each kind and its limit."""
    attributes: dict[str, Any] = {**event[1]}
    for room in event[2]:
        attributes[f"tfy_gateway.limits.remaining.{room.name}"] = room.remaining
        attributes[f"tfy_gateway.limits.limit.{room.name}"] = room.limit
    return attributes
