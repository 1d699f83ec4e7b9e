"""Pure pieces every wire format shares: headers, the call plan, the chunk-translator interface, and
the mapping of transport failures and error payloads onto adapter errors. No I/O here.

A translator module (openai_compatible, azure_openai, openai_anthropic) turns one OpenAI-format call
into a `WirePlan`: the `HttpRequest` to send, plus either how to read a whole answer (`read`) or a
`ChunkTranslator` that turns the upstream's SSE events into OpenAI chunk events (`stream`).
Messages name the provider and host only, never the full URL (a base URL may embed anything).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from tfy_gateway.gateway.providers.base import JSON_HEADERS as JSON_HEADERS  # the adapters' import of them
from tfy_gateway.gateway.providers.base import SSE_HEADERS as SSE_HEADERS
from tfy_gateway.gateway.providers.base import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamResponse,
    UpstreamTarget,
    UpstreamTimeout,
    Usage,
    credential_values,
    redact,
)
from tfy_gateway.gateway.providers.timeouts import Phase, Timeouts
from tfy_gateway.gateway.providers.transport import (
    HttpRequest,
    HttpResponse,
    HttpStream,
    ResponseTooLarge,
    TracedHeaders,
    TransportConnectError,
    TransportError,
    TransportTimeout,
)

DONE = b"data: [DONE]\n\n"
RESPONSE_ENDINGS = (b"event: response.completed\n", b"event: response.incomplete\n", b"event: response.failed\n")
"""How the events that end a Responses stream begin, as the gateway frames them."""


def ends_stream(event: bytes) -> bool:
    """The event a client stops reading at: chat's `[DONE]`, or a Responses stream's last event."""
    return event == DONE or event.startswith(RESPONSE_ENDINGS)


def build_headers(
    base: Mapping[str, str],
    target: UpstreamTarget,
    headers_override: Mapping[str, Any] | None,
    trace: Mapping[str, str] | None = None,
) -> Mapping[str, str]:
    """Protocol headers, then the target's auth and extra headers, then the attempt's trace context,
    then the route's `headers_override` (`{"set": {name: value}, "remove": [name]}`, as in a
    load-balancing target). With nothing added per call, JSON_HEADERS and SSE_HEADERS give the
    target's shared read-only mapping of them (`UpstreamTarget.json_headers`), and with only a trace
    context added, that mapping and the trace's headers as one (`TracedHeaders`); else a new dict."""
    if not headers_override:
        shared = target.json_headers if base is JSON_HEADERS else target.sse_headers if base is SSE_HEADERS else None
        if shared is not None:
            return TracedHeaders(shared, trace) if trace else shared
    headers = {**base, **target.auth_headers, **target.extra_headers}
    if trace:
        headers.update(trace)
    if not headers_override:
        return headers
    to_set = headers_override.get("set") or {}
    to_remove = {str(name).lower() for name in headers_override.get("remove") or ()}
    if to_remove:
        headers = {k: v for k, v in headers.items() if k.lower() not in to_remove}
    for name, value in to_set.items():
        lowered = str(name).lower()
        headers = {k: v for k, v in headers.items() if k.lower() != lowered}
        headers[str(name)] = str(value)
    return headers


@dataclass(frozen=True)
class Translated:
    """What one upstream event (or the end of the body) becomes for the client."""

    chunks: tuple[bytes, ...] = ()  # complete OpenAI SSE events, ready to forward
    first_token: bool = False  # these chunks carry the first output token (ttft is taken now)
    done: bool = False  # the upstream ended the stream properly


class ChunkTranslator(Protocol):
    """Upstream SSE events -> OpenAI chunk events; a state machine without I/O.

    `feed`/`end` raise UpstreamError for an error the upstream reported inside the stream.
    """

    @property
    def usage(self) -> Usage | None: ...

    @property
    def finish_reason(self) -> str | None: ...

    def feed(self, event: str, data: bytes) -> Translated:
        """One SSE event (its `event:` name, "" if none, and its joined `data:` lines)."""
        ...

    def end(self) -> Translated:
        """The body ended without an end-of-stream event; `done` says whether that still counts as proper."""
        ...


def wants_usage(body: Mapping[str, Any]) -> bool:
    """The client asked for a usage chunk at the end of its stream (`stream_options.include_usage`)."""
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def stream_end(chunk_id: str, created: int, model: str, usage: Usage | None, include_usage: bool) -> Translated:
    """A translated stream's proper end: the usage chunk when the client asked for it, then [DONE]."""
    if not include_usage or usage is None:
        return Translated((DONE,), done=True)
    tail = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage.to_openai(),
    }
    return Translated((b"data: " + orjson.dumps(tail) + b"\n\n", DONE), done=True)


