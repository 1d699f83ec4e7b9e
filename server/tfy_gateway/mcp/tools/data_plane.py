"""Data-plane tools: a real request through the gateway, routing explanations, usage and logs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from tfy_gateway.intents import CONFIG_TYPES, BudgetIntent, GuardrailIntent, Intent, RateLimitIntent, RouteIntent
from tfy_gateway.intents.guardrail import reference
from tfy_gateway.mcp.errors import RESTART_HINT
from tfy_gateway.mcp.state import state_of
from tfy_gateway.mcp.tools.base import add_tool
from tfy_gateway.mcp.verify import Kind, Sender, Verification, limit_rule_id, unverified
from tfy_gateway.mcp.verify import verify as verify_intent
from tfy_gateway.mcp.verify_caller import CallerUnavailable, NoCaller, acting_as, plan_caller
from tfy_gateway.mcp.verify_guardrail import verify_guardrail
from tfy_gateway.mcp.verify_spend import MAX_REQUESTS, CannotReach, spend_for, statement
from tfy_gateway.platform import (
    ControlPlaneClient,
    ControlPlaneError,
    SmokeOutcome,
    UnreachableError,
    UnsupportedFeatureError,
    ValidationFailed,
    smoke_test,
)

V2_BUDGET_TYPES = ("tenant-budget-config", "team-budget-config")

SMOKE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


class TokenUsage(BaseModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class SmokeResult(BaseModel):
    ok: bool = Field(description="The gateway answered 2xx.")
    status: int | None = Field(description="HTTP status; null when nothing was sent (see verification).")
    requested_model: str
    resolved_model: str | None = Field(
        default=None, description="x-tfy-resolved-model: the model that actually answered."
    )
    applied_configurations: Any = Field(
        default=None, description="x-tfy-applied-configurations: routing/limit rules that applied."
    )
    latency_ms: float | None = None
    ttft_ms: float | None = Field(default=None, description="Time to the first streamed token.")
    usage: TokenUsage | None = None
    cost: float | None = Field(default=None, description="Cost reported by the gateway, when it reports one.")
    output_preview: str | None = Field(default=None, description="Start of the reply (untrusted model output).")
    error: str | None = Field(default=None, description="The gateway's error message on a non-2xx answer.")
    verification: Verification | None = Field(
        default=None,
        description="With `verify`: what it would send (before confirm=true), or whether the applied intent holds.",
    )


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
    verify: Annotated[
        Intent | None,
        Field(
            description=(
                "The intent that was applied (as given to gateway_render_manifest): state what checking it costs, "
                "then (confirm=true) send requests as a caller the rule applies to and report whether it holds. "
                "route: the split over `requests`; rate_limit: a 429 from its rule past the limit; budget: its rule "
                "in x-tfy-applied-configurations; guardrail: a crafted prompt (or answer) it must block, redact or "
                "flag."
            )
        ),
    ] = None,
    requests: Annotated[
        int | None,
        Field(
            ge=1,
            le=MAX_REQUESTS,
            description="With verify: requests to send (route: default 100; rate_limit: the most to send).",
        ),
    ] = None,
    confirm: Annotated[
        bool,
        Field(description="With verify: send the requests the call without confirm stated (after the user agreed)."),
    ] = False,
) -> SmokeResult:
    """Send one real request through the gateway's data plane ({base}/api/llm) as the API key's user.

    Returns HTTP status, the model that answered (x-tfy-resolved-model), the rules that applied
    (x-tfy-applied-configurations), latency, time to first token when streaming, token usage, cost
    if reported, and a preview of the reply. A non-2xx answer (e.g. 429 from a rate limit) is a
    result with ok=false, not a failure. This may cost money with a real provider and counts
    against rate limits and budgets; it does not change configuration.

    With `verify` (the applied intent) it first sends nothing and answers with
    verification.spend: how many requests and tokens checking the intent takes, and as whom (the
    key's own user when the rule covers it, else a temporary member of the rule's team or a
    temporary token of its user, made and revoked by this tool). Show it to the user; call again
    with confirm=true to send. Requests stop at the first refusal. The verdict is holds,
    does_not_hold (the rule was exercised and did not do what the intent says), or unverified with
    the reason (e.g. no caller the rule applies to can be made, as on the platform).
    """
    state = state_of(ctx)
    settings = state.require_settings()
    if verify is None:
        try:
            outcome = await smoke_test(
                settings, model=model, kind=kind, prompt=prompt, stream=stream, max_tokens=max_tokens, metadata=metadata
            )
        except UnreachableError as exc:
            raise ToolError(
                f"{exc.message[:1].upper()}{exc.message[1:]}. Start it or fix TFY_BASE_URL, then call gateway_status."
            ) from None
        if outcome.status == 401:
            # A wrong key is not a smoke result: every next call would fail the same way.
            raise ToolError(f"The gateway rejected TFY_API_KEY (401): {outcome.error}. Fix TFY_API_KEY. {RESTART_HINT}")
        return SmokeResult.model_validate(outcome.to_dict())
    verification, last = await _verify(ctx, model, verify, requests, max_tokens, metadata, confirm)
    if last is None:
        return SmokeResult(ok=False, status=None, requested_model=model, verification=verification)
    return SmokeResult.model_validate({**last.to_dict(), "verification": verification})


async def _verify(
    ctx: Context,
    model: str,
    intent: Intent,
    requests: int | None,
    max_tokens: int,
    metadata: dict[str, str] | None,
    confirm: bool,
) -> tuple[Verification, SmokeOutcome | None]:
    """The statement (nothing sent), or the verification as a caller the rule applies to."""
    if isinstance(intent, RouteIntent) and intent.model and intent.model != model:
        raise ToolError(f"To verify the route for '{intent.model}', pass model='{intent.model}' (got '{model}').")
    if not isinstance(intent, (RouteIntent, RateLimitIntent, BudgetIntent, GuardrailIntent)):
        raise ToolError(f"{intent.kind} intents cannot be verified with requests; use gateway_status/list_models.")
    kind: Kind = intent.kind
    expected: dict[str, Any]
    if isinstance(intent, RouteIntent):
        expected = {"model": intent.model}
    elif isinstance(intent, GuardrailIntent):
        expected = {"guardrail": reference(intent)}
    else:
        expected = {"rule_id": limit_rule_id(intent)}
    state = state_of(ctx)
    settings = state.require_settings()
    async with state.control_plane() as client:
        caller = await plan_caller(client, intent.subjects)
        if isinstance(caller, NoCaller):
            return unverified(kind, f"nothing was sent: {caller.reason}", expected), None
        try:
            spend = spend_for(intent, requests=requests, max_tokens=max_tokens, caller=caller.description)
        except CannotReach as exc:
            return unverified(kind, f"nothing was sent: {exc}", expected), None
        if not confirm:
            return unverified(kind, statement(spend, model), expected, spend), None
        live_budgets = await _live_budget_rules(client) if isinstance(intent, BudgetIntent) else None
        try:
            async with acting_as(client, settings, caller) as as_caller:
                sender = Sender(as_caller, model, spend, {**verify_metadata(intent), **(metadata or {})} or None)
                if isinstance(intent, GuardrailIntent):
                    return await verify_guardrail(sender, intent)
                return await verify_intent(sender, intent, live_budgets=live_budgets)
        except CallerUnavailable as exc:
            return unverified(kind, f"nothing was sent: {exc}", expected, spend), None


async def _live_budget_rules(client: ControlPlaneClient) -> set[str]:
    """Ids of the live budget rules: V1 rule ids and V2 budget names."""
    v1 = await client.get_config(CONFIG_TYPES["budget"])
    rules = {str(r.get("id")) for r in (v1 or {}).get("rules") or [] if isinstance(r, dict)}
    for config_type in V2_BUDGET_TYPES:
        rules |= {str(m.get("name")) for m in await client.list_configs(config_type)}
    return rules


def verify_metadata(intent: Intent) -> dict[str, str]:
    """Metadata the intent's rule requires, so the verification requests match it."""
    metadata = getattr(intent, "metadata", None)
    return dict(metadata) if isinstance(metadata, dict) else {}


