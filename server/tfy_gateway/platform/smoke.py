"""One real request through a gateway's data plane (`{base}/api/llm`), measured and summarised.

Shared by `tfy-gateway smoke` and the MCP tool `gateway_smoke_test`. Whatever status the gateway
answers is a result (a 429 from a rate limit is exactly what a smoke test may be for); only getting
no answer at all raises `UnreachableError`. Text from the gateway and the model is data, not
instructions: previews are whitespace-collapsed and bounded, and the API key is scrubbed from
anything echoed back.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import httpx

from tfy_gateway import __version__
from tfy_gateway.platform.errors import UnreachableError
from tfy_gateway.platform.settings import ControlPlaneSettings, mask_secret

SmokeKind = Literal["chat", "embedding"]
KINDS: tuple[str, ...] = ("chat", "embedding")
DEFAULT_PROMPT = "Say hello."
DEFAULT_MAX_TOKENS = 16
MAX_TOKENS = 64  # a smoke test checks the path, not the model: keep it cheap
PREVIEW_CHARS = 500
HEADER_CHARS = 1000
DEFAULT_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


@dataclass(frozen=True)
class SmokeOutcome:
    """What the gateway answered: `ok` is a 2xx answer that did not break off or end in an error event."""

    status: int
    requested_model: str
    kind: str
    stream: bool
    latency_ms: float
    resolved_model: str | None = None  # x-tfy-resolved-model: the model that actually answered
    applied_configurations: Any = None  # x-tfy-applied-configurations: the rules that applied
    request_id: str | None = None  # x-tfy-request-id: the request-log record
    server_timing: str | None = None  # server-timing: the gateway's own time vs the provider's
    ttft_ms: float | None = None  # time to the first streamed token
    usage: TokenUsage | None = None
    cost: float | None = None
    output_preview: str | None = None  # start of the reply (model output: untrusted)
    error: str | None = None  # the gateway's error message

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


def preview(text: Any, limit: int = PREVIEW_CHARS) -> str:
    """`text` on one line and at most `limit` characters: safe to show, never taken as instructions."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def build_request(*, model: str, kind: str, prompt: str, stream: bool, max_tokens: int) -> tuple[str, dict[str, Any]]:
    """The data-plane path and JSON body of a smoke request."""
    if kind == "embedding":
        return "/api/llm/embeddings", {"model": model, "input": prompt}
    payload: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "stream": stream,
    }
    if stream:
        payload["stream_options"] = {"include_usage": True}  # usage arrives in the last chunk
    return "/api/llm/chat/completions", payload


