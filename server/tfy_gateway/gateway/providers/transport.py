"""The one seam for upstream I/O: `Transport` and the plain values that cross it.

Adapters describe a POST as an `HttpRequest` and get back an `HttpResponse` (whole body) or an
`HttpStream` (body read as it arrives): values nobody changes once built, though not frozen dataclasses
(a frozen one sets each field through `object.__setattr__`, ~2.7x the cost of a plain `__init__`, and
these are built for every upstream call); they never see aiohttp, so translation is testable without
sockets. Implementations: `AiohttpTransport` (production, aiohttp_transport.py), `MemoryTransport`
(tests, memory_transport.py) and `InProcessTransport` (an aiohttp app, e.g. the fake provider, served
in process: inprocess_transport.py). Failures below HTTP raise `TransportError`; turning them into provider
errors needs the target, so that happens above this layer (`wire.transport_error`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from tfy_gateway.gateway.errors import RemoteError
from tfy_gateway.gateway.providers.timeouts import NO_TIMEOUTS, Phase, Timeouts

OCTET_STREAM = "application/octet-stream"
JSON = "application/json"


@dataclass(frozen=True)
class FormFile:
    """A file field of a multipart form (audio, image uploads)."""

    filename: str
    content: bytes
    content_type: str


FormValue = str | FormFile
FormField = FormValue | tuple[FormValue, ...]
"""A form field's value; a tuple is a field sent once per value, in order (`timestamp_granularities[]`)."""


class TracedHeaders(Mapping[str, str]):
    """A target's shared read-only headers with one call's trace context after them: the mapping
    `{**shared, **trace}` is, without copying it. The upstream client writes the request head of
    `shared` once and adds only the trace's lines per call (`http1_client.Http1Client._head`);
    anything else reads it as that mapping (same names, values and order)."""

    __slots__ = ("shared", "trace")

    def __init__(self, shared: Mapping[str, str], trace: Mapping[str, str]) -> None:
        self.shared = shared
        self.trace = trace

    def __getitem__(self, name: str) -> str:
        trace = self.trace
        return trace[name] if name in trace else self.shared[name]

    def __iter__(self) -> Iterator[str]:
        shared = self.shared
        yield from shared
        yield from (name for name in self.trace if name not in shared)

    def __len__(self) -> int:
        shared = self.shared
        return len(shared) + sum(1 for name in self.trace if name not in shared)

    def __repr__(self) -> str:
        # Names only: the shared headers carry the target's credentials
        return f"TracedHeaders({list(self)!r})"


@dataclass
class HttpRequest:
    """One upstream POST. `form`, when set, is sent as multipart/form-data instead of `body`.

    `timeouts`: the attempt's limit per phase (timeouts.py defines each, for plain calls and streams
    alike). The transport enforces connect, read and total, and for `post` first_token too (a plain
    answer's first token is its whole body); a stream's first_token is its reader's.
    """

    url: str
    headers: Mapping[str, str]
    body: bytes = b""
    form: Mapping[str, FormField] | None = None
    timeouts: Timeouts = NO_TIMEOUTS


@dataclass
class HttpResponse:
    """A complete upstream answer, any status (redirects are returned, never followed)."""

    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes

    @property
    def content_type(self) -> str:
        """The media type without parameters, lowercased (aiohttp's convention, octet-stream if absent)."""
        return media_type(self.headers)


def media_type(headers: Mapping[str, str]) -> str:
    """`Content-Type` without parameters, lowercased; octet-stream when missing."""
    value = headers.get("content-type") or ""
    if value == JSON:  # most answers: already what the rest would make of it
        return JSON
    return value.split(";", 1)[0].strip().lower() or OCTET_STREAM


STREAM_DRAIN_S = 1.0
"""How long `HttpStream.aclose(drain=True)` reads a properly ended stream's rest to keep its connection."""


class HttpStream(Protocol):
    """An answer whose headers arrived and whose body is read piece by piece."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes:
        """The next bytes of the body as they arrive; b"" at its end. Raises TransportError."""
        ...

    async def aclose(self, *, drain: bool = False) -> None:
        """Let go of the connection. `drain`: the exchange ended properly, so briefly read what is left
        (`STREAM_DRAIN_S` at most) to keep the connection for reuse. An unread body closes the connection,
        which is how a client going away cancels the upstream generation. Idempotent."""
        ...


class Transport(Protocol):
    """The operations the adapters need from the network, and nothing else."""

    async def post(self, request: HttpRequest) -> HttpResponse:
        """POST and read the whole answer. Raises TransportError below HTTP."""
        ...

    async def open_stream(self, request: HttpRequest) -> HttpStream:
        """POST and return once the answer's headers arrived (any status; the body is still unread)."""
        ...


class TransportError(RemoteError):
    """The exchange failed below HTTP: the connection broke. `detail` never includes the URL."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TransportConnectError(TransportError):
    """No connection could be made (refused, DNS, TLS...); `detail` says why."""


class ResponseTooLarge(TransportError):
    """The upstream's answer exceeded the transport's size cap; it was not read further."""


class TransportTimeout(TransportError):
    """The limit of one phase of the request's `timeouts` ran out; `phase` says which."""

    def __init__(self, phase: Phase) -> None:
        super().__init__(f"the {phase} time limit ran out")
        self.phase: Phase = phase