@contextmanager
def _optional_feature(base_url: str, feature: str) -> Iterator[None]:
    """Errors of the optional endpoints (explain, logs, usage) in words that fit them.

    Other control-plane errors go on to `state.control_plane()`, which maps them for every tool.
    """
    try:
        yield
    except UnsupportedFeatureError:
        raise ToolError(
            f"This control plane ({base_url}) does not support {feature} yet (404). "
            "Use a tfy-gateway version that serves it."
        ) from None
    except ValidationFailed as exc:
        raise ToolError(f"{feature} failed ({exc.status}): {exc.message}. Check the arguments.") from None


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
    async with state.control_plane() as client:
        with _optional_feature(client.base_url, "explain"):
            explanation = await client.explain(subject, model, metadata)
    return ExplainResult(subject=subject, model=model, explanation=explanation)


class UsageResult(BaseModel):
    summary: dict[str, Any] = Field(description="Usage summary: requests, tokens and cost by model and subject.")
    logs: list[dict[str, Any]] = Field(description="Most recent request logs, newest first.")
    logs_returned: int
    rate_limits: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Each rate-limit rule (V1 and V2) with every entity counted in its current window: "
        "used, limit, remaining, percentage per unit.",
    )
    budgets: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Each budget rule (V1 and V2) with every entity's spend in its current period.",
    )
    limits_note: str | None = Field(
        default=None, description="Why rate_limits/budgets are empty when they could not be read (e.g. not an admin)."
    )


