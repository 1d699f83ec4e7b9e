"""The fake provider's simpler endpoints: models, moderations, rerank, images and audio.

Responses are deterministic and small; they exist so the gateway's pass-through routes have a real
upstream to talk to, not to imitate model quality.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from typing import Any

from aiohttp import web

from tfy_gateway.fakeprovider import synth
from tfy_gateway.fakeprovider.calls import Call
from tfy_gateway.fakeprovider.wire import error_response, json_response, sse_data, sse_event, start_sse

# A valid 1x1 transparent PNG.
_PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
_MODERATION_CATEGORIES = (
    "hate",
    "hate/threatening",
    "harassment",
    "harassment/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
"""Every category OpenAI's moderation answer lists (its OpenAPI spec requires each)."""
_AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def list_models(call: Call, models: tuple[str, ...]) -> web.Response:
    """OpenAI list format, or Anthropic's when the caller sent `anthropic-version`."""
    if call.request.headers.get("anthropic-version"):
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2024-01-01T00:00:00Z"} for m in models]
        return json_response(
            {
                "data": data,
                "has_more": False,
                "first_id": models[0] if models else None,
                "last_id": models[-1] if models else None,
            }
        )
    return json_response(
        {
            "object": "list",
            "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake-provider"} for m in models],
        }
    )


async def moderations(call: Call) -> web.Response:
    """Flags any input containing the word "unsafe" (category: harassment)."""
    value = call.body.get("input")
    inputs = [value] if isinstance(value, str) else value
    if not isinstance(inputs, list) or not all(isinstance(v, str) for v in inputs):
        return error_response(call.flavor, 400, "'input' must be a string or an array of strings")
    results = []
    for text in inputs:
        flagged = "unsafe" in text.lower()
        categories = {c: (flagged and c == "harassment") for c in _MODERATION_CATEGORIES}
        scores = {c: (0.99 if categories[c] else 0.001) for c in _MODERATION_CATEGORIES}
        results.append(
            {
                "flagged": flagged,
                "categories": categories,
                "category_scores": scores,
                "category_applied_input_types": {c: ["text"] for c in _MODERATION_CATEGORIES},
            }
        )
    return json_response(
        {"id": "modr-" + call.call_id, "model": call.model or "omni-moderation-latest", "results": results}
    )


async def rerank(call: Call) -> web.Response:
    """Cohere-style rerank; relevance = share of query words found in the document."""
    query = call.body.get("query")
    documents = call.body.get("documents")
    if not isinstance(query, str) or not isinstance(documents, list):
        return error_response(call.flavor, 400, "'query' must be a string and 'documents' an array")
    texts = [d.get("text", "") if isinstance(d, dict) else str(d) for d in documents]
    query_words = set(query.lower().split())
    scored = []
    for index, text in enumerate(texts):
        words = set(text.lower().split())
        overlap = len(query_words & words) / (len(query_words) or 1)
        tie_break = hashlib.blake2b(text.encode(), digest_size=2).digest()[0] / 25500  # < 0.01
        scored.append((round(min(1.0, overlap * 0.99 + tie_break), 6), index))
    scored.sort(key=lambda item: (-item[0], item[1]))
    top_n = call.body.get("top_n")
    if isinstance(top_n, int) and top_n > 0:
        scored = scored[:top_n]
    results: list[dict[str, Any]] = []
    for score, index in scored:
        result: dict[str, Any] = {"index": index, "relevance_score": score}
        if call.body.get("return_documents"):
            result["document"] = {"text": texts[index]}
        results.append(result)
    return json_response(
        {
            "id": call.call_id,
            "results": results,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
        }
    )


def _image_event(kind: str, call: Call, **fields: Any) -> dict[str, Any]:
    body = call.body
    return {
        "type": f"image_generation.{kind}",
        "b64_json": base64.b64encode(_PNG_1X1).decode(),
        "created_at": int(time.time()),
        "size": body.get("size") if body.get("size") in ("1024x1024", "1024x1536", "1536x1024") else "1024x1024",
        "quality": body.get("quality") if body.get("quality") in ("low", "medium", "high") else "medium",
        "background": body.get("background") if body.get("background") in ("transparent", "opaque") else "opaque",
        "output_format": body.get("output_format") if body.get("output_format") in ("jpeg", "webp") else "png",
        **fields,
    }


async def _stream_image(call: Call, prompt: str) -> web.StreamResponse:
    """gpt-image-1's stream: `partial_images` partial events (0 to 3), then the completed one with usage."""
    partials = call.body.get("partial_images")
    count = partials if isinstance(partials, int) and 0 <= partials <= 3 else 0
    response = await start_sse(call.request)
    for index in range(count):
        await response.write(
            sse_event("image_generation.partial_image", _image_event("partial_image", call, partial_image_index=index))
        )
    tokens = synth.count_tokens([prompt])
    usage = {
        "total_tokens": tokens + 272,
        "input_tokens": tokens,
        "output_tokens": 272,
        "input_tokens_details": {"text_tokens": tokens, "image_tokens": 0},
    }
    await response.write(sse_event("image_generation.completed", _image_event("completed", call, usage=usage)))
    await response.write_eof()
    return response


