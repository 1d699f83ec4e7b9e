"""OpenAI chat <-> Bedrock Converse: the pure translation, the error reader, and calls over real HTTP
to the fake provider (which answers in Bedrock's wire format)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.providers.conftest import SECRET_KEY, recorded
from tfy_gateway.gateway.providers import (
    AiohttpTransport,
    InvalidRequest,
    UnsupportedEndpoint,
    UpstreamError,
    UpstreamStream,
    UpstreamTarget,
    call,
)
from tfy_gateway.gateway.providers.aws_sigv4 import SigV4Signer
from tfy_gateway.gateway.providers.openai_bedrock import to_converse_request, to_openai_response
from tfy_gateway.gateway.providers.openai_bedrock_stream import error_from_bedrock

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
TOOL = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
}


def bedrock_target(base_url: str, **changes: Any) -> UpstreamTarget:
    options: dict[str, Any] = {
        "wire_format": "bedrock",
        "provider": "aws-bedrock",
        "base_url": base_url,
        "model_id": MODEL,
        "auth_headers": {"authorization": f"Bearer {SECRET_KEY}"},
        "account": "bedrock",
        "integration": "haiku",
    }
    options.update(changes)
    return UpstreamTarget(**options)


def test_request_mapping() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "rule one"},
            {"role": "developer", "content": [{"type": "text", "text": "rule two"}]},
            {"role": "user", "content": "first"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpg;base64,QUJD"}}]},
            {
                "role": "assistant",
                "content": "ok",
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "found"},
        ],
        "max_completion_tokens": 50,
        "temperature": 1.5,
        "top_p": 0.9,
        "stop": "END",
        "tools": [TOOL],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "user": "u-1",
    }
    assert to_converse_request(body) == {
        "system": [{"text": "rule one"}, {"text": "rule two"}],
        "messages": [
            {
                "role": "user",
                "content": [{"text": "first"}, {"image": {"format": "jpeg", "source": {"bytes": "QUJD"}}}],
            },
            {
                "role": "assistant",
                "content": [{"text": "ok"}, {"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {"q": "x"}}}],
            },
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "found"}]}}]},
        ],
        "inferenceConfig": {"maxTokens": 50, "temperature": 1.5, "topP": 0.9, "stopSequences": ["END"]},
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "lookup",
                        "description": "lookup",
                        "inputSchema": {"json": TOOL["function"]["parameters"]},
                    }
                }
            ],  # type: ignore[index]
            "toolChoice": {"tool": {"name": "lookup"}},
        },
        "requestMetadata": {"user": "u-1"},
    }


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"seed": 7}, "seed"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"tools": [TOOL], "parallel_tool_calls": False}, "parallel_tool_calls"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
                ]
            },
            "messages",
        ),
    ],
)
def test_what_converse_cannot_express_is_refused_naming_the_parameter(extra: dict[str, Any], param: str) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], **extra}
    with pytest.raises(InvalidRequest) as caught:
        to_converse_request(body)
    assert caught.value.status == 400 and caught.value.param == param and param in caught.value.message


def test_tool_choice_none() -> None:
    plain = {"messages": [{"role": "user", "content": "hi"}], "tools": [TOOL], "tool_choice": "none"}
    assert "toolConfig" not in to_converse_request(plain)
    with_calls = {
        **plain,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "lookup", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t", "content": "x"},
        ],
    }
    with pytest.raises(InvalidRequest, match="tool_choice"):
        to_converse_request(with_calls)


def test_response_mapping_with_reasoning_tools_and_cache_usage() -> None:
    answer = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "think", "signature": "s"}}},
                    {"text": "Here."},
                    {"toolUse": {"toolUseId": "tu1", "name": "lookup", "input": {"q": "y"}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {
            "inputTokens": 10,
            "outputTokens": 4,
            "totalTokens": 24,
            "cacheReadInputTokens": 8,
            "cacheWriteInputTokens": 2,
        },
    }
    body, usage = to_openai_response(answer, MODEL, "req-1")
    message = body["choices"][0]["message"]
    assert body["id"] == "chatcmpl-req-1" and body["model"] == MODEL
    assert message["content"] == "Here." and message["reasoning_content"] == "think"
    assert message["tool_calls"] == [
        {"id": "tu1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"y"}'}}
    ]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.cache_write_tokens) == (
        20,
        4,
        8,
        2,
    )


def test_error_bodies_keep_the_providers_status_message_and_exception() -> None:
    target = bedrock_target("http://unused")
    headers = {
        "x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "retry-after": "3",
    }
    error = error_from_bedrock(target, 429, headers, b'{"message":"Too many requests, please wait."}')
    assert (error.status, error.message, error.code, error.error_type) == (
        429,
        "Too many requests, please wait.",
        "ThrottlingException",
        "rate_limit_error",
    )
    assert error.retry_after == 3
    typed = error_from_bedrock(target, 400, {}, b'{"__type": "com.amazon#ValidationException", "Message": "bad"}')
    assert (typed.status, typed.message, typed.code) == (400, "bad", "ValidationException")
    plain = error_from_bedrock(target, 502, {}, b"<html>Bad Gateway</html>")
    assert (plain.status, plain.message, plain.code) == (502, "<html>Bad Gateway</html>", None)


async def test_embeddings_are_not_a_converse_endpoint() -> None:
    async with AiohttpTransport() as transport:
        with pytest.raises(UnsupportedEndpoint):
            await call(transport, bedrock_target("http://unused"), "embeddings", {"input": "x"})


async def test_over_http_signed_streamed_and_errors(fake_url: str, transport: AiohttpTransport) -> None:
    signer = SigV4Signer("AKIDEXAMPLE", "secret-example-key", "us-east-1")
    target = bedrock_target(fake_url, auth_headers={}, signer=signer)
    stream = await call(
        transport, target, "chat", {"messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 3}
    )
    assert isinstance(stream, UpstreamStream)
    async with stream:
        chunks = [chunk async for chunk in stream]
    assert chunks[-1] == b"data: [DONE]\n\n" and stream.completed and stream.finish_reason == "length"
    assert stream.usage is not None and stream.usage.completion_tokens == 3
    sent = recorded(fake_url)[-1]
    assert sent["raw_path"] == "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream"  # as signed
    failing = bedrock_target(fake_url, model_id="fake@status=503")
    with pytest.raises(UpstreamError) as caught:
        await call(transport, failing, "chat", {"messages": [{"role": "user", "content": "hi"}]})
    assert (caught.value.status, caught.value.code) == (503, "ServiceUnavailableException")
    assert "injected error" in caught.value.message


async def test_an_exception_before_any_output_is_an_error_of_its_status_so_it_can_be_retried() -> None:
    from tfy_gateway.fakeprovider.bedrock_routes import exception
    from tfy_gateway.gateway.providers import HttpRequest, HttpResponse, MemoryTransport

    def handler(request: HttpRequest) -> HttpResponse:
        body = exception("throttlingException", "Too many tokens, please wait before trying again.")
        return HttpResponse(200, {"content-type": "application/vnd.amazon.eventstream"}, body)

    transport = MemoryTransport(handler, chunk_size=5)
    with pytest.raises(UpstreamError) as caught:
        await call(
            transport,
            bedrock_target("http://unused"),
            "chat",
            {"messages": [{"role": "user", "content": "hi"}], "stream": True},
        )
    assert (caught.value.status, caught.value.code) == (429, "ThrottlingException")
    assert caught.value.message == "Too many tokens, please wait before trying again."
    assert transport.requests[-1].headers["accept"] == "application/vnd.amazon.eventstream"


async def test_a_refused_stream_reads_bedrocks_error_body(fake_url: str, transport: AiohttpTransport) -> None:
    target = bedrock_target(fake_url, model_id="fake@status=429,retry_after=2")
    with pytest.raises(UpstreamError) as caught:
        await call(transport, target, "chat", {"messages": [{"role": "user", "content": "hi"}], "stream": True})
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (429, "ThrottlingException", 2)
    assert caught.value.message == "fake provider: injected error (status 429)"
