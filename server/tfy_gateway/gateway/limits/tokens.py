"""How many tokens a request holds at admission under a token-unit limit.

Input tokens are estimated from the request's text (`accounting.estimate.prompt_tokens`: characters
/ 4). Output tokens are what the request allows itself: `max_completion_tokens`, else `max_tokens`,
times `n` choices; with neither, `DEFAULT_COMPLETION_TOKENS`. Endpoints that produce no completion
(embeddings, rerank, moderation, ...) hold their input estimate only. Settling replaces the estimate
with the real usage, so the estimate only decides how many requests may be in flight at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfy_gateway.gateway.accounting.estimate import prompt_tokens

DEFAULT_COMPLETION_TOKENS = 256
"""Held for the answer of a request that sets no output cap: a typical chat reply, not a worst case."""


def estimated_usage(body: Mapping[str, Any], *, generates: bool) -> tuple[int, int]:
    """Estimated (input, output) tokens of `body`."""
    if not generates:
        return prompt_tokens(body), 0
    cap = _positive_int(body.get("max_completion_tokens")) or _positive_int(body.get("max_tokens"))
    return prompt_tokens(body), (cap or DEFAULT_COMPLETION_TOKENS) * (_positive_int(body.get("n")) or 1)


def reserved_tokens(body: Mapping[str, Any], *, generates: bool) -> int:
    """Estimated input + output tokens of `body`; at least 1."""
    prompt, completion = estimated_usage(body, generates=generates)
    return max(prompt + completion, 1)


def _positive_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None
