"""The OpenAI <-> Gemini translator by hand: request bodies, answers, stream events, Google errors,
and the Gemini/Vertex targets (hosts, publishers, credentials). Pure: no I/O."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tfy_gateway.gateway.providers import (
    CallOptions,
    InvalidRequest,
    ProviderConfigError,
    SecretResolver,
    UpstreamError,
    UpstreamStreamCut,
    UpstreamTarget,
    target_for,
)
from tfy_gateway.gateway.providers.gemini_errors import gemini_error
from tfy_gateway.gateway.providers.google_targets import vertex_base_url, vertex_host
from tfy_gateway.gateway.providers.openai_gemini import plan, to_gemini_request, to_openai_response
from tfy_gateway.gateway.providers.openai_gemini_stream import GeminiChunks, usage_from
from tfy_gateway.gateway.providers.wire import DONE
from tfy_gateway.manifests import parse_manifest
from tfy_gateway.manifests.providers import ProviderAccount

GEMINI = UpstreamTarget(
    "gemini",
    "google-gemini",
    "https://generativelanguage.googleapis.com/v1beta",
    "gemini-2.5-flash",
    auth_headers={"x-goog-api-key": "gm-secret-key-123456"},
    account="g",
    integration="flash",
)


def test_messages_system_images_and_generation_config() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "No emojis."}]},
            {"role": "user", "content": "hi"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}},
                ],
            },
            {"role": "assistant", "content": "A cat."},
        ],
        "max_completion_tokens": 50,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": "END",
        "n": 2,
        "seed": 7,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "reasoning_effort": "low",
        "user": "u-1",
    }
    request = to_gemini_request(body)
    assert request["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "No emojis."}]}
    assert request["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "hi"},
                {"text": "what is this?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp"}},
            ],
        },
        {"role": "model", "parts": [{"text": "A cat."}]},
    ]
    assert request["generationConfig"] == {
        "maxOutputTokens": 50,
        "temperature": 0.2,
        "topP": 0.9,
        "seed": 7,
        "candidateCount": 2,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"},
        "thinkingConfig": {"thinkingBudget": 1024},
    }
    assert "tools" not in request and "toolConfig" not in request


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logit_bias": {"1": 2}}, "logit_bias"),
        (
            {"tools": [{"type": "function", "function": {"name": "f"}}], "parallel_tool_calls": False},
            "parallel_tool_calls",
        ),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"response_format": {"type": "grammar"}}, "response_format"),
    ],
)
def test_what_gemini_cannot_do_is_a_400_naming_the_parameter(extra: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        to_gemini_request({"messages": [{"role": "user", "content": "hi"}], **extra})
    assert raised.value.status == 400 and raised.value.param == param and param in raised.value.message


def test_a_tool_message_needs_the_call_it_answers() -> None:
    with pytest.raises(InvalidRequest, match="tool_call_id 'nope' answers no earlier assistant tool call"):
        to_gemini_request({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nope"}]})
    answered = to_gemini_request(
        {
            "messages": [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                        {"id": "b", "type": "function", "function": {"name": "g", "arguments": '{"k": 1}'}},
                    ],
                },
                {"role": "tool", "tool_call_id": "b", "content": "plain text"},
                {"role": "tool", "tool_call_id": "a", "content": [{"type": "text", "text": '{"ok": true}'}]},
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
        }
    )
    assert answered["contents"][1:] == [
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "g", "args": {"k": 1}}}],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "g", "response": {"content": "plain text"}}},
                {"functionResponse": {"name": "f", "response": {"ok": True}}},
            ],
        },
    ]
    assert answered["tools"] == [{"functionDeclarations": [{"name": "f"}]}]
    assert answered["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}


def test_answer_with_thoughts_tool_calls_candidates_and_usage() -> None:
    answer = {
        "responseId": "r1",
        "modelVersion": "gemini-2.5-flash-001",
        "candidates": [
            {
                "index": 0,
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "thinking...", "thought": True},
                        {"text": "Calling."},
                        {"functionCall": {"name": "f", "args": {"a": 1}}},
                    ],
                },
                "finishReason": "STOP",
            },
            {"index": 1, "content": {"role": "model", "parts": [{"text": "cut"}]}, "finishReason": "MAX_TOKENS"},
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 20,
            "thoughtsTokenCount": 30,
            "cachedContentTokenCount": 40,
            "totalTokenCount": 150,
        },
    }
    body, usage = to_openai_response(answer, "gemini-2.5-flash")
    first, second = body["choices"]
    assert first["message"]["content"] == "Calling." and first["message"]["reasoning_content"] == "thinking..."
    assert first["finish_reason"] == "tool_calls"
    call = first["message"]["tool_calls"][0]
    assert call["id"].startswith("call_") and call["function"] == {"name": "f", "arguments": '{"a":1}'}
    assert (second["index"], second["finish_reason"], second["message"]["content"]) == (1, "length", "cut")
    assert body["model"] == "gemini-2.5-flash-001" and body["id"] == "chatcmpl-r1"
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.reasoning_tokens) == (
        100,
        50,
        40,
        30,
    )
    assert body["usage"]["total_tokens"] == 150
    blocked, _ = to_openai_response({"promptFeedback": {"blockReason": "SAFETY"}}, "m")
    assert blocked["choices"][0]["finish_reason"] == "content_filter"


def sse(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def chunk(text: str | None = None, finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    candidate: dict[str, Any] = {"index": 0, "content": {"role": "model", "parts": [{"text": text}] if text else []}}
    if finish:
        candidate["finishReason"] = finish
    payload: dict[str, Any] = {"candidates": [candidate], "responseId": "r9"}
    if usage:
        payload["usageMetadata"] = usage
    return sse(payload)


def events(data: tuple[bytes, ...]) -> list[dict[str, Any]]:
    return [json.loads(c[6:]) for c in data if c != DONE]


def test_stream_text_finish_and_latest_usage() -> None:
    chunks = GeminiChunks(GEMINI, include_usage=True)
    first = chunks.feed("", chunk("Hel", usage={"promptTokenCount": 10, "candidatesTokenCount": 1}))
    assert first.first_token
    assert [e["choices"][0]["delta"] for e in events(first.chunks)] == [{"role": "assistant", "content": "Hel"}]
    last = chunks.feed(
        "", chunk("lo", "STOP", {"promptTokenCount": 10, "candidatesTokenCount": 2, "thoughtsTokenCount": 5})
    )
    assert events(last.chunks)[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks.usage is not None and (chunks.usage.prompt_tokens, chunks.usage.completion_tokens) == (10, 7)
    end = chunks.end()
    assert end.done and end.chunks[-1] == DONE
    assert events(end.chunks)[0]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 5}


def test_a_stream_ending_before_its_finish_reason_is_cut_and_keeps_its_usage_so_far() -> None:
    chunks = GeminiChunks(GEMINI, include_usage=False)
    chunks.feed("", chunk("Hel", usage={"promptTokenCount": 12, "candidatesTokenCount": 3}))
    with pytest.raises(UpstreamStreamCut, match="before a finishReason"):
        chunks.end()
    assert chunks.usage is not None and (chunks.usage.prompt_tokens, chunks.usage.completion_tokens) == (12, 3)


def test_stream_tool_calls_come_whole_and_an_error_event_keeps_its_status() -> None:
    chunks = GeminiChunks(GEMINI, include_usage=False)
    call = {
        "candidates": [
            {
                "index": 0,
                "content": {"parts": [{"functionCall": {"name": "f", "args": {"x": 1}}}]},
                "finishReason": "STOP",
            }
        ]
    }
    out = events(chunks.feed("", sse(call)).chunks)
    assert out[0]["choices"][0]["delta"]["role"] == "assistant"
    assert out[0]["choices"][0]["delta"]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x":1}'}
    assert out[1]["choices"][0]["finish_reason"] == "tool_calls"
    failing = GeminiChunks(GEMINI, include_usage=False)
    error = {
        "error": {"code": 429, "message": "Quota exceeded for gm-secret-key-123456", "status": "RESOURCE_EXHAUSTED"}
    }
    with pytest.raises(UpstreamError) as raised:
        failing.feed("", sse(error))
    assert (raised.value.status, raised.value.error_type) == (429, "RESOURCE_EXHAUSTED")
    assert "gm-secret-key" not in raised.value.message


def test_google_error_bodies_keep_status_message_reason_and_field() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"},
                {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "contents"}]},
            ],
        }
    }
    error = gemini_error(GEMINI, 400, {"retry-after": "3"}, json.dumps(body).encode())
    assert (error.status, error.error_type, error.code, error.param) == (
        400,
        "INVALID_ARGUMENT",
        "API_KEY_INVALID",
        "contents",
    )
    assert error.message == "API key not valid. Please pass a valid API key." and error.retry_after == 3
    vertex_list = [{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}]
    assert gemini_error(GEMINI, 503, {}, json.dumps(vertex_list).encode()).code == "UNAVAILABLE"
    anthropic = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    fallback = gemini_error(GEMINI, 529, {}, json.dumps(anthropic).encode())
    assert (fallback.status, fallback.message, fallback.error_type) == (529, "busy", "overloaded_error")


def test_plan_urls_and_headers() -> None:
    streamed = plan(GEMINI, "chat", {"messages": [{"role": "user", "content": "x"}], "stream": True}, CallOptions())
    assert streamed.request.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert streamed.request.headers["x-goog-api-key"] == "gm-secret-key-123456"
    assert streamed.error is gemini_error
    with pytest.raises(UpstreamError, match="no 'embeddings' endpoint"):
        plan(GEMINI, "embeddings", {"input": "x"}, CallOptions())


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("global", "https://aiplatform.googleapis.com"),
        ("eu", "https://aiplatform.eu.rep.googleapis.com"),
        ("us", "https://aiplatform.us.rep.googleapis.com"),
        ("us-central1", "https://us-central1-aiplatform.googleapis.com"),
    ],
)
def test_vertex_hosts(region: str, host: str) -> None:
    assert vertex_host(region) == host
    assert vertex_base_url("p", region) == f"{host}/v1/projects/p/locations/{region}"


def vertex(model_id: str, *, region: str | None = None, **account: Any) -> UpstreamTarget:
    integration: dict[str, Any] = {
        "type": "integration/model/vertex",
        "name": "m",
        "model_id": model_id,
        "model_types": ["chat"],
    }
    if region:
        integration["region"] = region
    manifest = {
        "name": "vx",
        "type": "provider-account/google-vertex",
        "project_id": "proj",
        "region": "us-east5",
        "auth_data": {"type": "key-file", "key_file_content": "tfy-secret://local:gcp:KEY"},
        "integrations": [integration],
        **account,
    }
    parsed = parse_manifest(manifest)
    assert isinstance(parsed, ProviderAccount) and parsed.integrations
    return target_for(parsed, parsed.integrations[0], SecretResolver(environ={}, placeholder="offline-placeholder"))


def test_vertex_targets_publishers_regions_and_credentials() -> None:
    gemini = vertex("gemini-2.5-pro")
    assert (gemini.wire_format, gemini.base_url) == (
        "gemini",
        "https://us-east5-aiplatform.googleapis.com/v1/projects/proj/locations/us-east5",
    )
    plan_url = plan(gemini, "chat", {"messages": [{"role": "user", "content": "x"}]}, CallOptions()).request.url
    assert plan_url.endswith("/locations/us-east5/publishers/google/models/gemini-2.5-pro:generateContent")
    claude = vertex("anthropic/claude-sonnet-4-5@20250929", region="global")
    assert claude.wire_format == "vertex-anthropic"
    assert claude.base_url == "https://aiplatform.googleapis.com/v1/projects/proj/locations/global"
    # offline, a key whose secret has no value is the placeholder, sent as a static bearer
    assert dict(claude.auth_headers) == {"authorization": "Bearer offline-placeholder"} and claude.credentials is None
    with pytest.raises(ProviderConfigError, match="publisher 'meta' are not supported"):
        vertex("meta/llama-3.3-70b")
    with pytest.raises(
        ProviderConfigError, match="takes a credential file of type 'service_account', not 'authorized_user'"
    ):
        vertex("gemini-2.5-pro", auth_data={"type": "key-file", "key_file_content": {"type": "authorized_user"}})
    with pytest.raises(ProviderConfigError, match="key_file_content is not JSON"):
        vertex("gemini-2.5-pro", auth_data={"type": "key-file", "key_file_content": "not json"})


def test_usage_counts_tool_prompt_tokens_and_ignores_garbage() -> None:
    usage = usage_from({"promptTokenCount": 5, "toolUsePromptTokenCount": 2, "candidatesTokenCount": "x"})
    assert (usage.prompt_tokens, usage.completion_tokens) == (7, 0)
    assert usage_from(None).total_tokens == 0


def test_a_thought_signature_goes_out_with_the_call_and_comes_back_with_it() -> None:
    part = {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2lnbmF0dXJl"}
    answer = {"responseId": "r", "candidates": [{"index": 0, "content": {"parts": [part]}, "finishReason": "STOP"}]}
    call = to_openai_response(answer, "gemini-3-pro-preview")[0]["choices"][0]["message"]["tool_calls"][0]
    assert call["extra_content"] == {"google": {"thought_signature": "c2lnbmF0dXJl"}}
    streamed = GeminiChunks(GEMINI, include_usage=False).feed("", sse(answer))
    assert events(streamed.chunks)[0]["choices"][0]["delta"]["tool_calls"][0]["extra_content"] == call["extra_content"]
    again = to_gemini_request(
        {
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": "{}"},
            ]
        }
    )
    assert again["contents"][1]["parts"] == [part]