async def image_generations(call: Call) -> web.StreamResponse:
    prompt = call.body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return error_response(call.flavor, 400, "'prompt' must be a non-empty string")
    n = call.body.get("n", 1)
    if not isinstance(n, int) or not 1 <= n <= 10:
        return error_response(call.flavor, 400, "'n' must be an integer between 1 and 10")
    if call.body.get("stream") is True:
        return await _stream_image(call, prompt)
    if call.body.get("response_format") == "b64_json":
        item = {"b64_json": base64.b64encode(_PNG_1X1).decode(), "revised_prompt": prompt}
    else:
        item = {"url": f"https://fake-provider.invalid/images/{call.call_id}.png", "revised_prompt": prompt}
    return json_response({"created": int(time.time()), "data": [dict(item) for _ in range(n)]})


def _silence_wav(milliseconds: int, rate: int = 8000) -> bytes:
    frames = rate * milliseconds // 1000
    header = b"RIFF" + struct.pack("<I", 36 + frames) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate, 1, 8)
    return header + fmt + b"data" + struct.pack("<I", frames) + b"\x80" * frames


async def speech(call: Call) -> web.Response:
    """Silence lasting 10 ms per input character (a valid WAV whatever the requested format)."""
    text = call.body.get("input")
    if not isinstance(text, str) or not text:
        return error_response(call.flavor, 400, "'input' must be a non-empty string")
    content_type = _AUDIO_TYPES.get(str(call.body.get("response_format", "mp3")), "audio/mpeg")
    return web.Response(body=_silence_wav(10 * min(len(text), 4096)), content_type=content_type)


async def _stream_transcript(call: Call, text: str) -> web.StreamResponse:
    """gpt-4o-transcribe's stream: text deltas, then the whole text with its usage."""
    response = await start_sse(call.request)
    for piece in synth.stream_pieces(text.split(), 2):
        await response.write(sse_data({"type": "transcript.text.delta", "delta": piece}))
    tokens = synth.count_tokens([text])
    usage = {"type": "tokens", "input_tokens": tokens, "output_tokens": tokens, "total_tokens": 2 * tokens}
    await response.write(sse_data({"type": "transcript.text.done", "text": text, "usage": usage}))
    await response.write_eof()
    return response


async def transcriptions(call: Call) -> web.StreamResponse:
    uploads = call.files.get("file")
    if call.body.get("stream") == "true" and uploads:
        size = len(uploads[0].file.read())
        return await _stream_transcript(call, f"Fake transcription of {uploads[0].filename} ({size} bytes).")
    return _audio_text(call, "transcription")


async def translations(call: Call) -> web.Response:
    """OpenAI's translation shapes: `{text}`, or verbose_json's task/language/duration/segments."""
    return _audio_text(call, "translation")


def _audio_text(call: Call, task: str) -> web.Response:
    uploads = call.files.get("file")
    if not uploads:
        return error_response(call.flavor, 400, "multipart field 'file' is required")
    upload = uploads[0]
    size = len(upload.file.read())
    text = f"Fake {task} of {upload.filename} ({size} bytes)."
    response_format = call.body.get("response_format")
    if response_format in ("text", "srt", "vtt"):
        return web.Response(text=text, content_type="text/plain")
    if response_format == "verbose_json":
        return json_response(_verbose(call, task, text))
    body: dict[str, Any] = {"text": text}
    if task == "transcription":
        tokens = synth.count_tokens([text])
        body["usage"] = {"type": "tokens", "input_tokens": tokens, "output_tokens": tokens, "total_tokens": 2 * tokens}
    return json_response(body)


def _verbose(call: Call, task: str, text: str) -> dict[str, Any]:
    """verbose_json: segments always for a translation; a transcription has the granularities asked
    for (`timestamp_granularities[]`, every value sent), segments by default."""
    words = text.split()
    duration = round(0.25 * len(words), 2)
    segment = {
        "id": 0,
        "seek": 0,
        "start": 0.0,
        "end": duration,
        "text": text,
        "tokens": list(range(1, len(words) + 1)),
        "temperature": 0.0,
        "avg_logprob": -0.1,
        "compression_ratio": 1.0,
        "no_speech_prob": 0.0,
    }
    body: dict[str, Any] = {
        "task": "translate" if task == "translation" else "transcribe",
        "language": "english",
        "duration": duration,
        "text": text,
    }
    asked = call.body.get("timestamp_granularities[]", ["segment"])
    granularities = asked if isinstance(asked, list) else [asked]
    if task == "translation" or "segment" in granularities:
        body["segments"] = [segment]
    if task == "transcription" and "word" in granularities:
        body["words"] = [{"word": w, "start": 0.25 * i, "end": 0.25 * (i + 1)} for i, w in enumerate(words)]
    return body


async def image_edits(call: Call) -> web.Response:
    """OpenAI's images response for an edit of every uploaded image (`image` or `image[]`)."""
    images = call.files.get("image", []) + call.files.get("image[]", [])
    if not images:
        return error_response(call.flavor, 400, "multipart field 'image' is required")
    prompt = call.body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return error_response(call.flavor, 400, "'prompt' must be a non-empty string")
    n = int(call.body.get("n", "1")) if str(call.body.get("n", "1")).isdigit() else 0
    if not 1 <= n <= 10:
        return error_response(call.flavor, 400, "'n' must be an integer between 1 and 10")
    revised = f"{prompt} ({len(images)} image{'s' if len(images) > 1 else ''})"
    if call.body.get("response_format") == "url":
        item = {"url": f"https://fake-provider.invalid/images/{call.call_id}.png", "revised_prompt": revised}
    else:
        item = {"b64_json": base64.b64encode(_PNG_1X1).decode(), "revised_prompt": revised}
    return json_response({"created": int(time.time()), "data": [dict(item) for _ in range(n)]})
