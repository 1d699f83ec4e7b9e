"""A streamed answer held back until its output guardrails pass (references/guardrails.md, "Streaming").

The platform's sources disagree on output guardrails for streams; this gateway runs them on the
assembled answer before any byte reaches the client, so a block is a clean 400 and a rewrite (PII
redacted) is what the client receives. The price: with an output guardrail, a stream arrives in one
burst once the model has finished (its time to first token is the whole answer's). Streams without
an output guardrail are relayed as they arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfy_gateway.gateway.data_plane.failures import from_upstream
from tfy_gateway.gateway.data_plane.hooks import GuardrailSession
from tfy_gateway.gateway.guardrails import streams
from tfy_gateway.gateway.providers import UpstreamError, UpstreamStream, Usage


class HeldStream:
    """The events of a finished upstream stream (rewritten if a guardrail changed the answer),
    replayed to the client; timings and usage are the upstream stream's."""

    def __init__(self, events: list[bytes], upstream: UpstreamStream) -> None:
        self._events = events
        self._next = 0
        self.usage: Usage | None = upstream.usage
        self.completed = upstream.completed
        self.content_chunks = upstream.content_chunks
        self.ttft = upstream.ttft
        self.duration = upstream.duration

    async def __aenter__(self) -> HeldStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def __aiter__(self) -> HeldStream:
        return self

    async def __anext__(self) -> bytes:
        if self._next >= len(self._events):
            raise StopAsyncIteration
        self._next += 1
        return self._events[self._next - 1]

    def ready(self) -> list[bytes]:
        """Every event not relayed yet: the whole answer is here already."""
        rest = self._events[self._next :]
        self._next = len(self._events)
        return rest


async def hold(stream: UpstreamStream, session: GuardrailSession, body: Mapping[str, Any], target: str) -> HeldStream:
    """Read `stream` to its end, run the output guardrails on the assembled answer, and return what
    to relay; raises the guardrails' ApiError, or the provider's error if the stream broke off."""
    events: list[bytes] = []
    try:
        async with stream:
            async for event in stream:
                events.append(event)
    except UpstreamError as exc:
        raise from_upstream(exc, target) from None
    answer = streams.assemble(events)
    rewritten = await session.check_output(body, answer)
    if rewritten is not None:
        events = streams.rewrite(events, answer, rewritten)
    return HeldStream(events, stream)
