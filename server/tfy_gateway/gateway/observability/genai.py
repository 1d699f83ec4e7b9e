"""The OpenTelemetry GenAI semantic conventions (semconv 1.42, `gen_ai.*`, all "Development") and the
TrueFoundry platform's span attributes, as names and pure functions of what a request carries.

Names are written out here rather than imported from `opentelemetry.semconv._incubating` (a private
module whose names move between releases). Sources: the conventions' docs/gen-ai/gen-ai-spans.md and
gen-ai-metrics.md; the platform's "fetch request logs: span attributes" page (`tfy.*`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# --- GenAI (spans and metrics) ------------------------------------------------------------------
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_STREAM = "gen_ai.request.stream"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_MODEL = "gen_ai.response.model"
FINISH_REASONS = "gen_ai.response.finish_reasons"
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
GUARDRAIL_NAME = "gen_ai.guardrail.component.name"
APPLY_GUARDRAIL = "apply_guardrail"
GUARDRAIL_RESULT_EVENT = "gen_ai.guardrail.result"
TFY_GUARDRAIL_LATENCY_MS = "tfy.guardrail.metric.latency_in_ms"

# The request parameters the conventions name, by the OpenAI body field they come from.
REQUEST_PARAMETERS: Mapping[str, str] = {
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
    "n": "gen_ai.request.choice.count",
}

# --- the platform's own (tfy.*) ------------------------------------------------------------------
SPAN_TYPE = "tfy.span_type"
TFY_INPUT = "tfy.input"
TFY_OUTPUT = "tfy.output"
TFY_INPUT_SHORT = "tfy.input_short_hand"
TFY_ERROR_MESSAGE = "tfy.error_message"
TFY_REQUESTED_MODEL = "tfy.request.model_name"
TFY_SUBJECT = "tfy.request.created_by_subject"
TFY_METADATA = "tfy.request.metadata"
TFY_MODEL_NAME = "tfy.model.name"
TFY_MODEL_STREAMING = "tfy.model.streaming"
TFY_MODEL_REQUEST_TYPE = "tfy.model.request_type"
TFY_LATENCY_MS = "tfy.model.metric.latency_in_ms"
TFY_TTFT_MS = "tfy.model.metric.time_to_first_token_in_ms"
TFY_INPUT_TOKENS = "tfy.model.metric.input_tokens"
TFY_OUTPUT_TOKENS = "tfy.model.metric.output_tokens"
TFY_CACHE_READ_TOKENS = "tfy.model.metric.cache_read_input_tokens"
TFY_CACHE_CREATION_TOKENS = "tfy.model.metric.cache_creation_input_tokens"
TFY_COST = "tfy.model.metric.cost_in_usd"
APPLIED_ROUTING = "applied_loadbalance_rule_ids"
APPLIED_RATE_LIMITS = "applied_ratelimit_rule_ids"
APPLIED_BUDGETS = "applied_budget_rule_ids"

# --- this gateway's (no convention names them) ----------------------------------------------------
REQUEST_ID = "tfy_gateway.request.id"
ATTEMPT = "tfy_gateway.attempt"  # 1 for the first upstream call of the request, 2 for the next...
ATTEMPT_KIND = "tfy_gateway.attempt.kind"  # first | retry (same target) | fallback (next target)
ROUTING_RULE = "tfy_gateway.routing.rule_id"
ROUTING_TARGET = "tfy_gateway.routing.target"
LIMIT_EVENT = "tfy_gateway.limits"

OPERATIONS: Mapping[str, str] = {
    "chat": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
    "responses": "chat",  # the Responses API is a chat API (the conventions name no other operation for it)
}
"""Data-plane endpoint -> gen_ai.operation.name; the others (rerank, moderations, images, speech,
transcriptions) have no well-known value and use the endpoint's name."""

SPAN_TYPES: Mapping[str, str] = {
    "chat": "ChatCompletion",
    "completions": "Completion",
    "embeddings": "Embedding",
    "rerank": "Rerank",
}
"""Data-plane endpoint -> the platform's tfy.span_type of the request's span (attempts are `Model`)."""

