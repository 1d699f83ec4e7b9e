"""Spans of one data-plane request (this module is imported only when traces are exported).

One SERVER span per request (`POST /api/llm/chat/completions`, the platform's `ChatCompletion` span)
under the client's `traceparent` when it sent one; one CLIENT span per upstream call, named
`{gen_ai.operation.name} {gen_ai.request.model}` (`chat gpt-4o`) with the GenAI attributes, siblings
under the server span, so retries and fallbacks read as attempts 1, 2, ... with their routing rule and
target; the limit check is an event on the server span; each guardrail an `apply_guardrail` span.
A streamed attempt's span stays open until the stream ended (its usage and finish reason are known
then). Prompts and completions (`tfy.input`, `tfy.output`, `tfy.input_short_hand`) are written only
when the spec asks for them (`exclude_request_data: false`); credentials never are.

Spans are recorded as plain data and encoded in the export thread, not with the OpenTelemetry SDK's
span objects: those cost more per request than the rest of the pipeline's tracing work together (see
references/performance.md#tracing). A request that went well leaves one `span_records` tuple a span
(raw values and shared shapes; their attributes are written in the export thread), queued together as
one `RequestSpans` when they are one answered call, its guardrail runs and the request's span; errors,
streams, cancelled calls and request data leave `spans.RecordedSpan`s. What a collector receives is the
same.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson

from tfy_gateway.gateway.applied import AppliedRule, Headroom
from tfy_gateway.gateway.caller_memo import CallerMemo
from tfy_gateway.gateway.config import CatalogEntry
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.limits import Reservation
from tfy_gateway.gateway.observability import genai as g
from tfy_gateway.gateway.observability import span_shapes
from tfy_gateway.gateway.observability.export import ExportCounts, SpanQueue
from tfy_gateway.gateway.observability.otlp_requests import RequestEncoder
from tfy_gateway.gateway.observability.span_records import (
    AnsweredSpan,
    GuardrailShape,
    GuardrailSpan,
    LimitEvent,
    RequestSpans,
    ServerSpan,
    SpanRecord,
    limit_attributes,
    usage_attributes,
)
from tfy_gateway.gateway.observability.span_senders import span_sender
from tfy_gateway.gateway.observability.spans import (
    CLIENT,
    SERVER,
    RecordedSpan,
    SharedAttributes,
    new_ids,
    new_span_id,
    sampled,
)
from tfy_gateway.gateway.observability.spec import TracesSpec
from tfy_gateway.gateway.observability.trace import (
    NO_HEADERS,
    Answer,
    AttemptTrace,
    GuardrailRun,
    R,
    RequestFacts,
    Trace,
)
from tfy_gateway.gateway.observability.trace_context import TraceParent
from tfy_gateway.gateway.providers import UpstreamStream
from tfy_gateway.gateway.routing import Attempt

INSTRUMENTATION = "tfy_gateway"
STARTS_LIMIT = 1024


class TracePipeline:
    """The sampling and export queue of one `TracesSpec`. Replaced when the configuration's spec
    changes; the old one is closed once the requests that started under it have finished."""

    def __init__(self, spec: TracesSpec, counts: ExportCounts) -> None:
        self.spec = spec
        sender = span_sender(spec.target, spec.batching.export_timeout_s)
        encoder = RequestEncoder(dict(spec.resource), INSTRUMENTATION)
        self.queue = SpanQueue(sender, encoder, spec.batching, counts, filters=spec.filters, where=spec.target.shown)
        self.active = 0  # requests whose trace is not finished yet
        self.retired = False  # a newer spec took over: close when `active` reaches 0
        self.on_idle: Callable[[TracePipeline], None] | None = None  # called once retired and idle
        # Span names and start attributes by what decides them (route; target and attempt): built once,
        # shared by the spans (never mutated: `RecordedSpan.end` copies on a clash), and the encoder
        # finds their encoding in its cache. Bounded: emptied when full.
        self.starts: dict[tuple[Any, ...], tuple[str, SharedAttributes]] = {}
        # The server span's attributes by request shape (route, status, model, caller, metadata, rules):
        # see SpanTrace._server_shape. Bounded the same way.
        self.shapes: CallerMemo[SharedAttributes] = CallerMemo(STARTS_LIMIT)
        # A guardrail span's name, start attributes and event attributes, by guardrail, stage and result.
        self.guardrails: dict[tuple[Any, ...], GuardrailShape] = {}
        # An upstream call's start attributes with the request's parameters (max_tokens, temperature...),
        # by the target's shared attributes (identity) and the body's parameter fields with their types:
        # applications repeat theirs, and a shared dict is one lookup for the encoder instead of a new dict.
        self.parameterised: dict[tuple[Any, ...], tuple[SharedAttributes, SharedAttributes]] = {}

    def start(
        self, key: tuple[Any, ...], build: Callable[[], tuple[str, dict[str, Any]]]
    ) -> tuple[str, SharedAttributes]:
        """The span name and start attributes for `key`, built by `build` the first time."""
        found = self.starts.get(key)
        if found is None:
            if len(self.starts) >= STARTS_LIMIT:
                self.starts.clear()
            name, attributes = build()
            found = self.starts[key] = (name, SharedAttributes(attributes))
        return found

    def guardrail_start(
        self, key: tuple[Any, ...], build: Callable[[], tuple[str, dict[str, Any], dict[str, Any]]]
    ) -> GuardrailShape:
        """A guardrail span's name, start attributes and event attributes for `key`, built the first time."""
        found = self.guardrails.get(key)
        if found is None:
            if len(self.guardrails) >= STARTS_LIMIT:
                self.guardrails.clear()
            name, attributes, event = build()
            found = self.guardrails[key] = GuardrailShape(name, SharedAttributes(attributes), SharedAttributes(event))
        return found

    def with_parameters(
        self, shared: SharedAttributes, fields: tuple[tuple[str, Any, type], ...], body: dict[str, Any]
    ) -> SharedAttributes:
        """`shared` with the request parameters of `body` (whose `genai.parameter_fields` are `fields`),
        as one shared dict kept for the next request like it."""
        key = (id(shared), fields)
        try:
            found = self.parameterised.get(key)
        except TypeError:  # a value that is no key (a list of objects): built for this request only
            return SharedAttributes({**shared, **g.request_parameters(body)})
        if found is None or found[0] is not shared:
            if len(self.parameterised) >= STARTS_LIMIT:
                self.parameterised.clear()
            parameters = g.request_parameters(body)
            found = self.parameterised[key] = (
                shared,
                SharedAttributes({**shared, **parameters}) if parameters else shared,
            )
        return found[1]

    def begin(self, parent: TraceParent | None, endpoint: str, path: str, started_ns: int) -> SpanTrace:
        self.active += 1
        return SpanTrace(self, parent, endpoint, path, started_ns)

    def close(self) -> None:
        """Flush what is queued (bounded by the export timeout) and stop; blocking: run it in a thread."""
        self.queue.shutdown()


