"""Data-plane tools: a real request through the gateway, routing explanations, usage and logs."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

import httpx
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from tfy_gateway.mcp.errors import RESTART_HINT
from tfy_gateway.mcp.live import untrusted
from tfy_gateway.mcp.rest import request_json, scrub
from tfy_gateway.mcp.state import state_of
from tfy_gateway.mcp.tools.base import add_tool
from tfy_gateway.platform import ControlPlaneSettings

SMOKE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
SVC = "/api/svc/v1/llm-gateway"
PREVIEW_CHARS = 500


class TokenUsage(BaseModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class SmokeResult(BaseModel):
    ok: bool = Field(description="The gateway answered 2xx.")
    status: int
    requested_model: str
    resolved_model: str | None = Field(description="x-tfy-resolved-model: the model that actually answered.")
    applied_configurations: Any = Field(
        default=None, description="x-tfy-applied-configurations: routing/limit rules that applied."
    )
    latency_ms: float
    ttft_ms: float | None = Field(default=None, description="Time to the first streamed token.")
    usage: TokenUsage | None = None
    cost: float | None = Field(default=None, description="Cost reported by the gateway, when it reports one.")
    output_preview: str | None = Field(default=None, description="Start of the reply (untrusted model output).")
    error: str | None = Field(default=None, description="The gateway's error message on a non-2xx answer.")


def _parse_header_json(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return untrusted(value, 1000)


def _cost(body: Any, headers: httpx.Headers) -> float | None:
    for candidate in (
        headers.get("x-tfy-cost"),
        (body.get("usage") or {}).get("cost") if isinstance(body, dict) else None,
        body.get("cost") if isinstance(body, dict) else None,
    ):
        try:
            if candidate is not None:
                return float(candidate)
        except (TypeError, ValueError):
            continue
    return None


def _usage(body: Any) -> TokenUsage | None:
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    return TokenUsage(
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        total_tokens=usage.get("total_tokens"),
    )


def _error_text(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        message = body.get("message") or (error.get("message") if isinstance(error, dict) else error)
        if message:
            return untrusted(message, 500)
    return untrusted(fallback, 500) or "no message"


async def gateway_smoke_test(
    ctx: Context,
    model: Annotated[
        str, Field(min_length=1, max_length=300, description="Model id to request, e.g. 'openai/gpt-4o'.")
    ],
    kind: Annotated[Literal["chat", "embedding"], Field(description="Chat completion or embedding.")] = "chat",
    prompt: Annotated[str, Field(min_length=1, max_length=2000, description="Text to send.")] = "Say hello.",
    stream: Annotated[bool, Field(description="Stream the chat completion (measures time to first token).")] = False,
    max_tokens: Annotated[int, Field(ge=1, le=64, description="Output token cap (at most 64).")] = 16,
    metadata: Annotated[
        dict[str, str] | None, Field(description="Sent as x-tfy-metadata, to exercise metadata rules.")
    ] = None,
) -> SmokeResult:
    """Send one real request through the gateway's data plane ({base}/api/llm) as the API key's user.

    Returns HTTP status, the model that answered (x-tfy-resolved-model), the rules that applied
    (x-tfy-applied-configurations), latency, time to first token when streaming, token usage, cost
    if reported, and a preview of the reply. A non-2xx answer (e.g. 429 from a rate limit) is a
    result with ok=false, not a failure. This may cost money with a real provider and counts
    against rate limits and budgets; it does not change configuration.
    """
    state = state_of(ctx)
    settings = state.require_settings()
    headers = {"Authorization": f"Bearer {settings.api_key}"}
    if metadata:
        headers["x-tfy-metadata"] = json.dumps(metadata)
    if kind == "embedding":
        path = "/api/llm/embeddings"
        payload: dict[str, Any] = {"model": model, "input": prompt}
    else:
        path = "/api/llm/chat/completions"
        payload = {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "stream": stream,
        }
        if stream:
            payload["stream_options"] = {"include_usage": True}
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0)) as http:
            if stream and kind == "chat":
                return await _streamed(http, settings, path, payload, headers, model, started)
            response = await http.post(settings.base_url + path, json=payload, headers=headers)
    except httpx.HTTPError as exc:
        raise ToolError(
            f"Could not reach the gateway at {settings.base_url} ({type(exc).__name__}). "
            "Start it or fix TFY_BASE_URL, then call gateway_status."
        ) from None
    latency = (time.perf_counter() - started) * 1000
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    _raise_for_auth(response, body)
    result = SmokeResult(
        ok=response.is_success,
        status=response.status_code,
        requested_model=model,
        resolved_model=response.headers.get("x-tfy-resolved-model"),
        applied_configurations=_parse_header_json(response.headers.get("x-tfy-applied-configurations")),
        latency_ms=round(latency, 1),
        usage=_usage(body),
        cost=_cost(body, response.headers),
    )
    if not response.is_success:
        result.error = scrub(_error_text(body, response.text), settings)
    elif kind == "chat" and isinstance(body, dict):
        choices = body.get("choices") or [{}]
        content = (choices[0].get("message") or {}).get("content") if isinstance(choices[0], dict) else None
        result.output_preview = untrusted(content or "", PREVIEW_CHARS)
    elif isinstance(body, dict):
        vectors = body.get("data") or []
        dims = len(vectors[0].get("embedding") or []) if vectors and isinstance(vectors[0], dict) else 0
        result.output_preview = f"{len(vectors)} embedding(s) of {dims} dimensions"
    return result


def _raise_for_auth(response: httpx.Response, body: Any) -> None:
    if response.status_code == 401:
        raise ToolError(
            f"The gateway rejected TFY_API_KEY (401): {_error_text(body, '')}. Fix TFY_API_KEY. {RESTART_HINT}"
        )


async def _streamed(
    http: httpx.AsyncClient,
    settings: ControlPlaneSettings,
    path: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    model: str,
    started: float,
) -> SmokeResult:
    ttft: float | None = None
    text: list[str] = []
    usage: TokenUsage | None = None
    cost: float | None = None
    async with http.stream("POST", settings.base_url + path, json=payload, headers=headers) as response:
        if not response.is_success:
            raw = await response.aread()
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = None
            _raise_for_auth(response, body)
            return SmokeResult(
                ok=False,
                status=response.status_code,
                requested_model=model,
                resolved_model=response.headers.get("x-tfy-resolved-model"),
                applied_configurations=_parse_header_json(response.headers.get("x-tfy-applied-configurations")),
                latency_ms=round((time.perf_counter() - started) * 1000, 1),
                error=scrub(_error_text(body, raw.decode(errors="replace")), settings),
            )
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                continue
            for choice in chunk.get("choices") or []:
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    if ttft is None:
                        ttft = (time.perf_counter() - started) * 1000
                    text.append(delta)
            usage = _usage(chunk) or usage
            cost = _cost(chunk, response.headers) if cost is None else cost
        return SmokeResult(
            ok=True,
            status=response.status_code,
            requested_model=model,
            resolved_model=response.headers.get("x-tfy-resolved-model"),
            applied_configurations=_parse_header_json(response.headers.get("x-tfy-applied-configurations")),
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            ttft_ms=round(ttft, 1) if ttft is not None else None,
            usage=usage,
            cost=cost,
            output_preview=untrusted("".join(text), PREVIEW_CHARS),
        )


class ExplainResult(BaseModel):
    subject: str
    model: str
    explanation: dict[str, Any] = Field(description="The control plane's answer: matching rules and outcome.")


async def gateway_explain(
    ctx: Context,
    subject: Annotated[
        str,
        Field(min_length=1, max_length=300, description="Caller, e.g. 'user:bob@example.com', 'team:backend'."),
    ],
    model: Annotated[str, Field(min_length=1, max_length=300, description="Requested model name.")],
    metadata: Annotated[dict[str, str] | None, Field(description="x-tfy-metadata the request would carry.")] = None,
) -> ExplainResult:
    """Explain what the live config does with a request from `subject` for `model`, without sending it.

    Returns the control plane's explanation: which routing, rate-limit and budget rules match and
    what would happen. It sends no model request (see gateway_smoke_test) and changes nothing.
    """
    state = state_of(ctx)
    body = await request_json(
        state.require_settings(),
        "POST",
        f"{SVC}/explain",
        feature="explain",
        timeout=state.timeout,
        json={"subject": subject, "model": model, "metadata": metadata or {}},
    )
    explanation = body if isinstance(body, dict) else {"result": body}
    return ExplainResult(subject=subject, model=model, explanation=explanation)


class UsageResult(BaseModel):
    summary: dict[str, Any] = Field(description="Usage summary: requests, tokens and cost by model and subject.")
    logs: list[dict[str, Any]] = Field(description="Most recent request logs, newest first.")
    logs_returned: int


async def gateway_usage(
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=100, description="How many recent request logs to return.")] = 20,
    model: Annotated[str | None, Field(description="Only logs for this model.")] = None,
    subject: Annotated[
        str | None, Field(description="Only logs for this subject, e.g. 'user:bob@example.com'.")
    ] = None,
) -> UsageResult:
    """Summarise gateway usage (requests, tokens, cost) and return the most recent request logs.

    Both are filtered by model and subject when given; the summary covers the last 24 hours.
    Returns the summary and up to `limit` logs. It changes nothing and sends no model request.
    """
    state = state_of(ctx)
    settings = state.require_settings()
    filters = {"model": model, "subject": subject}
    summary = await request_json(
        settings, "GET", f"{SVC}/usage/summary", feature="usage summaries", timeout=state.timeout, params=filters
    )
    logs_body = await request_json(
        settings,
        "GET",
        f"{SVC}/logs",
        feature="request logs",
        timeout=state.timeout,
        params={"limit": limit, **filters},
    )
    logs = logs_body.get("data") if isinstance(logs_body, dict) else logs_body
    entries = [entry for entry in logs or [] if isinstance(entry, dict)][:limit]
    return UsageResult(
        summary=summary if isinstance(summary, dict) else {"result": summary},
        logs=entries,
        logs_returned=len(entries),
    )


def register(server: MCPServer) -> None:
    add_tool(server, gateway_smoke_test, title="Smoke-test a model through the gateway", annotations=SMOKE)
    add_tool(server, gateway_explain, title="Explain routing and limits for a request", annotations=READ_ONLY)
    add_tool(server, gateway_usage, title="Gateway usage and recent logs", annotations=READ_ONLY)
