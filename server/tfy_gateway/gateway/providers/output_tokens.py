"""How many output tokens a request will ask its provider for, as each wire format's adapter sends it.

One answer for the adapters (the Anthropic adapter sends `max_tokens` from here) and for the
limits' token and cost holds (`limits.tokens`), so a budget holds what the provider may really
generate and bill, not what the client happened to write. Per wire format:

- `openai`, `azure-openai`: the body passes through, so the cap is the body's own
  (`max_completion_tokens`, else `max_tokens`) times `n` choices; a body with neither leaves the
  provider's own default, which the gateway does not know (None).
- `anthropic`: Anthropic requires `max_tokens`; the adapter sends the body's cap, else
  `ANTHROPIC_DEFAULT_MAX_TOKENS` (4096). It sends no `n` (Anthropic answers one choice).

A cap that is not a whole number from 1 to `MAX_OUTPUT_TOKENS`, or an `n` outside 1 to `MAX_CHOICES`,
is refused with a 400 naming the field: no provider honours it, and no counter should hold it
(`max_tokens: 1e18` once overflowed a shared budget counter). Models' own context windows are not
known to the gateway, so the bound is the largest output any model produces, with room to spare.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfy_gateway.gateway.providers.base import InvalidRequest, WireFormat

ANTHROPIC_DEFAULT_MAX_TOKENS = 4096
"""What the Anthropic adapter sends as `max_tokens` when the request sets no cap (Anthropic requires one)."""
MAX_OUTPUT_TOKENS = 1_000_000
"""The largest output cap accepted per choice: several times the largest any model offers today (128k)."""
MAX_CHOICES = 128
"""The largest `n` accepted (OpenAI's own bound)."""
CAP_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
"""Chat's cap fields, then the Responses API's (a /responses body holds what it asks for too)."""


class OutputTokensInvalid(InvalidRequest):
    """An output cap or choice count no provider honours: a 400 naming the field (`param`)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(400, message, "gateway")
        self.param = param


def requested_cap(body: Mapping[str, Any]) -> int | None:
    """The body's own output cap per choice: `max_completion_tokens`, else `max_tokens`; None if neither."""
    for name in CAP_FIELDS:
        value = body.get(name)
        if value is not None:
            return whole_number(name, value, MAX_OUTPUT_TOKENS, "output tokens per choice")
    return None


def requested_choices(body: Mapping[str, Any]) -> int:
    """`n`, the number of choices asked for (1 when absent)."""
    value = body.get("n")
    return 1 if value is None else whole_number("n", value, MAX_CHOICES, "choices")


def max_output_tokens(body: Mapping[str, Any], wire_format: WireFormat) -> int | None:
    """The most output tokens `body` will ask for once `wire_format`'s adapter has sent it, all choices
    together; None when the provider's own default applies (not known here)."""
    cap = requested_cap(body)
    if wire_format == "anthropic":
        return ANTHROPIC_DEFAULT_MAX_TOKENS if cap is None else cap
    return None if cap is None else cap * requested_choices(body)


def whole_number(name: str, value: Any, most: int, what: str) -> int:
    """`value` as an int from 1 to `most` (a float with a whole value too: JSON has one number type);
    the request-body checks (data_plane/body_checks.py) use it too, so both say the same."""
    if type(value) is int and 0 < value <= most:  # the usual case, first
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OutputTokensInvalid(name, f"'{name}' must be a whole number from 1 to {most}, not {value!r}.")
    if isinstance(value, float) and not value.is_integer():
        raise OutputTokensInvalid(name, f"'{name}' must be a whole number from 1 to {most}, not {value!r}.")
    if value < 1:
        raise OutputTokensInvalid(name, f"'{name}' must be at least 1, not {value!r}.")
    if value > most:
        raise OutputTokensInvalid(
            name,
            f"'{name}' is {value!r}, above the gateway's limit of {most} {what} (no model produces more): lower it.",
        )
    return int(value)
