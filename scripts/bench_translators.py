"""Per-request CPU cost of each wire pair's translator: OpenAI-compatible (the floor: the body is
passed through), Anthropic Messages, Gemini generateContent.

In process, no I/O: one row times `plan()` for a chat request (a system prompt, 4 turns, one tool) plus
reading a whole answer in the wire's own format; the other feeds a 50-event stream (each wire's own
events, ending properly) through its chunk translator. Figures in µs per request, best of 5 rounds;
compare between commits, not against a threshold.

    python scripts/bench_translators.py [--iterations 20000]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from tfy_gateway.gateway.providers import NO_CALL_OPTIONS, UpstreamTarget, dispatch
from tfy_gateway.gateway.providers.transport import HttpResponse

WORDS = [f"word{i}" for i in range(50)]
REQUEST: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
        {"role": "user", "content": "What is the weather in Paris? " * 4},
        {"role": "assistant", "content": "Let me check that for you."},
        {"role": "user", "content": "Please also tell me about Berlin. " * 4},
    ],
    "max_tokens": 256,
    "temperature": 0.3,
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ],
}
TEXT = " ".join(WORDS[:16])

TARGETS = {
    "openai": UpstreamTarget("openai", "openai", "https://api.openai.com/v1", "gpt-4o", {"authorization": "Bearer k"}),
    "anthropic": UpstreamTarget(
        "anthropic", "anthropic", "https://api.anthropic.com/v1", "claude-sonnet-4-5", {"x-api-key": "k"}
    ),
    "gemini": UpstreamTarget(
        "gemini",
        "google-gemini",
        "https://generativelanguage.googleapis.com/v1beta",
        "gemini-2.5-flash",
        {"x-goog-api-key": "k"},
    ),
}

ANSWERS: dict[str, dict[str, Any]] = {
    "openai": {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 60, "completion_tokens": 16, "total_tokens": 76},
    },
    "anthropic": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": TEXT}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 60, "output_tokens": 16},
    },
    "gemini": {
        "candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": TEXT}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 60, "candidatesTokenCount": 16, "totalTokenCount": 76},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "r1",
    },
}


def stream_events(wire: str) -> list[tuple[str, bytes]]:
    """50 text deltas in the wire's own stream format, ending properly."""
    if wire == "openai":
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
        events = [
            {**chunk, "choices": [{"index": 0, "delta": {"content": f" {w}"}, "finish_reason": None}]} for w in WORDS
        ]
        events.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        events.append({**chunk, "choices": [], "usage": {"prompt_tokens": 60, "completion_tokens": 50}})
        return [("", json.dumps(e).encode()) for e in events] + [("", b"[DONE]")]
    if wire == "anthropic":
        out: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 60}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}),
        ]
        out += [
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}},
            )
            for w in WORDS
        ]
        out += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 50}},
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        return [(name, json.dumps(payload).encode()) for name, payload in out]
    events = []
    for i, word in enumerate(WORDS):
        candidate: dict[str, Any] = {"index": 0, "content": {"role": "model", "parts": [{"text": f" {word}"}]}}
        if i == len(WORDS) - 1:
            candidate["finishReason"] = "STOP"
        usage = {"promptTokenCount": 60, "candidatesTokenCount": i + 1, "totalTokenCount": 61 + i}
        events.append({"candidates": [candidate], "usageMetadata": usage, "responseId": "r1"})
    return [("", json.dumps(e).encode()) for e in events]


def best_of(rounds: int, iterations: int, work: Callable[[], object]) -> float:
    """µs per call of `work`, the best of `rounds` timed loops."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(iterations):
            work()
        best = min(best, (time.perf_counter() - started) / iterations)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20000)
    args = parser.parse_args()
    print(f"{'wire':<10} {'plan+read µs':>13} {'stream(50) µs':>14} {'per event µs':>13}")
    for wire, target in TARGETS.items():
        adapter = dispatch.ADAPTERS[wire]
        answer = HttpResponse(200, {"content-type": "application/json"}, json.dumps(ANSWERS[wire]).encode())
        streamed = {**REQUEST, "stream": True, "stream_options": {"include_usage": True}}
        events = stream_events(wire)

        def whole(adapter: Any = adapter, target: UpstreamTarget = target, answer: HttpResponse = answer) -> object:
            wire_plan = adapter(target, "chat", REQUEST, NO_CALL_OPTIONS)
            return wire_plan.read(answer, 0.0)

        def stream(
            adapter: Any = adapter,
            target: UpstreamTarget = target,
            events: list[tuple[str, bytes]] = events,
            streamed: dict[str, Any] = streamed,
        ) -> object:
            translator = adapter(target, "chat", streamed, NO_CALL_OPTIONS).stream
            done = False
            for name, data in events:
                done = translator.feed(name, data).done or done
            return done or translator.end()

        plain_us = best_of(5, args.iterations, whole)
        stream_us = best_of(5, max(1, args.iterations // 10), stream)
        print(f"{wire:<10} {plain_us:>13.1f} {stream_us:>14.1f} {stream_us / len(events):>13.2f}", flush=True)


if __name__ == "__main__":
    main()
