"""relay: what an upstream read brought together goes to the client in one write, with the same bytes
in the same order as event by event; the final `[DONE]` is held back; a provider error mid-read
follows the events before it; a held stream goes out whole."""

from __future__ import annotations

import time
from typing import Any

import orjson

from tests.gateway.providers.conftest import openai_target
from tfy_gateway.gateway.data_plane.held_stream import HeldStream
from tfy_gateway.gateway.data_plane.streaming import relay
from tfy_gateway.gateway.providers import HttpResponse, Timeouts, UpstreamStream
from tfy_gateway.gateway.providers.memory_transport import MemoryStream
from tfy_gateway.gateway.providers.openai_compatible import OpenAIChunks
from tfy_gateway.gateway.providers.wire import DONE

TARGET = openai_target("http://openai.test")


def chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    event = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + orjson.dumps(event) + b"\n\n"


EVENTS = [chunk("Hel"), chunk("lo"), chunk(" there"), chunk(None, "stop")]
BODY = b"".join(EVENTS) + DONE


async def upstream(body: bytes, size: int | None = None) -> UpstreamStream:
    stream = UpstreamStream(
        MemoryStream(HttpResponse(200, {}, body), size),
        TARGET,
        OpenAIChunks(TARGET, strip_usage=False),
        started=time.perf_counter(),
        timeouts=Timeouts(),
        url="http://openai.test/v1/chat/completions",
    )
    await stream.prefetch()
    return stream


async def relayed(stream: Any) -> tuple[list[bytes], Any]:
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    report = await relay(send, stream, [], target="openai-main/gpt-4o", keep_text=True)
    assert messages[0]["type"] == "http.response.start"
    return [message["body"] for message in messages[1:]], report


async def test_events_one_read_brought_go_out_in_one_write_with_the_same_bytes() -> None:
    together, report = await relayed(await upstream(BODY))  # the whole body in one read
    assert together == [b"".join(EVENTS)]
    assert report.tail == DONE and report.status == 200 and report.text == "Hello there"
    one_by_one, single = await relayed(await upstream(BODY, size=7))  # many small reads
    assert b"".join(one_by_one) == b"".join(EVENTS) and len(one_by_one) == len(EVENTS)
    assert single.tail == DONE and single.text == "Hello there"


async def test_a_provider_error_in_a_read_follows_the_events_before_it() -> None:
    failure = b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n'
    stream = await upstream(EVENTS[0] + EVENTS[1] + failure + EVENTS[2])
    bodies, report = await relayed(stream)
    assert bodies[0] == EVENTS[0] + EVENTS[1]  # sent before the error is reported
    assert len(bodies) == 2 and b'"error"' in bodies[1] and b"overloaded" in bodies[1]
    assert report.status >= 500 and report.tail == b"" and stream.content_chunks == 2


async def test_a_held_stream_goes_out_whole_after_its_head() -> None:
    upstream_stream = await upstream(BODY, size=7)
    events = [event async for event in upstream_stream]
    bodies, report = await relayed(HeldStream(events, upstream_stream))
    assert bodies == [b"".join(EVENTS)] and report.tail == DONE and report.text == "Hello there"
