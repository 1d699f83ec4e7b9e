"""responses_chat: Responses requests as chat requests, chat answers as Responses (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.gateway.providers.conftest import anthropic_target
from tfy_gateway.gateway.providers import CallOptions, InvalidRequest, UpstreamTarget, Usage
from tfy_gateway.gateway.providers.responses_chat import (
    NOT_TRANSLATED,
    NotTranslatable,
    plan_via_chat,
    to_chat_request,
    to_response,
)
from tfy_gateway.gateway.providers.wire import WirePlan

TOOL = {"type": "function", "name": "get_weather", "description": "d", "parameters": {"type": "object"}}


def chat(**body: Any) -> dict[str, Any]:
    return to_chat_request({"model": "m", **body}, "anthropic")


def test_a_string_input_and_instructions_become_a_system_and_a_user_message() -> None:
    request = chat(input="hi", instructions="be brief", max_output_tokens=50, temperature=0.2, top_p=0.9, user="u")
    assert request["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert request["max_completion_tokens"] == 50
    assert (request["temperature"], request["top_p"], request["user"]) == (0.2, 0.9, "u")
    assert "max_output_tokens" not in request and "stream" not in request


def test_a_tool_round_trip_becomes_assistant_tool_calls_and_a_tool_message() -> None:
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
        {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": '{"city":"Rome"}'},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_2", "output": "rain"},
    ]
    request = chat(input=items, tools=[TOOL], tool_choice={"type": "function", "name": "get_weather"})
    assert request["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
    ]
    function = {"name": "get_weather", "description": "d", "parameters": {"type": "object"}}
    assert request["tools"] == [{"type": "function", "function": function}]
    assert request["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_formats_effort_images_and_streams_translate() -> None:
    schema = {"type": "json_schema", "name": "x", "schema": {"type": "object"}, "strict": True}
    image = {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"}
    request = chat(
        input=[{"role": "user", "content": [image]}],
        text={"format": schema, "verbosity": "low"},
        reasoning={"effort": "high"},
        stream=True,
        parallel_tool_calls=False,
        metadata={"k": "v"},
    )
    assert request["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}
    ]
    assert request["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": True},
    }
    assert (request["verbosity"], request["reasoning_effort"]) == ("low", "high")
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert request["parallel_tool_calls"] is False
    assert "metadata" not in request  # a Response's metadata stays on the Response


@pytest.mark.parametrize("name", sorted(NOT_TRANSLATED))
def test_each_parameter_without_a_chat_equivalent_is_a_400_naming_it(name: str) -> None:
    value: Any = 5 if name in ("max_tool_calls", "top_logprobs") else "x"
    if name == "background":
        value = True
    with pytest.raises(NotTranslatable) as caught:
        chat(input="hi", **{name: value})
    assert caught.value.param == name and caught.value.status == 400 and f"'{name}'" in caught.value.message


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [TOOL, {"type": "web_search"}]}, "tools[1].type"),
        ({"tools": [TOOL], "tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        ({"store": True}, "store"),
        ({"include": ["reasoning.encrypted_content", "message.output_text.logprobs"]}, "include[1]"),
        ({"truncation": "auto"}, "truncation"),
        ({"reasoning": {"effort": "low", "summary": "auto"}}, "reasoning.summary"),
        ({"text": {"format": {"type": "grammar"}}}, "text.format.type"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].type",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].file_id",
        ),
    ],
)
def test_what_does_not_translate_is_named(body: dict[str, Any], param: str) -> None:
    with pytest.raises(NotTranslatable) as caught:
        chat(**{"input": "hi", **body})
    assert caught.value.param == param


def test_store_false_and_disabled_truncation_and_empty_include_are_accepted() -> None:
    request = chat(input="hi", store=False, truncation="disabled", include=[], background=False)
    assert chat(input="hi", include=["reasoning.encrypted_content"])["messages"] == request["messages"]
    assert request["messages"] == [{"role": "user", "content": "hi"}]


def test_a_chat_answer_becomes_a_response_with_text_tool_calls_and_usage() -> None:
    answer = {
        "id": "chatcmpl-1",
        "model": "claude-x",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Looking.",
                    "tool_calls": [
                        {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }
    usage = Usage(prompt_tokens=12, completion_tokens=7, cached_tokens=4, reasoning_tokens=2)
    request = {"model": "anthropic-main/claude", "input": "hi", "instructions": "be brief", "metadata": {"k": "v"}}
    response = to_response(answer, usage, request)
    assert response["object"] == "response" and response["id"] == "resp_chatcmpl-1"
    assert response["status"] == "completed" and response["incomplete_details"] is None
    assert response["model"] == "claude-x" and response["instructions"] == "be brief"
    assert response["metadata"] == {"k": "v"} and response["store"] is False
    message, call = response["output"]
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["content"] == [{"type": "output_text", "text": "Looking.", "annotations": [], "logprobs": []}]
    assert {k: call[k] for k in ("type", "call_id", "name", "arguments", "status")} == {
        "type": "function_call",
        "call_id": "toolu_1",
        "name": "f",
        "arguments": '{"a":1}',
        "status": "completed",
    }
    assert response["usage"] == {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 2},
        "total_tokens": 19,
    }


@pytest.mark.parametrize(("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")])
def test_a_cut_answer_is_incomplete_with_its_reason(finish: str, reason: str) -> None:
    answer = {"id": "c", "choices": [{"message": {"content": "par"}, "finish_reason": finish}]}
    response = to_response(answer, Usage(prompt_tokens=1, completion_tokens=1), {"input": "hi"})
    assert response["status"] == "incomplete" and response["incomplete_details"] == {"reason": reason}


def test_a_refusal_is_a_refusal_part() -> None:
    answer = {"id": "c", "choices": [{"message": {"content": None, "refusal": "No."}, "finish_reason": "stop"}]}
    response = to_response(answer, Usage(), {"input": "hi"})
    assert response["output"][0]["content"] == [{"type": "refusal", "refusal": "No."}]


@pytest.mark.parametrize(
    ("chat_param", "named"),
    [
        ("response_format", "text.format"),
        ("response_format.json_schema", "text.format.json_schema"),
        ("reasoning_effort", "reasoning.effort"),
        ("max_completion_tokens", "max_output_tokens"),
        ("messages[2].content[0].type", "input"),
        ("temperature", "temperature"),
    ],
)
def test_a_parameter_the_chat_translator_refuses_is_named_as_the_responses_request_names_it(
    chat_param: str, named: str
) -> None:
    def refusing(target: UpstreamTarget, endpoint: str, body: Mapping[str, Any], options: CallOptions) -> WirePlan:
        refused = InvalidRequest(400, f"{chat_param} is not supported", target.provider)
        vars(refused)["param"] = chat_param
        raise refused

    with pytest.raises(InvalidRequest) as caught:
        plan_via_chat(refusing, anthropic_target("http://x"), {"model": "m", "input": "hi"}, CallOptions())
    assert vars(caught.value)["param"] == named


def test_reasoning_content_becomes_a_reasoning_item() -> None:
    message = {"content": "42", "reasoning_content": "6 times 7"}
    response = to_response({"id": "c", "choices": [{"message": message, "finish_reason": "stop"}]}, Usage(), {})
    reasoning, answer = response["output"]
    assert reasoning["type"] == "reasoning" and reasoning["summary"] == []
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "6 times 7"}]
    assert answer["content"][0]["text"] == "42"