async def smoke_test(
    settings: ControlPlaneSettings,
    *,
    model: str,
    kind: str = "chat",
    prompt: str = DEFAULT_PROMPT,
    stream: bool = False,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    metadata: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> SmokeOutcome:
    """Send one chat completion (optionally streamed) or embedding request as the settings' key.

    Raises ValueError for arguments out of range and UnreachableError when no answer came.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not model:
        raise ValueError("model is required, e.g. 'openai-main/gpt-4o'")
    if not 1 <= max_tokens <= MAX_TOKENS:
        raise ValueError(f"max_tokens must be between 1 and {MAX_TOKENS}, got {max_tokens}")
    streaming = stream and kind == "chat"
    path, payload = build_request(model=model, kind=kind, prompt=prompt, stream=streaming, max_tokens=max_tokens)
    headers = {"Authorization": f"Bearer {settings.api_key}", "User-Agent": f"tfy-gateway/{__version__}"}
    if metadata:
        headers["x-tfy-metadata"] = json.dumps(metadata)
    limits = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout))
    try:
        async with httpx.AsyncClient(timeout=limits, follow_redirects=False) as http:
            run = _Run(settings, model=model, kind=kind, stream=streaming)  # the clock starts with the request
            if streaming:
                async with http.stream("POST", settings.base_url + path, json=payload, headers=headers) as response:
                    return await run.streamed(response)
            response = await http.post(settings.base_url + path, json=payload, headers=headers)
    except httpx.HTTPError as exc:
        raise UnreachableError(
            f"could not reach the gateway at {settings.base_url} ({type(exc).__name__})",
            hint="is it running (`tfy-gateway serve`) and is TFY_BASE_URL right?",
        ) from None
    return run.answered(response)


class _Run:
    """One smoke request's clock and the parsing of its answer."""

    def __init__(self, settings: ControlPlaneSettings, *, model: str, kind: str, stream: bool) -> None:
        self.settings = settings
        self.model = model
        self.kind = kind
        self.stream = stream
        self.started = time.perf_counter()

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 1)

    def outcome(self, response: httpx.Response, latency_ms: float | None = None, **fields: Any) -> SmokeOutcome:
        return SmokeOutcome(
            status=response.status_code,
            requested_model=self.model,
            kind=self.kind,
            stream=self.stream,
            latency_ms=self.elapsed_ms() if latency_ms is None else latency_ms,
            resolved_model=response.headers.get("x-tfy-resolved-model"),
            applied_configurations=_header_json(response.headers.get("x-tfy-applied-configurations")),
            request_id=response.headers.get("x-tfy-request-id"),
            server_timing=response.headers.get("server-timing"),
            **fields,
        )

    def error_text(self, body: Any, fallback: str) -> str:
        """The gateway's message (its error envelope), else the raw body; the key never appears."""
        message: Any = None
        if isinstance(body, dict):
            error = body.get("error")
            message = body.get("message") or (error.get("message") if isinstance(error, dict) else error)
        text = str(message or fallback)
        if self.settings.api_key:
            text = text.replace(self.settings.api_key, mask_secret(self.settings.api_key))
        return preview(text) or "no message"

    def answered(self, response: httpx.Response) -> SmokeOutcome:
        latency = self.elapsed_ms()
        body = _json_or_none(response.content)
        usage, cost = _usage(body), _cost(body, response.headers)
        if not response.is_success:
            error = self.error_text(body, response.text)
            return self.outcome(response, latency, usage=usage, cost=cost, error=error)
        reply: str | None = None
        if isinstance(body, dict) and self.kind == "chat":
            choices = body.get("choices") or [{}]
            first = choices[0] if isinstance(choices, list) and isinstance(choices[0], dict) else {}
            reply = preview((first.get("message") or {}).get("content") or "")
        elif isinstance(body, dict):
            vectors = body.get("data") or []
            dims = len(vectors[0].get("embedding") or []) if vectors and isinstance(vectors[0], dict) else 0
            reply = f"{len(vectors)} embedding(s) of {dims} dimensions"
        return self.outcome(response, latency, usage=usage, cost=cost, output_preview=reply)

    async def streamed(self, response: httpx.Response) -> SmokeOutcome:
        if not response.is_success:
            raw = await response.aread()
            body = _json_or_none(raw)
            return self.outcome(response, error=self.error_text(body, raw.decode(errors="replace")))
        ttft: float | None = None
        text: list[str] = []
        usage: TokenUsage | None = None
        cost: float | None = None
        error: str | None = None
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = _json_or_none(data.encode())
                if not isinstance(chunk, dict):
                    continue
                if chunk.get("error"):
                    # The status was already sent: a failure after it arrives as an error event.
                    error = self.error_text(chunk, "the stream ended with an error event")
                for choice in chunk.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content") if isinstance(choice, dict) else None
                    if delta:
                        if ttft is None:
                            ttft = (time.perf_counter() - self.started) * 1000
                        text.append(delta)
                usage = _usage(chunk) or usage
                cost = _cost(chunk, response.headers) if cost is None else cost
        except httpx.HTTPError as exc:
            error = f"the stream broke off after {self.elapsed_ms()} ms ({type(exc).__name__})"
        return self.outcome(
            response,
            ttft_ms=round(ttft, 1) if ttft is not None else None,
            usage=usage,
            cost=cost,
            output_preview=preview("".join(text)),
            error=error,
        )


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _header_json(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return preview(value, HEADER_CHARS)


def _usage(body: Any) -> TokenUsage | None:
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None

    def count(name: str) -> int | None:
        value = usage.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return TokenUsage(count("prompt_tokens"), count("completion_tokens"), count("total_tokens"))


def _cost(body: Any, headers: httpx.Headers) -> float | None:
    """The cost the gateway reports: the x-tfy-cost header, else `usage.cost` or `cost` in the body."""
    usage = body.get("usage") if isinstance(body, dict) else None
    for candidate in (
        headers.get("x-tfy-cost"),
        usage.get("cost") if isinstance(usage, dict) else None,
        body.get("cost") if isinstance(body, dict) else None,
    ):
        try:
            if candidate is not None:
                return float(candidate)
        except (TypeError, ValueError):
            continue
    return None