ResponseReader = Callable[[HttpResponse, float], UpstreamResponse]
ErrorReader = Callable[[UpstreamTarget, int, Mapping[str, str], bytes], UpstreamError]
"""A 4xx/5xx answer's body as the wire format's error (default: `base.error_from_body`)."""


class EventSource(Protocol):
    """The events of a streamed body, one at a time: SSE (`stream.SSEDecoder`) or AWS event-stream frames."""

    async def next_event(self) -> tuple[str, bytes] | None:
        """(event name, data) of the next event; None at the end of the body. Raises TransportError."""
        ...


EventFraming = Callable[[HttpStream], EventSource]


@dataclass
class WirePlan:
    """One call on the wire: the request, and exactly one of `read` (a whole answer; gets the response
    and the seconds it took) or `stream` (a streamed answer, translated event by event; `framing`
    when its events are not SSE); `error` when the wire format's error bodies need their own reader.
    Built per call and never changed; not frozen for the cost (see transport.py)."""

    request: HttpRequest
    read: ResponseReader | None = None
    stream: ChunkTranslator | None = None
    framing: EventFraming | None = None  # how a streamed body splits into events; None: SSE
    error: ErrorReader | None = None  # how an error body reads; None: the generic reader

    def __post_init__(self) -> None:
        if (self.read is None) == (self.stream is None):
            raise ValueError("a WirePlan reads either a whole answer or a stream")


def where(url: str) -> str:
    """host[:port] of `url`, the only part of it a message may show."""
    from yarl import URL  # an error message's only need: loaded with the upstream client, not at start-up

    parsed = URL(url)
    return f"{parsed.host}:{parsed.port}" if parsed.port else str(parsed.host)


def transport_error(target: UpstreamTarget, url: str, exc: TransportError, timeouts: Timeouts) -> UpstreamError:
    """A transport failure as the adapter error the data plane maps to a status (504 or 502)."""
    provider = target.provider
    if isinstance(exc, TransportTimeout):
        return UpstreamTimeout(expired(f"{provider} at {where(url)}", exc.phase, timeouts), provider, phase=exc.phase)
    if isinstance(exc, ResponseTooLarge):
        too_large = UpstreamError(502, f"{provider} at {where(url)} answered with {exc.detail}", provider)
        too_large.answered = False  # it generated an answer nobody read: its usage is unknown
        return too_large
    if isinstance(exc, TransportConnectError):
        refused = UpstreamConnectionError(502, f"cannot connect to {provider} at {where(url)}: {exc.detail}", provider)
        refused.reached = False  # no connection, so not one byte went out
        return refused
    return UpstreamConnectionError(502, f"connection to {provider} at {where(url)} failed: {exc.detail}", provider)


def expired(who: str, phase: Phase, timeouts: Timeouts) -> str:
    """What a timeout in `phase` means, in words: who did not do what, within how long."""
    seconds = timeouts.limit(phase)
    within = f" within {seconds:g}s" if seconds is not None else ""
    if phase == "connect":
        return f"{who}: no connection{within}"
    if phase == "read":
        return f"{who} sent nothing for {seconds:g}s" if seconds is not None else f"{who} fell silent"
    if phase == "total":
        return f"{who} did not finish answering{within}"
    return f"{who} did not answer{within}"


def json_object(target: UpstreamTarget, raw: bytes) -> dict[str, Any]:
    """A 2xx JSON body that must be an object; anything else is the upstream's fault (502)."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError(502, f"{target.provider} returned invalid JSON", target.provider) from None
    if not isinstance(parsed, dict):
        raise UpstreamError(502, f"{target.provider} returned JSON that is not an object", target.provider)
    return parsed


def event_json(target: UpstreamTarget, data: bytes) -> Any:
    """One stream event's JSON; an unreadable one is the upstream's fault (502)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamError(502, f"{target.provider} sent an unreadable stream event", target.provider) from None


def stream_error(target: UpstreamTarget, payload: dict[str, Any]) -> UpstreamError:
    """An error event inside an OpenAI-style stream (`{"error": {...}}`)."""
    error = payload.get("error")
    message = "upstream reported an error mid-stream"
    status = 502
    error_type = code = param = None
    if isinstance(error, dict):
        message = str(error.get("message") or message)
        raw_code = error.get("code")
        if isinstance(raw_code, int) and 400 <= raw_code <= 599:
            status = raw_code
        elif isinstance(raw_code, str) and raw_code:
            code = raw_code
        error_type = str(error.get("type") or "") or None
        param = error.get("param") if isinstance(error.get("param"), str) else None
    elif isinstance(error, str):
        message = error
    return UpstreamError(
        status,
        redact(message, credential_values(target)),
        target.provider,
        error_type=error_type,
        code=code,
        param=param,
    )