def _error(
    span: RecordedSpan, attributes: dict[str, Any], status: int, error: ApiError | None, *, is_error: bool
) -> None:
    attributes[g.ERROR_TYPE] = g.error_type(status, error)
    message = error.message if error is not None else f"HTTP {status}"
    attributes[g.TFY_ERROR_MESSAGE] = message
    if is_error:
        span.error = message


class AttemptSpan(AttemptTrace):
    """One upstream call's span, ended with the call (a stream: when the request ends). Until then it
    is its name, start attributes, id and start time; a plain answer ends it as one `AnsweredSpan`
    tuple, anything else (a failure, a stream, a cancelled call) as a `RecordedSpan`."""

    __slots__ = ("_answer", "_attributes", "_name", "_span_id", "_start_ns", "_started", "_trace")

    def __init__(self, trace: SpanTrace, name: str, attributes: dict[str, Any], span_id: int) -> None:
        self.headers = trace.headers_for(span_id)
        self._trace = trace
        self._name = name
        self._attributes = attributes
        self._span_id = span_id  # 0 once ended
        self._start_ns = time.time_ns()
        self._started = time.perf_counter()
        self._answer: UpstreamStream | None = None

    def _recorded(self) -> RecordedSpan:
        trace = self._trace
        return RecordedSpan(
            self._name,
            CLIENT,
            trace.trace_number,
            self._span_id,
            trace.span_id,
            self._start_ns,
            self._attributes,
            trace_state=trace.state,
        )

    def failed(self, status: int, error: ApiError) -> None:
        if not self._span_id:
            return
        span = self._recorded()
        attributes: dict[str, Any] = {"http.response.status_code": status}
        _error(span, attributes, status, error, is_error=True)
        self._end(span, attributes)

    def answered(self, answer: Answer) -> None:
        span_id = self._span_id
        if not span_id:
            return
        if isinstance(answer, UpstreamStream):
            self._answer = answer  # ended with the stream, from `finish`
            return
        trace = self._trace
        if trace.request_data:
            trace.output = answer.body
        self._span_id = 0
        if trace.sampled:
            latency_ms = (time.perf_counter() - self._started) * 1000
            trace.ended_record(
                AnsweredSpan(
                    (
                        trace.trace_number,
                        span_id,
                        trace.span_id,
                        trace.state,
                        self._start_ns,
                        time.time_ns(),
                        self._name,
                        self._attributes,
                        g.response_attributes(answer.body),
                        answer.status,
                        answer.usage,
                        latency_ms,
                    )
                )
            )

    def finish(self, request: RequestFacts) -> None:
        """End a span still open when the request ends: a stream (done or cut), or a call cancelled."""
        if not self._span_id:
            return
        span = self._recorded()
        stream = self._answer
        attributes: dict[str, Any] = {}
        if stream is None:
            attributes[g.ERROR_TYPE] = "cancelled"
            span.error = "the request ended before the provider answered"
        else:
            attributes["http.response.status_code"] = stream.status
            if stream.ttft is not None:
                attributes[g.TIME_TO_FIRST_CHUNK] = stream.ttft
                attributes[g.TFY_TTFT_MS] = stream.ttft * 1000
            if stream.finish_reason:
                attributes[g.FINISH_REASONS] = (stream.finish_reason,)
            usage_attributes(attributes, request.usage)
            if request.cost is not None:
                attributes[g.TFY_COST] = request.cost
            if not stream.completed or request.status >= 400:
                status = request.status if request.status >= 400 else 502
                _error(span, attributes, status, request.error, is_error=True)
        self._end(span, attributes)

    def _end(self, span: RecordedSpan, attributes: dict[str, Any]) -> None:
        self._span_id = 0
        attributes[g.TFY_LATENCY_MS] = (time.perf_counter() - self._started) * 1000
        self._trace.ended(span, attributes)


