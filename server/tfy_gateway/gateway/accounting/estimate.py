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


PROMPT_FIELDS = ("prompt", "input", "messages", "instructions")
"""Where a request body holds its input text (`instructions`: a /responses system prompt)."""


def _text_chars(value: Any) -> int:
    """Characters of text in `value`: strings, and under TEXT_KEYS of mappings, in lists at any depth.
    (Plain loops: this runs per request under token limits and budgets. A list's plain dicts, a chat
    request's messages, are read in the list's own loop: one call for a whole conversation.)"""
    if isinstance(value, str):
        return len(value)
    if value is None:  # a field the body does not set: no ABC check for it
        return 0
    total = 0
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                total += len(item)
            elif type(item) is dict:
                for key, text in item.items():
                    if key in TEXT_KEYS:
                        total += len(text) if isinstance(text, str) else _text_chars(text)
            else:
                total += _text_chars(item)
    elif isinstance(value, (dict, Mapping)):  # dict first: a plain dict skips the ABC check
        for key, item in value.items():
            if key in TEXT_KEYS:
                total += len(item) if isinstance(item, str) else _text_chars(item)
    return total


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """Estimated input tokens of an OpenAI-format request body (messages, prompt or input)."""
    chars = 0
    for name in PROMPT_FIELDS:
        value = body.get(name)
        if value is not None:
            chars += len(value) if isinstance(value, str) else _text_chars(value)
    return -(-chars // CHARS_PER_TOKEN)


def usage_of_cut_stream(body: Mapping[str, Any], reported: Usage | None, content_chunks: int) -> Usage:
    """What a stream that ended without its usage consumed: the provider's figures where it gave any."""
    prompt = reported.prompt_tokens if reported is not None and reported.prompt_tokens else prompt_tokens(body)
    completion = max(content_chunks, reported.completion_tokens if reported is not None else 0)
    return Usage(prompt_tokens=prompt, completion_tokens=completion)
