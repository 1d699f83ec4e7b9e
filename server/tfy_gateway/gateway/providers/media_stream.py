"""Streamed image generations and transcriptions on the OpenAI-compatible wire, passed through event by
event (a `ChunkTranslator`; pure).

OpenAI streams these as typed events, not chat chunks: `image_generation.partial_image` ... then
`image_generation.completed`, or `transcript.text.delta` ... then `transcript.text.done`; the final
event carries the usage and ends the answer (there is no `[DONE]`, though one is accepted). Events go
to the client as they came, `event:` name included; only the final one and errors are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import orjson

from tfy_gateway.gateway.providers.base import UpstreamStreamCut, UpstreamTarget, Usage
from tfy_gateway.gateway.providers.wire import DONE, Translated, stream_error

FINAL_EVENTS: Mapping[str, str] = MappingProxyType(
    {"images": "image_generation.completed", "transcriptions": "transcript.text.done"}
)
"""The event that completes each endpoint's stream."""


class MediaEvents:
    """The translation state of one image or transcription stream."""

    def __init__(self, target: UpstreamTarget, endpoint: str) -> None:
        self.target = target
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self._final = FINAL_EVENTS[endpoint]
        self._started = False

    def feed(self, event: str, data: bytes) -> Translated:
        if data == b"[DONE]":
            return Translated((DONE,), done=True)
        first = not self._started
        self._started = True
        frame = (b"event: " + event.encode() + b"\n" if event else b"") + b"data: " + data + b"\n\n"
        if self._final.encode() not in data and b'"error"' not in data:
            return Translated((frame,), first_token=first)
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return Translated((frame,), first_token=first)
        if not isinstance(payload, dict):
            return Translated((frame,), first_token=first)
        if "error" in payload:
            raise stream_error(self.target, payload)
        if (payload.get("type") or event) != self._final:
            return Translated((frame,), first_token=first)
        self.usage = Usage.from_openai(payload.get("usage"))
        self.finish_reason = "stop"
        return Translated((frame,), first_token=first, done=True)

    def end(self) -> Translated:
        """The body ended: proper only after the final event (`done` was already reported then)."""
        if self.finish_reason is None:
            raise UpstreamStreamCut(
                502, f"{self.target.provider} closed the stream before {self._final}", self.target.provider
            )
        return Translated(done=True)
