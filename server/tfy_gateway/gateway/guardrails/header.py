"""`X-TFY-GUARDRAILS`: guardrails a request asks for, on top of those the rules select.

`{"llm_input_guardrails": ["<group>/<integration>"], "llm_output_guardrails": [...],
"enable_parallel_execution": false}`, every key optional. The guardrails are added to the matching
rules' (a caller can add checks, never remove one an admin configured); `enable_parallel_execution`
overrides `gateway-global-settings` for this request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

HEADER = "x-tfy-guardrails"
LISTS = ("llm_input_guardrails", "llm_output_guardrails")
PARALLEL = "enable_parallel_execution"
EXAMPLE = '{"llm_input_guardrails": ["pii-guards/block-pii"]}'
MAX_REFERENCES = 64


@dataclass(frozen=True, slots=True)
class RequestedGuardrails:
    input: tuple[str, ...] = ()
    output: tuple[str, ...] = ()
    parallel: bool | None = None


def parse_guardrails_header(raw: str) -> RequestedGuardrails:
    """The header's request; ValueError with a message naming the header for anything malformed."""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError(f"{HEADER} is not valid JSON; send an object such as {EXAMPLE}.") from None
    if not isinstance(data, dict):
        raise ValueError(f"{HEADER} must be a JSON object such as {EXAMPLE}.")
    unknown = sorted(set(data) - {*LISTS, PARALLEL})
    if unknown:
        raise ValueError(f"{HEADER}: unknown key {unknown[0]!r}; allowed keys: {', '.join((*LISTS, PARALLEL))}.")
    lists = []
    for key in LISTS:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and "/" in item for item in value):
            raise ValueError(f"{HEADER}: {key} must be a list of '<guardrail-group>/<integration>' names.")
        if len(value) > MAX_REFERENCES:
            raise ValueError(f"{HEADER}: {key} lists {len(value)} guardrails; at most {MAX_REFERENCES} are allowed.")
        lists.append(tuple(dict.fromkeys(value)))
    parallel = data.get(PARALLEL)
    if parallel is not None and not isinstance(parallel, bool):
        raise ValueError(f"{HEADER}: {PARALLEL} must be true or false.")
    return RequestedGuardrails(lists[0], lists[1], parallel)
