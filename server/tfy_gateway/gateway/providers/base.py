"""The adapter interface: what the data plane hands an adapter and what it gets back.

Every adapter speaks OpenAI's format towards the data plane whatever the upstream wire format:
requests are OpenAI request bodies, non-streaming results are OpenAI response bodies, and streams yield
OpenAI `chat.completion.chunk` SSE events as bytes ready to forward.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import orjson

from tfy_gateway.gateway.errors import RemoteError
from tfy_gateway.gateway.providers.timeouts import NO_TIMEOUTS, Phase, Timeouts
from tfy_gateway.gateway.providers.transport import Transport

WireFormat = Literal["openai", "anthropic", "azure-openai", "bedrock", "gemini", "vertex-anthropic"]
Endpoint = Literal[
    "chat",
    "completions",
    "embeddings",
    "moderations",
    "rerank",
    "images",
    "speech",
    "transcriptions",
    "image_edits",
    "translations",
    "responses",
]
ENDPOINT_PATHS: dict[str, str] = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
    "moderations": "/moderations",
    "rerank": "/rerank",
    "images": "/images/generations",
    "speech": "/audio/speech",
    "transcriptions": "/audio/transcriptions",
    "image_edits": "/images/edits",
    "translations": "/audio/translations",
    "responses": "/responses",
}
MULTIPART_ENDPOINTS = frozenset({"transcriptions", "image_edits", "translations"})
STREAMING_ENDPOINTS = frozenset({"chat", "completions", "responses"})
JSON_HEADERS: Mapping[str, str] = MappingProxyType({"content-type": "application/json", "accept": "application/json"})
SSE_HEADERS: Mapping[str, str] = MappingProxyType({"content-type": "application/json", "accept": "text/event-stream"})


class TokenSource(Protocol):
    """Credentials that expire (Vertex's OAuth tokens): the `authorization` header value for the next
    call, refreshed over `transport` when needed. Raises UpstreamError when no token can be had."""

    async def authorization(self, transport: Transport) -> str: ...


class RequestSigner(Protocol):
    """Signs one request whose URL, headers and body are final (AWS SigV4): the headers to add.

    Signing cannot happen when the config is applied (the signature covers the body and the time),
    so a target that needs it carries its signer; `secrets` are redacted from provider messages.
    """

    @property
    def secrets(self) -> tuple[str, ...]: ...

    def sign(self, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]: ...


@dataclass(frozen=True)
class UpstreamTarget:
    """Where and how to call one model integration; built once per config apply, not per request.

    `auth_headers` hold resolved credentials: they are excluded from repr and comparisons so they never
    end up in a log line through a stray `print(target)`.
    """

    wire_format: WireFormat
    provider: str  # provider type without prefix: "openai", "groq", "anthropic", "azure-openai", ...
    base_url: str  # includes the version path (…/v1); Azure: the resource endpoint
    model_id: str  # upstream model id; Azure: the deployment name
    auth_headers: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False, hash=False)
    extra_headers: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    api_version: str | None = None  # Azure api-version / anthropic-version
    account: str = ""
    integration: str = ""
    # Short-lived credentials fetched per call (Vertex): `dispatch.call` sets `authorization` from it.
    credentials: TokenSource | None = field(default=None, repr=False, compare=False, hash=False)
    signer: RequestSigner | None = field(default=None, repr=False, compare=False, hash=False)  # Bedrock SigV4

    @property
    def name(self) -> str:
        """The gateway model id, `<provider account>/<integration>`."""
        return f"{self.account}/{self.integration}"

    @functools.cached_property
    def json_headers(self) -> Mapping[str, str]:
        """JSON_HEADERS, then the auth and extra headers: a plain JSON call's headers when nothing is
        added per call (`wire.build_headers`), built once per target and shared, read-only (the
        upstream client builds the request head of such a mapping once)."""
        return MappingProxyType({**JSON_HEADERS, **self.auth_headers, **self.extra_headers})

    @functools.cached_property
    def sse_headers(self) -> Mapping[str, str]:
        """The same for a streamed call (SSE_HEADERS)."""
        return MappingProxyType({**SSE_HEADERS, **self.auth_headers, **self.extra_headers})


@dataclass
class CallOptions:
    """How one call is made, beyond what is sent: per-route headers and time limits.

    headers_override: a load-balancing target's `{"set": {...}, "remove": [...]}`.
    timeouts: the attempt's limit per phase (connect, first token, read, total; see timeouts.py).
    trace_headers: the attempt's trace context (`traceparent`, `tracestate`), sent before the
      route's `headers_override`, which may replace or remove them.
    Built per call and never changed; not frozen for the cost (see transport.py).
    """

    headers_override: Mapping[str, Any] | None = None
    timeouts: Timeouts = NO_TIMEOUTS
    trace_headers: Mapping[str, str] | None = None


NO_CALL_OPTIONS = CallOptions()


@dataclass
class Usage:
    """Token usage in OpenAI terms.

    `prompt_tokens` includes cached and cache-write tokens (OpenAI semantics; Anthropic's
    `input_tokens` is converted), so uncached input = prompt - cached - cache_write.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: Any) -> Usage:
        """OpenAI's `usage` object (or the Responses API's input/output names); a count that is not a
        positive int reads as 0. Every answer has one read: the checks are spelled out inline, in
        one function (a helper call per count cost more than the reading itself)."""
        if not isinstance(usage, dict):
            return cls()
        prompt = usage.get("prompt_tokens", _ABSENT)
        if prompt is _ABSENT:
            prompt = usage.get("input_tokens")
        completion = usage.get("completion_tokens", _ABSENT)
        if completion is _ABSENT:
            completion = usage.get("output_tokens")
        cached: Any = 0
        reasoning: Any = 0
        details = usage.get("prompt_tokens_details")
        if details and isinstance(details, dict):
            cached = details.get("cached_tokens")
            cached = cached if isinstance(cached, int) and cached > 0 else 0
        details = usage.get("completion_tokens_details")
        if details and isinstance(details, dict):
            reasoning = details.get("reasoning_tokens")
            reasoning = reasoning if isinstance(reasoning, int) and reasoning > 0 else 0
        return cls(
            prompt_tokens=prompt if isinstance(prompt, int) and prompt > 0 else 0,
            completion_tokens=completion if isinstance(completion, int) and completion > 0 else 0,
            cached_tokens=cached,
            reasoning_tokens=reasoning,
        )

    def to_openai(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_tokens or self.cache_write_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        if self.cache_write_tokens:
            usage["cache_creation_input_tokens"] = self.cache_write_tokens
        if self.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage


_ABSENT = object()
"""A key `Usage.from_openai` did not find (a present `null` is read as it is: 0)."""


@dataclass
class UpstreamResponse:
    """A complete (non-streaming) upstream answer in OpenAI format.

    `body` is the parsed JSON body; binary endpoints (speech) leave it None and fill `content`.
    `latency` is seconds from sending the request to having the whole body. `raw`: the provider's
    JSON text of `body` as it came, when `body` is exactly its parse (an answer passed through, not
    translated), so that the client can be sent it without encoding `body` again.
    """

    status: int
    body: dict[str, Any] | None
    usage: Usage
    headers: Mapping[str, str]
    latency: float
    content: bytes | None = None
    content_type: str = "application/json"
    raw: bytes | None = None


class UpstreamError(RemoteError):
    """The upstream call failed. `status` is what the data plane should answer with (and match
    against fallback_status_codes); `message` is safe to show (credentials are redacted).

    What it says about the provider's work, for limits and budgets: `reached` False only when the
    gateway is certain no byte of the request reached the provider (no connection could be made,
    or the request could not be built); `answered` False when it may have reached it and nothing
    tells what it did (a timeout, a broken connection, an answer too large to read), so its usage
    is unknown. The base case is an error the provider answered with: reached, answered.

    `error_type`, `code` and `param` are the provider's own `error.type`, `error.code` (e.g.
    `context_length_exceeded`, `invalid_api_key`) and `error.param` when its error body has them (or
    what the translator sets for a request it refuses), passed on inside the platform's envelope so
    that an OpenAI SDK's `e.code` / `e.param` say what the provider said.
    """

    kind = "api_error"
    reached = True
    answered = True

    def __init__(
        self,
        status: int,
        message: str,
        provider: str,
        retry_after: float | None = None,
        *,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.provider = provider
        self.retry_after = retry_after
        self.error_type = error_type
        self.code = code  # the provider's own error code (e.g. Google's ErrorInfo reason), kept for the client
        self.param = param

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(status={self.status}, provider={self.provider!r}, message={self.message!r})"


class UpstreamConnectionError(UpstreamError):
    """Could not connect, or the connection broke (maps to 502)."""

    kind = "connection_error"
    answered = False


class UpstreamStreamCut(UpstreamConnectionError):
    """A stream that began and then ended before the provider finished it (502, the provider's fault)."""

    kind = "stream_cut"


class UpstreamTimeout(UpstreamError):
    """A phase of the attempt ran out of time (`phase`, see timeouts.py): 504 here; the data plane
    answers 408 instead when the limit was the client's own (its request headers)."""

    kind = "timeout"
    answered = False

    def __init__(self, message: str, provider: str, *, phase: Phase) -> None:
        super().__init__(504, message, provider)
        self.phase: Phase = phase
        self.reached = phase != "connect"  # no connection: nothing was sent


class InvalidRequest(UpstreamError):
    """The request cannot be expressed in the target's wire format (e.g. a malformed tool call): 400."""

    kind = "invalid_request"
    reached = False


class UnsupportedEndpoint(UpstreamError):
    """The target's wire format has no such endpoint (e.g. embeddings on Anthropic): 400."""

    kind = "unsupported"
    reached = False


_KEY_PATTERN = re.compile(r"\b(sk|tfy|key|pk)[-_][A-Za-z0-9_\-*.]{8,}")


def redact(message: str, secrets: Iterable[str] = ()) -> str:
    """Remove credential values (and anything shaped like an API key) from an upstream message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            message = message.replace(secret, "[REDACTED]")
    return _KEY_PATTERN.sub("[REDACTED]", message)


def credential_values(target: UpstreamTarget) -> list[str]:
    """The secret parts of the target's auth headers (without a `Bearer `/`Basic ` scheme)."""
    values = []
    for value in target.auth_headers.values():
        values.append(value)
        scheme, _, rest = value.partition(" ")
        if rest and scheme.lower() in ("bearer", "basic"):
            values.append(rest)
    if target.signer is not None:
        values.extend(target.signer.secrets)
    return values


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def redirect_refused(target: UpstreamTarget, status: int, headers: Mapping[str, str]) -> UpstreamError:
    """A 3xx from a provider: never followed, since that would hand its credentials and the prompt
    to whatever host the answer names. Only the target host of the redirect is shown, never its path."""
    location = next((value for key, value in headers.items() if key.lower() == "location"), "")
    where = urlsplit(location).netloc if location else ""
    to = f" to {where}" if where else ""
    message = (
        f"{target.provider} answered HTTP {status} (a redirect{to}); the gateway does not follow redirects "
        "from providers, so credentials and prompts never leave for another host. Point the account's "
        "base_url at the final address."
    )
    return UpstreamError(502, message, target.provider, None, error_type="upstream_redirect")


def _text_or_none(value: Any) -> str | None:
    """An error field as a string: OpenAI sends strings, Azure sometimes numbers; empty is absent."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text or None


def error_from_body(target: UpstreamTarget, status: int, headers: Mapping[str, str], raw: bytes) -> UpstreamError:
    """Build an UpstreamError from any provider's error body (OpenAI, Anthropic, Azure or plain text),
    keeping its `type`, `code` and `param` (Anthropic has no code: its `error.type` is both)."""
    message = ""
    error_type = code = param = None
    try:
        parsed = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            code = _text_or_none(error.get("code"))
            error_type = _text_or_none(error.get("type")) or code
            param = _text_or_none(error.get("param"))
            if parsed.get("type") == "error" and code is None:  # Anthropic's {"type": "error", "error": {type}}
                code = error_type
        elif isinstance(error, str):
            message = error
        if not message:
            message = str(parsed.get("message") or parsed.get("detail") or "")
    elif raw:
        message = raw[:500].decode("utf-8", "replace").strip()
    if not message:
        message = f"upstream answered HTTP {status}"
    message = redact(message, credential_values(target))
    return UpstreamError(
        status,
        message,
        target.provider,
        parse_retry_after(headers),
        error_type=error_type,
        code=redact(code) if code else None,
        param=param,
    )
