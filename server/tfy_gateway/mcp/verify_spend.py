"""What a verification will send, said before anything is sent.

Every verification request costs like any other (money with a real provider) and counts against the
caller's limits and budgets, so the tool first answers with this statement and sends only when called
again with `confirm=true`. Prompts stay small: "Say hello." and at most 64 output tokens, except for a
token rate limit, whose prompt is sized to about a hundredth of the limit (at most 250 tokens) so the
window fills in about a hundred requests rather than a thousand. Token counts are the gateway's
estimate (characters / 4), an upper bound for the output.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from tfy_gateway.intents import BudgetIntent, GuardrailIntent, Intent, RateLimitIntent, RouteIntent
from tfy_gateway.mcp.guardrail_samples import crafted_prompt

DEFAULT_ROUTE_REQUESTS = 100
MAX_REQUESTS = 1000
SMALL_PROMPT = "Say hello."
MAX_OUTPUT_TOKENS = 64
MAX_PROMPT_CHARS = 1000  # ~250 tokens: the largest prompt a token-limit check sends
FILLER = "Count these words. "


class SpendPlan(BaseModel):
    requests: int = Field(description="Requests sent at most (fewer when one is refused first).")
    tokens: int = Field(description="Tokens (input + output) those requests use at most, as the gateway counts them.")
    prompt: str = Field(description="The prompt of every request.")
    max_tokens: int = Field(description="The output cap of every request.")
    caller: str = Field(description="Whom the requests are sent as.")
    effects: str = Field(description="What the requests leave behind.")


class CannotReach(ValueError):
    """The rule's limit is farther than MAX_REQUESTS small requests: nothing would be learnt."""


def _tokens(prompt: str) -> int:
    return math.ceil(len(prompt) / 4)


def _prompt(chars: int) -> str:
    return (FILLER * (chars // len(FILLER) + 1))[:chars]


def spend_for(intent: Intent, *, requests: int | None, max_tokens: int, caller: str) -> SpendPlan:
    """The statement for `intent`; raises CannotReach when the limit cannot be reached in MAX_REQUESTS."""
    prompt, output = SMALL_PROMPT, min(max_tokens, MAX_OUTPUT_TOKENS)
    effects = "the requests are logged and count against the caller's limits and budgets"
    if isinstance(intent, RouteIntent):
        count = requests or DEFAULT_ROUTE_REQUESTS
    elif isinstance(intent, BudgetIntent):
        count = 1
    elif isinstance(intent, GuardrailIntent):
        count = 1
        prompt = crafted_prompt(intent) or SMALL_PROMPT
        effects = "the request is logged (blocked before the model, it counts against no limit or budget)"
    elif isinstance(intent, RateLimitIntent):
        limit = intent.limit or 0
        window = (intent.unit or "").rsplit("_", 1)[-1]
        effects = f"the caller stays limited by this rule until its {window} window slides"
        if (intent.applies_per or []) == [] and intent.subjects not in (None, ["*"]):
            effects += " (the limit is shared: every caller it covers is limited with it)"
        if (intent.unit or "").startswith("tokens"):
            output = MAX_OUTPUT_TOKENS
            prompt = _prompt(max(len(SMALL_PROMPT), min(MAX_PROMPT_CHARS, limit * 4 // 100)))
            count = math.ceil(limit / _tokens(prompt)) + 1  # completions may be a single token
        else:
            count = limit + 1
        if count > MAX_REQUESTS:
            raise CannotReach(
                f"reaching a limit of {limit} {intent.unit} takes up to {count} requests, more than the "
                f"{MAX_REQUESTS} a verification sends: check the rule with gateway_explain and gateway_usage instead"
            )
        if requests is not None:
            count = min(count, requests)
    else:
        raise ValueError(f"{intent.kind} intents cannot be verified with requests; use gateway_status/list_models")
    tokens = count * (_tokens(prompt) + output)
    return SpendPlan(requests=count, tokens=tokens, prompt=prompt, max_tokens=output, caller=caller, effects=effects)


def statement(spend: SpendPlan, model: str) -> str:
    """The sentence the assistant shows the user before confirming."""
    return (
        f"Verifying sends up to {spend.requests} request(s) for {model} (at most about {spend.tokens:,} tokens) as "
        f"{spend.caller}; {spend.effects}. Nothing was sent: ask the user, then call again with confirm=true."
    )
