"""How many tokens a request holds at admission under a token-unit limit or a budget.

Input tokens are estimated from the request's text (`accounting.estimate.prompt_tokens`: characters
/ 4). Output tokens are what the request will ask its provider for, as the adapter sends it
(`providers.output_tokens.max_output_tokens`: the body's cap times `n` choices, or the adapter's own
default, e.g. Anthropic's 4096), the largest over the targets it may be routed to; when the provider's
own default applies (an OpenAI-format body without a cap), `DEFAULT_COMPLETION_TOKENS` per choice.
Endpoints that produce no completion (embeddings, rerank, moderation, ...) hold their input estimate
only. A cap no provider honours raises `OutputTokensInvalid` (a 400 naming the field). Settling
replaces the estimate with the real usage, so the estimate only decides how many requests may be in
flight at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tfy_gateway.gateway.accounting.estimate import prompt_tokens
from tfy_gateway.gateway.providers.base import WireFormat
from tfy_gateway.gateway.providers.output_tokens import max_output_tokens, requested_choices

DEFAULT_COMPLETION_TOKENS = 256
"""Held per choice for the answer of a request that leaves the cap to the provider's own default
(not known to the gateway): a typical chat reply, not a worst case."""

Send = tuple[WireFormat, Mapping[str, Any]]
"""One way a request may go out: a target's wire format, and the body sent there (a target's
`override_params` may change it)."""
AS_OPENAI: tuple[Send, ...] = ()
"""No targets known: the body as it came, in OpenAI's format."""


def estimated_usage(body: Mapping[str, Any], *, generates: bool, sends: Sequence[Send] = AS_OPENAI) -> tuple[int, int]:
    """Estimated (input, output) tokens of `body`, sent as `sends` says (the costliest of them)."""
    if not generates:
        return prompt_tokens(body), 0
    output = 0
    for wire_format, sent in sends or (("openai", body),):
        asked = max_output_tokens(sent, wire_format)
        if asked is None:
            asked = DEFAULT_COMPLETION_TOKENS * requested_choices(sent)
        output = max(output, asked)
    return prompt_tokens(body), output


def reserved_tokens(body: Mapping[str, Any], *, generates: bool, sends: Sequence[Send] = AS_OPENAI) -> int:
    """Estimated input + output tokens of `body`; at least 1."""
    prompt, completion = estimated_usage(body, generates=generates, sends=sends)
    return max(prompt + completion, 1)
