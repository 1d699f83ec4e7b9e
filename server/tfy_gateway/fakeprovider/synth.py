"""Deterministic content for the fake provider: token counts, reply words, tool calls, vectors.

Everything here is a pure function of the request so tests can predict the answer:
- prompt tokens = ceil(characters of all prompt text / 4), at least 1;
- the reply is a list of words (one word = one completion token);
- a tool is called when the request offers tools and either forces one (`tool_choice`) or the last
  message is from the user and mentions a tool's name or the word "tool";
- embeddings are unit vectors derived from a SHAKE-128 hash of the input.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Iterable, Sequence
from typing import Any

DEFAULT_REPLY_TOKENS = 16
DEFAULT_EMBEDDING_DIMENSIONS = 1536
_FILLER = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")


def count_tokens(texts: Iterable[str]) -> int:
    chars = sum(len(text) for text in texts)
    return max(1, math.ceil(chars / 4))


def reply_words(model: str, prompt: str, n: int) -> list[str]:
    """`n` words: a fixed preamble, then the prompt's words, then filler, cycled."""
    if n <= 0:
        return []
    source = ["Fake", "reply", "from", f"{model}:", *prompt.split()[:32], *_FILLER]
    return [source[i % len(source)] for i in range(n)]


def join_words(words: Sequence[str]) -> str:
    return " ".join(words)


def stream_pieces(words: Sequence[str], per_chunk: int) -> list[str]:
    """Group words into stream deltas whose concatenation equals `join_words(words)`."""
    pieces = []
    for start in range(0, len(words), per_chunk):
        piece = " ".join(words[start : start + per_chunk])
        pieces.append(piece if start == 0 else " " + piece)
    return pieces


def split_arguments(arguments: str, parts: int = 3) -> list[str]:
    """Split a JSON string into a few deltas (exercises argument reassembly in clients)."""
    size = max(1, math.ceil(len(arguments) / parts))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


def choose_tool(
    tools: Sequence[tuple[str, dict[str, Any]]],
    forced: str | None,
    any_tool: bool,
    disabled: bool,
    last_role: str,
    last_text: str,
) -> tuple[str, dict[str, Any]] | None:
    """Pick the tool to call (name, JSON schema) or None for a text reply."""
    if not tools or disabled:
        return None
    if forced is not None:
        for name, schema in tools:
            if name == forced:
                return name, schema
        return None
    if any_tool:
        return tools[0]
    if last_role != "user":
        return None
    lowered = last_text.lower()
    for name, schema in tools:
        if name.lower() in lowered:
            return name, schema
    if "tool" in lowered:
        return tools[0]
    return None


def arguments_for(schema: dict[str, Any]) -> dict[str, Any]:
    """Deterministic arguments matching a JSON schema's top-level properties."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    return {name: _value_for(name, spec) for name, spec in properties.items()}


def _value_for(name: str, spec: Any) -> Any:
    if not isinstance(spec, dict):
        return "fake"
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        return spec["enum"][0]
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "array":
        return [_value_for(name, spec.get("items", {}))]
    if kind == "object":
        return arguments_for(spec)
    return f"fake-{name}"


def embedding(text: str, dimensions: int) -> list[float]:
    """A unit vector that depends only on `text` and `dimensions`."""
    raw = hashlib.shake_128(text.encode()).digest(2 * dimensions)
    values = [(v - 32767.5) / 32767.5 for v in struct.unpack(f"<{dimensions}H", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


class EmbeddingCache:
    """Vectors are pure functions of (text, dimensions) but cost ~0.5 ms at 1536 dimensions; benchmarks
    repeat inputs, so keep recent ones (bounded; cleared when full)."""

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._vectors: dict[tuple[str, int], list[float]] = {}

    def get(self, text: str, dimensions: int) -> list[float]:
        key = (text, dimensions)
        vector = self._vectors.get(key)
        if vector is None:
            if len(self._vectors) >= self._size:
                self._vectors.clear()
            vector = self._vectors[key] = embedding(text, dimensions)
        return vector


def embedding_base64(vector: Sequence[float]) -> str:
    """OpenAI's `encoding_format=base64`: little-endian float32, base64 encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