async def gateway_usage(
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=100, description="How many recent request logs to return.")] = 20,
    model: Annotated[str | None, Field(description="Only logs for this model.")] = None,
    subject: Annotated[
        str | None, Field(description="Only logs for this subject, e.g. 'user:bob@example.com'.")
    ] = None,
) -> UsageResult:
    """Summarise gateway usage (requests, tokens, cost), the most recent request logs, and what every
    rate-limit and budget rule has counted per entity (used, limit, remaining).

    Logs and summary are filtered by model and subject when given; the summary covers the last 24
    hours. Limit usage needs an admin key (limits_note says why it is missing otherwise). It changes
    nothing and sends no model request.
    """
    state = state_of(ctx)
    rate_limits: list[dict[str, Any]] = []
    budgets: list[dict[str, Any]] = []
    note: str | None = None
    async with state.control_plane() as client:
        with _optional_feature(client.base_url, "usage summaries"):
            summary = await client.usage_summary(model=model, subject=subject)
        with _optional_feature(client.base_url, "request logs"):
            page = await client.query_logs(limit=limit, model=model, subject=subject)
        try:
            rate_limits = _entries(await client.limit_usage("rate-limit"))
            budgets = _entries(await client.limit_usage("budget"))
        except ControlPlaneError as exc:
            note = f"rate-limit and budget usage unavailable: {exc}"
    logs = page.get("data")
    entries = [entry for entry in logs if isinstance(entry, dict)][:limit] if isinstance(logs, list) else []
    return UsageResult(
        summary=summary,
        logs=entries,
        logs_returned=len(entries),
        rate_limits=rate_limits,
        budgets=budgets,
        limits_note=note,
    )


def _entries(answer: dict[str, Any]) -> list[dict[str, Any]]:
    matched = answer.get("matched")
    return [entry for entry in matched if isinstance(entry, dict)] if isinstance(matched, list) else []


def register(server: MCPServer) -> None:
    add_tool(server, gateway_smoke_test, title="Smoke-test a model through the gateway", annotations=SMOKE)
    add_tool(server, gateway_explain, title="Explain routing and limits for a request", annotations=READ_ONLY)
    add_tool(server, gateway_usage, title="Gateway usage and recent logs", annotations=READ_ONLY)
