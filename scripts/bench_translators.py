"""Per-request cost of each wire format's translation: µs of gateway CPU per chat call, plain and
streamed, for the OpenAI-compatible wire (pass-through), Anthropic Messages, AWS Bedrock Converse
(bearer and SigV4-signed) and Gemini generateContent, with the upstream played by an in-memory
transport (no sockets), so the figures are the adapter's work: building and signing the request,
reading the answer, decoding the stream's framing
(SSE, or AWS event-stream frames with their CRCs) and re-emitting OpenAI chunks.

Every answer has the same 64 output tokens, streamed one token per event. Figures, not assertions.

    python scripts/bench_translators.py [--iterations 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson

from tfy_gateway.fakeprovider.bedrock_routes import event
from tfy_gateway.gateway.providers import (
    HttpRequest,
    HttpResponse,
    MemoryTransport,
    UpstreamStream,
    UpstreamTarget,
    call,
)
from tfy_gateway.gateway.providers.aws_sigv4 import SigV4Signer

TOKENS = [f" w{i}" for i in range(64)]
BODY: dict[str, Any] = {
    "model": "m",
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me a story " * 20}],
    "max_tokens": 64,
}
USAGE = {"prompt_tokens": 90, "completion_tokens": 64, "total_tokens": 154}


def openai_answers() -> tuple[bytes, bytes]:
    plain = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "".join(TOKENS)}, "finish_reason": "stop"}
        ],
        "usage": USAGE,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
        body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "usage": usage}
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else []
        return b"data: " + orjson.dumps(body) + b"\n\n"

    events = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": t}) for t in TOKENS]
    events += [chunk({}, "stop"), chunk({}, usage=USAGE), b"data: [DONE]\n\n"]
    return orjson.dumps(plain), b"".join(events)


def anthropic_answers() -> tuple[bytes, bytes]:
    usage = {"input_tokens": 90, "output_tokens": 64}
    plain = {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [{"type": "text", "text": "".join(TOKENS)}],
        "stop_reason": "end_turn",
        "usage": usage,
    }

    def sse(name: str, body: dict[str, Any]) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **body}) + b"\n\n"

    events = [sse("message_start", {"message": {**plain, "content": [], "usage": {**usage, "output_tokens": 1}}})]
    events.append(sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
    events += [sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": t}}) for t in TOKENS]
    events.append(sse("content_block_stop", {"index": 0}))
    events.append(sse("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 64}}))
    events.append(sse("message_stop", {}))
    return orjson.dumps(plain), b"".join(events)


def bedrock_answers() -> tuple[bytes, bytes]:
    usage = {"inputTokens": 90, "outputTokens": 64, "totalTokens": 154}
    plain = {
        "output": {"message": {"role": "assistant", "content": [{"text": "".join(TOKENS)}]}},
        "stopReason": "end_turn",
        "usage": usage,
        "metrics": {"latencyMs": 10},
    }
    frames = [event("messageStart", {"role": "assistant"})]
    frames += [event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": t}}) for t in TOKENS]
    frames += [event("contentBlockStop", {"contentBlockIndex": 0}), event("messageStop", {"stopReason": "end_turn"})]
    frames.append(event("metadata", {"usage": usage, "metrics": {"latencyMs": 10}}))
    return orjson.dumps(plain), b"".join(frames)


def gemini_answers() -> tuple[bytes, bytes]:
    plain = {
        "candidates": [
            {"index": 0, "content": {"role": "model", "parts": [{"text": "".join(TOKENS)}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 90, "candidatesTokenCount": 64, "totalTokenCount": 154},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "r",
    }
    events = []
    for i, token in enumerate(TOKENS):  # each event a whole response object, usage so far included
        candidate: dict[str, Any] = {"index": 0, "content": {"role": "model", "parts": [{"text": token}]}}
        if i == len(TOKENS) - 1:
            candidate["finishReason"] = "STOP"
        usage = {"promptTokenCount": 90, "candidatesTokenCount": i + 1, "totalTokenCount": 91 + i}
        events.append(b"data: " + orjson.dumps({"candidates": [candidate], "usageMetadata": usage}) + b"\r\n\r\n")
    return orjson.dumps(plain), b"".join(events)


def target(wire: str, **changes: Any) -> UpstreamTarget:
    auth = {"anthropic": {"x-api-key": "k"}, "gemini": {"x-goog-api-key": "k"}}.get(wire, {"authorization": "Bearer k"})
    options: dict[str, Any] = {"auth_headers": auth, **changes}
    return UpstreamTarget(wire, wire, "http://upstream.test/v1", "anthropic.claude-3-5-haiku-20241022-v1:0", **options)  # type: ignore[arg-type]


async def per_call(target: UpstreamTarget, answer: bytes, stream: bool, iterations: int) -> float:
    content_type = "application/vnd.amazon.eventstream" if target.wire_format == "bedrock" else "text/event-stream"
    headers = {"content-type": content_type if stream else "application/json"}

    def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, headers, answer)

    transport = MemoryTransport(handler, chunk_size=1024)
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}} if stream else BODY
    started = time.perf_counter()
    for _ in range(iterations):
        result = await call(transport, target, "chat", body)
        if isinstance(result, UpstreamStream):
            async with result:
                async for _chunk in result:
                    pass
            assert result.usage is not None and result.usage.completion_tokens == 64
        else:
            assert result.usage.completion_tokens == 64
    return (time.perf_counter() - started) / iterations * 1e6


async def main(iterations: int) -> None:
    rows: list[tuple[str, UpstreamTarget, Callable[[], tuple[bytes, bytes]]]] = [
        ("openai (pass-through)", target("openai"), openai_answers),
        ("anthropic", target("anthropic"), anthropic_answers),
        ("bedrock, api-key (bearer)", target("bedrock"), bedrock_answers),
        (
            "bedrock, access-key (SigV4)",
            target("bedrock", auth_headers={}, signer=SigV4Signer("AKIDEXAMPLE", "secret", "us-east-1")),
            bedrock_answers,
        ),
        ("gemini", target("gemini"), gemini_answers),
    ]
    print(f"µs of CPU per chat call through the adapter (in-memory upstream, 64 output tokens, {iterations} calls)")
    print(f"{'wire format':30} {'plain':>10} {'streamed':>10}")
    for _name, wire_target, answers in rows:  # warm every path up first, so no row pays for the others
        plain, streamed = answers()
        await per_call(wire_target, plain, False, max(1, iterations // 10))
        await per_call(wire_target, streamed, True, max(1, iterations // 10))
    for name, wire_target, answers in rows:
        plain, streamed = answers()
        plain_us = await per_call(wire_target, plain, False, iterations)
        stream_us = await per_call(wire_target, streamed, True, iterations)
        print(f"{name:30} {plain_us:10.1f} {stream_us:10.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=2000)
    asyncio.run(main(parser.parse_args().iterations))
