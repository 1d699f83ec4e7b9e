"""AnthropicChunks: Anthropic stream events -> OpenAI chunk events, fed by hand (no stream, no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.gateway.providers.conftest import SECRET_KEY, anthropic_target
from tfy_gateway.gateway.providers import UpstreamConnectionError, UpstreamError
from tfy_gateway.gateway.providers.openai_anthropic_stream import AnthropicChunks
from tfy_gateway.gateway.providers.wire import DONE, Translated


def feed(chunks: AnthropicChunks, payload: dict[str, Any]) -> Translated:
    return chunks.feed(payload["type"], json.dumps(payload).encode())


def deltas(translated: Translated) -> list[dict[str, Any]]:
    return [json.loads(c[6:])["choices"][0]["delta"] for c in translated.chunks]


def test_tool_use_blocks_get_their_own_indexes() -> None:
    chunks = AnthropicChunks(anthropic_target("http://x"), include_usage=False)
    start = feed(chunks, {"type": "message_start", "message": {"id": "msg_1", "model": "claude-x"}})
    assert deltas(start) == [{"role": "assistant", "content": ""}] and not start.first_token
    text = feed(chunks, {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}})
    assert deltas(text) == [{"content": "ok"}] and text.first_token
    tool = {"type": "tool_use", "id": "toolu_1", "name": "f"}
    opened = feed(chunks, {"type": "content_block_start", "index": 1, "content_block": tool})
    assert deltas(opened)[0]["tool_calls"][0] == {
        "index": 0,
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    partial = {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}}
    assert deltas(feed(chunks, partial)) == [{"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}]
    assert feed(chunks, {"type": "content_block_stop", "index": 1}) == Translated()
    stop = feed(chunks, {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}})
    assert json.loads(stop.chunks[0][6:])["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks.finish_reason == "tool_calls"
    assert chunks.usage is not None and chunks.usage.completion_tokens == 9
    end = feed(chunks, {"type": "message_stop"})
    assert end == Translated((DONE,), done=True)  # no usage chunk: the client did not ask
    assert all(json.loads(c[6:])["id"] == "msg_1" for c in text.chunks + opened.chunks)


def test_usage_merges_input_side_and_the_last_output_count() -> None:
    chunks = AnthropicChunks(anthropic_target("http://x"), include_usage=True)
    usage = {"input_tokens": 10, "cache_read_input_tokens": 4, "output_tokens": 1}
    feed(chunks, {"type": "message_start", "message": {"id": "m", "usage": usage}})
    feed(chunks, {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 5}})
    end = feed(chunks, {"type": "message_stop"})
    tail = json.loads(end.chunks[0][6:])
    assert tail["choices"] == [] and tail["usage"]["prompt_tokens"] == 14 and tail["usage"]["completion_tokens"] == 5
    assert end.chunks[-1] == DONE and end.done


def test_error_event_maps_type_to_status_and_redacts() -> None:
    chunks = AnthropicChunks(anthropic_target("http://x"), include_usage=False)
    event = {"type": "error", "error": {"type": "overloaded_error", "message": f"busy (key {SECRET_KEY})"}}
    with pytest.raises(UpstreamError) as failed:
        feed(chunks, event)
    assert failed.value.status == 529 and failed.value.error_type == "overloaded_error"
    assert SECRET_KEY not in failed.value.message and "[REDACTED]" in failed.value.message
    with pytest.raises(UpstreamError, match="unreadable stream event"):
        chunks.feed("", b"{not json")
    with pytest.raises(UpstreamConnectionError):
        chunks.end()
