"""ConverseStream events -> OpenAI chunks (the pure translator), fed as the event-stream reader hands them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tfy_gateway.gateway.providers import UpstreamError, UpstreamStreamCut, UpstreamTarget
from tfy_gateway.gateway.providers.openai_bedrock_stream import BedrockChunks

TARGET = UpstreamTarget("bedrock", "aws-bedrock", "http://unused", "amazon.nova-pro-v1:0")


def feed(chunks: BedrockChunks, name: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    out = chunks.feed(name, orjson.dumps(payload))
    return [orjson.loads(c[6:]) for c in out.chunks if c != b"data: [DONE]\n\n"]


def test_text_tools_and_usage() -> None:
    chunks = BedrockChunks(TARGET, include_usage=True)
    assert feed(chunks, "messageStart", {"role": "assistant"})[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": "",
    }
    first = chunks.feed("contentBlockDelta", orjson.dumps({"contentBlockIndex": 0, "delta": {"text": "Hi"}}))
    assert first.first_token
    opened = feed(
        chunks, "contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tu", "name": "f"}}}
    )
    assert opened[0]["choices"][0]["delta"]["tool_calls"] == [
        {"index": 0, "id": "tu", "type": "function", "function": {"name": "f", "arguments": ""}}
    ]
    args = feed(chunks, "contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a":'}}})
    assert args[0]["choices"][0]["delta"]["tool_calls"] == [{"index": 0, "function": {"arguments": '{"a":'}}]
    assert feed(chunks, "contentBlockStop", {"contentBlockIndex": 1}) == []
    stop = feed(chunks, "messageStop", {"stopReason": "tool_use"})
    assert stop[0]["choices"][0]["finish_reason"] == "tool_calls"
    end = chunks.feed(
        "metadata", orjson.dumps({"usage": {"inputTokens": 3, "outputTokens": 5, "cacheReadInputTokens": 2}})
    )
    assert end.done and end.chunks[-1] == b"data: [DONE]\n\n"
    usage_chunk = orjson.loads(end.chunks[0][6:])
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["prompt_tokens"] == 5
    assert chunks.usage is not None and (chunks.usage.completion_tokens, chunks.usage.cached_tokens) == (5, 2)


def test_no_usage_chunk_unless_asked() -> None:
    chunks = BedrockChunks(TARGET, include_usage=False)
    chunks.feed("messageStop", b'{"stopReason":"end_turn"}')
    end = chunks.feed("metadata", b'{"usage":{"inputTokens":1,"outputTokens":1}}')
    assert end.chunks == (b"data: [DONE]\n\n",) and end.done


@pytest.mark.parametrize(
    ("exception", "status"),
    [
        ("throttlingException", 429),
        ("validationException", 400),
        ("modelStreamErrorException", 424),
        ("serviceUnavailableException", 503),
        ("internalServerException", 500),
    ],
)
def test_exception_frames_carry_bedrocks_status_and_message(exception: str, status: int) -> None:
    chunks = BedrockChunks(TARGET, include_usage=False)
    with pytest.raises(UpstreamError) as caught:
        chunks.feed("exception:" + exception, b'{"message":"slow down"}')
    assert (caught.value.status, caught.value.message) == (status, "slow down")
    assert caught.value.code == exception[0].upper() + exception[1:]


def test_a_body_that_ends_before_message_stop_was_cut() -> None:
    chunks = BedrockChunks(TARGET, include_usage=False)
    chunks.feed("contentBlockDelta", b'{"contentBlockIndex":0,"delta":{"text":"Hi"}}')
    with pytest.raises(UpstreamStreamCut):
        chunks.end()
    finished = BedrockChunks(TARGET, include_usage=False)
    finished.feed("messageStop", b'{"stopReason":"end_turn"}')
    assert finished.end().done and finished.usage is None


def test_usage_before_message_stop_does_not_end_the_answer() -> None:
    chunks = BedrockChunks(TARGET, include_usage=True)
    early = chunks.feed("metadata", b'{"usage":{"inputTokens":1,"outputTokens":2}}')
    assert early.chunks == () and not early.done
    with pytest.raises(UpstreamStreamCut):
        chunks.end()
