"""Responses streams fed by hand (no I/O): an Anthropic stream translated through chat into Responses
events (ChatToResponseEvents), and an OpenAI Responses stream passed through (ResponseEvents)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.gateway.providers.conftest import anthropic_target, openai_target
from tfy_gateway.gateway.providers import UpstreamError, UpstreamStreamCut, ends_stream
from tfy_gateway.gateway.providers.openai_anthropic_stream import AnthropicChunks
from tfy_gateway.gateway.providers.openai_responses import ResponseEvents
from tfy_gateway.gateway.providers.responses_chat_stream import ChatToResponseEvents
from tfy_gateway.gateway.providers.wire import Translated


def events(translated: Translated) -> list[tuple[str, dict[str, Any]]]:
    """(event name, payload) of each framed event; the name must match the payload's type."""
    found = []
    for chunk in translated.chunks:
        head, _, data = chunk.partition(b"\ndata: ")
        assert head.startswith(b"event: ") and chunk.endswith(b"\n\n")
        payload = json.loads(data)
        assert payload["type"] == head[7:].decode()
        found.append((payload["type"], payload))
    return found


def anthropic(translator: ChatToResponseEvents, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return events(translator.feed(payload["type"], json.dumps(payload).encode()))


def delta(index: int, **change: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": change}


def test_an_anthropic_stream_with_text_and_a_tool_call_becomes_the_responses_event_sequence() -> None:
    inner = AnthropicChunks(anthropic_target("http://x"), include_usage=True)
    translator = ChatToResponseEvents(inner, {"model": "anthropic-main/claude", "input": "hi", "tools": []})
    seen: list[tuple[str, dict[str, Any]]] = []
    usage = {"input_tokens": 10, "cache_read_input_tokens": 2, "output_tokens": 1}
    seen += anthropic(
        translator, {"type": "message_start", "message": {"id": "msg_1", "model": "claude-x", "usage": usage}}
    )
    seen += anthropic(translator, delta(0, type="text_delta", text="Hel"))
    seen += anthropic(translator, delta(0, type="text_delta", text="lo"))
    tool = {"type": "tool_use", "id": "toolu_1", "name": "f"}
    seen += anthropic(translator, {"type": "content_block_start", "index": 1, "content_block": tool})
    seen += anthropic(translator, delta(1, type="input_json_delta", partial_json='{"a":'))
    seen += anthropic(translator, delta(1, type="input_json_delta", partial_json="1}"))
    seen += anthropic(
        translator, {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}
    )
    end = translator.feed("message_stop", b'{"type": "message_stop"}')
    assert end.done
    seen += events(end)
    assert [kind for kind, _ in seen] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [payload["sequence_number"] for _, payload in seen] == list(range(len(seen)))
    created = seen[0][1]["response"]
    assert created["status"] == "in_progress" and created["output"] == [] and created["id"] == "resp_msg_1"
    assert seen[6][1]["text"] == "Hello" and seen[12][1]["arguments"] == '{"a":1}'
    assert seen[9][1]["output_index"] == 1 and seen[9][1]["item"]["call_id"] == "toolu_1"
    final = seen[-1][1]["response"]
    assert final["status"] == "completed" and final["model"] == "claude-x"
    assert [item["type"] for item in final["output"]] == ["message", "function_call"]
    assert final["output"][0]["content"][0]["text"] == "Hello"
    assert final["output"][1]["arguments"] == '{"a":1}' and final["output"][1]["status"] == "completed"
    assert final["usage"]["input_tokens"] == 12 and final["usage"]["output_tokens"] == 9
    assert final["usage"]["input_tokens_details"] == {"cached_tokens": 2, "cache_write_tokens": 0}
    assert translator.usage is not None and translator.usage.completion_tokens == 9
    assert ends_stream(end.chunks[-1]) and not any(ends_stream(chunk) for chunk in end.chunks[:-1])


def test_a_stream_cut_by_max_tokens_ends_incomplete() -> None:
    inner = AnthropicChunks(anthropic_target("http://x"), include_usage=False)
    translator = ChatToResponseEvents(inner, {"model": "m", "input": "hi", "max_output_tokens": 2})
    anthropic(translator, {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 3}}})
    anthropic(translator, delta(0, type="text_delta", text="ab"))
    anthropic(
        translator, {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 2}}
    )
    kind, payload = events(translator.feed("message_stop", b'{"type": "message_stop"}'))[-1]
    assert kind == "response.incomplete"
    assert payload["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert payload["response"]["max_output_tokens"] == 2


def test_a_translated_stream_that_breaks_off_is_cut() -> None:
    inner = AnthropicChunks(anthropic_target("http://x"), include_usage=False)
    translator = ChatToResponseEvents(inner, {"model": "m", "input": "hi"})
    anthropic(translator, {"type": "message_start", "message": {"id": "msg_1"}})
    with pytest.raises(UpstreamStreamCut):
        translator.end()


def test_a_passed_through_stream_is_reframed_and_read_for_its_usage() -> None:
    translator = ResponseEvents(openai_target("http://x"))
    created = translator.feed("response.created", b'{"type":"response.created","sequence_number":0}')
    assert created.chunks == (b'event: response.created\ndata: {"type":"response.created","sequence_number":0}\n\n',)
    assert not created.first_token
    text = translator.feed("response.output_text.delta", b'{"type":"response.output_text.delta","delta":"hi"}')
    assert text.first_token and not text.done
    usage = {"input_tokens": 8, "input_tokens_details": {"cached_tokens": 3}, "output_tokens": 5}
    completed = {"type": "response.completed", "response": {"status": "completed", "usage": usage}}
    end = translator.feed("", json.dumps(completed).encode())  # no event name: read from the payload
    assert end.done and ends_stream(end.chunks[0])
    usage_seen = translator.usage
    assert usage_seen is not None
    assert (usage_seen.prompt_tokens, usage_seen.cached_tokens, usage_seen.completion_tokens) == (8, 3, 5)


def test_a_passed_through_error_event_is_the_providers_error_and_a_silent_end_is_a_cut() -> None:
    translator = ResponseEvents(openai_target("http://x"))
    with pytest.raises(UpstreamError) as caught:
        translator.feed("error", b'{"type":"error","code":"server_error","message":"boom","sequence_number":3}')
    assert "boom" in caught.value.message
    with pytest.raises(UpstreamStreamCut):
        ResponseEvents(openai_target("http://x")).end()


def test_anthropic_thinking_becomes_a_reasoning_item_before_the_message() -> None:
    inner = AnthropicChunks(anthropic_target("http://x"), include_usage=False)
    translator = ChatToResponseEvents(inner, {"model": "m", "input": "hi"})
    seen = anthropic(translator, {"type": "message_start", "message": {"id": "msg_1"}})
    seen += anthropic(translator, delta(0, type="thinking_delta", thinking="Let me "))
    seen += anthropic(translator, delta(0, type="thinking_delta", thinking="think."))
    seen += anthropic(translator, delta(1, type="text_delta", text="Yes."))
    seen += anthropic(translator, {"type": "message_delta", "delta": {"stop_reason": "end_turn"}})
    seen += events(translator.feed("message_stop", b'{"type": "message_stop"}'))
    assert [kind for kind, _ in seen][2:9] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    assert seen[6][1]["text"] == "Let me think." and seen[8][1]["item"]["type"] == "reasoning"
    final = seen[-1][1]["response"]
    assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
    assert final["output"][0]["content"] == [{"type": "reasoning_text", "text": "Let me think."}]
    assert final["output"][1]["content"][0]["text"] == "Yes." and seen[9][1]["output_index"] == 1
