"""Every OpenAI chat parameter, as the Anthropic translator treats it: carried over, or refused.

Nothing is dropped silently: a parameter Anthropic's Messages API has no equivalent for is a 400 that
names it (`param`), with code `unsupported_parameter`, or `unsupported_value` when only some of its
values cannot be honoured (e.g. `n` above 1, `temperature` above 1). A value that asks for what the
translation gives anyway (`n: 1`, `logprobs: false`, `response_format: {"type": "text"}`, a zero
penalty, `store: false`) is accepted. The table covers every parameter of OpenAI's
CreateChatCompletionRequest (a test checks it against the published OpenAPI spec), plus Anthropic's
own `top_k` and `thinking`, which are passed through; any other name is refused as OpenAI refuses an
unknown argument.

Why `temperature` above 1 is refused rather than scaled: Anthropic's range is 0..1 and OpenAI's
0..2, and neither API documents the two scales as equivalent; clamping (what this translator did)
or halving would silently change the sampling the caller asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

UNSUPPORTED_PARAMETER = "unsupported_parameter"
UNSUPPORTED_VALUE = "unsupported_value"

MAPPED = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "stream",
        "stream_options",
        "top_p",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "functions",
        "function_call",
        "user",
        "safety_identifier",
    }
)
"""Carried over (see openai_anthropic's module docstring for where each goes)."""

EXTENSIONS = frozenset({"top_k", "thinking"})
"""Anthropic's own parameters, which an OpenAI client may send as extra body fields."""

SERVICE_TIERS = {"auto": "auto", "default": "standard_only"}
"""OpenAI's `service_tier` -> Anthropic's (`default` is OpenAI's standard processing)."""

Verdict = Callable[[Any], str | None]
"""None when the value can be honoured; else why not (the end of the 400's message)."""


def _never(reason: str) -> Verdict:
    return lambda value: reason


def _unless(honoured: Callable[[Any], bool], reason: str) -> Verdict:
    return lambda value: None if honoured(value) else reason


def _text_format(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "text"


def _temperature(value: Any) -> bool:
    return not isinstance(value, (int, float)) or value <= 1


CHECKS: Mapping[str, tuple[str, Verdict]] = {
    "temperature": (
        UNSUPPORTED_VALUE,
        _unless(_temperature, "Anthropic's temperature ranges from 0 to 1; send a value of at most 1."),
    ),
    "n": (UNSUPPORTED_VALUE, _unless(lambda v: v == 1, "Anthropic returns one choice per request; send n=1.")),
    "logprobs": (UNSUPPORTED_VALUE, _unless(lambda v: v is False, "Anthropic does not return log probabilities.")),
    "top_logprobs": (UNSUPPORTED_VALUE, _unless(lambda v: v == 0, "Anthropic does not return log probabilities.")),
    "response_format": (
        UNSUPPORTED_VALUE,
        _unless(
            _text_format,
            "the translation to Anthropic Messages has no JSON mode or JSON schema output; ask for JSON in "
            "the prompt or use a tool with the schema as its parameters.",
        ),
    ),
    "seed": (UNSUPPORTED_PARAMETER, _never("Anthropic has no seed for reproducible sampling.")),
    "frequency_penalty": (UNSUPPORTED_VALUE, _unless(lambda v: v == 0, "Anthropic has no frequency penalty.")),
    "presence_penalty": (UNSUPPORTED_VALUE, _unless(lambda v: v == 0, "Anthropic has no presence penalty.")),
    "logit_bias": (UNSUPPORTED_VALUE, _unless(lambda v: v == {}, "Anthropic has no logit bias.")),
    "metadata": (
        UNSUPPORTED_PARAMETER,
        _never(
            "OpenAI's stored-completion tags have no Anthropic equivalent (its metadata holds only a "
            "user id: send `user`)."
        ),
    ),
    "store": (UNSUPPORTED_VALUE, _unless(lambda v: v is False, "Anthropic does not store completions.")),
    "reasoning_effort": (
        UNSUPPORTED_PARAMETER,
        _never('Anthropic sets reasoning with `thinking` ({"type": "enabled", "budget_tokens": N}); send that.'),
    ),
    "verbosity": (UNSUPPORTED_PARAMETER, _never("Anthropic has no verbosity setting.")),
    "modalities": (
        UNSUPPORTED_VALUE,
        _unless(lambda v: v == ["text"], "Anthropic Messages answers with text only."),
    ),
    "audio": (UNSUPPORTED_PARAMETER, _never("Anthropic Messages has no audio output.")),
    "prediction": (UNSUPPORTED_PARAMETER, _never("Anthropic has no predicted outputs.")),
    "web_search_options": (
        UNSUPPORTED_PARAMETER,
        _never("the translation does not map OpenAI's web search to Anthropic's server tools."),
    ),
    "service_tier": (
        UNSUPPORTED_VALUE,
        _unless(lambda v: v in SERVICE_TIERS, "Anthropic's service tiers are 'auto' and 'default' (standard)."),
    ),
    "prompt_cache_key": (
        UNSUPPORTED_PARAMETER,
        _never("Anthropic caches prompts marked with cache_control on content parts, not by key."),
    ),
    "prompt_cache_retention": (
        UNSUPPORTED_PARAMETER,
        _never("Anthropic sets a cache's lifetime with cache_control.ttl on the cached content part."),
    ),
    "prompt_cache_options": (
        UNSUPPORTED_PARAMETER,
        _never("Anthropic caches prompts marked with cache_control on content parts."),
    ),
    "moderation": (UNSUPPORTED_PARAMETER, _never("Anthropic has no request moderation setting.")),
}
"""The parameters carried over only for some values, or never (code, verdict)."""


def unsupported(body: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """The first parameter of `body` the translation cannot honour: (name, code, why), else None.
    A null value is an absent one, as for OpenAI."""
    for name, value in body.items():
        if value is None or name in MAPPED or name in EXTENSIONS:
            continue
        check = CHECKS.get(name)
        if check is None:
            return name, "unknown_parameter", "it is not a chat completions parameter."
        code, verdict = check
        reason = verdict(value)
        if reason is not None:
            return name, code, reason
    return None
