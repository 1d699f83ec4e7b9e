"""Token estimates for when a provider never reported usage: a stream cut short, by the client or
the provider, before its usage chunk. Charging nothing would let anyone read a long answer for free
by closing the connection before the end (a budget bypass peers shipped); charging an estimate,
marked as one in the request log, keeps budgets honest.

The estimate is deliberately simple and documented: prompt tokens = characters of the request's
text / 4, rounded up (OpenAI's rule of thumb for English); completion tokens = content chunks sent
to the client (OpenAI-compatible servers send about one token per chunk).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfy_gateway.gateway.providers import Usage

CHARS_PER_TOKEN = 4


TEXT_KEYS = frozenset({"content", "text", "prompt", "input", "output"})
"""`output`: a /responses `function_call_output` item's text."""


def _text_chars(value: Any) -> int:
    """Characters of text in `value`: strings, and under TEXT_KEYS of mappings, in lists at any depth.
    (Plain loops: this runs per request under token limits and budgets.)"""
    if isinstance(value, str):
        return len(value)
    if value is None:  # a field the body does not set: no ABC check for it
        return 0
    total = 0
    if isinstance(value, list):
        for item in value:
            total += len(item) if isinstance(item, str) else _text_chars(item)
    elif isinstance(value, (dict, Mapping)):  # dict first: a plain dict skips the ABC check
        for key, item in value.items():
            if key in TEXT_KEYS:
                total += len(item) if isinstance(item, str) else _text_chars(item)
    return total


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """Estimated input tokens of an OpenAI-format request body (messages, prompt or input)."""
    chars = _text_chars(body.get("prompt")) + _text_chars(body.get("input")) + _text_chars(body.get("messages"))
    chars += _text_chars(body.get("instructions"))  # /responses: the system prompt
    return -(-chars // CHARS_PER_TOKEN)


def usage_of_cut_stream(body: Mapping[str, Any], reported: Usage | None, content_chunks: int) -> Usage:
    """What a stream that ended without its usage consumed: the provider's figures where it gave any."""
    prompt = reported.prompt_tokens if reported is not None and reported.prompt_tokens else prompt_tokens(body)
    completion = max(content_chunks, reported.completion_tokens if reported is not None else 0)
    return Usage(prompt_tokens=prompt, completion_tokens=completion)