PROVIDERS: Mapping[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure-openai": "azure.ai.openai",
    "aws-bedrock": "aws.bedrock",
    "google-vertex": "gcp.vertex_ai",
    "google-gemini": "gcp.gemini",
    "groq": "groq",
    "mistral-ai": "mistral_ai",
    "deepseek": "deepseek",
    "perplexity-ai": "perplexity",
    "xai": "x_ai",
    "cohere": "cohere",
    "ibm": "ibm.watsonx.ai",
}
"""Provider account type -> gen_ai.provider.name's well-known value; others keep their type."""

MAX_INPUT_SHORT_CHARS = 200
MAX_REQUEST_DATA_CHARS = 64 * 1024


def operation(endpoint: str) -> str:
    return OPERATIONS.get(endpoint, endpoint)


def provider_name(provider: str) -> str:
    return PROVIDERS.get(provider, provider)


_PARAMETER_FIELDS = frozenset({*REQUEST_PARAMETERS, "stop"})
_NUMBERS = (int, float)  # a tuple: an `int | float` union would be built at every call


def request_parameters(body: Mapping[str, Any]) -> dict[str, Any]:
    """The conventions' `gen_ai.request.*` parameters present in an OpenAI request body."""
    if _PARAMETER_FIELDS.isdisjoint(body):  # most requests set none: one pass over the body's few keys
        return {}
    found: dict[str, Any] = {}
    for field, attribute in REQUEST_PARAMETERS.items():
        value = body.get(field)
        if isinstance(value, _NUMBERS) and not isinstance(value, bool):
            found[attribute] = value
    stop = body.get("stop")
    if isinstance(stop, str):
        found["gen_ai.request.stop_sequences"] = (stop,)
    elif isinstance(stop, list) and all(isinstance(item, str) for item in stop):
        found["gen_ai.request.stop_sequences"] = tuple(stop)
    return found


def parameter_fields(body: Mapping[str, Any]) -> tuple[tuple[str, Any, type], ...]:
    """What decides `request_parameters(body)`, as a key: the body's fields that may be parameters, with
    their values (a list as a tuple) and types, in the body's order; empty when it has none. One pass
    over the body's few keys, where `request_parameters` looks up every parameter."""
    if _PARAMETER_FIELDS.isdisjoint(body):
        return ()
    found = []  # a loop, not a comprehension: on 3.11 that is one more function call a request
    for field, value in body.items():
        if field in _PARAMETER_FIELDS:
            found.append((field, tuple(value) if value.__class__ is list else value, value.__class__))
    return tuple(found)


def response_attributes(body: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """`gen_ai.response.{id,model,finish_reasons}` of an OpenAI-format answer, in that order (pairs, as
    a span record keeps them for the export thread)."""
    found: list[tuple[str, Any]] = []
    if not body:
        return found
    response_id, model, choices = body.get("id"), body.get("model"), body.get("choices")
    if isinstance(response_id, str):
        found.append((RESPONSE_ID, response_id))
    if isinstance(model, str):
        found.append((RESPONSE_MODEL, model))
    if choices.__class__ is list and choices:
        reasons = []  # a loop, not a comprehension: on 3.11 that is one more function call a request
        for choice in choices:
            if isinstance(choice, dict):
                reason = choice.get("finish_reason")
                if reason.__class__ is str:
                    reasons.append(reason)
        if reasons:
            found.append((FINISH_REASONS, tuple(reasons)))
    return found


def short_input(body: Mapping[str, Any]) -> str | None:
    """The platform's abbreviated input: the last user message's text, clipped (None: no text)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, list):
                    content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
                if isinstance(content, str) and content:
                    return clip(content, MAX_INPUT_SHORT_CHARS)
    for field in ("prompt", "input", "query"):
        value = body.get(field)
        if isinstance(value, str) and value:
            return clip(value, MAX_INPUT_SHORT_CHARS)
    return None


def clip(text: str, limit: int = MAX_REQUEST_DATA_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "…[truncated]"


def error_type(status: int, error: object | None) -> str:
    """`error.type`: the error's type when it names one, else the HTTP status (the conventions'
    fallback for HTTP failures); low cardinality either way."""
    kind = getattr(error, "type", None) or getattr(error, "error_type", None)
    return kind if isinstance(kind, str) and kind else str(status)
