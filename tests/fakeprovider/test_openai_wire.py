"""The fake provider's OpenAI endpoints, driven with the real `openai` SDK over HTTP."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import httpx
import openai
import pytest

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
def client(fake_url: str) -> Any:
    return openai.OpenAI(base_url=f"{fake_url}/v1", api_key="sk-anything", max_retries=0)


def test_chat_completion_is_deterministic_with_counted_usage(client: Any) -> None:
    prompt = "Say hello to the gateway"
    messages = [{"role": "user", "content": prompt}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages)
    second = client.chat.completions.create(model="gpt-4o", messages=messages)
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.choices[0].message.content.startswith("Fake reply from gpt-4o: Say hello")
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None
    assert first.usage.prompt_tokens == math.ceil(len(prompt) / 4)
    assert first.usage.completion_tokens == 16
    assert len(first.choices[0].message.content.split()) == 16
    assert first.model == "gpt-4o"


def test_max_tokens_truncates_with_length_finish(client: Any) -> None:
    for limit_field in ("max_tokens", "max_completion_tokens"):
        reply = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], **{limit_field: 3}
        )
        assert reply.usage is not None and reply.usage.completion_tokens == 3
        assert reply.choices[0].finish_reason == "length"


def test_stream_matches_non_stream_and_reports_usage_when_asked(client: Any) -> None:
    messages = [{"role": "user", "content": "stream me something"}]
    whole = client.chat.completions.create(model="gpt-4o", messages=messages)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_stream_without_include_usage_has_no_usage_chunk(fake_url: str) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    text = httpx.post(f"{fake_url}/v1/chat/completions", json=body).text
    events = [line[6:] for line in text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert all("usage" not in json.loads(e) for e in events[:-1])


def test_tool_call_when_the_user_asks_and_text_after_the_tool_result(client: Any) -> None:
    ask = [{"role": "user", "content": "What does get_weather say for Paris?"}]
    reply = client.chat.completions.create(model="gpt-4o", messages=ask, tools=[WEATHER_TOOL])
    assert reply.choices[0].finish_reason == "tool_calls"
    call = reply.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "fake-city", "days": 1}
    follow_up = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    final = client.chat.completions.create(model="gpt-4o", messages=follow_up, tools=[WEATHER_TOOL])
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].message.tool_calls is None


def test_tool_choice_forces_or_disables_tools(client: Any) -> None:
    plain = [{"role": "user", "content": "hello"}]
    free = client.chat.completions.create(model="m", messages=plain, tools=[WEATHER_TOOL])
    assert free.choices[0].message.tool_calls is None
    forced = client.chat.completions.create(
        model="m",
        messages=plain,
        tools=[WEATHER_TOOL],
        tool_choice="required",
    )
    assert forced.choices[0].message.tool_calls[0].function.name == "get_weather"
    disabled = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "use a tool"}],
        tools=[WEATHER_TOOL],
        tool_choice="none",
    )
    assert disabled.choices[0].message.tool_calls is None


def test_streamed_tool_call_arguments_reassemble(client: Any) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "call the tool"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    arguments = ""
    names = []
    finish = None
    for chunk in stream:
        for delta_call in chunk.choices[0].delta.tool_calls or []:
            assert delta_call.index == 0
            if delta_call.function and delta_call.function.name:
                names.append(delta_call.function.name)
            arguments += (delta_call.function.arguments or "") if delta_call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert names == ["get_weather"]
    assert json.loads(arguments) == {"city": "fake-city", "days": 1}
    assert finish == "tool_calls"


def test_embeddings_string_list_dimensions_and_base64(client: Any, fake_url: str) -> None:
    single = client.embeddings.create(model="text-embedding-3-small", input="hello")  # SDK asks for base64
    assert len(single.data) == 1 and len(single.data[0].embedding) == 1536
    assert math.isclose(sum(v * v for v in single.data[0].embedding), 1.0, rel_tol=1e-3)
    batch = client.embeddings.create(model="e", input=["hello", "world"], dimensions=8)
    assert [d.index for d in batch.data] == [0, 1]
    assert all(len(d.embedding) == 8 for d in batch.data)
    assert batch.data[0].embedding != batch.data[1].embedding
    as_floats = httpx.post(f"{fake_url}/v1/embeddings", json={"model": "e", "input": ["hello"], "dimensions": 8})
    assert as_floats.json()["data"][0]["embedding"] == pytest.approx(batch.data[0].embedding, abs=1e-6)
    assert batch.usage.prompt_tokens == math.ceil(len("helloworld") / 4)


def test_legacy_completions_and_models(client: Any) -> None:
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon", max_tokens=4)
    assert completion.choices[0].text == "Fake reply from gpt-3.5-turbo-instruct:"
    assert completion.usage is not None and completion.usage.completion_tokens == 4
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(model="x", prompt="a", max_tokens=5, stream=True)
        if c.choices
    )
    assert streamed == "Fake reply from x: a"
    assert "gpt-4o" in [m.id for m in client.models.list()]


def test_moderation_images_and_audio(client: Any) -> None:
    moderation = client.moderations.create(input=["fine text", "this is unsafe"])
    assert [r.flagged for r in moderation.results] == [False, True]
    image = client.images.generate(model="dall-e-3", prompt="a cat", n=2, response_format="b64_json")
    assert len(image.data) == 2 and image.data[0].b64_json
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input="hello")
    assert speech.content.startswith(b"RIFF")
    transcript = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", io.BytesIO(b"x" * 10)))
    assert transcript.text == "Fake transcription of a.wav (10 bytes)."


def test_rerank_orders_by_overlap(http: httpx.Client) -> None:
    body = {
        "model": "rerank",
        "query": "red apple",
        "documents": ["blue sky", "red apple pie", "apple"],
        "top_n": 2,
        "return_documents": True,
    }
    results = http.post("/v1/rerank", json=body).json()["results"]
    assert [r["index"] for r in results] == [1, 2]
    assert results[0]["document"] == {"text": "red apple pie"}


async def test_async_sdk_streaming(fake_url: str) -> None:
    client: Any = openai.AsyncOpenAI(base_url=f"{fake_url}/v1", api_key="sk-anything", max_retries=0)
    stream = await client.chat.completions.create(
        model="gpt-4o@tokens=4", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "Fake reply from gpt-4o:"
    await client.close()