class SpanTrace(Trace):
    """A sampled or unsampled trace whose spans are recorded; a sampled one's spans are queued for
    export together when the request finishes (one call, not one per span)."""

    __slots__ = (
        "_attempts",
        "_ended",
        "_last_target",
        "_limit_events",
        "_name",
        "_parent_id",
        "_pipeline",
        "_route",
        "_start",
        "_start_ns",
        "_trace_hex",
        "output",
        "output_text",
        "request_data",
        "sampled",
        "span_id",
        "state",
        "trace_number",
    )

    def __init__(
        self, pipeline: TracePipeline, parent: TraceParent | None, endpoint: str, path: str, started_ns: int
    ) -> None:
        # not Trace.__init__: its pass-through attempt is needed only for a call without a target
        self.parent = parent
        self._pipeline = pipeline
        self.request_data = pipeline.spec.request_data  # read twice a request: a slot, not the property
        self._ended: list[SpanRecord] = []
        # The request's own span is these fields until it ends (as a `ServerSpan` tuple when it can)
        if parent is not None:
            trace_id, parent_id, self.sampled = int(parent.trace_id, 16), int(parent.span_id, 16), parent.sampled
            span_id = new_span_id()
            self.state = parent.tracestate or ""
        else:
            (trace_id, span_id), parent_id, self.state = new_ids(), 0, ""
            ratio = pipeline.spec.sample_ratio
            self.sampled = ratio >= 1 or sampled(trace_id, ratio)
        self.trace_number, self.span_id, self._parent_id, self._start_ns = trace_id, span_id, parent_id, started_ns
        self._trace_hex = f"{trace_id:032x}"
        key = self._route = (endpoint, path)
        found = pipeline.starts.get(key)
        self._name, self._start = (
            found if found is not None else pipeline.start(key, lambda: span_shapes.server_start(endpoint, path))
        )
        self._limit_events: list[LimitEvent] | None = None
        self._attempts: list[AttemptSpan] = []
        self._last_target: str | None = None
        self.output: dict[str, Any] | None = None  # the non-streamed answer, kept only for request data
        self.output_text: str | None = None  # the streamed answer's text, likewise

    @property
    def trace_id(self) -> str | None:
        return self._trace_hex

    def headers_for(self, span_id: int) -> dict[str, str]:
        """The trace context an upstream call under span `span_id` carries."""
        headers = {"traceparent": f"00-{self._trace_hex}-{span_id:016x}-{'01' if self.sampled else '00'}"}
        if self.state:
            headers["tracestate"] = self.state
        return headers

    def ended(self, span: RecordedSpan, attributes: dict[str, Any]) -> None:
        """`span` ended now with `attributes`: exported with the request's other spans when sampled."""
        span.end(time.time_ns(), attributes)
        if self.sampled:
            self._ended.append(span)

    def ended_record(self, span: AnsweredSpan) -> None:
        """A span that ended as a record (only a sampled trace makes them)."""
        self._ended.append(span)

    @property
    def records_request_data(self) -> bool:
        return self.request_data

    def streamed_output(self, text: str | None) -> None:
        self.output_text = text

    async def reserve(self, reserve: Callable[[R], Awaitable[Reservation | None]], request: R) -> Reservation | None:
        try:
            reservation = await reserve(request)
        except ApiError as exc:
            self._limits(exc.applied, exc.headroom, "refused")
            raise
        if reservation is not None and reservation.applied:
            self._limits(reservation.applied, reservation.headroom, "admitted")
        return reservation

    def _limits(self, applied: tuple[AppliedRule, ...], headroom: tuple[Headroom, ...], outcome: str) -> None:
        if not applied:
            return
        key = ("limits", outcome, applied)  # the rules' labels, built once per outcome and set of rules
        found = self._pipeline.starts.get(key)
        outcome_and_rules = (
            found if found is not None else self._pipeline.start(key, lambda: span_shapes.limit_rules(*key))
        )[1]
        event = (time.time_ns(), outcome_and_rules, headroom)  # its attributes are written in the export thread
        if self._limit_events is None:
            self._limit_events = [event]
        else:
            self._limit_events.append(event)

    def attempt(self, attempt: Attempt, entry: CatalogEntry, request: RequestFacts) -> AttemptTrace:
        target = entry.target
        if target is None:
            return AttemptTrace(self.parent.headers() if self.parent is not None else NO_HEADERS)
        number = len(self._attempts) + 1
        kind = "first" if number == 1 else "retry" if attempt.target == self._last_target else "fallback"
        self._last_target = attempt.target
        endpoint = request.endpoint.name
        plan = request.plan
        rule_id = plan.rule_id if plan is not None else None
        stream = request.stream
        key = (
            endpoint,
            attempt.target,
            stream,
            number,
            kind,
            rule_id,
            entry.provider,
            target.model_id,
            target.base_url,
        )

        found = self._pipeline.starts.get(key)
        name, shared = (
            found if found is not None else self._pipeline.start(key, lambda: span_shapes.attempt_start(*key))
        )
        fields = g.parameter_fields(request.body)
        if fields:
            shared = self._pipeline.with_parameters(shared, fields, request.body)
        traced = AttemptSpan(self, name, shared, random.getrandbits(64) or new_span_id())
        self._attempts.append(traced)
        return traced

    def guardrails(self, checks: Iterable[GuardrailRun]) -> None:
        if not self.sampled:
            return
        pipeline, state, ended = self._pipeline, self.state, self._ended
        trace_id, parent_id = self.trace_number, self.span_id
        found_by = pipeline.guardrails.get
        now_ns, now = time.time_ns(), time.perf_counter()  # one clock reading for every check
        for check in checks:
            # What decides the span's name, its attributes but the latency, and its event's: one shared
            # shape, found with one lookup; the span is one tuple of what changes from run to run
            key = (check.guardrail, check.stage, check.result, check.operation, check.strategy, check.message)
            shape = found_by(key)
            if shape is None:
                shape = pipeline.guardrail_start(key, functools.partial(span_shapes.guardrail_start, *key))
            start_ns = now_ns - int((now - check.started) * 1e9)
            latency_ms = check.latency_ms
            end_ns = start_ns + int(latency_ms * 1e6)
            span_id = random.getrandbits(64) or new_span_id()  # a zero id (never, in practice) is drawn again
            span = (trace_id, span_id, parent_id, state, start_ns, end_ns, latency_ms, now_ns, shape)
            ended.append(GuardrailSpan(span))

    def finish(self, request: RequestFacts) -> None:
        record: RequestSpans | None = None
        try:
            for attempt in self._attempts:
                if attempt._span_id:  # still open: a stream, or a call cut short
                    attempt.finish(request)
            if self.sampled:
                server = self._end_server(request)
                if server is not None:
                    record = self._request_spans(server)
                    if record is None:
                        self._ended.append(server)
        finally:
            # Whatever failed above, the spans that ended go out and the pipeline stops counting this
            # request (a retired pipeline closes when none is left). Each attempt refers to this trace:
            # without the list the request's objects are freed by reference counting, not left as a
            # cycle for the collector (about 10 µs a request).
            self._attempts = []
            pipeline = self._pipeline
            if record is not None:
                pipeline.queue.on_end_request(record)
            elif self._ended:
                pipeline.queue.on_end_all(self._ended)
            self._ended = []
            pipeline.active -= 1
            if pipeline.retired and pipeline.active == 0 and pipeline.on_idle is not None:
                pipeline.on_idle(pipeline)

    def _request_spans(self, server: ServerSpan) -> RequestSpans | None:
        """The request's spans as one record when they are what a request that went well ends with: one
        answered call, then its guardrail runs (None: they go out one by one)."""
        ended = self._ended
        if self.state or not ended or ended[0].__class__ is not AnsweredSpan:
            return None
        guardrails = tuple(ended[1:])
        for span in guardrails:
            if span.__class__ is not GuardrailSpan:
                return None
        return RequestSpans((ended[0], guardrails, server))  # type: ignore[arg-type]

    def _end_server(self, request: RequestFacts) -> ServerSpan | None:
        """End the request's span: as a `ServerSpan` record (returned) when it went well, else as a
        `RecordedSpan` among the ended spans (None)."""
        status = request.status or 500
        shape = self._server_shape(self._start, request, status)
        events = self._limit_events
        if status < 400 and not self.request_data and (events is None or len(events) == 1):
            ttft_s = request.ttft_s
            return ServerSpan(
                (
                    self.trace_number,
                    self.span_id,
                    self._parent_id,
                    self.state,
                    self._start_ns,
                    time.time_ns(),
                    self._name,
                    shape,
                    request.id,
                    ttft_s * 1000 if ttft_s is not None else None,
                    request.cost,
                    request.usage,
                    events[0] if events is not None else None,
                )
            )
        span = RecordedSpan(
            self._name,
            SERVER,
            self.trace_number,
            self.span_id,
            self._parent_id,
            self._start_ns,
            shape,
            remote_parent=self.parent is not None,
            trace_state=self.state,
        )
        for event in events or ():
            span.add_event(g.LIMIT_EVENT, event[0], limit_attributes(event))
        attributes: dict[str, Any] = {g.REQUEST_ID: request.id}
        if request.ttft_s is not None:
            attributes[g.TFY_TTFT_MS] = request.ttft_s * 1000
        if request.cost is not None and status < 400:
            attributes[g.TFY_COST] = request.cost
        if status < 400:
            usage_attributes(attributes, request.usage, tfy=False)
        else:
            _error(span, attributes, status, request.error, is_error=status >= 500)
        if self.request_data:
            self._request_data(request, attributes)
        self.ended(span, attributes)
        return None

    def _server_shape(self, start: dict[str, Any], request: RequestFacts, status: int) -> SharedAttributes:
        """The server span's start attributes and those of its end that repeat from request to request
        (status, model, caller, metadata, the rules that applied), built once for each such shape and
        shared: the encoder writes them with one lookup. What is new with every request stays apart.
        The caller and its metadata are found by identity (`caller_memo`)."""
        principal, plan, metadata = request.principal, request.plan, request.options.metadata
        rule_id = plan.rule_id if plan is not None else None
        applied, model, stream = request.limits_applied, request.model, request.stream
        extra = (self._route, status, model, rule_id, applied, stream)
        shapes = self._pipeline.shapes
        shape = shapes.get(principal, metadata, extra)
        if shape is None:
            subject = principal.subject if principal is not None else None
            caller = (status, model, subject, tuple(metadata.items()) if metadata else (), rule_id, applied, stream)
            shape = SharedAttributes({**start, **span_shapes.server_end(*caller)})
            shapes.put(principal, metadata, extra, shape)
        return shape

    def _request_data(self, request: RequestFacts, attributes: dict[str, Any]) -> None:
        if request.raw:
            attributes[g.TFY_INPUT] = g.clip(request.raw.decode("utf-8", "replace"))
        short = g.short_input(request.body)
        if short is not None:
            attributes[g.TFY_INPUT_SHORT] = short
        output = self._output(request)
        if output is not None:
            attributes[g.TFY_OUTPUT] = output

    def _output(self, request: RequestFacts) -> str | None:
        """The answer: a stream's text, or the JSON answer, as kept on the way."""
        if self.output_text is not None:
            return g.clip(self.output_text)
        return g.clip(orjson.dumps(self.output).decode()) if self.output is not None else None
