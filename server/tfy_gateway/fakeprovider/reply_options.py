"""What a chat request's `n`, `logprobs`/`top_logprobs` and `response_format` make of the fake's reply,
in the shapes OpenAI's API answers with (its OpenAPI spec's ChatCompletionTokenLogprob and so on).

The reply's words stay the synthetic ones (see `synth`); JSON modes wrap them: `json_object` as
`{"reply": "<words>"}`, `json_schema` as the sample object `synth.arguments_for` builds for the schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from tfy_gateway.fakeprovider import synth

MAX_CHOICES = 8


def choice_count(body: dict[str, Any]) -> int:
    """`n` (1 when absent or not a small positive integer)."""
    n = body.get("n")
    return n if isinstance(n, int) and 1 <= n <= MAX_CHOICES else 1


def reply_pieces(body: dict[str, Any], words: Sequence[str], per_chunk: int) -> list[str]:
    """The reply as stream deltas (one delta for the JSON modes); joined, the whole content."""
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return [orjson.dumps({"reply": synth.join_words(words)}).decode()]
    if kind == "json_schema":
        spec = response_format.get("json_schema") if isinstance(response_format, dict) else None
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return [orjson.dumps(synth.arguments_for(schema if isinstance(schema, dict) else {})).decode()]
    return synth.stream_pieces(words, per_chunk)


def _token(text: str, rank: int) -> dict[str, Any]:
    return {"token": text, "logprob": -0.05 * (rank + 1), "bytes": list(text.encode())}


def logprobs_for(body: dict[str, Any], pieces: Sequence[str]) -> dict[str, Any] | None:
    """A choice's `logprobs` for these pieces when the request asked for them (each piece one token)."""
    if body.get("logprobs") is not True:
        return None
    top = body.get("top_logprobs")
    alternatives = top if isinstance(top, int) and 0 <= top <= 20 else 0
    content = [
        {
            **_token(piece, 0),
            "top_logprobs": [_token(piece if rank == 0 else f"alt{rank}", rank) for rank in range(alternatives)],
        }
        for piece in pieces
    ]
    return {"content": content, "refusal": None}
