"""Endpoints beyond chat (rerank, moderations, images, speech, transcriptions) and a non-OpenAI wire
format (Anthropic) behind the same OpenAI-compatible surface."""

from __future__ import annotations

import openai

from tests.gateway.data_plane.conftest import DataPlane


def client(dp: DataPlane) -> openai.AsyncOpenAI:
    """The openai SDK over the gateway's in-process HTTP client (test_openai_sdk.py uses it over a socket)."""
    return openai.AsyncOpenAI(base_url=dp.base, api_key=dp.token, max_retries=0, http_client=dp.http)


async def test_moderations_images_speech_and_transcriptions(dp: DataPlane) -> None:
    sdk = client(dp)
    moderation = await sdk.moderations.create(model="fake/media", input="hello")
    assert moderation.results and moderation.results[0].flagged in (True, False)
    image = await sdk.images.generate(model="fake/media", prompt="a cat")
    assert image.data
    speech = await sdk.audio.speech.create(model="fake/media", input="hello", voice="alloy")
    assert len(speech.content) > 0
    transcript = await sdk.audio.transcriptions.create(
        model="fake/media", file=("hello.wav", b"RIFF....WAVEfmt ", "audio/wav")
    )
    assert isinstance(transcript.text, str)


async def test_rerank(dp: DataPlane) -> None:
    response = await dp.post("rerank", {"model": "fake/media", "query": "cats", "documents": ["dogs", "cats", "birds"]})
    assert response.status_code == 200, response.text
    assert response.headers["x-tfy-resolved-model"] == "fake/media"
    missing = await dp.post("rerank", {"model": "fake/media", "query": "cats"})
    assert missing.status_code == 400 and "'documents' is required" in missing.json()["message"]


async def test_transcriptions_need_multipart(dp: DataPlane) -> None:
    response = await dp.post("audio/transcriptions", {"model": "fake/media"})
    assert response.status_code == 400 and "multipart/form-data" in response.json()["message"]


async def test_anthropic_account_through_the_openai_surface(dp: DataPlane) -> None:
    sdk = client(dp)
    answer = await sdk.chat.completions.create(
        model="claude/sonnet", messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )
    assert answer.choices[0].message.content and answer.usage.completion_tokens == 5
    stream = await sdk.chat.completions.create(
        model="claude/sonnet",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=5,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage.completion_tokens == 5
    records = (await dp.logs(model="claude/sonnet"))["data"][:2]
    assert {(r["prompt_tokens"], r["completion_tokens"], r["cost"]) for r in records} == {
        (records[0]["prompt_tokens"], 5, records[0]["cost"])
    }
    assert records[0]["cost"] > 0  # priced from the bundled table (claude-3-5-sonnet)


async def test_image_edits_and_translations_through_the_sdk(dp: DataPlane) -> None:
    sdk = client(dp)
    edited = await sdk.images.edit(
        model="fake/media",
        image=[("a.png", b"\x89PNG-a", "image/png"), ("b.png", b"\x89PNG-b", "image/png")],
        prompt="add a hat",
        n=2,
    )
    assert len(edited.data) == 2 and edited.data[0].b64_json
    assert edited.data[0].revised_prompt == "add a hat (2 images)"  # both uploads reached the provider
    translation = await sdk.audio.translations.create(
        model="fake/media", file=("hallo.wav", b"RIFF-hallo", "audio/wav")
    )
    assert translation.text == "Fake translation of hallo.wav (10 bytes)."
    logged = {record["endpoint"] for record in (await dp.logs(model="fake/media"))["data"]}
    assert {"image_edits", "translations"} <= logged


async def test_every_timestamp_granularity_is_forwarded(dp: DataPlane) -> None:
    transcript = await client(dp).audio.transcriptions.create(
        model="fake/media",
        file=("hello.wav", b"RIFF-hello", "audio/wav"),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert transcript.words and transcript.segments  # main forwarded only the last value: no words


async def test_image_edits_need_an_image_upload(dp: DataPlane) -> None:
    response = await dp.http.post(
        dp.base + "/images/edits",
        data={"model": "fake/media", "prompt": "x"},
        files={"mask": ("m.png", b"x")},
        headers=dp.auth(),
    )
    assert response.status_code == 400
    assert (
        response.json()["message"] == "'image' or 'image[]' is required for /images/edits: the file as a form upload."
    )
